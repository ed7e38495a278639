//! People who are not root read reports: with the database's directory and file given
//! to their group (the README's setup), `top`, `show`, `report`, `blocks`, `status`,
//! `metrics` and `allow list` work for an unprivileged user in that group, open the
//! database read-only, and can change nothing; the root writer keeps working whatever
//! the readers left behind. Needs root (to switch users with `setpriv`); skips with a
//! reason otherwise, fails under `CI=true`.

use crate::common;

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Command;

use common::Env;

/// The reader: a uid with no account and no other groups, in the database's group.
const READER_UID: u32 = 4242;
const READERS_GID: u32 = 4243;

fn ready() -> bool {
    let root = fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    let setpriv = Path::new("/usr/bin/setpriv").exists();
    if root && setpriv {
        return true;
    }
    let why = if root {
        "setpriv is missing (apt-get install util-linux)"
    } else {
        "not running as root"
    };
    common::need::met("the non-root reader tests", Some(why))
}

/// The README's setup: directory 0750 and database 0640, both in the readers' group.
fn share_with_readers(env: &Env) {
    for (path, mode) in [(env.dir.path(), 0o750), (env.db.as_path(), 0o640)] {
        std::os::unix::fs::chown(path, None, Some(READERS_GID)).expect("chgrp");
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
    }
}

/// `saslguard ARGS` as the reader.
fn as_reader(env: &Env, args: &[&str]) -> std::process::Output {
    Command::new("/usr/bin/setpriv")
        .args([
            &format!("--reuid={READER_UID}"),
            &format!("--regid={READERS_GID}"),
            "--clear-groups",
            "--",
            env!("CARGO_BIN_EXE_saslguard"),
        ])
        .env("TZ", "UTC")
        .arg("--db")
        .arg(&env.db)
        .arg("--config")
        .arg(&env.config)
        .args(args)
        .output()
        .expect("run setpriv")
}

fn env_with_a_block() -> Env {
    let env = Env::new();
    let log = env.path("maillog");
    fs::write(&log, common::failures(0, 6, "203.0.113.7")).unwrap();
    fs::write(
        &env.config,
        format!(
            "[postfix]\nmap = {:?}\nreload_command = []\n[firewall]\nbackend = \"none\"\n",
            env.path("access").to_str().unwrap()
        ),
    )
    .unwrap();
    env.ingest(&[&log]);
    env.run_ok(&["block", "198.51.100.9", "--target", "postfix"]);
    env.run_ok(&["render"]);
    env
}

#[test]
fn an_unprivileged_reader_in_the_group_runs_every_reading_command() {
    if !ready() {
        return;
    }
    let env = env_with_a_block();
    share_with_readers(&env);
    // The writer's -wal and -shm follow the database file's mode and group.
    env.run_ok(&["render"]);
    for suffix in ["-wal", "-shm"] {
        let meta = fs::metadata(format!("{}{suffix}", env.db.display())).expect(suffix);
        assert_eq!(meta.mode() & 0o777, 0o640, "{suffix}");
        assert_eq!(meta.gid(), READERS_GID, "{suffix}");
    }
    let before = fs::read(&env.db).unwrap();

    let top = as_reader(&env, &["top", "--period", "all", "--format", "json"]);
    assert!(
        top.status.success(),
        "{}",
        String::from_utf8_lossy(&top.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&top.stdout).unwrap();
    assert_eq!(rows[0]["ip"], "203.0.113.7");
    assert_eq!(rows[0]["failures"], 6);
    for args in [
        &["show", "203.0.113.7"][..],
        &["report", "--period", "30d"],
        &["blocks"],
        &["status"],
        &["metrics"],
        &["allow", "list"],
    ] {
        let output = as_reader(&env, args);
        assert!(
            output.status.success(),
            "{args:?} as a reader: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let blocks = as_reader(&env, &["blocks", "--format", "json"]);
    let blocks: serde_json::Value = serde_json::from_slice(&blocks.stdout).unwrap();
    assert_eq!(blocks[0]["network"], "198.51.100.9/32");
    assert_eq!(
        fs::read(&env.db).unwrap(),
        before,
        "a reader changed the database"
    );

    // A reader cannot change anything, and the error names the file.
    let block = as_reader(&env, &["unblock", "198.51.100.9"]);
    assert_eq!(block.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&block.stderr);
    assert!(stderr.contains(&env.db.display().to_string()), "{stderr}");
}

#[test]
fn a_read_only_shm_left_behind_does_not_stop_the_writer() {
    if !ready() {
        return;
    }
    let env = env_with_a_block();
    share_with_readers(&env);
    let shm = format!("{}-shm", env.db.display());
    fs::set_permissions(&shm, fs::Permissions::from_mode(0o444)).unwrap();
    let log = env.path("maillog");
    common::append(&log, &common::failures(100, 2, "203.0.113.8"));
    let summary = env.ingest(&[&log]);
    assert_eq!(summary["events"], 2);
    assert_eq!(fs::metadata(&shm).unwrap().mode() & 0o777, 0o640);
}

#[test]
fn a_reader_of_a_database_without_wal_files_is_told_what_to_do() {
    if !ready() {
        return;
    }
    let env = env_with_a_block();
    share_with_readers(&env);
    for suffix in ["-wal", "-shm"] {
        fs::remove_file(format!("{}{suffix}", env.db.display())).unwrap();
    }
    let output = as_reader(&env, &["top"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!("cannot read database {}", env.db.display()))
            && stderr.contains("run `saslguard run` once as the database's owner"),
        "{stderr}"
    );
}
