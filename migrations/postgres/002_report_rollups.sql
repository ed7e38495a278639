-- 002: rollups for the reports over the cluster (`top`, `report`): events counted per
-- kind, UTC hour (and UTC day), address and host, kept by triggers on `events`, so
-- shipping (the only writer) and retention (the only deleter) need no change. A report
-- reads a period's whole days and hours here and its partial hours from `events`
-- (src/store/rollup.rs, `Split`): exact for any period, and a 30-day ranking over
-- millions of events reads some ten thousand rows per host and day.

CREATE TABLE event_hours (
    kind    smallint NOT NULL,  -- event_kinds.code
    hour    bigint   NOT NULL,  -- floor(unix seconds / 3600)
    address inet     NOT NULL,
    host_id integer  NOT NULL,  -- hosts.id
    n       bigint   NOT NULL,
    PRIMARY KEY (kind, hour, address, host_id)
);

CREATE TABLE event_days (
    kind    smallint NOT NULL,
    day     bigint   NOT NULL,  -- floor(unix seconds / 86400), the UTC day
    address inet     NOT NULL,
    host_id integer  NOT NULL,
    n       bigint   NOT NULL,
    PRIMARY KEY (kind, day, address, host_id)
);

-- One address's or network's counts (per host, for the rows a report shows).
CREATE INDEX event_hours_by_address ON event_hours (address, kind, hour);
CREATE INDEX event_days_by_address ON event_days (address, kind, day);

-- Adds the counts of the events a statement inserted (the transition table).
CREATE FUNCTION saslguard_events_inserted() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO event_hours AS r (kind, hour, address, host_id, n)
        SELECT kind, floor(extract(epoch FROM ts) / 3600)::bigint, address, host_id,
               COUNT(*)
        FROM inserted GROUP BY 1, 2, 3, 4
        ON CONFLICT (kind, hour, address, host_id) DO UPDATE SET n = r.n + EXCLUDED.n;
    INSERT INTO event_days AS r (kind, day, address, host_id, n)
        SELECT kind, floor(extract(epoch FROM ts) / 86400)::bigint, address, host_id,
               COUNT(*)
        FROM inserted GROUP BY 1, 2, 3, 4
        ON CONFLICT (kind, day, address, host_id) DO UPDATE SET n = r.n + EXCLUDED.n;
    RETURN NULL;
END $$;

-- Takes away the counts of the events a statement deleted (retention).
CREATE FUNCTION saslguard_events_deleted() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO event_hours AS r (kind, hour, address, host_id, n)
        SELECT kind, floor(extract(epoch FROM ts) / 3600)::bigint, address, host_id,
               -COUNT(*)
        FROM deleted GROUP BY 1, 2, 3, 4
        ON CONFLICT (kind, hour, address, host_id) DO UPDATE SET n = r.n + EXCLUDED.n;
    INSERT INTO event_days AS r (kind, day, address, host_id, n)
        SELECT kind, floor(extract(epoch FROM ts) / 86400)::bigint, address, host_id,
               -COUNT(*)
        FROM deleted GROUP BY 1, 2, 3, 4
        ON CONFLICT (kind, day, address, host_id) DO UPDATE SET n = r.n + EXCLUDED.n;
    DELETE FROM event_hours WHERE n <= 0;
    DELETE FROM event_days WHERE n <= 0;
    RETURN NULL;
END $$;

CREATE TRIGGER events_rollup_insert AFTER INSERT ON events
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT
    EXECUTE FUNCTION saslguard_events_inserted();
CREATE TRIGGER events_rollup_delete AFTER DELETE ON events
    REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT
    EXECUTE FUNCTION saslguard_events_deleted();

-- The events already shipped.
INSERT INTO event_hours (kind, hour, address, host_id, n)
    SELECT kind, floor(extract(epoch FROM ts) / 3600)::bigint, address, host_id, COUNT(*)
    FROM events GROUP BY 1, 2, 3, 4;
INSERT INTO event_days (kind, day, address, host_id, n)
    SELECT kind, floor(extract(epoch FROM ts) / 86400)::bigint, address, host_id, COUNT(*)
    FROM events GROUP BY 1, 2, 3, 4;
