//! Rollups: events counted per day and address (with the day's 24 hourly counts), per
//! hour, and per text and hour, beside the events themselves
//! (`migrations/006_rollups.sql`, `008_rollups_by_day.sql`). The daily table is keyed by
//! kind and day first, so a period reads the rows of its own days and nothing older: its
//! cost follows the period's data, not the addresses ever seen.
//!
//! A period `(since, until]` is read in pieces ([`Split`]): its whole UTC days and the
//! whole hours around them from the rollups, and the partial hours at either end
//! straight from `events`, whose primary key (address, kind, time) makes those ranges
//! cheap. The answer is exactly the count over the events, for any period, not only
//! hour-aligned ones.
//!
//! [`Rollups`] accumulates the counts of the events an ingest batch stored for the first
//! time (the parsing thread counts each chunk, see `ingest.rs`) and adds them in the
//! batch's transaction.

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

    /// Binds this split to the parameters `:{prefix}head_from`, ... that a statement
    /// uses (those it does not use are skipped). The lead and trail hours are also bound
    /// as the day they lie in and their first and last hour of that day (`lead_day`,
    /// `lead_h1`, `lead_h2`); an empty one gets a day no row has.
    pub fn bind(&self, stmt: &mut Statement<'_>, prefix: &str) -> Result<()> {
        let in_day = |from: i64, to: i64| {
            if from > to {
                (i64::MIN, 1, 0)
            } else {
                (from.div_euclid(24), from.rem_euclid(24), to.rem_euclid(24))
            }
        };
        let (lead_day, lead_h1, lead_h2) = in_day(self.lead_from, self.lead_to);
        let (trail_day, trail_h1, trail_h2) = in_day(self.trail_from, self.trail_to);
        // The days the whole hours touch: lead's day, the whole days, trail's day.
        let touched = [
            (self.lead_from <= self.lead_to).then_some((lead_day, lead_day)),
            (self.day_from <= self.day_to).then_some((self.day_from, self.day_to)),
            (self.trail_from <= self.trail_to).then_some((trail_day, trail_day)),
        ];
        let (span_from, span_to) = touched
            .into_iter()
            .flatten()
            .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
            .unwrap_or((1, 0));
        for (name, value) in [
            ("from_day", day_of(self.from)),
            ("to_day", day_of(self.to)),
            ("span_from", span_from),
            ("span_to", span_to),
            ("lead_day", lead_day),
            ("lead_h1", lead_h1),
            ("lead_h2", lead_h2),
            ("trail_day", trail_day),
            ("trail_h1", trail_h1),
            ("trail_h2", trail_h2),
            (
                "head_day",
                partial_day(self.head_from, self.head_to, self.head_hour),
            ),
            (
                "tail_day",
                partial_day(self.tail_from, self.tail_to, self.tail_hour),
            ),
            ("head_h", self.head_hour.rem_euclid(24)),
            ("tail_h", self.tail_hour.rem_euclid(24)),
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

/// The day a partial hour lies in, or a day no row has when the piece is empty (so the
/// rows of that day are not even visited).
fn partial_day(from: i64, to: i64, hour: i64) -> i64 {
    if from > to {
        i64::MIN
    } else {
        hour.div_euclid(24)
    }
}

/// A day row's `hours`: its events per hour of the day, 24 little-endian u32.
pub fn hours_blob(hours: &[u32; 24]) -> Vec<u8> {
    hours.iter().flat_map(|n| n.to_le_bytes()).collect()
}

/// The 24 hourly counts of an `hours` blob (missing bytes count as 0).
pub fn hours_of_blob(blob: &[u8]) -> [u32; 24] {
    let mut hours = [0u32; 24];
    for (slot, bytes) in hours.iter_mut().zip(blob.chunks_exact(4)) {
        *slot = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    hours
}

/// The SQL functions over `hours` blobs: `hours_add(a, b)` (hour by hour),
/// `hours_sum(blob, first, last)` (the hours `first..=last` of the day) and
/// `hour_blob(hour, n)` (`n` events in one hour, for the migration).
pub fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("hours_add", 2, flags, |ctx| {
        let a = hours_of_blob(ctx.get_raw(0).as_blob().unwrap_or_default());
        let b = hours_of_blob(ctx.get_raw(1).as_blob().unwrap_or_default());
        let sum: [u32; 24] = std::array::from_fn(|h| a[h].saturating_add(b[h]));
        Ok(hours_blob(&sum))
    })?;
    // Called once per row a period reads at its ends: sums in place, no allocation.
    conn.create_scalar_function("hours_sum", 3, flags, |ctx| {
        let blob = ctx.get_raw(0).as_blob().unwrap_or_default();
        let first = ctx.get::<i64>(1)?.clamp(0, 24) as usize;
        let last = ctx.get::<i64>(2)?.clamp(-1, 23);
        let last = usize::try_from(last + 1).unwrap_or(0);
        Ok(blob
            .chunks_exact(4)
            .take(last)
            .skip(first)
            .map(|b| i64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
            .sum::<i64>())
    })?;
    conn.create_scalar_function("hour_blob", 2, flags, |ctx| {
        let hour = ctx.get::<i64>(0)?.rem_euclid(24) as usize;
        let n = u32::try_from(ctx.get::<i64>(1)?).unwrap_or(u32::MAX);
        let mut hours = [0u32; 24];
        hours[hour] = n;
        Ok(hours_blob(&hours))
    })?;
    Ok(())
}

/// Binds `value` to the named parameter `name` if the statement has it.
pub fn bind(stmt: &mut Statement<'_>, name: &str, value: &dyn ToSql) -> Result<()> {
    if let Some(index) = stmt.parameter_index(name)? {
        stmt.raw_bind_parameter(index, value)?;
    }
    Ok(())
}

/// SQL: events of `kind` of the address `a.id` inside the split period bound with
/// `prefix`: the whole days and the whole hours around them from one range of
/// `address_days` (the hours from their day's hourly counts), the partial hours from
/// `events`. Three seeks per address (through `address_days_by_address`: the primary
/// key is ordered by day first, for the reads of whole periods).
pub fn address_events(kind: i64, prefix: &str) -> String {
    let p = prefix;
    let events = |piece: &str| {
        format!(
            "(SELECT COUNT(*) FROM events AS r WHERE r.address_id = a.id AND r.kind = {kind}
              AND r.ts BETWEEN :{p}{piece}_from AND :{p}{piece}_to)"
        )
    };
    let days = format!(
        "(SELECT COALESCE(SUM({}), 0)
          FROM address_days AS r INDEXED BY address_days_by_address
          WHERE r.address_id = a.id AND r.kind = {kind}
          AND r.day BETWEEN :{p}span_from AND :{p}span_to)",
        day_row_events(prefix)
    );
    format!("({} + {days} + {})", events("head"), events("tail"))
}

/// SQL: what an `address_days AS r` row with `r.day` between `:{prefix}span_from` and
/// `:{prefix}span_to` holds of the split period: the lead or trail hours of its day, or
/// all its events for a whole day.
pub fn day_row_events(prefix: &str) -> String {
    let p = prefix;
    format!(
        "CASE r.day
             WHEN :{p}lead_day THEN hours_sum(r.hours, :{p}lead_h1, :{p}lead_h2)
             WHEN :{p}trail_day THEN hours_sum(r.hours, :{p}trail_h1, :{p}trail_h2)
             ELSE r.events END"
    )
}

/// SQL: the first event of `kind` of the address whose id is `id` (a column) inside the
/// split period: one
/// seek into the primary key of `events`, which holds an address's events in time order.
pub fn address_first(kind: i64, prefix: &str, id: &str) -> String {
    format!(
        "(SELECT MIN(e.ts) FROM events AS e WHERE e.address_id = {id} AND e.kind = {kind}
          AND e.ts BETWEEN :{prefix}from AND :{prefix}to)"
    )
}

/// SQL: the last event of `kind` of the address whose id is `id` inside the split period.
pub fn address_last(kind: i64, prefix: &str, id: &str) -> String {
    format!(
        "(SELECT MAX(e.ts) FROM events AS e WHERE e.address_id = {id} AND e.kind = {kind}
          AND e.ts BETWEEN :{prefix}from AND :{prefix}to)"
    )
}

/// SQL: the events of `kind` in the partial hours of a split period (`head` or `tail`),
/// as rows of `events AS e`: only the addresses with an event in that very hour (read
/// from the day's rows, which are one range of `address_days`) are sought in `events`.
pub fn partial_hour_events(kind: i64, piece: &str, columns: &str) -> String {
    partial_events(&kind.to_string(), "", piece, columns)
}

/// [`partial_hour_events`] for the kinds `kinds` (`0, 1`) of the split bound with `prefix`.
fn partial_events(kinds: &str, prefix: &str, piece: &str, columns: &str) -> String {
    let p = prefix;
    format!(
        "SELECT {columns} FROM address_days AS h
         CROSS JOIN events AS e ON e.address_id = h.address_id AND e.kind = h.kind
         WHERE h.kind IN ({kinds}) AND h.day = :{p}{piece}_day
           AND hours_sum(h.hours, :{p}{piece}_h, :{p}{piece}_h) > 0
           AND e.ts BETWEEN :{p}{piece}_from AND :{p}{piece}_to"
    )
}

/// SQL: the events of the kinds `kinds` (`0` or `0, 1`) inside the split period bound
/// with `prefix`, as rows `(address_id, kind, n)`, several per address: the whole days
/// and hours from one range of `address_days` per kind (keyed by day first, so only
/// the addresses active in the period are read), the partial hours from `events`.
/// Summed per address they are exact.
pub fn period_rows(kinds: &str, prefix: &str) -> String {
    let p = prefix;
    format!(
        "SELECT r.address_id AS address_id, r.kind AS kind, {n} AS n
         FROM address_days AS r
         WHERE r.kind IN ({kinds}) AND r.day BETWEEN :{p}span_from AND :{p}span_to
         UNION ALL {head}
         UNION ALL {tail}",
        n = day_row_events(prefix),
        head = partial_events(kinds, prefix, "head", "e.address_id, e.kind, 1"),
        tail = partial_events(kinds, prefix, "tail", "e.address_id, e.kind, 1"),
    )
}

/// Counts of the events one batch stored for the first time, added to the rollup tables
/// when the batch commits.
#[derive(Debug, Default)]
pub struct Rollups {
    /// (address, kind, day) -> events, events per hour of the day
    address_days: HashMap<(i64, i64, i64), DayCounts>,
    /// (kind, hour) -> events
    hour_totals: HashMap<(i64, i64), i64>,
    /// (dimension, hour, label) -> (failures, first, last)
    label_hours: HashMap<(i64, i64, i64), (i64, i64, i64)>,
}

/// What one address did on one day (of one kind): a row of `address_days`.
#[derive(Debug, Clone, Copy, Default)]
struct DayCounts {
    events: i64,
    hours: [u32; 24],
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
        let day = self
            .address_days
            .entry((address_id, kind, day_of(ts)))
            .or_default();
        day.events += 1;
        let slot = &mut day.hours[hour.rem_euclid(24) as usize];
        *slot = slot.saturating_add(1);
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

    /// Adds everything counted to the rollup tables (inside the caller's transaction)
    /// and starts over.
    pub fn flush(&mut self, conn: &Connection) -> Result<()> {
        let mut rows: Vec<_> = self
            .address_days
            .drain()
            .map(|((address, kind, day), counts)| ((kind, day, address), counts))
            .collect();
        rows.sort_unstable_by_key(|(key, _)| *key);
        let mut stmt = conn.prepare_cached(
            "INSERT INTO address_days (kind, day, address_id, events, hours)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (kind, day, address_id) DO UPDATE SET
                 events = events + excluded.events,
                 hours = hours_add(hours, excluded.hours)",
        )?;
        for ((kind, day, address), c) in rows {
            stmt.execute(rusqlite::params![
                kind,
                day,
                address,
                c.events,
                hours_blob(&c.hours)
            ])?;
        }
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

    #[test]
    fn hours_blobs_add_and_sum() {
        let conn = Connection::open_in_memory().unwrap();
        register_functions(&conn).unwrap();
        let sum: i64 = conn
            .query_row(
                "SELECT hours_sum(hours_add(hour_blob(3, 5), hour_blob(4, 2)), 3, 3),
                        hours_sum(hours_add(hour_blob(3, 5), hour_blob(4, 2)), 0, 23)
                        * 100",
                [],
                |r| Ok(r.get::<_, i64>(0)? + r.get::<_, i64>(1)?),
            )
            .unwrap();
        assert_eq!(sum, 5 + 700);
        let empty: i64 = conn
            .query_row("SELECT hours_sum(hour_blob(3, 5), 1, 0)", [], |r| r.get(0))
            .unwrap();
        assert_eq!(empty, 0);
        let mut hours = [0u32; 24];
        hours[23] = 7;
        assert_eq!(hours_of_blob(&hours_blob(&hours)), hours);
    }

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
