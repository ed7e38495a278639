//! The Postfix map never fails silently (issue 10, points 1, 2 and 12), through the real
//! binary and, for hash maps, the real `postmap`:
//! - an entry the map type cannot hold is named and left out, and every other entry is
//!   still rendered (an unblock reaches Postfix), with a non-zero exit, a truthful
//!   `status`, and warnings from `config check`;
//! - a failed reload is owed: recorded, shown by `status` and `metrics`, and retried by
//!   every run until it succeeds;
//! - a `reject_text` that would let a client through (or break the map) is refused.
//!
//! Without postmap the hash-map tests skip with a message, except under `CI=true`,
//! where they fail.

use crate::common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::Env;
use serde_json::Value;

/// Writes the config: a map of `map_type` in the test directory, `extra` lines in
/// `[postfix]`, no firewall.
fn configure(env: &Env, map_type: &str, extra: &str) -> PathBuf {
    let map = env.path("saslguard_access");
    let log = env.path("maillog");
    fs::write(&log, "").unwrap();
    fs::write(
        &env.config,
        format!(
            "logs = [{:?}]\n[postfix]\nmap = {:?}\nmap_type = \"{map_type}\"\n{extra}\n\
             [firewall]\nbackend = \"none\"\n",
            log.to_str().unwrap(),
            map.to_str().unwrap()
        ),
    )
    .unwrap();
    map
}

/// Runs saslguard with `args` (postmap pointed at the test's main.cf).
fn saslguard(env: &Env, args: &[&str]) -> Output {
    env.cmd()
        .env("MAIL_CONFIG", env.mail_config())
        .args(args)
        .output()
        .unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// `postmap -q KEY hash:MAP`: the value, or `None` when the key is not found.
fn postmap_query(env: &Env, map: &Path, key: &str) -> Option<String> {
    let output = Command::new("postmap")
        .env("MAIL_CONFIG", env.mail_config())
        .args(["-q", key, &format!("hash:{}", map.display())])
        .output()
        .unwrap();
    assert!(
        output.status.success() || output.stderr.is_empty(),
        "postmap -q {key}: {}",
        stderr(&output)
    );
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

fn block(env: &Env, network: &str) {
    let output = saslguard(env, &["block", network, "--target", "postfix"]);
    assert!(
        output.status.success(),
        "block {network}: {}",
        stderr(&output)
    );
}

const REJECT: &str = "554 5.7.1 Too many failed authentication attempts";

/// Point 1: with a hash map, an IPv6 network the table cannot express (a /60) no
/// longer freezes the map: the other entries are rendered, so unblocking an IPv4
/// customer reaches Postfix; `run` and `render` name the network and exit non-zero;
/// `status` shows the conflict and never promises that `run` repairs it.
#[test]
fn an_entry_a_hash_map_cannot_hold_never_freezes_the_others() {
    if !common::postmap_available() {
        return;
    }
    let env = Env::new();
    let map = configure(&env, "hash", "reload_command = []\n");
    block(&env, "192.0.2.200");
    block(&env, "198.51.100.7");
    block(&env, "2001:db8:1:20::/60");

    let output = saslguard(&env, &["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("2001:db8:1:20::/60"),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        postmap_query(&env, &map, "192.0.2.200").as_deref(),
        Some(REJECT)
    );
    assert_eq!(
        postmap_query(&env, &map, "198.51.100.7").as_deref(),
        Some(REJECT)
    );

    // The customer is unblocked: the next run takes it out of the map, and still says
    // (exit 1, named) that the /60 is not there.
    let output = saslguard(&env, &["unblock", "192.0.2.200"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = saslguard(&env, &["run", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("2001:db8:1:20::/60") && err.contains("hash"),
        "{err}"
    );
    assert_eq!(postmap_query(&env, &map, "192.0.2.200"), None, "unblocked");
    assert_eq!(
        postmap_query(&env, &map, "198.51.100.7").as_deref(),
        Some(REJECT)
    );
    let summary: Value = serde_json::from_str(&stdout(&output)).expect("run JSON");
    let postfix = &summary["rendered"][0];
    assert_eq!(postfix["place"], "postfix", "{summary}");
    assert_eq!(postfix["entries"], 1, "{summary}");
    assert_eq!(
        postfix["unrenderable"],
        serde_json::json!(["2001:db8:1:20::/60"]),
        "{summary}"
    );

    // status: the conflict, never "in sync", never "`saslguard run` repairs it".
    let output = saslguard(&env, &["status"]);
    let text = stdout(&output);
    assert!(text.contains("2001:db8:1:20::/60"), "{text}");
    assert!(!text.contains("in sync"), "{text}");
    assert!(!text.contains("repairs it"), "{text}");
    let output = saslguard(&env, &["status", "--format", "json"]);
    let status: Value = serde_json::from_str(&stdout(&output)).expect("status JSON");
    let place = &status["places"][0];
    assert_eq!(place["in_sync"], false, "{status}");
    assert_eq!(
        place["unrenderable"],
        serde_json::json!(["2001:db8:1:20::/60"]),
        "{status}"
    );
    assert_eq!(place["missing"], serde_json::json!([]), "{status}");

    let output = saslguard(&env, &["metrics"]);
    assert!(
        stdout(&output).contains("saslguard_unrenderable_entries{place=\"postfix\"} 1\n"),
        "{}",
        stdout(&output)
    );

    // doctor names it too (and warns that the policy's /64s may not all fit).
    let findings = doctor_findings(&env, "map capacity");
    assert!(
        findings.iter().any(|f| f["verdict"] == "fail"
            && f["message"]
                .as_str()
                .unwrap()
                .contains("2001:db8:1:20::/60")),
        "{findings:?}"
    );
    assert!(
        findings.iter().any(|f| f["verdict"] == "warn"
            && f["message"]
                .as_str()
                .unwrap()
                .contains("policy.ipv6_prefix = 64")),
        "{findings:?}"
    );

    // And indeed run does not repair it: same exit, same name, same map.
    let output = saslguard(&env, &["run"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("2001:db8:1:20::/60"));
    let output = saslguard(&env, &["render"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("2001:db8:1:20::/60"));
    assert_eq!(
        postmap_query(&env, &map, "198.51.100.7").as_deref(),
        Some(REJECT)
    );

    // Once the block is gone, everything is fine again.
    let output = saslguard(&env, &["unblock", "2001:db8:1:20::/60"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = saslguard(&env, &["run"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = saslguard(&env, &["status"]);
    assert!(stdout(&output).contains("in sync"), "{}", stdout(&output));
}

/// A network inside one the map cannot hold is still rendered on its own; one the map
/// cannot hold inside one it holds is enforced by that one and not reported.
#[test]
fn what_a_map_cannot_hold_never_hides_what_it_can() {
    let env = Env::new();
    let map = configure(&env, "texthash", "reload_command = []\n");
    let output = saslguard(
        &env,
        &["block", "2001:db8:1:20::/60", "--target", "postfix"],
    );
    assert!(output.status.success());
    assert!(
        stderr(&output).contains("warning: a texthash map cannot hold 2001:db8:1:20::/60"),
        "{}",
        stderr(&output)
    );
    block(&env, "2001:db8:1:21::5");
    let output = saslguard(&env, &["render", "--format", "json"]);
    assert_eq!(output.status.code(), Some(1));
    let rendered: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        rendered[0]["unrenderable"],
        serde_json::json!(["2001:db8:1:20::/60"]),
        "{rendered}"
    );
    let keys = |map: &Path| -> Vec<String> {
        fs::read_to_string(map)
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(keys(&map), ["2001:db8:1:21::5"]);

    block(&env, "2001:db8:1::/48");
    let output = saslguard(&env, &["run", "--format", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        summary["rendered"][0]["unrenderable"],
        serde_json::json!([])
    );
    assert_eq!(keys(&map), ["2001:db8:1"]);
    let output = saslguard(&env, &["status"]);
    assert!(stdout(&output).contains("in sync"), "{}", stdout(&output));
}

/// `doctor --format json`'s findings of `check`.
fn doctor_findings(env: &Env, check: &str) -> Vec<Value> {
    let output = saslguard(env, &["doctor", "--format", "json"]);
    let findings: Value = serde_json::from_str(&stdout(&output)).expect("doctor JSON");
    findings
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["check"] == check)
        .cloned()
        .collect()
}

/// Point 1: `config check` and `doctor` say when the map type cannot hold what the
/// policy makes.
#[test]
fn config_check_warns_when_the_map_type_cannot_hold_the_policy_networks() {
    let env = Env::new();
    configure(&env, "hash", "reload_command = []\n");
    fs::write(
        &env.config,
        fs::read_to_string(&env.config).unwrap()
            + "[policy]\nipv6_prefix = 60\naggregate_min = 3\naggregate_ipv4_prefix = 20\n",
    )
    .unwrap();
    let output = saslguard(&env, &["config", "check"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("policy.ipv6_prefix = 60"), "{err}");
    assert!(err.contains("policy.aggregate_ipv4_prefix = 20"), "{err}");
    assert!(err.contains("map_type = \"cidr\""), "{err}");

    // A cidr map holds anything: no warning.
    configure(&env, "cidr", "reload_command = []\n");
    let output = saslguard(&env, &["config", "check"]);
    assert!(output.status.success());
    assert!(!stderr(&output).contains("warning"), "{}", stderr(&output));
}

/// Point 12: a reject_text that is no reject action is refused by the config parser
/// and by `config check`, with the file and the value named.
#[test]
fn a_reject_text_that_is_no_reject_action_is_refused() {
    let env = Env::new();
    for bad in [
        "OK",
        "ok",
        "DUNNO",
        "PERMIT",
        "permit_mynetworks",
        "554",
        "250 2.0.0 fine",
        "200 hello",
        "REJECT\\rx",
        "REJECT a\\tb",
        "554 5.7.1 caf\u{e9}",
        "DEFER_IF_REJECT go away",
        "HOLD",
        "DISCARD",
        "FILTER smtp:[127.0.0.1]:10025",
        "554 4.7.1 class mismatch",
        "",
    ] {
        fs::write(
            &env.config,
            format!("[postfix]\nreject_text = \"{bad}\"\n[firewall]\nbackend = \"none\"\n"),
        )
        .unwrap();
        let output = saslguard(&env, &["config", "check"]);
        assert_eq!(output.status.code(), Some(1), "{bad:?} accepted");
        let err = stderr(&output);
        let config = env.config.display().to_string();
        assert!(err.contains(&config), "{bad:?}: {err}");
        assert!(err.contains("postfix.reject_text"), "{bad:?}: {err}");
        // Any command reading the config refuses it too.
        let output = saslguard(&env, &["render"]);
        assert_eq!(output.status.code(), Some(1), "render with {bad:?}");
        assert!(stderr(&output).contains("postfix.reject_text"), "{bad:?}");
    }
    for good in [
        "REJECT",
        "REJECT Too many failed logins",
        "reject go away",
        "DEFER",
        "DEFER try later",
        "DEFER_IF_PERMIT slow down",
        "554 5.7.1 Too many failed authentication attempts",
        "421 4.7.0 Go away",
        "521 Go away",
        "450 try later",
    ] {
        fs::write(
            &env.config,
            format!("[postfix]\nreject_text = \"{good}\"\n[firewall]\nbackend = \"none\"\n"),
        )
        .unwrap();
        let output = saslguard(&env, &["config", "check"]);
        assert!(output.status.success(), "{good:?}: {}", stderr(&output));
    }
}

/// Writes an executable script (a child process writes it, so this process never holds
/// it open for writing and exec'ing it cannot fail with "Text file busy").
fn install_script(path: &Path, text: &str) {
    let temp = path.with_extension("tmp");
    let status = Command::new("sh")
        .arg("-c")
        .arg("cat > \"$1\"")
        .arg("sh")
        .arg(&temp)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(text.as_bytes())?;
            child.wait()
        })
        .unwrap();
    assert!(status.success());
    fs::set_permissions(&temp, fs::Permissions::from_mode(0o755)).unwrap();
    fs::rename(&temp, path).unwrap();
}

/// Point 2: a reload that fails once is owed: `status` and `metrics` show it, and the
/// next run retries it although nothing else changed, until it succeeds.
#[test]
fn a_failed_reload_is_owed_and_retried_until_it_succeeds() {
    let env = Env::new();
    let script = env.path("reload.sh");
    let flag = env.path("postfix-is-up");
    let reloads = env.path("reloads");
    install_script(
        &script,
        &format!(
            "#!/bin/sh\n[ -e '{flag}' ] || {{ echo 'postfix is not running' >&2; exit 1; }}\n\
             echo reloaded >> '{reloads}'\n",
            flag = flag.display(),
            reloads = reloads.display()
        ),
    );
    let map = configure(
        &env,
        "cidr",
        &format!("reload_command = [{:?}]\n", script.to_str().unwrap()),
    );
    block(&env, "192.0.2.9");

    let output = saslguard(&env, &["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("postfix is not running"), "{err}");
    assert!(err.contains("reload"), "{err}");
    assert!(fs::read_to_string(&map).unwrap().contains("192.0.2.9\t"));

    // Nothing changed since, and yet: not in sync, the reload is owed.
    let output = saslguard(&env, &["status"]);
    let text = stdout(&output);
    assert!(text.contains("reload owed since"), "{text}");
    assert!(!text.contains("in sync"), "{text}");
    let output = saslguard(&env, &["status", "--format", "json"]);
    let status: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(status["places"][0]["in_sync"], false, "{status}");
    assert!(
        status["places"][0]["reload_owed_since"].is_string(),
        "{status}"
    );
    let output = saslguard(&env, &["metrics"]);
    assert!(
        stdout(&output).contains("saslguard_reload_owed{place=\"postfix\"} 1\n"),
        "{}",
        stdout(&output)
    );
    let findings = doctor_findings(&env, "map reload");
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["verdict"], "fail");

    // Still failing: still owed, still an error.
    let output = saslguard(&env, &["run"]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(!reloads.exists());

    // Postfix is back: the next run reloads (the map did not change) and all is well.
    fs::write(&flag, "").unwrap();
    let output = saslguard(&env, &["run"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(fs::read_to_string(&reloads).unwrap(), "reloaded\n");
    let output = saslguard(&env, &["status"]);
    assert!(stdout(&output).contains("in sync"), "{}", stdout(&output));
    assert!(!stdout(&output).contains("owed"), "{}", stdout(&output));
    let output = saslguard(&env, &["metrics"]);
    assert!(
        stdout(&output).contains("saslguard_reload_owed{place=\"postfix\"} 0\n"),
        "{}",
        stdout(&output)
    );

    // Nothing owed, nothing changed: no further reload.
    let output = saslguard(&env, &["run"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(fs::read_to_string(&reloads).unwrap(), "reloaded\n");
}

/// Point 2: a run killed while the reload runs (here the reload command kills it) leaves
/// the reload owed, and the next run does it although the map is unchanged.
#[test]
fn a_run_killed_during_the_reload_leaves_it_owed() {
    let env = Env::new();
    let script = env.path("reload.sh");
    let flag = env.path("let-it-live");
    let reloads = env.path("reloads");
    install_script(
        &script,
        &format!(
            "#!/bin/sh\n[ -e '{flag}' ] || {{ kill -KILL $PPID; sleep 5; exit 1; }}\n\
             echo reloaded >> '{reloads}'\n",
            flag = flag.display(),
            reloads = reloads.display()
        ),
    );
    let map = configure(
        &env,
        "cidr",
        &format!("reload_command = [{:?}]\n", script.to_str().unwrap()),
    );
    block(&env, "192.0.2.10");
    let output = saslguard(&env, &["run"]);
    assert_eq!(output.status.code(), None, "killed: {output:?}");
    assert!(fs::read_to_string(&map).unwrap().contains("192.0.2.10\t"));
    assert!(!reloads.exists());

    let output = saslguard(&env, &["status"]);
    assert!(
        stdout(&output).contains("reload owed since"),
        "{}",
        stdout(&output)
    );

    fs::write(&flag, "").unwrap();
    let output = saslguard(&env, &["run", "--format", "json"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(fs::read_to_string(&reloads).unwrap(), "reloaded\n");
    let summary: Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        summary["rendered"][0]["reload_owed_since"],
        Value::Null,
        "{summary}"
    );
    let output = saslguard(&env, &["status"]);
    assert!(stdout(&output).contains("in sync"), "{}", stdout(&output));
}

/// Every drift of the Postfix map that `status` says `run` repairs, `run` repairs: a
/// line deleted, a line added by hand, a compiled hash map deleted. After each, status
/// names the drift with "`saslguard run` repairs it", run exits 0, and status and the
/// map are right again.
#[test]
fn every_map_drift_status_reports_is_repaired_by_run() {
    if !common::postmap_available() {
        return;
    }
    let env = Env::new();
    let map = configure(&env, "hash", "reload_command = []\n");
    block(&env, "192.0.2.1");
    block(&env, "192.0.2.2");
    let run = |env: &Env| {
        let output = saslguard(env, &["run"]);
        assert!(output.status.success(), "{}", stderr(&output));
    };
    run(&env);
    let rendered = fs::read_to_string(&map).unwrap();
    let in_sync = |env: &Env| {
        let text = stdout(&saslguard(env, &["status"]));
        assert!(text.starts_with("postfix blocks: 2 active"), "{text}");
        assert!(text.contains(": in sync\n"), "{text}");
    };
    in_sync(&env);
    let drifts: [(&str, &dyn Fn(), &str); 3] = [
        (
            "a line deleted",
            &|| fs::write(&map, rendered.replace("192.0.2.2\t", "#192.0.2.2\t")).unwrap(),
            "DRIFT: 1 missing (192.0.2.2/32), 0 unexpected; `saslguard run` repairs it",
        ),
        (
            "a line added",
            &|| fs::write(&map, format!("{rendered}203.0.113.9\tOK\n")).unwrap(),
            "DRIFT: 0 missing, 1 unexpected (203.0.113.9/32); `saslguard run` repairs it",
        ),
        (
            "the compiled map deleted",
            &|| fs::remove_file(map.with_extension("db")).unwrap(),
            "DRIFT: the entries match, but rules or settings differ; `saslguard run` repairs it",
        ),
    ];
    for (what, drift, said) in drifts {
        drift();
        let text = stdout(&saslguard(&env, &["status"]));
        assert!(text.contains(said), "{what}: {text}");
        run(&env);
        in_sync(&env);
        assert_eq!(fs::read_to_string(&map).unwrap(), rendered, "{what}");
        assert_eq!(
            postmap_query(&env, &map, "192.0.2.2").as_deref(),
            Some(REJECT),
            "{what}"
        );
        assert_eq!(postmap_query(&env, &map, "203.0.113.9"), None, "{what}");
    }
}

/// A key removed from the compiled hash or lmdb map (`postmap -d`), its text source
/// untouched, is drift: `status` says so and `run` rebuilds the compiled map, so
/// `postmap -q` finds the key again.
#[test]
fn a_key_deleted_from_the_compiled_map_is_drift_that_run_repairs() {
    if !common::postmap_available() {
        return;
    }
    for map_type in ["hash", "lmdb"] {
        let env = Env::new();
        let map = configure(&env, map_type, "reload_command = []\n");
        block(&env, "192.0.2.1");
        block(&env, "198.51.100.44");
        let output = saslguard(&env, &["run"]);
        assert!(output.status.success(), "{}", stderr(&output));
        let rendered = fs::read_to_string(&map).unwrap();
        let table = format!("{map_type}:{}", map.display());
        let query = |key: &str| {
            let output = Command::new("postmap")
                .env("MAIL_CONFIG", env.mail_config())
                .args(["-q", key, &table])
                .output()
                .unwrap();
            output
                .status
                .success()
                .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
        };
        let deleted = Command::new("postmap")
            .env("MAIL_CONFIG", env.mail_config())
            .args(["-d", "198.51.100.44", &table])
            .output()
            .unwrap();
        assert!(deleted.status.success(), "{map_type}: {deleted:?}");
        assert_eq!(query("198.51.100.44"), None, "{map_type}");

        let text = stdout(&saslguard(&env, &["status"]));
        assert!(
            text.contains(
                "DRIFT: the entries match, but rules or settings differ; `saslguard run` repairs it"
            ),
            "{map_type}: {text}"
        );
        let output = saslguard(&env, &["run"]);
        assert!(output.status.success(), "{map_type}: {}", stderr(&output));
        assert_eq!(
            query("198.51.100.44").as_deref(),
            Some(REJECT),
            "{map_type}: {}",
            stdout(&output)
        );
        assert_eq!(query("192.0.2.1").as_deref(), Some(REJECT), "{map_type}");
        assert_eq!(fs::read_to_string(&map).unwrap(), rendered, "{map_type}");
        let text = stdout(&saslguard(&env, &["status"]));
        assert!(text.contains(": in sync\n"), "{map_type}: {text}");
    }
}

/// Writes the config with the map at `map` of `map_type` (no reload, no firewall).
fn configure_map(env: &Env, map: &Path, map_type: &str) {
    let log = env.path("maillog");
    fs::write(&log, "").unwrap();
    fs::write(
        &env.config,
        format!(
            "logs = [{:?}]\n[postfix]\nmap = {:?}\nmap_type = \"{map_type}\"\n\
             reload_command = []\n[firewall]\nbackend = \"none\"\n",
            log.to_str().unwrap(),
            map.to_str().unwrap()
        ),
    )
    .unwrap();
}

/// The lines of a map's text that are no comment: its entries.
fn map_entries(map: &Path) -> Vec<String> {
    fs::read_to_string(map)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// A map saslguard no longer renders to, because `[postfix] map` or `map_type`
/// changed, is drift `status` names and `run` empties (header only, compiled file
/// rebuilt, nothing deleted), so an old main.cf reference rejects no one any more.
#[test]
fn a_map_left_behind_by_a_new_path_or_type_is_emptied_by_run() {
    if !common::postmap_available() {
        return;
    }
    let status = |env: &Env| stdout(&saslguard(env, &["status"]));
    let run = |env: &Env| {
        let output = saslguard(env, &["run"]);
        assert!(output.status.success(), "{}", stderr(&output));
    };
    // A cidr map renamed.
    let env = Env::new();
    let old = env.path("saslguard_access");
    let new = env.path("saslguard_access.new");
    configure_map(&env, &old, "cidr");
    block(&env, "192.0.2.1");
    block(&env, "198.51.100.44");
    run(&env);
    assert_eq!(map_entries(&old).len(), 2);
    configure_map(&env, &new, "cidr");
    let text = status(&env);
    assert!(
        text.contains(&format!(
            "DRIFT: left over from an earlier [postfix] map or map_type (\"cidr:{}\"), 2 entries",
            old.display()
        )),
        "{text}"
    );
    run(&env);
    assert_eq!(map_entries(&old), Vec::<String>::new());
    assert_eq!(map_entries(&new).len(), 2);
    let text = status(&env);
    assert!(!text.contains("DRIFT"), "{text}");
    assert!(text.contains(": in sync\n"), "{text}");

    // hash -> cidr at the same path: the compiled MAP.db still rejected everyone.
    let env = Env::new();
    let map = env.path("saslguard_access");
    configure_map(&env, &map, "hash");
    block(&env, "192.0.2.1");
    block(&env, "198.51.100.44");
    run(&env);
    assert_eq!(
        postmap_query(&env, &map, "198.51.100.44").as_deref(),
        Some(REJECT)
    );
    configure_map(&env, &map, "cidr");
    let text = status(&env);
    assert!(
        text.contains(&format!(
            "DRIFT: left over from an earlier [postfix] map or map_type (\"hash:{}\"), 2 entries",
            map.display()
        )),
        "{text}"
    );
    run(&env);
    assert_eq!(postmap_query(&env, &map, "198.51.100.44"), None);
    assert_eq!(postmap_query(&env, &map, "192.0.2.1"), None);
    assert!(map.with_extension("db").exists(), "the .db is not deleted");
    assert_eq!(
        map_entries(&map),
        [
            format!("192.0.2.1\t{REJECT}"),
            format!("198.51.100.44\t{REJECT}")
        ]
    );
    let text = status(&env);
    assert!(!text.contains("DRIFT"), "{text}");
    assert!(text.contains(": in sync\n"), "{text}");
}

/// postmap reads main.cf: with `[postfix] config_directory` set, it reads that one
/// (`postmap -c DIR`), as doctor does, not the machine's default.
#[test]
fn postmap_reads_the_configured_config_directory() {
    if !common::postmap_available() {
        return;
    }
    let env = Env::new();
    let dir = env.mail_config();
    let map = configure(
        &env,
        "hash",
        &format!(
            "reload_command = []\nconfig_directory = {:?}\n",
            dir.to_str().unwrap()
        ),
    );
    block(&env, "192.0.2.8");
    // Without MAIL_CONFIG: only the config says where main.cf is.
    let output = env
        .cmd()
        .env_remove("MAIL_CONFIG")
        .arg("run")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        postmap_query(&env, &map, "192.0.2.8").as_deref(),
        Some(REJECT)
    );
}
