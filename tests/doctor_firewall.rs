//! `doctor` judges the firewall as `status` does, for both address families: rules
//! removed for IPv6 alone are found (the old probe looked at IPv4's INPUT only). Runs
//! inside a network namespace this test creates; needs root, `ip`, `iptables`,
//! `ip6tables`; skips with a reason otherwise, fails under CI=true.

mod common;
mod common_netns;

use std::fs;

use common::Env;
use common_netns::Netns;
use serde_json::Value;

/// `doctor --format json` inside the namespace: the findings of `check`.
fn doctor(ns: &Netns, env: &Env, check: &str) -> Vec<Value> {
    let binary = env!("CARGO_BIN_EXE_saslguard");
    let (_, stdout, stderr) = ns.try_run(&[
        binary,
        "--db",
        env.db.to_str().unwrap(),
        "--config",
        env.config.to_str().unwrap(),
        "doctor",
        "--format",
        "json",
    ]);
    let findings: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("doctor printed no JSON ({e}): {stderr}"));
    findings
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .cloned()
        .collect()
}

fn saslguard(ns: &Netns, env: &Env, args: &[&str]) {
    let binary = env!("CARGO_BIN_EXE_saslguard");
    let mut argv = vec![
        binary,
        "--db",
        env.db.to_str().unwrap(),
        "--config",
        env.config.to_str().unwrap(),
    ];
    argv.extend_from_slice(args);
    let (ok, _, stderr) = ns.try_run(&argv);
    assert!(ok, "saslguard {args:?} failed: {stderr}");
}

#[test]
fn doctor_finds_iptables_rules_missing_for_ipv6_alone() {
    let Some(ns) = Netns::new("doctor_fw") else {
        return;
    };
    let env = Env::new();
    fs::write(env.path("maillog"), "").unwrap();
    fs::write(
        &env.config,
        format!(
            "logs = [{log:?}]\n[postfix]\nmap = {map:?}\nreload_command = []\n\
             [firewall]\nbackend = \"iptables\"\nname = \"sgdoc\"\n[allow]\nloopback = false\n",
            log = env.path("maillog").to_str().unwrap(),
            map = env.path("access").to_str().unwrap(),
        ),
    )
    .unwrap();
    for network in ["192.0.2.7", "2001:db8::7"] {
        saslguard(&ns, &env, &["block", network, "--target", "firewall"]);
    }
    saslguard(&ns, &env, &["render"]);
    let verdicts = |findings: &[Value]| -> Vec<String> {
        findings
            .iter()
            .map(|f| {
                format!(
                    "{} {}",
                    f["verdict"].as_str().unwrap(),
                    f["message"].as_str().unwrap()
                )
            })
            .collect()
    };
    let rendered = doctor(&ns, &env, "rendered");
    assert_eq!(
        verdicts(&rendered),
        [
            "pass postfix: 0 entries, as the database wants (0 active postfix blocks)",
            "pass iptables: 2 entries, as the database wants (2 active firewall blocks)",
        ],
        "{rendered:#?}"
    );
    // Someone flushes IPv6's INPUT: IPv4 still jumps to the chain, IPv6 no longer does.
    ns.run(&["ip6tables", "-F", "INPUT"]);
    let rendered = doctor(&ns, &env, "rendered");
    let verdicts = verdicts(&rendered);
    assert_eq!(verdicts.len(), 2, "{rendered:#?}");
    assert!(
        verdicts[1].starts_with("warn iptables: not what the database wants"),
        "{rendered:#?}"
    );
    // And `run` repairs what doctor found.
    saslguard(&ns, &env, &["run"]);
    let rendered = doctor(&ns, &env, "rendered");
    assert!(
        rendered.iter().all(|f| f["verdict"] == "pass"),
        "{rendered:#?}"
    );
}
