//! Rollups: events counted per hour and per text beside the events themselves
//! (`migrations/006_rollups.sql`), so a ranking over 30 days reads a few hundred
//! thousand hourly rows instead of millions of events.
//!
//! A period `(since, until]` is read in three pieces ([`Split`]): its whole UTC hours
//! from the rollups, and the partial hours at either end straight from `events`, whose
//! primary key (address, kind, time) makes those ranges cheap. The answer is exactly the
//! count over the events, for any period, not only hour-aligned ones.
//!
//! [`Rollups`] accumulates the counts of the events an ingest batch stored for the first
//! time and adds them in the batch's transaction.

use rustc_hash::FxHashMap as HashMap;

use rusqlite::{Connection, Statement, ToSql};

use super::Result;

/// Seconds in a rollup bucket.
pub const HOUR: i64 = 3600;

/// Seconds in a daily bucket.
pub const DAY: i64 = 86_400;

/// The rollup hour of a time: `floor(ts / 3600)`, also for times before 1970.
pub fn hour_of(ts: i64) -> i64 {
    ts.div_euclid(HOUR)
}

/// The rollup day of a time: `floor(ts / 86400)`, the UTC day.
pub fn day_of(ts: i64) -> i64 {
    ts.div_euclid(DAY)
}

/// The texts an event carries, as `label_hours.dimension` numbers them.
pub const DIMENSIONS: usize = 3;

/// A period `(since, until]` cut into the pieces the queries read: the partial hour at
/// its start (`head_*`, times, inclusive), its whole hours (`hour_from..=hour_to`), and
/// the partial hour at its end (`tail_*`). The whole hours are cut once more for the
/// daily table: the hours before the first whole UTC day (`lead_*`), the whole days
/// (`day_*`) and the hours after the last (`trail_*`). An empty piece has `from > to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    /// The whole period as inclusive times: `since + 1 ..= until`.
    pub from: i64,
    pub to: i64,
    pub head_from: i64,
    pub head_to: i64,
    /// The hour the head lies in (for finding the addresses active then).
    pub head_hour: i64,
    pub hour_from: i64,
    pub hour_to: i64,
    pub lead_from: i64,
    pub lead_to: i64,
    pub day_from: i64,
    pub day_to: i64,
    pub trail_from: i64,
    pub trail_to: i64,
    pub tail_from: i64,
    pub tail_to: i64,
    pub tail_hour: i64,
}

impl Split {
    /// Cuts `(since, until]`; `since = i64::MIN` means from the beginning.
    pub fn new(since: i64, until: i64) -> Split {
        let lo = since.saturating_add(1);
        let hi = until;
        let empty = Split {
            from: lo,
            to: hi,
            head_from: 1,
            head_to: 0,
            head_hour: 0,
            hour_from: 1,
            hour_to: 0,
            lead_from: 1,
            lead_to: 0,
            day_from: 1,
            day_to: 0,
            trail_from: 1,
            trail_to: 0,
            tail_from: 1,
            tail_to: 0,
            tail_hour: 0,
        };
        if lo > hi {
            return empty;
        }
        // Hour h is whole inside [lo, hi] when h*3600 >= lo and h*3600 + 3599 <= hi.
        let first_whole = lo.div_euclid(HOUR) + i64::from(lo.rem_euclid(HOUR) != 0);
        let last_whole = hi.saturating_add(1).div_euclid(HOUR) - 1;
        if first_whole <= last_whole {
            // Whole days inside the whole hours.
            let first_day = first_whole.div_euclid(24) + i64::from(first_whole.rem_euclid(24) != 0);
            let last_day = (last_whole + 1).div_euclid(24) - 1;
            let (lead, days, trail) = if first_day <= last_day {
                (
                    (first_whole, first_day * 24 - 1),
                    (first_day, last_day),
                    ((last_day + 1) * 24, last_whole),
                )
            } else {
                ((first_whole, last_whole), (1, 0), (1, 0))
            };
            Split {
                from: lo,
                to: hi,
                lead_from: lead.0,
                lead_to: lead.1,
                day_from: days.0,
                day_to: days.1,
                trail_from: trail.0,
                trail_to: trail.1,
                // From the beginning: nothing lies before the first whole hour.
                head_from: if since == i64::MIN { 1 } else { lo },
                head_to: if since == i64::MIN {
                    0
                } else {
                    first_whole * HOUR - 1
                },
                head_hour: hour_of(lo),
                hour_from: first_whole,
                hour_to: last_whole,
                tail_from: (last_whole + 1) * HOUR,
                tail_to: hi,
                tail_hour: hour_of(hi),
            }
        } else {
            // No whole hour: at most two partial ones.
            let head_to = hi.min(hour_of(lo) * HOUR + (HOUR - 1));
            Split {
                from: lo,
                to: hi,
                head_from: lo,
                head_to,
                head_hour: hour_of(lo),
                tail_from: head_to + 1,
                tail_to: hi,
                tail_hour: hour_of(hi),
                ..empty
            }
        }
    }

    /// Binds this split to the parameters `:{prefix}head_from`, ... that a statement
    /// uses (those it does not use are skipped).
    pub fn bind(&self, stmt: &mut Statement<'_>, prefix: &str) -> Result<()> {
        for (name, value) in [
            ("from", self.from),
            ("to", self.to),
            ("head_from", self.head_from),
            ("head_to", self.head_to),
            ("head_hour", self.head_hour),
            ("hour_from", self.hour_from),
            ("hour_to", self.hour_to),
            ("lead_from", self.lead_from),
            ("lead_to", self.lead_to),
            ("day_from", self.day_from),
            ("day_to", self.day_to),
            ("trail_from", self.trail_from),
            ("trail_to", self.trail_to),
            ("tail_from", self.tail_from),
            ("tail_to", self.tail_to),
            ("tail_hour", self.tail_hour),
        ] {
            bind(stmt, &format!(":{prefix}{name}"), &value)?;
        }
        Ok(())
    }
}

/// Binds `value` to the named parameter `name` if the statement has it.
pub fn bind(stmt: &mut Statement<'_>, name: &str, value: &dyn ToSql) -> Result<()> {
    if let Some(index) = stmt.parameter_index(name)? {
        stmt.raw_bind_parameter(index, value)?;
    }
    Ok(())
}

/// The pieces of a split period in time order, for one address `a.id`: (table, its
/// time column, the piece's parameter name, what to add up).
const PIECES: [(&str, &str, &str, &str); 5] = [
    ("events", "ts", "head", "COUNT(*)"),
    (
        "address_hours",
        "hour",
        "lead",
        "COALESCE(SUM(r.events), 0)",
    ),
    ("address_days", "day", "day", "COALESCE(SUM(r.events), 0)"),
    (
        "address_hours",
        "hour",
        "trail",
        "COALESCE(SUM(r.events), 0)",
    ),
    ("events", "ts", "tail", "COUNT(*)"),
];

/// SQL: events of `kind` of the address `a.id` inside the split period bound with
/// `prefix`: whole days from `address_days`, the whole hours around them from
/// `address_hours`, the partial hours from `events`. One seek into each per address.
pub fn address_events(kind: i64, prefix: &str) -> String {
    let parts: Vec<String> = PIECES
        .iter()
        .map(|(table, column, piece, sum)| {
            format!(
                "(SELECT {sum} FROM {table} AS r WHERE r.address_id = a.id AND r.kind = {kind}
                  AND r.{column} BETWEEN :{prefix}{piece}_from AND :{prefix}{piece}_to)"
            )
        })
        .collect();
    format!("({})", parts.join(" + "))
}

/// SQL: the first event of `kind` of the address `a.id` inside the split period: one
/// seek into the primary key of `events`, which holds an address's events in time order.
pub fn address_first(kind: i64, prefix: &str) -> String {
    format!(
        "(SELECT MIN(e.ts) FROM events AS e WHERE e.address_id = a.id AND e.kind = {kind}
          AND e.ts BETWEEN :{prefix}from AND :{prefix}to)"
    )
}

/// SQL: the last event of `kind` of the address `a.id` inside the split period.
pub fn address_last(kind: i64, prefix: &str) -> String {
    format!(
        "(SELECT MAX(e.ts) FROM events AS e WHERE e.address_id = a.id AND e.kind = {kind}
          AND e.ts BETWEEN :{prefix}from AND :{prefix}to)"
    )
}

/// SQL: the events of `kind` in the partial hours of a split period (`head` or `tail`),
/// as rows of `events AS e`: only the addresses active in that hour are visited.
pub fn partial_hour_events(kind: i64, piece: &str, columns: &str) -> String {
    format!(
        "SELECT {columns} FROM address_hours AS h
         CROSS JOIN events AS e ON e.address_id = h.address_id AND e.kind = h.kind
         WHERE h.hour = :{piece}_hour AND h.kind = {kind}
           AND e.ts BETWEEN :{piece}_from AND :{piece}_to"
    )
}

/// Counts of the events one batch stored for the first time, added to the rollup tables
/// when the batch commits.
#[derive(Debug, Default)]
pub struct Rollups {
    /// (address, kind, hour) -> events
    address_hours: HashMap<(i64, i64, i64), i64>,
    /// (address, kind, day) -> events
    address_days: HashMap<(i64, i64, i64), i64>,
    /// (kind, hour) -> events
    hour_totals: HashMap<(i64, i64), i64>,
    /// (dimension, hour, label) -> (failures, first, last)
    label_hours: HashMap<(i64, i64, i64), (i64, i64, i64)>,
}

/// Adds one event at `ts` to a (count, first, last) triple.
fn add_to(entry: &mut (i64, i64, i64), ts: i64) {
    entry.0 += 1;
    entry.1 = entry.1.min(ts);
    entry.2 = entry.2.max(ts);
}

impl Rollups {
    /// Counts one newly stored event. `labels` are its username (0 when none was
    /// logged), mechanism and service ids, in dimension order; only counted failures
    /// (kind 0) are rolled up per text.
    pub fn add(&mut self, address_id: i64, kind: i64, ts: i64, labels: [i64; DIMENSIONS]) {
        let hour = hour_of(ts);
        *self
            .address_hours
            .entry((address_id, kind, hour))
            .or_insert(0) += 1;
        *self
            .address_days
            .entry((address_id, kind, day_of(ts)))
            .or_insert(0) += 1;
        *self.hour_totals.entry((kind, hour)).or_insert(0) += 1;
        if kind != 0 {
            return;
        }
        for (dimension, label) in labels.into_iter().enumerate() {
            let dimension = dimension as i64;
            add_to(
                self.label_hours
                    .entry((dimension, hour, label))
                    .or_insert((0, ts, ts)),
                ts,
            );
        }
    }

    /// Adds everything counted to the rollup tables (inside the caller's transaction)
    /// and starts over.
    pub fn flush(&mut self, conn: &Connection) -> Result<()> {
        let rows = self.address_hours.drain();
        upsert(
            conn,
            "INSERT INTO address_hours (address_id, kind, hour, events) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (address_id, kind, hour) DO UPDATE SET events = events + excluded.events",
            rows.map(|((address, kind, hour), n)| [address, kind, hour, n]),
        )?;
        let rows = self.address_days.drain();
        upsert(
            conn,
            "INSERT INTO address_days (address_id, kind, day, events) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (address_id, kind, day) DO UPDATE SET events = events + excluded.events",
            rows.map(|((address, kind, day), n)| [address, kind, day, n]),
        )?;
        let rows = self.hour_totals.drain();
        upsert(
            conn,
            "INSERT INTO hour_totals (kind, hour, events) VALUES (?1, ?2, ?3)
             ON CONFLICT (kind, hour) DO UPDATE SET events = events + excluded.events",
            rows.map(|((kind, hour), n)| [kind, hour, n]),
        )?;
        let rows = self.label_hours.drain();
        upsert(
            conn,
            "INSERT INTO label_hours (dimension, hour, label_id, failures, first_ts, last_ts)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (dimension, hour, label_id) DO UPDATE SET
                 failures = failures + excluded.failures,
                 first_ts = MIN(first_ts, excluded.first_ts),
                 last_ts = MAX(last_ts, excluded.last_ts)",
            rows.map(|((dimension, hour, label), (n, first, last))| {
                [dimension, hour, label, n, first, last]
            }),
        )
    }
}

/// Runs the upsert `sql` once per row, in key order (neighbouring rows share B-tree
/// pages).
fn upsert<const N: usize>(
    conn: &Connection,
    sql: &str,
    rows: impl Iterator<Item = [i64; N]>,
) -> Result<()> {
    let mut rows: Vec<[i64; N]> = rows.collect();
    rows.sort_unstable();
    let mut stmt = conn.prepare_cached(sql)?;
    for row in rows {
        stmt.execute(rusqlite::params_from_iter(row))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every second of (since, until] is in exactly one piece, and whole hours are whole.
    #[test]
    fn split_covers_the_period_exactly_once() {
        let base = 1_764_000_000 - 1_764_000_000 % DAY; // midnight UTC
        let offsets = [
            -90_001, -86_400, -7201, -3600, -3599, -1, 0, 1, 3599, 3600, 3601, 7200, 82_800,
            86_399, 86_400, 86_401, 90_000, 172_800, 180_000,
        ];
        for &a in &offsets {
            for &b in &offsets {
                let (since, until) = (base + a, base + b);
                let s = Split::new(since, until);
                for ts in (since - 2)..=(until + 2) {
                    let inside = ts > since && ts <= until;
                    let hour = hour_of(ts);
                    let pieces = [
                        (s.head_from..=s.head_to).contains(&ts),
                        (s.hour_from..=s.hour_to).contains(&hour),
                        (s.tail_from..=s.tail_to).contains(&ts),
                    ];
                    let hits = pieces.iter().filter(|&&p| p).count();
                    assert_eq!(
                        hits,
                        usize::from(inside),
                        "ts {ts} in ({since}, {until}]: {s:?}"
                    );
                    let day_pieces = [
                        (s.head_from..=s.head_to).contains(&ts),
                        (s.lead_from..=s.lead_to).contains(&hour),
                        (s.day_from..=s.day_to).contains(&day_of(ts)),
                        (s.trail_from..=s.trail_to).contains(&hour),
                        (s.tail_from..=s.tail_to).contains(&ts),
                    ];
                    let hits = day_pieces.iter().filter(|&&p| p).count();
                    assert_eq!(
                        hits,
                        usize::from(inside),
                        "ts {ts} in ({since}, {until}] by days: {s:?}"
                    );
                }
                if s.day_from <= s.day_to {
                    assert!(s.day_from * DAY > since && s.day_to * DAY + DAY - 1 <= until);
                }
                if s.hour_from <= s.hour_to {
                    assert!(s.hour_from * HOUR > since, "{s:?}");
                    assert!(s.hour_to * HOUR + HOUR - 1 <= until, "{s:?}");
                }
                if s.head_from <= s.head_to {
                    assert_eq!(hour_of(s.head_from), s.head_hour);
                    assert_eq!(hour_of(s.head_to), s.head_hour);
                }
                if s.tail_from <= s.tail_to {
                    assert_eq!(hour_of(s.tail_from), s.tail_hour);
                    assert_eq!(hour_of(s.tail_to), s.tail_hour);
                }
            }
        }
    }

    #[test]
    fn split_from_the_beginning_has_no_head() {
        let s = Split::new(i64::MIN, 1_764_001_234);
        assert!(s.head_from > s.head_to);
        assert_eq!(s.hour_to, hour_of(1_764_001_234) - 1);
        assert_eq!(s.tail_from, hour_of(1_764_001_234) * HOUR);
        assert_eq!(s.tail_to, 1_764_001_234);
    }
}
