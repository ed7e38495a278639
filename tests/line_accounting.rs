//! Every real log line counted, and only trustworthy ones: each line that mentions a SASL
//! authentication failure from an smtpd process ends up counted (as an event of some
//! kind), unparsed or untrusted, never silently irrelevant; and `Invalid authentication
//! mechanism` failures are stored apart, shown by `top`, `show` and `report`, pruned
//! like every kind, and block only when the policy says so.

use crate::common;

use std::fs;
use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset, Utc};
use regex::Regex;
use saslguard::parse::{JournalTrust, LineParser, Parsed, TrustRule};

use common::*;

/// The process tag of a syslog-style line (RFC 3164, RFC 3339 or RFC 5424 header, with or
/// without BusyBox's `facility.priority`), or the SYSLOG_IDENTIFIER of a journal entry.
static PROCESS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"^(?:<\d{1,3}>)?(?:1 \S+ \S+ (?P<app>\S+) |(?:[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d|\d{4}-\d\d-\d\dT\S+) \S+ (?:[a-z0-9]+\.[a-z0-9]+ )?(?P<tag>[^\s\[]+)\[\d+\]:)|"SYSLOG_IDENTIFIER":"(?P<id>[^"]+)""#,
    )
    .unwrap()
});

/// Whether a raw fixture line was written by an smtpd process, by its own header.
fn from_smtpd(line: &str) -> bool {
    PROCESS.captures(line).is_some_and(|c| {
        ["app", "tag", "id"]
            .iter()
            .filter_map(|name| c.name(name))
            .any(|m| m.as_str().ends_with("/smtpd"))
    })
}

#[test]
fn no_smtpd_line_mentioning_a_failed_authentication_is_silently_irrelevant() {
    let commands = vec!["smtpd".to_string()];
    let executables = vec!["/usr/lib/postfix/sbin/smtpd".to_string()];
    let units = vec!["postfix@*.service".to_string()];
    let trust = JournalTrust {
        rule: Some(TrustRule {
            commands: &commands,
            executables: &executables,
            uids: &[107],
            units: &units,
        }),
    };
    let reference: DateTime<Utc> = "2026-11-27T12:00:00Z".parse().unwrap();
    let mut checked = 0;
    let mut entries: Vec<_> = fs::read_dir(fixtures().join("lines"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    entries.sort();
    assert_eq!(entries.len(), 15, "{entries:?}");
    for path in entries {
        let bytes = fs::read(&path).unwrap();
        let mut parser =
            LineParser::new(reference, FixedOffset::east_opt(0).unwrap()).with_trust(trust);
        for (number, line) in bytes.split(|&b| b == b'\n').enumerate() {
            let text = String::from_utf8_lossy(line);
            if !text.contains("authentication failed") || !from_smtpd(&text) {
                continue;
            }
            checked += 1;
            let parsed = parser.parse(line);
            assert!(
                !matches!(parsed, Parsed::Irrelevant),
                "{}:{}: an smtpd failure line was dropped as irrelevant: {text}",
                path.display(),
                number + 1
            );
        }
    }
    // The smtpd failure lines in the 15 fixtures: a fixture added or a line the loop
    // stopped seeing changes it.
    assert_eq!(checked, 164, "failure lines checked");
}

#[test]
fn the_process_test_tells_smtpd_from_look_alikes() {
    let cases = [
        ("Nov 26 10:00:00 mx postfix/smtpd[1]: warning: x", true),
        (
            "May 30 22:00:35 gr mail.warn postfix/smtps/smtpd[2]: x",
            true,
        ),
        ("2022-01-18T04:35:25.1 host postfix/smtps/smtpd[3]: x", true),
        (
            "<20>1 2026-11-27T17:51:00Z mx postfix/smtpd 1234 - - warning: x",
            true,
        ),
        (
            r#"{"SYSLOG_IDENTIFIER":"postfix/smtpd","MESSAGE":"x"}"#,
            true,
        ),
        (
            "Nov 26 10:00:00 mx logger[1]: postfix/smtpd[1]: warning: x",
            false,
        ),
        ("Nov 26 10:00:00 mx postfix/cleanup[1]: warning: x", false),
    ];
    for (line, want) in cases {
        assert_eq!(from_smtpd(line), want, "{line}");
    }
}

/// A log with `Invalid authentication mechanism` failures of 192.0.2.41 (as dma makes
/// them) and ordinary failures of 192.0.2.42, a day before `AS_OF`.
fn invalid_mechanism_log(env: &Env) -> std::path::PathBuf {
    let log = env.path("maillog");
    let mut text = String::new();
    for n in 0..3 {
        text += &format!(
            "2026-11-26T10:00:0{n}+00:00 mx postfix/smtpd[2431]: warning: dma.example[192.0.2.41]: SASL CRAM-MD5 authentication failed: Invalid authentication mechanism\n"
        );
        text += &format!(
            "2026-11-26T10:00:0{n}+00:00 mx postfix/smtpd[2432]: warning: unknown[192.0.2.42]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n"
        );
    }
    fs::write(&log, text).unwrap();
    log
}

const AS_OF: &str = "2026-11-27T12:00:00Z";

/// A config with a postfix tier at three failures, rendering to a map in `env`.
fn policy_config(env: &Env, log: &std::path::Path, extra: &str) {
    fs::write(
        &env.config,
        format!(
            "logs = [{log:?}]\n[postfix]\nmap = {:?}\nreload_command = []\n\
             [firewall]\nbackend = \"none\"\n\
             [policy]\n{extra}\n\
             [[policy.tier]]\ntarget = \"postfix\"\nthreshold = 3\nwindow = \"7d\"\nduration = \"7d\"\n",
            env.path("access")
        ),
    )
    .unwrap();
}

#[test]
fn invalid_mechanism_failures_are_stored_apart_and_shown() {
    let env = Env::new();
    let log = invalid_mechanism_log(&env);
    env.ingest(&[&log]);
    assert_eq!(
        env.sql_count("SELECT count(*) FROM events WHERE kind = 3"),
        3
    );
    // Not among the failed authentications ...
    let rows = env.top(&["--period", "all", "--as-of", AS_OF]);
    let ips: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ip"].as_str().unwrap())
        .collect();
    assert_eq!(ips, ["192.0.2.42"]);
    // ... but ranked on their own.
    let rows = env.top(&[
        "--period",
        "all",
        "--kind",
        "invalid-mechanism",
        "--as-of",
        AS_OF,
    ]);
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");
    assert_eq!(rows[0]["ip"], "192.0.2.41");
    assert_eq!(rows[0]["failures"], 3);
    let shown = env.json(&["show", "192.0.2.41", "--format", "json", "--as-of", AS_OF]);
    assert_eq!(shown["invalid_mechanism"], 3, "{shown}");
    assert_eq!(shown["failures"], 0, "{shown}");
    let table = env.run_ok(&["show", "192.0.2.41", "--as-of", AS_OF]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.contains("invalid mechanism"), "{table}");
    let report = env.json(&[
        "report", "--period", "7d", "--format", "json", "--as-of", AS_OF,
    ]);
    assert_eq!(report["current"]["invalid_mechanism"], 3, "{report}");
    assert_eq!(report["current"]["failures"], 3, "{report}");
}

#[test]
fn invalid_mechanism_failures_block_only_when_the_policy_says_so() {
    for (extra, blocked) in [
        ("", false),
        ("count_invalid_mechanism = false", false),
        ("count_invalid_mechanism = true", true),
    ] {
        let env = Env::new();
        let log = invalid_mechanism_log(&env);
        policy_config(&env, &log, extra);
        env.run_ok(&["run", "--as-of", AS_OF]);
        let map = fs::read_to_string(env.path("access")).unwrap_or_default();
        assert_eq!(map.contains("192.0.2.41"), blocked, "{extra:?}: {map}");
        assert!(map.contains("192.0.2.42"), "{extra:?}: {map}");
    }
}

#[test]
fn retention_prunes_every_kind() {
    let env = Env::new();
    let log = invalid_mechanism_log(&env);
    env.ingest(&[&log]);
    env.run_ok(&[
        "prune",
        "--older-than",
        "1d",
        "--as-of",
        "2026-12-27T12:00:00Z",
    ]);
    assert_eq!(env.sql_count("SELECT count(*) FROM events"), 0);
    assert_eq!(env.sql_count("SELECT count(*) FROM address_days"), 0);
    assert_eq!(env.sql_count("SELECT count(*) FROM hour_totals"), 0);
}
