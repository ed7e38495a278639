-- 008: daily rollups keyed by day first, so that a period reads only its own rows.
--
-- Until now `address_days` was keyed (address_id, kind, day): every period query walked
-- `addresses` and sought into it once per address ever seen, so its cost grew with the
-- history. Keyed (kind, day, address_id), a period's whole days are one range per kind
-- holding exactly the addresses active then; the old order stays as an index for the
-- reads about one address or network (`show`, block efficacy).
CREATE TABLE address_days_new (
    kind       INTEGER NOT NULL,  -- as events.kind
    day        INTEGER NOT NULL,  -- floor(ts / 86400): the UTC day
    address_id INTEGER NOT NULL,  -- addresses.id
    events     INTEGER NOT NULL,
    hours      BLOB    NOT NULL,  -- 24 little-endian u32: events per hour of the day
    PRIMARY KEY (kind, day, address_id)
) WITHOUT ROWID;

INSERT INTO address_days_new (kind, day, address_id, events, hours)
SELECT kind, day, address_id, events, hours FROM address_days
ORDER BY kind, day, address_id;

DROP TABLE address_days;
ALTER TABLE address_days_new RENAME TO address_days;
-- One address's (or one network's) days: `show`, efficacy per block, retention.
CREATE INDEX address_days_by_address ON address_days(address_id, kind, day);

-- Whether a text was seen before a moment (`top --new --by user`) is one seek per text.
CREATE INDEX IF NOT EXISTS label_hours_by_label ON label_hours(dimension, label_id, hour);
