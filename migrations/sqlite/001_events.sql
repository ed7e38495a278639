-- 001: the event store: log streams and where we are in them, failure events, runs.

-- A log stream is the content of one log file across renames, compression and
-- copytruncate: it is identified by its first line, which none of those change.
-- Progress is kept per stream, so a renamed or gzipped file resumes where it was left.
CREATE TABLE streams (
    id          INTEGER PRIMARY KEY,
    fingerprint BLOB    NOT NULL UNIQUE,   -- the stream's first line, newline included, at most 1 KiB
    read_offset INTEGER NOT NULL DEFAULT 0, -- bytes already ingested: always the end of a complete line
    first_path  TEXT    NOT NULL,          -- where the stream was first seen, for people
    created_at  INTEGER NOT NULL           -- unix seconds
);

-- A configured log path and what was at it the last time we looked.
CREATE TABLE sources (
    path       TEXT    PRIMARY KEY,
    device     INTEGER NOT NULL,
    inode      INTEGER NOT NULL,
    stream_id  INTEGER,                        -- streams.id; NULL while the file has no complete first line
    "offset"   INTEGER NOT NULL,               -- bytes of the file at path already ingested
    size       INTEGER NOT NULL,
    mtime      INTEGER NOT NULL,               -- the file's modification time then (unix seconds)
    updated_at INTEGER NOT NULL
);

-- Every client address ever seen: 16 bytes, IPv4 as ::ffff:a.b.c.d, so byte order is
-- address order and a /24 or /64 is one range of this index.
CREATE TABLE addresses (
    id INTEGER PRIMARY KEY,
    ip BLOB    NOT NULL UNIQUE
);

-- Mechanisms, usernames and service names, stored once and referenced by id.
CREATE TABLE labels (
    id   INTEGER PRIMARY KEY,
    text TEXT    NOT NULL UNIQUE
);

-- One SASL authentication failure (kind 0) or server-side auth fault (kind 1).
-- Clustered by address, kind and time: everything about one address (or, through
-- addresses.ip, one network) is one range, and an insert touches a single B-tree.
-- id is the event's position: (stream id << 40) | byte offset of its line. Ingesting the
-- same bytes again gives the same key, so nothing is stored twice.
-- Foreign keys are documented, not enforced: ingest is their only writer.
CREATE TABLE events (
    address_id   INTEGER NOT NULL,  -- addresses.id
    kind         INTEGER NOT NULL,  -- 0 auth failed (counts), 1 server fault (never counts)
    ts           INTEGER NOT NULL,  -- unix seconds, UTC
    id           INTEGER NOT NULL,  -- position: stream id << 40 | byte offset
    mechanism_id INTEGER NOT NULL,  -- labels.id
    username_id  INTEGER,           -- labels.id of sasl_username= when Postfix logged it
    service_id   INTEGER NOT NULL,  -- labels.id of the process tag: postfix/submission/smtpd
    stream_id    INTEGER GENERATED ALWAYS AS (id >> 40) VIRTUAL,
    "offset"     INTEGER GENERATED ALWAYS AS (id & 1099511627775) VIRTUAL,
    PRIMARY KEY (address_id, kind, ts, id)
) WITHOUT ROWID;

-- Events with their texts, for people exploring the database with sqlite3.
CREATE VIEW event_details AS
SELECT e.id, e.ts, datetime(e.ts, 'unixepoch') AS time_utc, a.ip, e.kind,
       m.text AS mechanism, u.text AS username, s.text AS service, e.stream_id, e."offset"
FROM events e
JOIN addresses a ON a.id = e.address_id
JOIN labels m ON m.id = e.mechanism_id
LEFT JOIN labels u ON u.id = e.username_id
JOIN labels s ON s.id = e.service_id;

-- Every invocation that changed the store, with what it did.
CREATE TABLE runs (
    id         INTEGER PRIMARY KEY,
    command    TEXT    NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at   INTEGER,
    status     TEXT    NOT NULL DEFAULT 'running', -- running | ok | failed (running after a crash)
    lines      INTEGER NOT NULL DEFAULT 0,
    bytes      INTEGER NOT NULL DEFAULT 0,
    events     INTEGER NOT NULL DEFAULT 0,         -- new events stored
    unparsed   INTEGER NOT NULL DEFAULT 0,
    error      TEXT
);
