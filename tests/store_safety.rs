//! The store keeps what it holds private and whole: database, WAL and lock files are
//! created without permissions for other users whatever the umask; `prune` below a day
//! needs `--force` (and `--dry-run` says what would go); a run whose ingest failed part
//! way keeps the counters its committed batches stored.

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use common::{Env, failures};

fn mode(path: &Path) -> u32 {
    fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Sets this process's umask (children inherit it) and returns the old one.
fn set_umask(mask: u32) -> u32 {
    unsafe extern "C" {
        fn umask(mask: u32) -> u32;
    }
    // SAFETY: umask(2) only swaps the process's file mode creation mask.
    unsafe { umask(mask) }
}

#[test]
fn database_wal_shm_and_lock_files_are_private_whatever_the_umask() {
    let env = Env::new();
    let log = env.path("maillog");
    fs::write(&log, failures(0, 5, "203.0.113.7")).unwrap();
    let old = set_umask(0);
    let output = env.cmd().args(["ingest"]).arg(&log).output().unwrap();
    set_umask(old);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let db = env.db.to_str().unwrap().to_string();
    assert_eq!(mode(&env.db), 0o600, "database");
    assert_eq!(mode(Path::new(&format!("{db}.lock"))), 0o600, "lock file");
    // WAL and shared-memory files exist while a connection is open or after a crash;
    // open one that keeps them and check their modes too.
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    conn.query_row("SELECT COUNT(*) FROM events", [], |r| r.get::<_, i64>(0))
        .unwrap();
    for suffix in ["-wal", "-shm"] {
        let path = format!("{db}{suffix}");
        assert_eq!(mode(Path::new(&path)), 0o600, "{path}");
    }
}

#[test]
fn an_existing_world_readable_database_loses_its_permissions_for_others() {
    let env = Env::new();
    let log = env.path("maillog");
    fs::write(&log, failures(0, 2, "203.0.113.7")).unwrap();
    env.ingest(&[&log]);
    fs::set_permissions(&env.db, fs::Permissions::from_mode(0o644)).unwrap();
    env.ingest(&[&log]);
    assert_eq!(mode(&env.db), 0o640, "the group's read stays, other's goes");
}

fn env_with_history() -> (Env, std::path::PathBuf) {
    let env = Env::new();
    let log = env.path("maillog");
    // 30 failures at 2026-11-27T00:00Z, 20 failures two days later.
    let mut text = failures(0, 30, "203.0.113.7");
    text.push_str(&failures(2 * 86400, 20, "198.51.100.9"));
    fs::write(&log, text).unwrap();
    env.ingest(&[&log]);
    (env, log)
}

const AS_OF: &str = "2026-11-30T12:00:00Z";

#[test]
fn prune_below_one_day_needs_force_and_deletes_nothing_without_it() {
    let (env, _) = env_with_history();
    // Whole UTC days go: 0 and 1m reach back to today (all 50), 23h to yesterday (30).
    for (short, going) in [("0", 50), ("1m", 50), ("23h", 30)] {
        let output = env
            .cmd()
            .args(["prune", "--older-than", short, "--as-of", AS_OF])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "--older-than {short}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--force"), "{stderr}");
        assert!(
            stderr.contains(&format!("would delete {going} events")),
            "{stderr}"
        );
        assert_eq!(env.sql_count("SELECT COUNT(*) FROM events"), 50);
    }
    env.run_ok(&["prune", "--older-than", "1m", "--force", "--as-of", AS_OF]);
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM events"), 0);
}

#[test]
fn prune_dry_run_says_what_would_go_and_deletes_nothing() {
    let (env, _) = env_with_history();
    // A day and a half back from 2026-11-30T12:00Z is 2026-11-29T00:00Z: the first
    // day's 30 events go (whole UTC days), the later 20 stay.
    let output = env.run_ok(&[
        "prune",
        "--older-than",
        "1d 12h",
        "--dry-run",
        "--as-of",
        AS_OF,
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("would delete 30 events, 0 run records and 0 ended blocks"),
        "{stdout}"
    );
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM events"), 50);
    env.run_ok(&["prune", "--older-than", "1d 12h", "--as-of", AS_OF]);
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM events"), 20);
}

#[test]
fn a_retention_shorter_than_a_day_is_a_config_error() {
    let env = Env::new();
    fs::write(&env.config, "retention = \"1m\"\n").unwrap();
    let output = env.cmd().args(["config", "check"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        text.contains("retention = 1m is shorter than one day"),
        "{text}"
    );
}

#[test]
fn a_run_whose_ingest_failed_keeps_the_counters_of_what_was_stored() {
    let env = Env::new();
    let log = env.path("maillog");
    fs::write(&log, failures(0, 7, "203.0.113.7")).unwrap();
    // The files are stored first; then the journal source fails.
    fs::write(
        &env.config,
        format!(
            "logs = [{:?}]\n[postfix]\nmap = {:?}\nreload_command = []\n[firewall]\n\
             backend = \"none\"\n[journal]\nenabled = true\ncommand = \"/bin/false\"\ntrusted_users = []\n",
            log.to_str().unwrap(),
            env.path("access").to_str().unwrap()
        ),
    )
    .unwrap();
    let output = env.cmd().args(["run"]).output().unwrap();
    assert!(!output.status.success(), "the journal failed");
    assert_eq!(env.sql_count("SELECT COUNT(*) FROM events"), 7);
    assert_eq!(
        env.sql_count("SELECT events FROM runs WHERE command = 'run' ORDER BY id DESC LIMIT 1"),
        7,
        "the run record keeps what its committed batch stored"
    );
    assert_eq!(
        env.sql_count("SELECT lines FROM runs WHERE command = 'run' ORDER BY id DESC LIMIT 1"),
        7
    );
}
