//! Table-driven tests of [`super::parse_line`]: every case is named after what it proves.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

use chrono::{DateTime, FixedOffset, Utc};

use super::super::{Event, EventKind, JournalTrust, LineParser, Parsed, TrustRule};
use super::FIELD_CAP;

const REFERENCE: &str = "2026-11-27T12:00:00Z";

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The uid Postfix runs as in the test journal entries and fixtures.
pub(crate) const POSTFIX_UID: u32 = 107;

static TRUSTED_COMMANDS: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| vec!["smtpd".to_string()]);
static TRUSTED_EXECUTABLES: std::sync::LazyLock<Vec<String>> =
    std::sync::LazyLock::new(|| vec!["/usr/lib/postfix/sbin/smtpd".to_string()]);
static TRUSTED_UNITS: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    vec![
        "postfix.service".to_string(),
        "postfix@*.service".to_string(),
    ]
});

/// The default trust rule, with Postfix's uid as [`POSTFIX_UID`].
fn trust() -> JournalTrust<'static> {
    JournalTrust {
        rule: Some(TrustRule {
            commands: &TRUSTED_COMMANDS,
            executables: &TRUSTED_EXECUTABLES,
            uids: &[POSTFIX_UID],
            units: &TRUSTED_UNITS,
        }),
    }
}

fn parser() -> LineParser<'static, FixedOffset> {
    LineParser::new(utc(REFERENCE), FixedOffset::east_opt(0).unwrap()).with_trust(trust())
}

/// What a case expects; `Event` fields that are `None` here are not checked.
#[derive(Debug, Clone)]
enum Want {
    Event {
        time: Option<&'static str>,
        addr: &'static str,
        kind: EventKind,
        mechanism: Option<&'static str>,
        username: Option<Option<&'static str>>,
        service: Option<&'static str>,
    },
    Irrelevant,
    Unparsed,
    Untrusted,
}

/// An `AuthFailed` from `addr`.
fn failed(addr: &'static str) -> Want {
    Want::Event {
        time: None,
        addr,
        kind: EventKind::AuthFailed,
        mechanism: None,
        username: None,
        service: None,
    }
}

/// A `ServerFault` from `addr`.
fn fault(addr: &'static str) -> Want {
    match failed(addr) {
        Want::Event {
            time,
            addr,
            mechanism,
            username,
            service,
            ..
        } => Want::Event {
            time,
            addr,
            kind: EventKind::ServerFault,
            mechanism,
            username,
            service,
        },
        other => other,
    }
}

impl Want {
    fn at(mut self, when: &'static str) -> Self {
        if let Want::Event { time, .. } = &mut self {
            *time = Some(when);
        }
        self
    }
    fn mech(mut self, want: &'static str) -> Self {
        if let Want::Event { mechanism, .. } = &mut self {
            *mechanism = Some(want);
        }
        self
    }
    fn user(mut self, want: Option<&'static str>) -> Self {
        if let Want::Event { username, .. } = &mut self {
            *username = Some(want);
        }
        self
    }
    fn service(mut self, want: &'static str) -> Self {
        if let Want::Event { service, .. } = &mut self {
            *service = Some(want);
        }
        self
    }
}

fn check(name: &str, line: &[u8], want: &Want) {
    let mut parser = parser();
    let got = parser.parse(line);
    match (want, &got) {
        (Want::Irrelevant, Parsed::Irrelevant)
        | (Want::Unparsed, Parsed::Unparsed(_))
        | (Want::Untrusted, Parsed::Untrusted(_)) => {}
        (
            Want::Event {
                time,
                addr,
                kind,
                mechanism,
                username,
                service,
            },
            Parsed::Event(event),
        ) => {
            assert_eq!(event.addr, addr.parse::<IpAddr>().unwrap(), "{name}: addr");
            assert_eq!(event.kind, *kind, "{name}: kind");
            if let Some(time) = time {
                assert_eq!(event.time, utc(time).timestamp(), "{name}: time");
            }
            if let Some(mechanism) = mechanism {
                assert_eq!(event.mechanism, *mechanism, "{name}: mechanism");
            }
            if let Some(username) = username {
                assert_eq!(event.username.as_deref(), *username, "{name}: username");
            }
            if let Some(service) = service {
                assert_eq!(event.service, *service, "{name}: service");
            }
        }
        _ => panic!("{name}: want {want:?}, got {got:?}"),
    }
    // Same input, same output, also through a parser whose cache is warm.
    assert_eq!(parser.parse(line), got, "{name}: unstable");
}

fn run(cases: &[(&str, &str, Want)]) {
    for (name, line, want) in cases {
        check(name, line.as_bytes(), want);
    }
}

const FAIL: &str = "warning: unknown[203.0.113.7]: SASL LOGIN authentication failed: UGFzc3dvcmQ6";

#[test]
fn header_formats() {
    let t = "2026-11-27T08:51:00Z";
    let cases: Vec<(&str, String, Want)> = vec![
        (
            "traditional_space_padded_day",
            format!("Oct  7 03:36:21 mx postfix/smtpd[30764]: {FAIL}"),
            failed("203.0.113.7").at("2026-10-07T03:36:21Z"),
        ),
        (
            "traditional_zero_padded_day",
            format!("Nov 07 03:36:21 mx postfix/smtpd[30764]: {FAIL}"),
            failed("203.0.113.7").at("2026-11-07T03:36:21Z"),
        ),
        (
            "traditional_tag_without_pid",
            format!("Nov 07 03:36:21 mx postfix/smtpd: {FAIL}"),
            failed("203.0.113.7").service("postfix/smtpd"),
        ),
        (
            "rfc3339_colon_offset_micro_fraction",
            format!("2026-11-27T17:51:00.123456+09:00 mx postfix/smtpd[1]: {FAIL}"),
            failed("203.0.113.7").at(t),
        ),
        (
            "rfc3339_compact_offset_short_iso",
            format!("2026-11-27T17:51:00+0900 mx postfix/smtpd[1]: {FAIL}"),
            failed("203.0.113.7").at(t),
        ),
        (
            "rfc3339_zulu_fraction_truncated",
            format!("2026-11-27T08:51:00.999Z mx postfix/smtpd[1]: {FAIL}"),
            failed("203.0.113.7").at(t),
        ),
        (
            "rfc3339_negative_offset",
            format!("2026-11-27T03:51:00-05:00 mx postfix/smtpd[1]: {FAIL}"),
            failed("203.0.113.7").at(t),
        ),
        (
            "rfc3339_ignores_reference_year",
            format!("2027-11-27T08:51:00Z mx postfix/smtpd[1]: {FAIL}"),
            failed("203.0.113.7").at("2027-11-27T08:51:00Z"),
        ),
        (
            "rfc5424_nil_structured_data",
            format!("<20>1 2026-11-27T17:51:00.123+09:00 mx postfix/smtpd 1234 - - {FAIL}"),
            failed("203.0.113.7").at(t).service("postfix/smtpd"),
        ),
        (
            "rfc5424_structured_data_blocks_with_escapes",
            format!(
                r#"<20>1 2026-11-27T17:51:00+09:00 mx postfix/smtpd 1234 ID47 [origin ip="1.2.3.4" x="a\]b\"c"][meta seq="1"] {FAIL}"#
            ),
            failed("203.0.113.7").at(t),
        ),
        (
            "rfc5424_bom_before_message",
            format!("<20>1 2026-11-27T17:51:00Z mx postfix/submission/smtpd 77 - - \u{feff}{FAIL}"),
            failed("203.0.113.7")
                .at("2026-11-27T17:51:00Z")
                .service("postfix/submission/smtpd"),
        ),
        (
            "rfc5424_nil_timestamp_failure_is_unparsed",
            format!("<20>1 - mx postfix/smtpd 1234 - - {FAIL}"),
            Want::Unparsed,
        ),
        (
            "rfc5424_nil_app_name_is_irrelevant",
            format!("<20>1 2026-11-27T17:51:00Z mx - 1234 - - {FAIL}"),
            Want::Irrelevant,
        ),
        (
            "rfc5424_other_program_is_irrelevant",
            "<22>1 2026-11-27T17:51:00Z mx postfix/qmgr 99 - - 4ABC: removed".to_string(),
            Want::Irrelevant,
        ),
        (
            "rfc5424_without_message_is_irrelevant",
            "<22>1 2026-11-27T17:51:00Z mx postfix/smtpd 99 - -".to_string(),
            Want::Irrelevant,
        ),
        (
            "rfc5424_unterminated_structured_data_is_unparsed",
            format!("<20>1 2026-11-27T17:51:00Z mx postfix/smtpd 1 - [a x=\"]\" {FAIL}"),
            Want::Unparsed,
        ),
        (
            "rfc5424_stamp_with_trailing_junk_is_unparsed",
            format!("<20>1 2026-11-27T17:51:00Zjunk mx postfix/smtpd 1 - - {FAIL}"),
            Want::Unparsed,
        ),
        (
            "priority_before_traditional",
            format!("<22>Nov 26 10:00:00 mx postfix/smtpd[1]: {FAIL}"),
            failed("203.0.113.7").at("2026-11-26T10:00:00Z"),
        ),
        (
            "priority_before_rfc3339",
            format!("<22>2026-11-27T08:51:00Z mx postfix/smtpd[1]: {FAIL}"),
            failed("203.0.113.7").at(t),
        ),
        (
            "priority_out_of_range_is_unparsed",
            format!("<192>1 2026-11-27T08:51:00Z mx postfix/smtpd 1 - - {FAIL}"),
            Want::Unparsed,
        ),
        (
            "trailing_carriage_return",
            format!("Nov 26 10:00:00 mx postfix/smtpd[1]: {FAIL}, sasl_username=bob\r"),
            failed("203.0.113.7").user(Some("bob")),
        ),
        (
            "trailing_newline_and_carriage_return",
            format!("Nov 26 10:00:00 mx postfix/smtpd[1]: {FAIL}\r\n"),
            failed("203.0.113.7").mech("LOGIN"),
        ),
        (
            "feb_30_failure_is_unparsed",
            format!("Feb 30 10:00:00 mx postfix/smtpd[1]: {FAIL}"),
            Want::Unparsed,
        ),
        (
            "feb_30_other_traffic_is_irrelevant",
            "Feb 30 10:00:00 mx postfix/qmgr[1]: 4ABC: removed".to_string(),
            Want::Irrelevant,
        ),
        (
            "rfc3339_apr_31_failure_is_unparsed",
            format!("2026-04-31T10:00:00Z mx postfix/smtpd[1]: {FAIL}"),
            Want::Unparsed,
        ),
    ];
    for (name, line, want) in &cases {
        check(name, line.as_bytes(), want);
    }
}

#[test]
fn year_resolution_through_the_parser() {
    let cases = [
        (
            "line_at_reference_keeps_year",
            "Nov 27 12:00:00",
            "2026-11-27T12:00:00Z",
        ),
        (
            "line_two_hours_ahead_keeps_year",
            "Nov 27 14:00:00",
            "2026-11-27T14:00:00Z",
        ),
        (
            "line_beyond_clock_skew_goes_to_previous_year",
            "Nov 28 14:00:01",
            "2025-11-28T14:00:01Z",
        ),
        (
            "december_line_goes_to_previous_year",
            "Dec 24 08:00:00",
            "2025-12-24T08:00:00Z",
        ),
        (
            "feb_29_goes_to_latest_leap_year",
            "Feb 29 08:00:00",
            "2024-02-29T08:00:00Z",
        ),
    ];
    for (name, stamp, want) in cases {
        let line = format!("{stamp} mx postfix/smtpd[1]: {FAIL}");
        check(name, line.as_bytes(), &failed("203.0.113.7").at(want));
    }
    // One file spanning New Year, read on Jan 2.
    let mut parser = LineParser::new(
        utc("2026-01-02T00:00:00Z"),
        FixedOffset::east_opt(0).unwrap(),
    );
    let mut times = Vec::new();
    for stamp in ["Dec 31 23:59:59", "Jan  1 00:00:01"] {
        let line = format!("{stamp} mx postfix/smtpd[1]: {FAIL}");
        match parser.parse(line.as_bytes()) {
            Parsed::Event(event) => times.push(event.time),
            other => panic!("{other:?}"),
        }
    }
    let want = [
        utc("2025-12-31T23:59:59Z").timestamp(),
        utc("2026-01-01T00:00:01Z").timestamp(),
    ];
    assert_eq!(times, want, "december_to_january_in_one_file");
    // A zone east of UTC: the stamp is local time.
    let mut tokyo = LineParser::new(utc(REFERENCE), FixedOffset::east_opt(9 * 3600).unwrap());
    let line = format!("Nov 27 17:51:00 mx postfix/smtpd[1]: {FAIL}");
    match tokyo.parse(line.as_bytes()) {
        Parsed::Event(event) => assert_eq!(event.time, utc("2026-11-27T08:51:00Z").timestamp()),
        other => panic!("yearless_stamp_in_zone: {other:?}"),
    }
}

#[test]
fn reasons_and_usernames() {
    let line = |tail: &str| {
        format!(
            "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: unknown[203.0.113.7]: SASL LOGIN authentication failed:{tail}"
        )
    };
    let cases: Vec<(&str, String, Want)> = vec![
        (
            "reason_base64_challenge",
            line(" UGFzc3dvcmQ6"),
            failed("203.0.113.7").mech("LOGIN").user(None),
        ),
        (
            "reason_authentication_failure",
            line(" authentication failure"),
            failed("203.0.113.7"),
        ),
        (
            "reason_password_prompt",
            line(" Password:"),
            failed("203.0.113.7"),
        ),
        (
            "reason_invalid_base64",
            line(" Invalid base64 data in continued response"),
            failed("203.0.113.7"),
        ),
        (
            "reason_unavailable",
            line(" (reason unavailable), sasl_username=alice"),
            failed("203.0.113.7").user(Some("alice")),
        ),
        (
            "reason_empty_no_space",
            line(""),
            failed("203.0.113.7").user(None),
        ),
        (
            "reason_empty_trailing_space",
            line(" "),
            failed("203.0.113.7").user(None),
        ),
        (
            "username_present",
            line(" UGFzc3dvcmQ6, sasl_username=alice@example.org"),
            failed("203.0.113.7").user(Some("alice@example.org")),
        ),
        (
            "username_unavailable_is_none",
            line(" authentication failure, sasl_username=(unavailable)"),
            failed("203.0.113.7").user(None),
        ),
        (
            "username_empty_is_none",
            line(" authentication failure, sasl_username="),
            failed("203.0.113.7").user(None),
        ),
        (
            "username_with_spaces_and_commas",
            line(" UGFzc3dvcmQ6, sasl_username=a b, c"),
            failed("203.0.113.7").user(Some("a b, c")),
        ),
        (
            "username_keeps_second_marker",
            line(" x, sasl_username=a, sasl_username=b"),
            failed("203.0.113.7").user(Some("a, sasl_username=b")),
        ),
    ];
    for (name, line, want) in &cases {
        check(name, line.as_bytes(), want);
    }
}

#[test]
fn tags() {
    let line = |tag: &str| format!("Nov 26 10:00:00 mx {tag}: {FAIL}");
    let cases: Vec<(&str, String, Want)> = vec![
        (
            "tag_postfix_smtpd",
            line("postfix/smtpd[1]"),
            failed("203.0.113.7").service("postfix/smtpd"),
        ),
        (
            "tag_submission",
            line("postfix/submission/smtpd[1]"),
            failed("203.0.113.7").service("postfix/submission/smtpd"),
        ),
        (
            "tag_smtps",
            line("postfix/smtps/smtpd[1]"),
            failed("203.0.113.7").service("postfix/smtps/smtpd"),
        ),
        (
            "tag_submissions",
            line("postfix/submissions/smtpd[1]"),
            failed("203.0.113.7").service("postfix/submissions/smtpd"),
        ),
        (
            "tag_multi_instance",
            line("postfix-out/smtpd[1]"),
            failed("203.0.113.7").service("postfix-out/smtpd"),
        ),
        (
            "lookalike_cleanup",
            line("postfix/cleanup[1]"),
            Want::Irrelevant,
        ),
        ("lookalike_qmgr", line("postfix/qmgr[1]"), Want::Irrelevant),
        (
            "lookalike_smtp_client",
            line("postfix/smtp[1]"),
            Want::Irrelevant,
        ),
        ("lookalike_logger", line("root"), Want::Irrelevant),
        ("lookalike_bare_smtpd", line("smtpd[1]"), Want::Irrelevant),
        (
            "lookalike_smtpd_prefix",
            line("postfix/smtpd-evil[1]"),
            Want::Irrelevant,
        ),
        (
            "lookalike_tag_without_colon",
            format!("Nov 26 10:00:00 mx postfix/smtpd[1] {FAIL}"),
            Want::Irrelevant,
        ),
        ("lookalike_empty_program", line("[1]"), Want::Irrelevant),
    ];
    for (name, line, want) in &cases {
        check(name, line.as_bytes(), want);
    }
}

#[test]
fn clients() {
    let line = |client: &str| {
        format!(
            "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: {client}: SASL PLAIN authentication failed: authentication failure"
        )
    };
    let cases: Vec<(&str, String, Want)> = vec![
        ("client_unknown_ipv4", line("unknown[198.51.100.4]"), failed("198.51.100.4")),
        ("client_hostname", line("mail.example-host.org[198.51.100.4]"), failed("198.51.100.4")),
        ("client_port_suffix", line("unknown[198.51.100.4]:51234"), failed("198.51.100.4")),
        ("client_ipv6_compressed", line("unknown[2001:db8::1]"), failed("2001:db8::1")),
        ("client_ipv6_with_port", line("unknown[2001:db8::1]:587"), failed("2001:db8::1")),
        ("client_ipv4_mapped_becomes_ipv4", line("unknown[::ffff:192.0.2.9]"), failed("192.0.2.9")),
        ("client_bad_octet_unparsed", line("unknown[999.1.2.3]"), Want::Unparsed),
        ("client_unknown_unknown_unparsed", line("unknown[unknown]"), Want::Unparsed),
        ("client_empty_address_unparsed", line("unknown[]"), Want::Unparsed),
        ("client_ipv6_prefix_unparsed", line("unknown[IPv6:2001:db8::1]"), Want::Unparsed),
        ("client_no_brackets_unparsed", line("198.51.100.4"), Want::Unparsed),
        ("client_empty_name_unparsed", line("[198.51.100.4]"), Want::Unparsed),
        ("client_bad_port_unparsed", line("unknown[198.51.100.4]:http"), Want::Unparsed),
        ("client_long_port_unparsed", line("unknown[198.51.100.4]:123456"), Want::Unparsed),
        ("client_trailing_junk_unparsed", line("unknown[198.51.100.4]x[6.6.6.6]"), Want::Unparsed),
        ("client_leading_zero_octet_unparsed", line("unknown[01.2.3.4]"), Want::Unparsed),
        (
            "client_token_without_colon_unparsed",
            "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: unknown[198.51.100.4] SASL PLAIN authentication failed: x".to_string(),
            Want::Unparsed,
        ),
    ];
    for (name, line, want) in &cases {
        check(name, line.as_bytes(), want);
    }
}

#[test]
fn server_faults() {
    let line = |mech: &str, tail: &str| {
        format!(
            "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: unknown[203.0.113.7]: SASL {mech} authentication failed: {tail}"
        )
    };
    let cases: Vec<(&str, String, Want)> = vec![
        (
            "fault_connection_lost",
            line("LOGIN", "Connection lost to authentication server"),
            fault("203.0.113.7").mech("LOGIN"),
        ),
        (
            "fault_cannot_connect",
            line("PLAIN", "Can't connect to authentication server"),
            fault("203.0.113.7"),
        ),
        (
            "fault_backend_error",
            line("PLAIN", "Authentication backend error"),
            fault("203.0.113.7"),
        ),
        (
            "fault_cyrus_generic",
            line("PLAIN", "generic failure"),
            fault("203.0.113.7"),
        ),
        (
            "fault_remote_unavailable",
            line("PLAIN", "remote authentication server unavailable"),
            fault("203.0.113.7"),
        ),
        (
            "fault_transient_with_detail",
            line("CRAM-MD5", "transient failure (try again)"),
            fault("203.0.113.7"),
        ),
        (
            "fault_no_memory",
            line("DIGEST-MD5", "no memory available"),
            fault("203.0.113.7"),
        ),
        (
            "fault_case_insensitive",
            line("login", "connection LOST to authentication server"),
            fault("203.0.113.7"),
        ),
        (
            "fault_with_username",
            line(
                "LOGIN",
                "Connection lost to authentication server, sasl_username=alice",
            ),
            fault("203.0.113.7").user(Some("alice")),
        ),
        (
            "fault_with_unavailable_username",
            line(
                "LOGIN",
                "Connection lost to authentication server, sasl_username=(unavailable)",
            ),
            fault("203.0.113.7").user(None),
        ),
        (
            "fault_text_not_at_start_counts",
            line("LOGIN", "x Connection lost to authentication server"),
            failed("203.0.113.7"),
        ),
        (
            "fault_text_in_username_counts",
            line(
                "LOGIN",
                ", sasl_username=Connection lost to authentication server",
            ),
            failed("203.0.113.7"),
        ),
        (
            "fault_after_two_spaces_counts",
            line("LOGIN", " Connection lost to authentication server"),
            failed("203.0.113.7"),
        ),
        (
            "fault_with_multi_token_mech_counts",
            line("LOGIN X", "Connection lost to authentication server"),
            failed("203.0.113.7").mech("LOGIN X"),
        ),
        (
            "fault_with_odd_mech_chars_counts",
            line("LOG/IN", "Connection lost to authentication server"),
            failed("203.0.113.7"),
        ),
        (
            "fault_with_empty_mech_counts",
            "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: unknown[203.0.113.7]: SASL  authentication failed: generic failure".to_string(),
            failed("203.0.113.7").mech(""),
        ),
    ];
    for (name, line, want) in &cases {
        check(name, line.as_bytes(), want);
    }
}

#[test]
fn hostile_client_text() {
    let line = |mech: &str, tail: &str| {
        format!(
            "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: unknown[203.0.113.7]: SASL {mech} authentication failed: {tail}"
        )
    };
    let cases: Vec<(&str, String, Want)> = vec![
        (
            "address_in_username_is_ignored",
            line(
                "LOGIN",
                "UGFzc3dvcmQ6, sasl_username=x unknown[6.6.6.6]: [6.6.6.6]",
            ),
            failed("203.0.113.7").user(Some("x unknown[6.6.6.6]: [6.6.6.6]")),
        ),
        (
            "address_in_mech_is_ignored",
            line("LOGIN [6.6.6.6] warning: unknown[6.6.6.6]:", "UGFzc3dvcmQ6"),
            failed("203.0.113.7").mech("LOGIN [6.6.6.6] warning: unknown[6.6.6.6]:"),
        ),
        (
            "fault_text_in_mech_cannot_make_fault",
            line(
                "X authentication failed: Connection lost to authentication server",
                "UGFzc3dvcmQ6",
            ),
            failed("203.0.113.7").mech("X"),
        ),
        (
            "fault_text_and_username_marker_in_mech_cannot_make_fault",
            line(
                "X authentication failed: Connection lost to authentication server, sasl_username=x",
                "authentication failure, sasl_username=real",
            ),
            failed("203.0.113.7").mech("X"),
        ),
        (
            "fault_text_in_username_cannot_make_fault",
            line(
                "LOGIN",
                "UGFzc3dvcmQ6, sasl_username=a authentication failed: Connection lost to authentication server",
            ),
            failed("203.0.113.7").user(Some(
                "a authentication failed: Connection lost to authentication server",
            )),
        ),
        (
            "real_fault_with_marker_in_username_fails_closed",
            line(
                "LOGIN",
                "Connection lost to authentication server, sasl_username=x authentication failed: y",
            ),
            failed("203.0.113.7"),
        ),
        (
            "comma_and_brackets_in_mech",
            line(
                "a,b [1.2.3.4], sasl_username=evil",
                "authentication failure, sasl_username=bob",
            ),
            failed("203.0.113.7")
                .mech("a,b [1.2.3.4], sasl_username=evil")
                .user(Some("bob")),
        ),
        (
            "marker_without_colon_in_mech_is_part_of_mech",
            line("X authentication failed", "UGFzc3dvcmQ6"),
            failed("203.0.113.7").mech("X authentication failed"),
        ),
    ];
    for (name, line, want) in &cases {
        check(name, line.as_bytes(), want);
    }
}

#[test]
fn other_traffic_is_irrelevant() {
    let cases: &[(&str, &str, Want)] = &[
        (
            "smtpd_connect",
            "Nov 26 10:00:00 mx postfix/smtpd[1]: connect from unknown[203.0.113.7]",
            Want::Irrelevant,
        ),
        (
            "smtpd_disconnect",
            "Nov 26 10:00:00 mx postfix/smtpd[1]: disconnect from unknown[203.0.113.7] ehlo=1 auth=0/1 quit=1 commands=2/3",
            Want::Irrelevant,
        ),
        (
            "smtpd_lost_connection_after_auth",
            "Nov 26 10:00:00 mx postfix/smtpd[1]: lost connection after AUTH from unknown[203.0.113.7]",
            Want::Irrelevant,
        ),
        (
            "smtpd_noqueue_reject",
            "Nov 26 10:00:00 mx postfix/smtpd[1]: NOQUEUE: reject: CONNECT from unknown[1.2.3.4]: 554 5.7.1 <unknown[1.2.3.4]>: Client host rejected: blocked",
            Want::Irrelevant,
        ),
        (
            "smtpd_sasl_aborted",
            "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: unknown[203.0.113.7]: SASL LOGIN authentication aborted",
            Want::Irrelevant,
        ),
        (
            "smtpd_other_warning",
            "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: hostname x.example does not resolve to address 203.0.113.7",
            Want::Irrelevant,
        ),
        (
            "smtpd_failed_text_not_after_sasl_is_unparsed_not_irrelevant",
            "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: unknown[203.0.113.7]: something authentication failed: x",
            Want::Unparsed,
        ),
        (
            "smtpd_info_not_warning_is_unparsed_not_irrelevant",
            "Nov 26 10:00:00 mx postfix/smtpd[1]: info: unknown[203.0.113.7]: SASL LOGIN authentication failed: x",
            Want::Unparsed,
        ),
        (
            "smtpd_truncated_before_marker",
            "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: unknown[203.0.113.7]: SASL LOGIN authentica",
            Want::Irrelevant,
        ),
        (
            "qmgr",
            "Nov 26 10:00:00 mx postfix/qmgr[2]: 4ABC123: from=<a@example.org>, size=1234, nrcpt=1 (queue active)",
            Want::Irrelevant,
        ),
        (
            "cleanup",
            "Nov 26 10:00:00 mx postfix/cleanup[3]: 4ABC123: message-id=<x@example.org>",
            Want::Irrelevant,
        ),
        (
            "message_without_tag",
            "Nov 26 10:00:00 mx -- MARK --",
            Want::Irrelevant,
        ),
        (
            "tag_without_message",
            "Nov 26 10:00:00 mx postfix/smtpd[1]:",
            Want::Irrelevant,
        ),
    ];
    run(cases);
}

#[test]
fn garbage_is_unparsed() {
    let cases: &[(&str, &[u8])] = &[
        ("empty_line", b""),
        ("carriage_return_only", b"\r"),
        ("spaces", b"   "),
        ("binary", b"\x00\x01\xff\xfe"),
        (
            "nul_inside_stamp",
            b"Nov 26 10:\x0000:00 mx postfix/smtpd[1]: x",
        ),
        ("word", b"hello world"),
        ("lowercase_month", b"nov 26 10:00:00 mx postfix/smtpd[1]: x"),
        ("truncated_stamp", b"Nov 26 10:00"),
        ("stamp_only", b"Nov 26 10:00:00"),
        ("stamp_and_host_only", b"Nov 26 10:00:00 mx"),
        ("missing_host", b"Nov 26 10:00:00  postfix/smtpd[1]: x"),
        ("number", b"12345"),
        (
            "rfc3339_with_truncated_offset",
            b"2026-11-27T17:51:00+09 mx postfix/smtpd[1]: x",
        ),
        ("lone_bracket", b"<"),
        ("priority_without_header", b"<13>hello"),
        ("rfc5424_truncated", b"<13>1 2026-11-27T17:51:00Z mx"),
        ("json_unterminated", b"{\"MESSAGE\":\"x"),
        ("json_not_an_object", b"{foo}"),
    ];
    for (name, line) in cases {
        check(name, line, &Want::Unparsed);
    }
}

/// The trusted fields journald sets for Postfix's smtpd (Debian).
const SMTPD_WRITER: &str = r#""_UID":"107","_GID":"114","_COMM":"smtpd","_EXE":"/usr/lib/postfix/sbin/smtpd","_CMDLINE":"smtpd -n smtp -t inet -u -c -o stress=","_SYSTEMD_UNIT":"postfix@-.service""#;

/// A journal JSON line as journalctl prints it for Postfix's smtpd.
fn journal(message: &str, identifier: &str) -> String {
    journal_from(message, identifier, SMTPD_WRITER)
}

/// A journal JSON line whose trusted fields are `writer`.
fn journal_from(message: &str, identifier: &str, writer: &str) -> String {
    format!(
        r#"{{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1795771860123456","__MONOTONIC_TIMESTAMP":"1","_PID":"1234",{writer},"SYSLOG_PID":"1234","SYSLOG_IDENTIFIER":"{identifier}","PRIORITY":"4","SYSLOG_FACILITY":"2","MESSAGE":{message},"_HOSTNAME":"mx"}}"#
    )
}

#[test]
fn journal_json() {
    let t = "2026-11-27T09:31:00Z";
    assert_eq!(utc(t).timestamp(), 1_795_771_860);
    let string = format!("\"{FAIL}, sasl_username=alice\"");
    let bytes: Vec<String> = format!("{FAIL}, sasl_username=al\u{e9}")
        .bytes()
        .map(|b| b.to_string())
        .collect();
    // "é" as Latin-1: not UTF-8, so journalctl prints the field as an array of bytes.
    let latin1: Vec<String> = FAIL
        .bytes()
        .chain(*b", sasl_username=al\xe9")
        .map(|b| b.to_string())
        .collect();
    let cases: Vec<(&str, String, Want)> = vec![
        (
            "journal_string_message",
            journal(&string, "postfix/smtpd"),
            failed("203.0.113.7")
                .at(t)
                .mech("LOGIN")
                .user(Some("alice"))
                .service("postfix/smtpd"),
        ),
        (
            "journal_byte_array_message_utf8",
            journal(
                &format!("[{}]", bytes.join(",")),
                "postfix/submission/smtpd",
            ),
            failed("203.0.113.7")
                .at(t)
                .user(Some("al\u{e9}"))
                .service("postfix/submission/smtpd"),
        ),
        (
            "journal_byte_array_message_latin1_is_lossy",
            journal(&format!("[{}]", latin1.join(",")), "postfix/smtpd"),
            failed("203.0.113.7").at(t).user(Some("al\u{fffd}")),
        ),
        (
            "journal_escaped_string",
            journal(
                &format!("\"{}, sasl_username=a\\\"b\\u00e9\"", FAIL),
                "postfix/smtpd",
            ),
            failed("203.0.113.7").user(Some("a\"b\u{e9}")),
        ),
        (
            "journal_repeated_field_takes_first",
            journal(&format!("[\"{FAIL}\",\"second\"]"), "postfix/smtpd"),
            failed("203.0.113.7"),
        ),
        (
            "journal_server_fault",
            journal(
                "\"warning: unknown[2001:db8::1]: SASL PLAIN authentication failed: generic failure\"",
                "postfix/smtpd",
            ),
            fault("2001:db8::1"),
        ),
        (
            "journal_other_program",
            journal(&string, "postfix/cleanup"),
            Want::Irrelevant,
        ),
        (
            "journal_logger",
            journal(&string, "logger"),
            Want::Irrelevant,
        ),
        (
            "journal_null_message",
            journal("null", "postfix/smtpd"),
            Want::Irrelevant,
        ),
        (
            "journal_other_traffic",
            journal("\"connect from unknown[203.0.113.7]\"", "postfix/smtpd"),
            Want::Irrelevant,
        ),
        (
            "journal_bad_client",
            journal(
                "\"warning: unknown[unknown]: SASL LOGIN authentication failed: x\"",
                "postfix/smtpd",
            ),
            Want::Unparsed,
        ),
        (
            "journal_missing_timestamp",
            format!(r#"{{"SYSLOG_IDENTIFIER":"postfix/smtpd","MESSAGE":"{FAIL}"}}"#),
            Want::Unparsed,
        ),
        (
            "journal_numeric_timestamp",
            format!(
                r#"{{"__REALTIME_TIMESTAMP":1795771860999999,{SMTPD_WRITER},"SYSLOG_IDENTIFIER":"postfix/smtpd","MESSAGE":"{FAIL}"}}"#
            ),
            failed("203.0.113.7").at(t),
        ),
        (
            "journal_invalid_json_candidate",
            format!(r#"{{"SYSLOG_IDENTIFIER":"postfix/smtpd","MESSAGE":"{FAIL}",}}"#),
            Want::Unparsed,
        ),
        (
            "journal_byte_out_of_range",
            journal("[300,1]", "postfix/smtpd"),
            Want::Unparsed,
        ),
        (
            "journal_not_an_object",
            "{ not json".to_string(),
            Want::Unparsed,
        ),
        (
            "journal_crlf",
            format!("{}\r", journal(&string, "postfix/smtpd")),
            failed("203.0.113.7"),
        ),
    ];
    for (name, line, want) in &cases {
        check(name, line.as_bytes(), want);
    }
}

#[test]
fn journal_entries_count_only_when_journald_says_smtpd_wrote_them() {
    let message = format!("\"{FAIL}\"");
    let writer = |uid: &str, comm: &str, exe: &str, unit: &str| {
        format!(r#""_UID":"{uid}","_COMM":"{comm}","_EXE":"{exe}","_SYSTEMD_UNIT":"{unit}""#)
    };
    let smtpd = "/usr/lib/postfix/sbin/smtpd";
    let cases: Vec<(&str, String, Want)> = vec![
        (
            "postfix_smtpd_in_its_unit",
            writer("107", "smtpd", smtpd, "postfix@-.service"),
            failed("203.0.113.7"),
        ),
        (
            "postfix_smtpd_single_instance_unit",
            writer("107", "smtpd", smtpd, "postfix.service"),
            failed("203.0.113.7"),
        ),
        (
            "logger_run_by_a_local_user",
            writer("1000", "logger", "/usr/bin/logger", "session-3.scope"),
            Want::Untrusted,
        ),
        (
            "logger_run_by_root_in_postfix_unit",
            writer("0", "logger", "/usr/bin/logger", "postfix@-.service"),
            Want::Untrusted,
        ),
        (
            "smtpd_binary_run_by_a_local_user",
            writer("1000", "smtpd", smtpd, "user@1000.service"),
            Want::Untrusted,
        ),
        (
            "smtpd_binary_outside_postfix_unit",
            writer("107", "smtpd", smtpd, "cron.service"),
            Want::Untrusted,
        ),
        (
            "a_copy_named_smtpd_elsewhere",
            writer("107", "smtpd", "/tmp/smtpd", "postfix@-.service"),
            Want::Untrusted,
        ),
        (
            "no_trusted_fields_at_all",
            r#""_HOSTNAME":"mx""#.to_string(),
            Want::Untrusted,
        ),
        (
            "missing_unit",
            r#""_UID":"107","_COMM":"smtpd","_EXE":"/usr/lib/postfix/sbin/smtpd""#.to_string(),
            Want::Untrusted,
        ),
    ];
    for (name, fields, want) in &cases {
        let line = journal_from(&message, "postfix/smtpd", fields);
        check(name, line.as_bytes(), want);
    }
    // Other traffic from an untrusted writer stays irrelevant, not untrusted.
    let other = journal_from(
        "\"connect from unknown[203.0.113.7]\"",
        "postfix/smtpd",
        &writer("1000", "logger", "/usr/bin/logger", "session-3.scope"),
    );
    check(
        "untrusted_other_traffic",
        other.as_bytes(),
        &Want::Irrelevant,
    );
    // Without any rule, nothing from the journal is trusted.
    let mut bare = LineParser::new(utc(REFERENCE), FixedOffset::east_opt(0).unwrap());
    assert!(matches!(
        bare.parse(journal(&message, "postfix/smtpd").as_bytes()),
        Parsed::Untrusted(_)
    ));
}

#[test]
fn shapes_from_other_projects_test_logs() {
    let cases: &[(&str, &str, Want)] = &[
        (
            "busybox_facility_priority_token",
            "May 30 22:00:35 gr mail.warn postfix/smtps/smtpd[27561]: warning: unknown[117.217.120.52]: SASL PLAIN authentication failed: (reason unavailable),sasl_username=gwe@gr.ht",
            failed("117.217.120.52")
                .at("2026-05-30T22:00:35Z")
                .mech("PLAIN")
                .user(Some("gwe@gr.ht"))
                .service("postfix/smtps/smtpd"),
        ),
        (
            "busybox_other_program",
            "May 30 22:00:35 gr mail.info postfix/qmgr[27561]: warning: unknown[117.217.120.52]: SASL PLAIN authentication failed: x",
            Want::Irrelevant,
        ),
        (
            "busybox_local_facility",
            "May 30 22:00:35 gr local0.notice postfix/smtpd[1]: warning: unknown[192.0.2.4]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
            failed("192.0.2.4"),
        ),
        (
            "solaris_message_id",
            "Jan 29 08:11:45 mail postfix/smtpd[10752]: [ID 197553 mail.info] warning: unknown[192.0.2.3]: SASL LOGIN authentication failed: Password:",
            failed("192.0.2.3"),
        ),
        (
            "bracketed_text_that_is_no_message_id",
            "Jan 29 08:11:45 mail postfix/smtpd[10752]: [ID x mail.info] warning: unknown[192.0.2.3]: SASL LOGIN authentication failed: Password:",
            Want::Unparsed,
        ),
        (
            "username_after_comma_without_space",
            "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: unknown[192.0.2.5]: SASL LOGIN authentication failed: (reason unavailable),sasl_username=alice",
            failed("192.0.2.5").user(Some("alice")),
        ),
        (
            "username_after_comma_and_space",
            "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: unknown[192.0.2.5]: SASL LOGIN authentication failed: (reason unavailable), sasl_username=alice",
            failed("192.0.2.5").user(Some("alice")),
        ),
        (
            "rfc3339_without_offset_is_local_time",
            "2022-01-18T04:35:25.199554 host postfix/smtps/smtpd[438363]: warning: unknown[192.0.2.6]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
            failed("192.0.2.6")
                .at("2022-01-18T04:35:25Z")
                .service("postfix/smtps/smtpd"),
        ),
        (
            "iso_stamp_with_a_space_separator_and_offset",
            "2026-11-26 10:00:00+01:00 host postfix/smtpd[1]: warning: unknown[192.0.2.6]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
            failed("192.0.2.6").at("2026-11-26T09:00:00Z"),
        ),
        (
            "iso_stamp_with_a_space_separator_local",
            "2026-11-26 10:00:00 host postfix/smtpd[1]: warning: unknown[192.0.2.6]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
            failed("192.0.2.6").at("2026-11-26T10:00:00Z"),
        ),
        (
            "iso_stamp_with_a_space_separator_and_a_bad_time",
            "2026-11-26 10:0:00 host postfix/smtpd[1]: warning: unknown[192.0.2.6]: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
            Want::Unparsed,
        ),
        (
            "invalid_mechanism_is_its_own_kind",
            "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: host.example[192.0.2.7]: SASL CRAM-MD5 authentication failed: Invalid authentication mechanism",
            Want::Event {
                time: None,
                addr: "192.0.2.7",
                kind: EventKind::InvalidMechanism,
                mechanism: Some("CRAM-MD5"),
                username: None,
                service: None,
            },
        ),
        (
            "invalid_mechanism_with_username_suffix",
            "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: unknown[192.0.2.7]: SASL LOGIN authentication failed: Invalid authentication mechanism, sasl_username=(unavailable)",
            Want::Event {
                time: None,
                addr: "192.0.2.7",
                kind: EventKind::InvalidMechanism,
                mechanism: Some("LOGIN"),
                username: Some(None),
                service: None,
            },
        ),
        (
            "invalid_mechanism_text_typed_into_the_mechanism_counts",
            "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: unknown[192.0.2.7]: SASL X authentication failed: Invalid authentication mechanism authentication failed: Invalid authentication mechanism",
            failed("192.0.2.7"),
        ),
        (
            "mechanism_lowercase_is_folded",
            "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: unknown[192.0.2.8]: SASL login authentication failed: Password:",
            failed("192.0.2.8").mech("LOGIN"),
        ),
        (
            "mechanism_mixed_case_is_folded",
            "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: unknown[192.0.2.8]: SASL Plain authentication failed:",
            failed("192.0.2.8").mech("PLAIN"),
        ),
        (
            "client_port_logging",
            "Nov 26 10:00:00 vm1 postfix/smtpd[990]: warning: unknown[192.0.2.1]:4317: SASL LOGIN authentication failed: UGFzc3dvcmQ6",
            failed("192.0.2.1"),
        ),
        (
            "connection_lost_is_not_counted",
            "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: unknown[192.0.2.9]: SASL LOGIN authentication failed: Connection lost to authentication server",
            fault("192.0.2.9"),
        ),
        (
            "authentication_aborted_is_not_a_failure",
            "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: unknown[192.0.2.9]: SASL LOGIN authentication aborted",
            Want::Irrelevant,
        ),
        (
            "older_postfix_without_a_reason",
            "Jan 19 11:43:43 remote postfix/smtpd[53889]: warning: unknown[192.168.1.72]: SASL DIGEST-MD5 authentication failed",
            failed("192.168.1.72").mech("DIGEST-MD5").user(None),
        ),
        (
            "older_postfix_without_a_reason_trailing_space",
            "Jan 19 11:43:43 remote postfix/smtpd[53889]: warning: hq2.example[192.0.2.9]: SASL PLAIN authentication failed ",
            failed("192.0.2.9").mech("PLAIN"),
        ),
        (
            "cyrus_detail_line_mentioning_a_failure_is_unparsed",
            "Jan 19 11:43:43 remote postfix/smtpd[53889]: error: validate response: authentication failed for user=lcg (method=DIGEST-MD5)",
            Want::Unparsed,
        ),
        (
            "unknown_shape_mentioning_a_failure_is_unparsed",
            "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: unknown[192.0.2.9]: SASL LOGIN authentication failed for bob",
            Want::Unparsed,
        ),
    ];
    run(cases);
}

#[test]
fn rsyslog_repeats_stand_for_n_more_copies() {
    let line = b"Apr 28 16:30:00 mx postfix/smtpd[3898]: message repeated 2 times: [ warning: host.example[111.111.111.111]: SASL CRAM-MD5 authentication failed: authentication failure]";
    let mut parser = parser();
    let Parsed::Event(event) = parser.parse(line) else {
        panic!("not an event");
    };
    assert_eq!(event.copies, 2);
    assert_eq!(event.addr, "111.111.111.111".parse::<IpAddr>().unwrap());
    assert_eq!(event.kind, EventKind::AuthFailed);
    assert_eq!(event.mechanism, "CRAM-MD5");
    let cases: &[(&str, &str, Want)] = &[
        (
            "repeat_without_leading_space",
            "Apr 28 16:30:00 mx postfix/smtpd[3898]: message repeated 3 times: [warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: x]",
            failed("192.0.2.1"),
        ),
        (
            "repeat_with_trailing_space",
            "Apr 28 16:30:00 mx postfix/smtpd[3898]: message repeated 3 times: [ warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: x] ",
            failed("192.0.2.1"),
        ),
        (
            "repeat_of_other_traffic",
            "Apr 28 16:30:00 mx postfix/smtpd[3898]: message repeated 3 times: [ connect from unknown[192.0.2.1]]",
            Want::Irrelevant,
        ),
        (
            "repeat_of_a_fault",
            "Apr 28 16:30:00 mx postfix/smtpd[3898]: message repeated 3 times: [ warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: Connection lost to authentication server]",
            fault("192.0.2.1"),
        ),
        (
            "repeat_with_a_bad_count",
            "Apr 28 16:30:00 mx postfix/smtpd[3898]: message repeated x times: [ warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: x]",
            Want::Unparsed,
        ),
        (
            "repeat_with_count_zero",
            "Apr 28 16:30:00 mx postfix/smtpd[3898]: message repeated 0 times: [ warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: x]",
            Want::Unparsed,
        ),
        (
            "repeat_from_another_program",
            "Apr 28 16:30:00 mx postfix/cleanup[3898]: message repeated 2 times: [ warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: x]",
            Want::Irrelevant,
        ),
    ];
    run(cases);
    let mut fresh =
        super::super::LineParser::new(utc(REFERENCE), FixedOffset::east_opt(0).unwrap());
    let Parsed::Event(event) = fresh.parse(cases[0].1.as_bytes()) else {
        panic!("not an event");
    };
    assert_eq!(event.copies, 3);
}

#[test]
fn journal_valid_utf8_fields_are_borrowed() {
    let line = journal(&format!("\"{FAIL}, sasl_username=alice\""), "postfix/smtpd");
    let mut parser = parser();
    let Parsed::Event(event) = parser.parse(line.as_bytes()) else {
        panic!("not an event");
    };
    assert!(matches!(event.mechanism, Cow::Borrowed(_)));
    assert!(matches!(event.username, Some(Cow::Borrowed(_))));
    assert!(matches!(event.service, Cow::Borrowed(_)));
}

#[test]
fn field_caps_and_encoding() {
    let long = "u".repeat(1000);
    let line = format!("Nov 26 10:00:00 mx postfix/smtpd[1]: {FAIL}, sasl_username={long}");
    let mut parser = parser();
    let Parsed::Event(event) = parser.parse(line.as_bytes()) else {
        panic!("username_capped: not an event");
    };
    assert_eq!(
        event.username.as_deref().map(str::len),
        Some(FIELD_CAP),
        "username_capped"
    );
    assert!(
        matches!(event.username, Some(Cow::Borrowed(_))),
        "username_capped_borrowed"
    );

    // 255 ASCII bytes then a 2-byte char: the cut falls inside it, so it is dropped.
    let user = format!("{}\u{e9}xyz", "a".repeat(255));
    let line = format!("Nov 26 10:00:00 mx postfix/smtpd[1]: {FAIL}, sasl_username={user}");
    let Parsed::Event(event) = parser.parse(line.as_bytes()) else {
        panic!("cap_at_char_boundary: not an event");
    };
    assert_eq!(
        event.username.as_deref(),
        Some("a".repeat(255).as_str()),
        "cap_at_char_boundary"
    );

    let mech = format!("M{}", " x".repeat(300));
    let line = format!(
        "Nov 26 10:00:00 mx postfix/smtpd[1]: warning: unknown[203.0.113.7]: SASL {mech} authentication failed: x"
    );
    let Parsed::Event(event) = parser.parse(line.as_bytes()) else {
        panic!("mechanism_capped: not an event");
    };
    assert_eq!(event.mechanism.len(), FIELD_CAP, "mechanism_capped");

    let mut line =
        format!("Nov 26 10:00:00 mx postfix/smtpd[1]: {FAIL}, sasl_username=a").into_bytes();
    line.extend_from_slice(b"\xff\xfeb\x00c");
    let Parsed::Event(event) = parser.parse(&line) else {
        panic!("invalid_utf8_username_is_lossy: not an event");
    };
    assert_eq!(
        event.username.as_deref(),
        Some("a\u{fffd}\u{fffd}b\u{0}c"),
        "invalid_utf8_username_is_lossy"
    );

    let mut line =
        format!("Nov 26 10:00:00 mx postfix/smtpd[1]: {FAIL}, sasl_username=").into_bytes();
    line.extend(std::iter::repeat_n(0xffu8, 1000));
    let Parsed::Event(event) = parser.parse(&line) else {
        panic!("invalid_utf8_capped: not an event");
    };
    let user = event.username.unwrap();
    assert!(
        user.len() <= FIELD_CAP && user.chars().all(|c| c == '\u{fffd}'),
        "invalid_utf8_capped"
    );
    assert_eq!(user.len(), 255, "invalid_utf8_capped_to_whole_chars");
}

#[test]
fn capped_text_matches_lossy_then_cut() {
    // Against the obvious (slow) definition, around the cap with multibyte and bad bytes.
    let pieces: [&[u8]; 6] = [
        b"a",
        "\u{e9}".as_bytes(),
        "\u{1f600}".as_bytes(),
        b"\xff",
        b"\xf0\x9f",
        b"\xe2\x82",
    ];
    for prefix in 250..=258 {
        for (i, a) in pieces.iter().enumerate() {
            for b in &pieces {
                let mut bytes = vec![b'x'; prefix];
                bytes.extend_from_slice(a);
                bytes.extend_from_slice(b);
                bytes.extend_from_slice(pieces[(i + 1) % pieces.len()]);
                let lossy = String::from_utf8_lossy(&bytes);
                let mut cut = FIELD_CAP.min(lossy.len());
                while !lossy.is_char_boundary(cut) {
                    cut -= 1;
                }
                assert_eq!(super::capped_text(&bytes), &lossy[..cut], "{bytes:?}");
            }
        }
    }
}

/// The summary an `.expected.json` fixture file holds.
fn summarize(text: &[u8]) -> serde_json::Value {
    let mut parser = parser();
    let mut lines = 0u64;
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    let mut server_faults = 0u64;
    let mut invalid_mechanism = 0u64;
    let mut unparsed = 0u64;
    let mut untrusted = 0u64;
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    for line in body.split(|&b| b == b'\n') {
        lines += 1;
        match parser.parse(line) {
            Parsed::Event(Event {
                kind: EventKind::AuthFailed,
                addr,
                copies,
                ..
            }) => *failures.entry(addr.to_string()).or_default() += u64::from(copies),
            Parsed::Event(Event {
                kind: EventKind::InvalidMechanism,
                copies,
                ..
            }) => invalid_mechanism += u64::from(copies),
            Parsed::Event(Event { copies, .. }) => server_faults += u64::from(copies),
            Parsed::Irrelevant => {}
            Parsed::Unparsed(_) => unparsed += 1,
            Parsed::Untrusted(_) => untrusted += 1,
        }
    }
    serde_json::json!({
        "lines": lines,
        "failures": failures,
        "server_faults": server_faults,
        "invalid_mechanism": invalid_mechanism,
        "unparsed": unparsed,
        "untrusted": untrusted,
    })
}

#[test]
fn fixtures_match_expected() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/lines");
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.extension().and_then(|e| e.to_str()) != Some("log") {
            continue;
        }
        let expected_path = path.with_extension("expected.json");
        let expected: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&expected_path).unwrap()).unwrap();
        let got = summarize(&std::fs::read(&path).unwrap());
        assert_eq!(got, expected, "{}", path.display());
        checked += 1;
    }
    // Every fixture, by name, is listed in tests/ingest.rs's
    // every_fixture_yields_its_expected_counts; here their number.
    assert_eq!(checked, 15, "fixtures checked in {}", dir.display());
}

/// Reject lines as Postfix logs them for saslguard's default `reject_text`.
const MARKER: &str = "Too many failed authentication attempts";

fn reject_parser() -> LineParser<'static, FixedOffset> {
    parser().with_rejects(super::super::Rejects {
        marker: Some(MARKER),
    })
}

fn parse_reject(line: &str) -> Option<(EventKind, String, String)> {
    match reject_parser().parse(line.as_bytes()) {
        Parsed::Event(e) => Some((e.kind, e.addr.to_string(), e.mechanism.into_owned())),
        _ => None,
    }
}

#[test]
fn saslguards_rejects_are_recognised_and_nothing_else() {
    let connect = "Nov 27 11:00:00 mx postfix/smtpd[1]: NOQUEUE: reject: CONNECT from \
        unknown[203.0.113.7]: 554 5.7.1 <unknown[203.0.113.7]>: Client host rejected: \
        Too many failed authentication attempts; proto=SMTP";
    assert_eq!(
        parse_reject(connect),
        Some((EventKind::Rejected, "203.0.113.7".into(), "CONNECT".into()))
    );
    let rcpt = "2026-11-27T11:00:00Z mx postfix/submission/smtpd[1]: NOQUEUE: reject: RCPT \
        from mail.example[2001:db8::5]: 554 5.7.1 <mail.example[2001:db8::5]>: Client host \
        rejected: Too many failed authentication attempts; from=<a@b> to=<c@d> proto=ESMTP \
        helo=<x>";
    assert_eq!(
        parse_reject(rcpt),
        Some((EventKind::Rejected, "2001:db8::5".into(), "RCPT".into()))
    );
    // Without a marker (no postfix target configured), reject lines are other traffic.
    assert_eq!(parser().parse(connect.as_bytes()), Parsed::Irrelevant);
    for (name, line) in [
        (
            "another restriction's text",
            "Nov 27 11:00:00 mx postfix/smtpd[1]: NOQUEUE: reject: CONNECT from \
             unknown[203.0.113.7]: 554 5.7.1 <unknown[203.0.113.7]>: Client host rejected: \
             cannot find your hostname; proto=SMTP",
        ),
        (
            "the marker written by the client into from=<>",
            "Nov 27 11:00:00 mx postfix/smtpd[1]: NOQUEUE: reject: RCPT from \
             unknown[203.0.113.7]: 554 5.7.1 <x@y>: Recipient address rejected: no; \
             from=<Client host rejected: Too many failed authentication attempts> to=<x@y>",
        ),
        (
            "a different client inside the reply",
            "Nov 27 11:00:00 mx postfix/smtpd[1]: NOQUEUE: reject: CONNECT from \
             unknown[203.0.113.7]: 554 5.7.1 <unknown[198.51.100.1]>: Client host rejected: \
             Too many failed authentication attempts; proto=SMTP",
        ),
        (
            "not from smtpd",
            "Nov 27 11:00:00 mx postfix/cleanup[1]: NOQUEUE: reject: CONNECT from \
             unknown[203.0.113.7]: 554 5.7.1 <unknown[203.0.113.7]>: Client host rejected: \
             Too many failed authentication attempts; proto=SMTP",
        ),
        (
            "a reply without a code",
            "Nov 27 11:00:00 mx postfix/smtpd[1]: NOQUEUE: reject: CONNECT from \
             unknown[203.0.113.7]: <unknown[203.0.113.7]>: Client host rejected: \
             Too many failed authentication attempts; proto=SMTP",
        ),
    ] {
        assert_eq!(parse_reject(line), None, "{name}");
    }
    // A reject whose client is not an address is garbage, not a block at work.
    let bad = "Nov 27 11:00:00 mx postfix/smtpd[1]: NOQUEUE: reject: CONNECT from \
        unknown[999.1.1.1]: 554 5.7.1 <unknown[999.1.1.1]>: Client host rejected: \
        Too many failed authentication attempts; proto=SMTP";
    assert!(matches!(
        reject_parser().parse(bad.as_bytes()),
        Parsed::Unparsed(_)
    ));
    // The same in journal JSON.
    let message = "NOQUEUE: reject: CONNECT from unknown[203.0.113.7]: 554 5.7.1 \
        <unknown[203.0.113.7]>: Client host rejected: Too many failed authentication \
        attempts; proto=SMTP";
    let line = journal(&format!("\"{message}\""), "postfix/smtpd");
    assert_eq!(
        parse_reject(&line).map(|(kind, addr, _)| (kind, addr)),
        Some((EventKind::Rejected, "203.0.113.7".into()))
    );
}

#[test]
fn the_marker_is_what_postfix_logs_for_the_action() {
    use super::reject_marker;
    assert_eq!(
        reject_marker("554 5.7.1 Too many failed authentication attempts"),
        "Too many failed authentication attempts"
    );
    assert_eq!(reject_marker("421 Go away"), "Go away");
    assert_eq!(reject_marker("REJECT brute force"), "brute force");
    assert_eq!(reject_marker("REJECT"), "Access denied");
    assert_eq!(reject_marker("reject brute force"), "brute force");
    assert_eq!(reject_marker("554 5.7.1"), "Access denied");
}
