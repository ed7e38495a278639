//! "Now": the system clock, or `--as-of` for reproducible runs and tests. Nothing else
//! in saslguard asks the system for the time of day.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use chrono::{
    DateTime, Datelike, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Timelike,
    Utc,
};

/// The moment a command acts at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    now: DateTime<Utc>,
}

impl Clock {
    /// `as_of` when given, else the system clock.
    pub fn new(as_of: Option<DateTime<Utc>>) -> Clock {
        Clock {
            now: as_of.unwrap_or_else(Utc::now),
        }
    }

    /// The moment as a UTC date-time.
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// The moment as Unix seconds.
    pub fn unix(&self) -> i64 {
        self.now.timestamp()
    }
}

/// The time zone log stamps without an offset are local time in: the `timezone` of the
/// config, else `TZ`, else the system's /etc/localtime. Resolved once at start
/// ([`Zone::resolve`]) and passed down, so nothing changes the process environment
/// and the parser reads the same rules the whole run.
///
/// It implements [`chrono::TimeZone`], so the parser's year-less clock and any local
/// display take it like any chrono zone; the rules come from the TZif file through
/// `jiff` (chrono alone cannot load a named zone).
#[derive(Debug, Clone)]
pub struct Zone {
    rules: jiff::tz::TimeZone,
}

/// Where named zones live: the same database `TZ` names resolve in.
const ZONEINFO: &str = "/usr/share/zoneinfo";

impl Zone {
    /// Coordinated Universal Time.
    pub fn utc() -> Zone {
        Zone {
            rules: jiff::tz::TimeZone::UTC,
        }
    }

    /// The zone in force: `configured` (the config's `timezone`) when given, else `TZ`
    /// when set and not empty, else the system zone. A name that names no zone is an
    /// error rather than silent UTC.
    pub fn resolve(configured: Option<&str>) -> anyhow::Result<Zone> {
        if let Some(name) = configured {
            return Zone::named(name);
        }
        match std::env::var("TZ") {
            Ok(name) if !name.is_empty() => {
                Zone::named(&name).context("the TZ environment variable")
            }
            _ => Ok(Zone::system()),
        }
    }

    /// A zone by name as `TZ` takes it: `UTC`, an IANA name under /usr/share/zoneinfo
    /// (`Europe/Berlin`, optionally with a leading `:`), or an absolute path to a TZif
    /// file.
    pub fn named(zone: &str) -> anyhow::Result<Zone> {
        if zone == "UTC" || zone == "UTC0" {
            return Ok(Zone::utc());
        }
        let name = zone.strip_prefix(':').unwrap_or(zone);
        if name.is_empty() || name.split('/').any(|part| part == "..") {
            bail!("invalid time zone name {zone:?}");
        }
        let file = if name.starts_with('/') {
            PathBuf::from(name)
        } else {
            Path::new(ZONEINFO).join(name)
        };
        if !file.is_file() {
            bail!(
                "unknown time zone {zone:?} (no {} on this system)",
                file.display()
            );
        }
        let data = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        let rules = jiff::tz::TimeZone::tzif(name, &data)
            .with_context(|| format!("time zone {zone:?}: {} is no TZif file", file.display()))?;
        Ok(Zone { rules })
    }

    /// The system zone (/etc/localtime), or UTC when there is none, as the C library
    /// does.
    pub fn system() -> Zone {
        std::fs::read("/etc/localtime")
            .ok()
            .and_then(|data| jiff::tz::TimeZone::tzif("localtime", &data).ok())
            .map_or_else(Zone::utc, |rules| Zone { rules })
    }

    /// The offset of a jiff offset, tagged with this zone.
    fn tagged(&self, offset: jiff::tz::Offset) -> ZoneOffset {
        ZoneOffset {
            zone: self.clone(),
            fixed: FixedOffset::east_opt(offset.seconds())
                .unwrap_or_else(|| chrono::Offset::fix(&Utc)),
        }
    }
}

/// A UTC offset of a [`Zone`] at some instant: chrono needs the offset to lead back to
/// its zone.
#[derive(Debug, Clone)]
pub struct ZoneOffset {
    zone: Zone,
    fixed: FixedOffset,
}

impl chrono::Offset for ZoneOffset {
    fn fix(&self) -> FixedOffset {
        self.fixed
    }
}

impl std::fmt::Display for ZoneOffset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.fixed.fmt(f)
    }
}

/// A chrono local date-time as jiff's, to the second; `None` outside jiff's years
/// (-9999..=9999).
fn civil(local: &NaiveDateTime) -> Option<jiff::civil::DateTime> {
    let narrow = |n: u32| i8::try_from(n).ok();
    jiff::civil::DateTime::new(
        i16::try_from(local.year()).ok()?,
        narrow(local.month())?,
        narrow(local.day())?,
        narrow(local.hour())?,
        narrow(local.minute())?,
        narrow(local.second())?,
        0,
    )
    .ok()
}

impl chrono::TimeZone for Zone {
    type Offset = ZoneOffset;

    fn from_offset(offset: &ZoneOffset) -> Zone {
        offset.zone.clone()
    }

    fn offset_from_local_date(&self, local: &NaiveDate) -> LocalResult<ZoneOffset> {
        self.offset_from_local_datetime(&local.and_time(NaiveTime::MIN))
    }

    /// The earlier instant first in a fold (the offset before the change); nothing in a
    /// gap, as chrono's own zones answer.
    fn offset_from_local_datetime(&self, local: &NaiveDateTime) -> LocalResult<ZoneOffset> {
        use jiff::tz::AmbiguousOffset;
        let Some(civil) = civil(local) else {
            return LocalResult::None;
        };
        match self.rules.to_ambiguous_timestamp(civil).offset() {
            AmbiguousOffset::Unambiguous { offset } => LocalResult::Single(self.tagged(offset)),
            AmbiguousOffset::Gap { .. } => LocalResult::None,
            AmbiguousOffset::Fold { before, after } => {
                LocalResult::Ambiguous(self.tagged(before), self.tagged(after))
            }
        }
    }

    fn offset_from_utc_date(&self, utc: &NaiveDate) -> ZoneOffset {
        self.offset_from_utc_datetime(&utc.and_time(NaiveTime::MIN))
    }

    fn offset_from_utc_datetime(&self, utc: &NaiveDateTime) -> ZoneOffset {
        let offset = jiff::Timestamp::from_second(utc.and_utc().timestamp())
            .map_or(jiff::tz::Offset::UTC, |at| self.rules.to_offset(at));
        self.tagged(offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone as _;

    fn local(zone: &Zone, text: &str) -> LocalResult<DateTime<Zone>> {
        let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").unwrap();
        zone.from_local_datetime(&naive)
    }

    #[test]
    fn named_zones_load_from_zoneinfo_and_unknown_ones_are_errors() {
        for name in ["UTC", "UTC0", "Europe/Berlin", ":Europe/Berlin"] {
            Zone::named(name).unwrap();
        }
        Zone::named("/usr/share/zoneinfo/Asia/Tokyo").unwrap();
        for bad in [
            "Mars/Olympus",
            "",
            ":",
            "../etc/passwd",
            "Europe/../../etc/passwd",
        ] {
            let err = Zone::named(bad).unwrap_err();
            assert!(format!("{err:#}").contains(&format!("{bad:?}")), "{err:#}");
        }
        // A file that is no TZif file is refused, not read as UTC.
        let err = Zone::named("/etc/passwd").unwrap_err();
        assert!(format!("{err:#}").contains("no TZif file"), "{err:#}");
    }

    #[test]
    fn the_configured_zone_wins_over_tz() {
        // Reads no environment when configured.
        let zone = Zone::resolve(Some("Asia/Tokyo")).unwrap();
        let noon = Utc.with_ymd_and_hms(2026, 11, 27, 3, 0, 0).unwrap();
        assert_eq!(
            noon.with_timezone(&zone).to_rfc3339(),
            "2026-11-27T12:00:00+09:00"
        );
    }

    #[test]
    fn offsets_follow_the_rules_of_the_zone() {
        let york = Zone::named("America/New_York").unwrap();
        let winter = local(&york, "2026-01-10 12:00:00").single().unwrap();
        assert_eq!(winter.to_rfc3339(), "2026-01-10T12:00:00-05:00");
        let summer = local(&york, "2026-07-10 12:00:00").single().unwrap();
        assert_eq!(
            summer.with_timezone(&Utc).to_rfc3339(),
            "2026-07-10T16:00:00+00:00"
        );
        // 2026-03-08 02:30 does not exist; 2026-11-01 01:30 happens twice, earlier first.
        assert!(matches!(
            local(&york, "2026-03-08 02:30:00"),
            LocalResult::None
        ));
        match local(&york, "2026-11-01 01:30:00") {
            LocalResult::Ambiguous(first, second) => {
                assert_eq!(first.to_rfc3339(), "2026-11-01T01:30:00-04:00");
                assert_eq!(second.to_rfc3339(), "2026-11-01T01:30:00-05:00");
            }
            other => panic!("{other:?}"),
        }
        // Years jiff cannot hold are no local time rather than a panic.
        let far = NaiveDate::from_ymd_opt(12_000, 1, 1)
            .unwrap()
            .and_time(NaiveTime::MIN);
        assert!(matches!(york.from_local_datetime(&far), LocalResult::None));
    }
}
