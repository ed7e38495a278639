//! Exports people open in other tools: CSV cells an attacker chose are never live
//! formulas and never carry raw control characters.

use crate::common;

use std::fs;

use common::Env;

/// A failure at 2026-11-27T00:00:SS with `user` as the username.
fn failure_of(second: u32, user: &str) -> String {
    format!(
        "2026-11-27T00:00:{second:02}+00:00 mx postfix/smtpd[1]: warning: unknown[203.0.113.7]: \
         SASL LOGIN authentication failed: authentication failure, sasl_username={user}\n"
    )
}

#[test]
fn csv_neutralises_formulas_and_escapes_control_characters() {
    let env = Env::new();
    let log = env.path("maillog");
    let users = [
        "=HYPERLINK(\"http://evil.example\",\"x\")",
        "@SUM(1+1)",
        "evil\u{1b}[2J\u{7}",
        "-1+2",
        "bob",
    ];
    let text: String = users
        .iter()
        .enumerate()
        .map(|(i, user)| failure_of(i as u32, user))
        .collect();
    fs::write(&log, text).unwrap();
    env.ingest(&[&log]);
    let output = env.run_ok(&[
        "top",
        "--by",
        "user",
        "--period",
        "all",
        "--format",
        "csv",
        "--as-of",
        "2026-11-27T01:00:00Z",
    ]);
    let csv = String::from_utf8(output.stdout).unwrap();
    let mut lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.remove(0), "rank,user,failures,first_seen,last_seen");
    lines.sort();
    assert_eq!(
        lines,
        [
            "1,\"'-1+2\",1,2026-11-27T00:00:03Z,2026-11-27T00:00:03Z",
            "1,\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",1,2026-11-27T00:00:00Z,2026-11-27T00:00:00Z",
            "1,\"'@SUM(1+1)\",1,2026-11-27T00:00:01Z,2026-11-27T00:00:01Z",
            "1,bob,1,2026-11-27T00:00:04Z,2026-11-27T00:00:04Z",
            "1,evil\\u{1b}[2J\\u{7},1,2026-11-27T00:00:02Z,2026-11-27T00:00:02Z",
        ]
    );
    assert!(!csv.contains('\u{1b}') && !csv.contains('\u{7}'));
}

#[test]
fn tables_csv_and_html_show_hidden_characters_the_same_way() {
    let env = Env::new();
    let log = env.path("maillog");
    fs::write(&log, failure_of(0, "gnp\u{202e}exe.txt\u{200b}")).unwrap();
    env.ingest(&[&log]);
    let args = |format: &'static str| {
        [
            "top",
            "--by",
            "user",
            "--period",
            "all",
            "--format",
            format,
            "--as-of",
            "2026-11-27T01:00:00Z",
        ]
    };
    let shown = "gnp\\u{202e}exe.txt\\u{200b}";
    for format in ["table", "csv"] {
        let out = String::from_utf8(env.run_ok(&args(format)).stdout).unwrap();
        assert!(out.contains(shown), "{format}: {out}");
        assert!(
            !out.contains('\u{202e}') && !out.contains('\u{200b}'),
            "{format}"
        );
    }
    let html = env.path("report.html");
    env.run_ok(&[
        "report",
        "--period",
        "24h",
        "--format",
        "html",
        "--as-of",
        "2026-11-27T01:00:00Z",
        "--output",
        html.to_str().unwrap(),
    ]);
    let page = fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("gnp<span class=\"ctl\" title=\"hidden character\">\\u{202e}</span>exe.txt"),
        "the page marks the same escape"
    );
    assert!(!page.contains('\u{202e}'));
}

#[test]
fn error_messages_show_hidden_characters_escaped() {
    let env = Env::new();
    let path = env.path("x\u{1b}[2J\u{202e}.log");
    let output = env.cmd().arg("ingest").arg(&path).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("x\\u{1b}[2J\\u{202e}.log"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains('\u{202e}'),
        "{stderr}"
    );
}
