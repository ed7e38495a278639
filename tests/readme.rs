//! The README's quick start tells the truth: its `top` example, run on the bundled
//! sample exactly as printed, prints exactly the rows shown, and those numbers are the
//! sample's generator truth (`fixtures/sample/truth.json`); the quick-start `run` and
//! `top` agree with that truth for every address.

use crate::common;

use std::path::{Path, PathBuf};

use common::Env;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn readme() -> String {
    std::fs::read_to_string(repo("README.md")).expect("README.md")
}

fn truth() -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(repo("fixtures/sample/truth.json")).expect("truth"))
        .expect("truth JSON")
}

/// The sample config of the quick start, with the database and map in `env`'s
/// directory instead of target/ (the same settings otherwise).
fn quick_start_env() -> Env {
    let env = Env::new();
    let sample = std::fs::read_to_string(repo("fixtures/sample/saslguard.toml")).expect("config");
    assert!(sample.contains("logs = [\"maillog\"]"), "{sample}");
    let config = sample
        .replace(
            "logs = [\"maillog\"]",
            &format!("logs = [{:?}]", repo("fixtures/sample/maillog")),
        )
        .replace("../../target/sample.db", env.db.to_str().expect("utf-8"))
        .replace(
            "../../target/sample_access",
            env.path("sample_access").to_str().expect("utf-8"),
        );
    std::fs::write(&env.config, config).expect("write config");
    env
}

/// The example after `$ saslguard --db target/sample.db top ...` in the README: the
/// arguments after the database, and the lines it shows.
fn readme_top_example(readme: &str) -> (Vec<String>, Vec<String>) {
    let prompt = "$ saslguard --db target/sample.db top ";
    let at = readme.find(prompt).expect("the top example in the README");
    let rest = &readme[at + prompt.len()..];
    let (command, shown) = rest.split_once('\n').expect("output lines");
    let mut args = vec!["top".to_string()];
    args.extend(command.split_whitespace().map(str::to_string));
    let lines = shown
        .lines()
        .take_while(|line| !line.starts_with("```"))
        .map(str::to_string)
        .collect();
    (args, lines)
}

#[test]
fn the_readme_top_example_is_what_saslguard_prints_on_the_sample() {
    let env = quick_start_env();
    env.run_ok(&["ingest"]);
    let (args, shown) = readme_top_example(&readme());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = env.run_ok(&args);
    let printed: Vec<String> = String::from_utf8(output.stdout)
        .expect("utf-8")
        .lines()
        .map(|line| line.trim_end().to_string())
        .collect();
    let shown: Vec<String> = shown.iter().map(|l| l.trim_end().to_string()).collect();
    assert_eq!(printed, shown, "README example vs saslguard {args:?}");

    // And the `all` column is the generator's truth.
    let truth = truth();
    for row in shown.iter().skip(2) {
        let cells: Vec<&str> = row.split_whitespace().collect();
        let (ip, all) = (cells[1], cells[6]);
        assert_eq!(
            truth["failures"][ip].as_i64(),
            all.parse::<i64>().ok(),
            "{ip} in the README"
        );
    }
}

#[test]
fn the_quick_start_run_counts_every_address_as_the_truth_says() {
    let env = quick_start_env();
    let output = env.run_ok(&["run", "--format", "json"]);
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    let truth = truth();
    assert_eq!(summary["ingest"]["lines"], truth["lines"]);
    assert_eq!(
        summary["ingest"]["events"].as_i64(),
        Some(
            truth["failures_total"].as_i64().expect("failures")
                + truth["server_faults_total"].as_i64().expect("faults")
        )
    );
    let counts = env.counts();
    let expected: std::collections::BTreeMap<String, i64> = truth["failures"]
        .as_object()
        .expect("failures")
        .iter()
        .map(|(ip, n)| (ip.clone(), n.as_i64().expect("count")))
        .collect();
    assert_eq!(counts, expected);
    // The map holds the blocks the run made, one line each after the header.
    let map = std::fs::read_to_string(env.path("sample_access")).expect("the map");
    let blocks = summary["blocks_created"].as_array().expect("blocks").len();
    assert!(blocks > 0, "the sample has offenders over the threshold");
    assert_eq!(map.lines().filter(|l| !l.starts_with('#')).count(), blocks);
}
