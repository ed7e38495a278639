//! `completions`, `man` and `config default|check`: generated from the same definitions
//! the program runs on, so they never disagree with it.

use crate::common;

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
    use clap::CommandFactory;
    let subcommands: Vec<String> = saslguard::cli::Cli::command()
        .get_subcommands()
        .map(|sub| sub.get_name().to_string())
        .collect();
    assert!(subcommands.len() >= 19, "{subcommands:?}");
    // How each shell's script offers a subcommand after `saslguard`, and the global
    // --as-of option of one of them.
    let offers = |shell: &str, sub: &str| match shell {
        "bash" => format!("saslguard,{sub})"),
        "zsh" => format!("'{sub}:"),
        _ => format!("-f -a \"{sub}\""),
    };
    // The text of the script that completes `saslguard unblock ...`.
    let unblock_section = |shell: &str, script: &str| -> String {
        let start = match shell {
            "bash" => "        saslguard__subcmd__unblock)\n",
            "zsh" => "(unblock)\n",
            _ => "__fish_saslguard_using_subcommand unblock\"",
        };
        let at = script.find(start).expect("an unblock section");
        script[at..].lines().take(6).collect::<Vec<_>>().join("\n")
    };
    for shell in ["bash", "zsh", "fish"] {
        let script = stdout(&env, &["completions", shell]);
        for sub in &subcommands {
            let offer = offers(shell, sub);
            assert!(
                script.contains(&offer),
                "{shell} completion lacks {offer:?}"
            );
        }
        let section = unblock_section(shell, &script);
        let as_of = match shell {
            "bash" => " --as-of ",
            "zsh" => "'--as-of=[",
            _ => " -l as-of ",
        };
        assert!(
            section.contains(as_of),
            "{shell}: the global --as-of is not offered after unblock:\n{section}"
        );
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
fn config_check_prints_the_names_the_config_takes() {
    let env = Env::new();
    let path = env.path("named.toml");
    fs::write(
        &path,
        "logs = [\"/var/log/mail.log\"]\n[postfix]\nmap = \"/etc/postfix/sg\"\n\
         map_type = \"cidr\"\n[firewall]\nbackend = \"none\"\n",
    )
    .unwrap();
    let output = env
        .cmd()
        .args(["config", "check"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("ok (1 logs, 2 policy tiers, map /etc/postfix/sg (cidr), firewall none)"),
        "{stderr}"
    );
}

#[test]
fn config_check_names_the_file_line_and_key() {
    let env = Env::new();
    let path = env.path("bad.toml");
    fs::write(
        &path,
        "logs = [\"/var/log/maillog\"]\n[policy]\nescalaton = 2.0\nmax_duration = \"forever-ish\"\n\
         [postfix]\nmap_type = \"btree\"\n",
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
    // Every error, each with its line.
    for needle in [
        "bad.toml:3: unknown field `escalaton`",
        "bad.toml:4:",
        "forever-ish",
        "bad.toml:6:",
        "btree",
        "3 error(s)",
    ] {
        assert!(stderr.contains(needle), "{needle}: {stderr}");
    }
    // One bad value inside a table is one error: setting its line aside does not make
    // the table report a missing key, or its other keys land at the top level.
    fs::write(
        &path,
        "[[policy.tier]]\ntarget = \"postfix\"\nthreshold = \"x\"\nwindow = \"7d\"\n\
         duration = \"1d\"\n[postfix]\nmap_typ = \"cidr\"\n",
    )
    .unwrap();
    let output = env
        .cmd()
        .args(["config", "check"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let errors: Vec<&str> = stderr.lines().collect();
    assert_eq!(errors.len(), 3, "{stderr}");
    assert!(
        errors[0]
            .ends_with("bad.toml:3: invalid type: string \"x\", expected u64: threshold = \"x\""),
        "{stderr}"
    );
    assert!(
        errors[1].contains("bad.toml:7: unknown field `map_typ`"),
        "{stderr}"
    );
    assert!(errors[2].ends_with("bad.toml: 2 error(s)"), "{stderr}");
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

#[test]
fn metrics_are_prometheus_text_with_exact_figures_and_drift() {
    let env = Env::new();
    let map = env.path("access");
    fs::write(
        &env.config,
        format!(
            "[postfix]\nmap = {:?}\nreload_command = []\n[firewall]\nbackend = \"none\"\n",
            map.to_str().unwrap()
        ),
    )
    .unwrap();
    let log = env.path("maillog");
    common::append(
        &log,
        &(common::failures(0, 3, "203.0.113.7")
            + "2026-11-27T00:10:00+00:00 mx postfix/smtpd[9]: warning: unknown[203.0.113.8]: SASL LOGIN authentication failed: Connection lost to authentication server\n"
            + "garbage\n"),
    );
    fs::write(
        &env.config,
        format!(
            "logs = [{:?}]\n{}",
            log.to_str().unwrap(),
            fs::read_to_string(&env.config).unwrap()
        ),
    )
    .unwrap();
    env.cmd()
        .args(["block", "198.51.100.9", "--target", "postfix"])
        .assert()
        .success();
    env.run_ok(&["run"]);
    let text = stdout(&env, &["metrics"]);
    for line in [
        "# TYPE saslguard_events gauge",
        "saslguard_events{kind=\"auth_failed\"} 3",
        "saslguard_events{kind=\"server_fault\"} 1",
        "saslguard_unparsed_lines 1",
        "saslguard_active_blocks{target=\"postfix\"} 1",
        "saslguard_active_blocks{target=\"firewall\"} 0",
        "saslguard_last_run_success 1",
        "saslguard_drift_entries{place=\"postfix\",kind=\"missing\"} 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    assert!(
        text.contains("saslguard_last_run_duration_seconds "),
        "{text}"
    );
    // Someone empties the map: the drift shows.
    fs::write(&map, "").unwrap();
    let text = stdout(&env, &["metrics"]);
    assert!(
        text.lines()
            .any(|l| l == "saslguard_drift_entries{place=\"postfix\",kind=\"missing\"} 1"),
        "{text}"
    );
}

/// The env's config with the Postfix map at `map` and no firewall.
fn map_config(env: &Env, map: &std::path::Path) {
    fs::write(
        &env.config,
        format!(
            "logs = []\n[postfix]\nmap = {:?}\nreload_command = []\n[firewall]\nbackend = \"none\"\n",
            map.to_str().unwrap()
        ),
    )
    .unwrap();
}

#[test]
fn metrics_fail_on_a_database_error_instead_of_printing_zero() {
    let env = Env::new();
    map_config(&env, &env.path("access"));
    env.run_ok(&["block", "198.51.100.9", "--target", "postfix"]);
    env.run_ok(&["render"]);
    // A row the program cannot read back: reading the active blocks fails.
    let conn = rusqlite::Connection::open(&env.db).unwrap();
    conn.execute("UPDATE blocks SET network = 'not-a-network'", [])
        .unwrap();
    drop(conn);
    let output = env.cmd().arg("metrics").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(
        output.stdout.is_empty(),
        "no figure at all rather than a false one: {}",
        String::from_utf8_lossy(&output.stdout)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid IP address"), "{stderr}");
    assert!(stderr.contains(env.db.to_str().unwrap()), "{stderr}");
}

#[test]
fn metrics_give_no_drift_figure_for_a_place_that_cannot_be_read() {
    let env = Env::new();
    let map = env.path("access");
    map_config(&env, &map);
    env.run_ok(&["block", "198.51.100.9", "--target", "postfix"]);
    env.run_ok(&["render"]);
    // The map can no longer be read: its drift is unknown, not 0.
    fs::remove_file(&map).unwrap();
    fs::create_dir(&map).unwrap();
    let text = stdout(&env, &["metrics"]);
    assert!(
        text.lines()
            .any(|l| l == "saslguard_drift_check_failed{place=\"postfix\"} 1"),
        "{text}"
    );
    assert!(
        !text.contains("saslguard_drift_entries{place=\"postfix\""),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l == "saslguard_active_blocks{target=\"postfix\"} 1"),
        "{text}"
    );
}
