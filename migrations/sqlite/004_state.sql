-- 004: small named values saslguard keeps between runs (e.g. when it last pruned).
CREATE TABLE state (
    key   TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
);
