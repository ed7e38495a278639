//! Crash safety and concurrency on a generated log whose exact truth is known:
//! `kill -9` at random moments, then a finishing run, must give exactly the
//! generator's per-address counts; so must two runs started at the same time.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::Env;

fn generate(env: &Env, lines: u64, seed: u64) -> (std::path::PathBuf, BTreeMap<String, i64>) {
    let log = env.path("maillog");
    let truth = env.path("truth.json");
    let options = saslguard_gen::Options::from_flags([
        "--lines",
        &lines.to_string(),
        "--seed",
        &seed.to_string(),
        "--end",
        "2026-11-27T12:00:00Z",
        "--format",
        "mixed",
    ])
    .expect("generator flags")
    .in_utc();
    saslguard_gen::write(&options, &log, &truth).expect("run saslguard-gen");
    (log, read_truth(&truth))
}

fn read_truth(path: &Path) -> BTreeMap<String, i64> {
    let truth: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).expect("truth")).expect("truth JSON");
    truth["failures"]
        .as_object()
        .expect("failures")
        .iter()
        .map(|(ip, n)| (ip.clone(), n.as_i64().expect("count")))
        .collect()
}

/// A small deterministic generator for kill delays (xorshift), seeded from the clock
/// and printed so a failure can be replayed.
struct Delays(u64);

impl Delays {
    fn next_ms(&mut self, max: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % max
    }
}

/// How often ingest commits in the kill test (one parsing chunk of 4,096 events), instead
/// of every 400,000 events: the test log then takes about ten commits, so kills land
/// between two of them.
const TEST_BATCH_EVENTS: &str = "4096";

/// What a killed run left committed: events stored and the stream's stored offset
/// (`None`: no database or no stream yet).
fn committed(db: &Path) -> Option<(i64, i64)> {
    let conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ok()?;
    let events = conn
        .query_row("SELECT count(*) FROM events", [], |row| row.get(0))
        .ok()?;
    let offset = conn
        .query_row("SELECT max(read_offset) FROM streams", [], |row| {
            row.get::<_, Option<i64>>(0)
        })
        .ok()??;
    Some((events, offset))
}

#[test]
fn kill_9_at_random_moments_loses_and_duplicates_nothing() {
    let env = Env::new();
    let (log, truth) = generate(&env, 200_000, 7);
    let size = std::fs::metadata(&log).expect("log").len() as i64;
    let seed = std::env::var("SASLGUARD_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("kill delays seed: {seed} (set SASLGUARD_KILL_SEED to replay)");
    let mut delays = Delays(seed);
    let mut killed = 0;
    // (events, offset) committed when a kill left the stream strictly inside the log.
    let mut partial: Vec<(i64, i64)> = Vec::new();
    let mut last = (0, 0);
    // Kills in a row that left nothing new committed.
    let mut stalls = 0u32;
    for _ in 0..40 {
        let started = std::time::Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_saslguard"))
            .env("TZ", "UTC")
            .env("SASLGUARD_BATCH_EVENTS", TEST_BATCH_EVENTS)
            .arg("--db")
            .arg(&env.db)
            .arg("--config")
            .arg(&env.config)
            .args(["ingest", "-q"])
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        // Up to about a third of a full read of the log (one second in a debug build), so
        // several runs are killed at different places in it before one finishes; longer
        // after kills that left nothing new, so a slow machine still gets past a commit.
        let longest = 300 << stalls.min(4);
        std::thread::sleep(Duration::from_millis(5 + delays.next_ms(longest)));
        if child.try_wait().expect("wait").is_none() {
            child.kill().expect("SIGKILL");
            killed += 1;
        }
        child.wait().expect("reap");
        let Some(now) = committed(&env.db) else {
            stalls += 1;
            continue;
        };
        println!("after {:?}: {now:?} (events, offset)", started.elapsed());
        // What was committed stays committed.
        assert!(now.0 >= last.0 && now.1 >= last.1, "{last:?} -> {now:?}");
        stalls = if now == last { stalls + 1 } else { 0 };
        last = now;
        if now.1 > 0 && now.1 < size {
            assert!(now.0 > 0, "offset {} with no events stored", now.1);
            partial.push(now);
        }
        if now.1 == size {
            break;
        }
    }
    partial.dedup();
    println!("killed {killed} runs mid-way; partial databases left: {partial:?}");
    assert!(
        !partial.is_empty(),
        "no kill left a partial database (events committed, offset inside the {size}-byte \
         log): the test exercised no resume from a committed mid-file offset"
    );
    env.ingest(&[&log]);
    assert_eq!(env.counts(), truth);
    // Each partial database held exactly the events of the lines before its offset: the
    // offset and the events before it were committed together.
    for (events, offset) in &partial {
        let before = env.sql_count(&format!(
            "SELECT count(*) FROM events WHERE (id & ((1 << 40) - 1)) < {offset}"
        ));
        assert_eq!(before, *events, "offset {offset}");
    }
    // And a re-read from the start finds every event already stored.
    let again = env.ingest_with(&[&log], &["--from-start"]);
    assert_eq!(again["events"], 0);
    assert_eq!(env.counts(), truth);
}

#[test]
fn two_runs_started_together_store_every_event_once() {
    let env = Env::new();
    let (log, truth) = generate(&env, 100_000, 11);
    let spawn = || {
        Command::new(env!("CARGO_BIN_EXE_saslguard"))
            .env("TZ", "UTC")
            .arg("--db")
            .arg(&env.db)
            .arg("--config")
            .arg(&env.config)
            .args(["ingest", "--format", "json"])
            .arg(&log)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let events = |out: &std::process::Output| {
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["events"]
            .as_i64()
            .unwrap()
    };
    let total: i64 = truth.values().sum();
    assert!(total > 0);
    // One run stored everything, the other waited and found nothing new.
    let mut stored = [events(&a), events(&b)];
    stored.sort();
    assert_eq!(stored[0], 0);
    assert!(stored[1] >= total, "{stored:?} vs {total} failures");
    assert_eq!(env.counts(), truth);
}
