-- 005: the journal as a source: where the last run stopped, as a journalctl cursor,
-- committed with the events before it exactly like a file's offset.
ALTER TABLE streams ADD COLUMN cursor TEXT;
