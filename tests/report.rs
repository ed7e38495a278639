//! `saslguard report`: every number of `report --format json` checked against a small
//! log whose truth is written out below, the total against the generator's truth on a
//! larger log, and `--output` writing the same JSON to a file.

use crate::common;

use common::Env;
use serde_json::{Value, json};

/// The report's end. With `--period 24h` the period is (2026-11-27T12:00Z, AS_OF] and
/// the previous one (2026-11-26T12:00Z, 2026-11-27T12:00Z].
const AS_OF: &str = "2026-11-28T12:00:00Z";

/// One failure line: `user` None logs no `sasl_username=`.
fn failure(time: &str, ip: &str, user: Option<&str>) -> String {
    let user = user.map_or(String::new(), |u| format!(", sasl_username={u}"));
    format!(
        "{time} mx postfix/submission/smtpd[777]: warning: unknown[{ip}]: SASL PLAIN \
         authentication failed: authentication failure{user}\n"
    )
}

/// A server-side fault line: stored, never counted as a failure.
fn fault(time: &str, ip: &str) -> String {
    format!(
        "{time} mx postfix/smtpd[4242]: warning: unknown[{ip}]: SASL LOGIN authentication failed: \
         Connection lost to authentication server\n"
    )
}

/// The log, and its truth:
///
/// Current period (11 failures, 5 addresses, 3 networks, 2 faults):
///   - 203.0.113.9:   11-27 15:00:00, 15:00:01 carol            (2)
///   - 203.0.113.7:   11-28 06:00:00, 06:00:10 alice, 07:00 bob  (3)
///   - 198.51.100.20: 11-28 09:00:00..03 root                   (4)
///   - 2001:db8::6:   11-28 10:00 no username                   (1)
///   - 2001:db8::5:   11-28 12:00:00 alice (exactly AS_OF: in)   (1)
///   - faults: 203.0.113.7 11-28 08:00, 192.0.2.1 11-28 08:30
///
/// Previous period (4 failures, 3 addresses, 3 networks, 1 fault):
///   - 10.0.0.1:      11-26 13:00                               (1)
///   - 203.0.113.7:   11-27 01:00:00, 01:00:01 alice             (2)
///   - 198.51.100.99: 11-27 12:00:00 (exactly the boundary)      (1)
///   - fault: 203.0.113.7 11-27 00:00
///
/// Outside both: 10.9.9.9 at 11-26 12:00:00 (the previous period's exclusive start)
/// and 203.0.113.7 at 11-28 13:00 (after AS_OF).
fn log_text() -> String {
    let alice = Some("alice@example.com");
    let carol = Some("carol@example.com");
    let mut text = String::new();
    text += &failure("2026-11-26T12:00:00Z", "10.9.9.9", alice);
    text += &failure("2026-11-26T13:00:00Z", "10.0.0.1", Some("admin"));
    text += &fault("2026-11-27T00:00:00Z", "203.0.113.7");
    text += &failure("2026-11-27T01:00:00Z", "203.0.113.7", alice);
    text += &failure("2026-11-27T01:00:01Z", "203.0.113.7", alice);
    text += &failure("2026-11-27T12:00:00Z", "198.51.100.99", Some("root"));
    text += &failure("2026-11-27T15:00:00Z", "203.0.113.9", carol);
    text += &failure("2026-11-27T15:00:01Z", "203.0.113.9", carol);
    text += &failure("2026-11-28T06:00:00Z", "203.0.113.7", alice);
    text += &failure("2026-11-28T06:00:10Z", "203.0.113.7", alice);
    text += &failure(
        "2026-11-28T07:00:00Z",
        "203.0.113.7",
        Some("bob@example.com"),
    );
    text += &fault("2026-11-28T08:00:00Z", "203.0.113.7");
    text += &fault("2026-11-28T08:30:00Z", "192.0.2.1");
    for s in 0..4 {
        text += &failure(
            &format!("2026-11-28T09:00:0{s}Z"),
            "198.51.100.20",
            Some("root"),
        );
    }
    text += &failure("2026-11-28T10:00:00Z", "2001:db8::6", None);
    text += &failure("2026-11-28T12:00:00Z", "2001:db8::5", alice);
    text += &failure("2026-11-28T13:00:00Z", "203.0.113.7", alice);
    text
}

/// The log ingested, and the blocks (truth in [`known_report_counts_every_number`]).
fn setup() -> Env {
    let env = Env::new();
    let log = env.path("maillog");
    std::fs::write(&log, log_text()).unwrap();
    let summary = env.ingest(&[&log]);
    assert_eq!(summary["events"], 20, "{summary}");
    assert_eq!(summary["unparsed"], 0, "{summary}");

    // Active all through, created before both periods.
    env.run_ok(&[
        "block",
        "192.0.2.0/24",
        "--target",
        "firewall",
        "--for",
        "30d",
        "--as-of",
        "2026-11-20T00:00:00Z",
    ]);
    // Created in the previous period, unblocked in this one.
    env.run_ok(&[
        "block",
        "10.0.0.1",
        "--target",
        "firewall",
        "--permanent",
        "--as-of",
        "2026-11-26T14:00:00Z",
    ]);
    env.run_ok(&["unblock", "10.0.0.1", "--as-of", "2026-11-28T01:00:00Z"]);
    // Created and expired in this period, both targets.
    env.run_ok(&[
        "block",
        "198.51.100.0/24",
        "--target",
        "both",
        "--for",
        "1h",
        "--as-of",
        "2026-11-27T20:00:00Z",
    ]);
    // Created in this period, active at its end.
    env.block_postfix("203.0.113.7", "7d", "2026-11-28T07:30:00Z");
    // After the period: counts nowhere.
    env.run_ok(&[
        "block",
        "203.0.113.9",
        "--target",
        "postfix",
        "--as-of",
        "2026-11-28T13:00:00Z",
    ]);
    env
}

/// `report --format json` with `args`, parsed; stdout must be exactly the JSON.
fn report(env: &Env, args: &[&str]) -> Value {
    let output = env.run_ok(&[&["report", "--format", "json"], args].concat() as &[&str]);
    serde_json::from_slice(&output.stdout).expect("report output is JSON")
}

#[test]
fn known_report_counts_every_number() {
    let env = setup();
    let r = report(&env, &["--period", "24h", "--as-of", AS_OF]);

    assert_eq!(r["period"], "24h");
    assert_eq!(r["period_seconds"], 86_400);
    assert_eq!(r["since"], "2026-11-27T12:00:00Z");
    assert_eq!(r["until"], AS_OF);
    assert_eq!(r["previous_since"], "2026-11-26T12:00:00Z");
    assert_eq!(
        r["current"],
        json!({"failures": 11, "addresses": 5, "networks": 3, "server_faults": 2, "invalid_mechanism": 0})
    );
    assert_eq!(
        r["previous"],
        json!({"failures": 4, "addresses": 3, "networks": 3, "server_faults": 1, "invalid_mechanism": 0})
    );

    // Every clock hour touched by (2026-11-27T12:00, 2026-11-28T12:00]: 25 of them.
    let nonzero = [
        ("2026-11-27T15:00:00Z", 2),
        ("2026-11-28T06:00:00Z", 2),
        ("2026-11-28T07:00:00Z", 1),
        ("2026-11-28T09:00:00Z", 4),
        ("2026-11-28T10:00:00Z", 1),
        ("2026-11-28T12:00:00Z", 1),
    ];
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z").unwrap();
    let expected: Vec<Value> = (0..25)
        .map(|h| {
            let hour = (start + chrono::Duration::hours(h))
                .to_utc()
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let failures = nonzero
                .iter()
                .find(|(at, _)| *at == hour)
                .map_or(0, |(_, n)| *n);
            json!({"hour": hour, "failures": failures})
        })
        .collect();
    assert_eq!(r["per_hour"], Value::Array(expected));

    assert_eq!(
        r["top_addresses"],
        json!([
            {"rank": 1, "ip": "198.51.100.20", "failures": 4},
            {"rank": 2, "ip": "203.0.113.7", "failures": 3},
            {"rank": 3, "ip": "203.0.113.9", "failures": 2},
            {"rank": 4, "ip": "2001:db8::5", "failures": 1},
            {"rank": 4, "ip": "2001:db8::6", "failures": 1},
        ])
    );
    assert_eq!(
        r["top_usernames"],
        json!([
            {"rank": 1, "username": "root", "failures": 4},
            {"rank": 2, "username": "alice@example.com", "failures": 3},
            {"rank": 3, "username": "carol@example.com", "failures": 2},
            {"rank": 4, "username": "bob@example.com", "failures": 1},
        ])
    );
    assert_eq!(
        r["blocks"],
        json!({
            "postfix": {"created": 2, "ended": 1, "active": 1},
            "firewall": {"created": 1, "ended": 2, "active": 1},
        })
    );

    // A period over 48 hours charts days in the table; JSON still lists hours.
    let week = report(&env, &["--period", "3d", "--as-of", AS_OF]);
    assert_eq!(week["per_hour"].as_array().unwrap().len(), 3 * 24 + 1);
    assert_eq!(week["current"]["failures"], 16);
    let table = env.run_ok(&["report", "--period", "3d", "--as-of", AS_OF]);
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.contains("day (UTC)"), "{table}");
    assert!(table.contains("2026-11-28 "), "{table}");
}

#[test]
fn period_all_is_refused() {
    let env = setup();
    let output = env
        .cmd()
        .args(["report", "--period", "all"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "a usage error");
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "invalid value 'all' for '--period <DURATION>': report needs a period with a \
             length, like 24h, 7d or 30d"
        ),
        "{stderr}"
    );
}

#[test]
fn output_file_gets_the_same_json_and_stdout_stays_empty() {
    let env = setup();
    let printed = env.run_ok(&[
        "report", "--format", "json", "--period", "24h", "--as-of", AS_OF,
    ]);
    let file = env.path("report.json");
    let written = env.run_ok(&[
        "report",
        "--format",
        "json",
        "--period",
        "24h",
        "--as-of",
        AS_OF,
        "--output",
        file.to_str().unwrap(),
    ]);
    assert!(written.stdout.is_empty(), "printed {:?}", written.stdout);
    assert_eq!(std::fs::read(&file).unwrap(), printed.stdout);
}

#[test]
fn generated_log_total_matches_the_truth() {
    let env = Env::new();
    let log = env.path("maillog");
    let truth_path = env.path("truth.json");
    let options = saslguard_gen::Options::from_flags([
        "--lines",
        "50000",
        "--end",
        "2026-11-27T12:00:00Z",
        "--format",
        "iso",
    ])
    .expect("generator flags");
    saslguard_gen::write(&options, &log, &truth_path).expect("run saslguard-gen");
    let truth: Value = serde_json::from_slice(&std::fs::read(&truth_path).unwrap()).unwrap();
    env.ingest(&[&log]);

    let r = report(
        &env,
        &["--period", "30d", "--as-of", "2026-11-27T12:00:00Z"],
    );
    let total = truth["failures_total"].as_i64().expect("failures_total");
    assert!(total > 0);
    assert_eq!(r["current"]["failures"], total);
    assert_eq!(
        r["current"]["server_faults"],
        truth["server_faults_total"].as_i64().unwrap()
    );
    let addresses = truth["failures"]
        .as_object()
        .unwrap()
        .values()
        .filter(|n| n.as_i64().unwrap() > 0)
        .count();
    assert_eq!(r["current"]["addresses"], addresses);
    let per_hour = r["per_hour"].as_array().unwrap();
    assert_eq!(per_hour.len(), 30 * 24 + 1);
    let sum: i64 = per_hour
        .iter()
        .map(|h| h["failures"].as_i64().unwrap())
        .sum();
    assert_eq!(sum, total);
    // The generated log spans 7 days: the previous 30 days hold nothing.
    assert_eq!(
        r["previous"],
        json!({"failures": 0, "addresses": 0, "networks": 0, "server_faults": 0, "invalid_mechanism": 0})
    );
}

/// A refusal of saslguard's map entry, as smtpd logs it with the default reject_text.
fn refused(time: &str, ip: &str) -> String {
    format!(
        "{time} mx postfix/smtpd[900]: NOQUEUE: reject: CONNECT from unknown[{ip}]: 554 5.7.1 \
         <unknown[{ip}]>: Client host rejected: Too many failed authentication attempts; \
         proto=SMTP\n"
    )
}

/// Block efficacy: every refusal is attributed to the block whose entry matched, or
/// counted as unattributed, and never as a failure.
///
/// Blocks (postfix): #1 203.0.113.7/32 from 11-28 02:00 for 2h (expires 04:00);
/// #2 203.0.113.0/24 from 11-28 03:00, permanent.
/// Refusals of 203.0.113.7 in the current period (11-27 12:00, 11-28 12:00]:
///   01:00 (no block yet: unattributed), 02:00 and 02:30 (#1), 03:30 (#1: the /32 beats
///   the /24), 04:10 and 05:00 (#2, in force; #1 expired)
/// Refusal of 203.0.113.99 at 11-28 03:10 (#2). Refusal of 198.51.100.1 at 11-28 04:00:
/// no block covers it (unattributed). One refusal in the previous period (11-27 11:00).
/// Block #0, 198.51.100.50 from 11-27 10:00 to 11:50, ended before the period, but its
/// map entry refused it at 12:10 (before the next run): listed, with that refusal.
#[test]
fn refusals_are_attributed_to_the_block_whose_entry_matched() {
    let env = Env::new();
    let log = env.path("maillog");
    let mut text = failure("2026-11-28T01:30:00Z", "203.0.113.7", Some("root"));
    for (time, ip) in [
        ("2026-11-27T11:00:00Z", "203.0.113.7"),
        ("2026-11-28T01:00:00Z", "203.0.113.7"),
        ("2026-11-28T02:00:00Z", "203.0.113.7"),
        ("2026-11-28T02:30:00Z", "203.0.113.7"),
        ("2026-11-28T03:10:00Z", "203.0.113.99"),
        ("2026-11-28T03:30:00Z", "203.0.113.7"),
        ("2026-11-28T04:00:00Z", "198.51.100.1"),
        ("2026-11-28T04:10:00Z", "203.0.113.7"),
        ("2026-11-28T05:00:00Z", "203.0.113.7"),
        ("2026-11-27T12:10:00Z", "198.51.100.50"),
    ] {
        text += &refused(time, ip);
    }
    std::fs::write(&log, text).unwrap();
    let summary = env.ingest(&[&log]);
    assert_eq!(summary["events"], 11, "{summary}");
    for (network, at, extra) in [
        (
            "198.51.100.50",
            "2026-11-27T10:00:00Z",
            &["--for", "1h50m"][..],
        ),
        ("203.0.113.7", "2026-11-28T02:00:00Z", &["--for", "2h"][..]),
        (
            "203.0.113.0/24",
            "2026-11-28T03:00:00Z",
            &["--permanent"][..],
        ),
    ] {
        env.run_ok(
            &[
                &["block", network, "--target", "postfix", "--as-of", at],
                extra,
            ]
            .concat() as &[&str],
        );
    }

    let r = report(&env, &["--period", "24h", "--as-of", AS_OF]);
    assert_eq!(
        r["efficacy"],
        json!({"rejected": 9, "previous_rejected": 1, "unattributed": 2})
    );
    let per_block: Vec<(String, i64)> = r["block_timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["network"].as_str().unwrap().to_string(),
                b["rejected"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        per_block,
        [
            ("198.51.100.50/32".to_string(), 1),
            ("203.0.113.7/32".to_string(), 3),
            ("203.0.113.0/24".to_string(), 3)
        ]
    );
    // Refusals are not failures.
    assert_eq!(r["current"]["failures"], 1);
    assert_eq!(r["top_addresses"][0]["failures"], 1);

    let table = env.run_ok(&["report", "--period", "24h", "--as-of", AS_OF]);
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(
        table.contains(
            "connections Postfix refused because of a block: 9 (previous period: 1, \
             change: +8 (+800%)); refused by no saslguard block: 2\n"
        ),
        "{table}"
    );
}

/// `show` gives each block the refusals of the address shown, like `report`.
#[test]
fn show_counts_the_refusals_of_each_block() {
    let env = Env::new();
    let log = env.path("maillog");
    let mut text = failure("2026-11-28T01:30:00Z", "203.0.113.7", Some("root"));
    for time in [
        "2026-11-28T01:00:00Z",
        "2026-11-28T02:00:00Z",
        "2026-11-28T02:30:00Z",
    ] {
        text += &refused(time, "203.0.113.7");
    }
    text += &refused("2026-11-28T02:40:00Z", "203.0.113.8");
    std::fs::write(&log, text).unwrap();
    env.ingest(&[&log]);
    env.block_postfix("203.0.113.7", "2h", "2026-11-28T02:00:00Z");
    let shown = env.json(&["show", "203.0.113.7", "--format", "json", "--as-of", AS_OF]);
    assert_eq!(shown["refused"], 3, "{shown}");
    assert_eq!(shown["refused_unattributed"], 1, "{shown}");
    assert_eq!(shown["blocks"][0]["refused"], 2, "{shown}");
    assert_eq!(shown["failures"], 1);
    let table = env.run_ok(&["show", "203.0.113.7", "--as-of", AS_OF]);
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.contains("refused        3 connections"), "{table}");
}
