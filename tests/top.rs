//! `saslguard top`: windowed rankings, several periods at once, networks, formats.

mod common;

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
    let output = env
        .cmd()
        .args([
            "top", "--period", "24h", "--format", "csv", "--as-of", AS_OF,
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
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
