-- 002: blocks, the allowlist, pardons, and what was last rendered.

-- Every block ever decided, by policy or by hand. Unblock and expiry end a block
-- (ended_at, end_reason); only `saslguard prune` deletes history.
CREATE TABLE blocks (
    id             INTEGER PRIMARY KEY,
    network        TEXT    NOT NULL,  -- canonical CIDR: 203.0.113.7/32, 2001:db8::/64
    net_first      BLOB    NOT NULL,  -- first and last address as 16-byte keys (like addresses.ip)
    net_last       BLOB    NOT NULL,
    target         TEXT    NOT NULL CHECK (target IN ('postfix', 'firewall')),
    origin         TEXT    NOT NULL CHECK (origin IN ('policy', 'manual')),
    reason         TEXT    NOT NULL,
    failures       INTEGER,           -- the count that triggered a policy block
    window_seconds INTEGER,           -- ... within this window
    created_at     INTEGER NOT NULL,  -- unix seconds
    expires_at     INTEGER,           -- NULL: permanent
    ended_at       INTEGER,           -- NULL: active (until expires_at)
    end_reason     TEXT CHECK (end_reason IN ('expired', 'unblocked', 'allowlisted'))
);
-- Blocks not ended yet: by target (what to render) and by expiry (what to expire).
CREATE INDEX blocks_open_by_target ON blocks(target, expires_at) WHERE ended_at IS NULL;
CREATE INDEX blocks_open_by_expiry ON blocks(expires_at) WHERE ended_at IS NULL;
-- Blocks covering a network, for escalation and unblock.
CREATE INDEX blocks_range ON blocks(net_first, net_last);

-- Networks never blocked, added with `saslguard allow add` (the config may name more).
CREATE TABLE allowlist (
    id         INTEGER PRIMARY KEY,
    network    TEXT    NOT NULL UNIQUE,
    net_first  BLOB    NOT NULL,
    net_last   BLOB    NOT NULL,
    comment    TEXT,
    created_at INTEGER NOT NULL
);

-- Failures of addresses inside `network` up to `until` no longer count toward blocks:
-- written by unblock and by allowlisting, so the next run does not block the same
-- address again for the same old failures. New failures count.
CREATE TABLE pardons (
    id        INTEGER PRIMARY KEY,
    network   TEXT    NOT NULL,
    net_first BLOB    NOT NULL,
    net_last  BLOB    NOT NULL,
    until     INTEGER NOT NULL
);
CREATE INDEX pardons_range ON pardons(net_first, net_last);

-- What was last rendered to each place, so a run where nothing changed renders nothing.
CREATE TABLE renders (
    place       TEXT    PRIMARY KEY,  -- postfix | nftables | ipset | iptables
    digest      TEXT    NOT NULL,     -- of the active blocks and allowlist it was rendered from
    token       TEXT,                 -- what the place looked like right after (file size, mtime...)
    entries     INTEGER NOT NULL,
    rendered_at INTEGER NOT NULL
);

ALTER TABLE runs ADD COLUMN blocks_created INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN blocks_ended INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN entries_rendered INTEGER;
