//! `saslguard import`: the classic script's reject_client file and iptables rules
//! become manual blocks; what is not a block, or is allowlisted, is left and said so.

use crate::common;

use std::fs;

use common::Env;
use serde_json::Value;

fn blocks(env: &Env) -> Vec<(String, String, String)> {
    let output = env
        .cmd()
        .args(["blocks", "--format", "json"])
        .output()
        .unwrap();
    let list: Value = serde_json::from_slice(&output.stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["network"].as_str().unwrap().to_string(),
                b["target"].as_str().unwrap().to_string(),
                b["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_reject_client_file_becomes_postfix_blocks() {
    let env = Env::new();
    fs::write(&env.config, "[allow]\nnetworks = [\"192.0.2.0/24\"]\n").unwrap();
    let file = env.path("reject_client");
    fs::write(
        &file,
        "# written by the cron script\n1.2.3.4 REJECT\n1.2.3 REJECT\n192.0.2.9 REJECT\n8.8.8.8 OK\n",
    )
    .unwrap();
    let output = env
        .cmd()
        .args(["import", "reject-client"])
        .arg(&file)
        .args(["--for", "7d"])
        .output()
        .unwrap();
    // The allowlisted line is refused like `block` refuses it: named with its file and
    // line, the rest imported, and the exit status says so.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}:4: refusing to block 192.0.2.9/32: it overlaps the allowlisted 192.0.2.0/24",
            file.display()
        )),
        "{stderr}"
    );
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("took 2 blocks"), "{text}");
    assert!(text.contains("left 1 lines"), "{text}");
    assert!(text.contains("8.8.8.8 OK"), "{text}");
    let got = blocks(&env);
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, "1.2.3.0/24");
    assert_eq!(got[1].0, "1.2.3.4/32");
    assert!(got.iter().all(|(_, target, reason)| target == "postfix"
        && reason.contains("reject_client line")));
    // Importing again takes nothing twice.
    let output = env
        .cmd()
        .args(["import", "reject-client"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&output.stdout).contains("took 0 blocks"));
}

#[test]
fn iptables_save_drops_become_firewall_blocks() {
    let env = Env::new();
    let file = env.path("rules.v4");
    fs::write(
        &file,
        "*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -s 203.0.113.7/32 -j DROP\n\
         -A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n",
    )
    .unwrap();
    let output = env.run_ok(&["import", "iptables", file.to_str().unwrap(), "--permanent"]);
    let got = blocks(&env);
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].0.as_str(), got[0].1.as_str()),
        ("203.0.113.7/32", "firewall")
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("left 1 lines"));
}
