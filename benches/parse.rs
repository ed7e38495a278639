//! Parser throughput: `cargo bench --bench parse`.
//!
//! Parses 2,000,000 real-shaped Postfix lines (a fifth of them SASL failures, the rest
//! connects, deliveries, rejects and other programs) with the line parser alone, no I/O,
//! `REPEAT` times (default 5), and prints the best and the median in lines/s and MB/s.
//! Every run must find exactly the 400,000 failures in the text, so a parser that got
//! fast by missing them fails instead of looking good.
//!
//! Environment: `REPEAT=N`; `MIN_MLINES=F` fails (exit 1) when the median is below F
//! million lines per second. Compare two versions by running this bench on each (it
//! needs no baseline binary: the figure is the parser's alone; `bench/ingest.sh` with
//! `BASELINE_BIN` measures the whole ingest).

use std::process::ExitCode;
use std::time::Instant;

use chrono::{DateTime, FixedOffset, Utc};
use saslguard::parse::{LineParser, Parsed};

/// Lines in one run.
const LINES: usize = 2_000_000;

/// Ten lines as Postfix and its neighbours log them; two are counted failures.
const SAMPLE: [&str; 10] = [
    "Nov 26 10:00:00 mx postfix/smtpd[1234]: connect from unknown[203.0.113.7]",
    "Nov 26 10:00:00 mx postfix/smtpd[1234]: lost connection after AUTH from unknown[203.0.113.7]",
    "Nov 26 10:00:00 mx postfix/smtpd[1234]: disconnect from unknown[203.0.113.7] ehlo=1 auth=0/1 quit=1 commands=2/3",
    "Nov 26 10:00:01 mx postfix/qmgr[777]: 4ABC123DEF: from=<alice@example.org>, size=12345, nrcpt=1 (queue active)",
    "Nov 26 10:00:01 mx postfix/cleanup[778]: 4ABC123DEF: message-id=<20261126100001.4ABC123DEF@mx.example.org>",
    "Nov 26 10:00:02 mx postfix/smtp[779]: 4ABC123DEF: to=<bob@example.net>, relay=mx.example.net[198.51.100.1]:25, delay=0.5, delays=0.1/0/0.2/0.2, dsn=2.0.0, status=sent (250 2.0.0 Ok)",
    "Nov 26 10:00:02 mx postfix/smtpd[1234]: NOQUEUE: reject: RCPT from unknown[203.0.113.8]: 554 5.7.1 <x@example.org>: Relay access denied; from=<a@b> to=<x@example.org> proto=ESMTP helo=<x>",
    "Nov 26 10:00:03 mx dovecot: imap-login: Login: user=<alice>, method=PLAIN, rip=198.51.100.2, lip=192.0.2.1, mpid=1234, TLS",
    "Nov 26 10:00:03 mx postfix/smtpd[1234]: warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=admin",
    "Nov 26 10:00:04 mx postfix/submission/smtpd[1235]: warning: unknown[2001:db8::1]:51234: SASL PLAIN authentication failed: authentication failure, sasl_username=info@example.org",
];

/// Failures among [`LINES`] lines of [`SAMPLE`].
const EXPECTED_EVENTS: usize = LINES / SAMPLE.len() * 2;

/// The text to parse: the sample over and over, its hour varied so the year-less
/// clock's cache sees many slots.
fn text() -> Vec<u8> {
    let mut text = Vec::new();
    let mut n = 0usize;
    while n < LINES {
        for line in SAMPLE {
            let hour = (n / 1000) % 24;
            let line = line.replacen("10:", &format!("{hour:02}:"), 1);
            text.extend_from_slice(line.as_bytes());
            text.push(b'\n');
            n += 1;
        }
    }
    text
}

/// One pass over `lines`: (events found, seconds).
fn run(lines: &[&[u8]]) -> (usize, f64) {
    let reference: DateTime<Utc> = "2026-11-27T12:00:00Z".parse().expect("reference");
    let zone = FixedOffset::east_opt(0).expect("UTC");
    let mut parser = LineParser::new(reference, zone);
    let start = Instant::now();
    let mut events = 0usize;
    for line in lines {
        if let Parsed::Event(event) = parser.parse(line) {
            events += 1;
            std::hint::black_box(&event);
        }
    }
    (events, start.elapsed().as_secs_f64())
}

fn setting<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn main() -> ExitCode {
    let repeat: usize = setting("REPEAT").unwrap_or(5).max(1);
    let text = text();
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(lines.len(), LINES);
    let mut seconds = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        let (events, elapsed) = run(&lines);
        if events != EXPECTED_EVENTS {
            eprintln!("parse: {events} events, expected {EXPECTED_EVENTS}");
            return ExitCode::FAILURE;
        }
        seconds.push(elapsed);
    }
    seconds.sort_by(f64::total_cmp);
    let megabytes = text.len() as f64 / 1e6;
    let report = |what: &str, s: f64| {
        println!(
            "parse {what:6} {LINES} lines ({megabytes:.0} MB), {EXPECTED_EVENTS} events in {s:.3} s: \
             {:.2} M lines/s, {:.0} MB/s",
            LINES as f64 / s / 1e6,
            megabytes / s
        );
    };
    let median = seconds[seconds.len() / 2];
    report("best", seconds[0]);
    report("median", median);
    if let Some(floor) = setting::<f64>("MIN_MLINES") {
        let rate = LINES as f64 / median / 1e6;
        if rate < floor {
            eprintln!("parse: median {rate:.2} M lines/s is below MIN_MLINES={floor}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
