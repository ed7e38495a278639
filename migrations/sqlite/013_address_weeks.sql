-- 013: events per address and week, so that long periods read a row per address and
-- week rather than one per address and day.
--
-- An attacker of a botnet is active on about half the days of a week: a week's rows
-- are about a third of its days' rows, and a 30-day ranking, or a report comparing 30
-- days with the 30 before, reads the whole weeks inside its days from here and only the
-- days at its ends from `address_days`. week = floor(day / 7) (weeks start on
-- Thursdays, as the first day, 1970-01-01, did). Ingest keeps it in the same
-- transaction as `address_days`; retention deletes the weeks before its cut and
-- recounts the week it cuts through from the days it keeps: tests/rollups.rs checks it
-- equals a GROUP BY over `events`.
CREATE TABLE address_weeks (
    kind       INTEGER NOT NULL,  -- as events.kind
    week       INTEGER NOT NULL,  -- floor(day / 7)
    address_id INTEGER NOT NULL,  -- addresses.id
    events     INTEGER NOT NULL,
    PRIMARY KEY (kind, week, address_id)
) WITHOUT ROWID;

INSERT INTO address_weeks (kind, week, address_id, events)
SELECT kind, (day - ((day % 7) + 7) % 7) / 7 AS week, address_id, SUM(events)
FROM address_days
GROUP BY kind, week, address_id
ORDER BY kind, week, address_id;
