//! The cluster through the real binary (tests/common/postgres.rs runs a real
//! PostgreSQL): `cluster status`, the cluster part of `status`, `metrics` and `doctor`,
//! `block`, `allow` and `import` deciding in the cluster (and refusing, changing
//! nothing, when it is down), network aggregation over all hosts, and retention.

use crate::common;
use crate::common::postgres as pg;

use pg::Postgres;
use serde_json::Value;

/// A host of a test: its own config, local database, log and map; `top` goes before
/// the tables of the config, `policy` after `[policy]`.
fn host(server: &Postgres, name: &str, top: &str, policy: &str) -> common::Env {
    let env = common::Env::new();
    let password = env.path("pgpassword");
    server.write_password_file(&password);
    std::fs::write(
        &env.config,
        format!(
            "logs = [{:?}]\n{top}\n[postfix]\nmap = {:?}\nmap_type = \"cidr\"\nreload_command = []\n\
             [firewall]\nbackend = \"none\"\n[policy]\n{policy}\n\
             [[policy.tier]]\ntarget = \"postfix\"\nthreshold = 10\nwindow = \"7d\"\nduration = \"7d\"\n\
             [cluster]\nurl = {:?}\nhost = {name:?}\nconnect_timeout = \"3s\"\npassword_file = {:?}\n",
            env.path("maillog"),
            env.path("access"),
            server.url(),
            password,
        ),
    )
    .unwrap();
    std::fs::write(env.path("maillog"), "").unwrap();
    env
}

/// Gives `env` another `[cluster] url`.
fn set_url(env: &common::Env, url: &str) {
    let text = std::fs::read_to_string(&env.config).unwrap();
    let text: Vec<String> = text
        .lines()
        .map(|line| match line.starts_with("url = ") {
            true => format!("url = {url:?}"),
            false => line.to_string(),
        })
        .collect();
    std::fs::write(&env.config, text.join("\n") + "\n").unwrap();
}

fn map_of(env: &common::Env) -> String {
    std::fs::read_to_string(env.path("access")).unwrap_or_default()
}

/// Runs a command expected to fail; returns its stdout and stderr.
fn fails(env: &common::Env, args: &[&str]) -> (String, String) {
    let output = env.cmd().args(args).output().unwrap();
    assert!(!output.status.success(), "{args:?} succeeded");
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn stdout(env: &common::Env, args: &[&str]) -> String {
    String::from_utf8_lossy(&env.run_ok(args).stdout).into_owned()
}

/// The cluster's blocks in force, as `cluster status --format json` lists them.
fn cluster_blocks(env: &common::Env, at: &str) -> Vec<String> {
    let status = env.json(&["cluster", "status", "--format", "json", "--as-of", at]);
    status["cluster"]["active_blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["network"].as_str().unwrap().to_string())
        .collect()
}

/// This host's active blocks, as `blocks --local --format json` lists them (its own
/// store: what it renders, readable while the cluster is down).
fn local_blocks(env: &common::Env, at: &str) -> Vec<Value> {
    env.json(&["blocks", "--local", "--format", "json", "--as-of", at])
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn cluster_status_status_metrics_and_doctor_tell_the_truth_about_the_shared_store() {
    let test = "cluster_status_status_metrics_and_doctor_tell_the_truth_about_the_shared_store";
    let Some(mut server) = Postgres::start(test) else {
        return;
    };
    let mx1 = host(&server, "mx1", "", "");
    let mx2 = host(&server, "mx2", "", "");
    common::append(&mx1.path("maillog"), &common::failures(0, 4, "203.0.113.9"));
    mx1.run_ok(&["run", "--as-of", "2026-11-27T01:00:00Z"]);
    mx2.run_ok(&["run", "--as-of", "2026-11-27T01:00:00Z"]);
    mx1.run_ok(&[
        "block",
        "198.51.100.0/24",
        "--target",
        "postfix",
        "--as-of",
        "2026-11-27T01:01:00Z",
    ]);

    let status = mx2.json(&[
        "cluster",
        "status",
        "--format",
        "json",
        "--as-of",
        "2026-11-27T01:02:00Z",
    ]);
    let hosts = status["cluster"]["hosts"].as_array().unwrap();
    let names: Vec<&str> = hosts.iter().map(|h| h["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["mx1", "mx2"]);
    assert_eq!(hosts[0]["events_shipped"], 4);
    assert_eq!(hosts[1]["events_shipped"], 0);
    assert_eq!(
        status["cluster"]["active_blocks"][0]["network"],
        "198.51.100.0/24"
    );
    assert_eq!(status["cluster"]["active_blocks"][0]["origin_host"], "mx1");
    assert_eq!(status["local"]["backlog"], 0);
    let table = stdout(
        &mx1,
        &["cluster", "status", "--as-of", "2026-11-27T01:02:00Z"],
    );
    assert!(
        table.contains("mx2") && table.contains("198.51.100.0/24"),
        "{table}"
    );
    assert!(
        table.contains("0 events waiting in the local outbox"),
        "{table}"
    );
    // The block is rendered here at once (as without [cluster]: by render or the next run).
    mx1.run_ok(&["render", "--as-of", "2026-11-27T01:02:00Z"]);
    let text = stdout(&mx1, &["status", "--as-of", "2026-11-27T01:02:00Z"]);
    // Shipped by the run at 01:00; reached by the block at 01:01.
    assert!(
        text.contains(
            "cluster: last shipment 2026-11-27T01:00:00Z, 0 events waiting in the local \
             outbox; last contact 2026-11-27T01:01:00Z"
        ),
        "{text}"
    );
    let metrics = stdout(&mx1, &["metrics"]);
    assert!(
        metrics.contains("saslguard_cluster_reachable 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("saslguard_cluster_backlog_events 0"),
        "{metrics}"
    );
    // The last contact: the block at 01:01.
    assert!(
        metrics.contains("saslguard_cluster_last_contact_timestamp_seconds 1795741260"),
        "{metrics}"
    );
    // Doctor fails elsewhere here (no Postfix to ask): only the cluster's checks matter.
    let doctor = mx1
        .cmd()
        .args(["doctor", "--format", "json"])
        .output()
        .unwrap();
    let doctor: Value = serde_json::from_slice(&doctor.stdout).unwrap();
    let verdict = |check: &str| {
        doctor
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["check"] == check)
            .map(|f| f["verdict"].as_str().unwrap().to_string())
    };
    assert_eq!(verdict("cluster database").as_deref(), Some("pass"));
    assert_eq!(verdict("cluster schema").as_deref(), Some("pass"));
    assert_eq!(verdict("cluster password").as_deref(), Some("pass"));

    // Down: the run fails and records it; status, metrics, cluster status and doctor say so.
    server.stop();
    common::append(
        &mx1.path("maillog"),
        &common::failures(100, 2, "203.0.113.9"),
    );
    fails(&mx1, &["run", "--as-of", "2026-11-27T01:10:00Z"]);
    let (out, err) = fails(&mx1, &["status", "--as-of", "2026-11-27T01:11:00Z"]);
    assert!(
        out.contains("2 events waiting in the local outbox"),
        "{out}"
    );
    assert!(
        out.contains("UNREACHABLE") && out.contains("the next run that reaches it ships"),
        "{out}"
    );
    assert!(
        err.contains("could not reach the cluster's shared store"),
        "{err}"
    );
    let json = mx1
        .cmd()
        .args(["status", "--format", "json"])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["cluster"]["backlog"], 2);
    assert!(
        json["cluster"]["last_error"]
            .as_str()
            .unwrap()
            .contains("cannot reach")
    );
    let metrics = stdout(&mx1, &["metrics"]);
    assert!(
        metrics.contains("saslguard_cluster_reachable 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("saslguard_cluster_backlog_events 2"),
        "{metrics}"
    );
    let (out, err) = fails(&mx1, &["cluster", "status"]);
    assert!(
        out.contains("2 events waiting in the local outbox"),
        "{out}"
    );
    assert!(err.contains("cannot reach the cluster database"), "{err}");
    let (out, _) = fails(&mx1, &["doctor"]);
    assert!(out.contains("FAIL  cluster database"), "{out}");

    // Back, and reached by a change by hand: a contact, not a shipment. status still
    // fails, saying the backlog waits for a run; so do metrics and cluster status.
    server.resume();
    mx1.run_ok(&[
        "block",
        "192.0.2.0/24",
        "--target",
        "postfix",
        "--as-of",
        "2026-11-27T01:15:00Z",
    ]);
    let (out, err) = fails(&mx1, &["status", "--as-of", "2026-11-27T01:16:00Z"]);
    assert!(
        out.contains(
            "cluster: last shipment 2026-11-27T01:00:00Z, 2 events waiting in the local \
             outbox; last contact 2026-11-27T01:15:00Z"
        ),
        "{out}"
    );
    assert!(
        out.contains("UNREACHABLE at the last attempt of a run (2026-11-27T01:10:00Z)")
            && out.contains(
                "(reached since, at 2026-11-27T01:15:00Z, by a change by hand, which ships \
                 nothing)"
            ),
        "{out}"
    );
    assert!(
        err.contains("could not reach the cluster's shared store"),
        "{err}"
    );
    let metrics = stdout(&mx1, &["metrics"]);
    for line in [
        "saslguard_cluster_reachable 0",
        "saslguard_cluster_backlog_events 2",
        "saslguard_cluster_last_contact_timestamp_seconds 1795742100",
        "saslguard_cluster_last_shipment_timestamp_seconds 1795741200",
    ] {
        assert!(metrics.contains(line), "{line}: {metrics}");
    }
    let status = mx2.json(&["cluster", "status", "--format", "json"]);
    assert_eq!(status["cluster"]["hosts"][0]["backlog"], 2, "{status}");
    assert_eq!(status["cluster"]["hosts"][0]["events_shipped"], 4);

    // A run: the backlog ships and every report says so.
    mx1.run_ok(&["run", "--as-of", "2026-11-27T01:20:00Z"]);
    mx1.run_ok(&["status", "--as-of", "2026-11-27T01:21:00Z"]);
    let metrics = stdout(&mx1, &["metrics"]);
    assert!(
        metrics.contains("saslguard_cluster_reachable 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("saslguard_cluster_backlog_events 0"),
        "{metrics}"
    );
    let status = mx2.json(&["cluster", "status", "--format", "json"]);
    assert_eq!(status["cluster"]["hosts"][0]["events_shipped"], 6);
}

#[test]
fn block_allow_and_import_decide_in_the_cluster_or_change_nothing() {
    let test = "block_allow_and_import_decide_in_the_cluster_or_change_nothing";
    let Some(mut server) = Postgres::start(test) else {
        return;
    };
    let mx1 = host(&server, "mx1", "", "");
    let mx2 = host(&server, "mx2", "", "");
    let at = "2026-11-27T01:00:00Z";
    // Blocked on mx1: recorded locally at once (render applies it), and on mx2 by its run.
    mx1.run_ok(&[
        "block",
        "198.51.100.0/24",
        "--target",
        "postfix",
        "--for",
        "1d",
        "--as-of",
        at,
    ]);
    assert_eq!(local_blocks(&mx1, at).len(), 1);
    mx1.run_ok(&["render", "--as-of", at]);
    assert!(map_of(&mx1).contains("198.51.100.0/24"), "{}", map_of(&mx1));
    mx2.run_ok(&["run", "--as-of", at]);
    assert!(map_of(&mx2).contains("198.51.100.0/24"), "{}", map_of(&mx2));
    // Longer by hand on mx2: one cluster block, extended; mx1's copy follows.
    mx2.run_ok(&[
        "block",
        "198.51.100.0/24",
        "--target",
        "postfix",
        "--for",
        "30d",
        "--as-of",
        at,
    ]);
    assert_eq!(cluster_blocks(&mx2, at), ["198.51.100.0/24"]);
    mx1.run_ok(&["run", "--as-of", "2026-11-27T01:01:00Z"]);
    let blocks = local_blocks(&mx1, "2026-11-27T01:01:00Z");
    assert_eq!(blocks.len(), 1);
    let expires = blocks[0]["expires_at"].as_str().unwrap().to_string();
    assert!(expires.starts_with("2026-12-27"), "{expires}");
    // Still in force on mx1 two days on (its own copy said one day).
    mx1.run_ok(&["run", "--as-of", "2026-11-29T01:00:00Z"]);
    assert!(map_of(&mx1).contains("198.51.100.0/24"));

    // Allowed on mx2: the cluster's block ends everywhere, the entry reaches mx1.
    let at = "2026-11-29T02:00:00Z";
    mx2.run_ok(&["allow", "add", "198.51.100.7", "--as-of", at]);
    assert!(cluster_blocks(&mx2, at).is_empty());
    mx1.run_ok(&["run", "--as-of", at]);
    assert!(
        !map_of(&mx1).contains("198.51.100.0/24"),
        "{}",
        map_of(&mx1)
    );
    let allowed = stdout(&mx1, &["allow", "list", "--format", "json"]);
    assert!(allowed.contains("198.51.100.7/32"), "{allowed}");
    // mx1 may not block it again: the cluster's allowlist decides.
    let (_, err) = fails(
        &mx1,
        &[
            "block",
            "198.51.100.0/24",
            "--target",
            "postfix",
            "--as-of",
            at,
        ],
    );
    assert!(err.contains("198.51.100.7"), "{err}");
    assert!(cluster_blocks(&mx1, at).is_empty());
    // Removed on mx1: gone from mx2 after its run.
    mx1.run_ok(&["allow", "remove", "198.51.100.7", "--as-of", at]);
    mx2.run_ok(&["run", "--as-of", at]);
    let allowed = stdout(&mx2, &["allow", "list", "--format", "json"]);
    assert!(!allowed.contains("198.51.100.7"), "{allowed}");

    // Imported on mx2: in the cluster, and in mx1's map after its run.
    let file = mx2.path("reject_client");
    std::fs::write(&file, "192.0.2.10 REJECT\n203.0.113.0/28 REJECT\n").unwrap();
    mx2.run_ok(&[
        "import",
        "reject-client",
        file.to_str().unwrap(),
        "--as-of",
        at,
    ]);
    let mut shared = cluster_blocks(&mx2, at);
    shared.sort();
    assert_eq!(shared, ["192.0.2.10/32", "203.0.113.0/28"]);
    mx1.run_ok(&["run", "--as-of", at]);
    assert!(map_of(&mx1).contains("192.0.2.10") && map_of(&mx1).contains("203.0.113.0/28"));

    // Down: every change by hand is refused and nothing changes anywhere.
    server.stop();
    let before = local_blocks(&mx1, at).len();
    for args in [
        vec!["block", "192.0.2.99", "--target", "postfix", "--as-of", at],
        vec!["allow", "add", "192.0.2.98", "--as-of", at],
        vec!["allow", "remove", "192.0.2.10", "--as-of", at],
        vec![
            "import",
            "reject-client",
            file.to_str().unwrap(),
            "--as-of",
            at,
        ],
    ] {
        let (_, err) = fails(&mx1, &args);
        assert!(err.contains("nothing changed"), "{args:?}: {err}");
    }
    assert_eq!(local_blocks(&mx1, at).len(), before);
    let allowed = stdout(&mx1, &["allow", "list", "--format", "json"]);
    assert!(!allowed.contains("192.0.2.98"), "{allowed}");
}

#[test]
fn networks_aggregate_over_all_hosts_and_retention_prunes_the_cluster() {
    let test = "networks_aggregate_over_all_hosts_and_retention_prunes_the_cluster";
    let Some(mut server) = Postgres::start(test) else {
        return;
    };
    let policy = "aggregate_min = 3";
    let top = "retention = \"30d\"";
    let hosts: Vec<common::Env> = ["mx1", "mx2", "mx3"]
        .iter()
        .map(|name| host(&server, name, top, policy))
        .collect();
    // Three addresses of one /24, one per host, each over the threshold in the cluster
    // (5 + 5 from two hosts each), none on one host alone.
    for (n, env) in hosts.iter().enumerate() {
        for (m, last) in [10, 20, 30].iter().enumerate() {
            if m != n {
                let from = (n * 100 + m * 10) as i64;
                common::append(
                    &env.path("maillog"),
                    &common::failures(from, 5, &format!("192.0.2.{last}")),
                );
            }
        }
    }
    for _ in 0..2 {
        for env in &hosts {
            env.run_ok(&["run", "--as-of", "2026-11-27T01:00:00Z"]);
        }
    }
    let mut shared = cluster_blocks(&hosts[0], "2026-11-27T01:00:00Z");
    shared.sort();
    assert_eq!(
        shared,
        [
            "192.0.2.0/24",
            "192.0.2.10/32",
            "192.0.2.20/32",
            "192.0.2.30/32"
        ]
    );
    for env in &hosts {
        env.run_ok(&["run", "--as-of", "2026-11-27T01:01:00Z"]);
        assert!(map_of(env).contains("192.0.2.0/24"), "{}", map_of(env));
    }
    // A run's daily prune applies the same retention (30 days) in the cluster.
    let mut admin = server.admin(pg::DATABASE);
    let count = |admin: &mut postgres::Client, table: &str| -> i64 {
        admin
            .query_one(&format!("SELECT COUNT(*) FROM saslguard.{table}"), &[])
            .unwrap()
            .get(0)
    };
    assert_eq!(count(&mut admin, "events"), 30);
    // A dry run says what would go in both stores, and deletes (and records) nothing.
    let contacts = |admin: &mut postgres::Client| -> Vec<String> {
        admin
            .query(
                "SELECT name || ' ' || last_contact FROM saslguard.hosts",
                &[],
            )
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    };
    let before = contacts(&mut admin);
    let dry = stdout(
        &hosts[0],
        &["prune", "--dry-run", "--as-of", "2026-12-30T01:00:00Z"],
    );
    assert!(
        dry.contains(
            "would delete 10 events, 3 run records and 0 ended blocks on this host; \
             in the cluster, 30 events, 0 ended blocks and 0 pardons"
        ),
        "{dry}"
    );
    assert_eq!(count(&mut admin, "events"), 30);
    assert_eq!(contacts(&mut admin), before);
    let local = hosts[0].json(&["top", "--local", "--format", "json", "--period", "all"]);
    assert_eq!(local.as_array().unwrap().len(), 2, "{local}");
    // 33 days on: the events (older than 30 days) go; the blocks ended on 2026-12-04
    // (expired after 7 days), 26 days ago: kept.
    hosts[0].run_ok(&["run", "--as-of", "2026-12-30T01:00:00Z"]);
    assert_eq!(count(&mut admin, "events"), 0);
    assert_eq!(count(&mut admin, "blocks"), 4);
    // A week later (the prune is due again), those blocks ended 33 days ago: gone too.
    hosts[0].run_ok(&["run", "--as-of", "2027-01-06T01:00:00Z"]);
    assert_eq!(count(&mut admin, "blocks"), 0);
    // The other hosts' copies of pruned blocks had ended already; their runs go on.
    hosts[1].run_ok(&["run", "--as-of", "2027-01-06T02:00:00Z"]);
    assert!(
        !map_of(&hosts[1]).contains("192.0.2."),
        "{}",
        map_of(&hosts[1])
    );

    // Down: a dry run says what would go here and fails saying why it cannot say the
    // rest; a prune deletes this host's history and fails saying the cluster's waits.
    server.stop();
    let (out, err) = fails(
        &hosts[2],
        &["prune", "--dry-run", "--as-of", "2027-01-06T03:00:00Z"],
    );
    assert!(out.contains("would delete 10 events"), "{out}");
    assert!(!out.contains("in the cluster"), "{out}");
    assert!(
        err.contains("cannot say what would go in the cluster")
            && err.contains("cannot reach the cluster database"),
        "{err}"
    );
    let (_, err) = fails(&hosts[2], &["prune", "--as-of", "2027-01-06T03:00:00Z"]);
    assert!(
        err.contains("deleted 10 events") && err.contains("the cluster's was not"),
        "{err}"
    );
    let (out, _) = fails(
        &hosts[2],
        &["prune", "--dry-run", "--as-of", "2027-01-06T03:00:00Z"],
    );
    assert!(out.contains("would delete 0 events"), "{out}");
}

/// Runs `env` at `at`, then proves the cluster's evaluation exact: with its watermark
/// forgotten, the same run (a full count over all hosts) blocks nothing more.
fn run_exactly(server: &Postgres, env: &common::Env, at: &str) -> Vec<String> {
    env.run_ok(&["run", "--as-of", at]);
    let mut decided = cluster_blocks(env, at);
    decided.sort();
    let mut admin = server.admin(pg::DATABASE);
    admin
        .batch_execute("DELETE FROM saslguard.policy_watermark")
        .unwrap();
    env.run_ok(&["run", "--as-of", at]);
    let mut full = cluster_blocks(env, at);
    full.sort();
    assert_eq!(decided, full, "a full evaluation at {at} blocked more");
    decided
}

/// Sets the threshold of `env`'s one tier (hosts may differ).
fn set_threshold(env: &common::Env, threshold: u32) {
    let text = std::fs::read_to_string(&env.config).unwrap();
    let text = text.replace("threshold = 10", &format!("threshold = {threshold}"));
    std::fs::write(&env.config, text).unwrap();
}

#[test]
fn a_run_skips_the_cluster_evaluation_only_when_a_full_one_would_block_nothing_more() {
    let test = "a_run_skips_the_cluster_evaluation_only_when_a_full_one_would_block_nothing_more";
    let Some(server) = Postgres::start(test) else {
        return;
    };
    let hosts: Vec<common::Env> = ["mx1", "mx2", "mx3"]
        .iter()
        .map(|name| host(&server, name, "", ""))
        .collect();
    let (mx1, mx2, mx3) = (&hosts[0], &hosts[1], &hosts[2]);
    // Events shipped by another host: 4 + 4, then 4 more (12 over all hosts).
    common::append(&mx1.path("maillog"), &common::failures(0, 4, "203.0.113.9"));
    common::append(
        &mx2.path("maillog"),
        &common::failures(10, 4, "203.0.113.9"),
    );
    assert!(run_exactly(&server, mx1, "2026-11-27T01:00:00Z").is_empty());
    assert!(run_exactly(&server, mx2, "2026-11-27T01:01:00Z").is_empty());
    run_exactly(&server, mx1, "2026-11-27T01:02:00Z");
    common::append(
        &mx3.path("maillog"),
        &common::failures(20, 4, "203.0.113.9"),
    );
    assert!(run_exactly(&server, mx2, "2026-11-27T01:03:00Z").is_empty());
    let blocked = run_exactly(&server, mx3, "2026-11-27T01:04:00Z");
    assert_eq!(blocked, ["203.0.113.9/32"]);
    run_exactly(&server, mx1, "2026-11-27T01:05:00Z");

    // A lower threshold on one host, nothing new: that host's evaluation blocks.
    common::append(
        &mx1.path("maillog"),
        &common::failures(30, 6, "203.0.113.20"),
    );
    assert!(
        !run_exactly(&server, mx1, "2026-11-27T01:06:00Z").contains(&"203.0.113.20/32".to_string())
    );
    run_exactly(&server, mx2, "2026-11-27T01:07:00Z");
    set_threshold(mx2, 5);
    let blocked = run_exactly(&server, mx2, "2026-11-27T01:08:00Z");
    assert!(
        blocked.contains(&"203.0.113.20/32".to_string()),
        "{blocked:?}"
    );
    run_exactly(&server, mx1, "2026-11-27T01:09:00Z");

    // Unblock: counts from zero, nothing more blocked.
    mx2.run_ok(&["unblock", "203.0.113.9", "--as-of", "2026-11-27T01:10:00Z"]);
    let blocked = run_exactly(&server, mx1, "2026-11-27T01:11:00Z");
    assert!(
        !blocked.contains(&"203.0.113.9/32".to_string()),
        "{blocked:?}"
    );

    // A block by hand covering an address over the threshold (failures after it, which
    // count), then due to expire: the first run after its expiry blocks the address.
    mx1.run_ok(&[
        "block",
        "198.51.100.0/24",
        "--target",
        "postfix",
        "--for",
        "1h",
        "--as-of",
        "2026-11-27T01:12:00Z",
    ]);
    common::append(
        &mx1.path("maillog"),
        &common::failures(4330, 6, "198.51.100.7"),
    );
    common::append(
        &mx3.path("maillog"),
        &common::failures(4340, 6, "198.51.100.7"),
    );
    run_exactly(&server, mx1, "2026-11-27T01:20:00Z");
    let covered = run_exactly(&server, mx3, "2026-11-27T01:21:00Z");
    assert!(
        !covered.contains(&"198.51.100.7/32".to_string()),
        "{covered:?}"
    );
    let blocked = run_exactly(&server, mx1, "2026-11-27T02:30:00Z");
    assert!(
        blocked.contains(&"198.51.100.7/32".to_string()),
        "{blocked:?}"
    );

    // Failures stamped after the evaluation's time count once a run reaches them.
    common::append(
        &mx3.path("maillog"),
        &common::failures(4 * 3600, 12, "192.0.2.44"),
    );
    run_exactly(&server, mx3, "2026-11-27T03:00:00Z");
    let blocked = run_exactly(&server, mx1, "2026-11-27T04:30:00Z");
    assert!(
        blocked.contains(&"192.0.2.44/32".to_string()),
        "{blocked:?}"
    );

    // A host joining late with failures of its own.
    let mx4 = host(&server, "mx4", "", "");
    common::append(
        &mx4.path("maillog"),
        &common::failures(5 * 3600, 4, "192.0.2.55"),
    );
    common::append(
        &mx1.path("maillog"),
        &common::failures(5 * 3600 + 10, 6, "192.0.2.55"),
    );
    run_exactly(&server, mx1, "2026-11-27T05:30:00Z");
    let blocked = run_exactly(&server, &mx4, "2026-11-27T05:31:00Z");
    assert!(
        blocked.contains(&"192.0.2.55/32".to_string()),
        "{blocked:?}"
    );
    run_exactly(&server, mx2, "2026-11-27T05:32:00Z");
}

/// Events stored in the cluster, straight from PostgreSQL (over its socket).
fn cluster_events(server: &Postgres) -> i64 {
    server
        .admin(pg::DATABASE)
        .query_one("SELECT COUNT(*) FROM saslguard.events", &[])
        .unwrap()
        .get(0)
}

#[test]
fn verify_full_reaches_only_the_server_its_root_certificate_and_name_prove() {
    let test = "verify_full_reaches_only_the_server_its_root_certificate_and_name_prove";
    let Some(server) = Postgres::start_tls(test) else {
        return;
    };
    let mx1 = host(&server, "mx1", "", "");
    let good = server.tls_url("localhost", &server.ca());
    set_url(&mx1, &good);
    common::append(&mx1.path("maillog"), &common::failures(0, 4, "203.0.113.9"));
    mx1.run_ok(&["run", "--as-of", "2026-11-27T01:00:00Z"]);
    assert_eq!(cluster_events(&server), 4, "{}", server.log());
    // The server takes TCP connections with TLS only (hostssl): that one was encrypted.
    set_url(
        &mx1,
        &format!(
            "postgresql://{}@127.0.0.1:{}/{}?sslmode=disable",
            pg::ROLE,
            server.port(),
            pg::DATABASE
        ),
    );
    let (_, err) = fails(&mx1, &["run", "--as-of", "2026-11-27T01:01:00Z"]);
    assert!(err.contains("no pg_hba.conf entry"), "{err}");

    // A root certificate that did not sign the server's, then a name its certificate
    // does not hold: refused, saying which; the run ingests, exits 1, status says why.
    let refusals = [
        (
            server.tls_url("localhost", &server.other_ca()),
            "not signed by any of the CA certificates in sslrootcert=",
        ),
        (
            server.tls_url("127.0.0.1", &server.ca()),
            "not valid for the url's host \"127.0.0.1\"",
        ),
    ];
    let mut ingested = 4;
    for (n, (url, why)) in refusals.iter().enumerate() {
        set_url(&mx1, url);
        let at = format!("2026-11-27T01:{}0:00Z", n + 2);
        common::append(
            &mx1.path("maillog"),
            &common::failures(100 * (n as i64 + 1), 3, "198.51.100.7"),
        );
        ingested += 3;
        let (_, err) = fails(&mx1, &["run", "--as-of", &at]);
        assert!(
            err.contains("cannot reach the cluster database") && err.contains(why),
            "{url}: {err}"
        );
        let (out, err) = fails(&mx1, &["status", "--as-of", &at]);
        assert!(out.contains("UNREACHABLE") && out.contains(why), "{out}");
        assert!(
            out.contains(&format!(
                "{} events waiting in the local outbox",
                ingested - 4
            )),
            "{out}"
        );
        assert!(err.contains(why), "{err}");
        let local = mx1.json(&["top", "--local", "--format", "json", "--period", "all"]);
        let failures: i64 = local
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["failures"].as_i64().unwrap())
            .sum();
        assert_eq!(failures, ingested, "{local}");
        assert_eq!(cluster_events(&server), 4);
    }

    // The right root certificate and name again: the backlog ships.
    set_url(&mx1, &good);
    mx1.run_ok(&["run", "--as-of", "2026-11-27T01:40:00Z"]);
    mx1.run_ok(&["status", "--as-of", "2026-11-27T01:40:00Z"]);
    assert_eq!(cluster_events(&server), ingested);
}

/// Takes `[cluster]` out of `env`'s config (the host alone); returns the whole config,
/// for [`rejoin`].
fn leave_cluster(env: &common::Env) -> String {
    let text = std::fs::read_to_string(&env.config).unwrap();
    let alone = &text[..text.find("[cluster]").expect("a [cluster] table")];
    std::fs::write(&env.config, alone).unwrap();
    text
}

/// Puts back the config [`leave_cluster`] returned.
fn rejoin(env: &common::Env, config: &str) {
    std::fs::write(&env.config, config).unwrap();
}

/// `allow list` of `env`, as its networks.
fn allowed(env: &common::Env) -> Vec<String> {
    env.json(&["allow", "list", "--format", "json"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["source"] == "manual")
        .map(|entry| entry["network"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn allowlist_entries_a_host_held_alone_reach_the_cluster_and_never_vanish() {
    let test = "allowlist_entries_a_host_held_alone_reach_the_cluster_and_never_vanish";
    let Some(server) = Postgres::start(test) else {
        return;
    };
    let mx1 = host(&server, "mx1", "", "");
    let mx2 = host(&server, "mx2", "", "");
    let at = "2026-11-27T01:00:00Z";
    // An entry mx1 held before it joined; its first contact is a block by hand, which
    // the entry refuses (the cluster decides with it), and the entry stays.
    let config = leave_cluster(&mx1);
    mx1.run_ok(&["allow", "add", "192.0.2.50", "--as-of", at]);
    rejoin(&mx1, &config);
    let (_, err) = fails(
        &mx1,
        &[
            "block",
            "192.0.2.0/24",
            "--target",
            "postfix",
            "--as-of",
            at,
        ],
    );
    assert!(err.contains("192.0.2.50"), "{err}");
    assert!(err.contains("added to the cluster's allowlist"), "{err}");
    assert_eq!(allowed(&mx1), ["192.0.2.50/32"]);
    mx2.run_ok(&["run", "--as-of", at]);
    assert_eq!(allowed(&mx2), ["192.0.2.50/32"]);

    // mx1, which reached the cluster before, leaves it, allows a network alone and comes
    // back: its next run sends the entry up, saying so, and every host allows it.
    let config = leave_cluster(&mx1);
    mx1.run_ok(&["allow", "add", "198.51.100.60", "--as-of", at]);
    rejoin(&mx1, &config);
    let output = mx1.run_ok(&["run", "--as-of", at]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        err.contains("198.51.100.60/32 was allowed on this host alone"),
        "{err}"
    );
    assert_eq!(allowed(&mx1), ["192.0.2.50/32", "198.51.100.60/32"]);
    mx2.run_ok(&["run", "--as-of", at]);
    assert_eq!(allowed(&mx2), ["192.0.2.50/32", "198.51.100.60/32"]);

    // An entry removed in the cluster (on mx2) still goes from mx1 at its next run.
    mx2.run_ok(&["allow", "remove", "192.0.2.50", "--as-of", at]);
    mx1.run_ok(&["run", "--as-of", at]);
    assert_eq!(allowed(&mx1), ["198.51.100.60/32"]);

    // An entry held alone, then removed on the same host: gone, never sent up.
    let config = leave_cluster(&mx1);
    mx1.run_ok(&["allow", "add", "203.0.113.70", "--as-of", at]);
    rejoin(&mx1, &config);
    let output = mx1.run_ok(&["allow", "remove", "203.0.113.70", "--as-of", at]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(!err.contains("added to the cluster"), "{err}");
    assert_eq!(allowed(&mx1), ["198.51.100.60/32"]);
    mx2.run_ok(&["run", "--as-of", at]);
    assert_eq!(allowed(&mx2), ["198.51.100.60/32"]);
}
