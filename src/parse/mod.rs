//! Turning one log line into an [`Event`].
//!
//! Pure functions over bytes: no I/O, no clock, no database, so every line shape can be
//! table-tested and fuzzed. The reader hands us one line at a time (without its newline);
//! the line may be invalid UTF-8, contain NULs or be very long.
//!
//! Format is detected per line, so a file mixing traditional syslog, RFC 3339, RFC 5424
//! and `journalctl -o json` lines works.

mod journal;
pub mod message;
pub mod timestamp;

use std::borrow::Cow;
use std::net::IpAddr;

use chrono::{DateTime, TimeZone, Utc};

pub use timestamp::YearlessClock;

pub use crate::model::EventKind;

/// One SASL authentication failure, as Postfix's smtpd logged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    /// When it happened, as Unix seconds in UTC.
    pub time: i64,
    /// The client, taken only from the first token after `warning: `. IPv4-mapped IPv6
    /// addresses are returned as IPv4.
    pub addr: IpAddr,
    /// Whether this counts against the client.
    pub kind: EventKind,
    /// The SASL mechanism as logged (attacker-chosen text), a plain name case-folded to
    /// upper case (`plain` is `PLAIN`); for
    /// a [`EventKind::Rejected`] connection, the SMTP stage refused (`CONNECT`, `RCPT`).
    pub mechanism: Cow<'a, str>,
    /// `sasl_username=` when Postfix logged it (3.9+, 3.8.3, ...); `None` when absent or
    /// `(unavailable)`. Attacker-chosen text.
    pub username: Option<Cow<'a, str>>,
    /// The process tag without the pid: `postfix/smtpd`, `postfix/submission/smtpd`,
    /// `postfix-out/smtpd`, ...
    pub service: Cow<'a, str>,
    /// How many log messages this line stands for: 1, or N for rsyslog's `message
    /// repeated N times: [ ... ]` (the N copies suppressed after the first one).
    pub copies: u32,
}

impl Event<'_> {
    /// The same event owning its texts, so it can outlive the line (and cross threads).
    pub fn into_owned(self) -> Event<'static> {
        Event {
            time: self.time,
            addr: self.addr,
            kind: self.kind,
            mechanism: Cow::Owned(self.mechanism.into_owned()),
            username: self.username.map(|u| Cow::Owned(u.into_owned())),
            service: Cow::Owned(self.service.into_owned()),
            copies: self.copies,
        }
    }
}

/// The outcome of parsing one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A SASL authentication failure (or server-side fault) from smtpd.
    Event(Event<'a>),
    /// A well-formed log line that is not a SASL failure from smtpd (other Postfix
    /// traffic, look-alike text from other programs). Skipped silently.
    Irrelevant,
    /// Garbage, or a SASL failure line that cannot be used (bad address, bad
    /// timestamp). Counted as unparsed and skipped; the reason is for `-v` output.
    Unparsed(&'static str),
    /// A well-formed SASL failure whose writer is not proven to be Postfix's smtpd (a
    /// journal entry whose trusted fields name another program or user). Counted as
    /// untrusted and skipped; the reason is for `-v` output.
    Untrusted(&'static str),
}

/// Parses lines of one file (or stdin), resolving year-less syslog stamps against a
/// reference time: the file's modification time, or now for stdin.
pub struct LineParser<'m, Z: TimeZone> {
    clock: YearlessClock<Z>,
    rejects: Rejects<'m>,
    trust: JournalTrust<'m>,
}

/// Which journal entries come from Postfix's smtpd, judged by the fields journald sets
/// itself from the sender's credentials (`_COMM`, `_EXE`, `_UID`, `_SYSTEMD_UNIT`), never
/// by `SYSLOG_IDENTIFIER`, which any local user can set (`logger -t postfix/smtpd`). A
/// field with an empty list is not checked; one with a list must be present and match.
/// Without a rule (the default) no journal entry is trusted.
#[derive(Debug, Clone, Copy, Default)]
pub struct JournalTrust<'m> {
    pub rule: Option<TrustRule<'m>>,
}

/// The accepted values of each trusted journal field; see [`JournalTrust`].
#[derive(Debug, Clone, Copy)]
pub struct TrustRule<'m> {
    /// `_COMM` values (process names, at most 15 bytes), e.g. `smtpd`.
    pub commands: &'m [String],
    /// `_EXE` values (absolute paths), e.g. `/usr/lib/postfix/sbin/smtpd`.
    pub executables: &'m [String],
    /// `_UID` values, as numbers.
    pub uids: &'m [u32],
    /// `_SYSTEMD_UNIT` patterns, `*` matching any run of characters.
    pub units: &'m [String],
}

/// Which `NOQUEUE: reject` lines are saslguard's blocks at work: those whose reply text
/// after `Client host rejected: ` starts with the text Postfix logs for the configured
/// `postfix.reject_text` (see [`message::reject_marker`]). Without a marker, reject lines
/// are not recognised at all.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rejects<'m> {
    pub marker: Option<&'m str>,
}

impl<'m, Z: TimeZone> LineParser<'m, Z> {
    /// A parser whose year-less stamps are read in `zone` and resolved against `reference`.
    pub fn new(reference: DateTime<Utc>, zone: Z) -> Self {
        LineParser {
            clock: YearlessClock::new(reference, zone),
            rejects: Rejects::default(),
            trust: JournalTrust::default(),
        }
    }

    /// Accepts journal entries only from the writers `trust` names.
    pub fn with_trust(mut self, trust: JournalTrust<'m>) -> Self {
        self.trust = trust;
        self
    }

    /// Moves the reference of year-less stamps (and offset-less RFC 3339 stamps) to
    /// `reference`: the moment the lines that follow were read.
    pub fn set_reference(&mut self, reference: DateTime<Utc>) {
        self.clock.set_reference(reference);
    }

    /// Also recognise the connections Postfix refused because of saslguard's map.
    pub fn with_rejects(mut self, rejects: Rejects<'m>) -> Self {
        self.rejects = rejects;
        self
    }

    /// Parses one line (without its trailing newline; a trailing `\r` is tolerated).
    pub fn parse<'a>(&mut self, line: &'a [u8]) -> Parsed<'a> {
        message::parse_line(line, &mut self.clock, self.rejects, self.trust)
    }
}
