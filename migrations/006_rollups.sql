-- 006: rollups, so reports cost what they show rather than every event behind it.
-- Ingest keeps them in the same transaction as the events they count (and only for
-- events new to the store), and retention deletes from them what it deletes from
-- events, so each always equals a GROUP BY over `events`: tests/rollups.rs checks that.
-- A period is read as its whole UTC hours from here plus its partial first and last
-- hours from `events` (see src/store/rollup.rs).
-- hour = floor(ts / 3600): the UTC clock hour.

-- Events per address, kind and hour. (An address's first and last event in a period
-- need no rollup: they are one seek each into the primary key of `events`.)
CREATE TABLE address_hours (
    address_id INTEGER NOT NULL,  -- addresses.id
    kind       INTEGER NOT NULL,  -- as events.kind
    hour       INTEGER NOT NULL,
    events     INTEGER NOT NULL,
    PRIMARY KEY (address_id, kind, hour)
) WITHOUT ROWID;
-- The addresses active in one hour: for a period's partial first and last hour.
CREATE INDEX address_hours_by_hour ON address_hours(hour, kind);

-- The same per UTC day (day = floor(ts / 86400)): a 30-day ranking reads 30 rows per
-- address at most, plus the hours at either end.
CREATE TABLE address_days (
    address_id INTEGER NOT NULL,
    kind       INTEGER NOT NULL,
    day        INTEGER NOT NULL,
    events     INTEGER NOT NULL,
    PRIMARY KEY (address_id, kind, day)
) WITHOUT ROWID;

-- Events per kind and hour, all addresses together: the failures-per-hour chart.
CREATE TABLE hour_totals (
    kind   INTEGER NOT NULL,
    hour   INTEGER NOT NULL,
    events INTEGER NOT NULL,
    PRIMARY KEY (kind, hour)
) WITHOUT ROWID;

-- Counted failures (kind 0) per text and hour. dimension: 0 username, 1 mechanism,
-- 2 service; label_id is labels.id, or 0 for a failure logged without a username.
CREATE TABLE label_hours (
    dimension INTEGER NOT NULL,
    hour      INTEGER NOT NULL,
    label_id  INTEGER NOT NULL,
    failures  INTEGER NOT NULL,
    first_ts  INTEGER NOT NULL,
    last_ts   INTEGER NOT NULL,
    PRIMARY KEY (dimension, hour, label_id)
) WITHOUT ROWID;

-- Databases from before this version: count what is already there.
CREATE TEMP VIEW hourly_events AS
SELECT address_id, kind, ts, mechanism_id, COALESCE(username_id, 0) AS username_id, service_id,
       CASE WHEN ts >= 0 THEN ts / 3600 ELSE (ts - 3599) / 3600 END AS hour,
       CASE WHEN ts >= 0 THEN ts / 86400 ELSE (ts - 86399) / 86400 END AS day
FROM events;

INSERT INTO address_hours
SELECT address_id, kind, hour, COUNT(*) FROM hourly_events GROUP BY address_id, kind, hour;

INSERT INTO address_days
SELECT address_id, kind, day, COUNT(*) FROM hourly_events GROUP BY address_id, kind, day;

INSERT INTO hour_totals
SELECT kind, hour, COUNT(*) FROM hourly_events GROUP BY kind, hour;

INSERT INTO label_hours
SELECT 0, hour, username_id, COUNT(*), MIN(ts), MAX(ts)
FROM hourly_events WHERE kind = 0 GROUP BY hour, username_id;
INSERT INTO label_hours
SELECT 1, hour, mechanism_id, COUNT(*), MIN(ts), MAX(ts)
FROM hourly_events WHERE kind = 0 GROUP BY hour, mechanism_id;
INSERT INTO label_hours
SELECT 2, hour, service_id, COUNT(*), MIN(ts), MAX(ts)
FROM hourly_events WHERE kind = 0 GROUP BY hour, service_id;

DROP VIEW hourly_events;
