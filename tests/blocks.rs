//! Policy, blocks, the allowlist and the Postfix map, through the real binary:
//! thresholds per tier and window, escalation, aggregation, allowlist over every block
//! path, unblock that sticks, expiry, idempotent rendering, dry runs and bad input.

use crate::common;

use std::fs;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

/// 2026-11-27T00:00:00Z plus `seconds`, as `--as-of` text.
fn at(seconds: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(1_795_737_600 + seconds, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

const HOUR: i64 = 3600;
const DAY: i64 = 86400;

struct Rig {
    env: Env,
    log: PathBuf,
    map: PathBuf,
    reloaded: PathBuf,
}

impl Rig {
    /// A config with a cidr map in the temp dir, reloads observable as a touched file,
    /// no firewall, loopback not allowed, and the given extra TOML.
    fn new(extra: &str) -> Rig {
        let env = Env::new();
        let log = env.path("maillog");
        let map = env.path("saslguard_access");
        let reloaded = env.path("reloaded");
        fs::write(&log, "").unwrap();
        let config = format!("logs = [{log:?}]\n{extra}\n", log = log.to_str().unwrap());
        fs::write(&env.config, config).unwrap();
        let rig = Rig {
            env,
            log,
            map,
            reloaded,
        };
        rig.set_sections("");
        rig
    }

    /// Rewrites the config: `extra` plus the standard sections unless `extra` has them.
    fn set_sections(&self, extra: &str) {
        let mut config = format!("logs = [{:?}]\n", self.log.to_str().unwrap());
        if !extra.contains("[postfix]") {
            config += &format!(
                "[postfix]\nmap = {:?}\nmap_type = \"cidr\"\nreload_command = [\"touch\", {:?}]\n",
                self.map.to_str().unwrap(),
                self.reloaded.to_str().unwrap()
            );
        }
        if !extra.contains("[firewall]") {
            config += "[firewall]\nbackend = \"none\"\n";
        }
        if !extra.contains("[allow]") {
            config += "[allow]\nloopback = false\n";
        }
        config += extra;
        fs::write(&self.env.config, config).unwrap();
    }

    /// Runs saslguard with `args`; panics unless it succeeds.
    fn ok(&self, args: &[&str]) {
        self.env.run_ok(args);
    }

    fn run_at(&self, seconds: i64) -> Value {
        let output = self
            .env
            .run_ok(&["run", "--format", "json", "--as-of", &at(seconds)]);
        serde_json::from_slice(&output.stdout).unwrap()
    }

    fn blocks(&self, seconds: i64, all: bool) -> Vec<Value> {
        let mut cmd = self.env.cmd();
        cmd.args(["blocks", "--format", "json", "--as-of", &at(seconds)]);
        if all {
            cmd.arg("--all");
        }
        let output = cmd.output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<Value>(&output.stdout)
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    }

    fn blocked(&self, seconds: i64) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = self
            .blocks(seconds, false)
            .iter()
            .map(|b| {
                (
                    b["network"].as_str().unwrap().to_string(),
                    b["target"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        v.sort();
        v
    }

    fn map_keys(&self) -> Vec<String> {
        map_keys(&self.map)
    }
}

fn map_keys(map: &Path) -> Vec<String> {
    fs::read_to_string(map)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

fn pair(net: &str, target: &str) -> (String, String) {
    (net.to_string(), target.to_string())
}

#[test]
fn each_tier_blocks_at_its_threshold_within_its_window() {
    let rig = Rig::new("");
    rig.set_sections(
        "[[policy.tier]]\ntarget = \"postfix\"\nthreshold = 5\nwindow = \"1h\"\nduration = \"1d\"\n\
         [[policy.tier]]\ntarget = \"firewall\"\nthreshold = 8\nwindow = \"1d\"\nduration = \"7d\"\n",
    );
    let mut text = String::new();
    text += &failures(0, 4, "203.0.113.1"); // 4 in the hour: below the postfix tier
    text += &failures(0, 5, "203.0.113.2"); // 5: postfix
    text += &failures(0, 8, "203.0.113.3"); // 8: postfix and firewall
    text += &failures(-3 * HOUR, 5, "203.0.113.4"); // 5, but outside the 1h window
    append(&rig.log, &text);
    let summary = rig.run_at(HOUR / 2);
    assert_eq!(
        summary["blocks_created"].as_array().unwrap().len(),
        3,
        "{summary}"
    );
    assert_eq!(
        rig.blocked(HOUR / 2),
        vec![
            pair("203.0.113.2/32", "postfix"),
            pair("203.0.113.3/32", "firewall"),
            pair("203.0.113.3/32", "postfix"),
        ]
    );
    assert_eq!(rig.map_keys(), ["203.0.113.2", "203.0.113.3"]);
    let block = rig
        .blocks(HOUR / 2, false)
        .into_iter()
        .find(|b| b["network"] == "203.0.113.2/32")
        .unwrap();
    assert_eq!(block["origin"], "policy");
    assert_eq!(block["failures"], 5);
    assert_eq!(block["expires_at"], at(HOUR / 2 + DAY));
    assert_eq!(block["ended_at"], Value::Null);
    assert!(
        block["reason"].as_str().unwrap().contains("5 failed"),
        "{block}"
    );
}

#[test]
fn repeat_offenders_get_escalating_blocks_and_expiry_follows_as_of() {
    let rig = Rig::new("");
    rig.set_sections(
        "[policy]\nescalation = 3.0\nmax_duration = \"5d\"\n\
         [[policy.tier]]\ntarget = \"postfix\"\nthreshold = 3\nwindow = \"1d\"\nduration = \"1h\"\n",
    );
    append(&rig.log, &failures(0, 3, "198.51.100.7"));
    rig.run_at(10);
    let first = &rig.blocks(10, false)[0];
    assert_eq!(first["expires_at"], at(10 + HOUR));
    // The same old failures do not block again once it expired ...
    rig.run_at(2 * HOUR);
    assert!(rig.blocked(2 * HOUR).is_empty());
    assert!(
        rig.map_keys().is_empty(),
        "expired entries disappear from the map"
    );
    let history = rig.blocks(2 * HOUR, true);
    assert_eq!(history[0]["end_reason"], "expired");
    assert_eq!(history[0]["ended_at"], at(10 + HOUR));
    // ... new ones do, three times longer; and the next time 9 h; then capped at 5 d.
    append(&rig.log, &failures(3 * HOUR, 3, "198.51.100.7"));
    rig.run_at(3 * HOUR + 10);
    assert_eq!(
        rig.blocks(3 * HOUR + 10, false)[0]["expires_at"],
        at(3 * HOUR + 10 + 3 * HOUR)
    );
    append(&rig.log, &failures(7 * HOUR, 3, "198.51.100.7"));
    rig.run_at(7 * HOUR + 10);
    assert_eq!(
        rig.blocks(7 * HOUR + 10, false)[0]["expires_at"],
        at(7 * HOUR + 10 + 9 * HOUR)
    );
    append(&rig.log, &failures(17 * HOUR, 3, "198.51.100.7"));
    append(&rig.log, &failures(17 * HOUR + 100, 3, "198.51.100.8"));
    rig.run_at(17 * HOUR + 200);
    let blocks = rig.blocks(17 * HOUR + 200, false);
    let seven = blocks
        .iter()
        .find(|b| b["network"] == "198.51.100.7/32")
        .unwrap();
    assert_eq!(seven["expires_at"], at(17 * HOUR + 200 + 27 * HOUR));
    // `expire` ends blocks whose time is over at --as-of, and only those.
    rig.ok(&["expire", "--as-of", &at(17 * HOUR + 200 + 2 * HOUR)]);
    let left = rig.blocked(17 * HOUR + 200 + 2 * HOUR);
    assert_eq!(left, vec![pair("198.51.100.7/32", "postfix")]);
}

#[test]
fn many_blocked_addresses_in_one_network_block_the_network() {
    let rig = Rig::new("");
    rig.set_sections(
        "[policy]\naggregate_min = 3\n\
         [[policy.tier]]\ntarget = \"postfix\"\nthreshold = 2\nwindow = \"1d\"\nduration = \"1d\"\n",
    );
    let mut text = String::new();
    for host in 1..=3 {
        text += &failures(host * 10, 2, &format!("203.0.113.{host}"));
    }
    text += &failures(100, 2, "198.51.100.1");
    text += &failures(100, 2, "198.51.100.2");
    append(&rig.log, &text);
    rig.run_at(HOUR);
    let blocked = rig.blocked(HOUR);
    assert!(
        blocked.contains(&pair("203.0.113.0/24", "postfix")),
        "{blocked:?}"
    );
    assert!(
        !blocked.contains(&pair("198.51.100.0/24", "postfix")),
        "only 2 there"
    );
    // The map holds the network instead of its addresses.
    assert_eq!(
        rig.map_keys(),
        ["198.51.100.1", "198.51.100.2", "203.0.113.0/24"]
    );
}

#[test]
fn ipv6_offenders_are_counted_and_blocked_per_64() {
    let rig = Rig::new("");
    rig.set_sections(
        "[[policy.tier]]\ntarget = \"postfix\"\nthreshold = 4\nwindow = \"1d\"\nduration = \"1d\"\n",
    );
    append(
        &rig.log,
        &(failures(0, 2, "2001:db8:5:6::1") + &failures(5, 2, "2001:db8:5:6:ffff::2")),
    );
    rig.run_at(HOUR);
    assert_eq!(
        rig.blocked(HOUR),
        vec![pair("2001:db8:5:6::/64", "postfix")]
    );
    assert_eq!(rig.map_keys(), ["2001:db8:5:6::/64"]);
}

#[test]
fn the_allowlist_wins_over_every_block_path() {
    let rig = Rig::new("");
    rig.set_sections(
        "[policy]\naggregate_min = 2\n\
         [[policy.tier]]\ntarget = \"postfix\"\nthreshold = 2\nwindow = \"1d\"\nduration = \"1d\"\n\
         [allow]\nloopback = false\nnetworks = [\"192.0.2.0/28\"]\n",
    );
    // Policy: an allowed address is never blocked, nor a network holding one.
    let text = failures(0, 5, "192.0.2.5")
        + &failures(0, 5, "192.0.2.200")
        + &failures(0, 5, "192.0.2.201");
    append(&rig.log, &text);
    rig.run_at(HOUR);
    assert_eq!(
        rig.blocked(HOUR),
        vec![
            pair("192.0.2.200/32", "postfix"),
            pair("192.0.2.201/32", "postfix")
        ],
        "no block of 192.0.2.5 nor of 192.0.2.0/24, which holds it"
    );
    // By hand: refused, for an allowed address and for a network holding one.
    for target in ["192.0.2.5", "192.0.2.0/24", "2001:db8::/32"] {
        let allow_v6 = target.contains(':');
        if allow_v6 {
            rig.ok(&["allow", "add", "2001:db8::1"]);
        }
        let output = rig.env.cmd().args(["block", target]).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{target}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("allowlisted"),
            "{target}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // Adding an allow entry ends the active blocks it covers.
    rig.ok(&[
        "allow",
        "add",
        "192.0.2.200",
        "--comment",
        "customer",
        "--as-of",
        &at(HOUR + 1),
    ]);
    assert_eq!(
        rig.blocked(HOUR + 1),
        vec![pair("192.0.2.201/32", "postfix")]
    );
    let ended = rig
        .blocks(HOUR + 1, true)
        .into_iter()
        .find(|b| b["network"] == "192.0.2.200/32")
        .unwrap();
    assert_eq!(ended["end_reason"], "allowlisted");
    rig.run_at(HOUR + 2);
    assert_eq!(rig.map_keys(), ["192.0.2.201"]);
    // The list shows config and stored entries.
    let output = rig
        .env
        .cmd()
        .args(["allow", "list", "--format", "json"])
        .output()
        .unwrap();
    let list: Value = serde_json::from_slice(&output.stdout).unwrap();
    let networks: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["network"].as_str().unwrap())
        .collect();
    assert_eq!(
        networks,
        ["192.0.2.0/28", "192.0.2.200/32", "2001:db8::1/128"]
    );
}

#[test]
fn unblock_is_not_undone_by_the_next_run_but_new_failures_count() {
    let rig = Rig::new("");
    rig.set_sections(
        "[[policy.tier]]\ntarget = \"postfix\"\nthreshold = 3\nwindow = \"7d\"\nduration = \"7d\"\n",
    );
    append(&rig.log, &failures(0, 10, "203.0.113.50"));
    rig.run_at(HOUR);
    assert_eq!(rig.map_keys(), ["203.0.113.50"]);
    rig.ok(&["unblock", "203.0.113.50", "--as-of", &at(HOUR + 1)]);
    rig.run_at(HOUR + 2);
    assert!(
        rig.blocked(HOUR + 2).is_empty(),
        "the old failures no longer count"
    );
    assert!(rig.map_keys().is_empty());
    let history = rig.blocks(HOUR + 2, true);
    assert_eq!(history[0]["end_reason"], "unblocked");
    assert_eq!(history[0]["ended_at"], at(HOUR + 1));
    // Two new failures: not enough; a third: blocked again.
    append(&rig.log, &failures(2 * HOUR, 2, "203.0.113.50"));
    rig.run_at(2 * HOUR + 10);
    assert!(rig.blocked(2 * HOUR + 10).is_empty());
    append(&rig.log, &failures(2 * HOUR + 5, 1, "203.0.113.50"));
    rig.run_at(2 * HOUR + 20);
    assert_eq!(
        rig.blocked(2 * HOUR + 20),
        vec![pair("203.0.113.50/32", "postfix")]
    );
}

#[test]
fn unblocking_a_network_ends_every_block_inside_it() {
    let rig = Rig::new("");
    for host in ["198.51.100.1", "198.51.100.2", "203.0.113.1"] {
        rig.ok(&["block", host, "--target", "postfix", "--as-of", &at(0)]);
    }
    rig.ok(&["unblock", "198.51.100.0/24", "--as-of", &at(1)]);
    assert_eq!(rig.blocked(2), vec![pair("203.0.113.1/32", "postfix")]);
}

#[test]
fn manual_blocks_have_a_duration_or_are_permanent_and_target_one_or_both() {
    let rig = Rig::new("");
    rig.ok(&[
        "block",
        "203.0.113.9",
        "--for",
        "2h",
        "--reason",
        "seen in abuse report",
        "--as-of",
        &at(0),
    ]);
    rig.ok(&[
        "block",
        "2001:db8:77::/48",
        "--permanent",
        "--target",
        "firewall",
        "--as-of",
        &at(0),
    ]);
    let blocks = rig.blocks(1, false);
    let nine: Vec<&Value> = blocks
        .iter()
        .filter(|b| b["network"] == "203.0.113.9/32")
        .collect();
    assert_eq!(nine.len(), 2, "both targets");
    assert_eq!(nine[0]["origin"], "manual");
    assert_eq!(nine[0]["reason"], "seen in abuse report");
    assert_eq!(nine[0]["expires_at"], at(2 * HOUR));
    let v6 = blocks
        .iter()
        .find(|b| b["network"] == "2001:db8:77::/48")
        .unwrap();
    assert_eq!(v6["expires_at"], Value::Null);
    assert_eq!(v6["target"], "firewall");
    for key in [
        "network",
        "target",
        "origin",
        "reason",
        "created_at",
        "expires_at",
        "ended_at",
        "end_reason",
    ] {
        assert!(v6.get(key).is_some(), "{key} missing");
    }
    assert_eq!(
        rig.blocked(3 * HOUR),
        vec![pair("2001:db8:77::/48", "firewall")]
    );
}

#[test]
fn rendering_twice_changes_no_byte_no_mtime_and_reloads_once() {
    let rig = Rig::new("");
    rig.ok(&["block", "203.0.113.9", "--as-of", &at(0)]);
    rig.ok(&["render", "--as-of", &at(1)]);
    assert!(rig.reloaded.exists(), "the reload command ran");
    let bytes = fs::read(&rig.map).unwrap();
    let before = common::stamp_identity(&rig.map);
    fs::remove_file(&rig.reloaded).unwrap();
    rig.ok(&["render", "--as-of", &at(2)]);
    rig.run_at(3);
    assert_eq!(fs::read(&rig.map).unwrap(), bytes);
    assert_eq!(common::identity(&rig.map), before, "the map was rewritten");
    assert!(!rig.reloaded.exists(), "no reload when nothing changed");
}

#[test]
fn run_dry_run_reads_no_logs() {
    let rig = Rig::new("");
    rig.set_sections(
        "[[policy.tier]]\ntarget = \"postfix\"\nthreshold = 2\nwindow = \"1d\"\nduration = \"1d\"\n",
    );
    // One failure stored; two more only in the log, which would reach the threshold.
    append(&rig.log, &failures(0, 1, "198.51.100.4"));
    rig.env.ingest(&[&rig.log]);
    append(&rig.log, &failures(5, 2, "198.51.100.4"));
    let output = rig.env.run_ok(&["run", "--dry-run", "--as-of", &at(10)]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.starts_with("run --dry-run (logs not read, nothing changed):"),
        "{text}"
    );
    assert!(
        !text.contains("would block"),
        "the log's new lines were read: {text}"
    );
    assert_eq!(rig.env.sql_count("SELECT count(*) FROM events"), 1);
    assert_eq!(
        rig.env.sql_count("SELECT \"offset\" FROM sources"),
        rig.env.sql_count("SELECT read_offset FROM streams"),
        "the stored position did not move"
    );
    // A real run reads them and blocks.
    rig.ok(&["run", "--as-of", &at(10)]);
    assert_eq!(rig.env.sql_count("SELECT count(*) FROM events"), 3);
    assert_eq!(rig.blocked(10), vec![pair("198.51.100.4/32", "postfix")]);
}

#[test]
fn dry_runs_change_nothing() {
    let rig = Rig::new("");
    rig.set_sections(
        "[[policy.tier]]\ntarget = \"postfix\"\nthreshold = 2\nwindow = \"1d\"\nduration = \"1d\"\n",
    );
    rig.ok(&["block", "203.0.113.9", "--as-of", &at(0)]);
    append(&rig.log, &failures(0, 3, "198.51.100.3"));
    rig.env.ingest(&[&rig.log]);
    let output = rig.env.run_ok(&["run", "--dry-run", "--as-of", &at(10)]);
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("would block 198.51.100.3/32"), "{text}");
    let output = rig
        .env
        .cmd()
        .args(["render", "--dry-run", "--as-of", &at(10)])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("+ 203.0.113.9/32"), "{text}");
    assert!(!rig.map.exists(), "nothing rendered");
    assert!(!rig.reloaded.exists());
    assert_eq!(
        rig.blocked(10),
        vec![
            pair("203.0.113.9/32", "firewall"),
            pair("203.0.113.9/32", "postfix")
        ],
        "only the manual block: the policy's would-be block was not stored"
    );
}

#[test]
fn too_many_entries_trip_the_safety_valve_and_only_additions_wait() {
    let rig = Rig::new("");
    rig.ok(&["block", "203.0.113.1", "--as-of", &at(0)]);
    rig.ok(&["render", "--as-of", &at(1)]);
    let before = fs::read(&rig.map).unwrap();
    rig.set_sections(&format!(
        "[postfix]\nmap = {:?}\nmax_entries = 2\nreload_command = []\n",
        rig.map.to_str().unwrap()
    ));
    for host in 2..=3 {
        rig.ok(&["block", &format!("203.0.113.{host}"), "--as-of", &at(2)]);
    }
    let output = rig
        .env
        .cmd()
        .args(["run", "--as-of", &at(3)])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("1 new entry held back by the safety valve postfix.max_entries = 2")
            && stderr.contains("(203.0.113.3/32)"),
        "{stderr}"
    );
    // What was rendered stays, additions up to the limit are made, the rest waits.
    let map = String::from_utf8(fs::read(&rig.map).unwrap()).unwrap();
    assert!(
        map.starts_with(&String::from_utf8(before).unwrap()),
        "{map}"
    );
    assert!(
        map.contains("203.0.113.2") && !map.contains("203.0.113.3"),
        "{map}"
    );
}

#[test]
fn status_shows_drift_and_run_repairs_it() {
    let rig = Rig::new("");
    rig.ok(&["block", "203.0.113.1", "--as-of", &at(0)]);
    rig.ok(&["block", "203.0.113.2", "--as-of", &at(0)]);
    rig.run_at(1);
    let status = |seconds| -> Value {
        let output = rig
            .env
            .cmd()
            .args(["status", "--format", "json", "--as-of", &at(seconds)])
            .output()
            .unwrap();
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        // The exit status says whether everything is in force (for monitoring).
        let in_sync = report["places"][0]["in_sync"] == true;
        assert_eq!(
            output.status.code(),
            Some(if in_sync { 0 } else { 1 }),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        report
    };
    assert_eq!(status(2)["places"][0]["in_sync"], true);
    // Someone edits the map by hand: one entry gone, one foreign entry added.
    let text = fs::read_to_string(&rig.map).unwrap();
    let edited: String = text
        .lines()
        .filter(|l| !l.starts_with("203.0.113.2"))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        + "198.51.100.99 REJECT\n";
    fs::write(&rig.map, edited).unwrap();
    let drift = status(3);
    assert_eq!(drift["places"][0]["in_sync"], false);
    assert_eq!(
        drift["places"][0]["missing"],
        serde_json::json!(["203.0.113.2/32"])
    );
    assert_eq!(
        drift["places"][0]["unexpected"],
        serde_json::json!(["198.51.100.99/32"])
    );
    rig.run_at(4);
    assert_eq!(status(5)["places"][0]["in_sync"], true);
    assert_eq!(rig.map_keys(), ["203.0.113.1", "203.0.113.2"]);
}

#[test]
fn bad_input_is_a_clear_error_that_changes_nothing() {
    let rig = Rig::new("");
    for (args, code, needle) in [
        (vec!["block", "999.1.2.3"], 2, "999.1.2.3"),
        (vec!["block", "203.0.113.0/33"], 2, "203.0.113.0/33"),
        (
            vec!["block", "203.0.113.7/24"],
            2,
            "did you mean 203.0.113.0/24",
        ),
        (
            vec!["block", "203.0.113.7", "--for", "7 fortnights"],
            2,
            "7 fortnights",
        ),
        (vec!["unblock", "not-an-address"], 2, "not-an-address"),
        (vec!["block", "0.0.0.0/0"], 1, "refusing"),
    ] {
        let output = rig.env.cmd().args(&args).output().unwrap();
        assert_eq!(output.status.code(), Some(code), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
    }
    assert!(!rig.env.db.exists() || rig.blocked(0).is_empty());

    // A map in a missing directory: error naming it, nothing rendered, no reload.
    rig.set_sections(&format!(
        "[postfix]\nmap = {:?}\nreload_command = [\"touch\", {:?}]\n",
        rig.env.path("no/such/dir/access").to_str().unwrap(),
        rig.reloaded.to_str().unwrap()
    ));
    rig.ok(&["block", "203.0.113.7", "--as-of", &at(0)]);
    let output = rig
        .env
        .cmd()
        .args(["render", "--as-of", &at(1)])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no/such/dir"));
    assert!(!rig.reloaded.exists());

    // A config with an unknown duration names the file.
    fs::write(
        &rig.env.config,
        "[policy]\nmax_duration = \"forever-ish\"\n",
    )
    .unwrap();
    let output = rig.env.cmd().args(["blocks"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("saslguard.toml") && stderr.contains("forever-ish"),
        "{stderr}"
    );
}

#[test]
fn prune_deletes_only_history_older_than_asked() {
    let rig = Rig::new("");
    for host in ["203.0.113.1", "203.0.113.2"] {
        rig.ok(&[
            "block",
            host,
            "--target",
            "postfix",
            "--for",
            "30d",
            "--as-of",
            &at(0),
        ]);
    }
    rig.ok(&["unblock", "203.0.113.1", "--as-of", &at(HOUR)]);
    // 100 days later: the ended block is younger than 180 days and stays.
    rig.ok(&["prune", "--older-than", "180d", "--as-of", &at(100 * DAY)]);
    assert_eq!(rig.blocks(100 * DAY, true).len(), 2);
    // 200 days later it goes; the other block ended when it expired at 30 days, which
    // is younger than 180 days: it stays.
    rig.ok(&["expire", "--as-of", &at(200 * DAY)]);
    rig.ok(&["prune", "--older-than", "180d", "--as-of", &at(200 * DAY)]);
    let left: Vec<String> = rig
        .blocks(200 * DAY, true)
        .iter()
        .map(|b| b["network"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(left, ["203.0.113.2/32"]);
}
