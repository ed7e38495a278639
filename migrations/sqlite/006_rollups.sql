-- 006: rollups, so reports cost what they show rather than every event behind it.
-- Ingest keeps them in the same transaction as the events they count (and only for
-- events new to the store), and retention deletes from them what it deletes from
-- events, so each always equals a GROUP BY over `events`: tests/rollups.rs checks that.
-- A period is read as its whole UTC days and hours from here plus its partial first and
-- last hours from `events` (see src/store/rollup.rs).
-- hour = floor(ts / 3600): the UTC clock hour.

-- Events per address, kind and UTC day (day = floor(ts / 86400)), and per hour of that
-- day: `hours` holds 24 little-endian 32-bit counts (see hours_sum and hours_add in
-- src/store/sqlite/rollup.rs). One row per address and day keeps a first ingest cheap; a
-- 30-day ranking reads at most 31 rows per address. (An address's first and last event
-- in a period need no rollup: they are one seek each into the primary key of `events`.)
CREATE TABLE address_days (
    address_id INTEGER NOT NULL,  -- addresses.id
    kind       INTEGER NOT NULL,  -- as events.kind
    day        INTEGER NOT NULL,
    events     INTEGER NOT NULL,
    hours      BLOB    NOT NULL,
    PRIMARY KEY (address_id, kind, day)
) WITHOUT ROWID;
-- The addresses active on one day: for a period's partial first and last hour.
CREATE INDEX address_days_by_day ON address_days(day, kind);

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

INSERT INTO address_days (address_id, kind, day, events, hours)
SELECT address_id, kind, day, n, hour_blob(hour, n)
FROM (SELECT address_id, kind, day, hour, COUNT(*) AS n FROM hourly_events
      GROUP BY address_id, kind, hour)
WHERE true
ON CONFLICT (address_id, kind, day) DO UPDATE SET
    events = events + excluded.events,
    hours = hours_add(hours, excluded.hours);

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
