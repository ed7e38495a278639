//! Period sums per address, read in one pass and added up in memory.
//!
//! A read asks for several [`Column`]s at once (a kind of event inside a period: `top`'s
//! 24h, 7d and 30d, `report`'s period and the one before it). The rollup rows of every
//! week and day any column needs are read once, in key order (`address_weeks` and
//! `address_days` are keyed by kind and week or day first, so these are the rows of the
//! periods and nothing older), and each row is added to the columns it falls in: the
//! whole weeks inside a column's whole days from the weekly rows (a third as many rows
//! as their days), the other whole days from the daily rows, some hourly counts for a
//! day the period starts or ends in. The partial hours at either end come from
//! `events`, sought only for the addresses the day rows show active in that very hour.
//! Sums are kept in an array indexed by address id (ids are dense), so a row costs a
//! few additions: SQLite's `GROUP BY` sorted every row first, a hash map hashed each.

use rusqlite::Connection;
use rustc_hash::FxHashMap;

use super::address;
use super::rollup::{Split, hours_of_blob, week_of_day};
use crate::model::EventKind;
use crate::store::Result;

/// One column of a period read: the events of `kind` inside `split`.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub kind: EventKind,
    pub split: Split,
}

/// The sums of a period read: for each address id with any event in any column (in id
/// order), its count in each column.
#[derive(Debug, Default)]
pub struct PeriodSums {
    width: usize,
    ids: Vec<i64>,
    counts: Vec<i64>,
}

impl PeriodSums {
    /// Each address id with its counts, one per column, in id order.
    pub fn rows(&self) -> impl Iterator<Item = (i64, &[i64])> {
        self.ids
            .iter()
            .copied()
            .zip(self.counts.chunks_exact(self.width.max(1)))
    }

    /// How many addresses had any event.
    pub fn len(&self) -> usize {
        self.ids.len()
    }
}

/// Reads `columns` (see the module's documentation): one range of `address_days` per
/// kind, covering every day the columns touch, and a seek into `events` per address
/// active in a partial hour at either end.
pub fn period_sums(conn: &Connection, columns: &[Column]) -> Result<PeriodSums> {
    // One snapshot for the whole read, and the WAL locked once rather than for each of
    // the many small statements; ended (nothing was written) when dropped.
    let _snapshot = conn
        .is_autocommit()
        .then(|| {
            rusqlite::Transaction::new_unchecked(conn, rusqlite::TransactionBehavior::Deferred)
        })
        .transpose()?;
    let plans: Vec<Plan> = columns.iter().map(Plan::of).collect();
    let mut pieces = Piece::all_of(columns);
    let mut table = Table::new(conn, columns.len())?;
    for kind in EventKind::ALL {
        let code = kind.code();
        let of_kind = || plans.iter().filter(move |plan| plan.kind == code);
        let days = of_kind().flat_map(Plan::days_touched).chain(
            pieces
                .iter()
                .filter(|piece| piece.kind == code)
                .map(|piece| (piece.day, piece.day)),
        );
        for (first, last) in merged(days.collect()) {
            read_days(conn, code, first, last, &plans, &mut pieces, &mut table)?;
        }
        let weeks = of_kind().map(|plan| plan.weeks).filter(|(a, b)| a <= b);
        for (first, last) in merged(weeks.collect()) {
            read_weeks(conn, code, first, last, &plans, &mut table)?;
        }
    }
    count_pieces(conn, &pieces, &mut table)?;
    Ok(table.finish())
}

/// Counts in `events` the events of each address active in a partial hour inside it,
/// for the piece's columns. The seeks go in address order, the order of the primary
/// key of `events`: an address's pieces read the same few pages one after the other,
/// and the addresses walk the table from one end to the other rather than jumping
/// about it once per piece.
fn count_pieces(conn: &Connection, pieces: &[Piece], table: &mut Table) -> Result<()> {
    let mut seeks: Vec<(i64, usize)> = pieces
        .iter()
        .enumerate()
        .flat_map(|(index, piece)| piece.active.iter().map(move |&id| (id, index)))
        .collect();
    seeks.sort_unstable();
    let mut stmt = conn.prepare_cached(EVENTS_IN_RANGE)?;
    for (id, index) in seeks {
        let piece = &pieces[index];
        let n: i64 = stmt.query_row([id, piece.kind, piece.from, piece.to], |row| row.get(0))?;
        let counts = table.row(id);
        for &column in &piece.columns {
            counts[column] += n;
        }
    }
    Ok(())
}

/// Inclusive ranges joined where they overlap or touch, in order.
fn merged(mut ranges: Vec<(i64, i64)>) -> Vec<(i64, i64)> {
    ranges.sort_unstable();
    let mut out: Vec<(i64, i64)> = Vec::with_capacity(ranges.len());
    for (first, last) in ranges {
        match out.last_mut() {
            Some(previous) if first <= previous.1.saturating_add(1) => {
                previous.1 = previous.1.max(last);
            }
            _ => out.push((first, last)),
        }
    }
    out
}

/// Adds the rows of `address_weeks` of kind `code` and weeks `first..=last` to the
/// columns of `plans` that take those weeks whole.
fn read_weeks(
    conn: &Connection,
    code: i64,
    first: i64,
    last: i64,
    plans: &[Plan],
    table: &mut Table,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(WEEK_ROWS)?;
    let mut rows = stmt.query([code, first, last])?;
    while let Some(row) = rows.next()? {
        let week: i64 = row.get(0)?;
        let id: i64 = row.get(1)?;
        let events: i64 = row.get(2)?;
        let counts = table.row(id);
        for (column, plan) in plans.iter().enumerate() {
            if plan.kind == code && plan.weeks.0 <= week && week <= plan.weeks.1 {
                counts[column] += events;
            }
        }
    }
    Ok(())
}

/// Adds the rows of `address_days` of kind `code` and days `first..=last` to the
/// columns of `plans`, and notes in `pieces` the addresses active in each partial hour.
fn read_days(
    conn: &Connection,
    code: i64,
    first: i64,
    last: i64,
    plans: &[Plan],
    pieces: &mut [Piece],
    table: &mut Table,
) -> Result<()> {
    let mut stmt = conn.prepare_cached(DAY_ROWS)?;
    let mut rows = stmt.query([code, first, last])?;
    while let Some(row) = rows.next()? {
        let day: i64 = row.get(0)?;
        let id: i64 = row.get(1)?;
        let events: i64 = row.get(2)?;
        // The hourly counts are decoded only for a row some edge or piece needs.
        let mut decoded: Option<[u32; 24]> = None;
        let mut hours = || -> Result<[u32; 24]> {
            if let Some(hours) = decoded {
                return Ok(hours);
            }
            let read = hours_of_blob(row.get_ref(3)?.as_blob().unwrap_or_default());
            decoded = Some(read);
            Ok(read)
        };
        let counts = table.row(id);
        for (column, plan) in plans.iter().enumerate() {
            if plan.kind != code {
                continue;
            }
            if plan.days.iter().any(|(a, b)| *a <= day && day <= *b) {
                counts[column] += events;
            } else if let Some(edge) = [plan.lead, plan.trail]
                .into_iter()
                .flatten()
                .find(|e| e.day == day)
            {
                counts[column] += edge.sum(&hours()?);
            }
        }
        for piece in pieces.iter_mut() {
            if piece.kind == code && piece.day == day && hours()?[piece.hour] > 0 {
                piece.active.push(id);
            }
        }
    }
    Ok(())
}

/// The rows of one kind's days `?2..=?3` in the daily rollup, in key order.
pub const DAY_ROWS: &str = "SELECT day, address_id, events, hours FROM address_days
     WHERE kind = ?1 AND day BETWEEN ?2 AND ?3";

/// The rows of one kind's weeks `?2..=?3` in the weekly rollup, in key order.
pub const WEEK_ROWS: &str = "SELECT week, address_id, events FROM address_weeks
     WHERE kind = ?1 AND week BETWEEN ?2 AND ?3";

/// The events of one address and kind in a time range: one seek into the primary key.
pub const EVENTS_IN_RANGE: &str = "SELECT COUNT(*) FROM events
     WHERE address_id = ?1 AND kind = ?2 AND ts BETWEEN ?3 AND ?4";

/// What a column takes from the rollups: all events of the whole weeks inside its
/// whole days from the weekly rows, all events of its other whole days (before and
/// after those weeks) from the daily rows, and some hours of the days its whole hours
/// start and end in. Empty ranges have `first > last`.
#[derive(Debug, Clone, Copy)]
struct Plan {
    kind: i64,
    days: [(i64, i64); 2],
    weeks: (i64, i64),
    lead: Option<Edge>,
    trail: Option<Edge>,
}

/// Hours `first..=last` of one day.
#[derive(Debug, Clone, Copy)]
struct Edge {
    day: i64,
    first: usize,
    last: usize,
}

impl Edge {
    /// The hours `from..=to` (rollup hours), all inside one day; `None` when empty.
    fn of(from: i64, to: i64) -> Option<Edge> {
        (from <= to).then(|| Edge {
            day: from.div_euclid(24),
            first: from.rem_euclid(24) as usize,
            last: to.rem_euclid(24) as usize,
        })
    }

    fn sum(&self, hours: &[u32; 24]) -> i64 {
        hours[self.first..=self.last]
            .iter()
            .map(|n| i64::from(*n))
            .sum()
    }
}

impl Plan {
    fn of(column: &Column) -> Plan {
        const NONE: (i64, i64) = (1, 0);
        let split = &column.split;
        let (first, last) = (split.day_from, split.day_to);
        let weeks = (
            week_of_day(first.saturating_add(6)),
            week_of_day(last.saturating_add(1)) - 1,
        );
        let (days, weeks) = if first <= last && weeks.0 <= weeks.1 {
            let before = (first, weeks.0 * 7 - 1);
            let after = ((weeks.1 + 1) * 7, last);
            ([before, after], weeks)
        } else {
            ([(first, last), NONE], NONE)
        };
        Plan {
            kind: column.kind.code(),
            days,
            weeks,
            lead: Edge::of(split.lead_from, split.lead_to),
            trail: Edge::of(split.trail_from, split.trail_to),
        }
    }

    /// The days whose rows this column reads, as ranges.
    fn days_touched(&self) -> impl Iterator<Item = (i64, i64)> + use<> {
        let whole = self.days.into_iter().filter(|(a, b)| a <= b);
        let edges = [self.lead, self.trail]
            .into_iter()
            .flatten()
            .map(|edge| (edge.day, edge.day));
        whole.chain(edges)
    }
}

/// A partial hour at one end of some columns' periods (the same piece is shared: the
/// periods `top` ranks all end at once): counted in `events` for the addresses `active`
/// in that hour.
#[derive(Debug)]
struct Piece {
    kind: i64,
    day: i64,
    hour: usize,
    from: i64,
    to: i64,
    columns: Vec<usize>,
    active: Vec<i64>,
}

impl Piece {
    /// The distinct partial hours of `columns`, each with the columns it counts for.
    fn all_of(columns: &[Column]) -> Vec<Piece> {
        let mut pieces: Vec<Piece> = Vec::new();
        for (index, column) in columns.iter().enumerate() {
            let split = &column.split;
            let ends = [
                (split.head_from, split.head_to, split.head_hour),
                (split.tail_from, split.tail_to, split.tail_hour),
            ];
            for (from, to, hour) in ends.into_iter().filter(|(from, to, _)| from <= to) {
                let kind = column.kind.code();
                match pieces
                    .iter_mut()
                    .find(|p| p.kind == kind && p.from == from && p.to == to)
                {
                    Some(piece) => piece.columns.push(index),
                    None => pieces.push(Piece {
                        kind,
                        day: hour.div_euclid(24),
                        hour: hour.rem_euclid(24) as usize,
                        from,
                        to,
                        columns: vec![index],
                        active: Vec::new(),
                    }),
                }
            }
        }
        pieces
    }
}

/// Largest address id summed in a flat array indexed by id (4 bytes per id ever
/// stored: 16 MiB at most); a database with more ids uses a hash map.
const DENSE_IDS: i64 = 1 << 22;

/// The sums being added up: one row of `width` counts per address met.
struct Table {
    width: usize,
    index: Index,
    ids: Vec<i64>,
    counts: Vec<i64>,
}

/// Where an address id's row is.
enum Index {
    Dense(Vec<u32>),
    Sparse(FxHashMap<i64, u32>),
}

impl Table {
    fn new(conn: &Connection, width: usize) -> Result<Table> {
        let max_id: Option<i64> =
            conn.query_row("SELECT MAX(id) FROM addresses", [], |row| row.get(0))?;
        let index = match max_id {
            Some(max) if (0..DENSE_IDS).contains(&max) => {
                Index::Dense(vec![u32::MAX; max as usize + 1])
            }
            _ => Index::Sparse(FxHashMap::default()),
        };
        Ok(Table {
            width,
            index,
            ids: Vec::new(),
            counts: Vec::new(),
        })
    }

    /// The counts of address `id`, a new row of zeros the first time.
    fn row(&mut self, id: i64) -> &mut [i64] {
        let next = self.ids.len() as u32;
        let slot = match &mut self.index {
            Index::Dense(slots) => match usize::try_from(id).ok().and_then(|i| slots.get_mut(i)) {
                Some(slot) => slot,
                // An id past the largest seen when the read began (a write since):
                // the hash map takes over.
                None => return self.spill(id),
            },
            Index::Sparse(map) => map.entry(id).or_insert(u32::MAX),
        };
        if *slot == u32::MAX {
            *slot = next;
            self.ids.push(id);
            self.counts.resize(self.counts.len() + self.width, 0);
        }
        let start = *slot as usize * self.width;
        &mut self.counts[start..start + self.width]
    }

    /// Moves the dense index into a hash map, then returns `id`'s row.
    fn spill(&mut self, id: i64) -> &mut [i64] {
        let map = self
            .ids
            .iter()
            .enumerate()
            .map(|(row, id)| (*id, row as u32))
            .collect();
        self.index = Index::Sparse(map);
        self.row(id)
    }

    /// The rows with any count, in id order.
    fn finish(self) -> PeriodSums {
        let width = self.width;
        let mut order: Vec<usize> = (0..self.ids.len())
            .filter(|row| {
                self.counts[row * width..(row + 1) * width]
                    .iter()
                    .any(|n| *n != 0)
            })
            .collect();
        order.sort_unstable_by_key(|row| self.ids[*row]);
        let mut sums = PeriodSums {
            width,
            ids: Vec::with_capacity(order.len()),
            counts: Vec::with_capacity(order.len() * width),
        };
        for row in order {
            sums.ids.push(self.ids[row]);
            sums.counts
                .extend_from_slice(&self.counts[row * width..(row + 1) * width]);
        }
        sums
    }
}

/// The stored key of each address of `sums`, paired with its counts, in id order (a
/// stored value that is no address key is left out). Ids that fill at least half of
/// the range they span are read as that range of `addresses`; sparser ones are sought
/// one by one (the ids go in as a JSON array).
pub fn with_keys<'a>(
    conn: &Connection,
    sums: &'a PeriodSums,
) -> Result<Vec<(address::Key, &'a [i64])>> {
    let (Some(&first), Some(&last)) = (sums.ids.first(), sums.ids.last()) else {
        return Ok(Vec::new());
    };
    let mut keys: FxHashMap<i64, address::Key> = FxHashMap::default();
    keys.reserve(sums.len());
    let mut keep = |row: &rusqlite::Row<'_>| -> rusqlite::Result<()> {
        if let Some(key) = address::key_of(row.get_ref(1)?.as_blob().unwrap_or_default()) {
            keys.insert(row.get(0)?, key);
        }
        Ok(())
    };
    let dense =
        (sums.len() as i64).saturating_mul(2) >= last.saturating_sub(first).saturating_add(1);
    if dense {
        let mut stmt = conn.prepare_cached(ADDRESS_KEYS_IN_RANGE)?;
        let mut rows = stmt.query([first, last])?;
        while let Some(row) = rows.next()? {
            keep(row)?;
        }
    } else {
        let mut json = String::with_capacity(sums.len() * 8 + 2);
        json.push('[');
        for (index, id) in sums.ids.iter().enumerate() {
            if index > 0 {
                json.push(',');
            }
            json.push_str(&id.to_string());
        }
        json.push(']');
        let mut stmt = conn.prepare_cached(ADDRESS_KEYS)?;
        let mut rows = stmt.query([json])?;
        while let Some(row) = rows.next()? {
            keep(row)?;
        }
    }
    Ok(sums
        .rows()
        .filter_map(|(id, counts)| keys.remove(&id).map(|key| (key, counts)))
        .collect())
}

/// The keys of the address ids in the JSON array `?1`: one primary-key seek each.
pub const ADDRESS_KEYS: &str = "SELECT a.id, a.ip FROM json_each(?1) AS j
     CROSS JOIN addresses AS a ON a.id = j.value";

/// The keys of the address ids `?1..=?2`: one range of the primary key.
pub const ADDRESS_KEYS_IN_RANGE: &str = "SELECT a.id, a.ip FROM addresses AS a
     WHERE a.id BETWEEN ?1 AND ?2";

/// Ranks `(key, failures)` as `RANK() OVER (ORDER BY failures DESC)`, ordered by rank,
/// then key: ties share a rank, the next rank skips; keys without failures are left
/// out. With `network`, the addresses are first summed per network
/// (`address::network_key` with the prefixes).
pub fn ranked(
    rows: impl Iterator<Item = (address::Key, i64)>,
    network: Option<(u8, u8)>,
) -> Vec<(address::Key, i64, i64)> {
    let rows = rows.filter(|(_, n)| *n > 0);
    let mut counted: Vec<(address::Key, i64)> = match network {
        None => rows.collect(),
        Some((v4, v6)) => {
            let mut nets: FxHashMap<address::Key, i64> = FxHashMap::default();
            for (key, n) in rows {
                *nets.entry(address::network_key(&key, v4, v6)).or_default() += n;
            }
            nets.into_iter().collect()
        }
    };
    counted.sort_unstable_by(|(key_a, a), (key_b, b)| b.cmp(a).then_with(|| key_a.cmp(key_b)));
    let mut out = Vec::with_capacity(counted.len());
    let mut rank = 0;
    let mut previous = None;
    for (position, (key, n)) in counted.into_iter().enumerate() {
        if previous != Some(n) {
            rank = position as i64 + 1;
            previous = Some(n);
        }
        out.push((key, n, rank));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// A column's whole days are its weeks and its other days, each day once.
        #[test]
        fn weeks_and_days_cover_the_whole_days_once(since in -40_000_000i64..4_000_000_000, length in 0i64..200_000_000) {
            let split = Split::new(since, since.saturating_add(length));
            let plan = Plan::of(&Column { kind: EventKind::AuthFailed, split });
            let mut days: Vec<i64> = Vec::new();
            for (first, last) in plan.days.into_iter().filter(|(a, b)| a <= b) {
                days.extend(first..=last);
            }
            if plan.weeks.0 <= plan.weeks.1 {
                days.extend(plan.weeks.0 * 7..plan.weeks.1 * 7 + 7);
            }
            days.sort_unstable();
            let whole: Vec<i64> = (split.day_from..=split.day_to).collect();
            prop_assert_eq!(days, whole);
        }
    }

    #[test]
    fn ranges_merge_where_they_touch() {
        assert_eq!(
            merged(vec![(5, 6), (1, 2), (3, 3), (9, 12), (10, 11), (13, 15)]),
            vec![(1, 3), (5, 6), (9, 15)]
        );
    }

    /// An id past the largest one the read began with moves the sums into a hash map
    /// and keeps every row; a sparse table sums the same.
    #[test]
    fn tables_sum_by_id_dense_sparse_and_spilled() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE addresses (id INTEGER PRIMARY KEY); INSERT INTO addresses VALUES (7);",
        )
        .unwrap();
        let mut dense = Table::new(&conn, 2).unwrap();
        assert!(matches!(dense.index, Index::Dense(_)));
        let mut sparse = Table::new(&conn, 2).unwrap();
        sparse.index = Index::Sparse(FxHashMap::default());
        for table in [&mut dense, &mut sparse] {
            table.row(7)[0] += 3;
            table.row(2)[1] += 1;
            table.row(1_000_000)[1] += 5;
            table.row(7)[1] += 4;
            table.row(4)[0] += 0;
        }
        assert!(matches!(dense.index, Index::Sparse(_)));
        for table in [dense, sparse] {
            let sums = table.finish();
            let rows: Vec<(i64, Vec<i64>)> = sums.rows().map(|(id, c)| (id, c.to_vec())).collect();
            assert_eq!(
                rows,
                vec![(2, vec![0, 1]), (7, vec![3, 4]), (1_000_000, vec![0, 5])]
            );
        }
    }

    #[test]
    fn ranks_share_ties_and_skip_after_them() {
        let key = |last: u8| {
            let mut key = [0; address::KEY_LEN];
            key[address::KEY_LEN - 1] = last;
            key
        };
        let rows = [(3, 5), (1, 7), (2, 5), (4, 1), (5, 0)].map(|(k, n)| (key(k), n));
        assert_eq!(
            ranked(rows.into_iter(), None),
            vec![
                (key(1), 7, 1),
                (key(2), 5, 2),
                (key(3), 5, 2),
                (key(4), 1, 4)
            ]
        );
    }
}
