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
    stream_id  INTEGER REFERENCES streams(id), -- NULL while the file has no complete first line
    "offset"   INTEGER NOT NULL,               -- bytes of the file at path already ingested
    size       INTEGER NOT NULL,
    mtime      INTEGER NOT NULL,               -- the file's modification time then (unix seconds)
    updated_at INTEGER NOT NULL
);

-- One SASL authentication failure (kind 0) or server-side auth fault (kind 1).
-- The id is the event's position: (stream id << 40) | byte offset of its line. Ingesting
-- the same bytes again therefore finds the same ids and stores nothing twice.
CREATE TABLE events (
    id        INTEGER PRIMARY KEY,
    ts        INTEGER NOT NULL,  -- unix seconds, UTC
    ip        BLOB    NOT NULL,  -- 16 bytes; IPv4 as ::ffff:a.b.c.d, so a /24 or /64 is a range
    kind      INTEGER NOT NULL,  -- 0 auth failed (counts), 1 server fault (never counts)
    mechanism TEXT    NOT NULL,
    username  TEXT,              -- sasl_username= when Postfix logged it
    service   TEXT    NOT NULL,  -- process tag without pid: postfix/submission/smtpd
    stream_id INTEGER GENERATED ALWAYS AS (id >> 40) VIRTUAL,
    "offset"  INTEGER GENERATED ALWAYS AS (id & 1099511627775) VIRTUAL
);
CREATE INDEX events_ip_ts ON events(ip, ts);
CREATE INDEX events_ts ON events(ts);

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
