//! The shape of the build: every test file runs (one binary, `tests/tests.rs`), the
//! saslguard package installs saslguard alone, and the test-data generator stays an
//! oracle independent of the parser it checks.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// `cargo metadata --no-deps` of the workspace (declared dependencies, no resolution,
/// no network).
fn metadata() -> Value {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--offline",
        ])
        .arg("--manifest-path")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata is JSON")
}

/// The package called `name` in `metadata`.
fn package<'a>(metadata: &'a Value, name: &str) -> &'a Value {
    metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no package {name} in the workspace"))
}

/// The names of `package`'s targets of `kind` (`bin`, `test`, ...).
fn targets(package: &Value, kind: &str) -> Vec<String> {
    package["targets"]
        .as_array()
        .expect("targets")
        .iter()
        .filter(|t| {
            t["kind"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == kind))
        })
        .map(|t| t["name"].as_str().expect("target name").to_string())
        .collect()
}

#[test]
fn saslguard_is_the_only_binary_the_package_installs() {
    let metadata = metadata();
    assert_eq!(
        targets(package(&metadata, "saslguard"), "bin"),
        ["saslguard"],
        "`cargo install --path .` installs every bin target of the package"
    );
    let generator = package(&metadata, "saslguard-gen");
    assert_eq!(targets(generator, "bin"), ["saslguard-gen"]);
    assert_eq!(
        generator["publish"],
        serde_json::json!([]),
        "the generator is never published"
    );
}

#[test]
fn the_generator_does_not_depend_on_saslguard() {
    let metadata = metadata();
    let names: Vec<&str> = package(&metadata, "saslguard-gen")["dependencies"]
        .as_array()
        .expect("dependencies")
        .iter()
        .map(|d| d["name"].as_str().expect("dependency name"))
        .collect();
    assert!(
        !names.contains(&"saslguard"),
        "the generator must stay an oracle independent of the parser: {names:?}"
    );
}

#[test]
fn the_integration_tests_are_one_binary_holding_every_test_file() {
    let metadata = metadata();
    assert_eq!(targets(package(&metadata, "saslguard"), "test"), ["tests"]);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let main = std::fs::read_to_string(dir.join("tests.rs")).expect("tests/tests.rs");
    let declared: Vec<&str> = main
        .lines()
        .filter_map(|l| l.strip_prefix("mod ")?.strip_suffix(';'))
        .collect();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("tests/") {
        let path = entry.expect("entry").path();
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let module = path.extension().is_some_and(|e| e == "rs") || path.join("mod.rs").is_file();
        if module && stem != "tests" && !declared.contains(&stem) {
            missing.push(stem.to_string());
        }
    }
    assert!(
        missing.is_empty(),
        "add `mod NAME;` to tests/tests.rs for {missing:?}: cargo runs no file it does not name"
    );
}
