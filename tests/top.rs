//! `saslguard top`: windowed rankings, several periods at once, networks, formats.

use crate::common;

use common::*;

/// Base time of the helpers is 2026-11-27T00:00:00Z; these tests look from a day later.
const AS_OF: &str = "2026-11-28T00:00:00Z";
const HOUR: i64 = 3600;

fn setup() -> Env {
    let env = Env::new();
    let log = env.path("maillog");
    let mut text = String::new();
    // 203.0.113.1: 5 failures in the last hour, 1 a day earlier (outside 24h).
    text += &failures(-HOUR, 1, "203.0.113.1");
    text += &failures(23 * HOUR + 10, 5, "203.0.113.1");
    // 203.0.113.2: 5 failures 12 hours ago: ties with .1 in 24h.
    text += &failures(12 * HOUR, 5, "203.0.113.2");
    // 203.0.113.3 and 2001:db8:0:1::5/::6: older, only in 7d.
    text += &failures(-3 * 24 * HOUR, 7, "203.0.113.3");
    text += &failures(-2 * 24 * HOUR, 2, "2001:db8:0:1::5");
    text += &failures(-2 * 24 * HOUR + 100, 3, "2001:db8:0:1::6");
    std::fs::write(&log, text).unwrap();
    env.ingest(&[&log]);
    env
}

#[test]
fn a_period_counts_only_failures_inside_it_with_shared_ranks_for_ties() {
    let env = setup();
    let rows = env.top(&["--period", "24h", "--as-of", AS_OF]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["ip"], "203.0.113.1");
    assert_eq!(rows[0]["rank"], 1);
    assert_eq!(rows[0]["failures"], 5);
    assert_eq!(rows[0]["first_seen"], "2026-11-27T23:00:10Z");
    assert_eq!(rows[0]["last_seen"], "2026-11-27T23:00:14Z");
    assert_eq!(rows[1]["ip"], "203.0.113.2");
    assert_eq!(rows[1]["rank"], 1, "a tie shares the rank");
}

#[test]
fn several_periods_give_one_row_per_offender_with_a_count_and_rank_each() {
    let env = setup();
    let rows = env.top(&["--period", "24h,7d,all", "--as-of", AS_OF, "--limit", "0"]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 5);
    let row = |ip: &str| rows.iter().find(|r| r["ip"] == ip).unwrap().clone();
    let one = row("203.0.113.1");
    assert_eq!(one["periods"][0]["failures"], 5);
    assert_eq!(one["periods"][1]["failures"], 6);
    assert_eq!(one["periods"][1]["rank"], 2);
    let three = row("203.0.113.3");
    assert_eq!(three["rank"], serde_json::Value::Null, "absent from 24h");
    assert_eq!(three["failures"], 0);
    assert_eq!(three["periods"][1]["rank"], 1);
    // Rows absent from the first period come after those in it.
    assert_eq!(rows[2]["ip"], "203.0.113.3");
}

#[test]
fn by_net_groups_ipv4_by_24_and_ipv6_by_64() {
    let env = setup();
    let rows = env.top(&["--period", "7d", "--by", "net", "--as-of", AS_OF]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows[0]["network"], "203.0.113.0/24");
    assert_eq!(rows[0]["failures"], 18);
    assert_eq!(rows[1]["network"], "2001:db8:0:1::/64");
    assert_eq!(rows[1]["failures"], 5);
    assert!(rows[0].get("ip").is_none());
}

#[test]
fn network_prefixes_come_from_the_config() {
    let env = setup();
    std::fs::write(
        &env.config,
        "[networks]\nipv4_prefix = 16\nipv6_prefix = 32\n",
    )
    .unwrap();
    let rows = env.top(&["--period", "all", "--by", "net"]);
    assert_eq!(rows[0]["network"], "203.0.0.0/16");
    assert_eq!(rows[1]["network"], "2001:db8::/32");
}

#[test]
fn limit_cuts_and_zero_means_all() {
    let env = setup();
    let rows = env.top(&["--period", "all", "--limit", "2"]);
    assert_eq!(rows.as_array().unwrap().len(), 2);
    let rows = env.top(&["--period", "all", "--limit", "0"]);
    assert_eq!(rows.as_array().unwrap().len(), 5);
}

#[test]
fn csv_and_table_show_the_same_ranking() {
    let env = setup();
    let output = env.run_ok(&[
        "top", "--period", "24h", "--format", "csv", "--as-of", AS_OF,
    ]);
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "rank,ip,failures,first_seen,last_seen\n\
         1,203.0.113.1,5,2026-11-27T23:00:10Z,2026-11-27T23:00:14Z\n\
         1,203.0.113.2,5,2026-11-27T12:00:00Z,2026-11-27T12:00:04Z\n"
    );
    let output = env
        .cmd()
        .args(["top", "--period", "24h,7d", "--as-of", AS_OF])
        .output()
        .unwrap();
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(table.contains("203.0.113.1"), "{table}");
    assert!(table.contains("24h (rank)"), "{table}");
    assert!(table.contains("6 (2)"), "{table}");
}

#[test]
fn bad_periods_and_missing_databases_are_clear_errors() {
    let env = setup();
    let output = env
        .cmd()
        .args(["top", "--period", "7 parsecs"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("7 parsecs"));
    let fresh = Env::new();
    let output = fresh.cmd().arg("top").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no database"));
    assert!(!fresh.db.exists());
}

// ---- `top --by user|mechanism|service` and `--new` ----

/// A failure line with its own service, mechanism and username (`None`: none logged).
fn sasl_failure(time: &str, service: &str, ip: &str, mech: &str, user: Option<&str>) -> String {
    let user = user.map_or(String::new(), |u| format!(", sasl_username={u}"));
    format!(
        "{time} mx {service}[99]: warning: unknown[{ip}]: SASL {mech} authentication failed: \
         authentication failure{user}\n"
    )
}

/// (minute prefix, lines, service, address, mechanism, username) of failures.
type LabelLine = (
    &'static str,
    i64,
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

/// Seen from [`LABELS_AS_OF`], the 24h period starts at 2026-11-27T12:00:00Z.
const LABELS_AS_OF: &str = "2026-11-28T12:00:00Z";

/// Who failed with what, and when (the truth the label tests check):
///
/// | address       | time (2026-)       | n | mechanism | user              | service    |
/// | 203.0.113.7   | 10-29 08:00        | 1 | LOGIN     | alice@example.com | smtpd      |
/// | 203.0.113.7   | 11-01 09:00        | 1 | PLAIN     | alice@example.com | smtpd      |
/// | 2001:db8::5   | 11-20 12:00        | 1 | LOGIN     | alice@example.com | smtps      |
/// | 203.0.113.7   | 11-26 10:00        | 2 | cram-md5  | -                 | smtps      |
/// | 203.0.113.7   | 11-27 11:00        | 1 | LOGIN     | (server fault)    | smtpd      |
/// | 203.0.113.9   | 11-27 15:00        | 4 | PLAIN     | carol@example.com | submission |
/// | 203.0.113.7   | 11-28 06:00        | 2 | LOGIN     | alice@example.com | smtpd      |
/// | 203.0.113.7   | 11-28 07:00        | 1 | PLAIN     | bob@example.com   | submission |
/// | 198.51.100.20 | 11-28 09:00        | 5 | LOGIN     | root              | smtpd      |
/// | 2001:db8::5   | 11-28 10:00        | 1 | LOGIN     | alice@example.com | smtps      |
/// | 203.0.113.7   | 11-29 00:00        | 1 | LOGIN     | alice@example.com | smtpd      |
fn labels_setup() -> Env {
    const SMTPD: &str = "postfix/smtpd";
    const SUBMISSION: &str = "postfix/submission/smtpd";
    const SMTPS: &str = "postfix/smtps/smtpd";
    let alice = Some("alice@example.com");
    let rows: &[LabelLine] = &[
        (
            "2026-10-29T08:00:0",
            1,
            SMTPD,
            "203.0.113.7",
            "LOGIN",
            alice,
        ),
        (
            "2026-11-01T09:00:0",
            1,
            SMTPD,
            "203.0.113.7",
            "PLAIN",
            alice,
        ),
        (
            "2026-11-20T12:00:0",
            1,
            SMTPS,
            "2001:db8::5",
            "LOGIN",
            alice,
        ),
        (
            "2026-11-26T10:00:0",
            2,
            SMTPS,
            "203.0.113.7",
            "cram-md5",
            None,
        ),
        (
            "2026-11-27T15:00:0",
            4,
            SUBMISSION,
            "203.0.113.9",
            "PLAIN",
            Some("carol@example.com"),
        ),
        (
            "2026-11-28T06:00:0",
            2,
            SMTPD,
            "203.0.113.7",
            "LOGIN",
            alice,
        ),
        (
            "2026-11-28T07:00:0",
            1,
            SUBMISSION,
            "203.0.113.7",
            "PLAIN",
            Some("bob@example.com"),
        ),
        (
            "2026-11-28T09:00:0",
            5,
            SMTPD,
            "198.51.100.20",
            "LOGIN",
            Some("root"),
        ),
        (
            "2026-11-28T10:00:0",
            1,
            SMTPS,
            "2001:db8::5",
            "LOGIN",
            alice,
        ),
        (
            "2026-11-29T00:00:0",
            1,
            SMTPD,
            "203.0.113.7",
            "LOGIN",
            alice,
        ),
    ];
    let mut text = String::new();
    for &(minute, n, service, ip, mech, user) in rows {
        for s in 0..n {
            text += &sasl_failure(&format!("{minute}{s}Z"), service, ip, mech, user);
        }
    }
    text += "2026-11-27T11:00:00Z mx postfix/smtpd[99]: warning: unknown[203.0.113.7]: \
             SASL LOGIN authentication failed: Connection lost to authentication server\n";
    let env = Env::new();
    let log = env.path("maillog");
    std::fs::write(&log, text).unwrap();
    assert_eq!(env.ingest(&[&log])["events"], 20);
    env
}

/// (name, failures, rank) of each row, in order, for the field `by`.
fn label_rows(rows: &serde_json::Value, by: &str) -> Vec<(String, i64, i64)> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|row| {
            assert!(row.get("ip").is_none(), "{row}");
            (
                row[by].as_str().unwrap().to_string(),
                row["failures"].as_i64().unwrap(),
                row["rank"].as_i64().unwrap_or(0),
            )
        })
        .collect()
}

fn named(rows: &[(&str, i64, i64)]) -> Vec<(String, i64, i64)> {
    rows.iter()
        .map(|&(name, failures, rank)| (name.to_string(), failures, rank))
        .collect()
}

#[test]
fn by_user_ranks_usernames_and_skips_missing_ones() {
    let env = labels_setup();
    let rows = env.top(&["--by", "user", "--period", "24h", "--as-of", LABELS_AS_OF]);
    assert_eq!(
        label_rows(&rows, "user"),
        named(&[
            ("root", 5, 1),
            ("carol@example.com", 4, 2),
            ("alice@example.com", 3, 3),
            ("bob@example.com", 1, 4),
        ])
    );
    assert_eq!(rows[2]["first_seen"], "2026-11-28T06:00:00Z");
    assert_eq!(rows[2]["last_seen"], "2026-11-28T10:00:00Z");

    // All time: the failures without a username (cram-md5, 2) appear nowhere; the one
    // after --as-of does not count.
    let rows = env.top(&["--by", "user", "--period", "all", "--as-of", LABELS_AS_OF]);
    assert_eq!(
        label_rows(&rows, "user"),
        named(&[
            ("alice@example.com", 6, 1),
            ("root", 5, 2),
            ("carol@example.com", 4, 3),
            ("bob@example.com", 1, 4),
        ])
    );
}

#[test]
fn by_user_merges_periods_like_addresses() {
    let env = labels_setup();
    let rows = env.top(&[
        "--by",
        "user",
        "--period",
        "24h,all",
        "--as-of",
        LABELS_AS_OF,
    ]);
    let rows = rows.as_array().unwrap();
    let order: Vec<&str> = rows.iter().map(|r| r["user"].as_str().unwrap()).collect();
    assert_eq!(
        order,
        [
            "root",
            "carol@example.com",
            "alice@example.com",
            "bob@example.com"
        ]
    );
    let alice = &rows[2];
    assert_eq!(alice["rank"], 3);
    assert_eq!(alice["failures"], 3);
    assert!(alice.get("addresses").is_none());
    assert_eq!(
        alice["periods"],
        serde_json::json!([
            {"period": "24h", "failures": 3, "rank": 3},
            {"period": "all", "failures": 6, "rank": 1},
        ])
    );
    // First and last seen are those of the first period (24h: 11-28 06:00 .. 10:00).
    assert_eq!(alice["first_seen"], "2026-11-28T06:00:00Z", "first period");
    assert_eq!(alice["last_seen"], "2026-11-28T10:00:00Z", "first period");
}

#[test]
fn by_mechanism_folds_case_and_counts_rows_absent_from_the_first_period() {
    let env = labels_setup();
    let rows = env.top(&[
        "--by",
        "mechanism",
        "--period",
        "24h",
        "--as-of",
        LABELS_AS_OF,
    ]);
    assert_eq!(
        label_rows(&rows, "mechanism"),
        named(&[("LOGIN", 8, 1), ("PLAIN", 5, 2)])
    );
    let rows = env.top(&[
        "--by",
        "mechanism",
        "--period",
        "24h,all",
        "--as-of",
        LABELS_AS_OF,
    ]);
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[2]["mechanism"], "CRAM-MD5",
        "cram-md5 as logged, case-folded"
    );
    assert_eq!(rows[2]["rank"], serde_json::Value::Null);
    assert_eq!(rows[2]["failures"], 0);
    assert_eq!(rows[2]["periods"][1]["failures"], 2);
    assert_eq!(rows[2]["periods"][1]["rank"], 3);
    assert_eq!(rows[0]["periods"][1]["failures"], 10);
    assert_eq!(rows[1]["periods"][1]["failures"], 6);
}

#[test]
fn by_service_ranks_the_smtpd_services() {
    let env = labels_setup();
    let rows = env.top(&[
        "--by",
        "service",
        "--period",
        "all",
        "--as-of",
        LABELS_AS_OF,
    ]);
    assert_eq!(
        label_rows(&rows, "service"),
        named(&[
            ("postfix/smtpd", 9, 1),
            ("postfix/submission/smtpd", 5, 2),
            ("postfix/smtps/smtpd", 4, 3),
        ])
    );
    let output = env.run_ok(&[
        "top",
        "--by",
        "service",
        "--period",
        "all",
        "--format",
        "csv",
        "--as-of",
        LABELS_AS_OF,
    ]);
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "rank,service,failures,first_seen,last_seen\n\
         1,postfix/smtpd,9,2026-10-29T08:00:00Z,2026-11-28T09:00:04Z\n\
         2,postfix/submission/smtpd,5,2026-11-27T15:00:00Z,2026-11-28T07:00:00Z\n\
         3,postfix/smtps/smtpd,4,2026-11-20T12:00:00Z,2026-11-28T10:00:00Z\n"
    );
    let output = env
        .cmd()
        .args([
            "top",
            "--by",
            "user",
            "--period",
            "24h",
            "--as-of",
            LABELS_AS_OF,
        ])
        .output()
        .unwrap();
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(table.contains("failures (24h)"), "{table}");
    assert!(table.contains("alice@example.com"), "{table}");
}

#[test]
fn new_keeps_only_first_failures_inside_the_first_period() {
    let env = labels_setup();
    let new = |by: &str, period: &str| -> Vec<String> {
        let rows = env.top(&[
            "--new",
            "--by",
            by,
            "--period",
            period,
            "--as-of",
            LABELS_AS_OF,
        ]);
        let field = if by == "ip" { "ip" } else { by };
        let field = if by == "net" { "network" } else { field };
        rows.as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{} {}", r[field].as_str().unwrap(), r["rank"]))
            .collect()
    };
    // 203.0.113.7 and 2001:db8::5 failed before the last 24h; the new ones are ranked
    // among themselves.
    assert_eq!(new("ip", "24h"), ["198.51.100.20 1", "203.0.113.9 2"]);
    // The /24 of 203.0.113.9 (7 failures in 24h, rank 1 among all) is not new:
    // 203.0.113.7 failed in it long ago. 198.51.100.0/24 is first among the new.
    assert_eq!(new("net", "24h"), ["198.51.100.0/24 1"]);
    assert_eq!(
        new("user", "24h"),
        ["root 1", "carol@example.com 2", "bob@example.com 3"]
    );
    assert!(new("mechanism", "24h").is_empty());
    assert_eq!(new("service", "3d"), ["postfix/submission/smtpd 1"]);
    // Over all time everyone is new.
    assert_eq!(new("ip", "all").len(), 4);
    // Only the first period decides, and rows absent from it go.
    let rows = env.top(&[
        "--new",
        "--period",
        "24h,all",
        "--as-of",
        LABELS_AS_OF,
        "--limit",
        "0",
    ]);
    let ips: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ip"].as_str().unwrap())
        .collect();
    assert_eq!(ips, ["198.51.100.20", "203.0.113.9"]);
    // A table with nothing new says so.
    let output = env.run_ok(&["top", "--new", "--by", "mechanism", "--as-of", LABELS_AS_OF]);
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "no mechanism failed for the first time in the last 24h\n"
    );
}
