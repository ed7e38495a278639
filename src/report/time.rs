//! Moments in reports. Reports keep the stored Unix seconds as numbers from the store to
//! the renderer; text (RFC 3339 in JSON, tables and CSV, shorter labels in charts) is made
//! only where a renderer writes it, so no renderer ever parses a time back from text.

use std::fmt;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

/// A moment in a report: Unix seconds, UTC. Shown (`Display`, and serialized) as RFC
/// 3339 UTC (`2026-11-27T12:00:00Z`), or as the bare number when chrono cannot hold it,
/// the one rule for times in output ([`super::format_time`] is this).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp(pub i64);

impl Stamp {
    /// The moment as Unix seconds, for arithmetic (chart and timeline geometry).
    pub fn unix(self) -> i64 {
        self.0
    }

    /// The moment in chrono's terms; `None` beyond what chrono holds.
    fn utc(self) -> Option<DateTime<Utc>> {
        DateTime::<Utc>::from_timestamp(self.0, 0)
    }

    /// The moment formatted with `pattern` (chrono's strftime, UTC), or the bare number
    /// when chrono cannot hold it: for labels a renderer needs beyond the ones below.
    pub fn formatted(self, pattern: &str) -> String {
        self.utc()
            .map_or_else(|| self.0.to_string(), |t| t.format(pattern).to_string())
    }

    /// The UTC date, `2026-11-27`: a day's (or an ISO week's) bar.
    pub fn date(self) -> String {
        self.formatted("%Y-%m-%d")
    }

    /// The UTC month, `2026-11`: a month's bar.
    pub fn month(self) -> String {
        self.formatted("%Y-%m")
    }

    /// The UTC date and minute for people, `2026-11-27 15:00`: an hour's bar.
    pub fn minute(self) -> String {
        self.formatted("%Y-%m-%d %H:%M")
    }

    /// Like [`Stamp::minute`] without the year, `11-27 15:00`: a timeline grid label.
    pub fn minute_in_year(self) -> String {
        self.formatted("%m-%d %H:%M")
    }

    /// The UTC hour of the day, 0 to 23: which hours get a tick under the chart.
    pub fn hour_of_day(self) -> i64 {
        self.0.rem_euclid(86_400) / 3600
    }
}

impl From<i64> for Stamp {
    fn from(unix: i64) -> Stamp {
        Stamp(unix)
    }
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.utc() {
            Some(t) => f.write_str(&t.to_rfc3339_opts(SecondsFormat::Secs, true)),
            None => write!(f, "{}", self.0),
        }
    }
}

impl Serialize for Stamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Serializes a date as `YYYY-MM-DD` (`show`'s `per_day`); chrono's own serde support is
/// not enabled for one field.
pub(crate) fn serialize_date<S: Serializer>(
    date: &NaiveDate,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&date.format("%Y-%m-%d"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-27T12:00:00Z.
    const NOON: i64 = 1_795_780_800;

    #[test]
    fn stamps_read_as_format_time_writes() {
        assert_eq!(Stamp(NOON).to_string(), "2026-11-27T12:00:00Z");
        assert_eq!(Stamp(-1).to_string(), "1969-12-31T23:59:59Z");
        assert_eq!(Stamp(i64::MAX).to_string(), i64::MAX.to_string());
        assert_eq!(
            serde_json::to_string(&Stamp(NOON)).unwrap(),
            "\"2026-11-27T12:00:00Z\""
        );
    }

    #[test]
    fn stamps_give_the_labels_charts_need() {
        let t = Stamp(NOON + 3 * 3600 + 59);
        assert_eq!(t.date(), "2026-11-27");
        assert_eq!(t.month(), "2026-11");
        assert_eq!(t.minute(), "2026-11-27 15:00");
        assert_eq!(t.minute_in_year(), "11-27 15:00");
        assert_eq!(t.hour_of_day(), 15);
        assert_eq!(Stamp(-1).hour_of_day(), 23);
    }
}
