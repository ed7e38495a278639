-- 001: the shared store of several hosts: who ships, their events, and the decisions all
-- of them enforce. Applied by saslguard in one transaction, recorded in saslguard_schema.
-- Tables land in the first schema of the role's search_path it may create in: give the
-- role a schema of its own (`CREATE SCHEMA saslguard AUTHORIZATION saslguard`).

-- Every host that ever shipped, by the name its config gives ([cluster] host).
CREATE TABLE hosts (
    id             integer     GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name           text        NOT NULL UNIQUE CHECK (name <> ''),
    first_contact  timestamptz NOT NULL,
    last_contact   timestamptz NOT NULL,
    events_shipped bigint      NOT NULL DEFAULT 0,  -- events this host stored here (duplicates not counted)
    backlog        bigint      NOT NULL DEFAULT 0,  -- events it still held back, as it said at last contact
    version        text                             -- the saslguard that last connected from it
);

-- The event kinds and their codes, as src/model.rs names them (a test compares the two).
CREATE TABLE event_kinds (
    code smallint PRIMARY KEY,
    name text     NOT NULL UNIQUE
);
INSERT INTO event_kinds (code, name) VALUES
    (0, 'auth-failed'), (1, 'server-fault'), (2, 'rejected'), (3, 'invalid-mechanism');

-- Every event every host shipped, keyed by the host and the event's id on that host (its
-- position in the host's logs), so a batch shipped twice is stored once.
-- Addresses are inet host addresses: PostgreSQL keeps the family, so no IPv6 network
-- ever contains an IPv4 address; IPv4-mapped IPv6 arrives as IPv4 (the check refuses it).
-- Foreign keys are documented, not enforced, as in the local store: shipping is the only
-- writer, and a check per row would slow a host's first shipment.
CREATE TABLE events (
    host_id   integer     NOT NULL,  -- hosts.id
    event_id  bigint      NOT NULL,  -- the id in the host's local store
    ts        timestamptz NOT NULL,
    address   inet        NOT NULL,
    kind      smallint    NOT NULL,  -- event_kinds.code
    mechanism text        NOT NULL,
    username  text,                  -- sasl_username= when Postfix logged it
    service   text        NOT NULL,  -- the process tag: postfix/submission/smtpd
    PRIMARY KEY (host_id, event_id),
    CHECK (masklen(address) = CASE family(address) WHEN 4 THEN 32 ELSE 128 END),
    CHECK (family(address) = 4 OR NOT address <<= inet '::ffff:0:0/96')
);
-- Counting a window over all hosts reads only this index (kind, then time).
CREATE INDEX events_by_kind_time ON events (kind, ts) INCLUDE (address);
-- Everything about one address or network (a range of this index), in time order.
CREATE INDEX events_by_address ON events (address, ts);
-- Retention deletes by time.
CREATE INDEX events_by_time ON events (ts);

-- Every block ever decided on any host, by policy or by hand. Unblock and expiry end a
-- block (ended_at, end_reason); only retention deletes history.
CREATE TABLE blocks (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    network        cidr        NOT NULL CHECK (family(network) = 4 OR NOT network <<= cidr '::ffff:0:0/96'),
    target         text        NOT NULL CHECK (target IN ('postfix', 'firewall')),
    origin         text        NOT NULL CHECK (origin IN ('policy', 'manual')),
    origin_host    text        NOT NULL,  -- the host that decided it (hosts.name)
    reason         text        NOT NULL,
    failures       bigint,                -- the count over all hosts that triggered a policy block
    window_seconds bigint,                -- ... within this window
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz,           -- NULL: permanent
    ended_at       timestamptz,           -- NULL: active (until expires_at)
    end_reason     text        CHECK (end_reason IN ('expired', 'unblocked', 'allowlisted')),
    ended_by       text,                  -- the host that ended it (hosts.name)
    CHECK ((ended_at IS NULL) = (end_reason IS NULL))
);
-- Blocks not ended: what every host renders.
CREATE INDEX blocks_open ON blocks (target, expires_at) WHERE ended_at IS NULL;
-- Blocks covering or inside a network, for escalation and unblock.
CREATE INDEX blocks_network ON blocks USING gist (network inet_ops);

-- Networks never blocked, added with `saslguard allow add` on any host.
CREATE TABLE allowlist (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    network    cidr        NOT NULL UNIQUE,
    comment    text,
    added_by   text        NOT NULL,
    created_at timestamptz NOT NULL
);

-- Failures of addresses inside `network` up to `until` no longer count (unblock): the
-- next failures count from zero on every host.
CREATE TABLE pardons (
    id       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    network  cidr        NOT NULL,
    until    timestamptz NOT NULL,
    added_by text        NOT NULL
);
CREATE INDEX pardons_network ON pardons USING gist (network inet_ops);
