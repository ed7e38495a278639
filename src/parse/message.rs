//! Postfix message shapes: the log-line header (per-line format detection) and the one
//! message that matters, smtpd's
//!
//! ```text
//! warning: CLIENT: SASL MECH authentication failed: REASON[, sasl_username=USER]
//! ```
//!
//! # Speed
//!
//! Most lines of a mail log are other traffic. They are rejected after a fixed-position
//! check of the stamp, two `memchr` calls (host and tag) and a suffix compare on the tag
//! (`/smtpd`); smtpd lines then need `warning: ` and `SASL ` in place before one
//! `memmem` search for ` authentication failed:`. No allocation happens unless a failure
//! line has invalid UTF-8 (or comes from journal JSON that needs unescaping).
//!
//! # Trust
//!
//! MECH and USER are chosen by the client. The client address is taken only from the first
//! token after `warning: `, and a line is a [`EventKind::ServerFault`] only when nothing
//! the client wrote can have produced the fault text (see [`SERVER_FAULTS`]); anything
//! ambiguous counts against the client.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::LazyLock;

use chrono::TimeZone;
use memchr::memchr;
use memchr::memmem::Finder;

use super::timestamp::{
    LocalStamp, SyslogStamp, ZonedStamp, parse_rfc3339, parse_rfc3339_local, parse_syslog_stamp,
};
use super::{Event, EventKind, JournalTrust, Parsed, Rejects, YearlessClock, journal};

/// Longest mechanism, username or service kept in an [`Event`], in bytes (cut at a char
/// boundary). The text is attacker-chosen and could otherwise fill the database.
pub const FIELD_CAP: usize = 256;

/// Reason texts of server-side faults (Dovecot, Cyrus, Postfix's own client), compared
/// case-insensitively against the start of REASON. A line with one of these is recorded as
/// [`EventKind::ServerFault`] and never counted against the client, but only when MECH is a
/// plain mechanism name and the line holds a single ` authentication failed:`; otherwise
/// the client could have typed the text itself.
pub const SERVER_FAULTS: &[&str] = &[
    "Connection lost to authentication server",
    "Can't connect to authentication server",
    "Authentication backend error",
    "generic failure",
    "remote authentication server unavailable",
    "transient failure",
    "no memory available",
];

/// The reason Postfix gives when the client asked for a mechanism the server does not
/// offer; compared like [`SERVER_FAULTS`]. Recorded as [`EventKind::InvalidMechanism`].
pub const INVALID_MECHANISM: &str = "Invalid authentication mechanism";

/// The text that ends MECH; Postfix writes it exactly like this.
const FAILED: &[u8] = b" authentication failed:";
/// ... or, in older versions, this at the end of the line (no reason).
const FAILED_BARE: &[u8] = b" authentication failed";
/// The text that starts USER (Postfix 3.9+, 3.8.3, 3.7.8, ...), after `, ` or, as real
/// logs also show it, a bare `,` (`(reason unavailable),sasl_username=`).
const USERNAME: &[u8] = b"sasl_username=";
/// What marks a line as being about a SASL failure at all: an smtpd line holding it is
/// an event or unparsed, never irrelevant.
const FAILED_ANYWHERE: &[u8] = b"authentication failed";

static FAILED_FINDER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(FAILED));
static USERNAME_FINDER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(USERNAME));
static FAILED_ANYWHERE_FINDER: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new(FAILED_ANYWHERE));

/// Parses one log line (without its newline; a trailing `\r` is ignored) into a
/// [`Parsed`]. The format is detected per line: traditional syslog, RFC 3339, RFC 5424
/// (also an RFC 3164 line behind a `<PRI>`), or `journalctl -o json` (whose entries must
/// pass `trust`). Year-less and offset-less stamps are resolved through `clock`, only for
/// failure lines. Never panics.
pub fn parse_line<'a, Z: TimeZone>(
    line: &'a [u8],
    clock: &mut YearlessClock<Z>,
    rejects: Rejects<'_>,
    trust: JournalTrust<'_>,
) -> Parsed<'a> {
    let line = trim_line_end(line);
    let header = match line.first() {
        None => return Parsed::Unparsed("empty line"),
        Some(b'{') => return journal::parse(line, rejects, trust),
        Some(b'<') => priority_header(line),
        Some(b'0'..=b'9') => rfc3339_header(line),
        Some(b'A'..=b'Z') => syslog_header(line),
        Some(_) => Err("no recognisable header"),
    };
    let header = match header {
        Ok(header) => header,
        Err(reason) => return Parsed::Unparsed(reason),
    };
    let Some(service) = header.tag.filter(|tag| is_smtpd(tag)) else {
        return Parsed::Irrelevant;
    };
    match parse_failure(header.body, rejects) {
        Outcome::NotFailure => Parsed::Irrelevant,
        Outcome::Bad(reason) => Parsed::Unparsed(reason),
        Outcome::Failure(failure) => {
            let time = match header.stamp {
                Stamp::Yearless(stamp) => clock.resolve(stamp),
                Stamp::Zoned(stamp) => stamp.epoch(),
                Stamp::Local(stamp) => clock.resolve_local(stamp),
                Stamp::Missing => return Parsed::Unparsed("failure line without timestamp"),
            };
            match time {
                Some(time) => Parsed::Event(failure.into_event(time, service)),
                None => Parsed::Unparsed("invalid date in timestamp"),
            }
        }
    }
}

/// Whether a process tag (without `[pid]`) names an smtpd: `postfix/smtpd`,
/// `postfix/submission/smtpd`, `postfix-out/smtpd`, ...
pub fn is_smtpd(tag: &[u8]) -> bool {
    tag.ends_with(b"/smtpd")
}

/// Drops a trailing `\n` and `\r` (CRLF files, or a caller that kept the newline).
fn trim_line_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The time part of a header.
#[derive(Debug, Clone, Copy)]
enum Stamp {
    Yearless(SyslogStamp),
    Zoned(ZonedStamp),
    /// RFC 3339 without an offset: local time.
    Local(LocalStamp),
    /// RFC 5424 NILVALUE (`-`).
    Missing,
}

/// A recognised header: the stamp, the program name (`None` when the message has no
/// `tag:`) and the message.
struct Header<'a> {
    stamp: Stamp,
    tag: Option<&'a [u8]>,
    body: &'a [u8],
}

/// `Oct  7 03:36:21 host tag[pid]: msg`.
fn syslog_header(line: &[u8]) -> Result<Header<'_>, &'static str> {
    let (stamp, len) = parse_syslog_stamp(line).ok_or("malformed syslog timestamp")?;
    let rest = after_space(line, len).ok_or("malformed syslog timestamp")?;
    host_and_tag(Stamp::Yearless(stamp), rest)
}

/// `2026-11-27T17:51:00.123456+09:00 host tag[pid]: msg`, or the same without an offset
/// (`2022-01-18T04:35:25.199554 host ...`: local time), or with a space instead of the
/// `T` (`2026-11-27 17:51:00 host ...`, syslog-ng's and some templates' ISO form).
fn rfc3339_header(line: &[u8]) -> Result<Header<'_>, &'static str> {
    const BAD: &str = "malformed RFC 3339 timestamp";
    // The stamp is at most 32 bytes (`YYYY-MM-DDTHH:MM:SS.ffffff+HH:MM`, longer
    // fractions aside): read it from a copy with the separator as `T`.
    let mut head = [0u8; 48];
    let stamp_bytes = match line.get(10) {
        Some(b' ') => {
            let n = line.len().min(head.len());
            head[..n].copy_from_slice(&line[..n]);
            head[10] = b'T';
            &head[..n]
        }
        _ => line,
    };
    let (stamp, len) = match parse_rfc3339(stamp_bytes) {
        Some((stamp, len)) => (Stamp::Zoned(stamp), len),
        None => {
            let (stamp, len) = parse_rfc3339_local(stamp_bytes).ok_or(BAD)?;
            (Stamp::Local(stamp), len)
        }
    };
    if len >= stamp_bytes.len() && stamp_bytes.len() < line.len() {
        return Err(BAD);
    }
    let rest = after_space(line, len).ok_or(BAD)?;
    host_and_tag(stamp, rest)
}

/// `<PRI>1 ...` (RFC 5424) or `<PRI>` before a traditional or RFC 3339 header.
fn priority_header(line: &[u8]) -> Result<Header<'_>, &'static str> {
    const BAD: &str = "malformed syslog priority";
    let rest = line.strip_prefix(b"<").ok_or(BAD)?;
    let close = memchr(b'>', rest)
        .filter(|&n| (1..=3).contains(&n))
        .ok_or(BAD)?;
    let (digits, rest) = rest.split_at_checked(close).ok_or(BAD)?;
    let priority = digits.iter().try_fold(0u16, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u16::from(b - b'0'))
    });
    if priority.is_none_or(|p| p > 191) {
        return Err(BAD);
    }
    let rest = rest.strip_prefix(b">").ok_or(BAD)?;
    if let Some(rest) = rest.strip_prefix(b"1 ") {
        return rfc5424_header(rest);
    }
    match rest.first() {
        Some(b'0'..=b'9') => rfc3339_header(rest),
        Some(b'A'..=b'Z') => syslog_header(rest),
        _ => Err("no recognisable header after priority"),
    }
}

/// RFC 5424 after `<PRI>1 `: `TIMESTAMP HOST APP-NAME PROCID MSGID SD [MSG]`.
fn rfc5424_header(rest: &[u8]) -> Result<Header<'_>, &'static str> {
    const BAD: &str = "malformed RFC 5424 header";
    let (stamp_token, rest) = token(rest).ok_or(BAD)?;
    let stamp = if stamp_token == b"-" {
        Stamp::Missing
    } else {
        match parse_rfc3339(stamp_token) {
            Some((stamp, len)) if len == stamp_token.len() => Stamp::Zoned(stamp),
            _ => return Err("malformed RFC 3339 timestamp"),
        }
    };
    let (_host, rest) = token(rest).ok_or(BAD)?;
    let (app, rest) = token(rest).ok_or(BAD)?;
    let (_procid, rest) = token(rest).ok_or(BAD)?;
    let (_msgid, rest) = token(rest).ok_or(BAD)?;
    let sd = structured_data_len(rest).ok_or("malformed RFC 5424 structured data")?;
    let (_, rest) = rest.split_at_checked(sd).ok_or(BAD)?;
    let body = match rest.first() {
        None => rest,
        Some(b' ') => rest.get(1..).unwrap_or_default(),
        Some(_) => return Err("malformed RFC 5424 structured data"),
    };
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let tag = (app != b"-").then_some(app);
    Ok(Header { stamp, tag, body })
}

/// Length of RFC 5424 STRUCTURED-DATA at the start of `s`: `-` or one or more
/// `[id param="value"...]` elements (`\"`, `\\` and `\]` escapes inside values).
fn structured_data_len(s: &[u8]) -> Option<usize> {
    if s.first() == Some(&b'-') {
        return Some(1);
    }
    let mut at = 0;
    while s.get(at) == Some(&b'[') {
        at += 1;
        let mut quoted = false;
        loop {
            let byte = *s.get(at)?;
            at += 1;
            match (quoted, byte) {
                (true, b'\\') => at += 1,
                (true, b'"') => quoted = false,
                (false, b'"') => quoted = true,
                (false, b']') => break,
                _ => {}
            }
        }
    }
    (at > 0).then_some(at)
}

/// What follows `len` bytes of stamp and one space.
fn after_space(line: &[u8], len: usize) -> Option<&[u8]> {
    line.get(len..)?.strip_prefix(b" ")
}

/// A non-empty token ended by a space, and what follows the space.
fn token(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let space = memchr(b' ', s).filter(|&n| n > 0)?;
    let (token, rest) = s.split_at_checked(space)?;
    Some((token, rest.get(1..)?))
}

/// `host tag[pid]: msg` after a syslog or RFC 3339 stamp; also BusyBox syslogd's
/// `host facility.priority tag[pid]: msg` (its default format, e.g. on Alpine).
fn host_and_tag(stamp: Stamp, rest: &[u8]) -> Result<Header<'_>, &'static str> {
    let (_host, message) = token(rest).ok_or("missing host or message")?;
    let message = match token(message) {
        Some((word, after)) if is_facility_priority(word) => after,
        _ => message,
    };
    let (tag, body) = split_tag(message);
    Ok(Header {
        stamp,
        tag,
        body: strip_solaris_id(body),
    })
}

/// Solaris syslogd writes a message id before the message: `[ID 197553 mail.info] `.
fn strip_solaris_id(body: &[u8]) -> &[u8] {
    let Some(rest) = body.strip_prefix(b"[ID ") else {
        return body;
    };
    let Some((number, rest)) = token(rest) else {
        return body;
    };
    let Some((level, rest)) = token(rest) else {
        return body;
    };
    let level = level.strip_suffix(b"]").unwrap_or_default();
    if !number.is_empty() && number.iter().all(u8::is_ascii_digit) && is_facility_priority(level) {
        rest
    } else {
        body
    }
}

/// Whether a word is a syslog `facility.priority` pair as BusyBox writes it (`mail.warn`,
/// `local0.info`, `authpriv.notice`): lowercase letters and digits around one dot. A
/// process tag always ends with `:`, so it never looks like one.
fn is_facility_priority(word: &[u8]) -> bool {
    let Some(dot) = memchr(b'.', word) else {
        return false;
    };
    let (facility, priority) = word.split_at(dot);
    let priority = priority.get(1..).unwrap_or_default();
    let name = |part: &[u8]| {
        !part.is_empty()
            && part.len() <= 8
            && part.first().is_some_and(u8::is_ascii_lowercase)
            && part
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    name(facility) && name(priority)
}

/// Splits `tag[pid]: msg` into the program name and the message; a message without a
/// `tag:` token has no program name.
fn split_tag(message: &[u8]) -> (Option<&[u8]>, &[u8]) {
    let (tag, body) = match memchr(b' ', message) {
        Some(space) => match message.split_at_checked(space) {
            Some((tag, body)) => (tag, body.get(1..).unwrap_or_default()),
            None => return (None, message),
        },
        None => (message, &b""[..]),
    };
    let Some(tag) = tag.strip_suffix(b":") else {
        return (None, message);
    };
    let program = match tag.strip_suffix(b"]") {
        Some(inner) => match memchr::memrchr(b'[', inner) {
            Some(open) => inner.get(..open).unwrap_or_default(),
            None => tag,
        },
        None => tag,
    };
    if program.is_empty() {
        (None, message)
    } else {
        (Some(program), body)
    }
}

/// What a message body is.
pub(super) enum Outcome<'b> {
    /// Anything but a SASL authentication failure.
    NotFailure,
    /// A SASL failure line whose client cannot be trusted.
    Bad(&'static str),
    /// A SASL failure with a valid client.
    Failure(Failure<'b>),
}

/// The fields of a failure line, still as bytes of the message.
pub(super) struct Failure<'b> {
    addr: IpAddr,
    kind: EventKind,
    mechanism: &'b [u8],
    username: Option<&'b [u8]>,
    /// See [`Event::copies`].
    copies: u32,
}

impl<'b> Failure<'b> {
    /// The event, with text fields capped and decoded (borrowed when valid UTF-8); a plain
    /// mechanism name is case-folded to upper case (`login`, `Login` and `LOGIN` are one
    /// label); anything else the client wrote there is kept as it was.
    pub(super) fn into_event(self, time: i64, service: &'b [u8]) -> Event<'b> {
        let mechanism = capped_text(self.mechanism);
        let plain = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_');
        let fold =
            mechanism.bytes().all(plain) && mechanism.bytes().any(|b| b.is_ascii_lowercase());
        let mechanism = if fold {
            Cow::Owned(mechanism.to_ascii_uppercase())
        } else {
            mechanism
        };
        Event {
            time,
            addr: self.addr,
            kind: self.kind,
            mechanism,
            username: self.username.map(capped_text),
            service: capped_text(service),
            copies: self.copies,
        }
    }
}

/// Classifies an smtpd message body. A body that mentions `authentication failed` but
/// has none of the known shapes is unparsed, never irrelevant.
pub(super) fn parse_failure<'b>(body: &'b [u8], rejects: Rejects<'_>) -> Outcome<'b> {
    let outcome = match repeated(body) {
        Some(Ok((copies, inner))) => match classify(inner, rejects) {
            Outcome::Failure(failure) => Outcome::Failure(Failure { copies, ..failure }),
            other => other,
        },
        Some(Err(reason)) => Outcome::Bad(reason),
        None => classify(body, rejects),
    };
    match outcome {
        Outcome::NotFailure if FAILED_ANYWHERE_FINDER.find(body).is_some() => {
            Outcome::Bad("SASL failure line of an unknown shape")
        }
        outcome => outcome,
    }
}

/// rsyslog's repeat compression (`$RepeatedMsgReduction on`): `message repeated N times:
/// [ MSG]` stands for N more copies of MSG after the one logged before it. Returns N and
/// MSG, an error for a malformed count, or `None` for any other body.
fn repeated(body: &[u8]) -> Option<Result<(u32, &[u8]), &'static str>> {
    const BAD: &str = "malformed repeat count";
    let rest = body.strip_prefix(b"message repeated ")?;
    let (count, rest) = token(rest)?;
    let inner = rest
        .strip_prefix(b"times: [")?
        .trim_ascii_end()
        .strip_suffix(b"]")?;
    let inner = inner.strip_prefix(b" ").unwrap_or(inner);
    let copies = std::str::from_utf8(count)
        .ok()
        .filter(|text| text.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|text| text.parse::<u32>().ok())
        .filter(|&n| n > 0);
    Some(copies.map(|n| (n, inner)).ok_or(BAD))
}

/// Classifies one smtpd message (not a repeat wrapper).
fn classify<'b>(body: &'b [u8], rejects: Rejects<'_>) -> Outcome<'b> {
    let Some(rest) = body.strip_prefix(b"warning: ") else {
        return match (body.strip_prefix(REJECT), rejects.marker) {
            (Some(reject), Some(marker)) => parse_reject(reject, marker.as_bytes()),
            _ => Outcome::NotFailure,
        };
    };
    let Some((client, after)) = token(rest) else {
        return Outcome::NotFailure;
    };
    let Some(after) = after.strip_prefix(b"SASL ") else {
        return Outcome::NotFailure;
    };
    let (mechanism, tail) = match FAILED_FINDER.find(after) {
        Some(at) => match after.split_at_checked(at) {
            Some((mechanism, tail)) => (mechanism, tail.get(FAILED.len()..).unwrap_or_default()),
            None => return Outcome::NotFailure,
        },
        // Older Postfix (and Cyrus setups) end the line after `failed`, with no reason.
        None => match after.trim_ascii_end().strip_suffix(FAILED_BARE) {
            Some(mechanism) => (mechanism, &b""[..]),
            None => return Outcome::NotFailure,
        },
    };
    let addr = match parse_client(client) {
        Ok(addr) => addr,
        Err(reason) => return Outcome::Bad(reason),
    };
    let (reason, username) = split_username(tail);
    let kind = match server_reason(mechanism, reason, tail) {
        Some(reason) if starts_with_any(reason, SERVER_FAULTS) => EventKind::ServerFault,
        Some(reason) if starts_with_any(reason, &[INVALID_MECHANISM]) => {
            EventKind::InvalidMechanism
        }
        _ => EventKind::AuthFailed,
    };
    Outcome::Failure(Failure {
        addr,
        kind,
        mechanism,
        username,
        copies: 1,
    })
}

/// The start of smtpd's log line for a refused command.
const REJECT: &[u8] = b"NOQUEUE: reject: ";
/// What Postfix writes before the text of a client access map's reject action.
const CLIENT_REJECTED: &[u8] = b">: Client host rejected: ";

/// `STAGE from CLIENT: CODE DSN <CLIENT>: Client host rejected: TEXT...` after
/// `NOQUEUE: reject: `: a [`EventKind::Rejected`] event when TEXT starts with `marker`.
/// The shape is checked up to TEXT, so text a client wrote later in the line (`from=<>`,
/// `helo=<>`) cannot make a reject look like saslguard's.
fn parse_reject<'b>(reject: &'b [u8], marker: &[u8]) -> Outcome<'b> {
    let Some((stage, rest)) = token(reject) else {
        return Outcome::NotFailure;
    };
    if stage.is_empty() || !stage.iter().all(u8::is_ascii_uppercase) {
        return Outcome::NotFailure;
    }
    let Some(rest) = rest.strip_prefix(b"from ") else {
        return Outcome::NotFailure;
    };
    let Some((client, reply)) = token(rest) else {
        return Outcome::NotFailure;
    };
    // `554 5.7.1 <name[addr]>: Client host rejected: TEXT` (the DSN may be missing).
    let Some((code, reply)) = token(reply) else {
        return Outcome::NotFailure;
    };
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
        return Outcome::NotFailure;
    }
    let reply = match token(reply) {
        Some((dsn, after)) if dsn.first().is_some_and(u8::is_ascii_digit) => after,
        _ => reply,
    };
    let quoted = client.strip_suffix(b":").unwrap_or(client);
    let Some(text) = reply
        .strip_prefix(b"<")
        .and_then(|r| r.strip_prefix(quoted))
        .and_then(|r| r.strip_prefix(CLIENT_REJECTED))
    else {
        return Outcome::NotFailure;
    };
    if !text.starts_with(marker) {
        return Outcome::NotFailure;
    }
    match parse_client(client) {
        Ok(addr) => Outcome::Failure(Failure {
            addr,
            kind: EventKind::Rejected,
            mechanism: stage,
            username: None,
            copies: 1,
        }),
        Err(reason) => Outcome::Bad(reason),
    }
}

/// The text Postfix logs after `Client host rejected: ` for a client access map whose
/// action is `action` (saslguard's `postfix.reject_text`): the action without its
/// `REJECT`/`DEFER` keyword or SMTP code and enhanced status code, or Postfix's
/// `Access denied` when nothing is left.
pub fn reject_marker(action: &str) -> String {
    let mut words = action.split_whitespace().peekable();
    // Postfix reads the keyword in any case (`reject text` is `REJECT text`).
    let keyword = words.peek().map(|w| w.to_ascii_uppercase());
    match words.peek() {
        Some(_)
            if matches!(
                keyword.as_deref(),
                Some("REJECT" | "DEFER" | "DEFER_IF_PERMIT" | "DEFER_IF_REJECT")
            ) =>
        {
            words.next();
        }
        Some(code) if code.len() == 3 && code.bytes().all(|b| b.is_ascii_digit()) => {
            words.next();
            if words.peek().is_some_and(|dsn| {
                dsn.split('.').count() == 3 && dsn.bytes().all(|b| b.is_ascii_digit() || b == b'.')
            }) {
                words.next();
            }
        }
        _ => {}
    }
    let text = words.collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        "Access denied".to_string()
    } else {
        text
    }
}

/// REASON when it can only have come from the server, so its text may decide the kind
/// (server fault, invalid mechanism): `reason` is the text after ` authentication
/// failed:` up to the username, `tail` everything after ` authentication failed:`. Fails
/// closed (`None`: the line counts against the client): MECH must be a plain mechanism
/// name (so the client did not write the marker into it), REASON must follow after
/// exactly one space, and no second ` authentication failed:` may appear anywhere after
/// the first one.
fn server_reason<'b>(mechanism: &[u8], reason: &'b [u8], tail: &[u8]) -> Option<&'b [u8]> {
    let plain = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_');
    if mechanism.is_empty() || !mechanism.iter().all(plain) {
        return None;
    }
    let reason = reason.strip_prefix(b" ")?;
    if FAILED_FINDER.find(tail).is_some() {
        return None;
    }
    Some(reason)
}

/// Splits what follows ` authentication failed:` into REASON and USER at the first
/// `, sasl_username=` or `,sasl_username=`; USER is `None` when absent, empty or
/// `(unavailable)`.
fn split_username(tail: &[u8]) -> (&[u8], Option<&[u8]>) {
    let mut from = 0;
    while let Some(found) = tail.get(from..).and_then(|rest| USERNAME_FINDER.find(rest)) {
        let at = from + found;
        let before = tail.get(..at).unwrap_or_default();
        let reason = before
            .strip_suffix(b", ")
            .or_else(|| before.strip_suffix(b","));
        if let Some(reason) = reason {
            let user = tail
                .get(at + USERNAME.len()..)
                .filter(|user| !user.is_empty() && *user != b"(unavailable)");
            return (reason, user);
        }
        from = at + 1;
    }
    (tail, None)
}

/// Whether `reason` starts with one of `texts`, ignoring ASCII case.
fn starts_with_any(reason: &[u8], texts: &[&str]) -> bool {
    texts.iter().any(|text| {
        reason
            .get(..text.len())
            .is_some_and(|start| start.eq_ignore_ascii_case(text.as_bytes()))
    })
}

/// The address of `name[addr]:` or `name[addr]:port:` (the first token after `warning: `).
/// IPv4-mapped IPv6 becomes IPv4.
fn parse_client(token: &[u8]) -> Result<IpAddr, &'static str> {
    const BAD: &str = "malformed client";
    let token = token.strip_suffix(b":").ok_or(BAD)?;
    let open = memchr(b'[', token).ok_or(BAD)?;
    let (name, rest) = token.split_at_checked(open).ok_or(BAD)?;
    let hostname = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
    if name.is_empty() || !name.iter().all(hostname) {
        return Err("malformed client name");
    }
    let rest = rest.strip_prefix(b"[").ok_or(BAD)?;
    let close = memchr(b']', rest).ok_or(BAD)?;
    let (addr, after) = rest.split_at_checked(close).ok_or(BAD)?;
    let after = after.strip_prefix(b"]").ok_or(BAD)?;
    if !after.is_empty() {
        let port = after.strip_prefix(b":").ok_or("malformed client port")?;
        if port.is_empty() || port.len() > 5 || !port.iter().all(u8::is_ascii_digit) {
            return Err("malformed client port");
        }
    }
    std::str::from_utf8(addr)
        .ok()
        .and_then(|text| text.parse::<IpAddr>().ok())
        .map(|addr| addr.to_canonical())
        .ok_or("invalid client address")
}

/// Attacker-chosen bytes as text: at most [`FIELD_CAP`] bytes, cut at a char boundary;
/// borrowed when valid UTF-8, otherwise decoded lossily (U+FFFD). The result equals
/// decoding the whole input lossily and then cutting it.
pub(super) fn capped_text(bytes: &[u8]) -> Cow<'_, str> {
    // A char is at most 4 bytes and lossy decoding never shrinks text, so the first
    // FIELD_CAP output bytes depend only on the first FIELD_CAP + 4 input bytes.
    let window = FIELD_CAP + 4;
    let head = bytes.get(..window).unwrap_or(bytes);
    match std::str::from_utf8(head) {
        Ok(text) => Cow::Borrowed(floor_str(text, FIELD_CAP)),
        Err(err) if err.error_len().is_none() && head.len() < bytes.len() => {
            // Valid up to a char that the window cut; that char starts past FIELD_CAP.
            let valid = head.get(..err.valid_up_to()).unwrap_or_default();
            match std::str::from_utf8(valid) {
                Ok(text) => Cow::Borrowed(floor_str(text, FIELD_CAP)),
                Err(_) => Cow::Borrowed(""),
            }
        }
        Err(_) => {
            let mut text = String::from_utf8_lossy(head).into_owned();
            let cut = floor_str(&text, FIELD_CAP).len();
            text.truncate(cut);
            Cow::Owned(text)
        }
    }
}

/// The longest prefix of `text` of at most `max` bytes that ends on a char boundary.
fn floor_str(text: &str, max: usize) -> &str {
    let mut cut = max.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.get(..cut).unwrap_or_default()
}

#[cfg(test)]
mod tests;
