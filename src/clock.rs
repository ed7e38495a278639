//! "Now": the system clock, or `--as-of` for reproducible runs and tests. Nothing else
//! in saslguard asks the system for the time of day.

use chrono::{DateTime, Utc};

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
