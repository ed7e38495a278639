//! Reports over the cluster, against a real PostgreSQL (tests/common/postgres.rs): after
//! three hosts ship, `top`, `show`, `report` (JSON and HTML) and `blocks` read every
//! host's events and the cluster's blocks, with counts per host; `--local` reads this
//! host's database alone, as before; an unreachable cluster is an error naming
//! `--local`, never a quiet fall back.

use crate::common;
use crate::common::postgres as pg;

use std::collections::BTreeMap;

use pg::Postgres;
use serde_json::{Value, json};

/// A host: its own config, local database, log and map, all in the cluster.
fn host(server: &Postgres, name: &str) -> common::Env {
    let env = common::Env::new();
    let password = env.path("pgpassword");
    server.write_password_file(&password);
    std::fs::write(
        &env.config,
        format!(
            "logs = [{:?}]\n[postfix]\nmap = {:?}\nmap_type = \"cidr\"\nreload_command = []\n\
             [firewall]\nbackend = \"none\"\n\
             [[policy.tier]]\ntarget = \"postfix\"\nthreshold = 10\nwindow = \"7d\"\nduration = \"7d\"\n\
             [cluster]\nurl = {:?}\nhost = {name:?}\nconnect_timeout = \"3s\"\npassword_file = {:?}\n",
            env.path("maillog"),
            env.path("access"),
            server.url(),
            password,
        ),
    )
    .unwrap();
    std::fs::write(env.path("maillog"), "").unwrap();
    env
}

/// 2026-11-27T01:00:00Z, an hour after the base time of `common::iso_failure`.
const AS_OF: &str = "2026-11-27T01:00:00Z";

/// Who failed how often on which host: (host index, address, failures).
const FAILURES: &[(usize, &str, i64)] = &[
    (0, "203.0.113.77", 4),
    (1, "203.0.113.77", 4),
    (2, "203.0.113.77", 4),
    (0, "198.51.100.9", 2),
    (1, "2001:db8::5", 3),
    (2, "2001:db8::5", 1),
];

const NAMES: [&str; 3] = ["mx1", "mx2", "sub"];

/// The expected per-host counts of `address`.
fn expected_hosts(address: &str) -> BTreeMap<String, i64> {
    FAILURES
        .iter()
        .filter(|(_, a, _)| *a == address)
        .map(|(h, _, n)| (NAMES[*h].to_string(), *n))
        .collect()
}

/// The JSON of `args` run on `env` (`--as-of` added).
fn json_of(env: &common::Env, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--as-of", AS_OF]);
    env.json(&all)
}

/// `top` rows by address: (failures, hosts as given).
fn top_rows(rows: &Value) -> BTreeMap<String, (i64, Option<Value>)> {
    rows.as_array()
        .expect("rows")
        .iter()
        .map(|row| {
            (
                row["ip"].as_str().expect("ip").to_string(),
                (
                    row["failures"].as_i64().expect("failures"),
                    row.get("hosts").cloned(),
                ),
            )
        })
        .collect()
}

/// Three hosts that shipped their logs (two rounds: the second evaluates over all of
/// them and mirrors the block of the address that failed on all three).
fn shipped(server: &Postgres) -> Vec<common::Env> {
    let hosts: Vec<common::Env> = NAMES.iter().map(|name| host(server, name)).collect();
    for (n, (index, address, count)) in FAILURES.iter().enumerate() {
        let text = common::failures(n as i64 * 100, *count, address);
        common::append(&hosts[*index].path("maillog"), &text);
    }
    for _ in 0..2 {
        for env in &hosts {
            env.run_ok(&["run", "--as-of", AS_OF]);
        }
    }
    hosts
}

/// Counted failures of `address` in the cluster, straight from PostgreSQL.
fn direct_count(server: &Postgres, address: &str) -> i64 {
    let mut admin = server.admin(pg::DATABASE);
    admin
        .query_one(
            "SELECT COUNT(*) FROM saslguard.events WHERE address = $1::text::inet AND kind = 0",
            &[&address],
        )
        .unwrap()
        .get(0)
}

#[test]
fn reports_read_every_host_and_count_per_host() {
    let Some(mut server) = Postgres::start("reports_read_every_host_and_count_per_host") else {
        return;
    };
    let hosts = shipped(&server);
    let second = &hosts[1];

    // top: failures over all hosts, and per host; every host reports the same.
    let rows = json_of(
        second,
        &["top", "--format", "json", "--period", "all", "--limit", "0"],
    );
    let rows = top_rows(&rows);
    assert_eq!(rows.len(), 3, "{rows:?}");
    for (address, (failures, hosts_of)) in &rows {
        let expected = expected_hosts(address);
        assert_eq!(*failures, expected.values().sum::<i64>(), "{address}");
        assert_eq!(hosts_of.clone(), Some(json!(expected)), "{address}");
        assert_eq!(*failures, direct_count(&server, address), "{address}");
    }
    let first = json_of(
        &hosts[0],
        &["top", "--format", "json", "--period", "all", "--limit", "0"],
    );
    assert_eq!(top_rows(&first), rows);

    // --local: this host's own database, as a single host prints it (no hosts).
    let local = json_of(
        second,
        &[
            "top", "--format", "json", "--period", "all", "--limit", "0", "--local",
        ],
    );
    let local = top_rows(&local);
    let mine: BTreeMap<String, (i64, Option<Value>)> = FAILURES
        .iter()
        .filter(|(h, _, _)| *h == 1)
        .map(|(_, a, n)| (a.to_string(), (*n, None)))
        .collect();
    assert_eq!(local, mine);

    // Table and CSV: a last column with the count per host; none with --local.
    let text = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--as-of", AS_OF, "--period", "all", "--limit", "0"]);
        String::from_utf8(second.run_ok(&all).stdout).unwrap()
    };
    let csv = text(&["top", "--format", "csv"]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("rank,ip,failures,first_seen,last_seen,hosts")
    );
    let row = lines.find(|l| l.contains(",203.0.113.77,")).expect("row");
    assert!(row.starts_with("1,203.0.113.77,12,"), "{row}");
    assert!(row.ends_with(",mx1:4 mx2:4 sub:4"), "{row}");
    let row = csv.lines().find(|l| l.contains(",2001:db8::5,")).unwrap();
    assert!(row.ends_with(",mx2:3 sub:1"), "{row}");
    let table = text(&["top"]);
    let header = table.lines().next().unwrap();
    assert!(header.trim_end().ends_with("hosts"), "{table}");
    let row = table.lines().find(|l| l.contains("203.0.113.77")).unwrap();
    assert!(row.trim_end().ends_with("mx1:4 mx2:4 sub:4"), "{table}");
    let local_csv = text(&["top", "--format", "csv", "--local"]);
    assert!(
        local_csv.starts_with("rank,ip,failures,first_seen,last_seen\n"),
        "{local_csv}"
    );
    assert!(!text(&["top", "--local"]).contains("hosts"));

    // Networks and several periods add up the same way.
    let nets = json_of(
        second,
        &[
            "top", "--format", "json", "--by", "net", "--period", "24h,all",
        ],
    );
    let net = nets
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["network"] == "203.0.113.0/24")
        .expect("the /24");
    assert_eq!(net["failures"], 12);
    assert_eq!(net["hosts"], json!(expected_hosts("203.0.113.77")));

    // show: the totals over all hosts, and per host.
    let shown = json_of(second, &["show", "203.0.113.77", "--format", "json"]);
    assert_eq!(shown["failures"], direct_count(&server, "203.0.113.77"));
    assert_eq!(shown["failures"], 12);
    assert_eq!(shown["addresses"], 1);
    assert_eq!(shown["hosts"], json!(expected_hosts("203.0.113.77")));
    let per_day: i64 = shown["per_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["failures"].as_i64().unwrap())
        .sum();
    assert_eq!(per_day, 12);
    let usernames: i64 = shown["usernames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["failures"].as_i64().unwrap())
        .sum();
    assert_eq!(usernames, 12);
    assert_eq!(shown["blocked_now"]["postfix"], true, "{shown}");
    let local_show = json_of(
        second,
        &["show", "203.0.113.77", "--format", "json", "--local"],
    );
    assert_eq!(local_show["failures"], 4);
    assert!(local_show.get("hosts").is_none());

    // report: totals and top addresses over all hosts, per host.
    let report = json_of(second, &["report", "--format", "json", "--period", "7d"]);
    let all: i64 = FAILURES.iter().map(|(_, _, n)| n).sum();
    assert_eq!(report["current"]["failures"], all, "{}", report["current"]);
    let top = report["top_addresses"].as_array().unwrap();
    assert_eq!(top[0]["ip"], "203.0.113.77");
    assert_eq!(top[0]["failures"], 12);
    assert_eq!(top[0]["hosts"], json!(expected_hosts("203.0.113.77")));
    for row in top {
        let address = row["ip"].as_str().unwrap();
        assert_eq!(row["failures"], direct_count(&server, address), "{address}");
    }
    let local_report = json_of(
        second,
        &["report", "--format", "json", "--period", "7d", "--local"],
    );
    assert_eq!(local_report["current"]["failures"], 7);
    assert!(local_report["top_addresses"][0].get("hosts").is_none());

    // The HTML page shows the hosts of each top address.
    let page = second.path("report.html");
    second.run_ok(&[
        "report",
        "--format",
        "html",
        "--period",
        "7d",
        "--as-of",
        AS_OF,
        "--output",
        page.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(
        html_hosts(&html, "203.0.113.77"),
        expected_hosts("203.0.113.77")
    );
    assert_eq!(
        html_hosts(&html, "2001:db8::5"),
        expected_hosts("2001:db8::5")
    );
    assert!(html.contains("<th>hosts</th>"));
    let local_page = second.path("local.html");
    second.run_ok(&[
        "report",
        "--format",
        "html",
        "--period",
        "7d",
        "--as-of",
        AS_OF,
        "--local",
        "--output",
        local_page.to_str().unwrap(),
    ]);
    assert!(
        !std::fs::read_to_string(&local_page)
            .unwrap()
            .contains("data-host=")
    );

    // blocks: the cluster's, with the block decided over all three hosts.
    let blocks = json_of(second, &["blocks", "--format", "json"]);
    let networks: Vec<&str> = blocks
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["network"].as_str().unwrap())
        .collect();
    assert_eq!(networks, ["203.0.113.77/32"]);

    // The cluster down: reports say so and suggest --local; --local still answers.
    server.stop();
    let output = second
        .cmd()
        .args(["top", "--format", "json", "--as-of", AS_OF])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot reach the cluster database"),
        "{stderr}"
    );
    assert!(stderr.contains("--local"), "{stderr}");
    assert!(output.stdout.is_empty());
    for args in [
        &["show", "203.0.113.77"][..],
        &["report", "--period", "7d"][..],
        &["blocks"][..],
    ] {
        let output = second.cmd().args(args).output().unwrap();
        assert!(!output.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("--local"));
    }
    let local = json_of(
        second,
        &["top", "--format", "json", "--period", "all", "--local"],
    );
    assert_eq!(top_rows(&local), mine);
}

/// The per-host counts in the HTML row of `address`: `data-host`/`data-failures` spans.
fn html_hosts(html: &str, address: &str) -> BTreeMap<String, i64> {
    let marker = format!("data-ip=\"{address}\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no row of {address}"));
    let row = &html[start..];
    let row = &row[..row.find("</tr>").expect("row end")];
    row.split("<span data-host=\"")
        .skip(1)
        .map(|span| {
            let (host, rest) = span.split_once('"').expect("host");
            let failures = rest
                .split_once("data-failures=\"")
                .and_then(|(_, n)| n.split_once('"'))
                .and_then(|(n, _)| n.parse().ok())
                .expect("failures");
            (host.to_string(), failures)
        })
        .collect()
}

#[test]
fn a_single_host_prints_what_it_printed_before() {
    // No [cluster]: the same bytes with and without --local (nothing connects).
    let env = common::Env::new();
    let log = env.path("maillog");
    common::append(&log, &common::failures(0, 5, "192.0.2.1"));
    common::append(&log, &common::failures(100, 2, "2001:db8::1"));
    env.ingest(&[&log]);
    for args in [
        &["top", "--format", "json", "--period", "all"][..],
        &["show", "192.0.2.1", "--format", "json"][..],
        &["report", "--format", "json", "--period", "7d"][..],
        &["blocks", "--format", "json"][..],
    ] {
        let mut plain = args.to_vec();
        plain.extend(["--as-of", AS_OF]);
        let mut local = plain.clone();
        local.push("--local");
        let a = env.run_ok(&plain).stdout;
        let b = env.run_ok(&local).stdout;
        assert_eq!(a, b, "{args:?}");
        assert!(
            !String::from_utf8_lossy(&a).contains("\"hosts\""),
            "{args:?}"
        );
    }
}

/// Rankings over any period, aligned to hours and days or not, equal the counts over
/// the events themselves (the rollups hold whole days and hours, the events the rest),
/// also after retention deleted some.
#[test]
fn rollups_count_exactly_for_any_period() {
    use saslguard::model::EventKind;
    use saslguard::store::postgres::{
        Cluster, ClusterEvent, ClusterReports, Settings, SharedStore,
    };
    use saslguard::store::{Grouping, ReportStore, SqliteStore};

    let Some(server) = Postgres::start("rollups_count_exactly_for_any_period") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let password = dir.path().join("password");
    server.write_password_file(&password);
    let settings = Settings::new(
        &server.url(),
        std::time::Duration::from_secs(5),
        Some(password),
    )
    .unwrap();
    const NOW: i64 = 1_795_780_800;
    // Events every 37 minutes over ten days, from six addresses, on two hosts.
    let addresses = [
        "192.0.2.1",
        "192.0.2.2",
        "198.51.100.7",
        "2001:db8::1",
        "2001:db8::2",
        "2001:db8:1::9",
    ];
    let mut all: Vec<(i64, &str)> = Vec::new();
    for (name, offset) in [("mx1", 0), ("mx2", 11)] {
        let mut cluster = Cluster::connect(&settings, name, NOW).unwrap();
        let events: Vec<ClusterEvent> = (0..400)
            .map(|i| {
                let ts = NOW - 10 * 86400 + i * 37 * 60 + offset;
                let address = addresses[(i as usize * 7 + offset as usize) % addresses.len()];
                all.push((ts, address));
                ClusterEvent {
                    event_id: i,
                    ts,
                    address: address.parse().unwrap(),
                    kind: EventKind::AuthFailed,
                    mechanism: "LOGIN".into(),
                    username: None,
                    service: "postfix/smtpd".into(),
                }
            })
            .collect();
        cluster.ship(&events, 0, NOW).unwrap();
    }
    let local = SqliteStore::open(&dir.path().join("local.db")).unwrap();
    let reports = ClusterReports::open(&settings, "mx1", local).unwrap();
    let expect = |all: &[(i64, &str)], since: Option<i64>, until: i64| {
        let mut counts: BTreeMap<String, i64> = BTreeMap::new();
        for (ts, address) in all {
            if since.is_none_or(|s| *ts > s) && *ts <= until {
                *counts.entry(address.to_string()).or_default() += 1;
            }
        }
        counts
    };
    let periods = [
        (None, NOW),
        (Some(NOW - 86400), NOW),
        (Some(NOW - 7 * 86400 - 1234), NOW - 61),
        (Some(NOW - 3 * 86400 + 1800), NOW - 2 * 86400 - 1),
        (Some(NOW - 5000), NOW - 1000),
        (Some(NOW - 40 * 86400), NOW + 86400),
    ];
    let check = |all: &[(i64, &str)]| {
        for (since, until) in periods {
            let ranked: BTreeMap<String, i64> = reports
                .rank_offenders(EventKind::AuthFailed, since, until, Grouping::Address)
                .unwrap()
                .into_iter()
                .map(|r| (r.network.addr().to_string(), r.failures))
                .collect();
            assert_eq!(ranked, expect(all, since, until), "{since:?}..{until}");
            let per_address: BTreeMap<String, i64> = reports
                .events_per_address(
                    EventKind::AuthFailed,
                    since.unwrap_or(i64::MIN),
                    until,
                    None,
                )
                .unwrap()
                .into_iter()
                .map(|(a, n)| (a.to_string(), n))
                .collect();
            assert_eq!(per_address, expect(all, since, until), "{since:?}..{until}");
            let hours: i64 = reports
                .failures_per_hour(since.unwrap_or(i64::MIN), until)
                .unwrap()
                .iter()
                .map(|(_, n)| n)
                .sum();
            assert_eq!(hours, expect(all, since, until).values().sum::<i64>());
        }
    };
    check(&all);
    // Retention deletes the oldest events; the rollups follow.
    let cut = NOW - 6 * 86400 + 777;
    let mut cluster = Cluster::connect(&settings, "mx1", NOW).unwrap();
    cluster.prune(Some(cut), None).unwrap();
    all.retain(|(ts, _)| *ts >= cut);
    check(&all);
}
