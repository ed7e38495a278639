//! `saslguard report --format html`: a page built from a small log whose truth is written
//! out below, checked as a file (self-contained, hostile usernames escaped) and then as
//! headless Chromium renders it: the DOM Chromium builds holds every number at the ids
//! the page promises, the right number of SVG bars and spans, and no script; a screenshot
//! is a real image.
//!
//! Needs `/usr/bin/chromium` (Debian package `chromium`). Without it the browser part is
//! skipped (listed at the end of `tests/run.sh`), except in CI, where it fails.

use crate::common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::Env;
use serde_json::Value;

/// The report's end: with `--period 24h` the period is (2026-11-27T12:00Z, AS_OF] and the
/// previous one (2026-11-26T12:00Z, 2026-11-27T12:00Z].
const AS_OF: &str = "2026-11-28T12:00:00Z";

const CHROMIUM: &str = "/usr/bin/chromium";

/// How long one Chromium run may take before it is killed.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(60);

const SCRIPT_USER: &str = "<script>alert(1)</script>";
const QUOTE_USER: &str = "\"><img src=x onerror=alert(2)>'&";
/// An escape sequence that clears a terminal, and a right-to-left override.
const CONTROL_USER: &str = "evil\u{1b}[2J\u{202e}gnp.exe";

fn failure(time: &str, ip: &str, user: &str) -> String {
    format!(
        "{time} mx postfix/submission/smtpd[777]: warning: unknown[{ip}]: SASL PLAIN \
         authentication failed: authentication failure, sasl_username={user}\n"
    )
}

/// The log, and its truth.
///
/// Current period: 11 failures, 4 addresses, 3 networks, 1 server fault:
///   - 203.0.113.7:   11-28 06:00:00..04 alice@example.com      (5)
///   - 198.51.100.20: 11-28 09:00:00..02 SCRIPT_USER            (3)
///   - 2001:db8::5:   11-28 10:30:00..01 CONTROL_USER           (2)
///   - 198.51.100.21: 11-27 15:00:00 QUOTE_USER                 (1)
///   - fault: 192.0.2.1 11-28 08:00
///
/// Previous period: 3 failures, 2 addresses, 2 networks, no fault:
///   - 203.0.113.7: 11-27 01:00:00, 01:00:01 alice             (2)
///   - 10.0.0.1:    11-26 13:00 admin                          (1)
///
/// Two connections refused by the postfix block on 203.0.113.7 (11-28 08:00, 08:05).
fn log_text() -> String {
    let alice = "alice@example.com";
    let mut text = String::new();
    text += &failure("2026-11-26T13:00:00Z", "10.0.0.1", "admin");
    text += &failure("2026-11-27T01:00:00Z", "203.0.113.7", alice);
    text += &failure("2026-11-27T01:00:01Z", "203.0.113.7", alice);
    text += &failure("2026-11-27T15:00:00Z", "198.51.100.21", QUOTE_USER);
    for s in 0..5 {
        text += &failure(&format!("2026-11-28T06:00:0{s}Z"), "203.0.113.7", alice);
    }
    text += "2026-11-28T08:00:00Z mx postfix/smtpd[4242]: warning: unknown[192.0.2.1]: SASL \
             LOGIN authentication failed: Connection lost to authentication server\n";
    for at in ["08:00:00", "08:05:00"] {
        text += &format!(
            "2026-11-28T{at}Z mx postfix/smtpd[999]: NOQUEUE: reject: RCPT from \
             unknown[203.0.113.7]: 554 5.7.1 <unknown[203.0.113.7]>: Client host rejected: \
             Too many failed authentication attempts; from=<a@example.org> \
             to=<b@example.net> proto=ESMTP helo=<x>\n"
        );
    }
    for s in 0..3 {
        text += &failure(
            &format!("2026-11-28T09:00:0{s}Z"),
            "198.51.100.20",
            SCRIPT_USER,
        );
    }
    for s in 0..2 {
        text += &failure(
            &format!("2026-11-28T10:30:0{s}Z"),
            "2001:db8::5",
            CONTROL_USER,
        );
    }
    text
}

/// The log ingested and three blocks: one postfix block in force at the end, one
/// firewall block created and expired inside the period (with a hostile reason), one
/// postfix block from before the period unblocked inside it.
fn setup() -> Env {
    let env = Env::new();
    let log = env.path("maillog");
    std::fs::write(&log, log_text()).expect("write log");
    let summary = env.ingest_with(&[&log], &["--as-of", AS_OF]);
    assert_eq!(summary["unparsed"], 0, "{summary}");

    env.block_postfix("203.0.113.7", "7d", "2026-11-28T07:00:00Z");
    env.run_ok(&[
        "block",
        "198.51.100.0/24",
        "--target",
        "firewall",
        "--for",
        "2h",
        "--reason",
        "<b>by hand</b> \"quoted\"",
        "--as-of",
        "2026-11-28T09:30:00Z",
    ]);
    env.run_ok(&[
        "block",
        "100.64.0.0/24",
        "--target",
        "postfix",
        "--permanent",
        "--as-of",
        "2026-11-20T00:00:00Z",
    ]);
    env.run_ok(&[
        "unblock",
        "100.64.0.0/24",
        "--as-of",
        "2026-11-28T02:00:00Z",
    ]);
    env
}

/// The text inside the element with `id`, up to the next tag.
fn text_of(page: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\"");
    let at = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no element with id {id}"));
    let rest = &page[at..];
    let open = rest.find('>').expect("tag end") + 1;
    let close = rest[open..].find('<').expect("next tag");
    rest[open..open + close].to_string()
}

/// Every element with `id` holds `want` as its text.
fn assert_ids(page: &str, expected: &[(&str, String)]) {
    for (id, want) in expected {
        assert_eq!(&text_of(page, id), want, "element #{id}");
    }
}

/// The ids and values the page must show: the truth of the log and blocks above.
fn expected_ids() -> Vec<(&'static str, String)> {
    vec![
        ("period", "24h".into()),
        ("since", "2026-11-27T12:00:00Z".into()),
        ("until", AS_OF.into()),
        ("generated-at", AS_OF.into()),
        ("current-failures", "11".into()),
        ("previous-failures", "3".into()),
        ("change-failures", "+8 (+267%)".into()),
        ("current-addresses", "4".into()),
        ("previous-addresses", "2".into()),
        ("current-networks", "3".into()),
        ("previous-networks", "2".into()),
        ("current-server-faults", "1".into()),
        ("previous-server-faults", "0".into()),
        ("change-server-faults", "new".into()),
        ("chart-total", "11".into()),
        ("chart-buckets", "25".into()),
        ("chart-max", "5".into()),
        ("chart-y-max", "5".into()),
        ("chart-first", "2026-11-27 12:00".into()),
        ("chart-last", "2026-11-28 12:00".into()),
        // Both refusals (08:00, 08:05) fall in the period, after the block on
        // 203.0.113.7 began (07:00): both are its, none unattributed, none before.
        ("efficacy-rejected", "2".into()),
        ("efficacy-previous-rejected", "0".into()),
        ("efficacy-unattributed", "0".into()),
        // Postfix: 203.0.113.7 created at 11-28 07:00 and in force at the end;
        // 100.64.0.0/24 (created 11-20) unblocked at 11-28 02:00. Firewall:
        // 198.51.100.0/24 created at 09:30 and expired at 11:30.
        ("blocks-postfix-created", "1".into()),
        ("blocks-postfix-ended", "1".into()),
        ("blocks-postfix-active", "1".into()),
        ("blocks-firewall-created", "1".into()),
        ("blocks-firewall-ended", "1".into()),
        ("blocks-firewall-active", "0".into()),
    ]
}

/// The structure every rendering of the page must have: bars, rows and spans.
fn assert_structure(page: &str, json: &Value) {
    // One bar per hour of the period, together the period's failures.
    assert_eq!(page.matches("<rect class=\"bar\"").count(), 25);
    let drawn: i64 = page
        .split("<rect class=\"bar\"")
        .skip(1)
        .map(|bar| {
            let at = bar.find("data-failures=\"").expect("data-failures") + 15;
            let end = bar[at..].find('"').expect("quote");
            bar[at..at + end].parse::<i64>().expect("number")
        })
        .sum();
    assert_eq!(drawn, 11);

    // The top addresses, each with its bar.
    let top = [
        ("203.0.113.7", 5),
        ("198.51.100.20", 3),
        ("2001:db8::5", 2),
        ("198.51.100.21", 1),
    ];
    for (ip, failures) in top {
        assert!(
            page.contains(&format!("data-ip=\"{ip}\" data-failures=\"{failures}\"")),
            "row of {ip}"
        );
    }
    assert_eq!(page.matches("class=\"hbar addresses\"").count(), top.len());
    assert_eq!(page.matches("class=\"hbar users\"").count(), 4);
    assert!(page.contains("data-username=\"alice@example.com\" data-failures=\"5\""));

    // The timeline: one span per block of the JSON timeline, coloured by target, and a
    // row with its rejected count.
    let timeline = json["block_timeline"].as_array().expect("block_timeline");
    assert_eq!(timeline.len(), 3, "{timeline:?}");
    for target in ["postfix", "firewall"] {
        let want = timeline.iter().filter(|b| b["target"] == target).count();
        assert_eq!(
            page.matches(&format!("<rect class=\"span {target}\""))
                .count(),
            want,
            "{target} spans"
        );
    }
    assert_eq!(
        timeline.iter().filter(|b| b["target"] == "postfix").count(),
        2
    );
    for block in timeline {
        let id = block["id"].as_i64().expect("id");
        let network = block["network"].as_str().expect("network");
        // The two refusals are the block on 203.0.113.7's; the others refused nothing.
        let rejected = if network == "203.0.113.7/32" { 2 } else { 0 };
        assert!(
            page.contains(&format!(
                "<tr id=\"block-{id}\" data-network=\"{network}\" data-target=\"{}\" data-rejected=\"{rejected}\"",
                block["target"].as_str().expect("target"),
            )),
            "row of block {id} ({network})"
        );
        assert!(page.contains(&format!("data-block-id=\"{id}\"")));
    }
    assert!(page.contains(">unblocked<"), "the unblocked block's status");
    assert!(page.contains(">in force<"), "the active block's status");
}

/// What attackers wrote is shown, escaped, and nowhere as markup.
fn assert_escaped(page: &str) {
    let lower = page.to_lowercase();
    assert!(!lower.contains("<script"), "a script element");
    assert!(!lower.contains("<img"), "an img element");
    assert!(!lower.contains("<b>by hand"), "the reason as markup");
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("&lt;img src=x onerror=alert(2)&gt;"));
    assert!(page.contains("&lt;b&gt;by hand&lt;/b&gt;"));
    assert!(page.contains("evil\\u{1b}"), "the escape character shown");
    assert!(page.contains("\\u{202e}gnp.exe"), "the RTL override shown");
    assert!(!page.contains('\u{1b}') && !page.contains('\u{202e}'));
}

/// Runs Chromium headless with `args` after the common ones, stdout to `stdout`; kills
/// its whole process group after [`CHROMIUM_TIMEOUT`].
fn chromium(args: &[String], stdout: &Path) -> ExitStatus {
    use std::os::unix::process::CommandExt;

    let profile = tempfile::tempdir().expect("profile dir");
    let stderr_path = profile.path().join("stderr.txt");
    let mut command = Command::new(CHROMIUM);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .env("HOME", profile.path())
        .env("XDG_CONFIG_HOME", profile.path().join("config"))
        .env("XDG_CACHE_HOME", profile.path().join("cache"))
        .stdin(Stdio::null())
        .stdout(File::create(stdout).expect("stdout file"))
        .stderr(File::create(&stderr_path).expect("stderr file"))
        .process_group(0);
    let mut child = command.spawn().expect("start chromium");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            if !status.success() {
                eprintln!(
                    "chromium {args:?} exited with {status}:\n{}",
                    std::fs::read_to_string(&stderr_path).unwrap_or_default()
                );
            }
            return status;
        }
        if started.elapsed() > CHROMIUM_TIMEOUT {
            // The group holds Chromium's helper processes too.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "chromium {args:?} took over {CHROMIUM_TIMEOUT:?}; killed. stderr:\n{}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether Chromium is there; panics under `CI=true` when it is not.
fn have_chromium() -> bool {
    if Path::new(CHROMIUM).exists() {
        return true;
    }
    common::need::met(
        "the HTML report's browser checks",
        Some(&format!("{CHROMIUM} is missing (apt-get install chromium)")),
    )
}

#[test]
fn html_report_is_safe_and_renders_every_number() {
    let env = setup();
    let json: Value = serde_json::from_slice(
        &env.run_ok(&[
            "report", "--period", "24h", "--format", "json", "--as-of", AS_OF,
        ])
        .stdout,
    )
    .expect("report JSON");
    assert_eq!(json["current"]["failures"], 11, "the log's truth");

    let html_path: PathBuf = env.path("report.html");
    let written = env.run_ok(&[
        "report",
        "--period",
        "24h",
        "--format",
        "html",
        "--as-of",
        AS_OF,
        "--output",
        html_path.to_str().expect("utf-8 path"),
    ]);
    assert!(written.stdout.is_empty(), "--output printed something");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&html_path)
            .expect("the page")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the page holds attackers' usernames");
    }

    // The file itself: self-contained, nothing to run or fetch, attackers' text escaped.
    let page = std::fs::read_to_string(&html_path).expect("read the page");
    assert!(page.starts_with("<!DOCTYPE html>"));
    assert!(page.contains(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">"
    ));
    let lower = page.to_lowercase();
    for banned in ["http://", "https://", "<link", "<iframe", "@import", "url("] {
        assert!(!lower.contains(banned), "{banned} in the page");
    }
    assert_escaped(&page);
    assert_ids(&page, &expected_ids());
    assert_structure(&page, &json);

    if !have_chromium() {
        return;
    }
    let url = format!("file://{}", html_path.display());

    // The DOM Chromium built from the page: same numbers, same bars, still no script.
    let dom_path = env.path("dom.html");
    let status = chromium(&["--dump-dom".to_string(), url.clone()], &dom_path);
    assert!(status.success(), "chromium --dump-dom: {status}");
    let dom = std::fs::read_to_string(&dom_path).expect("read the DOM");
    assert!(dom.contains("id=\"efficacy-rejected\""), "DOM: {dom}");
    assert_escaped(&dom);
    assert_ids(&dom, &expected_ids());
    assert_structure(&dom, &json);

    // A screenshot: a real PNG of the asked size with something on it.
    let png_path = env.path("report.png");
    let status = chromium(
        &[
            format!("--screenshot={}", png_path.display()),
            "--window-size=1200,2400".to_string(),
            url,
        ],
        &env.path("screenshot-stdout.txt"),
    );
    assert!(status.success(), "chromium --screenshot: {status}");
    let png = std::fs::read(&png_path).expect("the screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    assert!(png.len() > 10 * 1024, "only {} bytes", png.len());
    let be32 = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().expect("4 bytes"));
    assert_eq!(&png[12..16], b"IHDR");
    assert_eq!((be32(16), be32(20)), (1200, 2400), "screenshot size");
    // For a look at the page: SASLGUARD_KEEP_SCREENSHOT=/some/file.png.
    if let Some(keep) = std::env::var_os("SASLGUARD_KEEP_SCREENSHOT") {
        std::fs::copy(&png_path, keep).expect("keep the screenshot");
    }
}
