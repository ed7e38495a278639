//! The rollups (`migrations/sqlite/006_rollups.sql`, keyed by day first since
//! `008_rollups_by_day.sql`) always equal a direct count over the
//! events: after reads split at arbitrary bytes, after the same lines are read again,
//! after retention deletes old events, and when an older database is migrated. And
//! what `top`, `show` and `report` print from them equals the same count straight from
//! `events`, for periods that do not start or end on an hour.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use chrono::DateTime;
use common::*;
use rusqlite::Connection;

const END: &str = "2026-11-27T12:00:00Z";

/// Each rollup table and the GROUP BY over `events` it must equal, row for row.
const CHECKS: &[(&str, &str, &str)] = &[
    (
        "address_days",
        "SELECT address_id, kind, day, events FROM address_days",
        "SELECT address_id, kind, ts / 86400, COUNT(*) FROM events GROUP BY 1, 2, 3",
    ),
    (
        "address_weeks",
        "SELECT address_id, kind, week, events FROM address_weeks",
        "SELECT address_id, kind, ts / 604800, COUNT(*) FROM events GROUP BY 1, 2, 3",
    ),
    (
        "hour_totals",
        "SELECT kind, hour, events FROM hour_totals",
        "SELECT kind, ts / 3600, COUNT(*) FROM events GROUP BY 1, 2",
    ),
    (
        "label_hours",
        "SELECT dimension, hour, label_id, failures, first_ts, last_ts FROM label_hours",
        "SELECT 0, ts / 3600, COALESCE(username_id, 0), COUNT(*), MIN(ts), MAX(ts)
         FROM events WHERE kind = 0 GROUP BY 2, 3
         UNION ALL
         SELECT 1, ts / 3600, mechanism_id, COUNT(*), MIN(ts), MAX(ts)
         FROM events WHERE kind = 0 GROUP BY 2, 3
         UNION ALL
         SELECT 2, ts / 3600, service_id, COUNT(*), MIN(ts), MAX(ts)
         FROM events WHERE kind = 0 GROUP BY 2, 3",
    ),
];

fn rows(conn: &Connection, sql: &str) -> BTreeSet<Vec<i64>> {
    let mut stmt = conn.prepare(sql).unwrap();
    let width = stmt.column_count();
    stmt.query_map([], |row| (0..width).map(|i| row.get(i)).collect())
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// The hourly counts inside `address_days.hours` as rows
/// (address, kind, hour, events), hours without events left out.
fn hourly_rows(conn: &Connection) -> BTreeSet<Vec<i64>> {
    let mut stmt = conn
        .prepare("SELECT address_id, kind, day, hours FROM address_days")
        .unwrap();
    let mut out = BTreeSet::new();
    let rows = stmt
        .query_map([], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, Vec<u8>>(3)?,
            ))
        })
        .unwrap();
    for row in rows {
        let (address, kind, day, hours) = row.unwrap();
        for (hour, n) in decode_hours(&hours) {
            out.insert(vec![address, kind, day * 24 + hour, n]);
        }
    }
    out
}

/// The (hour of the day, events) pairs of an `hours` blob: (hour, LEB128 count) for each
/// hour with events, hours in order (decoded here independently of the store's code).
fn decode_hours(hours: &[u8]) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut bytes = hours.iter();
    while let Some(&hour) = bytes.next() {
        let (mut n, mut shift) = (0i64, 0);
        loop {
            let byte = *bytes.next().expect("an hours blob cut short");
            n |= i64::from(byte & 0x7f) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        let hour = i64::from(hour);
        let previous = out.last().map_or(-1, |(h, _)| *h);
        assert!(
            previous < hour && hour < 24 && n > 0,
            "hours blob {hours:?}"
        );
        out.push((hour, n));
    }
    out
}

/// Rewrites every `address_days.hours` in the layout schemas 6 to 11 wrote: 24
/// little-endian u32.
fn to_fixed_hours(conn: &Connection) {
    let rows: Vec<(i64, i64, i64, Vec<u8>)> = conn
        .prepare("SELECT address_id, kind, day, hours FROM address_days")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    for (address, kind, day, hours) in rows {
        let mut fixed = [0u32; 24];
        for (hour, n) in decode_hours(&hours) {
            fixed[hour as usize] = u32::try_from(n).unwrap();
        }
        let blob: Vec<u8> = fixed.iter().flat_map(|n| n.to_le_bytes()).collect();
        conn.execute(
            "UPDATE address_days SET hours = ?4 WHERE address_id = ?1 AND kind = ?2 AND day = ?3",
            rusqlite::params![address, kind, day, blob],
        )
        .unwrap();
    }
}

/// Asserts every rollup equals its direct count; returns the number of events.
fn assert_rollups_match(db: &Path, when: &str) -> i64 {
    let conn = Connection::open(db).unwrap();
    let hourly = [(
        "address_days.hours",
        hourly_rows(&conn),
        rows(
            &conn,
            "SELECT address_id, kind, ts / 3600, COUNT(*) FROM events GROUP BY 1, 2, 3",
        ),
    )];
    let tables = CHECKS
        .iter()
        .map(|(table, rollup, direct)| (*table, rows(&conn, rollup), rows(&conn, direct)));
    for (table, stored, counted) in hourly.into_iter().chain(tables) {
        let missing: Vec<_> = counted.difference(&stored).take(5).collect();
        let extra: Vec<_> = stored.difference(&counted).take(5).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{when}: {table} differs from the events: missing {missing:?}, extra {extra:?}"
        );
    }
    conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap()
}

fn generate(env: &Env, seed: &str) -> std::path::PathBuf {
    generate_over(env, seed, "3d", "40000")
}

/// A generated log of `lines` lines over `span` ending at [`END`].
fn generate_over(env: &Env, seed: &str, span: &str, lines: &str) -> std::path::PathBuf {
    let log = env.path("generated.log");
    let options = saslguard_gen::Options::from_flags([
        "--lines",
        lines,
        "--seed",
        seed,
        "--end",
        END,
        "--span",
        span,
        "--format",
        "mixed",
        "--attackers",
        "400",
    ])
    .expect("generator flags")
    .in_utc();
    saslguard_gen::write(&options, &log, &env.path("truth.json")).expect("run saslguard-gen");
    log
}

fn unix(rfc3339: &str) -> i64 {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp()
}

#[test]
fn rollups_equal_the_events_after_split_reads_rereads_and_retention() {
    let env = Env::new();
    let generated = std::fs::read(generate(&env, "21")).unwrap();
    let log = env.path("maillog");

    // Three reads, cut in the middle of lines: the partial line waits for the next read.
    for cut in [
        generated.len() / 3 + 17,
        generated.len() * 2 / 3 + 5,
        generated.len(),
    ] {
        std::fs::write(&log, &generated[..cut]).unwrap();
        env.ingest(&[&log]);
        assert_rollups_match(&env.db, &format!("after reading {cut} bytes"));
    }
    let events = assert_rollups_match(&env.db, "after the whole log");
    assert!(events > 5000, "only {events} events");

    // The same lines again (as after a lost offset): nothing is new, nothing counts twice.
    Connection::open(&env.db)
        .unwrap()
        .execute("UPDATE streams SET read_offset = 0", [])
        .unwrap();
    let again = env.ingest(&[&log]);
    assert_eq!(again["events"], 0, "{again}");
    assert_eq!(assert_rollups_match(&env.db, "after a re-read"), events);

    // Back to the last line start before the last 200 bytes, with 5 new lines after it:
    // the last chunk holds old lines and new ones, and only the new ones count.
    let resume = generated[..generated.len() - 200]
        .iter()
        .rposition(|&b| b == b'\n')
        .unwrap()
        + 1;
    Connection::open(&env.db)
        .unwrap()
        .execute("UPDATE streams SET read_offset = ?1", [resume as i64])
        .unwrap();
    let new_lines: String = (0..5)
        .map(|i| iso_failure(i * 600, "192.0.2.200"))
        .collect();
    append(&log, &new_lines);
    let mixed = env.ingest(&[&log]);
    assert_eq!(mixed["events"], 5, "{mixed}");
    assert!(mixed["duplicates"].as_i64().unwrap() > 0, "{mixed}");
    assert_eq!(
        assert_rollups_match(&env.db, "after old and new lines in one chunk"),
        events + 5
    );
    let events = events + 5;

    // Retention from a cut that is not on a day: whole days go, the rest stays.
    env.run_ok(&["prune", "--older-than", "50h30m", "--as-of", END]);
    let left = assert_rollups_match(&env.db, "after retention");
    assert!(left < events && left > 0, "{left} of {events} left");
    let cutoff_day = unix("2026-11-25T00:00:00Z");
    let conn = Connection::open(&env.db).unwrap();
    let (oldest, before_cutoff): (i64, i64) = conn
        .query_row(
            "SELECT MIN(ts), COUNT(*) FILTER (WHERE ts < ?1) FROM events",
            [cutoff_day],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(before_cutoff, 0);
    assert!(
        oldest < cutoff_day + 3600,
        "events of the day of the cut were deleted too: oldest {oldest}"
    );
    drop(conn);

    // Periods reaching back across the cut, starting and ending inside an hour: what
    // the rollups say is what the events that are left say.
    assert_top_equals_events(
        &env,
        "2026-11-27T09:41:07Z",
        &[
            ("3d", 3 * 86_400),
            ("50h59m", 50 * 3600 + 59 * 60),
            ("61m", 3660),
        ],
    );
}

/// Periods holding whole weeks read them from `address_weeks` and the days around them
/// from `address_days`: `top` over periods cut mid-hour, starting on any weekday, and
/// `report` totals (with the period before) equal direct counts over the events, also
/// after retention cut through a week.
#[test]
fn periods_of_whole_weeks_equal_the_events() {
    let env = Env::new();
    let log = generate_over(&env, "26", "25d", "30000");
    env.ingest(&[&log]);
    assert_rollups_match(&env.db, "after ingest");
    // The longest first: rows are those of any period, first and last seen of the first.
    let periods = [
        ("22d13s", 22 * 86_400 + 13),
        ("17d3h5m", 17 * 86_400 + 3 * 3600 + 300),
        ("9d", 9 * 86_400),
        ("23h", 23 * 3600),
    ];
    // 2026-11-26 is a Thursday, the first day of a rollup week (day 20783 = 7 * 2969).
    for as_of in [
        "2026-11-27T10:17:33Z",
        "2026-11-26T00:00:00Z",
        "2026-11-25T23:59:59Z",
    ] {
        assert_top_equals_events(&env, as_of, &periods);
        assert_report_totals_equal_events(&env, as_of, "11d7h", 11 * 86_400 + 7 * 3600);
    }
    env.run_ok(&["prune", "--older-than", "20d5h", "--as-of", END]);
    assert_rollups_match(&env.db, "after retention inside a week");
    assert_top_equals_events(&env, "2026-11-27T10:17:33Z", &periods);
    assert_report_totals_equal_events(&env, END, "9d", 9 * 86_400);
}

/// `report --period` as of `as_of`: failures, addresses and server faults of the period
/// and of the one before it equal direct counts over the events.
fn assert_report_totals_equal_events(env: &Env, as_of: &str, period: &str, seconds: i64) {
    let report = env.json(&[
        "report", "--period", period, "--format", "json", "--as-of", as_of,
    ]);
    let conn = Connection::open(&env.db).unwrap();
    let until = unix(as_of);
    for (part, since, until) in [
        ("current", until - seconds, until),
        ("previous", until - 2 * seconds, until - seconds),
    ] {
        let (failures, addresses, faults): (i64, i64, i64) = conn
            .query_row(
                "SELECT COUNT(*) FILTER (WHERE kind = 0),
                        COUNT(DISTINCT address_id) FILTER (WHERE kind = 0),
                        COUNT(*) FILTER (WHERE kind = 1)
                 FROM events WHERE ts > ?1 AND ts <= ?2",
                [since, until],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        let totals = &report[part];
        assert_eq!(
            totals["failures"], failures,
            "{part} of {period} as of {as_of}"
        );
        assert_eq!(
            totals["addresses"], addresses,
            "{part} of {period} as of {as_of}"
        );
        assert_eq!(
            totals["server_faults"], faults,
            "{part} of {period} as of {as_of}"
        );
    }
}

/// `top --period` (with first and last seen of the first period) over `periods` ending
/// at `as_of` equals a direct count over `events`.
fn assert_top_equals_events(env: &Env, as_of: &str, periods: &[(&str, i64)]) {
    let conn = Connection::open(&env.db).unwrap();
    let until = unix(as_of);
    let spec: Vec<&str> = periods.iter().map(|(text, _)| *text).collect();
    let rows = env.json(&[
        "top",
        "--period",
        &spec.join(","),
        "--limit",
        "0",
        "--format",
        "json",
        "--as-of",
        as_of,
    ]);
    let rows = rows.as_array().unwrap();
    for (index, (text, seconds)) in periods.iter().enumerate() {
        let direct = direct_per_address(&conn, until - seconds, until);
        assert!(!direct.is_empty(), "nothing in {text}");
        let printed: BTreeMap<String, i64> = rows
            .iter()
            .filter(|r| r["periods"][index]["failures"].as_i64().unwrap() > 0)
            .map(|r| {
                let n = r["periods"][index]["failures"].as_i64().unwrap();
                (r["ip"].as_str().unwrap().to_string(), n)
            })
            .collect();
        let expected: BTreeMap<String, i64> = direct
            .iter()
            .map(|(ip, (n, _, _))| (ip.clone(), *n))
            .collect();
        assert_eq!(printed, expected, "period {text} as of {as_of}");
        if index == 0 {
            for row in rows {
                let (_, first, last) = direct[row["ip"].as_str().unwrap()];
                assert_eq!(row["first_seen"], time_text(first), "{row}");
                assert_eq!(row["last_seen"], time_text(last), "{row}");
            }
        }
    }
}

/// A database of schema 9 (daily rollups keyed by address first, hours in 96 bytes)
/// gets the rollups of schemas 10, 12 and 13, equal to the events, when opened.
#[test]
fn a_database_of_schema_9_gets_rollups_by_day() {
    let env = Env::new();
    let log = generate(&env, "24");
    env.ingest(&[&log]);
    let events = assert_rollups_match(&env.db, "after ingest");
    let conn = Connection::open(&env.db).unwrap();
    conn.execute_batch(
        "CREATE TABLE old_days (
             address_id INTEGER NOT NULL, kind INTEGER NOT NULL, day INTEGER NOT NULL,
             events INTEGER NOT NULL, hours BLOB NOT NULL,
             PRIMARY KEY (address_id, kind, day)) WITHOUT ROWID;
         INSERT INTO old_days SELECT address_id, kind, day, events, hours FROM address_days;
         DROP TABLE address_days;
         DROP TABLE address_weeks;
         ALTER TABLE old_days RENAME TO address_days;
         CREATE INDEX address_days_by_day ON address_days(day, kind);
         DROP INDEX label_hours_by_label;
         PRAGMA user_version = 9;",
    )
    .unwrap();
    to_fixed_hours(&conn);
    drop(conn);
    assert_top_equals_events(
        &env,
        "2026-11-27T10:17:33Z",
        &[("26h5m", 26 * 3600 + 300), ("90m", 5400)],
    );
    assert_eq!(
        assert_rollups_match(&env.db, "after migrations 10, 12 and 13"),
        events
    );
    let conn = Connection::open(&env.db).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 13);
}

/// `report --period 10000000d` (27,000 years) answers from what is stored: it lists the
/// hours with failures, charts from the first of them in weeks or months, and stays
/// far below 100 MB (it took 98.9 s and 20 GB on 200k events before).
#[test]
fn an_absurd_period_costs_what_is_stored() {
    let env = Env::new();
    let log = generate(&env, "25");
    env.ingest(&[&log]);
    let as_of = "2026-11-27T10:17:33Z";
    let report = env.json(&[
        "report",
        "--period",
        "10000000d",
        "--format",
        "json",
        "--as-of",
        as_of,
    ]);
    let conn = Connection::open(&env.db).unwrap();
    let (failures, hours): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), COUNT(DISTINCT ts / 3600) FROM events WHERE kind = 0 AND ts <= ?1",
            [unix(as_of)],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(report["current"]["failures"], failures);
    assert_eq!(report["per_hour"].as_array().unwrap().len() as i64, hours);
    let bars = report["chart"]["bars"].as_array().unwrap();
    assert_eq!(
        report["chart"]["unit"], "day",
        "3 days of data chart per day"
    );
    assert!(bars.len() <= 4, "{} bars", bars.len());
    let charted: i64 = bars.iter().map(|b| b["failures"].as_i64().unwrap()).sum();
    assert_eq!(charted, failures);
    // Peak memory of the same report as a table and as HTML, measured by /usr/bin/time.
    for format in ["table", "html"] {
        let out = Command::new("/usr/bin/time")
            .env("TZ", "UTC")
            .args(["-f", "%M", "-o"])
            .arg(env.path("rss"))
            .arg(env!("CARGO_BIN_EXE_saslguard"))
            .arg("--db")
            .arg(&env.db)
            .arg("--config")
            .arg(&env.config)
            .args([
                "report",
                "--period",
                "10000000d",
                "--format",
                format,
                "--as-of",
                as_of,
            ])
            .output()
            .expect("run /usr/bin/time");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rss_kb: u64 = std::fs::read_to_string(env.path("rss"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(rss_kb < 100 * 1024, "{format}: peak RSS {rss_kb} kB");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.lines().count() < 400,
            "{format}: {} lines",
            text.lines().count()
        );
    }
}

#[test]
fn a_database_from_before_the_rollups_gets_them_when_opened() {
    let env = Env::new();
    let log = generate(&env, "22");
    env.ingest(&[&log]);
    let events = assert_rollups_match(&env.db, "after ingest");
    // Make it a version-5 database: the events without their rollups.
    let conn = Connection::open(&env.db).unwrap();
    conn.execute_batch(
        "DROP TABLE address_days; DROP TABLE hour_totals; DROP TABLE label_hours;
         DROP TABLE address_weeks;
         ALTER TABLE runs DROP COLUMN untrusted;
         PRAGMA user_version = 5;",
    )
    .unwrap();
    drop(conn);
    env.json(&["top", "--format", "json", "--as-of", END]);
    assert_eq!(assert_rollups_match(&env.db, "after the migration"), events);
}

/// Counted failures per address in `(since, until]`, straight from the events.
fn direct_per_address(
    conn: &Connection,
    since: i64,
    until: i64,
) -> BTreeMap<String, (i64, i64, i64)> {
    let mut stmt = conn
        .prepare(
            "SELECT a.ip, COUNT(*), MIN(e.ts), MAX(e.ts) FROM events e
             JOIN addresses a ON a.id = e.address_id
             WHERE e.kind = 0 AND e.ts > ?1 AND e.ts <= ?2 GROUP BY a.ip",
        )
        .unwrap();
    stmt.query_map([since, until], |row| {
        let key: Vec<u8> = row.get(0)?;
        Ok((key, row.get(1)?, row.get(2)?, row.get(3)?))
    })
    .unwrap()
    .map(|r| {
        let (key, n, first, last) = r.unwrap();
        (address_text(&key), (n, first, last))
    })
    .collect()
}

/// The printed form of a stored address key.
fn address_text(key: &[u8]) -> String {
    saslguard::store::sqlite::address::from_key(key)
        .expect("a stored address key")
        .to_string()
}

fn time_text(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0)
        .unwrap()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[test]
fn reports_from_rollups_equal_direct_counts_for_periods_off_the_hour() {
    let env = Env::new();
    let log = generate(&env, "23");
    env.ingest(&[&log]);
    let conn = Connection::open(&env.db).unwrap();
    let as_of = "2026-11-27T10:17:33Z";
    let until = unix(as_of);

    // top over periods that start and end inside an hour, and all.
    let rows = env.json(&[
        "top",
        "--period",
        "90m,12h,26h5m,all",
        "--limit",
        "0",
        "--format",
        "json",
        "--as-of",
        as_of,
    ]);
    let rows = rows.as_array().unwrap();
    // 12h crosses midnight without a whole day; 26h5m holds one.
    for (index, seconds) in [
        (0, Some(5400)),
        (1, Some(12 * 3600)),
        (2, Some(26 * 3600 + 300)),
        (3, None),
    ] {
        let since = seconds.map_or(i64::MIN, |s| until - s);
        let direct = direct_per_address(&conn, since, until);
        let printed: BTreeMap<String, i64> = rows
            .iter()
            .filter(|r| r["periods"][index]["failures"].as_i64().unwrap() > 0)
            .map(|r| {
                (
                    r["ip"].as_str().unwrap().to_string(),
                    r["periods"][index]["failures"].as_i64().unwrap(),
                )
            })
            .collect();
        let expected: BTreeMap<String, i64> = direct
            .iter()
            .map(|(ip, (n, _, _))| (ip.clone(), *n))
            .collect();
        assert_eq!(printed, expected, "period {index}");
        if index == 0 {
            // first and last seen are those of the first period, null outside it.
            for row in rows {
                match direct.get(row["ip"].as_str().unwrap()) {
                    Some(&(_, first, last)) => {
                        assert_eq!(row["first_seen"], time_text(first), "{row}");
                        assert_eq!(row["last_seen"], time_text(last), "{row}");
                    }
                    None => {
                        assert!(row["first_seen"].is_null(), "{row}");
                        assert!(row["last_seen"].is_null(), "{row}");
                    }
                }
            }
        }
    }

    // top --by user over a period off the hour.
    let since = until - (7 * 3600 + 1234);
    let users = env.json(&[
        "top", "--by", "user", "--period", "7h20m34s", "--limit", "0", "--format", "json",
        "--as-of", as_of,
    ]);
    let printed: BTreeMap<String, (i64, String, String)> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["user"].as_str().unwrap().to_string(),
                (
                    r["failures"].as_i64().unwrap(),
                    r["first_seen"].as_str().unwrap().to_string(),
                    r["last_seen"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect();
    let mut stmt = conn
        .prepare(
            "SELECT l.text, COUNT(*), MIN(e.ts), MAX(e.ts) FROM events e
             JOIN labels l ON l.id = e.username_id
             WHERE e.kind = 0 AND e.ts > ?1 AND e.ts <= ?2 GROUP BY l.text",
        )
        .unwrap();
    let direct: BTreeMap<String, (i64, String, String)> = stmt
        .query_map([since, until], |row| {
            Ok((
                row.get::<_, String>(0)?,
                (
                    row.get::<_, i64>(1)?,
                    time_text(row.get(2)?),
                    time_text(row.get(3)?),
                ),
            ))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(!direct.is_empty());
    assert_eq!(printed, direct);

    // report: totals, the hourly chart and the top usernames over 5 hours off the hour.
    let report = env.json(&[
        "report", "--period", "5h", "--format", "json", "--as-of", as_of,
    ]);
    let since = until - 5 * 3600;
    let direct = direct_per_address(&conn, since, until);
    let total: i64 = direct.values().map(|(n, _, _)| n).sum();
    assert_eq!(report["current"]["failures"], total);
    assert_eq!(report["current"]["addresses"], direct.len() as i64);
    let previous = direct_per_address(&conn, since - 5 * 3600, since);
    assert_eq!(
        report["previous"]["failures"],
        previous.values().map(|(n, _, _)| n).sum::<i64>()
    );
    let mut stmt = conn
        .prepare(
            "SELECT ts / 3600 * 3600, COUNT(*) FROM events
             WHERE kind = 0 AND ts > ?1 AND ts <= ?2 GROUP BY 1",
        )
        .unwrap();
    let per_hour: BTreeMap<String, i64> = stmt
        .query_map([since, until], |row| {
            Ok((time_text(row.get(0)?), row.get(1)?))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    for hour in report["per_hour"].as_array().unwrap() {
        let expected = per_hour
            .get(hour["hour"].as_str().unwrap())
            .copied()
            .unwrap_or(0);
        assert_eq!(hour["failures"], expected, "{hour}");
    }
    assert_eq!(
        report["per_hour"].as_array().unwrap().len(),
        6,
        "5 hours off the hour touch 6"
    );

    // show, as of a moment in the past: the whole-history rollup less what came after.
    let busiest = direct_per_address(&conn, i64::MIN, until)
        .into_iter()
        .max_by_key(|(ip, (n, _, _))| (*n, std::cmp::Reverse(ip.clone())))
        .unwrap();
    let shown = env.json(&["show", &busiest.0, "--format", "json", "--as-of", as_of]);
    assert_eq!(shown["failures"], busiest.1.0);
    assert_eq!(shown["first_seen"], time_text(busiest.1.1));
    assert_eq!(shown["last_seen"], time_text(busiest.1.2));
    let mut stmt = conn
        .prepare(
            "SELECT COALESCE(l.text, ''), COUNT(*) FROM events e
             JOIN addresses a ON a.id = e.address_id
             LEFT JOIN labels l ON l.id = e.username_id
             WHERE a.ip = ?1 AND e.kind = 0 AND e.ts <= ?2 GROUP BY 1",
        )
        .unwrap();
    let ip: std::net::IpAddr = busiest.0.parse().unwrap();
    let key: Vec<u8> = saslguard::store::sqlite::address::to_key(ip).to_vec();
    let direct: BTreeMap<String, i64> = stmt
        .query_map(rusqlite::params![key, until], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let printed: BTreeMap<String, i64> = shown["usernames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["username"].as_str().unwrap_or("").to_string(),
                u["failures"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(printed, direct, "usernames of {}", busiest.0);
}

/// `run` skips counting its windows when nothing changed since the last evaluation
/// (the policy's watermark), and only then: after every run, a full evaluation (the
/// watermark removed, `run --dry-run`) blocks nothing more than the run did, through
/// future-stamped events, new events, a changed config and an expired block.
#[test]
fn run_with_nothing_new_blocks_what_a_full_count_blocks() {
    let env = Env::new();
    let log = env.path("maillog");
    let map = env.path("map");
    let config = |threshold: i64| {
        let text = format!(
            "logs = [{log:?}]\n[postfix]\nmap = {map:?}\nmap_type = \"cidr\"\nreload_command = []\n\
             [firewall]\nbackend = \"none\"\n[allow]\nloopback = false\n\
             [[policy.tier]]\ntarget = \"postfix\"\nthreshold = {threshold}\nwindow = \"1h\"\nduration = \"1h\"\n"
        );
        std::fs::write(&env.config, text).unwrap();
    };
    let at = |seconds: i64| {
        DateTime::from_timestamp(1_795_737_600 + seconds, 0)
            .unwrap()
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let run = |seconds: i64, dry: bool| -> usize {
        let mut args = vec!["run", "--format", "json", "--as-of"];
        let when = at(seconds);
        args.push(&when);
        if dry {
            args.push("--dry-run");
        }
        let summary = env.json(&args);
        summary["blocks_created"].as_array().unwrap().len()
    };
    // What the run at `seconds` left to block, by a full count: nothing, always.
    let full_count_agrees = |seconds: i64| {
        let conn = Connection::open(&env.db).unwrap();
        conn.execute("DELETE FROM state WHERE key LIKE 'policy_%'", [])
            .unwrap();
        drop(conn);
        assert_eq!(
            run(seconds, true),
            0,
            "a full count at {seconds} blocks more"
        );
    };
    let watermark = || {
        let conn = Connection::open(&env.db).unwrap();
        conn.query_row(
            "SELECT COUNT(*) FROM state WHERE key = 'policy_signature'",
            [],
            |row| row.get::<_, i64>(0),
        )
        .unwrap()
    };
    config(5);
    std::fs::write(&log, failures(0, 4, "203.0.113.1")).unwrap();
    assert_eq!(run(600, false), 0);
    assert_eq!(watermark(), 1, "an evaluation records its watermark");
    assert_eq!(run(700, false), 0);
    full_count_agrees(700);
    // Events stamped after the run's time enter later windows: no watermark is kept.
    append(&log, &failures(1000, 5, "203.0.113.2"));
    assert_eq!(run(800, false), 0);
    assert_eq!(
        watermark(),
        0,
        "events after the evaluation's time keep none"
    );
    assert_eq!(run(1100, false), 1, "the future-stamped failures block");
    full_count_agrees(1100);
    // New events are counted.
    append(&log, &failures(1200, 1, "203.0.113.1"));
    append(&log, &failures(1200, 4, "203.0.113.3"));
    assert_eq!(
        run(1300, false),
        1,
        "the new failure makes 203.0.113.1 five"
    );
    assert_eq!(run(1310, false), 0);
    full_count_agrees(1310);
    // A changed policy is evaluated again, nothing new in the log.
    config(4);
    assert_eq!(run(1400, false), 1, "203.0.113.3 has 4, the new threshold");
    full_count_agrees(1400);
    // Earlier than the last evaluation: counted again (never skipped), same answer.
    assert_eq!(run(1350, false), 0);
    full_count_agrees(1350);
    // Blocks expire an hour later; the failures behind them never count twice, and
    // the expiry changes the watermark: the run after it counts and agrees.
    assert_eq!(run(1100 + 3600 + 10, false), 0);
    full_count_agrees(1100 + 3600 + 10);
}
