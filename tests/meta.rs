//! `completions`, `man` and `config default|check`: generated from the same definitions
//! the program runs on, so they never disagree with it.

mod common;

use std::fs;

use common::Env;

fn stdout(env: &Env, args: &[&str]) -> String {
    let output = env.cmd().args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn completions_know_every_subcommand() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout(&env, &["completions", shell]);
        for sub in ["ingest", "run", "unblock", "allow", "doctor", "show", "top"] {
            assert!(script.contains(sub), "{shell} completion lacks {sub}");
        }
        assert!(script.contains("--as-of"), "{shell}: global options");
    }
    let output = env.cmd().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[test]
fn the_man_page_is_roff_listing_the_subcommands() {
    let env = Env::new();
    let page = stdout(&env, &["man"]);
    assert!(page.contains(".TH saslguard 1"), "{page}");
    for sub in ["ingest", "unblock", "render", "doctor"] {
        assert!(page.contains(sub), "man page lacks {sub}");
    }
}

#[test]
fn config_default_prints_the_embedded_file_and_it_checks_clean() {
    let env = Env::new();
    let text = stdout(&env, &["config", "default"]);
    assert_eq!(
        text,
        fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/default-config.toml"
        ))
        .unwrap()
    );
    let path = env.path("default.toml");
    fs::write(&path, &text).unwrap();
    env.cmd()
        .args(["config", "check"])
        .arg(&path)
        .assert()
        .success();
}

#[test]
fn config_check_names_the_file_line_and_key() {
    let env = Env::new();
    let path = env.path("bad.toml");
    fs::write(
        &path,
        "logs = [\"/var/log/maillog\"]\n[policy]\nescalaton = 2.0\n",
    )
    .unwrap();
    let output = env
        .cmd()
        .args(["config", "check"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for needle in ["bad.toml", "line 3", "escalaton"] {
        assert!(stderr.contains(needle), "{needle}: {stderr}");
    }
    // Values are checked too, not only names.
    fs::write(&path, "[[policy.tier]]\ntarget = \"postfix\"\nthreshold = 0\nwindow = \"1d\"\nduration = \"1d\"\n").unwrap();
    let output = env
        .cmd()
        .args(["config", "check"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("threshold 0"));
}
