//! SQLite's rollup tables (`migrations/sqlite/006_rollups.sql`,
//! `010_rollups_by_day.sql`): the SQL that reads a [`Split`] period from them, the SQL
//! functions over their `hours` blobs, and the flush of an ingest batch's [`Rollups`].
//! The daily table is keyed by kind and day first, so a period reads the rows of its
//! own days and nothing older: its cost follows the period's data, not the addresses
//! ever seen.

use rusqlite::{Connection, Statement, ToSql};
use rustc_hash::FxHashMap;

use crate::model::EventKind;
use crate::store::Result;
pub use crate::store::rollup::{DAY, DIMENSIONS, HOUR, Rollups, Split, day_of, hour_of};

/// The week of `address_weeks` a day lies in: `floor(day / 7)`.
pub fn week_of_day(day: i64) -> i64 {
    day.div_euclid(7)
}

/// Binds `split` to the parameters `:{prefix}head_from`, ... that a statement
/// uses (those it does not use are skipped). The lead and trail hours are also bound
/// as the day they lie in and their first and last hour of that day (`lead_day`,
/// `lead_h1`, `lead_h2`); an empty one gets a day no row has.
pub fn bind_split(split: &Split, stmt: &mut Statement<'_>, prefix: &str) -> Result<()> {
    let in_day = |from: i64, to: i64| {
        if from > to {
            (i64::MIN, 1, 0)
        } else {
            (from.div_euclid(24), from.rem_euclid(24), to.rem_euclid(24))
        }
    };
    let (lead_day, lead_h1, lead_h2) = in_day(split.lead_from, split.lead_to);
    let (trail_day, trail_h1, trail_h2) = in_day(split.trail_from, split.trail_to);
    // The days the whole hours touch: lead's day, the whole days, trail's day.
    let touched = [
        (split.lead_from <= split.lead_to).then_some((lead_day, lead_day)),
        (split.day_from <= split.day_to).then_some((split.day_from, split.day_to)),
        (split.trail_from <= split.trail_to).then_some((trail_day, trail_day)),
    ];
    let (span_from, span_to) = touched
        .into_iter()
        .flatten()
        .reduce(|(a, b), (c, d)| (a.min(c), b.max(d)))
        .unwrap_or((1, 0));
    for (name, value) in [
        ("from_day", day_of(split.from)),
        ("to_day", day_of(split.to)),
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
            partial_day(split.head_from, split.head_to, split.head_hour),
        ),
        (
            "tail_day",
            partial_day(split.tail_from, split.tail_to, split.tail_hour),
        ),
        ("head_h", split.head_hour.rem_euclid(24)),
        ("tail_h", split.tail_hour.rem_euclid(24)),
        ("from", split.from),
        ("to", split.to),
        ("head_from", split.head_from),
        ("head_to", split.head_to),
        ("head_hour", split.head_hour),
        ("hour_from", split.hour_from),
        ("hour_to", split.hour_to),
        ("lead_from", split.lead_from),
        ("lead_to", split.lead_to),
        ("day_from", split.day_from),
        ("day_to", split.day_to),
        ("trail_from", split.trail_from),
        ("trail_to", split.trail_to),
        ("tail_from", split.tail_from),
        ("tail_to", split.tail_to),
        ("tail_hour", split.tail_hour),
    ] {
        bind(stmt, &format!(":{prefix}{name}"), &value)?;
    }
    Ok(())
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

/// A day row's `hours`: its events per hour of the day, the hours with any in order,
/// each as its hour (one byte) and its count (LEB128). An attacker is active in a few
/// hours of a day, so a row takes a few bytes rather than 24 counts: periods read every
/// row of their days, and the pages they read are what they cost.
pub fn hours_blob(hours: &[u32; 24]) -> Vec<u8> {
    let mut blob = Vec::with_capacity(8);
    for (hour, &n) in hours.iter().enumerate().filter(|(_, n)| **n > 0) {
        blob.push(hour as u8);
        let mut rest = n;
        while rest >= 0x80 {
            blob.push((rest as u8 & 0x7f) | 0x80);
            rest >>= 7;
        }
        blob.push(rest as u8);
    }
    blob
}

/// The 24 hourly counts of an `hours` blob ([`hours_blob`]); anything malformed
/// (an hour past 23, a count cut short) ends the reading.
pub fn hours_of_blob(blob: &[u8]) -> [u32; 24] {
    let mut hours = [0u32; 24];
    let mut bytes = blob.iter();
    while let Some(&hour) = bytes.next() {
        let mut n: u32 = 0;
        let mut shift = 0;
        loop {
            let Some(&byte) = bytes.next() else {
                return hours;
            };
            n |= u32::from(byte & 0x7f).checked_shl(shift).unwrap_or(0);
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        match hours.get_mut(usize::from(hour)) {
            Some(slot) => *slot = slot.saturating_add(n),
            None => return hours,
        }
    }
    hours
}

/// The 24 counts of a blob in the fixed layout of migrations 006 to 011: 24
/// little-endian u32 (missing bytes count as 0).
fn fixed_hours_of_blob(blob: &[u8]) -> [u32; 24] {
    let mut hours = [0u32; 24];
    for (slot, bytes) in hours.iter_mut().zip(blob.chunks_exact(4)) {
        *slot = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    hours
}

/// [`fixed_hours_of_blob`]'s layout from counts.
fn fixed_hours_blob(hours: &[u32; 24]) -> Vec<u8> {
    hours.iter().flat_map(|n| n.to_le_bytes()).collect()
}

/// The SQL functions over `hours` blobs: `hours_merge(a, b)` (hour by hour) and
/// `hours_sum(blob, first, last)` (the hours `first..=last` of the day) in the layout of
/// [`hours_blob`]; for the migrations that wrote the fixed layout, `hour_blob(hour, n)`
/// (`n` events in one hour) and `hours_add(a, b)` in it, and `hours_compact(fixed)`
/// (migration 012) from it.
pub fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    let flags = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("hours_merge", 2, flags, |ctx| {
        let [a, b] = [0, 1].map(|index| hours_of_blob(blob_arg(ctx, index)));
        Ok(hours_blob(&add_hours(&a, &b)))
    })?;
    conn.create_scalar_function("hours_sum", 3, flags, |ctx| {
        let hours = hours_of_blob(ctx.get_raw(0).as_blob().unwrap_or_default());
        let first = ctx.get::<i64>(1)?.clamp(0, 24) as usize;
        let last = usize::try_from(ctx.get::<i64>(2)?.clamp(-1, 23) + 1).unwrap_or(0);
        Ok(hours
            .iter()
            .take(last)
            .skip(first)
            .map(|n| i64::from(*n))
            .sum::<i64>())
    })?;
    conn.create_scalar_function("hours_add", 2, flags, |ctx| {
        let [a, b] = [0, 1].map(|index| fixed_hours_of_blob(blob_arg(ctx, index)));
        Ok(fixed_hours_blob(&add_hours(&a, &b)))
    })?;
    conn.create_scalar_function("hour_blob", 2, flags, |ctx| {
        let hour = ctx.get::<i64>(0)?.rem_euclid(24) as usize;
        let n = u32::try_from(ctx.get::<i64>(1)?).unwrap_or(u32::MAX);
        let mut hours = [0u32; 24];
        hours[hour] = n;
        Ok(fixed_hours_blob(&hours))
    })?;
    // Only a blob of the fixed layout's 96 bytes is converted: one already compact is
    // kept (no day row of an address holds 16,384 events in every hour).
    conn.create_scalar_function("hours_compact", 1, flags, |ctx| {
        let blob = blob_arg(ctx, 0);
        Ok(if blob.len() == 24 * 4 {
            hours_blob(&fixed_hours_of_blob(blob))
        } else {
            blob.to_vec()
        })
    })?;
    Ok(())
}

/// Two days' hourly counts added hour by hour.
fn add_hours(a: &[u32; 24], b: &[u32; 24]) -> [u32; 24] {
    std::array::from_fn(|h| a[h].saturating_add(b[h]))
}

/// Argument `index` of an SQL function call as a blob (anything else as empty).
fn blob_arg<'a>(ctx: &'a rusqlite::functions::Context<'_>, index: usize) -> &'a [u8] {
    ctx.get_raw(index).as_blob().unwrap_or_default()
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
pub fn address_events(kind: EventKind, prefix: &str) -> String {
    let p = prefix;
    let kind = kind.code();
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
pub fn address_first(kind: EventKind, prefix: &str, id: &str) -> String {
    let kind = kind.code();
    format!(
        "(SELECT MIN(e.ts) FROM events AS e WHERE e.address_id = {id} AND e.kind = {kind}
          AND e.ts BETWEEN :{prefix}from AND :{prefix}to)"
    )
}

/// SQL: the last event of `kind` of the address whose id is `id` inside the split period.
pub fn address_last(kind: EventKind, prefix: &str, id: &str) -> String {
    let kind = kind.code();
    format!(
        "(SELECT MAX(e.ts) FROM events AS e WHERE e.address_id = {id} AND e.kind = {kind}
          AND e.ts BETWEEN :{prefix}from AND :{prefix}to)"
    )
}

/// SQL: the events of `kind` in the partial hours of a split period (`head` or `tail`),
/// as rows of `events AS e`: only the addresses with an event in that very hour (read
/// from the day's rows, which are one range of `address_days`) are sought in `events`.
pub fn partial_hour_events(kind: EventKind, piece: &str, columns: &str) -> String {
    partial_events(&super::kinds_sql(&[kind]), "", piece, columns)
}

/// [`partial_hour_events`] for the kinds `kinds` (an SQL list, see [`super::kinds_sql`]) of the split bound with `prefix`.
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

/// SQL: the events of the kinds `kinds` inside the split period bound
/// with `prefix`, as rows `(address_id, kind, n)`, several per address: the whole days
/// and hours from one range of `address_days` per kind (keyed by day first, so only
/// the addresses active in the period are read), the partial hours from `events`.
/// Summed per address they are exact.
pub fn period_rows(kinds: &[EventKind], prefix: &str) -> String {
    let p = prefix;
    let kinds = &super::kinds_sql(kinds);
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

/// Adds everything counted in `rollups` to the rollup tables (inside the caller's
/// transaction) and empties it.
pub fn flush(rollups: &mut Rollups, conn: &Connection) -> Result<()> {
    let mut rows: Vec<_> = rollups
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
             hours = hours_merge(hours, excluded.hours)",
    )?;
    let mut weeks: FxHashMap<(i64, i64, i64), i64> = FxHashMap::default();
    for ((kind, day, address), c) in rows {
        stmt.execute(rusqlite::params![
            kind,
            day,
            address,
            c.events,
            hours_blob(&c.hours)
        ])?;
        *weeks.entry((kind, week_of_day(day), address)).or_default() += c.events;
    }
    upsert(
        conn,
        "INSERT INTO address_weeks (kind, week, address_id, events) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (kind, week, address_id) DO UPDATE SET
             events = events + excluded.events",
        weeks
            .into_iter()
            .map(|((kind, week, address), n)| [kind, week, address, n]),
    )?;
    let rows = rollups.hour_totals.drain();
    upsert(
        conn,
        "INSERT INTO hour_totals (kind, hour, events) VALUES (?1, ?2, ?3)
         ON CONFLICT (kind, hour) DO UPDATE SET events = events + excluded.events",
        rows.map(|((kind, hour), n)| [kind, hour, n]),
    )?;
    let rows = rollups.label_hours.drain();
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
        let one = |hour: usize, n: u32| {
            let mut hours = [0u32; 24];
            hours[hour] = n;
            hours_blob(&hours)
        };
        let sum = |sql: &str| -> i64 {
            let mut stmt = conn.prepare(sql).unwrap();
            bind(&mut stmt, "?1", &one(3, 5)).unwrap();
            bind(&mut stmt, "?2", &one(4, 200_000)).unwrap();
            stmt.raw_query().next().unwrap().unwrap().get(0).unwrap()
        };
        assert_eq!(sum("SELECT hours_sum(hours_merge(?1, ?2), 3, 3)"), 5);
        assert_eq!(sum("SELECT hours_sum(hours_merge(?1, ?2), 0, 23)"), 200_005);
        assert_eq!(sum("SELECT hours_sum(hours_merge(?1, ?1), 3, 4)"), 10);
        assert_eq!(sum("SELECT hours_sum(?1, 1, 0)"), 0);
        let mut hours = [0u32; 24];
        hours[0] = 1;
        hours[23] = u32::MAX;
        hours[7] = 128;
        assert_eq!(hours_of_blob(&hours_blob(&hours)), hours);
        assert_eq!(hours_blob(&[0; 24]), Vec::<u8>::new());
        // Cut short or out of range: what came before stays, nothing after.
        let mut cut = hours_blob(&hours);
        cut.pop();
        assert_eq!(hours_of_blob(&cut)[7], 128);
        assert_eq!(hours_of_blob(&cut)[23], 0);
        assert_eq!(hours_of_blob(&[24, 1, 3, 1]), [0; 24]);
    }

    /// Migration 012 turns the fixed layout the earlier migrations wrote into this one.
    #[test]
    fn fixed_blobs_compact() {
        let conn = Connection::open_in_memory().unwrap();
        register_functions(&conn).unwrap();
        let blob: Vec<u8> = conn
            .query_row(
                "SELECT hours_compact(hours_add(hour_blob(3, 5), hour_blob(23, 300)))",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let mut hours = [0u32; 24];
        hours[3] = 5;
        hours[23] = 300;
        assert_eq!(hours_of_blob(&blob), hours);
        assert_eq!(blob.len(), 2 + 3);
    }
}
