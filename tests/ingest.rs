//! `saslguard ingest` end to end on real files: rotation in every style, partial lines,
//! years and time zones, idempotence, locking and bad input.

use crate::common;

use std::collections::BTreeMap;
use std::fs::{self, File, TryLockError};
use std::io::Write;

use common::*;

fn map(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

#[test]
fn a_second_run_reads_only_new_lines() {
    let env = Env::new();
    let log = env.path("maillog");
    append(&log, &(failures(0, 3, "203.0.113.7") + &iso_noise(5)));
    let first = env.ingest(&[&log]);
    assert_eq!(first["lines"], 4);
    assert_eq!(first["events"], 3);
    append(&log, &failures(10, 2, "203.0.113.7"));
    let second = env.ingest(&[&log]);
    assert_eq!(second["lines"], 2, "only the appended lines are read");
    assert_eq!(second["events"], 2);
    let third = env.ingest(&[&log]);
    assert_eq!(third["lines"], 0);
    assert_eq!(env.counts(), map(&[("203.0.113.7", 5)]));
}

#[test]
fn rename_rotation_reads_the_old_files_tail_then_the_new_file() {
    let env = Env::new();
    let log = env.path("maillog");
    append(&log, &failures(0, 2, "203.0.113.1"));
    env.ingest(&[&log]);
    // Written after the last run, then the file is renamed away ...
    append(&log, &failures(100, 3, "203.0.113.1"));
    fs::rename(&log, env.path("maillog-20261127")).unwrap();
    // ... syslog keeps writing to the old inode until it is told to reopen ...
    append(
        &env.path("maillog-20261127"),
        &failures(200, 4, "203.0.113.2"),
    );
    // ... and a new file takes the name.
    append(&log, &failures(300, 5, "203.0.113.3"));
    let summary = env.ingest(&[&log]);
    assert_eq!(summary["events"], 12);
    assert_eq!(
        env.counts(),
        map(&[("203.0.113.1", 5), ("203.0.113.2", 4), ("203.0.113.3", 5)])
    );
    // Nothing is read twice afterwards.
    assert_eq!(env.ingest(&[&log])["lines"], 0);
}

#[test]
fn a_gzip_compressed_predecessor_is_finished() {
    let env = Env::new();
    let log = env.path("mail.log");
    append(&log, &failures(0, 2, "2001:db8::7"));
    env.ingest(&[&log]);
    append(&log, &failures(50, 3, "2001:db8::7"));
    // logrotate with compress and no delaycompress: mail.log -> mail.log.1.gz
    let content = fs::read(&log).unwrap();
    let mut gz = flate2::write::GzEncoder::new(
        File::create(env.path("mail.log.1.gz")).unwrap(),
        flate2::Compression::default(),
    );
    gz.write_all(&content).unwrap();
    gz.finish().unwrap();
    fs::remove_file(&log).unwrap();
    append(&log, &failures(100, 1, "192.0.2.9"));
    env.ingest(&[&log]);
    assert_eq!(env.counts(), map(&[("192.0.2.9", 1), ("2001:db8::7", 5)]));
}

#[test]
fn copytruncate_reads_the_copy_then_starts_over() {
    let env = Env::new();
    let log = env.path("maillog");
    append(&log, &failures(0, 4, "203.0.113.4"));
    env.ingest(&[&log]);
    append(&log, &failures(10, 2, "203.0.113.4"));
    fs::copy(&log, env.path("maillog.1")).unwrap();
    File::options()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&log, &failures(20, 1, "203.0.113.5"));
    env.ingest(&[&log]);
    assert_eq!(env.counts(), map(&[("203.0.113.4", 6), ("203.0.113.5", 1)]));
}

#[test]
fn truncation_without_a_copy_starts_over_at_zero() {
    let env = Env::new();
    let log = env.path("maillog");
    append(&log, &failures(0, 4, "203.0.113.4"));
    env.ingest(&[&log]);
    File::options()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    append(&log, &failures(20, 1, "203.0.113.5"));
    env.ingest(&[&log]);
    assert_eq!(env.counts(), map(&[("203.0.113.4", 4), ("203.0.113.5", 1)]));
}

#[test]
fn two_rotations_between_runs_lose_nothing() {
    let env = Env::new();
    let log = env.path("maillog");
    append(&log, &failures(0, 1, "203.0.113.1"));
    env.ingest(&[&log]);
    append(&log, &failures(10, 2, "203.0.113.1"));
    fs::rename(&log, env.path("maillog.1")).unwrap();
    append(&log, &failures(20, 3, "203.0.113.2"));
    fs::rename(env.path("maillog.1"), env.path("maillog.2")).unwrap();
    fs::rename(&log, env.path("maillog.1")).unwrap();
    append(&log, &failures(30, 4, "203.0.113.3"));
    env.ingest(&[&log]);
    assert_eq!(
        env.counts(),
        map(&[("203.0.113.1", 3), ("203.0.113.2", 3), ("203.0.113.3", 4)])
    );
}

#[test]
fn a_partial_last_line_waits_for_its_newline() {
    let env = Env::new();
    let log = env.path("maillog");
    let line = iso_failure(7, "198.51.100.77");
    let (head, tail) = line.split_at(60);
    append(&log, &(iso_failure(1, "198.51.100.1") + head));
    let first = env.ingest(&[&log]);
    assert_eq!(first["lines"], 1);
    assert_eq!(first["unparsed"], 0, "the half line is not judged yet");
    append(&log, tail);
    let second = env.ingest(&[&log]);
    assert_eq!(second["lines"], 1);
    assert_eq!(second["events"], 1);
    assert_eq!(
        env.counts(),
        map(&[("198.51.100.1", 1), ("198.51.100.77", 1)])
    );
}

#[test]
fn re_ingesting_the_same_bytes_stores_each_event_once() {
    let env = Env::new();
    let log = env.path("maillog");
    // Identical lines in the same second are distinct events.
    let line = iso_failure(3, "203.0.113.9");
    append(&log, &format!("{line}{line}{line}"));
    assert_eq!(env.ingest(&[&log])["events"], 3);
    let again = env.ingest_with(&[&log], &["--from-start"]);
    assert_eq!(again["events"], 0);
    assert_eq!(again["duplicates"], 3);
    // The same content under another name is the same stream.
    fs::copy(&log, env.path("copy.log")).unwrap();
    assert_eq!(env.ingest(&[&env.path("copy.log")])["events"], 0);
    assert_eq!(env.counts(), map(&[("203.0.113.9", 3)]));
}

#[test]
fn stdin_is_read_and_deduplicated_like_a_file() {
    let env = Env::new();
    let text = failures(0, 3, "203.0.113.33") + &iso_noise(9);
    for expected_new in [3, 0] {
        let output = env
            .cmd()
            .args(["ingest", "--format", "json", "-"])
            .write_stdin(text.clone())
            .output()
            .unwrap();
        assert!(output.status.success());
        let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(summary["events"], expected_new);
    }
    assert_eq!(env.counts(), map(&[("203.0.113.33", 3)]));
}

#[test]
fn year_less_stamps_take_the_year_from_the_files_mtime_across_new_year() {
    let env = Env::new();
    let log = env.path("maillog");
    append(
        &log,
        &(syslog_failure("Dec 31 23:59:50", "192.0.2.1")
            + &syslog_failure("Jan  1 00:00:10", "192.0.2.1")),
    );
    set_mtime(&log, "2027-01-01T00:05:00Z");
    env.ingest(&[&log]);
    let rows = env.top(&["--period", "all", "--as-of", "2027-01-01T00:05:00Z"]);
    assert_eq!(rows[0]["failures"], 2);
    assert_eq!(rows[0]["first_seen"], "2026-12-31T23:59:50Z");
    assert_eq!(rows[0]["last_seen"], "2027-01-01T00:00:10Z");
}

#[test]
fn a_stamp_after_the_reference_belongs_to_the_previous_year() {
    let env = Env::new();
    let log = env.path("maillog");
    append(&log, &syslog_failure("Dec 20 10:00:00", "192.0.2.1"));
    set_mtime(&log, "2026-03-01T00:00:00Z");
    env.ingest(&[&log]);
    assert_eq!(
        env.top(&["--period", "all"])[0]["first_seen"],
        "2025-12-20T10:00:00Z"
    );
}

#[test]
fn year_less_stamps_are_local_time_of_tz_or_the_configured_zone() {
    let env = Env::new();
    let log = env.path("maillog");
    append(&log, &syslog_failure("Nov 27 09:00:00", "192.0.2.1"));
    set_mtime(&log, "2026-11-28T00:00:00Z");
    let output = env
        .cmd()
        .env("TZ", "Asia/Tokyo")
        .args(["ingest", "-q"])
        .arg(&log)
        .output()
        .unwrap();
    assert!(output.status.success());
    assert_eq!(
        env.top(&["--period", "all"])[0]["first_seen"],
        "2026-11-27T00:00:00Z"
    );

    // The config's timezone wins over TZ.
    let other = Env::new();
    fs::write(&other.config, "timezone = \"America/New_York\"\n").unwrap();
    other
        .cmd()
        .env("TZ", "Asia/Tokyo")
        .args(["ingest", "-q"])
        .arg(&log)
        .assert()
        .success();
    assert_eq!(
        other.top(&["--period", "all"])[0]["first_seen"],
        "2026-11-27T14:00:00Z"
    );
}

#[test]
fn an_unknown_time_zone_is_an_error_not_silent_utc() {
    let env = Env::new();
    fs::write(&env.config, "timezone = \"Mars/Olympus\"\n").unwrap();
    let log = env.path("maillog");
    append(&log, &failures(0, 1, "192.0.2.1"));
    let output = env.cmd().arg("ingest").arg(&log).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Mars/Olympus"), "{stderr}");
    assert!(!env.db.exists());
}

#[test]
fn an_unknown_tz_is_an_error_not_silent_utc() {
    let env = Env::new();
    let log = env.path("maillog");
    append(&log, &failures(0, 1, "192.0.2.1"));
    let output = env
        .cmd()
        .env("TZ", "Mars/Olympus")
        .arg("ingest")
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("TZ") && stderr.contains("Mars/Olympus"),
        "{stderr}"
    );
    assert!(!env.db.exists());
}

#[test]
fn explicit_offsets_in_stamps_ignore_the_local_zone() {
    let env = Env::new();
    let log = env.path("maillog");
    append(
        &log,
        "2026-11-27T09:00:00+0900 mx postfix/smtpd[1]: warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n",
    );
    env.cmd()
        .env("TZ", "America/New_York")
        .args(["ingest", "-q"])
        .arg(&log)
        .assert()
        .success();
    assert_eq!(
        env.top(&["--period", "all"])[0]["first_seen"],
        "2026-11-27T00:00:00Z"
    );
}

#[test]
fn an_unreadable_log_is_named_and_the_database_is_untouched() {
    let env = Env::new();
    let log = env.path("maillog");
    append(&log, &failures(0, 2, "192.0.2.1"));
    env.ingest(&[&log]);
    append(&log, &failures(10, 2, "192.0.2.1"));
    let runs_before = env.sql_count("SELECT count(*) FROM runs");
    let missing = env.path("no-such-log");
    let output = env
        .cmd()
        .arg("ingest")
        .arg(&log)
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no-such-log"), "{stderr}");
    assert_eq!(env.sql_count("SELECT count(*) FROM runs"), runs_before);
    assert_eq!(env.counts(), map(&[("192.0.2.1", 2)]));

    // A fresh database is not even created.
    let fresh = Env::new();
    fresh.cmd().arg("ingest").arg(&missing).assert().code(1);
    assert!(!fresh.db.exists());
}

#[test]
fn a_database_from_a_newer_saslguard_is_refused() {
    let env = Env::new();
    let log = env.path("maillog");
    append(&log, &failures(0, 1, "192.0.2.1"));
    env.ingest(&[&log]);
    rusqlite::Connection::open(&env.db)
        .unwrap()
        .pragma_update(None, "user_version", 999)
        .unwrap();
    let output = env.cmd().arg("ingest").arg(&log).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("newer than this saslguard"), "{stderr}");
}

#[test]
fn a_held_lock_makes_a_second_run_wait_then_give_up_clearly() {
    let env = Env::new();
    let log = env.path("maillog");
    append(&log, &failures(0, 1, "192.0.2.1"));
    env.ingest(&[&log]);
    let mut lock = File::options()
        .write(true)
        .open(env.path("state.db.lock"))
        .unwrap();
    match lock.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => panic!("lock still held"),
        Err(TryLockError::Error(e)) => panic!("{e}"),
    }
    // The holder writes its pid into the lock file, as saslguard does.
    let holder = std::process::id();
    lock.set_len(0).unwrap();
    lock.write_all(holder.to_string().as_bytes()).unwrap();
    append(&log, &failures(10, 1, "192.0.2.1"));
    let output = env
        .cmd()
        .args(["ingest", "--wait", "300ms"])
        .arg(&log)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let db = env.db.display();
    // The wait, then the give-up, both naming the holder's pid.
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].contains(&format!(
            "waiting for saslguard pid {holder} to finish with {db}"
        )),
        "{stderr}"
    );
    assert!(
        lines[1].contains(&format!(
            "another saslguard (pid {holder}) is using the database {db}"
        )),
        "{stderr}"
    );
    assert!(lines[1].contains("gave up after 300ms"), "{stderr}");
    drop(lock);
    env.ingest(&[&log]);
    assert_eq!(env.counts(), map(&[("192.0.2.1", 2)]));
}

#[test]
fn garbage_lines_are_counted_and_skipped() {
    let env = Env::new();
    let log = env.path("maillog");
    let mut bytes = failures(0, 1, "192.0.2.1").into_bytes();
    bytes.extend_from_slice(b"\x00\xff\xfe binary junk\n");
    bytes.extend(std::iter::repeat_n(b'A', 200_000));
    bytes.push(b'\n');
    bytes.extend_from_slice(failures(5, 1, "192.0.2.1").as_bytes());
    fs::write(&log, bytes).unwrap();
    let summary = env.ingest(&[&log]);
    assert_eq!(summary["lines"], 4);
    assert_eq!(summary["events"], 2);
    assert_eq!(summary["unparsed"], 2);
}

#[test]
fn every_fixture_yields_its_expected_counts() {
    let dir = fixtures().join("lines");
    // Every file there is a fixture log or its expectations: nothing is left unchecked.
    let mut names: Vec<String> = fs::read_dir(&dir)
        .expect("fixtures/lines")
        .map(|entry| {
            entry
                .unwrap()
                .file_name()
                .into_string()
                .expect("UTF-8 name")
        })
        .collect();
    names.sort();
    let logs: Vec<&str> = names
        .iter()
        .filter_map(|n| n.strip_suffix(".log"))
        .collect();
    let pairs: Vec<String> = logs
        .iter()
        .flat_map(|stem| [format!("{stem}.expected.json"), format!("{stem}.log")])
        .collect();
    assert_eq!(
        names, pairs,
        "every fixture log needs its .expected.json, and no more"
    );
    let mut checked = Vec::new();
    for stem in &logs {
        let path = dir.join(format!("{stem}.log"));
        let expected_path = dir.join(format!("{stem}.expected.json"));
        let expected: serde_json::Value =
            serde_json::from_slice(&fs::read(&expected_path).expect("expected.json")).unwrap();
        let env = Env::new();
        // The fixtures' journal entries come from Postfix running as uid 107.
        fs::write(&env.config, "[journal]\ntrusted_users = [\"107\"]\n").unwrap();
        let log = env.path("maillog");
        fs::copy(&path, &log).unwrap();
        set_mtime(&log, "2026-11-27T12:00:00Z");
        let summary = env.ingest(&[&log]);
        let name = path.display();
        assert_eq!(summary["lines"], expected["lines"], "{name}: lines");
        assert_eq!(
            summary["unparsed"], expected["unparsed"],
            "{name}: unparsed"
        );
        assert_eq!(
            summary["untrusted"], expected["untrusted"],
            "{name}: untrusted"
        );
        assert_eq!(
            env.sql_count("SELECT count(*) FROM events WHERE kind = 3"),
            expected["invalid_mechanism"].as_i64().unwrap(),
            "{name}: invalid mechanism"
        );
        let want: BTreeMap<String, i64> = expected["failures"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_i64().unwrap()))
            .collect();
        assert_eq!(env.counts(), want, "{name}: failures per address");
        assert_eq!(
            env.sql_count("SELECT count(*) FROM events WHERE kind = 1"),
            expected["server_faults"].as_i64().unwrap(),
            "{name}: server faults"
        );
        checked.push(*stem);
    }
    assert_eq!(
        checked,
        [
            "busybox",
            "hostile",
            "invalid-mechanism",
            "journal-untrusted",
            "journal",
            "maillog",
            "mechanism-case",
            "mixed",
            "other-projects",
            "repeated",
            "rfc3339-local",
            "rfc3339",
            "rfc5424",
            "short-iso",
            "syslog",
        ],
        "fixtures checked in {}",
        dir.display()
    );
}

#[test]
fn a_log_rotated_away_and_not_yet_recreated_is_finished_not_an_error() {
    let env = Env::new();
    let log = env.path("maillog");
    append(&log, &failures(0, 2, "203.0.113.1"));
    env.ingest(&[&log]);
    append(&log, &failures(10, 3, "203.0.113.1"));
    fs::rename(&log, env.path("maillog.1")).unwrap();
    // The writer has not logged a line since: no maillog at all.
    let summary = env.ingest(&[&log]);
    assert_eq!(summary["events"], 3, "the rest of the rotated file is read");
    append(&log, &failures(20, 1, "203.0.113.2"));
    env.ingest(&[&log]);
    assert_eq!(env.counts(), map(&[("203.0.113.1", 5), ("203.0.113.2", 1)]));
    // A path that never existed stays an error.
    let output = env
        .cmd()
        .arg("ingest")
        .arg(env.path("never-there"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("never-there"));
}

/// The binary with `env`'s database and config, as a plain process to spawn, with its
/// stderr piped.
fn spawn(env: &Env, args: &[&std::ffi::OsStr]) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_saslguard"))
        .env_remove("SASLGUARD_DB")
        .env_remove("SASLGUARD_CONFIG")
        .env("TZ", "UTC")
        .arg("--db")
        .arg(&env.db)
        .arg("--config")
        .arg(&env.config)
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn saslguard")
}

/// Reads `child`'s stderr until a line contains `text`; returns everything read so far
/// and a thread that collects the rest.
fn wait_for_stderr(
    child: &mut std::process::Child,
    text: &str,
) -> (String, std::thread::JoinHandle<String>) {
    use std::io::BufRead;
    let mut reader = std::io::BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).expect("read stderr");
        assert!(n > 0, "saslguard ended before saying {text:?}: {seen}");
        seen.push_str(&line);
        if line.contains(text) {
            break;
        }
    }
    let rest = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut reader, &mut rest);
        rest
    });
    (seen, rest)
}

/// A year-less syslog stamp for `time` (UTC, as the tests run with TZ=UTC).
fn syslog_stamp(time: chrono::DateTime<chrono::Utc>) -> String {
    time.format("%b %e %H:%M:%S").to_string()
}

/// The year of the first failure of `ip`, from `top`.
fn first_seen(env: &Env, ip: &str) -> String {
    let rows = env.top(&["--period", "all", "--limit", "0"]);
    rows.as_array()
        .unwrap()
        .iter()
        .find(|row| row["ip"] == ip)
        .map(|row| row["first_seen"].as_str().unwrap().to_string())
        .unwrap_or_else(|| panic!("{ip} not counted: {rows}"))
}

#[test]
fn lines_appended_while_the_run_waits_for_the_lock_keep_their_year() {
    let env = Env::new();
    let log = env.path("maillog");
    let now = chrono::Utc::now();
    let earlier = now - chrono::TimeDelta::hours(2);
    append(&log, &syslog_failure(&syslog_stamp(earlier), "192.0.2.1"));
    set_mtime(&log, &earlier.to_rfc3339());
    env.ingest(&[&log]);
    let lock = File::options()
        .write(true)
        .open(env.path("state.db.lock"))
        .unwrap();
    lock.try_lock().expect("lock");
    let mut child = spawn(
        &env,
        &[
            "ingest".as_ref(),
            "--wait".as_ref(),
            "60s".as_ref(),
            log.as_os_str(),
        ],
    );
    // The run has opened the log and waits for the lock: a fresh line arrives.
    let (_, rest) = wait_for_stderr(&mut child, "waiting for");
    let fresh = chrono::Utc::now();
    append(&log, &syslog_failure(&syslog_stamp(fresh), "192.0.2.2"));
    drop(lock);
    let status = child.wait().unwrap();
    let stderr = rest.join().unwrap();
    assert!(status.success(), "{stderr}");
    assert_eq!(
        first_seen(&env, "192.0.2.2"),
        fresh.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        "the line written while the run waited is from now, not a year ago"
    );
}

#[test]
fn lines_appended_during_a_long_read_keep_their_year() {
    let env = Env::new();
    let log = env.path("maillog");
    let now = chrono::Utc::now();
    let earlier = now - chrono::TimeDelta::hours(2);
    let mut text = syslog_failure(&syslog_stamp(earlier), "192.0.2.1");
    for n in 0..400_000 {
        text += &iso_noise(n);
    }
    fs::write(&log, text).unwrap();
    set_mtime(&log, &earlier.to_rfc3339());
    let mut child = spawn(&env, &["ingest".as_ref(), "-v".as_ref(), log.as_os_str()]);
    let (_, rest) = wait_for_stderr(&mut child, "reading ");
    let fresh = chrono::Utc::now();
    append(&log, &syslog_failure(&syslog_stamp(fresh), "192.0.2.2"));
    let status = child.wait().unwrap();
    let stderr = rest.join().unwrap();
    assert!(status.success(), "{stderr}");
    // Whichever run reads it, the line keeps the year it was written in.
    env.ingest(&[&log]);
    assert_eq!(
        first_seen(&env, "192.0.2.2"),
        fresh.format("%Y-%m-%dT%H:%M:%SZ").to_string()
    );
    assert_eq!(env.counts()["192.0.2.2"], 1);
}

#[test]
fn a_fifo_socket_or_device_as_log_is_refused_before_anything_opens_it() {
    let env = Env::new();
    let fifo = env.path("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let zero = env.path("zero");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    for (path, what) in [(&fifo, "is a FIFO"), (&zero, "is a character device")] {
        let output = env
            .cmd()
            .arg("ingest")
            .arg(path)
            .timeout(std::time::Duration::from_secs(20))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{}: {stderr}",
            path.display()
        );
        assert!(
            stderr.contains(&format!("cannot read log {}", path.display())),
            "{stderr}"
        );
        assert!(stderr.contains(what), "{stderr}");
        assert!(!env.db.exists(), "the database is not even created");
    }
}

#[test]
fn rsyslog_repeats_count_each_copy_once_across_re_reads() {
    let env = Env::new();
    let log = env.path("maillog");
    append(
        &log,
        "Nov 27 10:00:00 mx postfix/smtpd[3898]: warning: host.example[192.0.2.30]: SASL CRAM-MD5 authentication failed: authentication failure\n\
         Nov 27 10:00:30 mx postfix/smtpd[3898]: message repeated 2 times: [ warning: host.example[192.0.2.30]: SASL CRAM-MD5 authentication failed: authentication failure]\n\
         Nov 27 10:00:30 mx postfix/smtpd[3899]: warning: unknown[192.0.2.30]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n",
    );
    set_mtime(&log, "2026-11-27T12:00:00Z");
    let first = env.ingest(&[&log]);
    assert_eq!(first["events"], 4);
    let again = env.ingest_with(&[&log], &["--from-start"]);
    assert_eq!(again["events"], 0);
    assert_eq!(again["duplicates"], 4);
    assert_eq!(env.counts(), map(&[("192.0.2.30", 4)]));
}

#[test]
fn verbose_output_escapes_what_the_log_wrote() {
    let env = Env::new();
    let log = env.path("maillog");
    append(
        &log,
        "Nov 27 10:00:00 mx postfix/smtpd[1]: warning: evil\u{1b}[2J\u{202e}[192.0.2.1]: SASL LOGIN authentication failed: x\n",
    );
    let output = env.run_ok(&["-vv", "ingest", log.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains('\u{1b}'),
        "raw ESC on the terminal: {stderr:?}"
    );
    assert!(!stderr.contains('\u{202e}'), "raw U+202E: {stderr:?}");
    assert!(
        stderr.contains("evil\\u{1b}[2J\\u{202e}[192.0.2.1]"),
        "{stderr}"
    );
}

#[test]
fn a_repeat_count_beyond_what_the_line_can_hold_is_stored_as_far_as_possible_and_reported() {
    let env = Env::new();
    let log = env.path("maillog");
    let line = "Nov 27 10:00:30 mx postfix/smtpd[3898]: message repeated 5000 times: [ warning: unknown[192.0.2.31]: SASL LOGIN authentication failed: x]";
    append(&log, &format!("{line}\n"));
    set_mtime(&log, "2026-11-27T12:00:00Z");
    let output = env.run_ok(&["ingest", "--format", "json", log.to_str().unwrap()]);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let room = line.len() as i64 + 1;
    assert_eq!(summary["events"], room);
    assert_eq!(summary["unparsed"], 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("repeated 5000 times"), "{stderr}");
}

#[test]
fn rfc3339_stamps_without_offset_are_local_time_of_tz() {
    let env = Env::new();
    let log = env.path("maillog");
    append(
        &log,
        "2022-01-18T04:35:25.199554 host postfix/smtps/smtpd[438363]: warning: unknown[192.0.2.43]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\n",
    );
    let output = env
        .cmd()
        .env("TZ", "Asia/Tokyo")
        .args(["ingest", "--format", "json"])
        .arg(&log)
        .output()
        .unwrap();
    assert!(output.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["events"], 1);
    assert_eq!(summary["unparsed"], 0);
    assert_eq!(first_seen(&env, "192.0.2.43"), "2022-01-17T19:35:25Z");
}

/// A clock ahead of the log's modification time (logs in UTC+2 read with `timezone =
/// "UTC"`, a remote sender's clock, an mtime set back) must not put fresh lines into
/// last year, where no policy window sees them.
#[test]
fn year_less_lines_two_hours_ahead_of_the_mtime_stay_in_this_year_and_count() {
    let env = Env::new();
    let log = env.path("maillog");
    let map = env.path("saslguard_access");
    fs::write(
        &env.config,
        format!(
            "timezone = \"UTC\"\nlogs = [{log:?}]\n\
             [postfix]\nmap = {map:?}\nreload_command = []\n\
             [firewall]\nbackend = \"none\"\n\
             [[policy.tier]]\ntarget = \"postfix\"\nthreshold = 3\nwindow = \"1h\"\nduration = \"7d\"\n"
        ),
    )
    .unwrap();
    for second in 0..3 {
        append(
            &log,
            &syslog_failure(&format!("Nov 27 14:00:0{second}"), "192.0.2.44"),
        );
    }
    set_mtime(&log, "2026-11-27T12:00:00Z");
    env.run_ok(&["--as-of", "2026-11-27T14:30:00Z", "run"]);
    let top = env.top(&["--period", "all"]);
    assert_eq!(top[0]["first_seen"], "2026-11-27T14:00:00Z", "{top}");
    assert_eq!(top[0]["last_seen"], "2026-11-27T14:00:02Z", "{top}");
    let rendered = fs::read_to_string(&map).unwrap();
    assert!(rendered.contains("192.0.2.44"), "they count: {rendered}");
}
