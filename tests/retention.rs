//! Retention: `run` prunes once a day, so a database fed for many simulated days keeps
//! a bounded number of events and a bounded file size; `prune --older-than` deletes on
//! demand.

use crate::common;

use std::fs;

use common::{Env, append, iso_failure};

const DAY: i64 = 86400;

fn at(seconds: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp(1_795_737_600 + seconds, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[test]
fn the_database_stays_bounded_over_many_simulated_days() {
    let env = Env::new();
    let log = env.path("maillog");
    fs::write(&log, "").unwrap();
    fs::write(
        &env.config,
        format!(
            "logs = [{:?}]\nretention = \"3d\"\n[postfix]\nmap = {:?}\nreload_command = []\n\
             [firewall]\nbackend = \"none\"\n",
            log.to_str().unwrap(),
            env.path("access").to_str().unwrap()
        ),
    )
    .unwrap();
    let per_day = 3000;
    let mut sizes = Vec::new();
    for day in 0..20 {
        let lines: String = (0..per_day)
            .map(|i| {
                iso_failure(
                    day * DAY + i * 28,
                    &format!("198.51.{}.{}", i % 7, i % 50 + 1),
                )
            })
            .collect();
        append(&log, &lines);
        let output = env.run_ok(&[
            "run",
            "--format",
            "json",
            "--as-of",
            &at(day * DAY + DAY - 1),
        ]);
        let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        if day >= 4 {
            assert!(
                summary["pruned"]["events"].as_u64().unwrap_or(0) > 0,
                "day {day}: the daily prune deleted nothing: {summary}"
            );
        }
        let stored = env.sql_count("SELECT count(*) FROM events");
        assert!(stored <= 4 * per_day, "day {day}: {stored} events kept");
        // One run a day; each daily prune keeps the runs of the last three days and
        // today's (started at the cutoff, not before it).
        let runs = env.sql_count("SELECT count(*) FROM runs");
        assert_eq!(runs, (day + 1).min(4), "day {day}: run records kept");
        sizes.push(fs::metadata(&env.db).unwrap().len());
    }
    // SQLite reuses the pages of deleted rows: the file stops growing.
    let settled = sizes[6];
    let last = *sizes.last().unwrap();
    assert!(
        last <= settled + settled / 4,
        "the file kept growing: {sizes:?}"
    );
}

#[test]
fn prune_older_than_deletes_events_runs_and_ended_blocks_on_demand() {
    let env = Env::new();
    let log = env.path("maillog");
    append(&log, &iso_failure(0, "203.0.113.1"));
    env.ingest_with(&[&log], &["--as-of", &at(DAY / 2)]);
    append(&log, &iso_failure(10 * DAY, "203.0.113.2"));
    env.ingest_with(&[&log], &["--as-of", &at(10 * DAY)]);
    // A block that ended on day 2 (old), one that ended on day 9 (recent), one active.
    for (network, from, to) in [("192.0.2.1", 1, 2), ("192.0.2.2", 8, 9)] {
        env.run_ok(&[
            "block",
            network,
            "--target",
            "postfix",
            "--as-of",
            &at(from * DAY),
        ]);
        env.run_ok(&["unblock", network, "--as-of", &at(to * DAY)]);
    }
    env.run_ok(&[
        "block",
        "192.0.2.3",
        "--target",
        "postfix",
        "--permanent",
        "--as-of",
        &at(DAY),
    ]);
    assert_eq!(env.sql_count("SELECT count(*) FROM blocks"), 3);
    env.cmd()
        .args(["prune", "--older-than", "5d", "--as-of", &at(11 * DAY)])
        .assert()
        .success();
    assert_eq!(env.sql_count("SELECT count(*) FROM events"), 1);
    let rows = env.top(&["--period", "all", "--as-of", &at(11 * DAY)]);
    assert_eq!(rows[0]["ip"], "203.0.113.2");
    assert_eq!(
        env.sql_count("SELECT count(*) FROM runs WHERE command = 'ingest'"),
        1,
        "the day-0 ingest's record went, the day-10 one stayed"
    );
    assert_eq!(
        env.sql_count("SELECT started_at FROM runs WHERE command = 'ingest'"),
        1_795_737_600 + 10 * DAY
    );
    let kept: i64 = env
        .sql_count("SELECT count(*) FROM blocks WHERE network IN ('192.0.2.2/32', '192.0.2.3/32')");
    assert_eq!(kept, 2, "the recently ended and the active block stay");
    assert_eq!(env.sql_count("SELECT count(*) FROM blocks"), 2);
}
