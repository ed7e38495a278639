-- 012: the hourly counts of a day row in a few bytes.
--
-- `address_days.hours` held 24 little-endian 32-bit counts (96 bytes), though an
-- attacker is active in a few hours of a day; a period reads every row of its days, so
-- those bytes were most of the pages a ranking read. Now `hours` lists only the hours
-- with events, each as its hour (one byte) and its count (LEB128): see `hours_blob` in
-- src/store/sqlite/rollup.rs. The rows keep their key order.
CREATE TABLE address_days_new (
    kind       INTEGER NOT NULL,  -- as events.kind
    day        INTEGER NOT NULL,  -- floor(ts / 86400): the UTC day
    address_id INTEGER NOT NULL,  -- addresses.id
    events     INTEGER NOT NULL,
    hours      BLOB    NOT NULL,  -- (hour, LEB128 count) for each hour with events
    PRIMARY KEY (kind, day, address_id)
) WITHOUT ROWID;

INSERT INTO address_days_new (kind, day, address_id, events, hours)
SELECT kind, day, address_id, events, hours_compact(hours) FROM address_days
ORDER BY kind, day, address_id;

DROP TABLE address_days;
ALTER TABLE address_days_new RENAME TO address_days;
CREATE INDEX address_days_by_address ON address_days(address_id, kind, day);
