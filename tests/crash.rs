//! Crash safety and concurrency on a generated log whose exact truth is known:
//! `kill -9` at random moments, then a finishing run, must give exactly the
//! generator's per-address counts; so must two runs started at the same time.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::Env;

fn generate(env: &Env, lines: u64, seed: u64) -> (std::path::PathBuf, BTreeMap<String, i64>) {
    let log = env.path("maillog");
    let truth = env.path("truth.json");
    let status = Command::new(env!("CARGO_BIN_EXE_saslguard-gen"))
        .env("TZ", "UTC")
        .args(["--lines", &lines.to_string(), "--seed", &seed.to_string()])
        .args(["--end", "2026-11-27T12:00:00Z", "--format", "mixed"])
        .arg("--out")
        .arg(&log)
        .arg("--truth")
        .arg(&truth)
        .status()
        .expect("run saslguard-gen");
    assert!(status.success());
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

#[test]
fn kill_9_at_random_moments_loses_and_duplicates_nothing() {
    let env = Env::new();
    let (log, truth) = generate(&env, 400_000, 7);
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
    for _ in 0..40 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_saslguard"))
            .env("TZ", "UTC")
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
        std::thread::sleep(Duration::from_millis(5 + delays.next_ms(150)));
        if child.try_wait().expect("wait").is_none() {
            child.kill().expect("SIGKILL");
            killed += 1;
        }
        child.wait().expect("reap");
    }
    println!("killed {killed} runs mid-way");
    assert!(
        killed > 0,
        "no run was killed: the log is too small to test anything"
    );
    env.ingest(&[&log]);
    assert_eq!(env.counts(), truth);
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
