//! Issue 10, "hits the wrong address", through the real binary: IPv4 and IPv6 never mix
//! (an IPv6 range never covers an IPv4 address), IPv4-mapped IPv6 is IPv4 wherever it is
//! written, config networks with host bits are errors, allowlist entries leave nothing
//! behind, one rule decides what may be blocked (block, import, policy), and `unblock`
//! forgives only when asked.

use crate::common;

use std::fs;
use std::path::PathBuf;

use common::*;
use serde_json::Value;

/// 2026-11-27T00:00:00Z plus `seconds`, as `--as-of` text.
fn at(seconds: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(1_795_737_600 + seconds, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

const HOUR: i64 = 3600;

/// A temp dir with a log, a cidr map whose reloads are a touched file, no firewall, and
/// one postfix tier of 3 failures in a day.
struct Rig {
    env: Env,
    log: PathBuf,
    map: PathBuf,
}

impl Rig {
    /// `allow` is the `[allow]` section's body.
    fn new(allow: &str) -> Rig {
        let env = Env::new();
        let log = env.path("maillog");
        let map = env.path("saslguard_access");
        fs::write(&log, "").unwrap();
        let rig = Rig { env, log, map };
        rig.set_allow(allow);
        rig
    }

    fn set_allow(&self, allow: &str) {
        let config = format!(
            "logs = [{log:?}]\n\
             [postfix]\nmap = {map:?}\nmap_type = \"cidr\"\nreload_command = [\"true\"]\n\
             [firewall]\nbackend = \"none\"\n\
             [[policy.tier]]\ntarget = \"postfix\"\nthreshold = 3\nwindow = \"1d\"\nduration = \"1d\"\n\
             [allow]\n{allow}\n",
            log = self.log.to_str().unwrap(),
            map = self.map.to_str().unwrap(),
        );
        fs::write(&self.env.config, config).unwrap();
    }

    fn output(&self, args: &[&str]) -> std::process::Output {
        self.env.cmd().args(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> std::process::Output {
        let output = self.output(args);
        assert!(
            output.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    fn run_at(&self, seconds: i64) {
        self.ok(&["run", "--as-of", &at(seconds)]);
    }

    /// Active blocks as `network target`, sorted.
    fn blocked(&self, seconds: i64) -> Vec<String> {
        let out = self.ok(&["blocks", "--format", "json", "--as-of", &at(seconds)]);
        let list: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mut v: Vec<String> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                format!(
                    "{} {}",
                    b["network"].as_str().unwrap(),
                    b["target"].as_str().unwrap()
                )
            })
            .collect();
        v.sort();
        v
    }

    /// Every block ever made, as `network end_reason`.
    fn history(&self, seconds: i64) -> Vec<String> {
        let out = self.ok(&[
            "blocks",
            "--all",
            "--format",
            "json",
            "--as-of",
            &at(seconds),
        ]);
        let list: Value = serde_json::from_slice(&out.stdout).unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .map(|b| format!("{} {}", b["network"].as_str().unwrap(), b["end_reason"]))
            .collect()
    }

    fn map_keys(&self) -> Vec<String> {
        fs::read_to_string(&self.map)
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .map(|l| l.split_whitespace().next().unwrap().to_string())
            .collect()
    }
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn an_ipv6_block_around_the_mapped_range_is_not_ended_as_allowlisted() {
    // Loopback on: 127.0.0.0/8 is allowlisted, and its old keys lay inside ::fffe:0:0/95.
    let rig = Rig::new("loopback = true");
    rig.ok(&[
        "block",
        "::fffe:0:0/95",
        "--target",
        "postfix",
        "--as-of",
        &at(0),
    ]);
    rig.run_at(60);
    assert_eq!(rig.blocked(61), ["::fffe:0:0/95 postfix"]);
    assert_eq!(rig.history(61), ["::fffe:0:0/95 null"]);
    assert_eq!(rig.map_keys(), ["::fffe:0:0/95"]);
}

#[test]
fn a_blocked_ipv6_loopback_network_never_covers_ipv4_offenders() {
    let rig = Rig::new("loopback = false");
    append(&rig.log, &failures(0, 5, "::1"));
    rig.run_at(HOUR);
    assert_eq!(rig.blocked(HOUR), ["::/64 postfix"]);
    append(&rig.log, &failures(HOUR, 5, "203.0.113.7"));
    append(&rig.log, &failures(HOUR, 5, "0.0.0.1"));
    rig.run_at(2 * HOUR);
    assert_eq!(
        rig.blocked(2 * HOUR),
        [
            "0.0.0.1/32 postfix",
            "203.0.113.7/32 postfix",
            "::/64 postfix"
        ]
    );
    // `show` of the IPv6 network counts only the IPv6 address's failures.
    let out = rig.ok(&[
        "show",
        "::/64",
        "--format",
        "json",
        "--as-of",
        &at(2 * HOUR),
    ]);
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["failures"], 5);
    assert_eq!(shown["addresses"], 1);
    // And unblocking it ends nothing of IPv4.
    rig.ok(&["unblock", "::/64", "--as-of", &at(2 * HOUR + 1)]);
    assert_eq!(
        rig.blocked(2 * HOUR + 1),
        ["0.0.0.1/32 postfix", "203.0.113.7/32 postfix"]
    );
}

#[test]
fn importing_the_mapped_range_is_refused_as_all_of_ipv4() {
    let rig = Rig::new("loopback = false");
    let file = rig.env.path("reject_client");
    fs::write(&file, "::ffff:0:0/96 REJECT\n::ffff:198.51.100.7 REJECT\n").unwrap();
    let output = rig.output(&[
        "import",
        "reject-client",
        file.to_str().unwrap(),
        "--as-of",
        &at(0),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains(&format!("{}:1", file.display())) && err.contains("0.0.0.0/0"),
        "{err}"
    );
    assert_eq!(rig.blocked(1), ["198.51.100.7/32 postfix"]);
}

#[test]
fn an_allowlist_entry_written_as_mapped_ipv6_protects_the_ipv4_address() {
    let rig = Rig::new("loopback = false\nnetworks = [\"::ffff:203.0.113.7/128\"]");
    append(&rig.log, &failures(0, 10, "203.0.113.7"));
    append(&rig.log, &failures(0, 10, "203.0.113.8"));
    for round in 1..=2 {
        rig.run_at(round * HOUR);
        assert_eq!(
            rig.blocked(round * HOUR),
            ["203.0.113.8/32 postfix"],
            "run {round}"
        );
        assert_eq!(rig.map_keys(), ["203.0.113.8"], "run {round}");
    }
    assert_eq!(
        rig.history(3 * HOUR),
        ["203.0.113.8/32 null"],
        "no block ever made of .7"
    );
    // By hand too.
    let output = rig.output(&["block", "203.0.113.0/24"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("allowlisted 203.0.113.7/32"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn config_networks_with_host_bits_are_errors_naming_file_key_and_value() {
    for (value, meant) in [
        ("10.0.0.0/0", "0.0.0.0/0"),
        ("192.0.2.1/24", "192.0.2.0/24"),
    ] {
        let rig = Rig::new(&format!("networks = [\"{value}\"]"));
        let config = rig.env.config.to_str().unwrap().to_string();
        for args in [vec!["config", "check", config.as_str()], vec!["blocks"]] {
            let output = rig.output(&args);
            assert_eq!(output.status.code(), Some(1), "{args:?}");
            let err = stderr(&output);
            assert!(
                err.contains(&config)
                    && err.contains("allow.networks")
                    && err.contains(value)
                    && err.contains(&format!("did you mean {meant}")),
                "{args:?}: {err}"
            );
        }
    }
}

#[test]
fn an_allowlist_entry_leaves_no_forgiveness_behind_once_it_is_gone() {
    let rig = Rig::new("loopback = false");
    append(&rig.log, &failures(0, 5, "203.0.113.7"));
    rig.run_at(HOUR);
    assert_eq!(rig.blocked(HOUR), ["203.0.113.7/32 postfix"]);
    // A too wide entry (meant: 10.0.0.0/8) ends the block ...
    rig.set_allow("loopback = false\nnetworks = [\"0.0.0.0/0\"]");
    rig.run_at(HOUR + 60);
    assert!(rig.blocked(HOUR + 60).is_empty());
    assert!(rig.map_keys().is_empty());
    // ... and once it is fixed, the old failures count again.
    rig.set_allow("loopback = false\nnetworks = [\"10.0.0.0/8\"]");
    rig.run_at(HOUR + 120);
    assert_eq!(rig.blocked(HOUR + 120), ["203.0.113.7/32 postfix"]);
    // The same for `allow add` and `allow remove`.
    rig.ok(&["allow", "add", "203.0.113.0/24", "--as-of", &at(HOUR + 180)]);
    assert!(rig.blocked(HOUR + 180).is_empty());
    rig.ok(&[
        "allow",
        "remove",
        "203.0.113.0/24",
        "--as-of",
        &at(HOUR + 240),
    ]);
    rig.run_at(HOUR + 300);
    assert_eq!(rig.blocked(HOUR + 300), ["203.0.113.7/32 postfix"]);
}

#[test]
fn import_refuses_what_block_refuses_line_by_line() {
    let rig = Rig::new("loopback = false");
    let file = rig.env.path("reject_client");
    fs::write(
        &file,
        "0.0.0.0/0 REJECT\n::/0 REJECT\n128.0.0.0/1 REJECT\n2000::/3 REJECT\n203.0.113.9 REJECT\n",
    )
    .unwrap();
    let output = rig.output(&[
        "import",
        "reject-client",
        file.to_str().unwrap(),
        "--as-of",
        &at(0),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    for (line, net) in [
        (1, "0.0.0.0/0"),
        (2, "::/0"),
        (3, "128.0.0.0/1"),
        (4, "2000::/3"),
    ] {
        assert!(
            err.contains(&format!(
                "{}:{line}: refusing to block {net}",
                file.display()
            )),
            "line {line}: {err}"
        );
    }
    assert_eq!(rig.blocked(1), ["203.0.113.9/32 postfix"]);
    // The same networks by hand: refused by the same rule, with the same words.
    for net in ["0.0.0.0/0", "::/0", "128.0.0.0/1", "2000::/3"] {
        let output = rig.output(&["block", net]);
        assert_eq!(output.status.code(), Some(1), "{net}");
        assert!(
            stderr(&output).contains(&format!("refusing to block {net}: wider than")),
            "{}",
            stderr(&output)
        );
    }
}

#[test]
fn unblock_of_nothing_changes_nothing_and_forgiving_is_explicit() {
    let rig = Rig::new("loopback = false");
    append(&rig.log, &failures(0, 5, "30.235.109.211"));
    // No block yet: unblock refuses and forgives nothing.
    let output = rig.output(&["unblock", "30.235.109.211", "--as-of", &at(60)]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no active block in 30.235.109.211/32"),
        "{}",
        stderr(&output)
    );
    rig.run_at(HOUR);
    assert_eq!(rig.blocked(HOUR), ["30.235.109.211/32 postfix"]);
    // Too wide without --force.
    let output = rig.output(&["unblock", "0.0.0.0/0", "--as-of", &at(HOUR + 1)]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("--force"), "{}", stderr(&output));
    assert_eq!(rig.blocked(HOUR + 1), ["30.235.109.211/32 postfix"]);
    rig.ok(&["unblock", "0.0.0.0/0", "--force", "--as-of", &at(HOUR + 2)]);
    assert!(rig.blocked(HOUR + 2).is_empty());
    // --forgive without a block: the failures up to now no longer count, and it shows.
    append(&rig.log, &failures(HOUR + 10, 5, "198.51.100.4"));
    rig.ok(&["ingest", "--as-of", &at(HOUR + 100)]);
    rig.ok(&[
        "unblock",
        "--forgive",
        "198.51.100.4",
        "--as-of",
        &at(HOUR + 200),
    ]);
    rig.run_at(HOUR + 300);
    assert!(rig.blocked(HOUR + 300).is_empty());
    let out = rig.ok(&[
        "show",
        "198.51.100.4",
        "--format",
        "json",
        "--as-of",
        &at(HOUR + 300),
    ]);
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        shown["forgiven"],
        serde_json::json!([{"network": "198.51.100.4/32", "until": at(HOUR + 200)}])
    );
    let out = rig.ok(&[
        "blocks",
        "--forgiven",
        "--format",
        "json",
        "--as-of",
        &at(HOUR + 300),
    ]);
    let forgiven: Value = serde_json::from_slice(&out.stdout).unwrap();
    let networks: Vec<&str> = forgiven
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["network"].as_str().unwrap())
        .collect();
    // `unblock 0.0.0.0/0 --force` forgave the failures behind the block it ended, not
    // all of IPv4; `--forgive` the whole address asked.
    assert_eq!(networks, ["30.235.109.211/32", "198.51.100.4/32"]);
    let out = rig.ok(&["blocks", "--as-of", &at(HOUR + 300)]);
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(
        table.contains("forgiven") && table.contains("198.51.100.4/32"),
        "{table}"
    );
}

#[test]
fn unblock_allow_and_import_explain_every_argument() {
    for args in [
        vec!["unblock", "-h"],
        vec!["allow", "add", "-h"],
        vec!["allow", "remove", "-h"],
        vec!["import", "reject-client", "-h"],
        vec!["import", "iptables", "-h"],
    ] {
        let env = Env::new();
        let out = env.run_ok(&args);
        let help = String::from_utf8_lossy(&out.stdout).into_owned();
        let arguments = help.split("Arguments:").nth(1).unwrap_or("");
        let arguments = arguments.split("Options:").next().unwrap_or("");
        let names: Vec<&str> = arguments
            .lines()
            .filter(|l| {
                let t = l.trim_start();
                t.starts_with('<') || t.starts_with('[')
            })
            .collect();
        assert!(!names.is_empty(), "{args:?}: no arguments in\n{help}");
        for line in names {
            let words: Vec<&str> = line.split_whitespace().collect();
            assert!(words.len() > 1, "{args:?}: {line:?} has no help:\n{help}");
        }
    }
}

#[test]
fn a_database_of_16_byte_keys_is_migrated_in_place() {
    let rig = Rig::new("loopback = false");
    for ip in ["::1", "203.0.113.7", "198.51.100.7", "2001:db8::1"] {
        append(&rig.log, &failures(0, 5, ip));
    }
    rig.run_at(HOUR);
    rig.ok(&["unblock", "198.51.100.7", "--as-of", &at(HOUR + 1)]);
    let top = rig
        .ok(&[
            "top",
            "--period",
            "all",
            "--format",
            "json",
            "--as-of",
            &at(2 * HOUR),
        ])
        .stdout;
    let show = |net: &str| -> Value {
        let out = rig.ok(&["show", net, "--format", "json", "--as-of", &at(2 * HOUR)]);
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let shown_before = show("203.0.113.7");

    // Back to the layout of schema 6 (16-byte keys, IPv4 as ::ffff:a.b.c.d), with what
    // the binary of then wrote as IPv4-mapped IPv6: an imported ::ffff:0:0/96 (all of
    // IPv4) and ::ffff:192.0.2.0/120, and the pardon of a mapped allowlist entry.
    let conn = rusqlite::Connection::open(&rig.env.db).unwrap();
    conn.execute_batch(
        "UPDATE addresses SET ip = substr(ip, 2);
         UPDATE blocks SET net_first = substr(net_first, 2), net_last = substr(net_last, 2);
         UPDATE pardons SET net_first = substr(net_first, 2), net_last = substr(net_last, 2);
         INSERT INTO blocks (network, net_first, net_last, target, origin, reason, created_at)
         VALUES ('::ffff:0.0.0.0/96', X'00000000000000000000FFFF00000000',
                 X'00000000000000000000FFFFFFFFFFFF', 'postfix', 'manual', 'imported', 1795741200),
                ('::ffff:192.0.2.0/120', X'00000000000000000000FFFFC0000200',
                 X'00000000000000000000FFFFC00002FF', 'postfix', 'manual', 'imported', 1795741200);
         INSERT INTO pardons (network, net_first, net_last, until)
         VALUES ('::ffff:203.0.113.7/128', X'00000000000000000000FFFFCB007107',
                 X'00000000000000000000FFFFCB007107', 1795741200);
         ALTER TABLE runs DROP COLUMN untrusted;
         DROP TABLE firewall_places;
         DROP TABLE address_weeks;
         PRAGMA user_version = 6;",
    )
    .unwrap();
    drop(conn);

    // Opening migrates: the same rankings, and the mapped rows are IPv4.
    let top_after = rig
        .ok(&[
            "top",
            "--period",
            "all",
            "--format",
            "json",
            "--as-of",
            &at(2 * HOUR),
        ])
        .stdout;
    assert_eq!(
        serde_json::from_slice::<Value>(&top_after).unwrap(),
        serde_json::from_slice::<Value>(&top).unwrap()
    );
    let mut shown = show("203.0.113.7");
    assert_eq!(
        shown["forgiven"],
        serde_json::json!([]),
        "the mapped allowlist pardon is gone"
    );
    let blocks = shown["blocks"].as_array_mut().unwrap();
    assert_eq!(blocks[0]["network"], "0.0.0.0/0");
    assert_eq!(blocks[0]["end_reason"], "unblocked");
    blocks.remove(0);
    assert_eq!(shown, shown_before);
    assert_eq!(show("::/64")["failures"], 5);
    assert_eq!(show("::/0")["failures"], 10);
    assert_eq!(
        show("198.51.100.7")["forgiven"][0]["network"],
        "198.51.100.7/32"
    );
    assert_eq!(
        rig.blocked(2 * HOUR),
        [
            "192.0.2.0/24 postfix",
            "2001:db8::/64 postfix",
            "203.0.113.7/32 postfix",
            "::/64 postfix"
        ],
        "all of IPv4, never enforced as written, is not enforced now either"
    );
    let all = rig.history(2 * HOUR);
    assert!(
        all.contains(&"0.0.0.0/0 \"unblocked\"".to_string()),
        "{all:?}"
    );
    let version: i64 = rusqlite::Connection::open(&rig.env.db)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    let latest = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count() as i64;
    assert_eq!(version, latest, "migrated to the latest schema");
    rig.run_at(2 * HOUR);
    let mut keys = rig.map_keys();
    keys.sort();
    assert_eq!(
        keys,
        ["192.0.2.0/24", "2001:db8::/64", "203.0.113.7", "::/64"]
    );
}
