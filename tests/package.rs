//! The Debian package: `contrib/build-deb.sh` builds it around the binary just built,
//! and its file list and control data are what an admin expects.

use crate::need;
use std::process::Command;

#[test]
fn the_debian_package_installs_binary_config_units_man_page_and_completions() {
    if Command::new("dpkg-deb").arg("--version").output().is_err() {
        need::met(
            "the_debian_package_installs_binary_config_units_man_page_and_completions",
            Some("dpkg-deb is not installed"),
        );
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let built = Command::new("bash")
        .env("DEB_COMPRESSION", "none")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/contrib/build-deb.sh"))
        .arg(env!("CARGO_BIN_EXE_saslguard"))
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let deb = String::from_utf8(built.stdout).unwrap().trim().to_string();
    let listing = Command::new("dpkg-deb")
        .args(["-c", &deb])
        .output()
        .unwrap();
    let listing = String::from_utf8(listing.stdout).unwrap();
    for path in [
        "./usr/bin/saslguard",
        "./etc/saslguard/saslguard.toml",
        "./lib/systemd/system/saslguard.service",
        "./lib/systemd/system/saslguard.timer",
        "./usr/share/man/man1/saslguard.1.gz",
        "./usr/share/bash-completion/completions/saslguard",
        "./usr/share/zsh/vendor-completions/_saslguard",
        "./usr/share/fish/vendor_completions.d/saslguard.fish",
        "./var/lib/saslguard/",
    ] {
        assert!(
            listing.lines().any(|l| l.ends_with(&format!(" {path}"))),
            "{path} missing from:\n{listing}"
        );
    }
    assert!(listing.contains("-rwxr-xr-x root/root"), "{listing}");
    // Every page a man page refers to (SEE ALSO, SUBCOMMANDS) is in the package.
    let pages = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_saslguard"))
        .args(["man", "--dir"])
        .arg(pages.path())
        .status()
        .unwrap();
    assert!(status.success());
    let mut referred = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(pages.path()).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for (at, _) in text.match_indices("(1)") {
            let start = text[..at]
                .rfind(|c: char| c.is_whitespace() || c == '"')
                .map_or(0, |i| i + 1);
            referred.insert(text[start..at].replace("\\-", "-"));
        }
    }
    assert!(referred.contains("saslguard-top"), "{referred:?}");
    for page in &referred {
        let path = format!(" ./usr/share/man/man1/{page}.1.gz");
        assert!(
            listing.lines().any(|l| l.ends_with(&path)),
            "{page}(1) is referred to but not in the package:\n{listing}"
        );
    }
    let control = Command::new("dpkg-deb")
        .args(["-f", &deb, "Package", "Version", "Section"])
        .output()
        .unwrap();
    let control = String::from_utf8(control.stdout).unwrap();
    assert!(control.contains("Package: saslguard"), "{control}");
    assert!(
        control.contains(concat!("Version: ", env!("CARGO_PKG_VERSION"))),
        "{control}"
    );
    let conffiles = Command::new("dpkg-deb")
        .args(["-I", &deb, "conffiles"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(conffiles.stdout).unwrap().trim(),
        "/etc/saslguard/saslguard.toml"
    );
}
