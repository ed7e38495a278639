//! `saslguard doctor` against a real Postfix configuration (the end-to-end rig's): it
//! passes on the rig's good setup and names the `smtpd_delay_reject = yes` trap, with
//! its fix, on a bad one. Needs what the rig needs (see `rig`); skips without it,
//! except under `CI=true`, where it fails.

use crate::rig;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use rig::Rig;
use serde_json::Value;

/// Runs `doctor --format json` with `config`: (exit code, findings).
fn doctor(config: &Path) -> (Option<i32>, Vec<Value>) {
    let output = Command::new(env!("CARGO_BIN_EXE_saslguard"))
        .arg("--config")
        .arg(config)
        .args(["doctor", "--format", "json"])
        .output()
        .expect("run saslguard doctor");
    let findings: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (
        output.status.code(),
        findings.as_array().expect("array").clone(),
    )
}

fn verdicts<'a>(findings: &'a [Value], verdict: &str) -> Vec<&'a Value> {
    findings
        .iter()
        .filter(|f| f["verdict"] == verdict)
        .collect()
}

#[test]
fn doctor_passes_on_the_rig_and_names_the_delay_reject_trap() {
    let Some(rig) = Rig::start("doctor", "cidr") else {
        return;
    };
    // Postfix creates its log with its first line (the rig's start is logged).
    rig.wait_for_log_lines(|_| true, 1, Duration::from_secs(30));
    let config = rig.dir().join("doctor.toml");
    fs::write(
        &config,
        format!(
            "logs = [{log:?}]\ndatabase = {db:?}\n\
             [postfix]\nmap = {map:?}\nmap_type = \"cidr\"\nconfig_directory = {dir:?}\n\
             reload_command = []\n\
             [firewall]\nbackend = \"none\"\n",
            log = rig.log_path().to_str().unwrap(),
            db = rig.dir().join("doctor.db").to_str().unwrap(),
            map = rig.map_path().to_str().unwrap(),
            dir = rig.config_dir().to_str().unwrap(),
        ),
    )
    .unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_saslguard"))
        .arg("--config")
        .arg(&config)
        .args(["run", "-q"])
        .status()
        .unwrap();
    assert!(status.success());

    let (code, findings) = doctor(&config);
    assert_eq!(code, Some(0), "{findings:#?}");
    assert!(verdicts(&findings, "fail").is_empty(), "{findings:#?}");
    // The text for people says the same (shown with --nocapture).
    let text = Command::new(env!("CARGO_BIN_EXE_saslguard"))
        .arg("--config")
        .arg(&config)
        .arg("doctor")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&text.stdout);
    println!("{text}");
    assert!(text.contains("pass  map in use"), "{text}");
    let warned = verdicts(&findings, "warn");
    assert_eq!(warned.len(), 1, "only the missing firewall: {findings:#?}");
    assert_eq!(warned[0]["check"], "firewall");
    for check in [
        "logs",
        "database",
        "map type",
        "map in use",
        "smtpd_delay_reject",
    ] {
        assert!(
            findings
                .iter()
                .any(|f| f["check"] == check && f["verdict"] == "pass"),
            "{check} did not pass: {findings:#?}"
        );
    }

    // The classic trap: restrictions delayed until RCPT TO, so AUTH stays open.
    let postconf = |setting: &str| {
        let status = Command::new("postconf")
            .arg("-c")
            .arg(rig.config_dir())
            .args(["-e", setting])
            .status()
            .unwrap();
        assert!(status.success());
    };
    postconf("smtpd_delay_reject = yes");
    let (code, findings) = doctor(&config);
    assert_eq!(code, Some(0), "a warning is not a failure: {findings:#?}");
    let trap: Vec<&Value> = verdicts(&findings, "warn")
        .into_iter()
        .filter(|f| f["check"] == "smtpd_delay_reject")
        .collect();
    assert_eq!(trap.len(), 1, "{findings:#?}");
    assert!(
        trap[0]["message"]
            .as_str()
            .unwrap()
            .contains("can still try AUTH")
    );
    assert!(
        trap[0]["fix"]
            .as_str()
            .unwrap()
            .contains("smtpd_delay_reject=no")
    );

    // And a map nobody checks: blocks would not be enforced at all.
    postconf("smtpd_client_restrictions = permit_mynetworks");
    let (code, findings) = doctor(&config);
    assert_eq!(code, Some(1), "{findings:#?}");
    let failed = verdicts(&findings, "fail");
    assert!(
        failed.iter().any(|f| f["check"] == "map in use"),
        "{findings:#?}"
    );
}

/// The real `postconf` (PATH, or /usr/sbin, which a non-login root shell may lack):
/// `None` (the skip recorded) when it is missing, except in CI, where that fails.
fn postconf_program(test: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join("postconf"))
        .find(|p| p.is_file());
    if found.is_none() {
        rig::need::met(test, Some("postconf is missing (apt-get install postfix)"));
    }
    found
}

/// A private Postfix configuration directory (main.cf and master.cf, read by the real
/// `postconf -c DIR`; no Postfix runs) and a saslguard config pointing doctor at it.
struct PrivatePostfix {
    dir: tempfile::TempDir,
    postconf: std::path::PathBuf,
}

impl PrivatePostfix {
    fn new(test: &str, main_cf: &str, master_cf: &str) -> Option<PrivatePostfix> {
        let postconf = postconf_program(test)?;
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("postfix")).unwrap();
        fs::write(
            dir.path().join("postfix/main.cf"),
            format!("compatibility_level = 3.6\n{main_cf}"),
        )
        .unwrap();
        fs::write(dir.path().join("postfix/master.cf"), master_cf).unwrap();
        fs::write(dir.path().join("maillog"), "").unwrap();
        let private = PrivatePostfix { dir, postconf };
        private.set_logs(&format!("[{:?}]", private.path("maillog")));
        Some(private)
    }

    /// Writes saslguard's config with `logs = LOGS`.
    fn set_logs(&self, logs: &str) {
        fs::write(
            self.config(),
            format!(
                "logs = {logs}\ndatabase = {db:?}\n\
                 [postfix]\nmap = {map:?}\nconfig_directory = {conf:?}\nreload_command = []\n\
                 [firewall]\nbackend = \"none\"\n",
                db = self.path("doctor.db"),
                map = self.map(),
                conf = self.path("postfix"),
            ),
        )
        .unwrap();
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_string()
    }

    /// The map's path (saslguard's default type is cidr).
    fn map(&self) -> String {
        self.path("saslguard_access")
    }

    fn config(&self) -> std::path::PathBuf {
        self.dir.path().join("saslguard.toml")
    }

    /// `postconf -c DIR ARGS`'s output.
    fn postconf(&self, args: &[&str]) -> String {
        let output = Command::new(&self.postconf)
            .arg("-c")
            .arg(self.path("postfix"))
            .args(args)
            .output()
            .unwrap();
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs a command doctor suggested (its `postconf` being the real one).
    fn run_fix(&self, argv: &[Value]) {
        let argv: Vec<&str> = argv.iter().map(|a| a.as_str().unwrap()).collect();
        assert_eq!(argv[0], "postconf");
        let output = Command::new(&self.postconf)
            .args(&argv[1..])
            .output()
            .unwrap();
        assert!(output.status.success(), "{argv:?}: {output:?}");
    }
}

/// The findings of `check` with `verdict`.
fn of<'a>(findings: &'a [Value], check: &str, verdict: &str) -> Vec<&'a Value> {
    findings
        .iter()
        .filter(|f| f["check"] == check && f["verdict"] == verdict)
        .collect()
}

#[test]
fn the_readmes_master_cf_setup_passes_with_plain_and_braced_overrides() {
    let main_cf = "smtpd_delay_reject = yes\n";
    let master_cf = |map: &str| {
        format!(
            "smtp       inet n - y - - smtpd\n\
             submission inet n - y - - smtpd\n\
             \x20 -o smtpd_sasl_auth_enable=yes\n\
             \x20 -o smtpd_delay_reject=no\n\
             \x20 -o smtpd_client_restrictions=check_client_access,cidr:{map}\n\
             smtps      inet n - y - - smtpd\n\
             \x20 -o smtpd_sasl_auth_enable=yes\n\
             \x20 -o {{ smtpd_client_restrictions = permit_mynetworks, check_client_access cidr:{map}, reject }}\n\
             \x20 -o {{ smtpd_delay_reject = no }}\n"
        )
    };
    let Some(private) = PrivatePostfix::new("readme_master_cf", main_cf, "") else {
        return;
    };
    fs::write(private.path("postfix/master.cf"), master_cf(&private.map())).unwrap();
    let (code, findings) = doctor(&private.config());
    assert_eq!(code, Some(0), "{findings:#?}");
    assert!(verdicts(&findings, "fail").is_empty(), "{findings:#?}");
    let in_use: Vec<&str> = of(&findings, "map in use", "pass")
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    let map = private.map();
    assert_eq!(
        in_use,
        [
            format!(
                "submission/inet checks cidr:{map} in smtpd_client_restrictions (master.cf -o)"
            ),
            format!("smtps/inet checks cidr:{map} in smtpd_client_restrictions (master.cf -o)"),
        ],
        "{findings:#?}"
    );
    // smtp/inet offers no AUTH (main.cf's smtpd_sasl_auth_enable = no): not judged.
    assert!(
        !findings
            .iter()
            .any(|f| f["message"].as_str().unwrap().contains("smtp/inet")),
        "{findings:#?}"
    );
    assert_eq!(
        of(&findings, "smtpd_delay_reject", "pass").len(),
        2,
        "{findings:#?}"
    );
}

#[test]
fn suggested_fixes_keep_the_current_lists_and_make_doctor_pass() {
    let main_cf = "smtpd_sasl_auth_enable = yes\n\
         smtpd_delay_reject = no\n\
         mua_client_restrictions = permit_sasl_authenticated, reject\n\
         smtpd_client_restrictions = reject_unauth_pipelining, permit_mynetworks,\n\
         \x20   check_policy_service { inet:127.0.0.1:10023, timeout=10s },\n\
         \x20   reject_unknown_reverse_client_hostname\n";
    let master_cf = "smtp       inet n - y - - smtpd\n\
         submission inet n - y - - smtpd\n\
         \x20 -o smtpd_client_restrictions=$mua_client_restrictions\n\
         smtps      inet n - y - - smtpd\n\
         \x20 -o { smtpd_client_restrictions = reject_unknown_client_hostname, permit_sasl_authenticated, reject }\n";
    let Some(private) = PrivatePostfix::new("suggested_fixes", main_cf, master_cf) else {
        return;
    };
    let (code, findings) = doctor(&private.config());
    assert_eq!(code, Some(1), "{findings:#?}");
    let failed = of(&findings, "map in use", "fail");
    assert_eq!(failed.len(), 3, "{findings:#?}");
    for finding in &failed {
        private.run_fix(finding["command"].as_array().expect("a command"));
    }
    let map = private.map();
    // Every element is still there, in its order, with the lookup before the first permit.
    assert_eq!(
        private
            .postconf(&["-h", "smtpd_client_restrictions"])
            .trim(),
        format!(
            "reject_unauth_pipelining, check_client_access cidr:{map}, permit_mynetworks, \
             check_policy_service {{ inet:127.0.0.1:10023, timeout=10s }}, \
             reject_unknown_reverse_client_hostname"
        )
    );
    let overrides = private.postconf(&["-P"]);
    for line in [
        format!(
            "submission/inet/smtpd_client_restrictions = check_client_access,cidr:{map},$mua_client_restrictions"
        ),
        format!(
            "smtps/inet/smtpd_client_restrictions = reject_unknown_client_hostname,check_client_access,cidr:{map},permit_sasl_authenticated,reject"
        ),
    ] {
        assert!(overrides.lines().any(|l| l == line), "{line}\n{overrides}");
    }
    let (code, findings) = doctor(&private.config());
    assert_eq!(code, Some(0), "{findings:#?}");
    assert_eq!(
        of(&findings, "map in use", "pass").len(),
        3,
        "{findings:#?}"
    );
}

#[test]
fn a_missing_log_is_answered_with_where_postfix_says_it_logs() {
    let Some(private) = PrivatePostfix::new("where_postfix_logs", "", "") else {
        return;
    };
    let postfix_log = private.path("postfix.log");
    fs::write(
        private.path("postfix/main.cf"),
        format!("compatibility_level = 3.6\nmaillog_file = {postfix_log}\n"),
    )
    .unwrap();
    fs::write(&postfix_log, "").unwrap();
    let missing = private.path("mail.log");
    private.set_logs(&format!("[{missing:?}]"));
    let (code, findings) = doctor(&private.config());
    assert_eq!(code, Some(1), "{findings:#?}");
    let failed = of(&findings, "logs", "fail");
    assert_eq!(failed.len(), 1, "{findings:#?}");
    assert_eq!(failed[0]["message"], format!("{missing} does not exist"));
    assert_eq!(
        failed[0]["fix"],
        format!(
            "Postfix writes its log to {postfix_log} (postconf maillog_file): set logs = [{postfix_log:?}]"
        )
    );
    // The configured log exists but Postfix writes another: a warning names it.
    fs::write(&missing, "").unwrap();
    let (_, findings) = doctor(&private.config());
    let warned = of(&findings, "logs", "warn");
    assert_eq!(warned.len(), 1, "{findings:#?}");
    assert_eq!(
        warned[0]["message"],
        format!(
            "Postfix writes its log to {postfix_log} (postconf maillog_file), which logs = [...] does not list"
        )
    );
    // Through syslog: doctor says so, and what this machine has.
    fs::write(
        private.path("postfix/main.cf"),
        "compatibility_level = 3.6\n",
    )
    .unwrap();
    fs::remove_file(&missing).unwrap();
    let (_, findings) = doctor(&private.config());
    let failed = of(&findings, "logs", "fail");
    assert!(
        failed[0]["fix"]
            .as_str()
            .unwrap()
            .starts_with("Postfix logs through syslog (postconf maillog_file is empty); "),
        "{findings:#?}"
    );
    // No source at all: the same answer.
    private.set_logs("[]");
    let (_, findings) = doctor(&private.config());
    let failed = of(&findings, "logs", "fail");
    assert!(
        failed[0]["fix"]
            .as_str()
            .unwrap()
            .starts_with("Postfix logs through syslog (postconf maillog_file is empty); "),
        "{findings:#?}"
    );
}

#[test]
fn a_lookup_after_a_plain_permit_fails_and_the_fix_makes_doctor_pass() {
    let Some(private) = PrivatePostfix::new("lookup_after_permit", "", "") else {
        return;
    };
    let map = private.map();
    fs::write(
        private.path("postfix/main.cf"),
        format!(
            "compatibility_level = 3.6\n\
             smtpd_sasl_auth_enable = yes\n\
             smtpd_delay_reject = no\n\
             smtpd_client_restrictions = permit, check_client_access cidr:{map}\n"
        ),
    )
    .unwrap();
    fs::write(
        private.path("postfix/master.cf"),
        format!(
            "smtp       inet n - y - - smtpd\n\
             submission inet n - y - - smtpd\n\
             \x20 -o smtpd_client_restrictions=permit,check_client_access,cidr:{map}\n"
        ),
    )
    .unwrap();
    let (code, findings) = doctor(&private.config());
    assert_eq!(code, Some(1), "{findings:#?}");
    assert!(
        of(&findings, "map in use", "pass").is_empty(),
        "{findings:#?}"
    );
    let failed = of(&findings, "map in use", "fail");
    let messages: Vec<&str> = failed
        .iter()
        .map(|f| f["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            format!(
                "submission/inet: in smtpd_client_restrictions (master.cf -o) \
                 check_client_access cidr:{map} comes after `permit`, so Postfix never \
                 consults the map"
            ),
            format!(
                "smtp/inet: in smtpd_client_restrictions (main.cf) check_client_access \
                 cidr:{map} comes after `permit`, so Postfix never consults the map"
            ),
        ],
        "{findings:#?}"
    );
    for finding in &failed {
        private.run_fix(finding["command"].as_array().expect("a command"));
    }
    let (code, findings) = doctor(&private.config());
    assert_eq!(code, Some(0), "{findings:#?}");
    assert_eq!(
        of(&findings, "map in use", "pass").len(),
        2,
        "{findings:#?}"
    );
}
