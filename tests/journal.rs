//! The systemd journal as a source, through a recorded `journalctl -o json` output
//! served by a stand-in journalctl that honours `--after-cursor`: the cursor is stored
//! with the events, so each run reads only what is new and nothing twice.

use crate::common;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{Env, fixtures};

/// A journalctl stand-in: prints the recorded lines after `--after-cursor`, and
/// records its arguments; exits 1 with a message when FAKE_JOURNAL_FAIL is set.
const FAKE_JOURNALCTL: &str = r#"#!/usr/bin/env python3
import os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_JOURNAL_ARGS"], "a") as log:
    log.write(" ".join(args) + "\n")
if os.environ.get("FAKE_JOURNAL_FAIL"):
    sys.stderr.write("Failed to seek to cursor: Invalid argument\n")
    sys.exit(1)
after = next((a.split("=", 1)[1] for a in args if a.startswith("--after-cursor=")), None)
lines = open(os.environ["FAKE_JOURNAL"]).read().splitlines(True)
if after is not None:
    index = next(i for i, l in enumerate(lines) if '"__CURSOR":"%s"' % after in l)
    lines = lines[index + 1:]
sys.stdout.write("".join(lines))
"#;

/// The fields journald sets for Postfix's smtpd (Debian, Postfix as uid 107).
const SMTPD: &str = r#""_UID":"107","_COMM":"smtpd","_EXE":"/usr/lib/postfix/sbin/smtpd","_SYSTEMD_UNIT":"postfix@-.service""#;

/// What journald records for `logger -t postfix/smtpd ...` run by a local user.
const LOGGER: &str =
    r#""_UID":"1000","_COMM":"logger","_EXE":"/usr/bin/logger","_SYSTEMD_UNIT":"session-2.scope""#;

/// A journal entry with `writer`'s trusted fields.
fn entry(cursor: &str, writer: &str, ip: &str) -> String {
    format!(
        "{{\"__CURSOR\":\"{cursor}\",\"__REALTIME_TIMESTAMP\":\"1795700000000000\",\
         \"SYSLOG_IDENTIFIER\":\"postfix/smtpd\",\"_PID\":\"7\",{writer},\
         \"MESSAGE\":\"warning: unknown[{ip}]: SASL LOGIN authentication failed: x\"}}\n"
    )
}

struct Journal {
    env: Env,
    recorded: PathBuf,
    args: PathBuf,
}

impl Journal {
    fn new() -> Journal {
        let env = Env::new();
        let fake = env.path("journalctl");
        fs::write(&fake, FAKE_JOURNALCTL).unwrap();
        fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
        let recorded = env.path("journal.json");
        fs::copy(fixtures().join("lines/journal.log"), &recorded).unwrap();
        fs::write(
            &env.config,
            format!(
                "logs = []\n[journal]\nenabled = true\ncommand = {:?}\ntrusted_users = [\"107\"]\n",
                fake.to_str().unwrap()
            ),
        )
        .unwrap();
        let args = env.path("journalctl.args");
        Journal {
            env,
            recorded,
            args,
        }
    }

    fn ingest(&self, fail: bool) -> std::process::Output {
        let mut cmd = self.env.cmd();
        cmd.env("FAKE_JOURNAL", &self.recorded)
            .env("FAKE_JOURNAL_ARGS", &self.args)
            .args(["ingest", "--format", "json"]);
        if fail {
            cmd.env("FAKE_JOURNAL_FAIL", "1");
        }
        cmd.output().unwrap()
    }

    fn summary(&self) -> serde_json::Value {
        let output = self.ingest(false);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }

    fn last_args(&self) -> String {
        fs::read_to_string(&self.args)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .to_string()
    }
}

fn expected(path: &Path) -> BTreeMap<String, i64> {
    let expected: serde_json::Value = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
    expected["failures"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_i64().unwrap()))
        .collect()
}

#[test]
fn the_journal_is_read_after_the_stored_cursor() {
    let journal = Journal::new();
    let first = journal.summary();
    assert_eq!(first["lines"], 38);
    assert_eq!(
        journal.env.counts(),
        expected(&fixtures().join("lines/journal.expected.json"))
    );
    let args = journal.last_args();
    assert!(
        args.starts_with("-o json --no-pager --quiet -t postfix/smtpd"),
        "{args}"
    );
    assert!(!args.contains("--after-cursor"), "{args}");

    // Nothing new: journalctl is asked for what follows the last cursor.
    let last_cursor = fs::read_to_string(&journal.recorded)
        .unwrap()
        .lines()
        .last()
        .and_then(|l| l.split("\"__CURSOR\":\"").nth(1))
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_string();
    assert_eq!(journal.summary()["lines"], 0);
    assert!(
        journal
            .last_args()
            .contains(&format!("--after-cursor={last_cursor}")),
        "{}",
        journal.last_args()
    );

    // Two new entries: exactly they are read.
    let mut text = fs::read_to_string(&journal.recorded).unwrap();
    for n in 0..2 {
        text.push_str(&format!(
            "{{\"__CURSOR\":\"s=new;i={n}\",\"__REALTIME_TIMESTAMP\":\"1795700000000000\",\
             \"SYSLOG_IDENTIFIER\":\"postfix/submission/smtpd\",\"_PID\":\"7\",{SMTPD},\
             \"MESSAGE\":\"warning: unknown[192.0.2.77]: SASL LOGIN authentication failed: UGFzc3dvcmQ6\"}}\n"
        ));
    }
    fs::write(&journal.recorded, text).unwrap();
    let third = journal.summary();
    assert_eq!(third["lines"], 2);
    assert_eq!(third["events"], 2);
    assert_eq!(journal.env.counts()["192.0.2.77"], 2);
    // The next run starts after the newest cursor.
    assert_eq!(journal.summary()["lines"], 0);
    assert!(
        journal.last_args().contains("--after-cursor=s=new;i=1"),
        "{}",
        journal.last_args()
    );
}

#[test]
fn a_failing_journalctl_is_an_error_with_its_message_and_moves_no_cursor() {
    let journal = Journal::new();
    journal.summary();
    let output = journal.ingest(true);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Failed to seek to cursor"), "{stderr}");
    assert_eq!(
        journal.summary()["lines"],
        0,
        "the cursor still points at the end"
    );
}

#[test]
fn the_real_journalctl_accepts_the_arguments_where_there_is_one() {
    if std::process::Command::new("journalctl")
        .arg("--version")
        .output()
        .is_err()
    {
        common::need::met(
            "the_real_journalctl_accepts_the_arguments_where_there_is_one",
            Some("no journalctl on this machine (apt-get install systemd)"),
        );
        return;
    }
    let env = Env::new();
    fs::write(
        &env.config,
        "logs = []\n[journal]\nenabled = true\ntrusted_users = []\n",
    )
    .unwrap();
    let output = env.run_ok(&["ingest", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["unparsed"], 0, "{summary}");
}

#[test]
fn entries_forged_with_logger_are_untrusted_counted_and_never_block() {
    let journal = Journal::new();
    let mut text = String::new();
    for n in 0..3 {
        text += &entry(&format!("s=forged;i={n}"), LOGGER, "192.0.2.10");
    }
    text += &entry("s=real;i=1", SMTPD, "192.0.2.11");
    fs::write(&journal.recorded, text).unwrap();
    let summary = journal.summary();
    assert_eq!(summary["lines"], 4);
    assert_eq!(summary["events"], 1);
    assert_eq!(summary["untrusted"], 3);
    assert_eq!(summary["unparsed"], 0);
    assert_eq!(
        journal.env.counts(),
        BTreeMap::from([("192.0.2.11".to_string(), 1)])
    );
    assert_eq!(
        journal
            .env
            .sql_count("SELECT untrusted FROM runs ORDER BY id DESC LIMIT 1"),
        3,
        "the run record keeps the untrusted count"
    );
    // The text summary says it too.
    let mut text = fs::read_to_string(&journal.recorded).unwrap();
    text += &entry("s=forged;i=9", LOGGER, "192.0.2.10");
    fs::write(&journal.recorded, text).unwrap();
    let output = journal
        .env
        .cmd()
        .env("FAKE_JOURNAL", &journal.recorded)
        .env("FAKE_JOURNAL_ARGS", &journal.args)
        .arg("ingest")
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains(", 0 unparsed, 1 untrusted,"), "{text}");
}

#[test]
fn a_failing_journalctl_fails_run_only_after_files_expiry_policy_and_render() {
    let journal = Journal::new();
    let log = journal.env.path("maillog");
    common::append(&log, &common::failures(0, 3, "203.0.113.50"));
    let map = journal.env.path("saslguard_access");
    fs::write(
        &journal.env.config,
        format!(
            "logs = [{log:?}]\n\
             [postfix]\nmap = {map:?}\nreload_command = []\n\
             [firewall]\nbackend = \"none\"\n\
             [[policy.tier]]\ntarget = \"postfix\"\nthreshold = 3\nwindow = \"3650d\"\nduration = \"7d\"\n\
             [journal]\nenabled = true\ncommand = {:?}\ntrusted_users = [\"107\"]\n",
            journal.env.path("journalctl").to_str().unwrap()
        ),
    )
    .unwrap();
    // A block that has expired by now: the run must still end it.
    journal
        .env
        .block_postfix("198.51.100.200", "1h", "2026-01-01T00:00:00Z");
    let output = journal
        .env
        .cmd()
        .env("FAKE_JOURNAL", &journal.recorded)
        .env("FAKE_JOURNAL_ARGS", &journal.args)
        .env("FAKE_JOURNAL_FAIL", "1")
        .args(["run", "--format", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Failed to seek to cursor"), "{stderr}");
    let rendered = fs::read_to_string(&map).unwrap();
    assert!(
        rendered.contains("203.0.113.50"),
        "the file's failures were stored and blocked: {rendered}"
    );
    assert!(
        !rendered.contains("198.51.100.200"),
        "the expired block ended: {rendered}"
    );
    assert_eq!(
        journal
            .env
            .sql_count("SELECT count(*) FROM runs WHERE command = 'run' AND status = 'failed'"),
        1
    );
}

#[test]
fn a_trusted_user_that_does_not_resolve_is_a_config_error_naming_it() {
    let journal = Journal::new();
    let text = fs::read_to_string(&journal.env.config).unwrap().replace(
        "trusted_users = [\"107\"]",
        "trusted_users = [\"nosuchuser\"]",
    );
    fs::write(&journal.env.config, text).unwrap();
    let output = journal
        .env
        .cmd()
        .args(["config", "check"])
        .arg(&journal.env.config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("journal.trusted_users: no user \"nosuchuser\" in /etc/passwd"),
        "{stderr}"
    );
    // `run` refuses it too, instead of counting every entry as untrusted.
    let output = journal
        .env
        .cmd()
        .env("FAKE_JOURNAL", &journal.recorded)
        .env("FAKE_JOURNAL_ARGS", &journal.args)
        .arg("run")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("nosuchuser"), "{stderr}");
}

#[test]
fn untrusted_entries_are_said_by_run_status_and_metrics() {
    let journal = Journal::new();
    let map = journal.env.path("saslguard_access");
    fs::write(
        &journal.env.config,
        format!(
            "logs = []\n[postfix]\nmap = {map:?}\nreload_command = []\n\
             [firewall]\nbackend = \"none\"\n\
             [journal]\nenabled = true\ncommand = {:?}\ntrusted_users = [\"107\"]\n",
            journal.env.path("journalctl").to_str().unwrap()
        ),
    )
    .unwrap();
    let mut text = String::new();
    for n in 0..3 {
        text += &entry(&format!("s=forged;i={n}"), LOGGER, "192.0.2.10");
    }
    fs::write(&journal.recorded, text).unwrap();
    let output = journal
        .env
        .cmd()
        .env("FAKE_JOURNAL", &journal.recorded)
        .env("FAKE_JOURNAL_ARGS", &journal.args)
        .arg("run")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("run: 0 new events, 3 untrusted journal entries,"),
        "{stdout}"
    );
    assert!(
        stderr.contains("3 journal entries were untrusted")
            && stderr.contains("[journal] trusted_*"),
        "{stderr}"
    );
    let status = journal.env.run_ok(&["status"]);
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains("last run: ") && status.contains("3 untrusted journal entries"),
        "{status}"
    );
    let metrics = journal.env.run_ok(&["metrics"]);
    let metrics = String::from_utf8_lossy(&metrics.stdout);
    assert!(
        metrics.contains("\nsaslguard_last_run_untrusted_entries 3\n"),
        "{metrics}"
    );
    // The JSON summary has it in its ingest counters.
    let mut text = fs::read_to_string(&journal.recorded).unwrap();
    text += &entry("s=forged;i=9", LOGGER, "192.0.2.10");
    fs::write(&journal.recorded, text).unwrap();
    let output = journal
        .env
        .cmd()
        .env("FAKE_JOURNAL", &journal.recorded)
        .env("FAKE_JOURNAL_ARGS", &journal.args)
        .args(["run", "--format", "json"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["ingest"]["untrusted"], 1, "{summary}");
}

/// Cursors belong to the journal only: a log file that happens to hold journal JSON
/// lines is read by its offset, and no cursor is looked for in it or stored with it.
#[test]
fn a_file_of_journal_lines_stores_no_cursor() {
    let env = Env::new();
    let log = env.path("exported.json");
    fs::copy(fixtures().join("lines/journal.log"), &log).unwrap();
    env.ingest(&[&log]);
    assert_eq!(
        env.sql_count("SELECT COUNT(*) FROM streams WHERE cursor IS NOT NULL"),
        0
    );
    let journal = Journal::new();
    journal.summary();
    assert_eq!(
        journal
            .env
            .sql_count("SELECT COUNT(*) FROM streams WHERE cursor IS NOT NULL"),
        1,
        "the journal's own stream has its cursor"
    );
}
