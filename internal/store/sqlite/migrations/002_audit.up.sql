-- Audit log: one hash chain of records (see package audit). seq is the
-- rowid: the writer numbers records from the anchor, never reusing one.
-- Times are INTEGER unix nanoseconds (whole microseconds); optional fields
-- are NULL when empty, so that the partial indexes below stay small. The
-- hash covers the record as audit.Record.Canonical encodes it, with ''
-- for a NULL.
CREATE TABLE audit_log (
    seq           INTEGER PRIMARY KEY,
    time          INTEGER NOT NULL,
    action        TEXT    NOT NULL,
    user_id       TEXT,
    session_id    TEXT,
    device_id     TEXT,
    resource_type TEXT,
    resource_id   TEXT,
    result        TEXT    NOT NULL,
    reason        TEXT,
    prev_hash     TEXT    NOT NULL,
    hash          TEXT    NOT NULL
);

-- Queries by user, session, action and resource, newest first: every
-- index ends with the rowid (seq), so each walks its index backwards and
-- stops at the page size.
CREATE INDEX audit_log_user ON audit_log (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX audit_log_session ON audit_log (session_id) WHERE session_id IS NOT NULL;
CREATE INDEX audit_log_action ON audit_log (action);
CREATE INDEX audit_log_resource ON audit_log (resource_type, resource_id) WHERE resource_type IS NOT NULL;
CREATE INDEX audit_log_time ON audit_log (time);

-- The chain's head, kept apart from the records and written in the same
-- transaction as every append, so that deleting the newest records is
-- detected (audit.Verify) and refused as a base for new ones.
CREATE TABLE audit_anchor (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
);
