-- Tasks: one row per task, rewritten in place by every transition. Times are
-- INTEGER unix nanoseconds; labels and metadata are JSON objects, NULL when
-- empty; optional keys (parent, session, project) are NULL when unset so the
-- partial indexes below stay small.
CREATE TABLE tasks (
    id               TEXT    NOT NULL PRIMARY KEY,
    description      TEXT    NOT NULL DEFAULT '',
    input            TEXT    NOT NULL,
    agent_id         TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    progress         INTEGER NOT NULL DEFAULT 0,
    output           TEXT    NOT NULL DEFAULT '',
    error            TEXT    NOT NULL DEFAULT '',
    parent_id        TEXT,
    session_id       TEXT,
    project          TEXT,
    repo             TEXT    NOT NULL DEFAULT '',
    labels           TEXT,
    metadata         TEXT,
    priority         INTEGER NOT NULL DEFAULT 0,
    attempt          INTEGER NOT NULL,
    max_attempts     INTEGER NOT NULL,
    last_seq         INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER
);

-- Claim: the next pending tasks, highest priority first, then oldest (task
-- ids are UUIDv7, so id order is creation order).
CREATE INDEX tasks_pending ON tasks (priority DESC, id) WHERE status = 'pending';
-- Rescue: active tasks by lease expiry.
CREATE INDEX tasks_active ON tasks (lease_expires_at) WHERE status IN ('planning', 'running');
-- Listings by status, newest first (keyset paging on id), and Counts.
-- Pending tasks are left out (tasks_pending covers them): a task's index
-- entries change with its status, and this keeps create and claim, the
-- hottest writes, from touching this index at all.
CREATE INDEX tasks_status ON tasks (status, id) WHERE status <> 'pending';
CREATE INDEX tasks_parent ON tasks (parent_id, id) WHERE parent_id IS NOT NULL;
CREATE INDEX tasks_session ON tasks (session_id, id) WHERE session_id IS NOT NULL;
CREATE INDEX tasks_project ON tasks (project, id) WHERE project IS NOT NULL;

-- Events: each task's append-only history. position orders all events of
-- the store; AUTOINCREMENT never reuses one, so a reader resuming from a
-- position never misses or repeats an event. task_id has no FOREIGN KEY: the
-- only writer inserts events for tasks it has just read or written in the
-- same transaction, and the check would cost an index search per row.
CREATE TABLE events (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id  TEXT    NOT NULL,
    seq      INTEGER NOT NULL,
    time     INTEGER NOT NULL,
    type     TEXT    NOT NULL,
    status   TEXT,
    progress INTEGER NOT NULL DEFAULT 0,
    actor    TEXT,
    message  TEXT,
    data     BLOB,
    UNIQUE (task_id, seq)
);
