-- 003: how long each run took (wall seconds), for monitoring; started_at and ended_at
-- follow --as-of, so their difference is not the duration.
ALTER TABLE runs ADD COLUMN duration REAL;
