//! Rollups, backend-neutral: events counted per day and address (with the day's 24
//! hourly counts), per hour, and per text and hour, beside the events themselves. A
//! backend keeps them in its own tables (SQLite: `migrations/sqlite/006_rollups.sql`,
//! `010_rollups_by_day.sql`) and reads a period in pieces ([`Split`]): its whole UTC
//! days and the whole hours around them from the rollups, and the partial hours at
//! either end straight from the events. The answer is exactly the count over the
//! events, for any period, not only hour-aligned ones.
//!
//! [`Rollups`] accumulates the counts of the events an ingest batch stored for the first
//! time (the parsing thread counts each chunk, see `ingest.rs`); the backend's
//! [`super::EventSink`] adds them in the batch's transaction.

use rustc_hash::FxHashMap as HashMap;

use crate::model::EventKind;

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
                // No whole day: the hours lie in one day or run over midnight into the
                // next; each of lead and trail stays inside one day.
                let midnight = (first_whole.div_euclid(24) + 1) * 24;
                if last_whole < midnight {
                    ((first_whole, last_whole), (1, 0), (1, 0))
                } else {
                    ((first_whole, midnight - 1), (1, 0), (midnight, last_whole))
                }
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
}

/// Counts of the events one batch stored for the first time, added to the backend's
/// rollup tables when the batch commits. Kinds are their stored codes
/// ([`EventKind::code`]); addresses and texts the sink's ids.
#[derive(Debug, Default)]
pub struct Rollups {
    /// (address, kind, day) -> events, events per hour of the day
    pub(crate) address_days: HashMap<(i64, i64, i64), DayCounts>,
    /// (kind, hour) -> events
    pub(crate) hour_totals: HashMap<(i64, i64), i64>,
    /// (dimension, hour, label) -> (failures, first, last)
    pub(crate) label_hours: HashMap<(i64, i64, i64), (i64, i64, i64)>,
}

/// What one address did on one day (of one kind): a row of the daily rollup.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DayCounts {
    /// Events that day.
    pub(crate) events: i64,
    /// Events per UTC hour of the day.
    pub(crate) hours: [u32; 24],
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
    /// ([`EventKind::AuthFailed`]) are rolled up per text.
    pub fn add(&mut self, address_id: i64, kind: EventKind, ts: i64, labels: [i64; DIMENSIONS]) {
        let counted = kind == EventKind::AuthFailed;
        let kind = kind.code();
        let hour = hour_of(ts);
        let day = self
            .address_days
            .entry((address_id, kind, day_of(ts)))
            .or_default();
        day.events += 1;
        let slot = &mut day.hours[hour.rem_euclid(24) as usize];
        *slot = slot.saturating_add(1);
        *self.hour_totals.entry((kind, hour)).or_insert(0) += 1;
        if !counted {
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

    /// Adds the counts of `other`, whose addresses and texts are numbered differently
    /// (the parsing thread's own numbers): `address` and `label` give the store's ids.
    pub fn merge(
        &mut self,
        other: Rollups,
        address: impl Fn(i64) -> i64,
        label: impl Fn(i64) -> i64,
    ) {
        for ((a, kind, day), counts) in other.address_days {
            let entry = self
                .address_days
                .entry((address(a), kind, day))
                .or_default();
            entry.events += counts.events;
            for (sum, add) in entry.hours.iter_mut().zip(counts.hours) {
                *sum = sum.saturating_add(add);
            }
        }
        for (key, n) in other.hour_totals {
            *self.hour_totals.entry(key).or_insert(0) += n;
        }
        for ((dimension, hour, l), (n, first, last)) in other.label_hours {
            let entry = self
                .label_hours
                .entry((dimension, hour, label(l)))
                .or_insert((0, first, last));
            entry.0 += n;
            entry.1 = entry.1.min(first);
            entry.2 = entry.2.max(last);
        }
    }
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
                for (from, to) in [(s.lead_from, s.lead_to), (s.trail_from, s.trail_to)] {
                    if from <= to {
                        assert_eq!(from.div_euclid(24), to.div_euclid(24), "{s:?}");
                    }
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
