//! `doctor` judges the firewall as `status` does, for both address families: rules
//! removed for IPv6 alone are found (the old probe looked at IPv4's INPUT only). Runs
//! inside a network namespace this test creates; needs root, `ip`, `iptables`,
//! `ip6tables`, `nft`; skips with a reason otherwise, fails under CI=true. An nftables
//! table whose chain is hooked into nothing is found too, before the first run (the
//! probe) and after it (the comparison with the database).

use crate::common;
use crate::common_netns;

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
    let found = verdicts(&rendered);
    assert_eq!(found.len(), 2, "{rendered:#?}");
    assert!(
        found[1].starts_with("warn iptables: not what the database wants"),
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

/// `verdict message` of each finding.
fn verdicts(findings: &[Value]) -> Vec<String> {
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
}

/// The env's config for the nftables backend under the name `sgdoc`.
fn nftables_config(env: &Env) {
    fs::write(env.path("maillog"), "").unwrap();
    fs::write(
        &env.config,
        format!(
            "logs = [{log:?}]\n[postfix]\nmap = {map:?}\nreload_command = []\n\
             [firewall]\nbackend = \"nftables\"\nname = \"sgdoc\"\n[allow]\nloopback = false\n",
            log = env.path("maillog").to_str().unwrap(),
            map = env.path("access").to_str().unwrap(),
        ),
    )
    .unwrap();
}

#[test]
fn doctor_finds_an_nftables_table_whose_chain_is_not_hooked() {
    let Some(ns) = Netns::new("doctor_nft") else {
        return;
    };
    let env = Env::new();
    nftables_config(&env);

    // Before the first run (no database): saslguard's table and chain exist, but the
    // chain is a regular one, hooked into nothing, so it filters nothing.
    ns.run(&["nft", "add", "table", "inet", "sgdoc"]);
    ns.run(&["nft", "add", "chain", "inet", "sgdoc", "input"]);
    assert_eq!(
        verdicts(&doctor(&ns, &env, "firewall")),
        ["warn saslguard's sgdoc rules are not in place (yet)"]
    );
    // The same chain hooked into input passes.
    ns.run(&["nft", "delete", "chain", "inet", "sgdoc", "input"]);
    ns.run(&[
        "nft",
        "add chain inet sgdoc input { type filter hook input priority 0 ; }",
    ]);
    assert_eq!(
        verdicts(&doctor(&ns, &env, "firewall")),
        ["pass saslguard's sgdoc rules are hooked into input"]
    );
    ns.run(&["nft", "delete", "table", "inet", "sgdoc"]);

    // With a database: rendered blocks, then the table loaded again with everything
    // but its chain's hook (sets, elements and rules intact).
    for network in ["192.0.2.7", "2001:db8::7"] {
        saslguard(&ns, &env, &["block", network, "--target", "firewall"]);
    }
    saslguard(&ns, &env, &["render"]);
    assert_eq!(
        verdicts(&doctor(&ns, &env, "rendered")),
        [
            "pass postfix: 0 entries, as the database wants (0 active postfix blocks)",
            "pass nftables: 2 entries, as the database wants (2 active firewall blocks)",
        ]
    );
    let table = ns.run(&["nft", "list", "table", "inet", "sgdoc"]);
    let hook_lines = table.lines().filter(|l| l.contains("hook input")).count();
    assert_eq!(hook_lines, 1, "{table}");
    let unhooked: String = table
        .lines()
        .filter(|l| !l.contains("hook input"))
        .map(|l| format!("{l}\n"))
        .collect();
    let script = env.path("unhooked.nft");
    fs::write(&script, &unhooked).unwrap();
    ns.run(&["nft", "delete", "table", "inet", "sgdoc"]);
    ns.run(&["nft", "-f", script.to_str().unwrap()]);
    let listed = ns.run(&["nft", "list", "table", "inet", "sgdoc"]);
    assert!(!listed.contains("hook"), "{listed}");
    assert!(listed.contains("192.0.2.7"), "{listed}");
    let rendered = doctor(&ns, &env, "rendered");
    let found = verdicts(&rendered);
    assert_eq!(found.len(), 2, "{rendered:#?}");
    assert!(
        found[1].starts_with("warn nftables: not what the database wants"),
        "{rendered:#?}"
    );
    // And `run` repairs what doctor found.
    saslguard(&ns, &env, &["run"]);
    assert_eq!(
        verdicts(&doctor(&ns, &env, "rendered")),
        [
            "pass postfix: 0 entries, as the database wants (0 active postfix blocks)",
            "pass nftables: 2 entries, as the database wants (2 active firewall blocks)",
        ]
    );
}
