-- 007: addresses keyed by family, so that IPv4 and IPv6 never mix in a range query.
--
-- Until now a key was 16 bytes with IPv4 as ::ffff:a.b.c.d, so an IPv6 range holding
-- ::ffff:0:0/96 (::/64 around ::1, ::/0, ::fffe:0:0/95) held every IPv4 address too:
-- coverage, block history, pardons, ending blocks and the allowlist all mixed families.
-- From now on a key is 17 bytes: a family tag (4 or 6) then the 16 bytes of before, so
-- the families are disjoint ranges and, inside one, byte order is still address order
-- (a /24 or a /64 stays one index range). See src/store/sqlite/address.rs.
--
-- The family of a stored range is read from its bytes: both ends inside ::ffff:0:0/96
-- is IPv4. Network texts written as IPv4-mapped IPv6 become the IPv4 network they are
-- (canonical_network, registered by the store).

-- A block written as IPv4-mapped IPv6 never matched an IPv4 client in Postfix or the
-- firewall; as IPv4 one wider than /8 (::ffff:0:0/96 is all of IPv4) would start
-- refusing whole swathes of the internet. It ends, as never in force.
UPDATE blocks SET ended_at = created_at, end_reason = 'unblocked'
WHERE ended_at IS NULL AND instr(network, ':') > 0
  AND length(net_first) = 16 AND length(net_last) = 16
  AND substr(net_first, 1, 12) = X'00000000000000000000FFFF'
  AND substr(net_last, 1, 12) = X'00000000000000000000FFFF'
  AND CAST(substr(network, instr(network, '/') + 1) AS INTEGER) < 96 + 8;

-- A pardon written as IPv4-mapped IPv6 can only have come from an allowlist entry of the
-- config (the command line always wrote IPv4): allowlist entries no longer leave
-- forgiveness behind that outlives them, so it goes.
DELETE FROM pardons
WHERE instr(network, ':') > 0
  AND length(net_first) = 16 AND length(net_last) = 16
  AND substr(net_first, 1, 12) = X'00000000000000000000FFFF'
  AND substr(net_last, 1, 12) = X'00000000000000000000FFFF';

UPDATE addresses
SET ip = unhex(CASE WHEN substr(ip, 1, 12) = X'00000000000000000000FFFF' THEN '04' ELSE '06' END
               || hex(ip))
WHERE length(ip) = 16;

-- The tag of each stored range, per table, read before any of them changes.
CREATE TEMP TABLE range_tags AS
SELECT 'blocks' AS tab, id,
       CASE WHEN substr(net_first, 1, 12) = X'00000000000000000000FFFF'
             AND substr(net_last, 1, 12) = X'00000000000000000000FFFF'
            THEN '04' ELSE '06' END AS tag
FROM blocks WHERE length(net_first) = 16 AND length(net_last) = 16
UNION ALL
SELECT 'pardons', id,
       CASE WHEN substr(net_first, 1, 12) = X'00000000000000000000FFFF'
             AND substr(net_last, 1, 12) = X'00000000000000000000FFFF'
            THEN '04' ELSE '06' END
FROM pardons WHERE length(net_first) = 16 AND length(net_last) = 16
UNION ALL
SELECT 'allowlist', id,
       CASE WHEN substr(net_first, 1, 12) = X'00000000000000000000FFFF'
             AND substr(net_last, 1, 12) = X'00000000000000000000FFFF'
            THEN '04' ELSE '06' END
FROM allowlist WHERE length(net_first) = 16 AND length(net_last) = 16;

UPDATE blocks
SET network = canonical_network(network),
    net_first = unhex(t.tag || hex(net_first)),
    net_last = unhex(t.tag || hex(net_last))
FROM range_tags AS t WHERE t.tab = 'blocks' AND t.id = blocks.id;

UPDATE pardons
SET network = canonical_network(network),
    net_first = unhex(t.tag || hex(net_first)),
    net_last = unhex(t.tag || hex(net_last))
FROM range_tags AS t WHERE t.tab = 'pardons' AND t.id = pardons.id;

-- An entry written as IPv4-mapped IPv6 next to the same network written as IPv4 is
-- the same entry (the network text is unique).
DELETE FROM allowlist
WHERE network <> canonical_network(network)
  AND canonical_network(network) IN (SELECT network FROM allowlist);

UPDATE allowlist
SET network = canonical_network(network),
    net_first = unhex(t.tag || hex(net_first)),
    net_last = unhex(t.tag || hex(net_last))
FROM range_tags AS t WHERE t.tab = 'allowlist' AND t.id = allowlist.id;

DROP TABLE range_tags;
