-- 008: where saslguard created firewall objects (backend and [firewall] name), so what
-- it created in a backend or under a name it no longer uses is removed instead of left
-- dropping traffic. A place is recorded before saslguard first changes anything there
-- and forgotten once its objects are removed.
CREATE TABLE IF NOT EXISTS firewall_places (
    backend    TEXT    NOT NULL,  -- nftables | ipset | iptables
    name       TEXT    NOT NULL,  -- the table, set or chain name saslguard used
    created_at INTEGER NOT NULL,
    PRIMARY KEY (backend, name)
);

-- Backends rendered before this record existed: their name was not kept, so only the
-- default one is assumed (removing an object that does not exist changes nothing).
INSERT OR IGNORE INTO firewall_places (backend, name, created_at)
    SELECT place, 'saslguard', rendered_at FROM renders
    WHERE place IN ('nftables', 'ipset', 'iptables');
