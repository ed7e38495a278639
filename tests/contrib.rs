//! The systemd units and the cron line in `contrib/`: `systemd-analyze verify` accepts
//! the units (with ExecStart pointing at the binary just built), and the cron line runs
//! the same command. Needs systemd-analyze; skips without it, fails under CI=true.

use crate::need;
use std::fs;
use std::path::Path;
use std::process::Command;

fn contrib(name: &str) -> String {
    fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("contrib")
            .join(name),
    )
    .expect("contrib file")
}

#[test]
fn systemd_analyze_verifies_the_service_and_the_timer() {
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_err()
    {
        need::met(
            "systemd_analyze_verifies_the_service_and_the_timer",
            Some("systemd-analyze is not installed (apt-get install systemd)"),
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let service = contrib("saslguard.service");
    assert!(service.contains("ExecStart=/usr/bin/saslguard run"));
    fs::write(
        dir.path().join("saslguard.service"),
        service.replace("/usr/bin/saslguard", env!("CARGO_BIN_EXE_saslguard")),
    )
    .unwrap();
    fs::write(
        dir.path().join("saslguard.timer"),
        contrib("saslguard.timer"),
    )
    .unwrap();
    // --man=no: the man page is installed by the package, not on a build machine.
    let output = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(dir.path().join("saslguard.service"))
        .arg(dir.path().join("saslguard.timer"))
        .output()
        .unwrap();
    assert!(
        output.status.success() && output.stderr.is_empty(),
        "systemd-analyze verify: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_units_are_hardened_and_scheduled_every_five_minutes() {
    let service = contrib("saslguard.service");
    for line in [
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/saslguard /etc/postfix /var/spool/postfix",
        "NoNewPrivileges=yes",
        "CAP_NET_ADMIN",
    ] {
        assert!(service.contains(line), "service lacks {line}");
    }
    assert!(contrib("saslguard.timer").contains("OnCalendar=*:0/5"));
    let cron = contrib("saslguard.cron");
    let entry = cron
        .lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())
        .unwrap();
    assert_eq!(entry, "*/5 * * * * root /usr/bin/saslguard run --quiet");
}
