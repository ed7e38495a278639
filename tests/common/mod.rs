//! Shared helpers for the integration tests: a temporary directory with its own
//! database and config, and the real `saslguard` binary run against them.
#![allow(dead_code)]

pub(crate) use crate::need;

pub mod postgres;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use assert_cmd::Command;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// A scratch directory with a database path and an empty config.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub db: PathBuf,
    pub config: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("state.db");
        let config = dir.path().join("saslguard.toml");
        std::fs::write(&config, "").expect("config");
        Env { dir, db, config }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The real binary with this environment's database and config, in UTC.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_saslguard"));
        cmd.env_remove("SASLGUARD_DB")
            .env_remove("SASLGUARD_CONFIG")
            .env("TZ", "UTC")
            .arg("--db")
            .arg(&self.db)
            .arg("--config")
            .arg(&self.config);
        cmd
    }

    /// Runs the binary with `args`; panics, showing its stderr, unless it succeeds.
    pub fn run_ok(&self, args: &[&str]) -> std::process::Output {
        let output = self.cmd().args(args).output().expect("run saslguard");
        assert!(
            output.status.success(),
            "{args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output
    }

    /// Blocks `network` in the Postfix map for `duration` from `at` (`block --as-of`).
    pub fn block_postfix(&self, network: &str, duration: &str, at: &str) {
        self.run_ok(&[
            "block", network, "--target", "postfix", "--for", duration, "--as-of", at,
        ]);
    }

    /// Runs the binary with `args` and parses its stdout as JSON.
    pub fn json(&self, args: &[&str]) -> Value {
        serde_json::from_slice(&self.run_ok(args).stdout).expect("JSON output")
    }

    /// Runs `ingest --format json` on `paths`; panics unless it succeeds.
    pub fn ingest(&self, paths: &[&Path]) -> Value {
        self.ingest_with(paths, &[])
    }

    /// Runs `ingest --format json` with extra arguments; panics unless it succeeds.
    pub fn ingest_with(&self, paths: &[&Path], extra: &[&str]) -> Value {
        let output = self
            .cmd()
            .arg("ingest")
            .arg("--format")
            .arg("json")
            .args(extra)
            .args(paths)
            .output()
            .expect("run saslguard");
        assert!(
            output.status.success(),
            "ingest failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("ingest summary is JSON")
    }

    /// Failures per address over all time, from `top --format json`.
    pub fn counts(&self) -> BTreeMap<String, i64> {
        let rows = self.top(&["--period", "all", "--limit", "0"]);
        rows.as_array()
            .expect("array")
            .iter()
            .map(|row| {
                (
                    row["ip"].as_str().expect("ip").to_string(),
                    row["failures"].as_i64().expect("failures"),
                )
            })
            .collect()
    }

    /// `top --format json` with `args`, parsed.
    pub fn top(&self, args: &[&str]) -> Value {
        let output = self
            .cmd()
            .arg("top")
            .arg("--format")
            .arg("json")
            .args(args)
            .output()
            .expect("run saslguard");
        assert!(
            output.status.success(),
            "top failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("top output is JSON")
    }

    /// Direct read-only access to the database, for checks the CLI does not expose.
    pub fn sql_count(&self, sql: &str) -> i64 {
        let conn = rusqlite::Connection::open(&self.db).expect("open db");
        conn.query_row(sql, [], |row| row.get(0)).expect("query")
    }
}

/// A traditional-syslog failure line (year-less, zero time zone in tests).
pub fn syslog_failure(stamp: &str, ip: &str) -> String {
    format!(
        "{stamp} mx postfix/smtpd[4242]: warning: unknown[{ip}]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n"
    )
}

/// An RFC 3339 failure line `seconds` after 2026-11-27T00:00:00Z.
pub fn iso_failure(seconds: i64, ip: &str) -> String {
    let time = DateTime::<Utc>::from_timestamp(1_795_737_600 + seconds, 0).expect("time");
    format!(
        "{} mx postfix/submission/smtpd[777]: warning: unknown[{ip}]: SASL PLAIN authentication failed: authentication failure, sasl_username=user{seconds}@example.com\n",
        time.format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
    )
}

/// An RFC 3339 line of ordinary traffic that must not count.
pub fn iso_noise(seconds: i64) -> String {
    let time = DateTime::<Utc>::from_timestamp(1_795_737_600 + seconds, 0).expect("time");
    format!(
        "{} mx postfix/smtpd[777]: connect from unknown[198.51.100.{}]\n",
        time.format("%Y-%m-%dT%H:%M:%S%.6f+00:00"),
        seconds % 250
    )
}

/// Appends `text` to `path` (creating it).
pub fn append(path: &Path, text: &str) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open for append");
    file.write_all(text.as_bytes()).expect("append");
}

/// Sets a file's modification time (the reference for year-less stamps).
pub fn set_mtime(path: &Path, rfc3339: &str) {
    let time: SystemTime = DateTime::parse_from_rfc3339(rfc3339)
        .expect("time")
        .with_timezone(&Utc)
        .into();
    File::options()
        .write(true)
        .open(path)
        .expect("open")
        .set_modified(time)
        .expect("set mtime");
}

/// `n` failures of `ip` starting `from` seconds after the base time.
pub fn failures(from: i64, n: i64, ip: &str) -> String {
    (from..from + n).map(|s| iso_failure(s, ip)).collect()
}

/// The fixtures folder.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A file's identity for "was it rewritten?": its inode and modification time, after
/// setting that time an hour back, so a rewrite (a new inode from an atomic rename, or
/// a write in place) always shows, however fast the test runs.
pub fn stamp_identity(path: &Path) -> (u64, SystemTime) {
    let old = SystemTime::now() - std::time::Duration::from_secs(3600);
    File::options()
        .write(true)
        .open(path)
        .expect("open to stamp")
        .set_modified(old)
        .expect("set mtime");
    identity(path)
}

/// A file's inode and modification time (see [`stamp_identity`]).
pub fn identity(path: &Path) -> (u64, SystemTime) {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).expect("metadata");
    (meta.ino(), meta.modified().expect("mtime"))
}

impl Env {
    /// Postfix's tools read main.cf; a test machine's Postfix may have none ("No
    /// configuration"), so they get an empty one of their own in this environment. It
    /// is dated an hour back: Postfix programs wait, polling, while main.cf looks
    /// freshly written.
    pub fn mail_config(&self) -> PathBuf {
        let dir = self.path("postfix-config");
        let main_cf = dir.join("main.cf");
        if !main_cf.exists() {
            std::fs::create_dir_all(&dir).expect("postfix-config");
            std::fs::write(&main_cf, "").expect("main.cf");
            File::options()
                .write(true)
                .open(&main_cf)
                .expect("main.cf")
                .set_modified(SystemTime::now() - std::time::Duration::from_secs(3600))
                .expect("main.cf mtime");
        }
        dir
    }
}

/// Whether postmap can be used: in CI its absence fails the test, elsewhere the tests
/// needing it are skipped (see `need`).
pub fn postmap_available() -> bool {
    let found = std::process::Command::new("postmap")
        .arg("-h")
        .output()
        .is_ok();
    need::met(
        "the postmap tests",
        (!found).then_some("postmap is not installed (apt-get install postfix postfix-lmdb)"),
    )
}
