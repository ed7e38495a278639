-- 011: the Postfix maps saslguard rendered (table type and path), so a map it no longer
-- renders because [postfix] map or map_type changed is emptied instead of left rejecting
-- every client it held. A map is recorded before saslguard first writes it and forgotten
-- once it has been emptied. Maps rendered before this record existed are not known.
CREATE TABLE IF NOT EXISTS postfix_maps (
    map_type   TEXT    NOT NULL,  -- cidr | texthash | hash | lmdb
    path       BLOB    NOT NULL,  -- the source file's path, as the OS spells it
    created_at INTEGER NOT NULL,
    PRIMARY KEY (map_type, path)
);
