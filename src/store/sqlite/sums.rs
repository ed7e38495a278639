//! Period sums per address, added up in memory: the rows of a period in the rollups
//! (see [`super::rollup::period_rows`]) are read as they lie, in key order, and summed
//! per address in a hash map; then the addresses that had any are looked up by id, all
//! in one statement. SQLite's `GROUP BY` over those rows sorted every one of them first
//! (two thirds of a 30-day ranking at 6.4M events); a hash map does not.

use rusqlite::Statement;
use rustc_hash::FxHashMap;

use super::address;
use crate::store::Result;

/// Sums per address id: `N` counts each (slots of the rows' second column).
pub type Sums<const N: usize> = FxHashMap<i64, [i64; N]>;

/// Reads the rows `(address_id, slot, n)` of a bound statement and sums `n` per address
/// and slot (`0..N`; other slots are ignored); addresses whose counts add up to
/// nothing are left out.
pub fn sum_rows<const N: usize>(stmt: &mut Statement<'_>) -> Result<Sums<N>> {
    let mut sums: Sums<N> = FxHashMap::default();
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let slot: i64 = row.get(1)?;
        let n: i64 = row.get(2)?;
        if let Some(slot) = usize::try_from(slot).ok().filter(|slot| *slot < N) {
            sums.entry(id).or_insert([0; N])[slot] += n;
        }
    }
    sums.retain(|_, counts| counts.iter().sum::<i64>() > 0);
    Ok(sums)
}

/// The stored key of each address id in `sums`, paired with its counts, ordered by id:
/// one statement, one seek per id (the ids go in as a JSON array).
pub fn with_keys<const N: usize>(
    conn: &rusqlite::Connection,
    sums: Sums<N>,
) -> Result<Vec<(Vec<u8>, [i64; N])>> {
    let mut ids: Vec<(i64, [i64; N])> = sums.into_iter().collect();
    ids.sort_unstable_by_key(|(id, _)| *id);
    let mut json = String::with_capacity(ids.len() * 8 + 2);
    json.push('[');
    for (index, (id, _)) in ids.iter().enumerate() {
        if index > 0 {
            json.push(',');
        }
        json.push_str(&id.to_string());
    }
    json.push(']');
    let mut keys: FxHashMap<i64, Vec<u8>> = FxHashMap::default();
    let mut stmt = conn.prepare_cached(ADDRESS_KEYS)?;
    let mut rows = stmt.query([json])?;
    while let Some(row) = rows.next()? {
        keys.insert(row.get(0)?, row.get(1)?);
    }
    Ok(ids
        .into_iter()
        .filter_map(|(id, counts)| keys.remove(&id).map(|key| (key, counts)))
        .collect())
}

/// The keys of the address ids in the JSON array `?1`: one primary-key seek each.
pub const ADDRESS_KEYS: &str = "SELECT a.id, a.ip FROM json_each(?1) AS j
     CROSS JOIN addresses AS a ON a.id = j.value";

/// Ranks `(key, failures)` as `RANK() OVER (ORDER BY failures DESC)`, ordered by rank,
/// then key: ties share a rank, the next rank skips. With `network`, the addresses are
/// first summed per network (`address::network_key` with the prefixes; a value that is
/// no address key stays itself).
pub fn ranked(
    rows: Vec<(Vec<u8>, [i64; 1])>,
    network: Option<(u8, u8)>,
) -> Vec<(Vec<u8>, i64, i64)> {
    let mut counted: Vec<(Vec<u8>, i64)> = match network {
        None => rows.into_iter().map(|(key, [n])| (key, n)).collect(),
        Some((v4, v6)) => {
            let mut nets: FxHashMap<Vec<u8>, i64> = FxHashMap::default();
            for (key, [n]) in rows {
                let net = address::key_of(&key)
                    .map_or(key, |key| address::network_key(&key, v4, v6).to_vec());
                *nets.entry(net).or_default() += n;
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

    #[test]
    fn ranks_share_ties_and_skip_after_them() {
        let rows = vec![
            (vec![3], [5]),
            (vec![1], [7]),
            (vec![2], [5]),
            (vec![4], [1]),
        ];
        assert_eq!(
            ranked(rows, None),
            vec![
                (vec![1], 7, 1),
                (vec![2], 5, 2),
                (vec![3], 5, 2),
                (vec![4], 1, 4)
            ]
        );
    }
}
