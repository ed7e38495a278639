//! `journalctl -o json` lines: one JSON object per line.
//!
//! Fields used: `MESSAGE` (a string, or an array of byte values when it is not UTF-8),
//! `SYSLOG_IDENTIFIER` (`postfix/smtpd`), `__REALTIME_TIMESTAMP` (microseconds since the
//! epoch, as a string), and the fields journald sets itself from the sender's credentials
//! (`_COMM`, `_EXE`, `_UID`, `_SYSTEMD_UNIT`): a failure is used only when they name
//! Postfix's smtpd (see [`JournalTrust`]); otherwise it is untrusted, since any local user
//! can send `SYSLOG_IDENTIFIER=postfix/smtpd` (`logger -t postfix/smtpd ...`). A field logged several times is an array of values; the first one is
//! used. `null` (a field too large for journalctl to print) counts as absent.
//!
//! Journal exports are rarely the bulk input, but they can be large, so a line is only
//! decoded when it could hold a failure: it contains `authentication failed` or a
//! byte-array `MESSAGE`. Other lines shaped like a journal object (`{"` ... `}`) are
//! irrelevant without being decoded; anything else starting with `{` is unparsed.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use super::message::{Outcome, is_smtpd, parse_failure};
use super::{Event, JournalTrust, Parsed, Rejects, TrustRule};

/// Prefilter: any mention of a failure is decoded, so one of an unknown shape is counted
/// as unparsed rather than skipped.
static FAILED_FINDER: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new(b"authentication failed"));
/// Prefilter for smtpd's reject lines (only when rejects are recognised at all).
static REJECT_FINDER: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new(b"NOQUEUE: reject: "));
static BYTE_MESSAGE_FINDER: LazyLock<Finder<'static>> =
    LazyLock::new(|| Finder::new(b"\"MESSAGE\":["));

/// Parses one `journalctl -o json` line (starting with `{`).
pub(super) fn parse<'a>(
    line: &'a [u8],
    rejects: Rejects<'_>,
    trust: JournalTrust<'_>,
) -> Parsed<'a> {
    if !line.starts_with(b"{\"") || line.last() != Some(&b'}') {
        return Parsed::Unparsed("malformed journal JSON");
    }
    if FAILED_FINDER.find(line).is_none()
        && BYTE_MESSAGE_FINDER.find(line).is_none()
        && (rejects.marker.is_none() || REJECT_FINDER.find(line).is_none())
    {
        return Parsed::Irrelevant;
    }
    let entry: Entry<'_> = match serde_json::from_slice(line) {
        Ok(entry) => entry,
        Err(_) => return Parsed::Unparsed("malformed journal JSON"),
    };
    let trusted = trusted_writer(&entry, trust);
    let (Field::Value(message), Field::Value(identifier)) = (entry.message, entry.identifier)
    else {
        return Parsed::Irrelevant;
    };
    let time = match entry.realtime {
        Field::Value(micros) => std::str::from_utf8(&micros)
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .map(|micros| micros.div_euclid(1_000_000)),
        Field::Absent => None,
    };
    let parsed = match (message, identifier) {
        (Cow::Borrowed(message), Cow::Borrowed(identifier)) => {
            event(message, identifier, time, rejects)
        }
        (message, identifier) => owned(event(&message, &identifier, time, rejects)),
    };
    match (parsed, trusted) {
        (Parsed::Event(_), Err(reason)) => Parsed::Untrusted(reason),
        (parsed, _) => parsed,
    }
}

/// Whether the trusted fields of an entry name Postfix's smtpd; the error says which
/// field did not. A field whose list is empty is not checked; a field that is checked
/// must be present.
fn trusted_writer(writer: &Entry<'_>, trust: JournalTrust<'_>) -> Result<(), &'static str> {
    let Some(rule) = trust.rule else {
        return Err("journal entries are not trusted without a rule");
    };
    let TrustRule {
        commands,
        executables,
        uids,
        units,
    } = rule;
    let value = |field: &Field<'_>| match field {
        Field::Value(bytes) => std::str::from_utf8(bytes).ok().map(str::to_owned),
        Field::Absent => None,
    };
    if !commands.is_empty() {
        let comm = value(&writer.comm).ok_or("no _COMM: not proven to be smtpd")?;
        if !commands.contains(&comm) {
            return Err("_COMM is not smtpd");
        }
    }
    if !executables.is_empty() {
        let exe = value(&writer.exe).ok_or("no _EXE: not proven to be smtpd")?;
        if !executables.contains(&exe) {
            return Err("_EXE is not Postfix's smtpd");
        }
    }
    if !uids.is_empty() {
        let uid = value(&writer.uid)
            .and_then(|uid| uid.parse::<u32>().ok())
            .ok_or("no _UID: not proven to be smtpd")?;
        if !uids.contains(&uid) {
            return Err("_UID is not Postfix's user");
        }
    }
    if !units.is_empty() {
        let unit = value(&writer.unit).ok_or("no _SYSTEMD_UNIT: not proven to be smtpd")?;
        if !units.iter().any(|pattern| glob_match(pattern, &unit)) {
            return Err("_SYSTEMD_UNIT is not Postfix's");
        }
    }
    Ok(())
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters (and nothing
/// else is special): `postfix@*.service`.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let Some(first) = parts.next() else {
        return text.is_empty();
    };
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// Classifies the message of a journal entry.
fn event<'b>(
    message: &'b [u8],
    identifier: &'b [u8],
    time: Option<i64>,
    rejects: Rejects<'_>,
) -> Parsed<'b> {
    if !is_smtpd(identifier) {
        return Parsed::Irrelevant;
    }
    match parse_failure(message, rejects) {
        Outcome::NotFailure => Parsed::Irrelevant,
        Outcome::Bad(reason) => Parsed::Unparsed(reason),
        Outcome::Failure(failure) => match time {
            Some(time) => Parsed::Event(failure.into_event(time, identifier)),
            None => Parsed::Unparsed("missing or invalid __REALTIME_TIMESTAMP"),
        },
    }
}

/// Detaches a result from a decoded (owned) buffer.
fn owned(parsed: Parsed<'_>) -> Parsed<'static> {
    match parsed {
        Parsed::Event(event) => Parsed::Event(Event {
            time: event.time,
            addr: event.addr,
            kind: event.kind,
            mechanism: Cow::Owned(event.mechanism.into_owned()),
            username: event.username.map(|user| Cow::Owned(user.into_owned())),
            service: Cow::Owned(event.service.into_owned()),
            copies: event.copies,
        }),
        Parsed::Irrelevant => Parsed::Irrelevant,
        Parsed::Unparsed(reason) => Parsed::Unparsed(reason),
        Parsed::Untrusted(reason) => Parsed::Untrusted(reason),
    }
}

/// The fields of a journal entry that matter; all others are skipped. The underscore
/// fields are set by journald from the sending process's credentials.
#[derive(Deserialize)]
struct Entry<'a> {
    #[serde(rename = "MESSAGE", default, borrow)]
    message: Field<'a>,
    #[serde(rename = "SYSLOG_IDENTIFIER", default, borrow)]
    identifier: Field<'a>,
    #[serde(rename = "__REALTIME_TIMESTAMP", default, borrow)]
    realtime: Field<'a>,
    #[serde(rename = "_COMM", default, borrow)]
    comm: Field<'a>,
    #[serde(rename = "_EXE", default, borrow)]
    exe: Field<'a>,
    #[serde(rename = "_UID", default, borrow)]
    uid: Field<'a>,
    #[serde(rename = "_SYSTEMD_UNIT", default, borrow)]
    unit: Field<'a>,
}

/// One journal field value as bytes: borrowed from the line when it needed no unescaping.
#[derive(Debug, Default)]
enum Field<'a> {
    #[default]
    Absent,
    Value(Cow<'a, [u8]>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Field<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(FieldVisitor(PhantomData))
    }
}

/// Accepts a string, a number, `null`, an array of byte values, or an array of values (a
/// repeated field, of which the first is kept).
struct FieldVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for FieldVisitor<'a> {
    type Value = Field<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a journal field: string, number, null or array")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Field::Value(Cow::Borrowed(v.as_bytes())))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Field::Value(Cow::Owned(v.as_bytes().to_vec())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Field::Value(Cow::Owned(v.into_bytes())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Field::Value(Cow::Owned(v.to_string().into_bytes())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Field::Value(Cow::Owned(v.to_string().into_bytes())))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Absent)
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Field::Absent)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut bytes = Vec::new();
        let mut first: Option<Field<'a>> = None;
        while let Some(element) = seq.next_element::<Element<'a>>()? {
            match element {
                Element::Byte(byte) => bytes.push(byte),
                Element::Field(field) => {
                    if first.is_none() {
                        first = Some(field);
                    }
                }
            }
        }
        match first {
            Some(_) if !bytes.is_empty() => Err(de::Error::custom("mixed journal array")),
            Some(field) => Ok(field),
            None => Ok(Field::Value(Cow::Owned(bytes))),
        }
    }
}

/// One element of a journal array: a byte (of a non-UTF-8 value) or a whole value (of a
/// repeated field).
enum Element<'a> {
    Byte(u8),
    Field(Field<'a>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Element<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ElementVisitor(PhantomData))
    }
}

/// See [`Element`].
struct ElementVisitor<'a>(PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for ElementVisitor<'a> {
    type Value = Element<'a>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a byte value or a journal field value")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        u8::try_from(v)
            .map(Element::Byte)
            .map_err(|_| E::custom("byte value out of range"))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        u8::try_from(v)
            .map(Element::Byte)
            .map_err(|_| E::custom("byte value out of range"))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        FieldVisitor(PhantomData)
            .visit_borrowed_str(v)
            .map(Element::Field)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        FieldVisitor(PhantomData).visit_str(v).map(Element::Field)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        FieldVisitor(PhantomData)
            .visit_string(v)
            .map(Element::Field)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Element::Field(Field::Absent))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        FieldVisitor(PhantomData).visit_seq(seq).map(Element::Field)
    }
}
