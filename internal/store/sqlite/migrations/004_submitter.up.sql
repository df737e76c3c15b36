-- Who submitted each task (a JSON principal: user, session, device, roles,
-- method), kept for the checks made while the task runs. NULL for a task
-- submitted in-process without a principal.
ALTER TABLE tasks ADD COLUMN submitter TEXT;
