//! The shared store of several hosts against a real PostgreSQL (tests/common/postgres.rs):
//! shipping exactly once, counts over the union of hosts, IPv4 and IPv6 kept apart,
//! block history, the policy lock, migrations, passwords and an unreachable server.

use crate::common;
use crate::common::postgres as pg;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use ipnet::IpNet;
use pg::Postgres;
use saslguard::model::{BlockTarget, EndReason, EventKind, Origin};
use saslguard::store::postgres::{
    Cluster, ClusterError, ClusterEvent, NewBlock, Settings, SharedStore, supported_schema_version,
};

const DAY: i64 = 86400;
/// A fixed "now" for every test: 2026-11-27T12:00:00Z.
const NOW: i64 = 1_795_780_800;

/// A server and the settings to reach it as the least-privilege role.
struct Rig {
    server: Postgres,
    settings: Settings,
    _dir: tempfile::TempDir,
}

impl Rig {
    fn start(test: &str) -> Option<Rig> {
        let server = Postgres::start(test)?;
        let dir = tempfile::tempdir().expect("tempdir");
        let password = dir.path().join("password");
        server.write_password_file(&password);
        let settings =
            Settings::new(&server.url(), Duration::from_secs(5), Some(password)).expect("settings");
        Some(Rig {
            server,
            settings,
            _dir: dir,
        })
    }

    fn host(&self, name: &str) -> Cluster {
        Cluster::connect(&self.settings, name, NOW)
            .unwrap_or_else(|e| panic!("connect as {name}: {e}\n{}", self.server.log()))
    }
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn net(text: &str) -> IpNet {
    text.parse().unwrap()
}

/// An auth failure of `address` at `ts`, with id `id`.
fn failure(id: i64, ts: i64, address: &str) -> ClusterEvent {
    ClusterEvent {
        event_id: id,
        ts,
        address: ip(address),
        kind: EventKind::AuthFailed,
        mechanism: "LOGIN".into(),
        username: Some(format!("user{}", id % 7)),
        service: "postfix/submission/smtpd".into(),
    }
}

fn failed() -> &'static [EventKind] {
    &[EventKind::AuthFailed]
}

#[test]
fn migrations_apply_once_and_a_newer_schema_is_refused() {
    let Some(rig) = Rig::start("migrations_apply_once_and_a_newer_schema_is_refused") else {
        return;
    };
    let mut first = rig.host("mx1");
    assert_eq!(first.schema_version().unwrap(), supported_schema_version());
    drop(first);
    // Again, and from several hosts at once: nothing applied twice.
    let threads: Vec<_> = ["mx1", "mx2", "sub"]
        .into_iter()
        .map(|name| {
            let settings = rig.settings.clone();
            std::thread::spawn(move || Cluster::connect(&settings, name, NOW).map(|_| ()))
        })
        .collect();
    for thread in threads {
        thread.join().unwrap().expect("concurrent connect");
    }
    let mut admin = rig.server.admin(pg::DATABASE);
    let applied: i64 = admin
        .query_one("SELECT COUNT(*) FROM saslguard.saslguard_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(applied, supported_schema_version());
    let hosts: i64 = admin
        .query_one("SELECT COUNT(*) FROM saslguard.hosts", &[])
        .unwrap()
        .get(0);
    assert_eq!(hosts, 3);
    // The kinds the database knows are the kinds saslguard knows, code for code.
    let kinds: Vec<(i16, String)> = admin
        .query(
            "SELECT code, name FROM saslguard.event_kinds ORDER BY code",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let expected: Vec<(i16, String)> = EventKind::ALL
        .iter()
        .map(|kind| (kind.code() as i16, kind.to_string()))
        .collect();
    assert_eq!(kinds, expected);
    // Everything lives in the role's own schema; public stays empty.
    let in_public: i64 = admin
        .query_one(
            "SELECT COUNT(*) FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(in_public, 0);

    admin
        .execute(
            "INSERT INTO saslguard.saslguard_schema (version, name) VALUES (999, 'future')",
            &[],
        )
        .unwrap();
    match Cluster::connect(&rig.settings, "mx1", NOW) {
        Err(e @ ClusterError::SchemaTooNew { .. }) => {
            assert!(e.to_string().contains("upgrade saslguard"), "{e}")
        }
        Err(e) => panic!("expected SchemaTooNew, got {e}"),
        Ok(_) => panic!("a newer schema was accepted"),
    }
}

#[test]
fn a_batch_is_stored_exactly_once_however_often_it_is_shipped() {
    let Some(rig) = Rig::start("a_batch_is_stored_exactly_once_however_often_it_is_shipped") else {
        return;
    };
    let mut mx1 = rig.host("mx1");
    let batch: Vec<ClusterEvent> = (0..5000)
        .map(|i| failure(i, NOW - 3600 + i % 3600, &format!("198.51.100.{}", i % 200)))
        .collect();
    let first = mx1.ship(&batch[..3000], 2000, NOW).unwrap();
    assert_eq!((first.offered, first.stored), (3000, 3000));
    // The host died after PostgreSQL committed but before it recorded the shipment:
    // next run it ships from its last marker again, the first 3000 included.
    let retry = mx1.ship(&batch, 0, NOW + 60).unwrap();
    assert_eq!((retry.offered, retry.stored), (5000, 2000));
    // And once more, as a plain retry of the same batch.
    let again = mx1.ship(&batch, 0, NOW + 120).unwrap();
    assert_eq!(again.stored, 0);
    // Another host's events with the same ids are other events.
    let mut mx2 = rig.host("mx2");
    assert_eq!(mx2.ship(&batch[..10], 0, NOW).unwrap().stored, 10);

    let total: i64 = mx1
        .failures_per_address(failed(), NOW - DAY, NOW + DAY)
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(total, 5010);
    let hosts = mx1.hosts().unwrap();
    let shipped: Vec<(&str, i64, i64)> = hosts
        .iter()
        .map(|h| (h.name.as_str(), h.events_shipped, h.backlog))
        .collect();
    assert_eq!(shipped, [("mx1", 5000, 0), ("mx2", 10, 0)]);
    assert_eq!(hosts[0].last_contact, NOW + 120);

    // A batch that fails part way stores nothing of it: an event no store may hold
    // (an IPv4-mapped address written past the normalisation) is refused by the
    // database, and the good events before it in the batch are not kept either.
    let mut admin = rig.server.admin(pg::DATABASE);
    let refused = admin.execute(
        "INSERT INTO saslguard.events (host_id, event_id, ts, address, kind, mechanism, service)
         VALUES (1, 999999, now(), '::ffff:192.0.2.1', 0, 'LOGIN', 'smtpd')",
        &[],
    );
    assert!(refused.is_err(), "an IPv4-mapped address was stored");
}

#[test]
fn failures_count_over_all_hosts_less_pardons() {
    let Some(rig) = Rig::start("failures_count_over_all_hosts_less_pardons") else {
        return;
    };
    let attacker = "203.0.113.9";
    for (n, name) in ["mx1", "mx2", "sub"].into_iter().enumerate() {
        let mut host = rig.host(name);
        let events: Vec<_> = (0..4)
            .map(|i| failure(i, NOW - DAY + n as i64 * 100 + i, attacker))
            .chain([failure(10, NOW - DAY, &format!("192.0.2.{n}"))])
            .collect();
        host.ship(&events, 0, NOW).unwrap();
    }
    let mut mx1 = rig.host("mx1");
    let per_address = mx1
        .failures_per_address(failed(), NOW - 7 * DAY, NOW)
        .unwrap();
    assert!(per_address.contains(&(ip(attacker), 12)), "{per_address:?}");
    assert_eq!(per_address.len(), 4);
    let unit = net("203.0.113.9/32");
    assert_eq!(
        mx1.countable_failures(&unit, failed(), NOW - 7 * DAY, NOW)
            .unwrap(),
        12
    );
    assert_eq!(
        mx1.failures_per_host(&unit, failed(), NOW - 7 * DAY, NOW)
            .unwrap(),
        [("mx1".into(), 4), ("mx2".into(), 4), ("sub".into(), 4)]
    );
    // Other kinds are not failures.
    assert_eq!(
        mx1.countable_failures(&unit, &[EventKind::ServerFault], NOW - 7 * DAY, NOW)
            .unwrap(),
        0
    );
    // Unblock pardons what came before it on every host; new failures count from zero.
    mx1.add_pardon(&unit, NOW - 60).unwrap();
    assert_eq!(
        mx1.countable_failures(&unit, failed(), NOW - 7 * DAY, NOW)
            .unwrap(),
        0
    );
    let mut mx2 = rig.host("mx2");
    mx2.ship(&[failure(20, NOW - 30, attacker)], 0, NOW)
        .unwrap();
    assert_eq!(
        mx1.countable_failures(&unit, failed(), NOW - 7 * DAY, NOW)
            .unwrap(),
        1
    );
    let per_address = mx1
        .failures_per_address(failed(), NOW - 7 * DAY, NOW)
        .unwrap();
    assert!(per_address.contains(&(ip(attacker), 1)), "{per_address:?}");
    assert_eq!(mx1.pardons().unwrap().len(), 1);
}

#[test]
fn ipv4_and_ipv6_never_mix() {
    let Some(rig) = Rig::start("ipv4_and_ipv6_never_mix") else {
        return;
    };
    let mut mx1 = rig.host("mx1");
    let events = [
        failure(1, NOW - 10, "192.0.2.7"),
        // Postfix may log an IPv4 client as IPv4-mapped IPv6: the same client.
        failure(2, NOW - 9, "::ffff:192.0.2.7"),
        // IPv4-compatible (deprecated) is IPv6, and so is an address under ::/64.
        failure(3, NOW - 8, "::192.0.2.7"),
        failure(4, NOW - 7, "2001:db8::7"),
    ];
    mx1.ship(&events, 0, NOW).unwrap();
    let count = |mx: &mut Cluster, network: &str| {
        mx.countable_failures(&net(network), failed(), NOW - DAY, NOW)
            .unwrap()
    };
    assert_eq!(count(&mut mx1, "192.0.2.7/32"), 2);
    assert_eq!(count(&mut mx1, "0.0.0.0/0"), 2);
    assert_eq!(
        count(&mut mx1, "::/0"),
        2,
        "no IPv6 range holds an IPv4 address"
    );
    assert_eq!(count(&mut mx1, "::/64"), 1);
    // A network written as IPv4-mapped IPv6 is the IPv4 network.
    assert_eq!(count(&mut mx1, "::ffff:192.0.2.0/120"), 2);

    for network in ["192.0.2.7/32", "::/96"] {
        mx1.insert_block(&manual(network, BlockTarget::Postfix, None))
            .unwrap();
    }
    // Ending every IPv6 block leaves the IPv4 one in force, and the reverse.
    let ended = mx1
        .end_blocks(&net("::/0"), true, NOW + 1, EndReason::Unblocked)
        .unwrap();
    assert_eq!(networks(&ended), ["::/96"]);
    let active = mx1.active_blocks(None, NOW + 2).unwrap();
    assert_eq!(networks(&active), ["192.0.2.7/32"]);
    // The database itself refuses a block written as IPv4-mapped IPv6 past the API.
    let mut admin = rig.server.admin(pg::DATABASE);
    let refused = admin.execute(
        "INSERT INTO saslguard.blocks (network, target, origin, origin_host, reason, created_at)
         VALUES ('::ffff:192.0.2.0/120', 'postfix', 'manual', 'x', 'y', now())",
        &[],
    );
    assert!(refused.is_err());
}

fn manual(network: &str, target: BlockTarget, expires_at: Option<i64>) -> NewBlock {
    NewBlock {
        network: net(network),
        target,
        origin: Origin::Manual,
        reason: "by hand".into(),
        failures: None,
        window_seconds: None,
        created_at: NOW,
        expires_at,
    }
}

fn networks(blocks: &[saslguard::store::postgres::ClusterBlock]) -> Vec<String> {
    blocks.iter().map(|b| b.block.network.to_string()).collect()
}

#[test]
fn blocks_keep_their_whole_history() {
    let Some(rig) = Rig::start("blocks_keep_their_whole_history") else {
        return;
    };
    let mut mx1 = rig.host("mx1");
    let mut mx2 = rig.host("mx2");
    let policy = NewBlock {
        network: net("203.0.113.9/32"),
        target: BlockTarget::Postfix,
        origin: Origin::Policy,
        reason: "12 failed authentications in 7d (tier 1: 10 in 7d)".into(),
        failures: Some(12),
        window_seconds: Some(7 * DAY),
        created_at: NOW,
        expires_at: Some(NOW + DAY),
    };
    let id = mx1.insert_block(&policy).unwrap();
    mx1.insert_block(&manual(
        "198.51.100.0/24",
        BlockTarget::Firewall,
        Some(NOW + 3600),
    ))
    .unwrap();
    mx1.insert_block(&manual("2001:db8:1::/48", BlockTarget::Firewall, None))
        .unwrap();

    // Another host sees the block as mx1 decided it.
    let found = mx2
        .active_block_of(&net("203.0.113.9/32"), BlockTarget::Postfix, NOW + 1)
        .unwrap()
        .expect("active block");
    assert_eq!(found.block.id, id);
    assert_eq!(found.origin_host, "mx1");
    assert_eq!(found.block.failures, Some(12));
    assert_eq!(found.block.window_seconds, Some(7 * DAY));
    assert_eq!(found.block.expires_at, Some(NOW + DAY));
    assert_eq!(
        mx2.active_blocks(Some(BlockTarget::Firewall), NOW + 1)
            .unwrap()
            .len(),
        2
    );

    assert!(
        mx2.extend_block(id, Some(NOW + 2 * DAY), " (extended)")
            .unwrap()
    );
    // mx2 unblocks it; an hour later the /24 expires.
    let ended = mx2
        .end_blocks(
            &net("203.0.113.9/32"),
            false,
            NOW + 60,
            EndReason::Unblocked,
        )
        .unwrap();
    assert_eq!(ended.len(), 1);
    assert!(
        !mx2.extend_block(id, None, "x").unwrap(),
        "an ended block stays ended"
    );
    let expired = mx1.expire_blocks(NOW + 7200).unwrap();
    assert_eq!(networks(&expired), ["198.51.100.0/24"]);
    assert_eq!(expired[0].block.ended_at, Some(NOW + 3600));

    let all = mx1.all_blocks().unwrap();
    let history = all.iter().find(|b| b.block.id == id).unwrap();
    assert_eq!(
        history.block.reason,
        format!("{} (extended)", policy.reason)
    );
    assert_eq!(history.block.created_at, NOW);
    assert_eq!(history.block.expires_at, Some(NOW + 2 * DAY));
    assert_eq!(history.block.ended_at, Some(NOW + 60));
    assert_eq!(history.block.end_reason, Some(EndReason::Unblocked));
    assert_eq!(history.ended_by.as_deref(), Some("mx2"));
    assert_eq!(history.origin_host, "mx1");
    let active = mx1.active_blocks(None, NOW + 7200).unwrap();
    assert_eq!(networks(&active), ["2001:db8:1::/48"]);

    // Escalation counts earlier blocks covering the network, allowlisted ones aside.
    mx1.insert_block(&manual(
        "203.0.113.0/24",
        BlockTarget::Postfix,
        Some(NOW + 10),
    ))
    .unwrap();
    mx1.end_blocks(
        &net("203.0.113.0/24"),
        false,
        NOW + 5,
        EndReason::Allowlisted,
    )
    .unwrap();
    let (earlier, last) = mx1
        .block_history(&net("203.0.113.9/32"), BlockTarget::Postfix)
        .unwrap();
    assert_eq!((earlier, last), (1, Some(NOW)));

    // The allowlist is shared too.
    assert!(
        mx1.allowlist_add(&net("192.0.2.0/24"), Some("office"), NOW)
            .unwrap()
    );
    assert!(!mx2.allowlist_add(&net("192.0.2.0/24"), None, NOW).unwrap());
    assert_eq!(
        mx2.allowlist().unwrap()[0].comment.as_deref(),
        Some("office")
    );
    assert!(mx2.allowlist_remove(&net("192.0.2.0/24")).unwrap());
    assert!(mx1.allowlist().unwrap().is_empty());

    // Retention deletes ended history and old events, keeps what is in force.
    mx1.ship(
        &[
            failure(1, NOW - 40 * DAY, "192.0.2.1"),
            failure(2, NOW, "192.0.2.1"),
        ],
        0,
        NOW,
    )
    .unwrap();
    let pruned = mx1
        .prune(Some(NOW - 30 * DAY), Some(NOW + 3 * DAY))
        .unwrap();
    assert_eq!((pruned.events, pruned.blocks), (1, 3));
    assert_eq!(networks(&mx1.all_blocks().unwrap()), ["2001:db8:1::/48"]);
}

#[test]
fn one_host_at_a_time_evaluates_the_policy() {
    let Some(rig) = Rig::start("one_host_at_a_time_evaluates_the_policy") else {
        return;
    };
    let mut mx1 = rig.host("mx1");
    let mut mx2 = rig.host("mx2");
    let mut guard = mx1.try_lock_policy().unwrap().expect("free lock");
    assert!(mx2.try_lock_policy().unwrap().is_none(), "the lock is held");
    guard
        .insert_block(&manual("203.0.113.1/32", BlockTarget::Postfix, None))
        .unwrap();
    // Not committed: nobody else sees it yet.
    assert!(mx2.active_blocks(None, NOW).unwrap().is_empty());
    guard.commit().unwrap();
    assert_eq!(mx2.active_blocks(None, NOW).unwrap().len(), 1);

    // A guard dropped without commit rolls back and frees the lock.
    {
        let mut guard = mx2.try_lock_policy().unwrap().expect("free again");
        guard
            .insert_block(&manual("203.0.113.2/32", BlockTarget::Postfix, None))
            .unwrap();
    }
    assert_eq!(mx1.active_blocks(None, NOW).unwrap().len(), 1);

    // A change by hand waits for an evaluation in progress instead of interleaving.
    let guard = mx1.try_lock_policy().unwrap().expect("free");
    let settings = rig.settings.clone();
    let released = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (ready, connected) = std::sync::mpsc::channel();
    let waiter = {
        let released = released.clone();
        std::thread::spawn(move || {
            let mut sub = Cluster::connect(&settings, "sub", NOW).unwrap();
            ready.send(()).unwrap();
            let guard = sub.lock_policy().unwrap();
            let after_release = released.load(std::sync::atomic::Ordering::SeqCst);
            guard.commit().unwrap();
            after_release
        })
    };
    connected.recv().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    released.store(true, std::sync::atomic::Ordering::SeqCst);
    guard.commit().unwrap();
    assert!(
        waiter.join().unwrap(),
        "the lock was taken while another host held it"
    );
}

#[test]
fn passwords_come_from_private_files_and_an_absent_server_is_unreachable() {
    let Some(rig) =
        Rig::start("passwords_come_from_private_files_and_an_absent_server_is_unreachable")
    else {
        return;
    };
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let open_file = dir.path().join("password");
    rig.server.write_password_file(&open_file);
    std::fs::set_permissions(&open_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let settings =
        Settings::new(&rig.server.url(), Duration::from_secs(5), Some(open_file)).unwrap();
    let err = Cluster::connect(&settings, "mx1", NOW)
        .err()
        .expect("refused");
    assert!(err.to_string().contains("chmod 600"), "{err}");
    assert!(!err.is_unreachable());

    // libpq's password file, found through PGPASSFILE in a child process (the
    // environment is the process's): covered by the unit tests of the lookup; here a
    // wrong password is a connection that fails as unreachable, saying why.
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "not-it\n").unwrap();
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).unwrap();
    let settings = Settings::new(&rig.server.url(), Duration::from_secs(5), Some(wrong)).unwrap();
    let err = Cluster::connect(&settings, "mx1", NOW)
        .err()
        .expect("refused");
    assert!(err.is_unreachable(), "{err}");
    assert!(err.to_string().contains("password"), "{err}");

    // The server stopped: unreachable at once, not after a hang.
    let mut rig = rig;
    rig.server.stop();
    let started = Instant::now();
    let err = Cluster::connect(&rig.settings, "mx1", NOW)
        .err()
        .expect("down");
    assert!(err.is_unreachable(), "{err}");
    assert!(started.elapsed() < Duration::from_secs(6));
    assert!(!err.to_string().contains(pg::PASSWORD));
    rig.server.resume();
    rig.host("mx1");
}

#[test]
fn a_weak_sslmode_is_refused_before_connecting() {
    // A weak sslmode never gets as far as connecting.
    let err = Settings::new(
        "postgresql://saslguard@db.example:5432/saslguard?sslmode=require",
        Duration::from_secs(5),
        None,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("sslmode=require is refused"),
        "{err}"
    );
}

#[test]
fn config_check_reads_cluster_and_warns_of_a_password_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let env = common::Env::new();
    std::fs::write(
        &env.config,
        "[cluster]\nurl = \"postgresql://saslguard:s3cret@localhost/saslguard\"\n\
         host = \"mx1\"\nconnect_timeout = \"3s\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&env.config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = env.run_ok(&["config", "check"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("holds a password"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
    std::fs::set_permissions(&env.config, std::fs::Permissions::from_mode(0o640)).unwrap();
    let output = env.run_ok(&["config", "check"]);
    assert!(!String::from_utf8_lossy(&output.stderr).contains("holds a password"));

    for (config, expected) in [
        (
            "[cluster]\nurl = \"postgresql://u@db.example/d?sslmode=require\"\n",
            "sslmode=require is refused",
        ),
        (
            "[cluster]\nurl = \"postgresql://u@db.example/d\"\n",
            "no sslmode",
        ),
        (
            "[cluster]\nurl = \"postgresql://u@localhost/d\"\nhost = \"two words\"\n",
            "not a host name",
        ),
        (
            "[cluster]\nurl = \"postgresql://u@localhost/d\"\nconnect_timeout = \"1h\"\n",
            "at most 300s",
        ),
        (
            "[cluster]\nurl = \"postgresql://u@localhost/d\"\npasword_file = \"/x\"\n",
            "unknown field",
        ),
    ] {
        std::fs::write(&env.config, config).unwrap();
        let output = env.cmd().args(["config", "check"]).output().unwrap();
        assert!(!output.status.success(), "{config}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(expected), "{config}: {stderr}");
    }
}

/// A host of the scenario: its own config, local database, log and map.
fn scenario_host(rig: &Rig, name: &str) -> common::Env {
    let env = common::Env::new();
    let password = env.path("pgpassword");
    rig.server.write_password_file(&password);
    std::fs::write(
        &env.config,
        format!(
            "logs = [{:?}]\n[postfix]\nmap = {:?}\nmap_type = \"cidr\"\nreload_command = []\n\
             [firewall]\nbackend = \"none\"\n\
             [[policy.tier]]\ntarget = \"postfix\"\nthreshold = 10\nwindow = \"7d\"\nduration = \"7d\"\n\
             [cluster]\nurl = {:?}\nhost = {name:?}\nconnect_timeout = \"3s\"\npassword_file = {:?}\n",
            env.path("maillog"),
            env.path("access"),
            rig.server.url(),
            password,
        ),
    )
    .unwrap();
    std::fs::write(env.path("maillog"), "").unwrap();
    env
}

fn map_of(env: &common::Env) -> String {
    std::fs::read_to_string(env.path("access")).unwrap_or_default()
}

/// 2026-11-27T01:00:00Z, an hour after the base time of `common::iso_failure`.
const RUN_AT: &str = "2026-11-27T01:00:00Z";

#[test]
fn three_hosts_block_an_attacker_none_of_them_sees_enough_of() {
    let Some(mut rig) = Rig::start("three_hosts_block_an_attacker_none_of_them_sees_enough_of")
    else {
        return;
    };
    let attacker = "203.0.113.77";
    let hosts: Vec<common::Env> = ["mx1", "mx2", "sub"]
        .iter()
        .map(|name| scenario_host(&rig, name))
        .collect();
    for (n, env) in hosts.iter().enumerate() {
        common::append(
            &env.path("maillog"),
            &common::failures(n as i64 * 10, 4, attacker),
        );
    }
    // Two rounds: the first ships everything, the second's evaluation sees it all.
    for _ in 0..2 {
        for env in &hosts {
            env.run_ok(&["run", "--as-of", RUN_AT]);
        }
    }
    for env in &hosts {
        assert!(map_of(env).contains(attacker), "{}", map_of(env));
        // Alone, no host would have blocked it: 4 of 10.
        assert_eq!(env.sql_count("SELECT COUNT(*) FROM events"), 4);
    }

    // Unblock on the second host: after one run each, no map holds it.
    hosts[1].run_ok(&["unblock", attacker, "--as-of", "2026-11-27T01:05:00Z"]);
    for env in &hosts {
        env.run_ok(&["run", "--as-of", "2026-11-27T01:10:00Z"]);
        assert!(!map_of(env).contains(attacker), "{}", map_of(env));
    }
    // The next failures count from zero: 3 more on each host (9 in all) do not block it.
    for env in &hosts {
        common::append(&env.path("maillog"), &common::failures(4000, 3, attacker));
    }
    for _ in 0..2 {
        for env in &hosts {
            env.run_ok(&["run", "--as-of", "2026-11-27T01:20:00Z"]);
        }
    }
    for env in &hosts {
        assert!(!map_of(env).contains(attacker), "9 new failures blocked it");
    }

    // The shared store goes down: every host keeps its map, ingests, and fails saying why.
    let maps: Vec<String> = hosts.iter().map(map_of).collect();
    rig.server.stop();
    for env in &hosts {
        common::append(&env.path("maillog"), &common::failures(4100, 2, attacker));
        let output = env
            .cmd()
            .args(["run", "--as-of", "2026-11-27T01:30:00Z"])
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("cannot reach the cluster database"),
            "{stderr}"
        );
        assert_eq!(env.sql_count("SELECT COUNT(*) FROM events"), 4 + 3 + 2);
    }
    assert_eq!(maps, hosts.iter().map(map_of).collect::<Vec<_>>());

    // Back: the backlog ships, and the cluster holds exactly the sum of the local logs.
    rig.server.resume();
    for env in &hosts {
        env.run_ok(&["run", "--as-of", "2026-11-27T01:40:00Z"]);
    }
    let mut admin = rig.server.admin(pg::DATABASE);
    let in_cluster: i64 = admin
        .query_one(
            "SELECT COUNT(*) FROM saslguard.events WHERE address = '203.0.113.77'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(in_cluster, 3 * 9);
    // 2 + 3 per host since the pardon: 15, over 10: blocked again everywhere (the run
    // after the evaluation mirrors it).
    for env in &hosts {
        env.run_ok(&["run", "--as-of", "2026-11-27T01:41:00Z"]);
        assert!(map_of(env).contains(attacker), "{}", map_of(env));
    }

    // A crash between the cluster's commit and the local marker's: the marker is lost,
    // the same events ship again, and the cluster still holds each once.
    let first = &hosts[0];
    let local = rusqlite::Connection::open(&first.db).unwrap();
    local.execute("DELETE FROM cluster_outbox", []).unwrap();
    drop(local);
    first.run_ok(&["run", "--as-of", "2026-11-27T01:42:00Z"]);
    let again: i64 = admin
        .query_one(
            "SELECT COUNT(*) FROM saslguard.events WHERE address = '203.0.113.77'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(again, 3 * 9);

    // A fourth host joining late gets every active block on its first run.
    let late = scenario_host(&rig, "mx4");
    late.run_ok(&["run", "--as-of", "2026-11-27T01:43:00Z"]);
    assert!(map_of(&late).contains(attacker), "{}", map_of(&late));
}
