//! Whether a test that needs something of the machine (root, postmap, a browser, network
//! namespaces) runs, is skipped, or fails: the one rule every such test follows.
//!
//! Where everything must run (CI, or `SASLGUARD_REQUIRE_ALL=1`), a missing need fails
//! the test. Elsewhere the test is skipped, and the skip is recorded where
//! `tests/run.sh` finds it, so a person sees the list at the end of the run instead of
//! in stderr that cargo swallows.
#![allow(dead_code)]

use std::io::Write;
use std::path::PathBuf;

/// Whether every test must run: `SASLGUARD_REQUIRE_ALL=1`, or `CI` set to anything
/// but empty, `0` or `false` (CI systems say `true`, `1` or `yes`).
pub fn everything_must_run() -> bool {
    let set = |name: &str| {
        std::env::var(name)
            .is_ok_and(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "0" | "false"))
    };
    set("SASLGUARD_REQUIRE_ALL") || set("CI")
}

/// Where skipped tests are recorded, one line each (`tests/run.sh` prints them).
pub fn skips_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("saslguard-skips")
}

/// Whether `test` can run: `missing` says what it lacks (`None`: nothing). When
/// something is missing, panics where everything must run, otherwise records the skip
/// and returns false.
pub fn met(test: &str, missing: Option<&str>) -> bool {
    let Some(why) = missing else {
        return true;
    };
    if everything_must_run() {
        panic!("{test}: {why}; CI (or SASLGUARD_REQUIRE_ALL) requires it to run");
    }
    eprintln!("skipping {test}: {why}");
    let dir = skips_dir();
    let name: String = test
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let _ = std::fs::create_dir_all(&dir).and_then(|()| {
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{name}.txt")))
            .and_then(|mut file| writeln!(file, "{test}: {why}"))
    });
    false
}

/// Whether `program` is on `PATH`.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Whether this process runs as root (the effective uid).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|id| id == "0"))
        })
        .unwrap_or(false)
}
