//! End to end against a real Postfix and Dovecot (see `rig`): swaks fails to
//! authenticate, Postfix logs it, `saslguard run` reads that log, blocks the attacker
//! in the access map and reloads Postfix, and the attacker is then refused before it
//! can try AUTH again, while everyone else still logs in. Covers cidr and hash maps,
//! IPv6 clients named through XCLIENT, unblock, manual blocks with expiry, and a log
//! rotated while Postfix keeps writing.
//!
//! Each test starts its own rig (own port, directory and client addresses), so they
//! run in parallel. They need root, postfix, postfix's postmap, dovecot-core and
//! swaks; without them they skip, except under `CI=true`, where they fail.

use crate::rig;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use rig::{Attempt, Rig, SmtpResult};
use serde_json::Value;

/// How long to wait for Postfix to log what swaks did.
const LOG_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a map change may take to reach every smtpd process after a reload.
const RELOAD_TIMEOUT: Duration = Duration::from_secs(15);
/// What saslguard writes into the map by default.
const REJECT_CODE: u16 = 554;

/// saslguard configured for one rig: its log, its map, its reload command, no
/// firewall, loopback clients not allowlisted, and one tier (50 failures in 7 days:
/// postfix map for 7 days). The config and database live in the rig's directory.
struct Saslguard<'a> {
    rig: &'a Rig,
    config: PathBuf,
    db: PathBuf,
}

impl<'a> Saslguard<'a> {
    /// Writes the config; `policy` goes into its `[policy]` table.
    fn new(rig: &'a Rig, policy: &str) -> Saslguard<'a> {
        let config = rig.dir().join("saslguard.toml");
        let db = rig.dir().join("saslguard.db");
        let text = format!(
            "logs = [{log:?}]\n\
             database = {db:?}\n\
             timezone = \"UTC\"\n\
             \n\
             [postfix]\n\
             map = {map:?}\n\
             map_type = \"{map_type}\"\n\
             reload_command = {reload}\n\
             postmap_command = {postmap:?}\n\
             \n\
             [firewall]\n\
             backend = \"none\"\n\
             \n\
             [allow]\n\
             loopback = false\n\
             \n\
             [policy]\n\
             {policy}\n\
             \n\
             [[policy.tier]]\n\
             target = \"postfix\"\n\
             threshold = 50\n\
             window = \"7d\"\n\
             duration = \"7d\"\n",
            log = rig.log_path().to_str().unwrap(),
            db = db.to_str().unwrap(),
            map = rig.map_path().to_str().unwrap(),
            map_type = rig.map_type(),
            reload = serde_json::to_string(&rig.reload_command()).unwrap(),
            postmap = rig.postmap_program().to_str().unwrap(),
        );
        fs::write(&config, text).expect("write saslguard.toml");
        Saslguard { rig, config, db }
    }

    /// The real binary with this config and database. `MAIL_CONFIG` points postmap
    /// (run by saslguard for hash maps) at the rig's main.cf: the machine may have none.
    fn cmd(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_saslguard"));
        cmd.env_remove("SASLGUARD_DB")
            .env_remove("SASLGUARD_CONFIG")
            .env("TZ", "UTC")
            .env("MAIL_CONFIG", self.rig.config_dir())
            .arg("--db")
            .arg(&self.db)
            .arg("--config")
            .arg(&self.config);
        cmd
    }

    /// Runs saslguard with `args`; panics unless it exits 0; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let output = self.cmd().args(args).output().expect("run saslguard");
        assert!(
            output.status.success(),
            "saslguard {args:?} failed ({}): {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr),
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8(output.stdout).expect("utf-8 output")
    }

    /// `run --format json`, parsed.
    fn run(&self) -> Value {
        serde_json::from_str(&self.ok(&["run", "--format", "json"])).expect("run JSON")
    }

    /// Failures per address over all time, from `top --period all --format json`.
    fn counts(&self) -> BTreeMap<String, i64> {
        let text = self.ok(&["top", "--period", "all", "--limit", "0", "--format", "json"]);
        let rows: Value = serde_json::from_str(&text).expect("top JSON");
        rows.as_array()
            .expect("top: an array")
            .iter()
            .map(|row| {
                (
                    row["ip"].as_str().expect("ip").to_string(),
                    row["failures"].as_i64().expect("failures"),
                )
            })
            .collect()
    }
}

/// The keys of a map source file (first word of each entry line).
fn map_keys(map: &Path) -> Vec<String> {
    fs::read_to_string(map)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

/// `n` wrong-password attempts from `source`, LOGIN and PLAIN alternating.
fn wrong_attempts(source: &str, xclient: Option<&str>, n: usize) -> Vec<Attempt> {
    (0..n)
        .map(|i| {
            let attempt = Attempt::wrong(source, if i % 2 == 0 { "LOGIN" } else { "PLAIN" });
            match xclient {
                Some(addr) => attempt.via_xclient(addr),
                None => attempt,
            }
        })
        .collect()
}

/// Asserts that every result is a refused AUTH (535), not a refused client.
fn assert_auth_failed(results: &[SmtpResult]) {
    for result in results {
        assert!(
            !result.authenticated && result.first_error == Some(535),
            "expected 535 for a wrong password: {}",
            result.transcript
        );
    }
}

/// Retries a correct login until the client is refused; asserts it was, before AUTH.
fn assert_refused(rig: &Rig, attempt: Attempt) {
    let result = rig.attempt_until(&attempt, RELOAD_TIMEOUT, |r| r.first_error.is_some());
    assert!(
        !result.authenticated && result.first_error == Some(REJECT_CODE),
        "{attempt:?} should be refused with {REJECT_CODE}: {}",
        result.transcript
    );
    assert!(
        !result.transcript.contains("-> AUTH"),
        "refused before AUTH: {}",
        result.transcript
    );
}

/// Retries a correct login until it succeeds; asserts it did.
fn assert_logs_in(rig: &Rig, attempt: Attempt) {
    let result = rig.attempt_until(&attempt, RELOAD_TIMEOUT, |r| r.authenticated);
    assert!(
        result.authenticated && result.first_error.is_none(),
        "{attempt:?} should authenticate: {}",
        result.transcript
    );
}

/// Now plus `seconds`, as `--as-of` text.
fn from_now(seconds: i64) -> String {
    (Utc::now() + chrono::Duration::seconds(seconds)).to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[test]
fn cidr_rig_blocks_the_attacker_and_unblock_lets_it_back() {
    let Some(rig) = Rig::start("cidr_rig_blocks", "cidr") else {
        return;
    };
    let guard = Saslguard::new(&rig, "");

    let mut attempts = wrong_attempts("127.0.0.2", None, 60);
    attempts.extend(wrong_attempts("127.0.0.3", None, 2));
    attempts.push(Attempt::wrong("127.0.0.3", "LOGIN").with_user("mallory"));
    attempts.push(Attempt::correct("127.0.0.4", "PLAIN"));
    let results = rig.swaks_all(&attempts);
    assert_auth_failed(&results[..63]);
    assert!(results[63].authenticated, "{}", results[63].transcript);

    assert_eq!(
        rig.wait_for_failures(63, LOG_TIMEOUT),
        63,
        "Postfix logged every failure"
    );
    let logged = rig.logged_failures();
    assert_eq!(
        logged,
        BTreeMap::from([("127.0.0.2".to_string(), 60), ("127.0.0.3".to_string(), 3)])
    );

    let summary = guard.run();
    assert_eq!(summary["ingest"]["events"], 63, "{summary}");
    assert_eq!(summary["ingest"]["unparsed"], 0, "{summary}");
    assert_eq!(
        summary["blocks_created"].as_array().unwrap().len(),
        1,
        "{summary}"
    );
    assert_eq!(map_keys(&rig.map_path()), ["127.0.0.2"]);
    assert_eq!(guard.counts(), logged, "top agrees with Postfix's log");

    // The attacker is turned away at connect; the others still log in.
    assert_refused(&rig, Attempt::correct("127.0.0.2", "LOGIN"));
    let refusals = rig.wait_for_log_lines(
        |l| l.contains("NOQUEUE: reject: CONNECT from unknown[127.0.0.2]: 554 5.7.1"),
        1,
        LOG_TIMEOUT,
    );
    assert!(refusals >= 1, "Postfix logged the refusal");
    assert_logs_in(&rig, Attempt::correct("127.0.0.3", "PLAIN"));
    assert_logs_in(&rig, Attempt::correct("127.0.0.4", "LOGIN"));

    // Refused connections are no failures: the next run stores only the refusals, and
    // the report gives them to the block whose map entry refused them.
    let summary = guard.run();
    assert_eq!(summary["ingest"]["events"], refusals as i64, "{summary}");
    assert_eq!(guard.counts(), logged);
    let report: Value =
        serde_json::from_str(&guard.ok(&["report", "--period", "24h", "--format", "json"]))
            .expect("report JSON");
    assert_eq!(report["efficacy"]["rejected"], refusals as i64, "{report}");
    assert_eq!(report["efficacy"]["unattributed"], 0, "{report}");
    let block = report["block_timeline"]
        .as_array()
        .expect("block timeline")
        .iter()
        .find(|b| b["network"] == "127.0.0.2/32" && b["target"] == "postfix")
        .expect("the attacker's block in the timeline")
        .clone();
    assert_eq!(block["rejected"], refusals as i64, "{report}");

    // Unblock: the map is rewritten, Postfix reloaded, the address logs in again.
    guard.ok(&["unblock", "127.0.0.2"]);
    guard.run();
    assert!(map_keys(&rig.map_path()).is_empty());
    assert_logs_in(&rig, Attempt::correct("127.0.0.2", "PLAIN"));

    // A manual one-minute block is enforced, and gone once expired.
    guard.ok(&["block", "127.0.0.9", "--for", "1m", "--target", "postfix"]);
    guard.ok(&["render"]);
    assert_eq!(map_keys(&rig.map_path()), ["127.0.0.9"]);
    assert_refused(&rig, Attempt::correct("127.0.0.9", "LOGIN"));
    let later = from_now(120);
    guard.ok(&["expire", "--as-of", &later]);
    guard.ok(&["render", "--as-of", &later]);
    assert!(map_keys(&rig.map_path()).is_empty());
    assert_logs_in(&rig, Attempt::correct("127.0.0.9", "LOGIN"));
    assert_eq!(guard.counts(), logged, "no failure was added by the checks");
}

#[test]
fn hash_map_and_ipv6_clients_through_xclient() {
    let Some(rig) = Rig::start("hash_map_ipv6", "hash") else {
        return;
    };
    // Count and block IPv6 per address (/128) here: the /64 forms have their own test.
    let guard = Saslguard::new(&rig, "ipv6_prefix = 128");

    let mut attempts = wrong_attempts("127.0.0.5", Some("2001:db8::66"), 55);
    attempts.extend(wrong_attempts("127.0.0.5", Some("2001:db8::67"), 3));
    let results = rig.swaks_all(&attempts);
    assert_auth_failed(&results);

    assert_eq!(rig.wait_for_failures(58, LOG_TIMEOUT), 58);
    let logged = rig.logged_failures();
    assert_eq!(
        logged,
        BTreeMap::from([
            ("2001:db8::66".to_string(), 55),
            ("2001:db8::67".to_string(), 3)
        ]),
        "Postfix logs the XCLIENT address, compressed"
    );

    let summary = guard.run();
    assert_eq!(summary["ingest"]["events"], 58, "{summary}");
    assert_eq!(summary["ingest"]["unparsed"], 0, "{summary}");
    assert_eq!(guard.counts(), logged, "top agrees with Postfix's log");
    assert_eq!(map_keys(&rig.map_path()), ["2001:db8::66"]);

    // The compiled map answers what smtpd will ask.
    let query = Command::new(rig.postmap_program())
        .arg("-c")
        .arg(rig.config_dir())
        .arg("-q")
        .arg("2001:db8::66")
        .arg(format!("hash:{}", rig.map_path().display()))
        .output()
        .expect("postmap -q");
    assert!(
        String::from_utf8_lossy(&query.stdout).starts_with("554 5.7.1"),
        "postmap -q: {query:?}"
    );

    assert_refused(
        &rig,
        Attempt::correct("127.0.0.5", "PLAIN").via_xclient("2001:db8::66"),
    );
    assert_logs_in(
        &rig,
        Attempt::correct("127.0.0.5", "PLAIN").via_xclient("2001:db8::67"),
    );
    assert_logs_in(&rig, Attempt::correct("127.0.0.5", "LOGIN"));
    assert_eq!(guard.counts(), logged);
}

/// The IPv6 prefix keys saslguard writes into exact-match tables (hash, lmdb,
/// texthash) are what smtpd really matches: it looks up the client's compressed
/// address text, then drops the last `:component` again and again. Each key form is
/// proven with `postmap -q` and with real clients (XCLIENT) inside and outside each
/// network: groups written out (`2001:db8:1:2`, `2001:db8:0:7` with a single zero
/// group, which is never compressed); and, for hash and lmdb, /64s ending in two or one
/// zero groups: the groups written out (`2001:db8:0:0`, matched when smtpd's text
/// writes them out) and the companion key for the compressed text (`2001:db8:`).
/// texthash cannot take the companion key (every smtpd would warn about it), so there
/// those networks are left out and named, and their clients are not refused.
#[test]
fn exact_match_maps_hold_the_ipv6_prefixes_smtpd_matches() {
    for map_type in ["hash", "lmdb", "texthash"] {
        let Some(rig) = Rig::start(&format!("ipv6_prefix_keys_{map_type}"), map_type) else {
            return;
        };
        let guard = Saslguard::new(&rig, "");
        let trailing_zeros = ["2001:db8::/64", "2001:db8:7::/64"];
        for network in ["2001:db8:1:2::/64", "2001:db8:0:7::/64", "198.51.100.0/24"]
            .iter()
            .chain(&trailing_zeros)
        {
            guard.ok(&["block", network, "--target", "postfix"]);
        }
        let render = guard.cmd().arg("render").output().expect("render");
        let mut keys = vec!["198.51.100", "2001:db8:0:7", "2001:db8:1:2"];
        if map_type == "texthash" {
            assert_eq!(render.status.code(), Some(1));
            let stderr = String::from_utf8_lossy(&render.stderr);
            for network in trailing_zeros {
                assert!(stderr.contains(network), "{stderr}");
            }
        } else {
            assert!(render.status.success(), "{render:?}");
            keys.splice(1..1, ["2001:db8:0:0", "2001:db8:"]);
            keys.extend(["2001:db8:7:0", "2001:db8:7:"]);
        }
        assert_eq!(map_keys(&rig.map_path()), keys, "{map_type}");
        for key in keys {
            let query = Command::new(rig.postmap_program())
                .arg("-c")
                .arg(rig.config_dir())
                .arg("-q")
                .arg(key)
                .arg(format!("{map_type}:{}", rig.map_path().display()))
                .output()
                .expect("postmap -q");
            assert!(
                String::from_utf8_lossy(&query.stdout).starts_with("554 5.7.1"),
                "{map_type}: postmap -q {key}: {query:?}"
            );
        }

        // Each address's text and the key it reaches.
        let mut inside = vec![
            "2001:db8:1:2::5",      // 2001:db8:1:2
            "2001:db8:1:2:a:b:c:d", // 2001:db8:1:2
            "2001:db8:1:2::",       // 2001:db8:1:2
            "2001:db8:0:7::5",      // 2001:db8:0:7
            "2001:db8:0:7:1:2:3:4", // 2001:db8:0:7
            "198.51.100.7",
        ];
        let mut outside = vec![
            "2001:db8:1:3::5",
            "2001:db8:1::5",
            "2001:db8:0:1::5",
            "2001:db8:0:8::5",
            "2001:db8:0:70::5",
            "2001:db8:7:1::9",
            "2001:db8:70::9",
            "2001:db9::66",
            "198.51.101.7",
        ];
        let in_trailing_zeros = [
            "2001:db8::66",         // 2001:db8:
            "2001:db8::1:2:3:4",    // 2001:db8:
            "2001:db8:0:0:1::",     // 2001:db8:0:0 (the longer run is compressed)
            "2001:db8:7::9",        // 2001:db8:7:
            "2001:db8:7:0:1:2:3:4", // 2001:db8:7:0 (a single zero group stays)
            "2001:db8:7:0:1::",     // 2001:db8:7:0
        ];
        if map_type == "texthash" {
            outside.extend(in_trailing_zeros);
        } else {
            inside.extend(in_trailing_zeros);
        }
        for client in inside {
            assert_refused(
                &rig,
                Attempt::correct("127.0.0.5", "PLAIN").via_xclient(client),
            );
        }
        for client in outside {
            assert_logs_in(
                &rig,
                Attempt::correct("127.0.0.5", "PLAIN").via_xclient(client),
            );
        }
    }
}

#[test]
fn rotation_in_the_middle_loses_no_event() {
    let Some(rig) = Rig::start("rotation", "cidr") else {
        return;
    };
    let guard = Saslguard::new(&rig, "");
    let source = "127.0.0.7";

    assert_auth_failed(&rig.swaks_all(&wrong_attempts(source, None, 20)));
    assert_eq!(rig.wait_for_failures(20, LOG_TIMEOUT), 20);
    let summary = guard.run();
    assert_eq!(summary["ingest"]["events"], 20, "{summary}");

    // 10 more, then the log is renamed away and Postfix reloaded (postlogd reopens
    // the name), then 15 more: some land in the old file, most in the new one.
    assert_auth_failed(&rig.swaks_all(&wrong_attempts(source, None, 10)));
    assert_eq!(rig.wait_for_failures(30, LOG_TIMEOUT), 30);
    let rotated = rig.dir().join("maillog.1");
    fs::rename(rig.log_path(), &rotated).expect("rotate the log");
    rig.reload();
    assert_auth_failed(&rig.swaks_all(&wrong_attempts(source, None, 15)));
    assert_eq!(rig.wait_for_failures(45, LOG_TIMEOUT), 45);
    let in_new_file = fs::read_to_string(rig.log_path())
        .expect("Postfix wrote a new log after the reload")
        .lines()
        .filter(|l| rig::is_sasl_failure(l).is_some())
        .count();
    assert!(in_new_file > 0, "the new log holds failures");

    let summary = guard.run();
    assert_eq!(summary["ingest"]["events"], 25, "{summary}");
    assert_eq!(summary["ingest"]["unparsed"], 0, "{summary}");
    assert_eq!(
        guard.counts(),
        BTreeMap::from([(source.to_string(), 45)]),
        "every failure of both files, none twice"
    );

    // Postfix's own rotation: `postfix logrotate` renames the log to
    // maillog.YYYYMMDD-HHMMSS, reloads, and gzips it a second later. The 2 failures
    // logged before it are only in the .gz by the next run.
    assert_auth_failed(&rig.swaks_all(&wrong_attempts(source, None, 2)));
    assert_eq!(rig.wait_for_failures(47, LOG_TIMEOUT), 47);
    rig.logrotate();
    let compressed: Vec<PathBuf> = rig
        .log_files()
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "gz"))
        .collect();
    assert_eq!(compressed.len(), 1, "{:?}", rig.log_files());
    assert_auth_failed(&rig.swaks_all(&wrong_attempts(source, None, 2)));
    assert_eq!(rig.wait_for_failures(49, LOG_TIMEOUT), 49);
    assert!(rig.log_path().exists(), "Postfix wrote a new log");

    let summary = guard.run();
    assert_eq!(summary["ingest"]["events"], 4, "{summary}");
    assert_eq!(summary["ingest"]["unparsed"], 0, "{summary}");
    assert_eq!(
        guard.counts(),
        BTreeMap::from([(source.to_string(), 49)]),
        "the tail of the gzipped log too"
    );
    assert_eq!(guard.counts(), rig.logged_failures());
}

/// With Postfix's own `maillog_file` (and `postfix logrotate`), the log does not exist
/// between a rotation and the next line Postfix logs, which on a quiet server can be a
/// long time. A run in that window should read the rotated file's unread tail and go
/// on expiring and rendering.
#[test]
fn run_between_a_rotation_and_the_next_logged_line_succeeds() {
    let Some(rig) = Rig::start("quiet_rotation", "cidr") else {
        return;
    };
    let guard = Saslguard::new(&rig, "");
    let source = "127.0.0.8";
    assert_auth_failed(&rig.swaks_all(&wrong_attempts(source, None, 10)));
    assert_eq!(rig.wait_for_failures(10, LOG_TIMEOUT), 10);
    guard.run();
    assert_auth_failed(&rig.swaks_all(&wrong_attempts(source, None, 5)));
    assert_eq!(rig.wait_for_failures(15, LOG_TIMEOUT), 15);
    // Renamed away; nothing has been logged since, so there is no new maillog yet.
    fs::rename(rig.log_path(), rig.dir().join("maillog.1")).expect("rotate the log");

    let summary = guard.run();
    assert_eq!(summary["ingest"]["events"], 5, "{summary}");
    assert_eq!(guard.counts(), BTreeMap::from([(source.to_string(), 15)]));
}
