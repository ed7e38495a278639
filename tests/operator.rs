//! What saslguard tells the operator is true (issue #12): `status` says what is at a
//! place and what should be; `doctor` judges log sources as `run` reads them.

mod common;

use std::fs;

use common::Env;
use serde_json::Value;

/// The env's config with the Postfix map at `access` in its directory, no reload and
/// no firewall, plus `extra` lines at the top level.
fn postfix_only(env: &Env, extra: &str) {
    fs::write(
        &env.config,
        format!(
            "{extra}\n[postfix]\nmap = {:?}\nreload_command = []\n[firewall]\nbackend = \"none\"\n",
            env.path("access").to_str().unwrap()
        ),
    )
    .unwrap();
}

fn stdout(env: &Env, args: &[&str]) -> String {
    String::from_utf8(env.run_ok(args).stdout).unwrap()
}

#[test]
fn status_says_what_is_rendered_and_what_is_wanted() {
    let env = Env::new();
    postfix_only(&env, "logs = []");
    // Two blocks, one inside the other: two active blocks, one entry wanted.
    env.run_ok(&["block", "198.51.100.0/24", "--target", "postfix"]);
    env.run_ok(&["block", "198.51.100.9", "--target", "postfix"]);
    env.run_ok(&["render"]);
    assert_eq!(
        stdout(&env, &["status"]).lines().next().unwrap(),
        "postfix blocks: 2 active, 1 wanted entries, 1 rendered at postfix: in sync"
    );
    // A third block not rendered yet: the map still holds one entry.
    env.run_ok(&["block", "203.0.113.7", "--target", "postfix"]);
    let text = stdout(&env, &["status"]);
    let first = text.lines().next().unwrap();
    assert!(
        first.starts_with(
            "postfix blocks: 3 active, 2 wanted entries, 1 rendered at postfix: DRIFT: 1 missing (203.0.113.7/32)"
        ),
        "{text}"
    );
    let json: Value = serde_json::from_str(&stdout(&env, &["status", "--format", "json"])).unwrap();
    let place = &json["places"][0];
    assert_eq!(place["active_blocks"], 3);
    assert_eq!(place["wanted_entries"], 2);
    assert_eq!(place["rendered_entries"], 1);
    // An entry someone added by hand counts as rendered (and unexpected).
    env.run_ok(&["render"]);
    let map = fs::read_to_string(env.path("access")).unwrap();
    fs::write(
        env.path("access"),
        format!("{map}192.0.2.99 554 5.7.1 by hand\n"),
    )
    .unwrap();
    let text = stdout(&env, &["status"]);
    assert!(
        text.starts_with(
            "postfix blocks: 3 active, 2 wanted entries, 3 rendered at postfix: DRIFT: 0 missing, 1 unexpected (192.0.2.99/32)"
        ),
        "{text}"
    );
    // A map that cannot be read: how much is there is unknown, and says so.
    fs::remove_file(env.path("access")).unwrap();
    fs::create_dir(env.path("access")).unwrap();
    let text = stdout(&env, &["status"]);
    assert!(
        text.starts_with(
            "postfix blocks: 3 active, 2 wanted entries, an unknown number rendered at postfix: cannot read"
        ),
        "{text}"
    );
    let json: Value = serde_json::from_str(&stdout(&env, &["status", "--format", "json"])).unwrap();
    assert_eq!(json["places"][0]["rendered_entries"], Value::Null);
}
