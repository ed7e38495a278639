//! `saslguard show`: everything about one address or network, checked number by number
//! against a small log whose truth is written out below, and against the generator's
//! truth on a larger log.

use crate::common;

use common::Env;
use serde_json::{Value, json};

/// The report's moment: a Saturday noon. The 30 days shown are 2026-10-30 ..= 2026-11-28.
const AS_OF: &str = "2026-11-28T12:00:00Z";

/// One failure line in RFC 3339 format: `user` None logs no `sasl_username=`.
fn failure(time: &str, service: &str, ip: &str, mechanism: &str, user: Option<&str>) -> String {
    let user = user.map_or(String::new(), |u| format!(", sasl_username={u}"));
    format!(
        "{time} mx {service}[4242]: warning: unknown[{ip}]: SASL {mechanism} authentication failed: \
         authentication failure{user}\n"
    )
}

/// A server-side fault line: stored, never counted.
fn fault(time: &str, ip: &str) -> String {
    format!(
        "{time} mx postfix/smtpd[4242]: warning: unknown[{ip}]: SASL LOGIN authentication failed: \
         Connection lost to authentication server\n"
    )
}

const SMTPD: &str = "postfix/smtpd";
const SUBMISSION: &str = "postfix/submission/smtpd";
const SMTPS: &str = "postfix/smtps/smtpd";

/// The log, and what is true about it up to [`AS_OF`]:
///
/// 203.0.113.7: 7 counted failures (one more after AS_OF, one fault)
///   - 2026-10-29 (before the 30 days): LOGIN alice smtpd
///   - 2026-11-01: PLAIN alice smtpd
///   - 2026-11-26: 2 x login, no username, smtps
///   - 2026-11-27: a server fault
///   - 2026-11-28: 2 x LOGIN alice smtpd, PLAIN bob submission
///   - 2026-11-29 (after AS_OF): LOGIN alice smtpd
///
/// 203.0.113.9: 2026-11-27 4 x PLAIN carol submission.
/// 198.51.100.20: 2026-11-28 5 x LOGIN root smtpd.
/// 2001:db8::5: 2026-11-20 and 2026-11-28, LOGIN alice smtps.
fn log_text() -> String {
    let alice = Some("alice@example.com");
    let mut text = String::new();
    text += &failure("2026-10-29T08:00:00Z", SMTPD, "203.0.113.7", "LOGIN", alice);
    text += &failure("2026-11-01T09:00:00Z", SMTPD, "203.0.113.7", "PLAIN", alice);
    text += &failure("2026-11-20T12:00:00Z", SMTPS, "2001:db8::5", "LOGIN", alice);
    text += &failure("2026-11-26T10:00:00Z", SMTPS, "203.0.113.7", "login", None);
    text += &failure("2026-11-26T10:00:05Z", SMTPS, "203.0.113.7", "login", None);
    text += &fault("2026-11-27T11:00:00Z", "203.0.113.7");
    for s in 0..4 {
        let time = format!("2026-11-27T15:00:0{s}Z");
        text += &failure(
            &time,
            SUBMISSION,
            "203.0.113.9",
            "PLAIN",
            Some("carol@example.com"),
        );
    }
    text += &failure("2026-11-28T06:00:00Z", SMTPD, "203.0.113.7", "LOGIN", alice);
    text += &failure("2026-11-28T06:00:10Z", SMTPD, "203.0.113.7", "LOGIN", alice);
    text += &failure(
        "2026-11-28T07:00:00Z",
        SUBMISSION,
        "203.0.113.7",
        "PLAIN",
        Some("bob@example.com"),
    );
    for s in 0..5 {
        let time = format!("2026-11-28T09:00:0{s}Z");
        text += &failure(&time, SMTPD, "198.51.100.20", "LOGIN", Some("root"));
    }
    text += &failure("2026-11-28T10:00:00Z", SMTPS, "2001:db8::5", "LOGIN", alice);
    text += &failure("2026-11-29T00:00:00Z", SMTPD, "203.0.113.7", "LOGIN", alice);
    text
}

fn setup() -> Env {
    let env = Env::new();
    let log = env.path("maillog");
    std::fs::write(&log, log_text()).unwrap();
    let summary = env.ingest(&[&log]);
    assert_eq!(summary["events"], 20, "{summary}");
    assert_eq!(summary["unparsed"], 0, "{summary}");
    env
}

/// `show --format json` with `args` (at [`AS_OF`] unless they say otherwise), parsed.
fn show(env: &Env, args: &[&str]) -> Value {
    let mut cmd = env.cmd();
    cmd.args(["show", "--format", "json"]).args(args);
    if !args.contains(&"--as-of") {
        cmd.args(["--as-of", AS_OF]);
    }
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "show failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("show output is JSON")
}

/// The 30 dates ending at AS_OF's date with `nonzero` counts, zeros elsewhere.
fn days(nonzero: &[(&str, i64)]) -> Value {
    let first = chrono::NaiveDate::from_ymd_opt(2026, 10, 30).unwrap();
    let days: Vec<Value> = first
        .iter_days()
        .take(30)
        .map(|day| {
            let date = day.format("%Y-%m-%d").to_string();
            let failures = nonzero
                .iter()
                .find(|(d, _)| *d == date)
                .map_or(0, |(_, n)| *n);
            json!({"date": date, "failures": failures})
        })
        .collect();
    assert_eq!(days.last().unwrap()["date"], "2026-11-28");
    Value::Array(days)
}

#[test]
fn an_address_shows_every_count_by_day_username_mechanism_and_service() {
    let env = setup();
    let report = show(&env, &["203.0.113.7"]);
    assert_eq!(report["ip"], "203.0.113.7");
    assert!(report.get("network").is_none());
    assert_eq!(report["as_of"], AS_OF);
    assert_eq!(report["seen"], true);
    assert_eq!(report["addresses"], 1);
    assert_eq!(
        report["failures"], 7,
        "the failure after --as-of is left out"
    );
    assert_eq!(report["first_seen"], "2026-10-29T08:00:00Z");
    assert_eq!(report["last_seen"], "2026-11-28T07:00:00Z");
    assert_eq!(report["server_faults"], 1);
    assert_eq!(
        report["per_day"],
        days(&[("2026-11-01", 1), ("2026-11-26", 2), ("2026-11-28", 3)]),
        "2026-10-29 lies before the 30 days; the fault never counts"
    );
    assert_eq!(
        report["usernames"],
        json!([
            {"username": "alice@example.com", "failures": 4},
            {"username": null, "failures": 2},
            {"username": "bob@example.com", "failures": 1},
        ])
    );
    assert_eq!(
        report["mechanisms"],
        json!([
            {"mechanism": "LOGIN", "failures": 5},
            {"mechanism": "PLAIN", "failures": 2},
        ]),
        "most first, ties by text; mechanisms case-folded (login is LOGIN)"
    );
    assert_eq!(
        report["services"],
        json!([
            {"service": "postfix/smtpd", "failures": 4},
            {"service": "postfix/smtps/smtpd", "failures": 2},
            {"service": "postfix/submission/smtpd", "failures": 1},
        ])
    );
    assert_eq!(report["blocks"], json!([]));
    assert_eq!(
        report["blocked_now"],
        json!({"postfix": false, "firewall": false})
    );
}

#[test]
fn as_of_moves_the_days_and_the_totals() {
    let env = setup();
    let report = show(&env, &["203.0.113.7", "--as-of", "2026-11-29T00:00:00Z"]);
    assert_eq!(report["failures"], 8);
    assert_eq!(report["last_seen"], "2026-11-29T00:00:00Z");
    let per_day = report["per_day"].as_array().unwrap();
    assert_eq!(per_day.len(), 30);
    assert_eq!(per_day[0]["date"], "2026-10-31");
    assert_eq!(per_day[29], json!({"date": "2026-11-29", "failures": 1}));
    assert_eq!(per_day[28], json!({"date": "2026-11-28", "failures": 3}));
}

#[test]
fn blocks_covering_or_inside_are_listed_with_their_end_and_blocked_now_per_target() {
    let env = setup();
    // An old firewall block of the /24 that expired, a postfix block of the address in
    // force now, and a block elsewhere that must not show.
    env.run_ok(&[
        "block",
        "203.0.113.0/24",
        "--target",
        "firewall",
        "--for",
        "1h",
        "--reason",
        "old",
        "--as-of",
        "2026-11-20T00:00:00Z",
    ]);
    env.run_ok(&["expire", "--as-of", AS_OF]);
    env.block_postfix("203.0.113.7", "7d", AS_OF);
    env.run_ok(&["block", "198.51.100.0/24", "--permanent", "--as-of", AS_OF]);

    let report = show(&env, &["203.0.113.7"]);
    let blocks = report["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 2, "{blocks:#?}");
    assert_eq!(blocks[0]["network"], "203.0.113.7/32");
    assert_eq!(blocks[0]["target"], "postfix");
    assert_eq!(blocks[0]["origin"], "manual");
    assert_eq!(blocks[0]["created_at"], AS_OF);
    assert_eq!(blocks[0]["expires_at"], "2026-12-05T12:00:00Z");
    assert_eq!(blocks[0]["ended_at"], Value::Null);
    assert_eq!(blocks[0]["active"], true);
    assert_eq!(blocks[1]["network"], "203.0.113.0/24");
    assert_eq!(blocks[1]["target"], "firewall");
    assert_eq!(blocks[1]["reason"], "old");
    assert_eq!(blocks[1]["created_at"], "2026-11-20T00:00:00Z");
    assert_eq!(blocks[1]["ended_at"], "2026-11-20T01:00:00Z");
    assert_eq!(blocks[1]["end_reason"], "expired");
    assert_eq!(blocks[1]["active"], false);
    assert_eq!(
        report["blocked_now"],
        json!({"postfix": true, "firewall": false})
    );

    // The /24 holds the address's block but is not all blocked by it.
    let network = show(&env, &["203.0.113.0/24"]);
    assert_eq!(network["blocks"].as_array().unwrap().len(), 2);
    assert_eq!(
        network["blocked_now"],
        json!({"postfix": false, "firewall": false})
    );
    // An address inside a blocked network is blocked by it.
    let other = show(&env, &["198.51.100.20"]);
    assert_eq!(
        other["blocked_now"],
        json!({"postfix": true, "firewall": true})
    );
    assert_eq!(other["blocks"].as_array().unwrap().len(), 2);

    // Unblocking ends the address's block; show keeps it, ended.
    env.run_ok(&["unblock", "203.0.113.7", "--as-of", AS_OF]);
    let report = show(&env, &["203.0.113.7"]);
    assert_eq!(report["blocks"][0]["end_reason"], "unblocked");
    assert_eq!(report["blocks"][0]["active"], false);
    assert_eq!(
        report["blocked_now"],
        json!({"postfix": false, "firewall": false})
    );
}

#[test]
fn a_network_adds_up_every_address_inside_it() {
    let env = setup();
    let report = show(&env, &["203.0.113.0/24"]);
    assert_eq!(report["network"], "203.0.113.0/24");
    assert!(report.get("ip").is_none());
    assert_eq!(report["addresses"], 2);
    assert_eq!(report["failures"], 11);
    assert_eq!(report["server_faults"], 1);
    assert_eq!(report["first_seen"], "2026-10-29T08:00:00Z");
    assert_eq!(report["last_seen"], "2026-11-28T07:00:00Z");
    assert_eq!(
        report["per_day"],
        days(&[
            ("2026-11-01", 1),
            ("2026-11-26", 2),
            ("2026-11-27", 4),
            ("2026-11-28", 3)
        ])
    );
    assert_eq!(
        report["usernames"],
        json!([
            {"username": "alice@example.com", "failures": 4},
            {"username": "carol@example.com", "failures": 4},
            {"username": null, "failures": 2},
            {"username": "bob@example.com", "failures": 1},
        ])
    );
    assert_eq!(
        report["mechanisms"],
        json!([
            {"mechanism": "PLAIN", "failures": 6},
            {"mechanism": "LOGIN", "failures": 5},
        ])
    );
    assert_eq!(
        report["services"],
        json!([
            {"service": "postfix/submission/smtpd", "failures": 5},
            {"service": "postfix/smtpd", "failures": 4},
            {"service": "postfix/smtps/smtpd", "failures": 2},
        ])
    );
    // The neighbouring networks hold none of it.
    let next = show(&env, &["203.0.114.0/24"]);
    assert_eq!(next["failures"], 0);
    // IPv6: a /64 around 2001:db8::5.
    let v6 = show(&env, &["2001:db8::/64"]);
    assert_eq!(v6["addresses"], 1);
    assert_eq!(v6["failures"], 2);
    assert_eq!(v6["per_day"], days(&[("2026-11-20", 1), ("2026-11-28", 1)]));
    // IPv4-mapped notation means the IPv4 address.
    let mapped = show(&env, &["::ffff:203.0.113.9"]);
    assert_eq!(mapped["ip"], "203.0.113.9");
    assert_eq!(mapped["failures"], 4);
}

#[test]
fn an_address_never_seen_is_a_clear_message_or_zeros() {
    let env = setup();
    let output = env
        .cmd()
        .args(["show", "192.0.2.55", "--as-of", AS_OF])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        text,
        format!("192.0.2.55: no failed authentications or server faults stored up to {AS_OF}\n")
    );

    let report = show(&env, &["192.0.2.55"]);
    assert_eq!(report["seen"], false);
    assert_eq!(report["failures"], 0);
    assert_eq!(report["addresses"], 0);
    assert_eq!(report["server_faults"], 0);
    assert_eq!(report["first_seen"], Value::Null);
    assert_eq!(report["last_seen"], Value::Null);
    assert_eq!(report["per_day"], days(&[]));
    assert_eq!(report["usernames"], json!([]));
    assert_eq!(report["mechanisms"], json!([]));
    assert_eq!(report["services"], json!([]));
    assert_eq!(report["blocks"], json!([]));
}

#[test]
fn the_table_shows_the_same_numbers() {
    let env = setup();
    let output = env.run_ok(&["show", "203.0.113.7", "--as-of", AS_OF]);
    let text = String::from_utf8(output.stdout).unwrap();
    for expected in [
        "address        203.0.113.7",
        "failures       7 (first 2026-10-29T08:00:00Z, last 2026-11-28T07:00:00Z)",
        "server faults  1 (never counted)",
        "blocked now    postfix: no, firewall: no",
        "alice@example.com",
        "(none)",
        "postfix/smtps/smtpd",
        "no blocks",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from\n{text}");
    }
    let day = |date: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(date))
            .unwrap_or_else(|| panic!("{date} missing from\n{text}"))
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(day("2026-11-28"), "3");
    assert_eq!(day("2026-11-26"), "2");
    assert_eq!(day("2026-10-30"), "0");
}

#[test]
fn bad_arguments_and_missing_databases_are_clear_errors() {
    let env = setup();
    let output = env.cmd().args(["show", "203.0.113.7/24"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("host bits"));
    let output = env
        .cmd()
        .args(["show", "203.0.113.7", "--format", "csv"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let fresh = Env::new();
    let output = fresh.cmd().args(["show", "192.0.2.1"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no database"));
    assert!(!fresh.db.exists());
}

#[test]
fn the_busiest_generated_address_shows_the_generators_counts() {
    let env = Env::new();
    let log = env.path("maillog");
    let truth_path = env.path("truth.json");
    let end = "2026-11-27T12:00:00Z";
    let options = saslguard_gen::Options::from_flags([
        "--lines", "50000", "--seed", "5", "--end", end, "--format", "mixed",
    ])
    .expect("generator flags")
    .in_utc();
    saslguard_gen::write(&options, &log, &truth_path).expect("run saslguard-gen");
    let truth: Value = serde_json::from_slice(&std::fs::read(&truth_path).unwrap()).unwrap();
    let (busiest, count) = truth["failures"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(ip, n)| (ip.clone(), n.as_i64().unwrap()))
        .max_by_key(|(ip, n)| (*n, std::cmp::Reverse(ip.clone())))
        .unwrap();
    assert!(count > 100, "the busiest address failed only {count} times");
    env.ingest(&[&log]);

    let report = show(&env, &[&busiest, "--as-of", end]);
    assert_eq!(report["failures"], count, "{busiest}");
    assert_eq!(
        report["server_faults"],
        truth["server_faults"][&busiest].as_i64().unwrap_or(0),
        "{busiest}"
    );
    // The log spans 7 days, all inside the 30 shown; every breakdown adds up.
    let sum = |list: &str| -> i64 {
        report[list]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| entry["failures"].as_i64().unwrap())
            .sum()
    };
    for list in ["per_day", "usernames", "mechanisms", "services"] {
        assert_eq!(sum(list), count, "{list} of {busiest}");
    }
}
