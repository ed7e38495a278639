//! Small untruths fixed for good: what `top` and `report` print says exactly what is.

use crate::common;

use std::fs;

use common::{Env, failures};

/// 2026-11-27T00:00Z plus `hours`.
fn at(hours: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(1_795_737_600 + hours * 3600, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// 198.51.100.1 failed 5 times two days back (and 10 times an hour back); 203.0.113.2 and
/// 203.0.113.3 failed for the first time in the last day (3 and 2 times).
fn env_with_old_and_new_offenders() -> Env {
    let env = Env::new();
    let log = env.path("maillog");
    let mut text = failures(0, 5, "198.51.100.1");
    text.push_str(&failures(47 * 3600, 3, "203.0.113.2"));
    text.push_str(&failures(47 * 3600 + 100, 2, "203.0.113.3"));
    text.push_str(&failures(47 * 3600 + 200, 10, "198.51.100.1"));
    fs::write(&log, text).unwrap();
    env.ingest(&[&log]);
    env
}

#[test]
fn top_new_ranks_the_new_offenders_among_themselves() {
    // Among everyone in the last 24h, 198.51.100.1 (10) ranks first; it is not new.
    let env = env_with_old_and_new_offenders();
    let rows = env.top(&["--period", "24h", "--new", "--as-of", &at(48)]);
    let ranked: Vec<(&str, i64)> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["ip"].as_str().unwrap(), r["rank"].as_i64().unwrap()))
        .collect();
    assert_eq!(ranked, [("203.0.113.2", 1), ("203.0.113.3", 2)]);
}

#[test]
fn first_and_last_seen_are_those_of_the_first_period() {
    let env = env_with_old_and_new_offenders();
    let rows = env.top(&["--period", "24h,all", "--as-of", &at(48)]);
    let old = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ip"] == "198.51.100.1")
        .unwrap();
    // In the last 24h it failed from 47:03:20 to 47:03:29; its first failure ever is
    // at 00:00, two days earlier.
    assert_eq!(old["first_seen"], "2026-11-28T23:03:20Z");
    assert_eq!(old["last_seen"], "2026-11-28T23:03:29Z");
    let rows = env.top(&["--period", "1h,all", "--as-of", &at(24)]);
    assert_eq!(rows[0]["ip"], "198.51.100.1");
    assert!(
        rows[0]["first_seen"].is_null(),
        "no failure in the first period"
    );
}

#[test]
fn an_empty_ranking_names_its_period_in_words() {
    let env = Env::new();
    let log = env.path("maillog");
    fs::write(&log, "").unwrap();
    env.ingest(&[&log]);
    for (period, said) in [
        ("all", "no failed authentications ever\n"),
        ("24h", "no failed authentications in the last 24h\n"),
        ("24h,all", "no failed authentications ever\n"),
        ("1h,7d", "no failed authentications in the last 7d\n"),
    ] {
        let output = env.run_ok(&["top", "--period", period]);
        assert_eq!(String::from_utf8_lossy(&output.stdout), said, "{period}");
    }
}

#[test]
fn a_writing_command_under_as_of_says_it_changes_real_state() {
    let env = Env::new();
    let log = env.path("maillog");
    fs::write(&log, failures(0, 1, "203.0.113.7")).unwrap();
    let warning = "saslguard: warning: --as-of 2026-11-28T00:00:00Z: this command changes the \
                   real database (and map and firewall) as if now were then\n";
    let output = env.run_ok(&["ingest", log.to_str().unwrap(), "--as-of", &at(24)]);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(warning),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for reading in [
        &["top", "--as-of", &at(24)][..],
        &["prune", "--dry-run", "--as-of", &at(24)],
    ] {
        let output = env.run_ok(reading);
        assert!(output.stderr.is_empty(), "{reading:?}: {output:?}");
    }
}

/// A config for blocks by hand: a map, no reload, no firewall.
fn env_for_blocks() -> Env {
    let env = Env::new();
    fs::write(
        &env.config,
        format!(
            "[postfix]\nmap = {:?}\nreload_command = []\n[firewall]\nbackend = \"none\"\n",
            env.path("access").to_str().unwrap()
        ),
    )
    .unwrap();
    env
}

#[test]
fn a_block_must_last_longer_than_zero_and_at_most_ten_years() {
    let env = env_for_blocks();
    for (length, said) in [
        (
            "0",
            "\"0\" is no time at all: give a duration longer than zero, like 15m, 24h or 7d",
        ),
        (
            "100000000d",
            "\"100000000d\" is longer than 10 years: use --permanent for a block that never ends",
        ),
    ] {
        let output = env
            .cmd()
            .args(["block", "192.0.2.1", "--for", length])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{length}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(said), "{stderr}");
    }
    assert!(!env.db.exists(), "nothing was written");
}

#[test]
fn durations_are_explained_in_words() {
    let env = Env::new();
    for (value, said) in [
        (
            "abc",
            "\"abc\" is not a duration: write a number and a unit, like 15m, 24h or 7d",
        ),
        ("5", "\"5\" needs a unit: 5m, 5h or 5d?"),
        ("0s", "\"0s\" is no time at all"),
        ("1x", "\"1x\": unknown unit \"x\"; use s, m, h, d or w"),
    ] {
        let output = env.cmd().args(["top", "--period", value]).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(said), "{value}: {stderr}");
        assert!(!stderr.contains("expected number at"), "{stderr}");
    }
}

#[test]
fn a_second_block_of_the_same_network_extends_the_first_or_changes_nothing() {
    let env = env_for_blocks();
    let block = |length: &str| {
        env.run_ok(&[
            "block",
            "192.0.2.2",
            "--target",
            "postfix",
            "--for",
            length,
            "--as-of",
            &at(0),
        ])
    };
    block("2d");
    let shorter = block("1d");
    assert!(
        String::from_utf8_lossy(&shorter.stderr).contains(
            "192.0.2.2/32 (postfix) is already blocked until 2026-11-29T00:00:00Z: nothing changed"
        ),
        "{shorter:?}"
    );
    block("3d");
    let active = env.json(&["blocks", "--format", "json", "--as-of", &at(1)]);
    let active = active.as_array().unwrap();
    assert_eq!(active.len(), 1, "one active block: {active:?}");
    assert_eq!(active[0]["expires_at"], "2026-11-30T00:00:00Z");
    assert!(
        active[0]["reason"]
            .as_str()
            .unwrap()
            .contains("extended by hand at 2026-11-27T00:00:00Z"),
        "{active:?}"
    );
}

#[test]
fn max_duration_caps_every_policy_block_and_a_longer_tier_is_refused() {
    let env = Env::new();
    fs::write(
        &env.config,
        "[policy]\nmax_duration = \"30d\"\n[[policy.tier]]\ntarget = \"postfix\"\n\
         threshold = 5\nwindow = \"1d\"\nduration = \"60d\"\n",
    )
    .unwrap();
    let output = env.cmd().args(["config", "check"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("policy.tier 1: duration 60d is longer than policy.max_duration (30d)"),
        "{stderr}"
    );
}

#[test]
fn allow_add_says_the_map_changes_at_the_next_render() {
    let env = env_for_blocks();
    env.run_ok(&["block", "192.0.2.3", "--target", "postfix"]);
    let output = env.run_ok(&["allow", "add", "192.0.2.3"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr
            .contains("`saslguard render` or the next run takes them out of the map and firewall"),
        "{stderr}"
    );
}

#[test]
fn a_firewall_name_no_backend_can_use_is_a_config_error() {
    let env = Env::new();
    for name in ["a b;c", "this-name-is-far-too-long-for-ipset", "INPUT", ""] {
        fs::write(&env.config, format!("[firewall]\nname = {name:?}\n")).unwrap();
        let output = env.cmd().args(["config", "check"]).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{name:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("firewall.name"), "{name:?}: {stderr}");
    }
}

#[test]
fn allowing_more_than_block_would_accept_needs_force() {
    let env = env_for_blocks();
    env.run_ok(&["block", "192.0.2.4", "--target", "postfix"]);
    for wide in ["0.0.0.0/0", "::/0", "128.0.0.0/1", "2000::/3"] {
        let output = env.cmd().args(["allow", "add", wide]).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{wide}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("add --force if that is meant"), "{stderr}");
    }
    assert_eq!(
        env.sql_count("SELECT count(*) FROM blocks WHERE ended_at IS NULL"),
        1,
        "no block was ended"
    );
    env.run_ok(&["allow", "add", "0.0.0.0/0", "--force"]);
    assert_eq!(
        env.sql_count("SELECT count(*) FROM blocks WHERE ended_at IS NULL"),
        0
    );
}

#[test]
fn config_values_that_would_quietly_disable_protection_are_errors() {
    let env = Env::new();
    for (text, said) in [
        (
            "[postfix]\nreload_command = [\"postfix reload\"]\n",
            "did you mean [\"postfix\", \"reload\"]?",
        ),
        ("[postfix]\nmap = \"\"\n", "postfix.map is empty"),
        (
            "[postfix]\nmap = \"/etc/postfix/my access\"\n",
            "holds a blank or comma",
        ),
        (
            "[[policy.tier]]\ntarget = \"postfix\"\nthreshold = 5\nwindow = \"99999999d\"\n\
             duration = \"1d\"\n",
            "window 99999999d is longer than 10 years",
        ),
        ("[postfix]\nmax_entries = 0\n", "postfix.max_entries = 0"),
        ("[firewall]\nmax_entries = 0\n", "firewall.max_entries = 0"),
    ] {
        fs::write(&env.config, text).unwrap();
        let output = env.cmd().args(["config", "check"]).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{text}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(said), "{text}: {stderr}");
    }
}

#[test]
fn status_says_a_run_recorded_as_running_was_killed_when_nobody_holds_the_lock() {
    let env = env_for_blocks();
    env.run_ok(&["block", "192.0.2.5", "--target", "postfix"]);
    env.run_ok(&["render"]);
    fs::write(env.path("maillog"), "").unwrap();
    // A run that died after recording its start: its row still says running.
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    conn.execute(
        "INSERT INTO runs (command, started_at) VALUES ('run', 1795737600)",
        [],
    )
    .unwrap();
    drop(conn);
    let output = env.cmd().arg("status").output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        text.contains(
            "last run: 2026-11-27T00:00:00Z .. (did not finish: no saslguard holds the lock, \
             so it was killed or crashed; the next run resumes)"
        ),
        "{text}"
    );
}
