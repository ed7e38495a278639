//! Every migration upgrades from every older schema (rusqlite_migration's `validate()`
//! idea): for each version N, a database is built by applying migrations 1..=N by
//! hand, with representative rows put in as soon as the schema has their tables (so
//! the later of migrations 1..=N carry them too), then [`SqliteStore::open`] upgrades it
//! to the latest. The rows must read back through the store's API, and the schema must
//! equal a fresh database's.

use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use rusqlite::{Connection, params};

use super::{MIGRATIONS, SqliteStore, address, configure};
use crate::model::{BlockTarget, EventKind};
use crate::store::{BlockStore, LabelKind, ReportStore, Stream, StreamStore};

/// When the seeded events happened (unix seconds): inside one UTC day, across hours.
const T: i64 = 1_764_000_000;

/// The seeded stream's first line.
const FINGERPRINT: &[u8] = b"first line\n";

/// The address with three counted failures, and the one with one and a server fault.
fn v4() -> IpAddr {
    "203.0.113.7".parse().unwrap()
}

fn v6() -> IpAddr {
    "2001:db8::1".parse().unwrap()
}

/// How schema `version` stores an address: a 16-byte key before migration 7 (IPv4 as
/// `::ffff:a.b.c.d`), the family-tagged 17-byte key since.
fn stored_key(addr: IpAddr, version: usize) -> Vec<u8> {
    let key = address::to_key(addr);
    if version < 7 {
        key[1..].to_vec()
    } else {
        key.to_vec()
    }
}

/// The first and last key of `network` as schema `version` stores them.
fn stored_range(network: &str, version: usize) -> (Vec<u8>, Vec<u8>) {
    let network: IpNet = network.parse().unwrap();
    let (first, last) = address::key_range(&network);
    if version < 7 {
        (first[1..].to_vec(), last[1..].to_vec())
    } else {
        (first.to_vec(), last.to_vec())
    }
}

/// Streams, sources, addresses, texts, events and a run: the tables of migration 1.
fn seed_events(conn: &Connection, version: usize) {
    conn.execute(
        "INSERT INTO streams (id, fingerprint, read_offset, first_path, created_at)
         VALUES (1, ?1, 100, '/var/log/mail.log', ?2)",
        params![FINGERPRINT, T],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO sources (path, device, inode, stream_id, \"offset\", size, mtime, updated_at)
         VALUES ('/var/log/mail.log', 1, 2, 1, 100, 100, ?1, ?1)",
        [T],
    )
    .unwrap();
    for (id, addr) in [(1, v4()), (2, v6())] {
        conn.execute(
            "INSERT INTO addresses (id, ip) VALUES (?1, ?2)",
            params![id, stored_key(addr, version)],
        )
        .unwrap();
    }
    conn.execute_batch(
        "INSERT INTO labels (id, text) VALUES (1, 'LOGIN'), (2, 'smtpd'), (3, 'alice')",
    )
    .unwrap();
    let failed = EventKind::AuthFailed.code();
    let fault = EventKind::ServerFault.code();
    for (offset, address, kind, ts) in [
        (10, 1, failed, T),
        (20, 1, failed, T + 1),
        (30, 1, failed, T + 3700),
        (40, 2, failed, T + 10),
        (50, 2, fault, T + 20),
    ] {
        conn.execute(
            "INSERT INTO events (address_id, kind, ts, id, mechanism_id, username_id, service_id)
             VALUES (?1, ?2, ?3, ?4, 1, 3, 2)",
            params![address, kind, ts, crate::store::event_id(1, offset)],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT INTO runs (command, started_at, ended_at, status) VALUES ('run', ?1, ?1, 'ok')",
        [T],
    )
    .unwrap();
}

/// A block, an allowlist entry, a pardon and a render record: the tables of migration 2.
fn seed_blocks(conn: &Connection, version: usize) {
    let (first, last) = stored_range("203.0.113.0/24", version);
    conn.execute(
        "INSERT INTO blocks (network, net_first, net_last, target, origin, reason, failures,
                             window_seconds, created_at, expires_at)
         VALUES ('203.0.113.0/24', ?1, ?2, 'postfix', 'policy', 'tier 1', 3, 3600, ?3, NULL)",
        params![first, last, T],
    )
    .unwrap();
    let (first, last) = stored_range("192.0.2.0/24", version);
    conn.execute(
        "INSERT INTO allowlist (network, net_first, net_last, comment, created_at)
         VALUES ('192.0.2.0/24', ?1, ?2, 'office', ?3)",
        params![first, last, T],
    )
    .unwrap();
    let (first, last) = stored_range("2001:db8::/64", version);
    conn.execute(
        "INSERT INTO pardons (network, net_first, net_last, until)
         VALUES ('2001:db8::/64', ?1, ?2, ?3)",
        params![first, last, T - 1],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO renders (place, digest, token, entries, rendered_at)
         VALUES ('postfix', 'abc', 'size=1', 1, ?1)",
        [T],
    )
    .unwrap();
}

/// Builds, at `path`, the database of schema `version`: migrations 1..=version applied
/// one by one, each table seeded right after the migration that creates it.
fn build_at(path: &Path, version: usize) {
    let conn = Connection::open(path).unwrap();
    configure(&conn).unwrap();
    for (index, sql) in MIGRATIONS.iter().enumerate().take(version) {
        conn.execute_batch(sql).unwrap();
        let applied = index + 1;
        conn.pragma_update(None, "user_version", applied as i64)
            .unwrap();
        match applied {
            1 => seed_events(&conn, applied),
            2 => seed_blocks(&conn, applied),
            4 => conn
                .execute(
                    "INSERT INTO state (key, value) VALUES ('last_prune', 5)",
                    [],
                )
                .map(drop)
                .unwrap(),
            _ => {}
        }
    }
}

/// The schema as SQLite keeps it: every table, index, view and trigger with its SQL.
fn schema(conn: &Connection) -> Vec<(String, String, Option<String>)> {
    let mut stmt = conn
        .prepare(
            "SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'
             ORDER BY type, name",
        )
        .unwrap();
    stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// What the seeded rows of schema `version` read back as, through the store's API.
fn check_data(store: &SqliteStore, version: usize) {
    let until = T + 86_400;
    if version >= 1 {
        assert_eq!(
            store.stream_by_fingerprint(FINGERPRINT).unwrap(),
            Some(Stream {
                id: 1,
                read_offset: 100
            }),
            "from {version}"
        );
        let source = store.source(Path::new("/var/log/mail.log")).unwrap();
        assert_eq!(source.map(|s| s.offset), Some(100), "from {version}");
        let mut failures = store.failures_per_address(0, until).unwrap();
        failures.sort();
        assert_eq!(failures, [(v4(), 3), (v6(), 1)], "from {version}");
        let host = IpNet::from(v6());
        let totals = store.range_totals(&host, until).unwrap();
        assert_eq!(
            (totals.failures, totals.server_faults),
            (1, 1),
            "from {version}"
        );
        let users = store.rank_labels(None, until, LabelKind::Username).unwrap();
        assert_eq!(users[0].text, "alice", "from {version}");
        assert_eq!(users[0].failures, 4, "from {version}");
        let hours: i64 = store
            .failures_per_hour(0, until)
            .unwrap()
            .iter()
            .map(|h| h.1)
            .sum();
        assert_eq!(
            hours, 4,
            "the rollups count what events hold, from {version}"
        );
        assert!(store.last_run("run").unwrap().is_some(), "from {version}");
    }
    if version >= 2 {
        let blocks = store
            .active_blocks(Some(BlockTarget::Postfix), until)
            .unwrap();
        assert_eq!(blocks.len(), 1, "from {version}");
        let v4_host = IpNet::from(v4());
        assert!(
            store
                .is_covered(&v4_host, BlockTarget::Postfix, until)
                .unwrap()
        );
        let allowed: Vec<IpNet> = store
            .allowlist()
            .unwrap()
            .iter()
            .map(|a| a.network)
            .collect();
        assert_eq!(
            allowed,
            ["192.0.2.0/24".parse::<IpNet>().unwrap()],
            "from {version}"
        );
        assert_eq!(store.pardons().unwrap().len(), 1, "from {version}");
        assert!(
            store.last_render("postfix").unwrap().is_some(),
            "from {version}"
        );
    }
    if version >= 4 {
        assert_eq!(
            store.state("last_prune").unwrap(),
            Some(5),
            "from {version}"
        );
    }
}

#[test]
fn every_migration_upgrades_from_every_older_schema() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = SqliteStore::open(&dir.path().join("fresh.db")).unwrap();
    let latest = schema(&fresh.conn);
    assert_eq!(fresh.schema_version().unwrap(), MIGRATIONS.len() as i64);
    for version in 0..MIGRATIONS.len() {
        let path = dir.path().join(format!("from-{version}.db"));
        build_at(&path, version);
        let store = SqliteStore::open(&path)
            .unwrap_or_else(|e| panic!("upgrading from schema {version}: {e:#}"));
        assert_eq!(
            store.schema_version().unwrap(),
            MIGRATIONS.len() as i64,
            "from {version}"
        );
        assert_eq!(
            schema(&store.conn),
            latest,
            "the schema upgraded from {version}"
        );
        check_data(&store, version);
    }
}

#[test]
fn a_database_of_a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newer.db");
    build_at(&path, MIGRATIONS.len());
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", MIGRATIONS.len() as i64 + 1)
        .unwrap();
    assert!(matches!(
        SqliteStore::open(&path),
        Err(crate::store::StoreError::SchemaTooNew { .. })
    ));
    assert!(matches!(
        SqliteStore::open_read_only(&path),
        Err(crate::store::StoreError::SchemaTooNew { .. })
    ));
}
