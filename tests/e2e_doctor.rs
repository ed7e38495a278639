//! `saslguard doctor` against a real Postfix configuration (the end-to-end rig's): it
//! passes on the rig's good setup and names the `smtpd_delay_reject = yes` trap, with
//! its fix, on a bad one. Needs what the rig needs (see `rig`); skips without it,
//! except under `CI=true`, where it fails.

mod rig;

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
