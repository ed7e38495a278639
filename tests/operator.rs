//! What saslguard tells the operator is true (issue #12): `status` says what is at a
//! place and what should be; `doctor` judges log sources as `run` reads them.

use crate::common;

use std::fs;

use common::Env;
use serde_json::Value;

/// The env's config with the Postfix map at `access` in its directory, no reload and
/// no firewall, plus `extra` lines at the top level.
fn postfix_only(env: &Env, extra: &str) {
    fs::write(
        &env.config,
        format!(
            "{extra}\n[postfix]\nmap = {:?}\nreload_command = []\n[firewall]\nbackend = \"none\"\n",
            env.path("access").to_str().unwrap()
        ),
    )
    .unwrap();
}

fn stdout(env: &Env, args: &[&str]) -> String {
    String::from_utf8(env.run_ok(args).stdout).unwrap()
}

/// `status ARGS`: its stdout, after checking that its exit status is 0 exactly when
/// every place it lists is in sync (text or JSON).
fn status(env: &Env, args: &[&str]) -> String {
    let output = env.cmd().arg("status").args(args).output().unwrap();
    let text = String::from_utf8(output.stdout).unwrap();
    let in_sync = match serde_json::from_str::<Value>(&text) {
        Ok(json) => json["places"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["in_sync"] == true),
        Err(_) => text
            .lines()
            .filter(|l| l.contains(" blocks: ") && !l.contains("not rendered"))
            .all(|l| l.ends_with(": in sync")),
    };
    assert_eq!(
        output.status.success(),
        in_sync,
        "{}\n{text}",
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

#[test]
fn status_says_what_is_rendered_and_what_is_wanted() {
    let env = Env::new();
    postfix_only(&env, "logs = []");
    // Two blocks, one inside the other: two active blocks, one entry wanted.
    env.run_ok(&["block", "198.51.100.0/24", "--target", "postfix"]);
    env.run_ok(&["block", "198.51.100.9", "--target", "postfix"]);
    env.run_ok(&["render"]);
    assert_eq!(
        status(&env, &[]).lines().next().unwrap(),
        "postfix blocks: 2 active, 1 wanted entries, 1 rendered at postfix: in sync"
    );
    // A third block not rendered yet: the map still holds one entry.
    env.run_ok(&["block", "203.0.113.7", "--target", "postfix"]);
    let text = status(&env, &[]);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with(
            "postfix blocks: 3 active, 2 wanted entries, 1 rendered at postfix: DRIFT: 1 missing (203.0.113.7/32)"
        ),
        "{text}"
    );
    let json: Value = serde_json::from_str(&status(&env, &["--format", "json"])).unwrap();
    let place = &json["places"][0];
    assert_eq!(place["active_blocks"], 3);
    assert_eq!(place["wanted_entries"], 2);
    assert_eq!(place["rendered_entries"], 1);
    // An entry someone added by hand counts as rendered (and unexpected).
    env.run_ok(&["render"]);
    let map = fs::read_to_string(env.path("access")).unwrap();
    fs::write(
        env.path("access"),
        format!("{map}192.0.2.99 554 5.7.1 by hand\n"),
    )
    .unwrap();
    let text = status(&env, &[]);
    assert!(
        text.starts_with(
            "postfix blocks: 3 active, 2 wanted entries, 3 rendered at postfix: DRIFT: 0 missing, 1 unexpected (192.0.2.99/32)"
        ),
        "{text}"
    );
    // A map that cannot be read: how much is there is unknown, and says so.
    fs::remove_file(env.path("access")).unwrap();
    fs::create_dir(env.path("access")).unwrap();
    let text = status(&env, &[]);
    assert!(
        text.starts_with(
            "postfix blocks: 3 active, 2 wanted entries, an unknown number rendered at postfix: cannot read"
        ),
        "{text}"
    );
    let json: Value = serde_json::from_str(&status(&env, &["--format", "json"])).unwrap();
    assert_eq!(json["places"][0]["rendered_entries"], Value::Null);
}

/// `doctor --format json`'s findings of `check` (whatever the exit status).
fn doctor(env: &Env, check: &str) -> Vec<Value> {
    let output = env
        .cmd()
        .args(["doctor", "--format", "json"])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    let findings: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    findings
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .cloned()
        .collect()
}

/// A journalctl stand-in printing `entries` for a read and a version for --version.
fn fake_journalctl(env: &Env, entries: &str) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = env.path("journalctl");
    fs::write(
        &path,
        format!(
            "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'systemd 252 (fake)'; exit 0; fi\n\
             printf '%s' '{entries}'\n"
        ),
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path.to_str().unwrap().to_string()
}

fn journal_only(env: &Env, command: &str) {
    postfix_only(
        env,
        &format!("logs = []\n[journal]\nenabled = true\ncommand = {command:?}\ntrusted_users = []"),
    );
}

#[test]
fn a_journal_only_setup_is_checked_like_a_file_source() {
    let env = Env::new();
    let entry = r#"{"__CURSOR":"s=1","MESSAGE":"connect from unknown[192.0.2.1]","SYSLOG_IDENTIFIER":"postfix/smtpd"}\n"#;
    journal_only(&env, &fake_journalctl(&env, entry));
    assert!(
        doctor(&env, "logs").is_empty(),
        "no file is configured, none is wanted"
    );
    let journal = doctor(&env, "journal");
    assert_eq!(journal.len(), 1, "{journal:#?}");
    assert_eq!(journal[0]["verdict"], "pass", "{journal:#?}");
    assert!(
        journal[0]["message"]
            .as_str()
            .unwrap()
            .contains("reads entries of postfix/smtpd, postfix/submission/smtpd"),
        "{journal:#?}"
    );

    // A journal without such entries: a warning.
    journal_only(&env, &fake_journalctl(&env, ""));
    let journal = doctor(&env, "journal");
    assert_eq!(journal[0]["verdict"], "warn", "{journal:#?}");

    // A journal command that does not exist: a failure naming it.
    let missing = env.path("no-such-journalctl");
    journal_only(&env, missing.to_str().unwrap());
    let journal = doctor(&env, "journal");
    assert_eq!(journal[0]["verdict"], "fail", "{journal:#?}");
    assert!(
        journal[0]["message"]
            .as_str()
            .unwrap()
            .contains(missing.to_str().unwrap()),
        "{journal:#?}"
    );

    // No source at all is still a failure.
    postfix_only(&env, "logs = []");
    let logs = doctor(&env, "logs");
    assert_eq!(logs.len(), 1, "{logs:#?}");
    assert_eq!(logs[0]["verdict"], "fail");
    assert!(
        logs[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("no log source is configured"),
        "{logs:#?}"
    );
}

#[test]
fn a_log_that_is_not_a_regular_file_fails_as_run_refuses_it() {
    let env = Env::new();
    let dir = env.path("maillog.d");
    fs::create_dir(&dir).unwrap();
    let fifo = env.path("maillog.fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    postfix_only(
        &env,
        &format!(
            "logs = [{:?}, {:?}, \"/dev/null\"]",
            dir.to_str().unwrap(),
            fifo.to_str().unwrap()
        ),
    );
    // The FIFO is never opened (that would wait for a writer): doctor finishes.
    let logs = doctor(&env, "logs");
    let messages: Vec<&str> = logs
        .iter()
        .filter(|f| f["verdict"] == "fail")
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            format!(
                "{} is a directory, not a regular file: saslguard reads only log files",
                dir.display()
            ),
            format!(
                "{} is a FIFO, not a regular file: saslguard reads only log files",
                fifo.display()
            ),
            "/dev/null is a device, not a regular file: saslguard reads only log files".to_string(),
        ],
        "{logs:#?}"
    );
    // And run refuses the directory.
    postfix_only(&env, &format!("logs = [{:?}]", dir.to_str().unwrap()));
    let output = env.cmd().arg("run").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("is a directory"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn doctor_warns_of_an_allowlist_wider_than_a_slash_8_or_a_slash_32() {
    let env = Env::new();
    postfix_only(
        &env,
        "logs = []\n[allow]\nnetworks = [\"0.0.0.0/0\", \"10.0.0.0/7\", \"10.0.0.0/8\", \"2001:db8::/32\"]",
    );
    env.run_ok(&["allow", "add", "2001::/31"]);
    env.run_ok(&["allow", "add", "192.0.2.0/24"]);
    let warned: Vec<String> = doctor(&env, "allowlist")
        .iter()
        .map(|f| {
            assert_eq!(f["verdict"], "warn", "{f:#?}");
            format!(
                "{} | {}",
                f["message"].as_str().unwrap(),
                f["fix"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        warned,
        [
            "0.0.0.0/0 is allowlisted, wider than a /8: no IPv4 address is ever blocked | \
             narrow it to the networks you trust ([allow] networks in the config)",
            "10.0.0.0/7 is allowlisted, wider than a /8: none of its addresses is ever blocked | \
             narrow it to the networks you trust ([allow] networks in the config)",
            "2001::/31 is allowlisted, wider than a /32: none of its addresses is ever blocked | \
             narrow it to the networks you trust (`saslguard allow remove`)",
        ]
    );
    // As wide as it may be: a pass.
    postfix_only(&env, "logs = []\n[allow]\nnetworks = [\"10.0.0.0/8\"]");
    env.run_ok(&["allow", "remove", "2001::/31"]);
    let allowlist = doctor(&env, "allowlist");
    assert_eq!(allowlist.len(), 1, "{allowlist:#?}");
    assert_eq!(allowlist[0]["verdict"], "pass", "{allowlist:#?}");
}

#[test]
fn doctor_reports_a_reject_text_that_is_no_reject_as_a_config_failure() {
    let env = Env::new();
    fs::write(&env.config, "logs = []\n[postfix]\nreject_text = \"OK\"\n").unwrap();
    for format in ["json", "text"] {
        let output = env
            .cmd()
            .args(["doctor", "--format", format])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1));
        let stdout = String::from_utf8_lossy(&output.stdout);
        let line = format!(
            "{}: postfix.reject_text = \"OK\" is refused: \"OK\" is no reject action",
            env.config.display()
        );
        if format == "json" {
            let findings: Value = serde_json::from_str(&stdout).expect("JSON even so");
            let findings = findings.as_array().unwrap();
            assert_eq!(findings.len(), 1, "{findings:#?}");
            assert_eq!(findings[0]["check"], "config");
            assert_eq!(findings[0]["verdict"], "fail");
            assert!(
                findings[0]["message"].as_str().unwrap().starts_with(&line),
                "{findings:#?}"
            );
        } else {
            assert!(stdout.starts_with("FAIL  config"), "{stdout}");
            assert!(stdout.contains(&line), "{stdout}");
        }
    }
}

#[test]
fn a_failed_render_claims_no_entries_and_run_does_not_call_it_unchanged() {
    let env = Env::new();
    fs::write(env.path("maillog"), "").unwrap();
    postfix_only(
        &env,
        &format!("logs = [{:?}]", env.path("maillog").to_str().unwrap()),
    );
    env.run_ok(&["block", "198.51.100.9", "--target", "postfix"]);
    // The map cannot be written: nothing is there.
    fs::create_dir(env.path("access")).unwrap();
    let output = env.cmd().arg("render").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "postfix (postfix blocks): FAILED\n"
    );
    let output = env.cmd().arg("run").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let summary = String::from_utf8_lossy(&output.stdout);
    assert!(
        summary.contains("rendered: postfix FAILED in "),
        "{summary}"
    );
    // A dry run's entries are wanted ones.
    fs::remove_dir(env.path("access")).unwrap();
    assert_eq!(
        stdout(&env, &["render", "--dry-run"]),
        "postfix (postfix blocks): 1 wanted entries, would be: 1 added, 0 removed\n  + 198.51.100.9/32\n"
    );
    assert_eq!(
        stdout(&env, &["render"]),
        "postfix (postfix blocks): 1 entries, 1 added, 0 removed\n"
    );
}

#[test]
fn doctor_compares_what_is_rendered_with_the_database_as_status_does() {
    let env = Env::new();
    postfix_only(&env, "logs = []");
    env.run_ok(&["block", "198.51.100.9", "--target", "postfix"]);
    env.run_ok(&["render"]);
    let message = |findings: &[Value]| {
        assert_eq!(findings.len(), 1, "{findings:#?}");
        format!(
            "{} {}",
            findings[0]["verdict"].as_str().unwrap(),
            findings[0]["message"].as_str().unwrap()
        )
    };
    assert_eq!(
        message(&doctor(&env, "rendered")),
        "pass postfix: 1 entries, as the database wants (1 active postfix blocks)"
    );
    fs::write(env.path("access"), "").unwrap();
    assert_eq!(
        message(&doctor(&env, "rendered")),
        "warn postfix: not what the database wants: 1 wanted entries missing, 0 unexpected"
    );
    fs::remove_file(env.path("access")).unwrap();
    fs::create_dir(env.path("access")).unwrap();
    assert!(
        message(&doctor(&env, "rendered"))
            .starts_with("fail postfix: cannot read what is rendered: "),
        "{:#?}",
        doctor(&env, "rendered")
    );
}

/// `doctor --format json` run as `argv_prefix` (empty: as this process): its exit code
/// and its findings of `check`.
fn doctor_run(env: &Env, argv_prefix: &[&str], check: &str) -> (Option<i32>, Vec<Value>) {
    let binary = env!("CARGO_BIN_EXE_saslguard");
    let mut argv: Vec<&str> = argv_prefix.to_vec();
    argv.push(binary);
    let mut command = std::process::Command::new(argv[0]);
    command
        .args(&argv[1..])
        .env_remove("SASLGUARD_DB")
        .env_remove("SASLGUARD_CONFIG")
        .env("TZ", "UTC")
        .arg("--db")
        .arg(&env.db)
        .arg("--config")
        .arg(&env.config)
        .args(["doctor", "--format", "json"]);
    let output = command.output().expect("run doctor");
    let findings: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let of_check = findings
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .cloned()
        .collect();
    (output.status.code(), of_check)
}

/// Whether this process runs as root (who reads every file whatever its mode).
fn is_root() -> bool {
    let id = std::process::Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&id.stdout).trim() == "0"
}

#[test]
fn doctor_fails_an_unreadable_log_and_warns_of_a_database_not_made_yet() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let log = env.path("maillog");
    fs::write(&log, "").unwrap();
    fs::set_permissions(&log, fs::Permissions::from_mode(0o000)).unwrap();
    postfix_only(&env, &format!("logs = [{:?}]", log.to_str().unwrap()));
    // Root reads any file: doctor runs as nobody then, who can reach the config but not
    // read the log.
    let nobody: &[&str] = if is_root() {
        fs::set_permissions(env.dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(&env.config, fs::Permissions::from_mode(0o644)).unwrap();
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
        ]
    } else {
        &[]
    };
    let (code, logs) = doctor_run(&env, nobody, "logs");
    assert_eq!(code, Some(1), "{logs:#?}");
    assert_eq!(logs.len(), 1, "{logs:#?}");
    assert_eq!(logs[0]["verdict"], "fail");
    assert_eq!(
        logs[0]["message"],
        format!(
            "cannot read {}: Permission denied (os error 13)",
            log.display()
        )
    );
    assert_eq!(
        logs[0]["fix"],
        "run saslguard as a user that can read it (root, or a member of its group)"
    );
    // No database yet: a warning that the first run makes it, and none was made.
    let (_, database) = doctor_run(&env, nobody, "database");
    assert_eq!(database.len(), 1, "{database:#?}");
    assert_eq!(database[0]["verdict"], "warn");
    assert_eq!(
        database[0]["message"],
        format!("{} does not exist yet", env.db.display())
    );
    assert!(!env.db.exists());
}

#[test]
fn doctor_fails_a_database_that_is_not_one_and_leaves_it_as_it_was() {
    let env = Env::new();
    let log = env.path("maillog");
    fs::write(&log, "").unwrap();
    postfix_only(&env, &format!("logs = [{:?}]", log.to_str().unwrap()));
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
    fs::write(&env.db, &garbage).unwrap();
    let (code, database) = doctor_run(&env, &[], "database");
    assert_eq!(code, Some(1), "{database:#?}");
    assert_eq!(database.len(), 1, "{database:#?}");
    assert_eq!(database[0]["verdict"], "fail");
    assert_eq!(
        database[0]["message"],
        format!("cannot open {}: file is not a database", env.db.display())
    );
    // What is rendered cannot be compared with it either, and says so.
    let (_, rendered) = doctor_run(&env, &[], "rendered");
    assert_eq!(rendered.len(), 1, "{rendered:#?}");
    assert_eq!(rendered[0]["verdict"], "fail");
    assert!(
        rendered[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("cannot compare what is rendered with the database: "),
        "{rendered:#?}"
    );
    assert_eq!(fs::read(&env.db).unwrap(), garbage, "doctor changed it");
}
