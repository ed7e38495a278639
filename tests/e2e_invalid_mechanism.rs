//! End to end against a real Postfix and Dovecot (see `rig`): a client asking for a SASL
//! mechanism Dovecot does not offer makes Postfix log `SASL CRAM-MD5 authentication
//! failed: Invalid authentication mechanism`; saslguard stores it as its own kind, apart
//! from the failed logins next to it. Needs root, postfix, dovecot-core and swaks; skips
//! without them, except under `CI=true`.

use crate::rig;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use rig::{Attempt, Rig};

/// Says EHLO, asks for AUTH CRAM-MD5 (the rig's Dovecot offers PLAIN and LOGIN only)
/// and QUIT; returns the reply to AUTH.
fn ask_for_cram_md5(port: u16) -> String {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let reply = |reader: &mut BufReader<TcpStream>| loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("read reply");
        if line.len() < 4 || line.as_bytes()[3] != b'-' {
            return line;
        }
    };
    reply(&mut reader);
    writer.write_all(b"EHLO client.test\r\n").unwrap();
    reply(&mut reader);
    writer.write_all(b"AUTH CRAM-MD5\r\n").unwrap();
    let answer = reply(&mut reader);
    writer.write_all(b"QUIT\r\n").unwrap();
    reply(&mut reader);
    answer
}

#[test]
fn a_real_invalid_mechanism_failure_is_stored_apart() {
    let Some(rig) = Rig::start("invalid_mech", "cidr") else {
        return;
    };
    for _ in 0..2 {
        let answer = ask_for_cram_md5(rig.port());
        assert!(
            answer.starts_with("535") && answer.contains("Invalid authentication mechanism"),
            "{answer}"
        );
    }
    rig.swaks_all(&[Attempt::wrong("127.0.0.9", "LOGIN")]);
    let logged = rig.wait_for_log_lines(
        |l| l.contains("SASL CRAM-MD5 authentication failed: Invalid authentication mechanism"),
        2,
        Duration::from_secs(30),
    );
    assert_eq!(logged, 2, "{}", rig.log_tail(20));
    assert_eq!(rig.wait_for_failures(3, Duration::from_secs(30)), 3);

    let db = rig.dir().join("saslguard.db");
    let config = rig.dir().join("saslguard.toml");
    std::fs::write(&config, "timezone = \"UTC\"\n").unwrap();
    let saslguard = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_saslguard"))
            .arg("--db")
            .arg(&db)
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let mut ingest = vec!["ingest", "--format", "json"];
    let logs: Vec<String> = rig
        .log_files()
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    ingest.extend(logs.iter().map(String::as_str));
    let summary = saslguard(&ingest);
    assert_eq!(summary["unparsed"], 0, "{summary}");
    let failed = saslguard(&["top", "--period", "all", "--format", "json"]);
    let failed: Vec<&str> = failed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ip"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["127.0.0.9"]);
    let invalid = saslguard(&[
        "top",
        "--period",
        "all",
        "--kind",
        "invalid-mechanism",
        "--format",
        "json",
    ]);
    assert_eq!(invalid[0]["ip"], "127.0.0.1", "{invalid}");
    assert_eq!(invalid[0]["failures"], 2, "{invalid}");
}
