//! The log checks of `doctor`: every configured source is judged as `run` will read it.
//! A log file must be a regular file that opens; the journal needs its command to run
//! and to read; with no source at all, or a log that is not there, doctor asks Postfix
//! where it logs (`postconf -h maillog_file`) and says so.

use std::fs::Metadata;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use crate::config::{Config, JournalConfig};
use crate::render::command;

use super::Finding;

/// Syslog's usual mail logs: Debian/Ubuntu, RHEL/Fedora, SUSE.
const SYSLOG_MAIL_LOGS: [&str; 3] = ["/var/log/mail.log", "/var/log/maillog", "/var/log/mail"];

/// Where Postfix says it logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostfixLog {
    /// `maillog_file` is set: Postfix (postlogd) writes this file itself.
    File(PathBuf),
    /// `maillog_file` is empty: Postfix logs through syslog (a syslog daemon's file, or
    /// the journal).
    Syslog,
}

/// Asks `postconf` where Postfix logs (the configured `config_directory`).
pub fn postfix_log(config: &Config) -> anyhow::Result<PostfixLog> {
    let file = super::postfix::postconf(config, &["-h", "maillog_file"])?;
    let file = file.trim();
    Ok(if file.is_empty() {
        PostfixLog::Syslog
    } else {
        PostfixLog::File(PathBuf::from(file))
    })
}

/// One sentence on where the log really is, from what Postfix says and what this
/// machine has: the answer to "the configured log is not there".
pub fn where_postfix_logs(config: &Config) -> String {
    match postfix_log(config) {
        Ok(PostfixLog::File(file)) => format!(
            "Postfix writes its log to {} (postconf maillog_file){}: set logs = [{:?}]",
            file.display(),
            if file.is_file() {
                ""
            } else {
                ", which does not exist yet either (it needs the postlog service in master.cf)"
            },
            file.display().to_string()
        ),
        Ok(PostfixLog::Syslog) => {
            let found: Vec<&str> = SYSLOG_MAIL_LOGS
                .iter()
                .copied()
                .filter(|p| Path::new(p).is_file())
                .collect();
            let journald = Path::new("/run/systemd/journal/socket").exists();
            let mut sentence =
                "Postfix logs through syslog (postconf maillog_file is empty)".to_string();
            if !found.is_empty() {
                sentence.push_str(&format!(
                    "; the syslog mail log here is {}: set logs = [{:?}]",
                    found.join(" and "),
                    found[0]
                ));
            } else if journald {
                sentence.push_str(&format!(
                    "; no syslog mail log exists ({}) and journald runs: set logs = [] and \
                     [journal] enabled = true",
                    SYSLOG_MAIL_LOGS.join(", ")
                ));
            } else {
                sentence.push_str(&format!(
                    "; no syslog mail log exists ({}): find the file your syslog daemon \
                     writes mail.* to, or set maillog_file in main.cf",
                    SYSLOG_MAIL_LOGS.join(", ")
                ));
            }
            sentence
        }
        Err(e) => format!("Postfix could not be asked where it logs ({e:#})"),
    }
}

/// What kind of thing a path is when it is not a regular file, e.g. `a directory`.
fn not_regular(meta: &Metadata) -> Option<&'static str> {
    let kind = meta.file_type();
    if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some("a directory")
    } else if kind.is_fifo() {
        Some("a FIFO")
    } else if kind.is_char_device() || kind.is_block_device() {
        Some("a device")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        Some("not a file")
    }
}

/// One configured log file: a regular file that opens. Its metadata is read first,
/// so a FIFO is never opened (that would wait for a writer).
fn check_log_file(config: &Config, log: &Path) -> Finding {
    let meta = match std::fs::metadata(log) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Finding::fail(
                "logs",
                format!("{} does not exist", log.display()),
                where_postfix_logs(config),
            );
        }
        Err(e) => {
            return Finding::fail(
                "logs",
                format!("cannot read {}: {e}", log.display()),
                "run saslguard as a user that can read it (root, or a member of its group)",
            );
        }
    };
    if let Some(kind) = not_regular(&meta) {
        return Finding::fail(
            "logs",
            format!(
                "{} is {kind}, not a regular file: saslguard reads only log files",
                log.display()
            ),
            format!(
                "point logs = [...] at the file Postfix writes. {}",
                where_postfix_logs(config)
            ),
        );
    }
    match std::fs::File::open(log) {
        Ok(_) => Finding::pass("logs", format!("{} is readable", log.display())),
        Err(e) => Finding::fail(
            "logs",
            format!("cannot read {}: {e}", log.display()),
            "run saslguard as a user that can read it (root, or a member of its group)",
        ),
    }
}

/// The journal source: its command runs (`--version`), and reads one entry of what
/// `run` will read (`-n 1` with the same identifiers and units).
fn check_journal(journal: &JournalConfig) -> Finding {
    let program = journal.command.as_str();
    match command::run_status(program, &["--version"], None) {
        Err(e) => {
            return Finding::fail(
                "journal",
                format!("the journal command {program:?} cannot be run: {e:#}"),
                "install systemd's journalctl, or set [journal] command to its path \
                 (or enabled = false and list the log files in logs = [...])",
            );
        }
        Ok((false, out)) => {
            return Finding::fail(
                "journal",
                format!(
                    "`{program} --version` failed: {}",
                    first_line(&out.stderr, &out.stdout)
                ),
                "set [journal] command to a working journalctl",
            );
        }
        Ok((true, _)) => {}
    }
    let mut args: Vec<String> = ["--no-pager", "--quiet", "-o", "json", "-n", "1"]
        .map(String::from)
        .to_vec();
    for identifier in &journal.identifiers {
        args.extend(["-t".to_string(), identifier.clone()]);
    }
    for unit in &journal.units {
        args.extend(["-u".to_string(), unit.clone()]);
    }
    let filter = if journal.identifiers.is_empty() && journal.units.is_empty() {
        "any entry".to_string()
    } else {
        format!(
            "entries of {}",
            journal
                .identifiers
                .iter()
                .chain(&journal.units)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    match command::run_status(program, &args, None) {
        Err(e) => Finding::fail(
            "journal",
            format!("{program} cannot be run: {e:#}"),
            "set [journal] command to a working journalctl",
        ),
        Ok((false, out)) => Finding::fail(
            "journal",
            format!(
                "{program} cannot read the journal: {}",
                first_line(&out.stderr, &out.stdout)
            ),
            "run saslguard as root or as a member of the systemd-journal group",
        ),
        Ok((true, out)) if out.stdout.trim().is_empty() => Finding::warn(
            "journal",
            format!(
                "{program} runs, but the journal holds no {filter} (yet){}",
                match first_line(&out.stderr, "") {
                    s if s.is_empty() => String::new(),
                    s => format!(": {s}"),
                }
            ),
            "if Postfix logs elsewhere (maillog_file, or a syslog file), list that file in \
             logs = [...]; otherwise check [journal] identifiers and units",
        ),
        Ok((true, _)) => Finding::pass(
            "journal",
            format!("{program} runs and reads {filter} from the journal"),
        ),
    }
}

/// Whether two paths name one file (the same path, or the same file through links).
fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || matches!(
            (std::fs::canonicalize(a), std::fs::canonicalize(b)),
            (Ok(x), Ok(y)) if x == y
        )
}

/// The first non-empty line of `a`, else of `b`.
fn first_line(a: &str, b: &str) -> String {
    a.lines()
        .chain(b.lines())
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .to_string()
}

/// Every configured source, as `run` will read it.
pub fn check_logs(config: &Config) -> Vec<Finding> {
    let mut findings: Vec<Finding> = config
        .logs
        .iter()
        .map(|log| check_log_file(config, log))
        .collect();
    if config.journal.enabled {
        findings.push(check_journal(&config.journal));
    }
    if !config.logs.is_empty()
        && let Ok(PostfixLog::File(file)) = postfix_log(config)
        && !config.logs.iter().any(|log| same_file(log, &file))
    {
        findings.push(Finding::warn(
            "logs",
            format!(
                "Postfix writes its log to {} (postconf maillog_file), which logs = [...] does not list",
                file.display()
            ),
            format!("add {:?} to logs = [...]", file.display().to_string()),
        ));
    }
    if findings.is_empty() {
        findings.push(Finding::fail(
            "logs",
            "no log source is configured (logs = [] and [journal] enabled = false)",
            where_postfix_logs(config),
        ));
    }
    findings
}
