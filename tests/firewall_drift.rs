//! Whatever `status` says `saslguard run` repairs, `run` repairs (issue 10): every kind
//! of firewall drift, for every backend, through the real binary inside a network
//! namespace this test creates. Each drift is made by hand with the backend's own tool,
//! `status` must report it with its "`saslguard run` repairs it" message, then one `run`
//! must leave `status` in sync and the kernel exactly as a fresh render left it.
//!
//! Also here: an outer network never shortens an inner block's timeout (point 4), the
//! `max_entries` valve holds back only additions (point 5), and switching backends or
//! names removes what saslguard created in the old place (point 6).
//!
//! Needs root, `ip`, `nft`, `ipset`, `iptables` and python3; skips with a reason
//! otherwise, fails under CI=true.

use crate::common;
use crate::common_netns;

use std::fs;

use common::Env;
use common_netns::Netns;
use serde_json::Value;

/// saslguard's name in these tests (table, sets, chain).
const NAME: &str = "sgtest";

/// What `status` promises for drift.
const REPAIRS: &str = "`saslguard run` repairs it";

/// Writes the config: `backend`, `name`, `ports`, the firewall's `max_entries`.
fn write_config(env: &Env, backend: &str, name: &str, ports: &[u16], max_entries: usize) {
    let log = env.path("maillog");
    if !log.exists() {
        fs::write(&log, "").unwrap();
    }
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    fs::write(
        &env.config,
        format!(
            "logs = [{log:?}]\n\
             [postfix]\nmap = {map:?}\nreload_command = []\n\
             [firewall]\nbackend = \"{backend}\"\nname = \"{name}\"\nports = [{ports}]\n\
             max_entries = {max_entries}\n\
             [allow]\nloopback = false\n",
            log = log.to_str().unwrap(),
            map = env.path("access").to_str().unwrap(),
            ports = ports.join(", "),
        ),
    )
    .unwrap();
}

/// A namespace and an environment whose config renders to `backend` on port 25.
fn setup(test: &str, backend: &str) -> Option<(Netns, Env)> {
    let ns = Netns::new(test)?;
    let env = Env::new();
    write_config(&env, backend, NAME, &[25], 100);
    Some((ns, env))
}

/// Runs saslguard inside the namespace: (success, stdout, stderr).
fn saslguard(ns: &Netns, env: &Env, args: &[&str]) -> (bool, String, String) {
    let binary = env!("CARGO_BIN_EXE_saslguard");
    let db = env.db.to_str().unwrap();
    let config = env.config.to_str().unwrap();
    let mut argv = vec![binary, "--db", db, "--config", config];
    argv.extend_from_slice(args);
    ns.try_run(&argv)
}

/// Runs saslguard inside the namespace; panics unless it succeeds; returns stdout.
fn ok(ns: &Netns, env: &Env, args: &[&str]) -> String {
    let (success, stdout, stderr) = saslguard(ns, env, args);
    assert!(success, "saslguard {args:?} failed: {stderr}\n{stdout}");
    stdout
}

/// Blocks `network` in the firewall for `duration` (`permanent` for ever).
fn block(ns: &Netns, env: &Env, network: &str, duration: &str) {
    let mut args = vec!["block", network, "--target", "firewall"];
    if duration == "permanent" {
        args.push("--permanent");
    } else {
        args.extend(["--for", duration]);
    }
    ok(ns, env, &args);
}

/// The lines of `status` (text) about firewall places. Its exit status must say
/// whether they are all in sync.
fn firewall_lines(ns: &Netns, env: &Env) -> Vec<String> {
    let (success, stdout, stderr) = saslguard(ns, env, &["status"]);
    let in_sync = stdout
        .lines()
        // `backend = "none"` leaving blocks unrendered is the config's choice, no drift.
        .filter(|l| l.contains(" blocks: ") && !l.contains("not rendered"))
        .all(|l| l.ends_with(": in sync"));
    assert_eq!(
        success, in_sync,
        "status exit vs its lines: {stderr}\n{stdout}"
    );
    stdout
        .lines()
        .filter(|l| l.starts_with("firewall blocks:"))
        .map(str::to_string)
        .collect()
}

/// `nft -j` output as JSON, without what changes by itself or on every render
/// (remaining times, handles, the version banner).
fn nft_json(ns: &Netns, args: &[&str]) -> Value {
    let mut argv = vec!["nft", "-j"];
    argv.extend_from_slice(args);
    let mut json: Value = serde_json::from_str(&ns.run(&argv)).unwrap();
    fn strip(value: &mut Value) {
        match value {
            Value::Object(map) => {
                for key in ["expires", "timeout", "handle"] {
                    map.remove(key);
                }
                map.values_mut().for_each(strip);
            }
            Value::Array(items) => {
                items.retain(|i| i.get("metainfo").is_none());
                items.iter_mut().for_each(strip);
            }
            _ => {}
        }
    }
    strip(&mut json);
    json
}

/// Everything saslguard rendered for `backend` (name `name`) in the kernel, in a form
/// that two renders of the same blocks give alike.
fn kernel_state(ns: &Netns, backend: &str, name: &str) -> String {
    let lines = |args: &[&str], needle: &str| -> Vec<String> {
        let mut lines: Vec<String> = ns
            .try_run(args)
            .1
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_string)
            .collect();
        lines.sort();
        lines
    };
    match backend {
        "nftables" => {
            let (present, _, _) = ns.try_run(&["nft", "list", "table", "inet", name]);
            if present {
                nft_json(ns, &["list", "table", "inet", name]).to_string()
            } else {
                "no table".to_string()
            }
        }
        "ipset" => [
            lines(&["ipset", "save"], &format!("add {name}-")),
            lines(&["iptables", "-S"], &format!("match-set {name}-")),
            lines(&["ip6tables", "-S"], &format!("match-set {name}-")),
        ]
        .concat()
        .join("\n"),
        _ => [
            lines(&["iptables", "-S"], name),
            lines(&["ip6tables", "-S"], name),
        ]
        .concat()
        .join("\n"),
    }
}

/// Whether anything of saslguard's (`name`) is left in `backend`'s kernel objects.
fn anything_left(ns: &Netns, backend: &str, name: &str) -> bool {
    match backend {
        "nftables" => ns.try_run(&["nft", "list", "table", "inet", name]).0,
        "ipset" => {
            ns.run(&["ipset", "list", "-n"]).contains(name)
                || !kernel_state(ns, "ipset", name).is_empty()
        }
        _ => !kernel_state(ns, "iptables", name).is_empty(),
    }
}

/// The blocks every drift scenario starts from: two IPv4 networks, one IPv6.
fn block_three(ns: &Netns, env: &Env) {
    block(ns, env, "198.51.100.9", "1d");
    block(ns, env, "203.0.113.0/24", "permanent");
    block(ns, env, "2001:db8::/64", "2h");
}

/// Makes the drift with `commands` (run in the namespace), checks that `status` reports
/// it as drift that run repairs, runs `run`, and checks that `status` is in sync and
/// the kernel holds `expected` again.
fn drift_then_run(
    ns: &Netns,
    env: &Env,
    backend: &str,
    what: &str,
    commands: &[&[&str]],
    expected: &str,
) -> String {
    for command in commands {
        ns.run(command);
    }
    assert_ne!(
        kernel_state(ns, backend, NAME),
        expected,
        "{backend}, {what}: the drift changed nothing"
    );
    let lines = firewall_lines(ns, env);
    let reported = lines
        .iter()
        .find(|l| l.contains("DRIFT") && l.contains(REPAIRS))
        .unwrap_or_else(|| panic!("{backend}, {what}: status does not report it: {lines:?}"))
        .clone();
    let summary = ok(ns, env, &["run"]);
    let lines = firewall_lines(ns, env);
    assert!(
        lines.len() == 1 && lines[0].ends_with(": in sync"),
        "{backend}, {what}: status after run: {lines:?}\nrun said: {summary}"
    );
    assert_eq!(
        kernel_state(ns, backend, NAME),
        expected,
        "{backend}, {what}: the kernel after run\nrun said: {summary}"
    );
    reported
}

/// Every drift in `drifts` is reported by `status` and repaired by the next `run`; then
/// the same for a change of `[firewall] ports`.
fn drift_scenario(test: &str, backend: &str, drifts: &[(&str, &[&[&str]])]) {
    let Some((ns, env)) = setup(test, backend) else {
        return;
    };
    block_three(&ns, &env);
    ok(&ns, &env, &["run"]);
    let rendered = kernel_state(&ns, backend, NAME);
    assert!(rendered.contains("198.51.100.9"), "{rendered}");
    assert!(rendered.contains("203.0.113.0"), "{rendered}");
    assert!(rendered.contains("2001:db8::"), "{rendered}");
    assert_eq!(firewall_lines(&ns, &env).len(), 1);
    assert!(firewall_lines(&ns, &env)[0].ends_with(": in sync"));
    let mut messages = Vec::new();
    for (what, commands) in drifts {
        messages.push(drift_then_run(
            &ns, &env, backend, what, commands, &rendered,
        ));
    }
    // Both drift messages were shown (and each was followed by a run that repaired it).
    assert!(
        messages
            .iter()
            .any(|m| m.contains(" missing") && m.contains(" unexpected")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("the entries match, but rules or settings differ")),
        "{messages:?}"
    );

    // Another port list: status reports the rules as drift, run rewrites them.
    write_config(&env, backend, NAME, &[25, 2525], 100);
    let lines = firewall_lines(&ns, &env);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("DRIFT") && l.contains(REPAIRS)),
        "{backend}, ports changed: {lines:?}"
    );
    ok(&ns, &env, &["run"]);
    let lines = firewall_lines(&ns, &env);
    assert!(
        lines.len() == 1 && lines[0].ends_with(": in sync"),
        "{backend}, ports changed: status after run: {lines:?}"
    );
    let now = kernel_state(&ns, backend, NAME);
    assert!(
        now.contains("2525"),
        "{backend}: new ports not rendered: {now}"
    );
    assert!(now.contains("198.51.100.9"), "{now}");
}

#[test]
fn nftables_every_drift_status_reports_is_repaired_by_run() {
    drift_scenario(
        "nftables_every_drift_status_reports_is_repaired_by_run",
        "nftables",
        &[
            (
                "flush set v4",
                &[&["nft", "flush", "set", "inet", NAME, "v4"]],
            ),
            (
                "delete one element",
                &[&[
                    "nft",
                    "delete",
                    "element",
                    "inet",
                    NAME,
                    "v4",
                    "{ 198.51.100.9 }",
                ]],
            ),
            (
                "add a foreign element",
                &[&[
                    "nft",
                    "add",
                    "element",
                    "inet",
                    NAME,
                    "v4",
                    "{ 192.0.2.77 }",
                ]],
            ),
            (
                "flush the rules",
                &[&["nft", "flush", "chain", "inet", NAME, "input"]],
            ),
            (
                "delete the chain (the hook)",
                &[
                    &["nft", "flush", "chain", "inet", NAME, "input"],
                    &["nft", "delete", "chain", "inet", NAME, "input"],
                ],
            ),
            (
                "a rule that accepts under saslguard's comment",
                &[
                    &["nft", "flush", "chain", "inet", NAME, "input"],
                    &[
                        "nft",
                        "add",
                        "rule",
                        "inet",
                        NAME,
                        "input",
                        "ip",
                        "saddr",
                        "@v4",
                        "tcp",
                        "dport",
                        "{ 25 }",
                        "accept",
                        "comment",
                        "\"saslguard/1 v4 tcp dport 25\"",
                    ],
                    &[
                        "nft",
                        "add",
                        "rule",
                        "inet",
                        NAME,
                        "input",
                        "ip6",
                        "saddr",
                        "@v6",
                        "tcp",
                        "dport",
                        "{ 25 }",
                        "drop",
                        "comment",
                        "\"saslguard/1 v6 tcp dport 25\"",
                    ],
                ],
            ),
            (
                "delete the table",
                &[&["nft", "delete", "table", "inet", NAME]],
            ),
            ("flush the ruleset", &[&["nft", "flush", "ruleset"]]),
        ],
    );
}

#[test]
fn ipset_every_drift_status_reports_is_repaired_by_run() {
    let v4 = format!("{NAME}-v4");
    let v4 = v4.as_str();
    let rule: &[&str] = &[
        "-p",
        "tcp",
        "-m",
        "multiport",
        "--dports",
        "25",
        "-m",
        "set",
        "--match-set",
        v4,
        "src",
        "-m",
        "comment",
        "--comment",
        NAME,
        "-j",
        "DROP",
    ];
    let duplicate = [&["iptables", "-A", "INPUT"][..], rule].concat();
    drift_scenario(
        "ipset_every_drift_status_reports_is_repaired_by_run",
        "ipset",
        &[
            ("flush set v4", &[&["ipset", "flush", v4]]),
            (
                "delete one element",
                &[&["ipset", "del", v4, "198.51.100.9"]],
            ),
            (
                "add a foreign element",
                &[&["ipset", "add", v4, "192.0.2.77"]],
            ),
            (
                "swap one element for another",
                &[
                    &["ipset", "del", v4, "198.51.100.9"],
                    &["ipset", "add", v4, "192.0.2.77"],
                ],
            ),
            (
                "flush INPUT",
                &[&["iptables", "-F", "INPUT"], &["ip6tables", "-F", "INPUT"]],
            ),
            ("a second copy of the rule", &[&duplicate]),
            (
                "destroy the sets",
                &[
                    &["iptables", "-F", "INPUT"],
                    &["ip6tables", "-F", "INPUT"],
                    &["ipset", "destroy", v4],
                    &["ipset", "destroy", &format!("{NAME}-v6")],
                ],
            ),
        ],
    );
}

#[test]
fn iptables_every_drift_status_reports_is_repaired_by_run() {
    drift_scenario(
        "iptables_every_drift_status_reports_is_repaired_by_run",
        "iptables",
        &[
            ("flush the chain", &[&["iptables", "-F", NAME]]),
            ("flush the IPv6 chain", &[&["ip6tables", "-F", NAME]]),
            (
                "delete one rule",
                &[&[
                    "iptables",
                    "-D",
                    NAME,
                    "-s",
                    "198.51.100.9/32",
                    "-p",
                    "tcp",
                    "-m",
                    "multiport",
                    "--dports",
                    "25",
                    "-j",
                    "DROP",
                ]],
            ),
            (
                "add a foreign rule",
                &[&["iptables", "-A", NAME, "-s", "192.0.2.77/32", "-j", "DROP"]],
            ),
            (
                "delete the jump",
                &[&["iptables", "-D", "INPUT", "-j", NAME]],
            ),
            (
                "delete the chain",
                &[
                    &["iptables", "-D", "INPUT", "-j", NAME],
                    &["iptables", "-F", NAME],
                    &["iptables", "-X", NAME],
                ],
            ),
        ],
    );
}

/// The elements of saslguard's nftables set `set` (`v4`, `v6`): (network, timeout in
/// seconds if any), in the kernel's order.
fn nft_elements(ns: &Netns, set: &str) -> Vec<(String, Option<u64>)> {
    let json: Value =
        serde_json::from_str(&ns.run(&["nft", "-j", "list", "set", "inet", NAME, set])).unwrap();
    let network = |v: &Value| -> String {
        match v.get("prefix") {
            Some(p) => format!("{}/{}", p["addr"].as_str().unwrap(), p["len"]),
            None => format!("{}/32", v.as_str().unwrap()),
        }
    };
    json["nftables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o.get("set"))
        .flat_map(|s| s["elem"].as_array().cloned().unwrap_or_default())
        .map(|e| match e.get("elem") {
            Some(inner) => (network(&inner["val"]), inner["timeout"].as_u64()),
            None => (network(&e), None),
        })
        .collect()
}

#[test]
fn an_outer_network_carries_the_longest_timeout_of_the_blocks_inside_it() {
    let Some((ns, env)) = setup(
        "an_outer_network_carries_the_longest_timeout_of_the_blocks_inside_it",
        "nftables",
    ) else {
        return;
    };
    block(&ns, &env, "198.51.100.0/24", "1h");
    block(&ns, &env, "198.51.100.9", "1d");
    ok(&ns, &env, &["run"]);
    let elements = nft_elements(&ns, "v4");
    assert_eq!(elements.len(), 1, "{elements:?}");
    assert_eq!(elements[0].0, "198.51.100.0/24");
    // The /24 stands for the /32 too, so it lasts as long as the /32's day-long block
    // (a few seconds of the day may have passed), not the /24's hour.
    let timeout = elements[0].1.expect("a timeout");
    assert!(
        (86_400 - 120..=86_400).contains(&timeout),
        "timeout {timeout}s, wanted about a day"
    );
}

/// The hosts of the Postfix map in `env` (`cidr` map: `NET ACTION` lines).
fn map_hosts(env: &Env) -> Vec<String> {
    fs::read_to_string(env.path("access"))
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .map(|k| k.trim_end_matches("/32").to_string())
        .collect()
}

#[test]
fn over_max_entries_removals_still_apply_and_only_additions_wait_in_the_firewall() {
    let Some((ns, env)) = setup(
        "over_max_entries_removals_still_apply_and_only_additions_wait_in_the_firewall",
        "nftables",
    ) else {
        return;
    };
    write_config(&env, "nftables", NAME, &[25], 2);
    for host in 1..=4 {
        block(&ns, &env, &format!("192.0.2.{host}"), "1d");
    }
    let (success, _, stderr) = saslguard(&ns, &env, &["run"]);
    assert!(!success, "over the limit, run must fail");
    assert!(
        stderr.contains("2 new entries held back")
            && stderr.contains("firewall.max_entries = 2")
            && stderr.contains("192.0.2.3/32, 192.0.2.4/32"),
        "{stderr}"
    );
    let hosts = |ns: &Netns| -> Vec<String> {
        nft_elements(ns, "v4").into_iter().map(|(n, _)| n).collect()
    };
    assert_eq!(hosts(&ns), ["192.0.2.1/32", "192.0.2.2/32"]);
    let lines = firewall_lines(&ns, &env);
    assert!(
        lines[0].contains("OVER max_entries: 2 wanted entries held back")
            && !lines[0].contains(REPAIRS),
        "{lines:?}"
    );
    // Still over the limit: the unblock is applied all the same.
    ok(&ns, &env, &["unblock", "192.0.2.1"]);
    let (success, _, stderr) = saslguard(&ns, &env, &["run"]);
    assert!(!success, "still over the limit");
    assert!(
        stderr.contains("1 new entry held back") && stderr.contains("(192.0.2.4/32)"),
        "{stderr}"
    );
    assert_eq!(hosts(&ns), ["192.0.2.2/32", "192.0.2.3/32"]);
    // Within the limit again: everything is rendered and run succeeds.
    ok(&ns, &env, &["unblock", "192.0.2.2"]);
    ok(&ns, &env, &["run"]);
    assert_eq!(hosts(&ns), ["192.0.2.3/32", "192.0.2.4/32"]);
    assert!(firewall_lines(&ns, &env)[0].ends_with(": in sync"));
}

#[test]
fn over_max_entries_removals_still_apply_and_only_additions_wait_in_the_postfix_map() {
    let env = Env::new();
    let log = env.path("maillog");
    fs::write(&log, "").unwrap();
    let config = format!(
        "logs = [{:?}]\n[postfix]\nmap = {:?}\nmax_entries = 2\nreload_command = []\n\
         [firewall]\nbackend = \"none\"\n",
        log.to_str().unwrap(),
        env.path("access").to_str().unwrap()
    );
    fs::write(&env.config, config).unwrap();
    for host in 1..=4 {
        env.run_ok(&["block", &format!("192.0.2.{host}"), "--target", "postfix"]);
    }
    let output = env.cmd().arg("run").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("2 new entries held back")
            && stderr.contains("postfix.max_entries = 2")
            && stderr.contains("192.0.2.3/32, 192.0.2.4/32"),
        "{stderr}"
    );
    assert_eq!(map_hosts(&env), ["192.0.2.1", "192.0.2.2"]);
    env.run_ok(&["unblock", "192.0.2.1"]);
    let output = env.cmd().arg("run").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(map_hosts(&env), ["192.0.2.2", "192.0.2.3"]);
}

/// Renders three blocks to `from` (name `from_name`), switches the config to `to`
/// (name `to_name`): `status` reports what is left in the old place as drift that run
/// repairs, `run` removes it all and renders to the new place, `status` is in sync.
fn switch(test: &str, (from, from_name): (&str, &str), (to, to_name): (&str, &str)) {
    let Some((ns, env)) = setup(test, from) else {
        return;
    };
    write_config(&env, from, from_name, &[25], 100);
    block_three(&ns, &env);
    ok(&ns, &env, &["run"]);
    assert!(anything_left(&ns, from, from_name), "{from} rendered");

    write_config(&env, to, to_name, &[25], 100);
    let lines = firewall_lines(&ns, &env);
    let leftover = lines
        .iter()
        .find(|l| l.contains(&format!("at {from}: DRIFT: left over")))
        .unwrap_or_else(|| panic!("{from} -> {to}: no leftover reported: {lines:?}"));
    assert!(
        leftover.contains(REPAIRS) && leftover.contains("3 entries"),
        "{leftover}"
    );
    let summary = ok(&ns, &env, &["run"]);
    assert!(
        !anything_left(&ns, from, from_name),
        "{from} -> {to}: left behind: {}\nrun said: {summary}",
        kernel_state(&ns, from, from_name)
    );
    let lines = firewall_lines(&ns, &env);
    assert!(
        lines.iter().all(|l| !l.contains("DRIFT")),
        "{from} -> {to}: status after run: {lines:?}"
    );
    if to == "none" {
        assert_eq!(
            lines,
            ["firewall blocks: 3 active, not rendered (firewall backend = \"none\")"]
        );
    } else {
        assert!(
            lines.len() == 1 && lines[0].ends_with(": in sync"),
            "{lines:?}"
        );
        let state = kernel_state(&ns, to, to_name);
        assert!(
            state.contains("198.51.100.9") && state.contains("2001:db8::"),
            "{to}: {state}"
        );
    }
    // Nothing left to do: the next run removes nothing and fails nothing.
    ok(&ns, &env, &["run"]);
}

#[test]
fn switching_from_iptables_to_nftables_removes_the_old_chain() {
    switch(
        "switching_from_iptables_to_nftables_removes_the_old_chain",
        ("iptables", NAME),
        ("nftables", NAME),
    );
}

#[test]
fn switching_from_nftables_to_none_removes_the_table() {
    switch(
        "switching_from_nftables_to_none_removes_the_table",
        ("nftables", NAME),
        ("none", NAME),
    );
}

#[test]
fn renaming_the_nftables_table_removes_the_old_one() {
    switch(
        "renaming_the_nftables_table_removes_the_old_one",
        ("nftables", NAME),
        ("nftables", "sgother"),
    );
}

#[test]
fn switching_from_ipset_to_iptables_removes_the_sets_and_their_rules() {
    switch(
        "switching_from_ipset_to_iptables_removes_the_sets_and_their_rules",
        ("ipset", NAME),
        ("iptables", NAME),
    );
}
