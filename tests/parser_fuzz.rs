//! Property tests of the log-line parser: it never panics on any bytes, gives the same
//! answer twice (and with a warm or cold clock cache), keeps the client address out of the
//! attacker's reach, and resolves year-less stamps like a brute-force search would.

use std::net::IpAddr;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use saslguard::parse::timestamp::{CLOCK_SKEW, SyslogStamp};
use saslguard::parse::{EventKind, JournalTrust, LineParser, Parsed, TrustRule, YearlessClock};

const CAP: usize = 256;

fn reference() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-27T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

static COMMANDS: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| vec!["smtpd".to_string()]);
static EXECUTABLES: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| vec!["/usr/lib/postfix/sbin/smtpd".to_string()]);
static UNITS: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| vec!["postfix@*.service".to_string()]);

/// A parser that trusts journal entries from Postfix's smtpd running as uid 107.
fn parser() -> LineParser<'static, FixedOffset> {
    LineParser::new(reference(), FixedOffset::east_opt(0).unwrap()).with_trust(JournalTrust {
        rule: Some(TrustRule {
            commands: &COMMANDS,
            executables: &EXECUTABLES,
            uids: &[107],
            units: &UNITS,
        }),
    })
}

/// Valid lines of every shape, as seeds for mutation.
const SEEDS: &[&str] = &[
    "Oct  7 03:36:21 mx postfix/smtpd[30764]: warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=admin",
    "Nov 07 03:36:21 mx postfix/submission/smtpd[1]: warning: host.example[2001:db8::1]:587: SASL PLAIN authentication failed: ",
    "2026-11-27T17:51:00.123456+09:00 mx postfix/smtps/smtpd[2]: warning: unknown[::ffff:192.0.2.9]: SASL LOGIN authentication failed: Connection lost to authentication server",
    "2026-11-27T17:51:00+0900 mx postfix-out/smtpd[3]: warning: unknown[198.51.100.4]: SASL CRAM-MD5 authentication failed:",
    "<20>1 2026-11-27T17:51:00.123Z mx postfix/smtpd 1234 - [a b=\"c\\]\"] warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: (reason unavailable), sasl_username=(unavailable)",
    "<22>Nov 26 10:00:00 mx postfix/smtpd[1]: warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: generic failure",
    r#"{"__REALTIME_TIMESTAMP":"1795771860123456","SYSLOG_IDENTIFIER":"postfix/smtpd","_PID":"1","MESSAGE":"warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6"}"#,
    r#"{"__REALTIME_TIMESTAMP":"1795771860123456","SYSLOG_IDENTIFIER":"postfix/smtpd","MESSAGE":[119,97,114,110,105,110,103,58,32]}"#,
    "Nov 26 10:00:00 mx postfix/qmgr[2]: 4ABC123: from=<a@example.org>, size=1234, nrcpt=1 (queue active)",
    "Nov 26 10:00:00 mx postfix/smtpd[1]: disconnect from unknown[203.0.113.7] ehlo=1 auth=0/1 quit=1 commands=2/3",
];

/// Parses `line` with a fresh parser and a reused one and checks the invariants that hold
/// for any input.
fn check(line: &[u8]) -> Parsed<'_> {
    let mut warm = parser();
    let first = warm.parse(line);
    assert_eq!(warm.parse(line), first, "same parser, same input");
    for seed in SEEDS {
        // Fill the clock cache with other lines; the answer must not change.
        let _ = warm.parse(seed.as_bytes());
    }
    assert_eq!(warm.parse(line), first, "warm cache");
    assert_eq!(parser().parse(line), first, "fresh parser");
    if let Parsed::Event(event) = &first {
        assert!(event.mechanism.len() <= CAP);
        assert!(
            event
                .username
                .as_ref()
                .is_none_or(|u| u.len() <= CAP && !u.is_empty())
        );
        assert!(event.service.len() <= CAP);
        if event.service.len() < CAP {
            assert!(event.service.ends_with("/smtpd"), "{}", event.service);
        }
        if let IpAddr::V6(v6) = event.addr {
            assert!(
                v6.to_ipv4_mapped().is_none(),
                "mapped address not canonical"
            );
        }
    }
    first
}

/// A mutation of a seed line: overwrite, insert or delete a byte at a position.
#[derive(Debug, Clone)]
enum Edit {
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop_oneof![
        any::<u8>(),
        Just(0u8),
        Just(b' '),
        Just(b':'),
        Just(b'['),
        Just(b']'),
        Just(b'\r')
    ];
    prop_oneof![
        (any::<usize>(), byte.clone()).prop_map(|(at, b)| Edit::Set(at, b)),
        (any::<usize>(), byte).prop_map(|(at, b)| Edit::Insert(at, b)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Truncate),
    ]
}

fn apply(seed: &str, edits: &[Edit]) -> Vec<u8> {
    let mut line = seed.as_bytes().to_vec();
    for edit in edits {
        let len = line.len();
        match *edit {
            Edit::Set(at, b) if len > 0 => line[at % len] = b,
            Edit::Insert(at, b) => line.insert(at % (len + 1), b),
            Edit::Delete(at) if len > 0 => {
                line.remove(at % len);
            }
            Edit::Truncate(at) => line.truncate(at % (len + 1)),
            _ => {}
        }
    }
    line
}

/// Attacker-chosen text built from the pieces that could confuse a parser.
fn attacker_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("[6.6.6.6]".to_string()),
        Just("unknown[6.6.6.6]:".to_string()),
        Just("unknown[2001:db8::666]:25:".to_string()),
        Just(" authentication failed: ".to_string()),
        Just(" authentication failed:".to_string()),
        Just(", sasl_username=".to_string()),
        Just("Connection lost to authentication server".to_string()),
        Just("generic failure".to_string()),
        Just("Invalid authentication mechanism".to_string()),
        Just(",sasl_username=".to_string()),
        Just("message repeated 3 times: [ ".to_string()),
        Just("]".to_string()),
        Just("warning: ".to_string()),
        Just(" SASL ".to_string()),
        Just(" ".to_string()),
        Just(",".to_string()),
        Just("\u{e9}".to_string()),
        "[A-Za-z0-9._@-]{1,6}",
    ];
    prop::collection::vec(piece, 0..10).prop_map(|pieces| pieces.concat())
}

/// Reasons a client earns (never server faults).
const CLIENT_REASONS: &[&str] = &[
    "",
    " ",
    " UGFzc3dvcmQ6",
    " authentication failure",
    " Password:",
    " (reason unavailable)",
    " Invalid base64 data in continued response",
];

/// Wraps a message in one of the header formats.
fn wrap(format: u8, tag: &str, message: &str) -> String {
    match format % 5 {
        0 => format!("Nov 26 10:00:00 mx {tag}[1]: {message}"),
        1 => format!("2026-11-26T10:00:00.5+09:00 mx {tag}[1]: {message}"),
        2 => format!("<22>1 2026-11-26T10:00:00Z mx {tag} 1 - - {message}"),
        3 => format!("<22>Nov 26 10:00:00 mx {tag}[1]: {message}"),
        _ => serde_json::json!({
            "__REALTIME_TIMESTAMP": "1795771860123456",
            "SYSLOG_IDENTIFIER": tag,
            "_UID": "107",
            "_COMM": "smtpd",
            "_EXE": "/usr/lib/postfix/sbin/smtpd",
            "_SYSTEMD_UNIT": "postfix@-.service",
            "MESSAGE": message,
        })
        .to_string(),
    }
}

/// A deterministic pseudo-random byte stream (xorshift), for large inputs that would be
/// slow to generate and shrink through proptest.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_bytes_never_panic(line in prop::collection::vec(any::<u8>(), 0..400)) {
        check(&line);
    }

    #[test]
    fn arbitrary_text_after_a_valid_header_never_panics(
        format in 0u8..5,
        tag in prop_oneof![Just("postfix/smtpd".to_string()), Just("postfix/qmgr".to_string()), "[a-z/]{0,12}"],
        message in "\\PC{0,200}",
    ) {
        check(wrap(format, &tag, &message).as_bytes());
    }

    #[test]
    fn mutated_valid_lines_never_panic(
        seed in 0..SEEDS.len(),
        edits in prop::collection::vec(edit(), 0..8),
    ) {
        check(&apply(SEEDS[seed], &edits));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// The client address comes only from the first token, and nothing the client types
    /// (mechanism, username) turns a failure into a server fault.
    #[test]
    fn attacker_text_cannot_move_or_excuse_a_failure(
        format in 0u8..5,
        mech in attacker_text(),
        user in prop::option::of(attacker_text()),
        reason in prop::sample::select(CLIENT_REASONS),
        port in prop::option::of(1u16..),
    ) {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let mut message = format!(
            "warning: unknown[203.0.113.7]{port}: SASL {mech} authentication failed:{reason}"
        );
        if let Some(user) = &user {
            message.push_str(", sasl_username=");
            message.push_str(user);
        }
        let line = wrap(format, "postfix/smtpd", &message);
        match check(line.as_bytes()) {
            Parsed::Event(event) => {
                prop_assert_eq!(event.addr, "203.0.113.7".parse::<IpAddr>().unwrap());
                prop_assert_eq!(event.kind, EventKind::AuthFailed);
            }
            other => prop_assert!(false, "{line:?} gave {other:?}"),
        }
    }

    /// Whatever surrounds it, an smtpd message holding `authentication failed` is an
    /// event, unparsed or untrusted: never silently irrelevant.
    #[test]
    fn smtpd_lines_mentioning_a_failure_are_never_irrelevant(
        format in 0u8..5,
        before in attacker_text(),
        after in attacker_text(),
        repeated in any::<bool>(),
    ) {
        let mut message = format!("{before}authentication failed{after}");
        if repeated {
            message = format!("message repeated 2 times: [ {message}]");
        }
        let line = wrap(format, "postfix/smtpd", &message);
        let parsed = check(line.as_bytes());
        prop_assert!(!matches!(parsed, Parsed::Irrelevant), "{line:?}");
    }

    /// rsyslog's repeat wrapper keeps the client and the kind of what it wraps.
    #[test]
    fn repeats_keep_client_and_kind(
        format in 0u8..5,
        mech in attacker_text(),
        copies in 1u32..1000,
    ) {
        let inner = format!("warning: unknown[203.0.113.7]: SASL {mech} authentication failed: x");
        let single = wrap(format, "postfix/smtpd", &inner);
        let plain = check(single.as_bytes());
        let line = wrap(
            format,
            "postfix/smtpd",
            &format!("message repeated {copies} times: [ {inner}]"),
        );
        match (plain, check(line.as_bytes())) {
            (Parsed::Event(one), Parsed::Event(many)) => {
                prop_assert_eq!(one.addr, many.addr);
                prop_assert_eq!(one.kind, many.kind);
                prop_assert_eq!(one.copies, 1);
                prop_assert_eq!(many.copies, copies);
            }
            (one, many) => prop_assert_eq!(
                std::mem::discriminant(&one),
                std::mem::discriminant(&many),
                "{:?}", line
            ),
        }
    }

    /// Look-alike text from any other program is never an event.
    #[test]
    fn other_programs_are_never_events(
        format in 0u8..5,
        tag in prop_oneof![
            Just("postfix/cleanup"), Just("postfix/qmgr"), Just("postfix/smtp"), Just("logger"),
            Just("smtpd"), Just("postfix/smtpd-x"), Just("root"),
        ],
        mech in attacker_text(),
        user in attacker_text(),
    ) {
        let message = format!(
            "warning: unknown[203.0.113.7]: SASL {mech} authentication failed: x, sasl_username={user}"
        );
        let line = wrap(format, tag, &message);
        prop_assert_eq!(check(line.as_bytes()), Parsed::Irrelevant);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(8))]

    /// 1 MB lines: in the username, in the mechanism, as noise, or as a long run of one byte.
    #[test]
    fn megabyte_lines_never_panic(seed in any::<u64>(), shape in 0u8..4, byte in any::<u8>()) {
        const MB: usize = 1 << 20;
        let head = "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: unknown[203.0.113.7]: SASL ";
        let line = match shape {
            0 => {
                let mut line = format!("{head}LOGIN authentication failed: x, sasl_username=").into_bytes();
                line.extend(noise(seed, MB));
                line
            }
            1 => {
                let mut line = head.as_bytes().to_vec();
                line.extend(std::iter::repeat_n(byte, MB));
                line.extend_from_slice(b" authentication failed: generic failure");
                line
            }
            2 => noise(seed, MB),
            _ => std::iter::repeat_n(byte, MB).collect(),
        };
        let parsed = check(&line);
        if shape == 0 {
            let Parsed::Event(event) = parsed else {
                panic!("a failure with a huge username is still a failure");
            };
            prop_assert!(event.username.is_none_or(|u| u.len() <= CAP));
        }
    }
}

/// The year a brute-force search picks: the latest year whose instant is not more than
/// the allowed clock skew after the reference.
fn brute_force(reference: DateTime<Utc>, zone: FixedOffset, s: SyslogStamp) -> Option<i64> {
    let local_year = reference.with_timezone(&zone).year();
    (local_year - 9..=local_year + 1).rev().find_map(|year| {
        let date = NaiveDate::from_ymd_opt(year, s.month.into(), s.day.into())?;
        let naive = date.and_hms_opt(s.hour.into(), s.minute.into(), 0)?;
        let t = zone.from_local_datetime(&naive).single()?.timestamp() + i64::from(s.second);
        (t <= reference.timestamp() + CLOCK_SKEW).then_some(t)
    })
}

fn stamp() -> impl Strategy<Value = SyslogStamp> {
    (1u8..=12, 1u8..=31, 0u8..24, 0u8..60, 0u8..=60).prop_map(
        |(month, day, hour, minute, second)| SyslogStamp {
            month,
            day,
            hour,
            minute,
            second,
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// The cached clock agrees with a brute-force search, for any zone and reference, in
    /// whatever order stamps arrive.
    #[test]
    fn yearless_clock_matches_brute_force(
        reference_secs in 946_684_800i64..4_102_444_800,
        offset_minutes in -14 * 60i32..=14 * 60,
        stamps in prop::collection::vec(stamp(), 1..20),
    ) {
        let reference = DateTime::from_timestamp(reference_secs, 0).unwrap();
        let zone = FixedOffset::east_opt(offset_minutes * 60).unwrap();
        let mut warm = YearlessClock::new(reference, zone);
        for s in stamps {
            let want = brute_force(reference, zone, s);
            prop_assert_eq!(warm.resolve(s), want, "{:?}", s);
            prop_assert_eq!(YearlessClock::new(reference, zone).resolve(s), want, "{:?}", s);
        }
    }
}
