//! Log timestamp formats and the resolution of year-less syslog stamps.
//!
//! Two stamp shapes are recognised by hand (no regex, no allocation, no panics):
//!
//! * [`SyslogStamp`]: the traditional `Oct  7 03:36:21` / `Nov 07 03:36:21` stamp. It has no
//!   year and no zone; [`YearlessClock`] turns it into Unix seconds.
//! * [`ZonedStamp`]: RFC 3339 as written by rsyslog, `journalctl -o short-iso` and RFC 5424
//!   (`2026-11-27T17:51:00.123456+09:00`, `...Z`, `...+0900`). It carries its own offset.
//!
//! Shape parsing only checks field ranges (month 1-12, day 1-31, hour 0-23, ...); the
//! calendar (`Feb 30`, `Apr 31`) is checked when the instant is computed, which the parser
//! only does for the few lines that matter.

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeDelta};
use chrono::{TimeZone, Utc};

/// A traditional syslog stamp (`Oct  7 03:36:21`): local time in the log writer's zone,
/// without a year. Fields are range-checked, not calendar-checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyslogStamp {
    /// 1..=12.
    pub month: u8,
    /// 1..=31.
    pub day: u8,
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=60 (a leap second is accepted and lands on the next minute).
    pub second: u8,
}

/// An RFC 3339 stamp with its UTC offset (`2026-11-27T17:51:00.123+09:00`): the local
/// date and time as written, and the offset. The fraction is dropped (event times are
/// whole seconds, truncated). Fields are range-checked only; [`ZonedStamp::epoch`]
/// checks the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZonedStamp {
    /// The date and time as written.
    pub local: LocalStamp,
    /// Seconds east of UTC (`+09:00` is 32400).
    pub offset: i32,
}

impl ZonedStamp {
    /// Unix seconds (UTC) of this stamp, or `None` when the date does not exist
    /// (`2026-02-30`). Pure arithmetic: no time-zone database is consulted.
    pub fn epoch(&self) -> Option<i64> {
        let local = &self.local;
        let month = u32::from(local.month);
        let day = u32::from(local.day);
        if day == 0 || day > days_in_month(local.year, month)? {
            return None;
        }
        let days = days_from_civil(local.year, month, day);
        let secs =
            i64::from(local.hour) * 3600 + i64::from(local.minute) * 60 + i64::from(local.second);
        Some(days * 86_400 + secs - i64::from(self.offset))
    }
}

/// Parses the month abbreviation of a syslog stamp (`Jan` .. `Dec`, exact case).
fn month_number(name: &[u8]) -> Option<u8> {
    Some(match name {
        b"Jan" => 1,
        b"Feb" => 2,
        b"Mar" => 3,
        b"Apr" => 4,
        b"May" => 5,
        b"Jun" => 6,
        b"Jul" => 7,
        b"Aug" => 8,
        b"Sep" => 9,
        b"Oct" => 10,
        b"Nov" => 11,
        b"Dec" => 12,
        _ => return None,
    })
}

/// The value of one ASCII digit.
#[inline]
fn digit(b: u8) -> Option<u8> {
    b.is_ascii_digit().then(|| b - b'0')
}

/// Two ASCII digits at `at` as a number.
#[inline]
fn two_digits(s: &[u8], at: usize) -> Option<u8> {
    let hi = digit(*s.get(at)?)?;
    let lo = digit(*s.get(at + 1)?)?;
    Some(hi * 10 + lo)
}

/// `HH:MM:SS` at `at`, range-checked.
#[inline]
fn clock_time(s: &[u8], at: usize) -> Option<(u8, u8, u8)> {
    let hour = two_digits(s, at)?;
    let minute = two_digits(s, at + 3)?;
    let second = two_digits(s, at + 6)?;
    if *s.get(at + 2)? != b':' || *s.get(at + 5)? != b':' {
        return None;
    }
    (hour < 24 && minute < 60 && second <= 60).then_some((hour, minute, second))
}

/// Parses a traditional syslog stamp at the start of `s`: `Oct  7 03:36:21`, `Nov 07 03:36:21`
/// (and the non-standard `Oct 7 03:36:21`). Returns the stamp and its length in bytes; the
/// caller checks what follows.
pub fn parse_syslog_stamp(s: &[u8]) -> Option<(SyslogStamp, usize)> {
    let month = month_number(s.get(..3)?)?;
    if *s.get(3)? != b' ' {
        return None;
    }
    let (day, time_at) = match (*s.get(4)?, *s.get(5)?) {
        (b' ', d) => (digit(d)?, 7),
        (d, b' ') => (digit(d)?, 6),
        (d1, d2) => (digit(d1)? * 10 + digit(d2)?, 7),
    };
    if !(1..=31).contains(&day) || *s.get(time_at - 1)? != b' ' {
        return None;
    }
    let (hour, minute, second) = clock_time(s, time_at)?;
    let stamp = SyslogStamp {
        month,
        day,
        hour,
        minute,
        second,
    };
    Some((stamp, time_at + 8))
}

/// An RFC 3339 date and time without a UTC offset (`2022-01-18T04:35:25.199554`, as some
/// rsyslog templates write it): local time in the log writer's zone, resolved by
/// [`YearlessClock::resolve_local`]. Fields are range-checked only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalStamp {
    /// 0..=9999.
    pub year: i32,
    /// 1..=12.
    pub month: u8,
    /// 1..=31.
    pub day: u8,
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=60.
    pub second: u8,
}

/// `YYYY-MM-DDTHH:MM:SS` and an optional fraction (`.123456`, dropped) at the start of
/// `s`: the stamp and the length read.
fn rfc3339_local_part(s: &[u8]) -> Option<(LocalStamp, usize)> {
    let year = u32::from(two_digits(s, 0)?) * 100 + u32::from(two_digits(s, 2)?);
    if *s.get(4)? != b'-' || *s.get(7)? != b'-' || !matches!(*s.get(10)?, b'T' | b't') {
        return None;
    }
    let month = two_digits(s, 5)?;
    let day = two_digits(s, 8)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let (hour, minute, second) = clock_time(s, 11)?;
    let mut at = 19;
    if s.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while s.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
        if at == start {
            return None;
        }
    }
    let stamp = LocalStamp {
        // At most 9999: four digits.
        year: year as i32,
        month,
        day,
        hour,
        minute,
        second,
    };
    Some((stamp, at))
}

/// Parses an RFC 3339 stamp without an offset at the start of `s`
/// (`2022-01-18T04:35:25.199554`); it must be followed by a space (or end `s`), so a
/// stamp with a malformed offset is not taken for local time.
pub fn parse_rfc3339_local(s: &[u8]) -> Option<(LocalStamp, usize)> {
    let (stamp, at) = rfc3339_local_part(s)?;
    matches!(s.get(at), None | Some(b' ')).then_some((stamp, at))
}

/// Parses an RFC 3339 stamp at the start of `s`: `YYYY-MM-DDTHH:MM:SS`, an optional
/// fraction (`.123456`, dropped), then `Z`, `+HH:MM` or `+HHMM` (also `-`). Returns the stamp
/// and its length in bytes; the caller checks what follows.
pub fn parse_rfc3339(s: &[u8]) -> Option<(ZonedStamp, usize)> {
    let (local, mut at) = rfc3339_local_part(s)?;
    let offset = match *s.get(at)? {
        b'Z' | b'z' => {
            at += 1;
            0
        }
        sign @ (b'+' | b'-') => {
            let hours = two_digits(s, at + 1)?;
            let (minutes, len) = if s.get(at + 3) == Some(&b':') {
                (two_digits(s, at + 4)?, 6)
            } else {
                (two_digits(s, at + 3)?, 5)
            };
            if hours > 23 || minutes > 59 {
                return None;
            }
            at += len;
            let secs = i32::from(hours) * 3600 + i32::from(minutes) * 60;
            if sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    Some((ZonedStamp { local, offset }, at))
}

/// Whether `year` is a leap year in the proleptic Gregorian calendar.
fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in `month` of `year`; `None` for a month outside 1..=12.
fn days_in_month(year: i32, month: u32) -> Option<u32> {
    Some(match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => return None,
    })
}

/// Days since 1970-01-01 of a valid proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The latest leap year not after `year`.
fn leap_year_at_or_before(mut year: i32) -> i32 {
    while !is_leap(year) {
        year -= 1;
    }
    year
}

/// Cache slots: 12 months x 31 days x 24 hours.
const SLOTS: usize = 12 * 31 * 24;

/// What the cache knows about one (month, day, hour) of a year-less stamp.
#[derive(Debug, Clone, Copy)]
enum Slot {
    /// Not looked up yet.
    Unknown,
    /// The date does not exist in any candidate year (`Feb 30`, `Apr 31`).
    Invalid,
    /// The hour has one UTC offset throughout: Unix seconds of its start in the preferred
    /// year (the latest a line can be in, see [`YearlessClock`]) and in the fallback year
    /// (the one before).
    Regular { preferred: i64, fallback: i64 },
    /// The offset changes inside the hour (e.g. Lord Howe's 30-minute DST shift): resolve
    /// each line through the zone.
    Irregular { preferred: i32, fallback: i32 },
}

/// The hour start of one candidate year.
enum HourStart {
    Invalid,
    Regular(i64),
    Irregular,
}

/// How far a year-less stamp may lie after the reference and still be read as that
/// close to it, not a year earlier: clock skew between the log writer and this host, a
/// `timezone` that is not the writer's (every UTC offset is within 14 hours), or a file
/// whose modification time was set back. 26 hours: every offset plus a margin. A line
/// further ahead is taken to be from a year earlier.
pub const CLOCK_SKEW: i64 = 26 * 3600;

/// The latest local year in `zone` that a line read at `reference` can be from: the
/// year of `reference + CLOCK_SKEW`.
fn latest_year<Z: TimeZone>(reference: DateTime<Utc>, zone: &Z) -> i32 {
    reference
        .checked_add_signed(chrono::TimeDelta::seconds(CLOCK_SKEW))
        .unwrap_or(reference)
        .with_timezone(zone)
        .year()
}

/// Resolves year-less syslog stamps (`Oct  7 03:36:21`) to Unix seconds.
///
/// A stamp is local time in `zone` (the log writer's zone; in production the
/// [`crate::clock::Zone`] resolved once at start from `timezone`, `TZ` or the system).
/// Its year is the latest year that does not put the line more than [`CLOCK_SKEW`] after
/// `reference` (the moment the line was read: the file's modification time when the run
/// looked at it, which bounds every line up to the size it had then, or now for stdin):
/// the stamp is tried in the local year of `reference + CLOCK_SKEW` (the next year when
/// the reference is near its end, so a `Jan  1 00:30` line read at `Dec 31 23:50` is
/// next year's) and, if that instant is too far after the reference, in the year
/// before. Because the rule is applied per
/// line, a file that runs from December into January gets both years right. `Feb 29`
/// goes to the latest leap year that fits.
///
/// Time-zone rules: a local time that occurs twice (DST overlap) takes the earlier instant;
/// a local time that does not exist (DST gap) is shifted forward by the gap (read with the
/// offset in force before it).
///
/// Time-zone lookups are slow, so the UTC start of each (month, day, hour) is computed once
/// and cached; a line then costs an array lookup and an addition.
pub struct YearlessClock<Z: TimeZone> {
    zone: Z,
    reference: i64,
    /// The latest year a line can be in: the local year of `reference + CLOCK_SKEW`.
    reference_year: i32,
    slots: Vec<Slot>,
}

impl<Z: TimeZone> YearlessClock<Z> {
    /// A clock reading stamps in `zone` and resolving their year against `reference`.
    pub fn new(reference: DateTime<Utc>, zone: Z) -> Self {
        let reference_year = latest_year(reference, &zone);
        YearlessClock {
            zone,
            reference: reference.timestamp(),
            reference_year,
            slots: vec![Slot::Unknown; SLOTS],
        }
    }

    /// The reference instant, as Unix seconds.
    pub fn reference(&self) -> i64 {
        self.reference
    }

    /// Moves the reference (see [`YearlessClock::new`]); the cache is kept unless the
    /// latest year a line can be in (see [`YearlessClock`]) changes.
    pub fn set_reference(&mut self, reference: DateTime<Utc>) {
        let year = latest_year(reference, &self.zone);
        self.reference = reference.timestamp();
        if year != self.reference_year {
            self.reference_year = year;
            self.slots.fill(Slot::Unknown);
        }
    }

    /// Unix seconds of an RFC 3339 stamp without an offset: local time in the zone (the
    /// earlier instant of a DST overlap; a time in a DST gap is shifted forward by the
    /// gap), or `None` when the date does not exist.
    pub fn resolve_local(&self, stamp: LocalStamp) -> Option<i64> {
        let naive = NaiveDate::from_ymd_opt(stamp.year, stamp.month.into(), stamp.day.into())?
            .and_hms_opt(stamp.hour.into(), stamp.minute.into(), 0)?;
        Some(self.local_to_utc(naive)? + i64::from(stamp.second.min(60)))
    }

    /// Unix seconds of a year-less stamp, or `None` when it names no real date (`Feb 30`)
    /// or a field is out of range.
    pub fn resolve(&mut self, stamp: SyslogStamp) -> Option<i64> {
        let SyslogStamp {
            month,
            day,
            hour,
            minute,
            second,
        } = stamp;
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 {
            return None;
        }
        if minute > 59 || second > 60 {
            return None;
        }
        let index = (usize::from(month - 1) * 31 + usize::from(day - 1)) * 24 + usize::from(hour);
        let slot = match self.slots.get(index).copied()? {
            Slot::Unknown => {
                let slot = self.fill(month, day, hour);
                if let Some(cell) = self.slots.get_mut(index) {
                    *cell = slot;
                }
                slot
            }
            known => known,
        };
        let within = i64::from(minute) * 60 + i64::from(second);
        match slot {
            Slot::Unknown | Slot::Invalid => None,
            Slot::Regular {
                preferred,
                fallback,
            } => {
                let t = preferred + within;
                Some(if t <= self.reference + CLOCK_SKEW {
                    t
                } else {
                    fallback + within
                })
            }
            Slot::Irregular {
                preferred,
                fallback,
            } => {
                let t = self.exact(preferred, stamp)?;
                if t <= self.reference + CLOCK_SKEW {
                    Some(t)
                } else {
                    self.exact(fallback, stamp)
                }
            }
        }
    }

    /// Computes the cache slot for (month, day, hour).
    fn fill(&self, month: u8, day: u8, hour: u8) -> Slot {
        let (preferred, fallback) = if (month, day) == (2, 29) {
            let latest = leap_year_at_or_before(self.reference_year);
            (latest, leap_year_at_or_before(latest - 1))
        } else {
            (self.reference_year, self.reference_year - 1)
        };
        let first = self.hour_start(preferred, month, day, hour);
        let second = self.hour_start(fallback, month, day, hour);
        match (first, second) {
            (HourStart::Invalid, _) | (_, HourStart::Invalid) => Slot::Invalid,
            (HourStart::Regular(preferred), HourStart::Regular(fallback)) => Slot::Regular {
                preferred,
                fallback,
            },
            _ => Slot::Irregular {
                preferred,
                fallback,
            },
        }
    }

    /// UTC start of a local hour, and whether the offset stays the same for the whole hour.
    fn hour_start(&self, year: i32, month: u8, day: u8, hour: u8) -> HourStart {
        let Some(start) = NaiveDate::from_ymd_opt(year, month.into(), day.into())
            .and_then(|date| date.and_hms_opt(hour.into(), 0, 0))
        else {
            return HourStart::Invalid;
        };
        let Some(end) = start.checked_add_signed(TimeDelta::seconds(3599)) else {
            return HourStart::Invalid;
        };
        match (self.local_to_utc(start), self.local_to_utc(end)) {
            (Some(a), Some(b)) if b - a == 3599 => HourStart::Regular(a),
            (Some(_), Some(_)) => HourStart::Irregular,
            _ => HourStart::Invalid,
        }
    }

    /// Resolves one stamp in a given year through the zone (slow path).
    fn exact(&self, year: i32, stamp: SyslogStamp) -> Option<i64> {
        let naive = NaiveDate::from_ymd_opt(year, stamp.month.into(), stamp.day.into())?
            .and_hms_opt(stamp.hour.into(), stamp.minute.into(), 0)?;
        Some(self.local_to_utc(naive)? + i64::from(stamp.second))
    }

    /// Unix seconds of a local time in the zone: earliest of an ambiguous pair; a time in a
    /// DST gap is read with the offset in force before the gap (shifted forward by the gap).
    fn local_to_utc(&self, naive: NaiveDateTime) -> Option<i64> {
        match self.zone.from_local_datetime(&naive) {
            LocalResult::Single(dt) => Some(dt.timestamp()),
            LocalResult::Ambiguous(a, b) => Some(a.timestamp().min(b.timestamp())),
            LocalResult::None => {
                let probe = naive.checked_sub_signed(TimeDelta::days(1))?;
                let before = self.zone.offset_from_utc_datetime(&probe).fix();
                Some(naive.and_utc().timestamp() - i64::from(before.local_minus_utc()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::FixedOffset;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn epoch(s: &str) -> i64 {
        utc(s).timestamp()
    }

    fn stamp(s: &str) -> SyslogStamp {
        let (stamp, len) = parse_syslog_stamp(s.as_bytes()).unwrap();
        assert_eq!(len, s.len(), "{s}");
        stamp
    }

    #[test]
    fn syslog_stamp_shapes() {
        type Fields = Option<(u8, u8, u8, u8, u8)>;
        let cases: &[(&str, &str, Fields)] = &[
            (
                "space_padded_day",
                "Oct  7 03:36:21",
                Some((10, 7, 3, 36, 21)),
            ),
            (
                "zero_padded_day",
                "Nov 07 03:36:21",
                Some((11, 7, 3, 36, 21)),
            ),
            (
                "two_digit_day",
                "Dec 31 23:59:59",
                Some((12, 31, 23, 59, 59)),
            ),
            ("unpadded_day", "Oct 7 03:36:21", Some((10, 7, 3, 36, 21))),
            ("leap_second", "Jun 30 23:59:60", Some((6, 30, 23, 59, 60))),
            ("lowercase_month", "oct  7 03:36:21", None),
            ("unknown_month", "Foo  7 03:36:21", None),
            ("day_zero", "Oct 00 03:36:21", None),
            ("day_32", "Oct 32 03:36:21", None),
            ("hour_24", "Oct  7 24:00:00", None),
            ("minute_60", "Oct  7 03:60:00", None),
            ("second_61", "Oct  7 03:36:61", None),
            ("bad_separator", "Oct  7 03-36-21", None),
            ("truncated", "Oct  7 03:36:2", None),
            ("empty", "", None),
        ];
        for (name, text, want) in cases {
            let got = parse_syslog_stamp(text.as_bytes())
                .map(|(s, _)| (s.month, s.day, s.hour, s.minute, s.second));
            assert_eq!(got, *want, "{name}");
        }
    }

    #[test]
    fn rfc3339_shapes() {
        let cases: &[(&str, &str, Option<&str>)] = &[
            (
                "colon_offset",
                "2026-11-27T17:51:00+09:00",
                Some("2026-11-27T08:51:00Z"),
            ),
            (
                "compact_offset",
                "2026-11-27T17:51:00+0900",
                Some("2026-11-27T08:51:00Z"),
            ),
            ("zulu", "2026-11-27T17:51:00Z", Some("2026-11-27T17:51:00Z")),
            (
                "lowercase_zulu",
                "2026-11-27t17:51:00z",
                Some("2026-11-27T17:51:00Z"),
            ),
            (
                "micro_fraction",
                "2026-11-27T17:51:00.999999+09:00",
                Some("2026-11-27T08:51:00Z"),
            ),
            (
                "milli_fraction",
                "2026-11-27T17:51:00.123Z",
                Some("2026-11-27T17:51:00Z"),
            ),
            (
                "negative_offset",
                "2026-11-27T17:51:00-05:30",
                Some("2026-11-27T23:21:00Z"),
            ),
            (
                "date_change_by_offset",
                "2026-01-01T01:00:00+02:00",
                Some("2025-12-31T23:00:00Z"),
            ),
            (
                "leap_day",
                "2028-02-29T00:00:00Z",
                Some("2028-02-29T00:00:00Z"),
            ),
        ];
        for (name, text, want) in cases {
            let (stamp, len) = parse_rfc3339(text.as_bytes()).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(len, text.len(), "{name}");
            assert_eq!(stamp.epoch(), want.map(epoch), "{name}");
        }
        let rejected: &[(&str, &str)] = &[
            ("no_offset", "2026-11-27T17:51:00 host"),
            ("no_offset_fraction", "2026-11-27T17:51:00.199554 host"),
            ("empty_fraction", "2026-11-27T17:51:00.Z"),
            ("month_13", "2026-13-27T17:51:00Z"),
            ("space_separator", "2026-11-27 17:51:00Z"),
            ("offset_hour_24", "2026-11-27T17:51:00+24:00"),
            ("offset_truncated", "2026-11-27T17:51:00+09:"),
            ("truncated", "2026-11-27T17:5"),
        ];
        for (name, text) in rejected {
            assert_eq!(parse_rfc3339(text.as_bytes()), None, "{name}");
        }
        let calendar: &[(&str, &str)] = &[
            ("feb_30", "2026-02-30T00:00:00Z"),
            ("feb_29_non_leap", "2026-02-29T00:00:00Z"),
            ("apr_31", "2026-04-31T00:00:00Z"),
        ];
        for (name, text) in calendar {
            let (stamp, _) = parse_rfc3339(text.as_bytes()).unwrap();
            assert_eq!(stamp.epoch(), None, "{name}");
        }
    }

    #[test]
    fn civil_days_match_chrono() {
        for year in [1969, 1970, 2000, 2024, 2026, 2100, 2400] {
            for month in 1..=12 {
                for day in [1, 15, days_in_month(year, month).unwrap()] {
                    let want = NaiveDate::from_ymd_opt(year, month, day).unwrap();
                    let want = want.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
                    assert_eq!(days_from_civil(year, month, day) * 86_400, want);
                }
            }
        }
    }

    #[test]
    fn year_resolution() {
        let reference = "2026-11-27T12:00:00Z";
        let cases: &[(&str, &str, Option<&str>)] = &[
            (
                "before_reference_same_year",
                "Nov 26 10:00:00",
                Some("2026-11-26T10:00:00Z"),
            ),
            (
                "equal_to_reference_stays",
                "Nov 27 12:00:00",
                Some("2026-11-27T12:00:00Z"),
            ),
            (
                "ten_minutes_after_stays",
                "Nov 27 12:10:01",
                Some("2026-11-27T12:10:01Z"),
            ),
            (
                "two_hours_after_stays",
                "Nov 27 14:00:00",
                Some("2026-11-27T14:00:00Z"),
            ),
            (
                "fourteen_hours_after_stays",
                "Nov 28 02:00:00",
                Some("2026-11-28T02:00:00Z"),
            ),
            (
                "within_clock_skew_after_stays",
                "Nov 28 14:00:00",
                Some("2026-11-28T14:00:00Z"),
            ),
            (
                "beyond_clock_skew_goes_back_a_year",
                "Nov 28 14:00:01",
                Some("2025-11-28T14:00:01Z"),
            ),
            (
                "later_month_is_last_year",
                "Dec 31 23:59:59",
                Some("2025-12-31T23:59:59Z"),
            ),
            (
                "january_is_this_year",
                "Jan  1 00:00:00",
                Some("2026-01-01T00:00:00Z"),
            ),
            (
                "feb_29_latest_leap_year",
                "Feb 29 08:00:00",
                Some("2024-02-29T08:00:00Z"),
            ),
            ("feb_30_invalid", "Feb 30 08:00:00", None),
            ("apr_31_invalid", "Apr 31 08:00:00", None),
        ];
        let mut clock = YearlessClock::new(utc(reference), FixedOffset::east_opt(0).unwrap());
        for (name, text, want) in cases {
            // Twice: the second run hits the cache.
            for _ in 0..2 {
                assert_eq!(clock.resolve(stamp(text)), want.map(epoch), "{name}");
            }
        }
    }

    #[test]
    fn a_later_reference_keeps_lines_read_later_in_their_year() {
        let zone = FixedOffset::east_opt(0).unwrap();
        let mut clock = YearlessClock::new(utc("2026-11-27T12:00:00Z"), zone);
        assert_eq!(
            clock.resolve(stamp("Nov 28 15:00:00")),
            Some(epoch("2025-11-28T15:00:00Z")),
            "27 hours after the first reference: last year"
        );
        clock.set_reference(utc("2026-11-28T15:00:05Z"));
        assert_eq!(
            clock.resolve(stamp("Nov 28 15:00:00")),
            Some(epoch("2026-11-28T15:00:00Z")),
            "read after it was written: this year"
        );
        clock.set_reference(utc("2027-01-01T00:00:30Z"));
        assert_eq!(
            clock.resolve(stamp("Jan  1 00:00:10")),
            Some(epoch("2027-01-01T00:00:10Z")),
            "a new reference year starts a new cache"
        );
    }

    #[test]
    fn rfc3339_without_offset_is_local_time() {
        let (stamp, len) = parse_rfc3339_local(b"2022-01-18T04:35:25.199554 host").unwrap();
        assert_eq!(len, 26);
        let zone = FixedOffset::east_opt(3600).unwrap();
        let clock = YearlessClock::new(utc("2026-11-27T12:00:00Z"), zone);
        assert_eq!(
            clock.resolve_local(stamp),
            Some(epoch("2022-01-18T03:35:25Z"))
        );
        assert_eq!(parse_rfc3339_local(b"2022-01-18T04:35:25+01:00 host"), None);
        assert_eq!(
            parse_rfc3339_local(b"2022-01-18T04:35:25"),
            Some((stamp_at(), 19))
        );
        let (feb_30, _) = parse_rfc3339_local(b"2022-02-30T04:35:25 h").unwrap();
        assert_eq!(clock.resolve_local(feb_30), None);
    }

    fn stamp_at() -> LocalStamp {
        LocalStamp {
            year: 2022,
            month: 1,
            day: 18,
            hour: 4,
            minute: 35,
            second: 25,
        }
    }

    #[test]
    fn december_to_january_within_one_file() {
        let mut clock = YearlessClock::new(
            utc("2026-01-02T06:00:00Z"),
            FixedOffset::east_opt(0).unwrap(),
        );
        let lines = [
            ("Dec 31 23:59:58", "2025-12-31T23:59:58Z"),
            ("Jan  1 00:00:02", "2026-01-01T00:00:02Z"),
            ("Jan  2 05:59:59", "2026-01-02T05:59:59Z"),
        ];
        for (text, want) in lines {
            assert_eq!(clock.resolve(stamp(text)), Some(epoch(want)), "{text}");
        }
    }

    #[test]
    fn feb_29_reference_in_leap_year_before_and_after() {
        let zone = FixedOffset::east_opt(0).unwrap();
        let mut after = YearlessClock::new(utc("2028-03-01T00:00:00Z"), zone);
        assert_eq!(
            after.resolve(stamp("Feb 29 10:00:00")),
            Some(epoch("2028-02-29T10:00:00Z"))
        );
        let mut before = YearlessClock::new(utc("2028-02-28T00:00:00Z"), zone);
        assert_eq!(
            before.resolve(stamp("Feb 29 10:00:00")),
            Some(epoch("2024-02-29T10:00:00Z"))
        );
        // 2100 is not a leap year: from 2101 the latest Feb 29 is in 2096.
        let mut century = YearlessClock::new(utc("2101-06-01T00:00:00Z"), zone);
        assert_eq!(
            century.resolve(stamp("Feb 29 10:00:00")),
            Some(epoch("2096-02-29T10:00:00Z"))
        );
    }

    #[test]
    fn zone_offset_applies_and_year_uses_local_reference() {
        // Reference 2025-12-31T15:30Z is 2026-01-01T00:30 in +09:00.
        let zone = FixedOffset::east_opt(9 * 3600).unwrap();
        let mut clock = YearlessClock::new(utc("2025-12-31T15:30:00Z"), zone);
        assert_eq!(
            clock.resolve(stamp("Jan  1 00:10:00")),
            Some(epoch("2026-01-01T00:10:00+09:00"))
        );
        assert_eq!(
            clock.resolve(stamp("Dec 31 23:00:00")),
            Some(epoch("2025-12-31T23:00:00+09:00"))
        );
        assert_eq!(
            clock.resolve(stamp("Jan  1 00:50:00")),
            Some(epoch("2026-01-01T00:50:00+09:00"))
        );
        assert_eq!(
            clock.resolve(stamp("Jan  2 02:31:00")),
            Some(epoch("2025-01-02T02:31:00+09:00")),
            "more than 26 hours after the local reference: last year"
        );
    }

    #[test]
    fn the_year_boundary_with_clock_skew() {
        let zone = FixedOffset::east_opt(0).unwrap();
        // Read on Dec 31 23:50: a Jan 1 line is a clock ahead of the reference, next year.
        let mut eve = YearlessClock::new(utc("2026-12-31T23:50:00Z"), zone);
        let lines = [
            ("Jan  1 00:30:00", "2027-01-01T00:30:00Z"),
            ("Dec 31 23:59:00", "2026-12-31T23:59:00Z"),
            ("Dec 30 08:00:00", "2026-12-30T08:00:00Z"),
            ("Jan  2 01:50:00", "2027-01-02T01:50:00Z"),
            ("Jan  2 01:50:01", "2026-01-02T01:50:01Z"),
            ("Jan  5 00:00:00", "2026-01-05T00:00:00Z"),
            ("Feb 29 08:00:00", "2024-02-29T08:00:00Z"),
        ];
        for (text, want) in lines {
            assert_eq!(eve.resolve(stamp(text)), Some(epoch(want)), "eve: {text}");
        }
        // Read on Jan 1 00:10: a Dec 31 23:59 line is last year.
        let mut new_year = YearlessClock::new(utc("2027-01-01T00:10:00Z"), zone);
        let lines = [
            ("Dec 31 23:59:00", "2026-12-31T23:59:00Z"),
            ("Jan  1 00:05:00", "2027-01-01T00:05:00Z"),
            ("Jan  1 20:00:00", "2027-01-01T20:00:00Z"),
        ];
        for (text, want) in lines {
            assert_eq!(
                new_year.resolve(stamp(text)),
                Some(epoch(want)),
                "new year: {text}"
            );
        }
        // A leap year comes within reach across the boundary: 2027-12-31 reads Feb 29
        // as 2024's, and a Feb 29 line is never put in the next year.
        let mut leap_eve = YearlessClock::new(utc("2027-12-31T23:50:00Z"), zone);
        assert_eq!(
            leap_eve.resolve(stamp("Feb 29 08:00:00")),
            Some(epoch("2024-02-29T08:00:00Z"))
        );
        assert_eq!(
            leap_eve.resolve(stamp("Jan  1 00:30:00")),
            Some(epoch("2028-01-01T00:30:00Z"))
        );
    }

    /// A zone with DST, to check gaps and overlaps without touching `TZ`: `STD` seconds east
    /// of UTC, `DST` from 2026-03-29 02:00 standard time until 2026-10-25 03:00 summer time.
    #[derive(Debug, Clone, Copy)]
    struct TestDst<const STD: i32, const DST: i32>;

    impl<const STD: i32, const DST: i32> TestDst<STD, DST> {
        fn offset_at(utc_secs: i64) -> FixedOffset {
            let spring = epoch("2026-03-29T02:00:00Z") - i64::from(STD);
            let autumn = epoch("2026-10-25T03:00:00Z") - i64::from(DST);
            let secs = if (spring..autumn).contains(&utc_secs) {
                DST
            } else {
                STD
            };
            FixedOffset::east_opt(secs).unwrap()
        }
    }

    impl<const STD: i32, const DST: i32> TimeZone for TestDst<STD, DST> {
        type Offset = FixedOffset;
        fn from_offset(_: &FixedOffset) -> Self {
            TestDst
        }
        fn offset_from_local_date(&self, _: &NaiveDate) -> LocalResult<FixedOffset> {
            unimplemented!("not used")
        }
        fn offset_from_local_datetime(&self, local: &NaiveDateTime) -> LocalResult<FixedOffset> {
            let naive = local.and_utc().timestamp();
            let fits: Vec<FixedOffset> = [STD, DST]
                .into_iter()
                .map(|secs| FixedOffset::east_opt(secs).unwrap())
                .filter(|o| Self::offset_at(naive - i64::from(o.local_minus_utc())) == *o)
                .collect();
            match fits.as_slice() {
                [] => LocalResult::None,
                [one] => LocalResult::Single(*one),
                [a, b] => LocalResult::Ambiguous(*a, *b),
                _ => unreachable!(),
            }
        }
        fn offset_from_utc_date(&self, _: &NaiveDate) -> FixedOffset {
            unimplemented!("not used")
        }
        fn offset_from_utc_datetime(&self, utc: &NaiveDateTime) -> FixedOffset {
            Self::offset_at(utc.and_utc().timestamp())
        }
    }

    fn check_zone<Z: TimeZone>(zone: Z, cases: &[(&str, &str, &str)]) -> YearlessClock<Z> {
        let mut clock = YearlessClock::new(utc("2026-11-27T12:00:00Z"), zone);
        for (name, text, want) in cases {
            for _ in 0..2 {
                assert_eq!(clock.resolve(stamp(text)), Some(epoch(want)), "{name}");
            }
        }
        clock
    }

    /// Europe's 2026 changes as local stamps and the instants they are read as.
    const EUROPEAN_2026: &[(&str, &str, &str)] = &[
        ("winter", "Jan 10 12:00:00", "2026-01-10T11:00:00Z"),
        ("summer", "Jul 10 12:00:00", "2026-07-10T10:00:00Z"),
        // 02:30 does not exist on Mar 29: read with +01:00, i.e. 03:30 +02:00.
        (
            "gap_shifts_forward",
            "Mar 29 02:30:00",
            "2026-03-29T01:30:00Z",
        ),
        ("after_gap", "Mar 29 03:00:00", "2026-03-29T01:00:00Z"),
        ("before_gap", "Mar 29 01:59:59", "2026-03-29T00:59:59Z"),
        // 02:30 happens twice on Oct 25: the earlier (+02:00) instant.
        (
            "overlap_takes_earliest",
            "Oct 25 02:30:00",
            "2026-10-25T00:30:00Z",
        ),
        ("after_overlap", "Oct 25 03:00:00", "2026-10-25T02:00:00Z"),
    ];

    #[test]
    fn dst_gap_and_overlap() {
        // European: +01:00, +02:00 in summer; gap 02:00-03:00 local, overlap 02:00-03:00.
        check_zone(TestDst::<3600, 7200>, EUROPEAN_2026);
    }

    #[test]
    fn a_named_zone_from_zoneinfo_reads_gaps_and_overlaps_like_the_model_zone() {
        // The zone production uses (TZif rules through jiff), on the same cases.
        let berlin = crate::clock::Zone::named("Europe/Berlin").unwrap();
        check_zone(berlin, EUROPEAN_2026);
    }

    #[test]
    fn half_hour_dst_shift_inside_an_hour() {
        // Lord Howe-like: +10:30, +11:00 in summer. On Mar 29 02:00-02:30 does not exist
        // and 02:30-03:00 is +11:00, so hour 2 has two offsets and is resolved per line
        // rather than from the hour cache.
        let clock = check_zone(
            TestDst::<37800, 39600>,
            &[
                ("before_gap", "Mar 29 01:45:00", "2026-03-28T15:15:00Z"),
                (
                    "in_half_hour_gap_shifts_forward",
                    "Mar 29 02:15:00",
                    "2026-03-28T15:45:00Z",
                ),
                (
                    "gap_end_shifts_forward",
                    "Mar 29 02:29:59",
                    "2026-03-28T15:59:59Z",
                ),
                (
                    "after_gap_same_hour",
                    "Mar 29 02:30:00",
                    "2026-03-28T15:30:00Z",
                ),
                (
                    "after_gap_same_hour_later",
                    "Mar 29 02:45:00",
                    "2026-03-28T15:45:00Z",
                ),
                ("next_hour", "Mar 29 03:00:00", "2026-03-28T16:00:00Z"),
                (
                    "half_hour_overlap_takes_earliest",
                    "Oct 25 02:45:00",
                    "2026-10-24T15:45:00Z",
                ),
                ("after_overlap", "Oct 25 03:15:00", "2026-10-24T16:45:00Z"),
            ],
        );
        let index = (2 * 31 + 28) * 24 + 2;
        assert!(
            matches!(clock.slots[index], Slot::Irregular { .. }),
            "{:?}",
            clock.slots[index]
        );
        let index = (9 * 31 + 24) * 24 + 2;
        assert!(
            matches!(clock.slots[index], Slot::Regular { .. }),
            "{:?}",
            clock.slots[index]
        );
    }

    #[test]
    fn system_zone_resolves_without_panicking() {
        // Whatever zone the machine is in, a past stamp resolves to a time not after the
        // reference and within a year and a day of it.
        let reference = utc("2026-11-27T12:00:00Z");
        let mut clock = YearlessClock::new(reference, crate::clock::Zone::system());
        for text in [
            "Jan  1 00:00:00",
            "Mar 29 02:30:00",
            "Oct 25 02:30:00",
            "Nov 26 23:00:00",
        ] {
            let t = clock.resolve(stamp(text)).unwrap();
            assert!(t <= reference.timestamp() + 3600, "{text}");
            assert!(t > reference.timestamp() - 367 * 86_400, "{text}");
        }
    }
}
