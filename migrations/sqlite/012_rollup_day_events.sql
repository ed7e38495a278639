-- 012: whole days of a period read without the hourly counts.
--
-- A row of `address_days` carries its 24 hourly counts (96 bytes), and a period's
-- whole days need only `events`: reading them through the table read every blob too
-- (80 MB for the 30 days of 6.4M events). This index holds the key and `events` only,
-- so whole days are one narrow range; the hours are read from the table for the at
-- most two days a period cuts.
CREATE INDEX address_days_events ON address_days(kind, day, address_id, events);
