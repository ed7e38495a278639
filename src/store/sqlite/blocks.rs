//! SQLite's [`BlockStore`]: blocks, the allowlist, pardons, the counts the policy
//! decides on, render records, the places saslguard created firewall objects and
//! Postfix maps in, and named state.

use std::net::IpAddr;

use ipnet::IpNet;
use rusqlite::{OptionalExtension, Row, params};

use super::{SqliteStore, address};
use crate::model::{BlockTarget, EndReason, EventKind};
use crate::store::{
    AllowEntry, Block, BlockStore, FirewallPlace, NewBlock, Pardon, PostfixMapPlace, Result,
};

/// The first and last address of a network as stored keys: a network is a key range,
/// of its own family only (see [`address::key_range`]).
pub fn key_range(network: &IpNet) -> (address::Key, address::Key) {
    address::key_range(network)
}

/// The columns `block_from_row` reads, in order.
pub(super) const BLOCK_COLUMNS: &str =
    "id, network, target, origin, reason, failures, window_seconds,
    created_at, expires_at, ended_at, end_reason";

/// A stored name (`target`, `origin`, `end_reason` in column `index`) read back; an
/// unknown one is an error naming it, never a silent default.
fn named<T: std::str::FromStr<Err = crate::model::UnknownName>>(
    index: usize,
    text: &str,
) -> rusqlite::Result<T> {
    text.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// A block from the columns of [`BLOCK_COLUMNS`].
pub(super) fn block_from_row(row: &Row<'_>) -> rusqlite::Result<Block> {
    let network: String = row.get(1)?;
    let target: String = row.get(2)?;
    let origin: String = row.get(3)?;
    let end_reason: Option<String> = row.get(10)?;
    Ok(Block {
        id: row.get(0)?,
        network: network
            .parse::<IpNet>()
            .map(crate::network::canonical)
            .map_err(|e| {
                rusqlite::Error::FromSqlConversionFailure(
                    1,
                    rusqlite::types::Type::Text,
                    Box::new(e),
                )
            })?,
        target: named(2, &target)?,
        origin: named(3, &origin)?,
        reason: row.get(4)?,
        failures: row.get(5)?,
        window_seconds: row.get(6)?,
        created_at: row.get(7)?,
        expires_at: row.get(8)?,
        ended_at: row.get(9)?,
        end_reason: end_reason.map(|r| named(10, &r)).transpose()?,
    })
}

impl BlockStore for SqliteStore {
    /// Records a block; returns its id.
    fn insert_block(&self, block: &NewBlock) -> Result<i64> {
        let network = crate::network::canonical(block.network);
        let (first, last) = key_range(&network);
        Ok(self
            .conn
            .prepare_cached(
                "INSERT INTO blocks (network, net_first, net_last, target, origin, reason,
                     failures, window_seconds, created_at, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) RETURNING id",
            )?
            .query_row(
                params![
                    network.to_string(),
                    &first[..],
                    &last[..],
                    block.target.as_str(),
                    block.origin.name(),
                    block.reason,
                    block.failures,
                    block.window_seconds,
                    block.created_at,
                    block.expires_at,
                ],
                |row| row.get(0),
            )?)
    }

    /// Moves the expiry of an active block (`None`: permanent) and appends `note` to its
    /// reason, so its history says it was extended; false when the block is not active.
    fn extend_block(&self, id: i64, expires_at: Option<i64>, note: &str) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached(
                "UPDATE blocks SET expires_at = ?2, reason = reason || ?3
                 WHERE id = ?1 AND ended_at IS NULL",
            )?
            .execute(params![id, expires_at, note])?
            > 0)
    }

    /// The block of exactly `network` at `target` in force at `now` that lasts longest
    /// (permanent first), if any: one index seek.
    fn active_block_of(
        &self,
        network: &IpNet,
        target: BlockTarget,
        now: i64,
    ) -> Result<Option<Block>> {
        let (first, last) = key_range(network);
        let sql = format!(
            "SELECT {BLOCK_COLUMNS} FROM blocks
             WHERE net_first = ?1 AND net_last = ?2 AND target = ?3 AND ended_at IS NULL
               AND (expires_at IS NULL OR expires_at > ?4)
             ORDER BY expires_at IS NULL DESC, expires_at DESC LIMIT 1"
        );
        Ok(self
            .conn
            .prepare_cached(&sql)?
            .query_row(
                params![&first[..], &last[..], target.name(), now],
                block_from_row,
            )
            .optional()?)
    }

    /// Blocks in force at `now` (of one target, or all), in no particular order.
    fn active_blocks(&self, target: Option<BlockTarget>, now: i64) -> Result<Vec<Block>> {
        let sql = format!(
            "SELECT {BLOCK_COLUMNS} FROM blocks
             WHERE ended_at IS NULL AND (expires_at IS NULL OR expires_at > ?1)
               AND (?2 IS NULL OR target = ?2)"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![now, target.map(BlockTarget::as_str)],
            block_from_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every block ever recorded, newest first.
    fn all_blocks(&self) -> Result<Vec<Block>> {
        let sql = format!("SELECT {BLOCK_COLUMNS} FROM blocks ORDER BY created_at DESC, id DESC");
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([], block_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Ends the blocks in force at `now` that equal or lie inside `network`
    /// (`overlapping`: that share any address with it); returns them.
    fn end_blocks(
        &self,
        network: &IpNet,
        overlapping: bool,
        now: i64,
        reason: EndReason,
    ) -> Result<Vec<Block>> {
        let (first, last) = key_range(network);
        let condition = if overlapping {
            "net_first <= ?2 AND net_last >= ?1"
        } else {
            "net_first >= ?1 AND net_last <= ?2"
        };
        let sql = format!(
            "UPDATE blocks SET ended_at = ?3, end_reason = ?4
             WHERE ended_at IS NULL AND (expires_at IS NULL OR expires_at > ?3) AND {condition}
             RETURNING {BLOCK_COLUMNS}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(
            params![&first[..], &last[..], now, reason.name()],
            block_from_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Ends every block whose time is over at `now`, as ended at its expiry; returns them.
    fn expire_blocks(&self, now: i64) -> Result<Vec<Block>> {
        let sql = format!(
            "UPDATE blocks SET ended_at = expires_at, end_reason = 'expired'
             WHERE ended_at IS NULL AND expires_at IS NOT NULL AND expires_at <= ?1
             RETURNING {BLOCK_COLUMNS}"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map([now], block_from_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Whether a block of `target` in force at `now` covers all of `network`.
    fn is_covered(&self, network: &IpNet, target: BlockTarget, now: i64) -> Result<bool> {
        let (first, last) = key_range(network);
        Ok(self
            .conn
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM blocks
                 WHERE ended_at IS NULL AND (expires_at IS NULL OR expires_at > ?4)
                   AND target = ?3 AND net_first <= ?1 AND net_last >= ?2)",
            )?
            .query_row(
                params![&first[..], &last[..], target.as_str(), now],
                |row| row.get(0),
            )?)
    }

    /// How many blocks of `target` ever covered `network`, and when the latest of them
    /// was created: for escalation, and so the failures behind a block never count twice.
    /// Blocks ended because an allowlist entry covered them are left out: the entry
    /// withdrew them, and once it is gone the failures count as if it never was.
    fn block_history(&self, network: &IpNet, target: BlockTarget) -> Result<(i64, Option<i64>)> {
        let (first, last) = key_range(network);
        Ok(self
            .conn
            .prepare_cached(
                "SELECT COUNT(*), MAX(created_at) FROM blocks
                 WHERE target = ?3 AND net_first <= ?1 AND net_last >= ?2
                   AND end_reason IS NOT 'allowlisted'",
            )?
            .query_row(params![&first[..], &last[..], target.as_str()], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?)
    }

    /// From now on, failures of addresses inside `network` up to `until` do not count.
    fn add_pardon(&self, network: &IpNet, until: i64) -> Result<()> {
        let network = crate::network::canonical(*network);
        let (first, last) = key_range(&network);
        self.conn
            .prepare_cached(
                "INSERT INTO pardons (network, net_first, net_last, until) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![network.to_string(), &first[..], &last[..], until])?;
        Ok(())
    }

    /// Every pardon, ordered by address, then time.
    fn pardons(&self) -> Result<Vec<Pardon>> {
        self.pardons_where("true", params![])
    }

    /// The pardons sharing any address with `network`, ordered by address, then time.
    fn pardons_overlapping(&self, network: &IpNet) -> Result<Vec<Pardon>> {
        let (first, last) = key_range(network);
        self.pardons_where(
            "net_first <= ?2 AND net_last >= ?1",
            params![&first[..], &last[..]],
        )
    }

    fn kind_per_address(
        &self,
        kind: EventKind,
        since: i64,
        until: i64,
    ) -> Result<Vec<(IpAddr, i64)>> {
        let column = super::sums::Column {
            kind,
            split: super::rollup::Split::new(since, until),
        };
        let sums = super::sums::period_sums(&self.conn, &[column])?;
        Ok(super::sums::with_keys(&self.conn, &sums)?
            .into_iter()
            .filter_map(|(key, counts)| address::from_key(&key).map(|addr| (addr, counts[0])))
            .collect())
    }

    /// Events of `kind` of the addresses inside `network` in `(since, until]`, leaving
    /// out pardoned ones: like [`Store::countable_failures`] for another kind.
    fn countable_of_kind(
        &self,
        network: &IpNet,
        kind: EventKind,
        since: i64,
        until: i64,
    ) -> Result<i64> {
        let (first, last) = key_range(network);
        Ok(self
            .conn
            .prepare_cached(
                "SELECT COUNT(*) FROM addresses AS a JOIN events AS e ON e.address_id = a.id
                 WHERE a.ip BETWEEN ?1 AND ?2 AND e.kind = ?5 AND e.ts > ?3 AND e.ts <= ?4
                   AND NOT EXISTS (SELECT 1 FROM pardons AS p
                                   WHERE a.ip BETWEEN p.net_first AND p.net_last
                                     AND e.ts <= p.until)",
            )?
            .query_row(
                params![&first[..], &last[..], since, until, kind.code()],
                |row| row.get(0),
            )?)
    }

    /// Adds an allowlist entry; false when it was already there.
    fn allowlist_add(&self, network: &IpNet, comment: Option<&str>, now: i64) -> Result<bool> {
        let network = crate::network::canonical(*network);
        let (first, last) = key_range(&network);
        let added = self
            .conn
            .prepare_cached(
                "INSERT INTO allowlist (network, net_first, net_last, comment, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (network) DO NOTHING",
            )?
            .execute(params![
                network.to_string(),
                &first[..],
                &last[..],
                comment,
                now
            ])?;
        Ok(added > 0)
    }

    /// Removes an allowlist entry; false when there was none.
    fn allowlist_remove(&self, network: &IpNet) -> Result<bool> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM allowlist WHERE network = ?1")?
            .execute([crate::network::canonical(*network).to_string()])?
            > 0)
    }

    /// The stored allowlist, ordered by address.
    fn allowlist(&self) -> Result<Vec<AllowEntry>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT network, comment, created_at FROM allowlist ORDER BY net_first",
        )?;
        let rows = stmt.query_map([], |row| {
            let network: String = row.get(0)?;
            Ok((network, row.get(1)?, row.get(2)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (network, comment, created_at) = row?;
            if let Ok(network) = network.parse() {
                out.push(AllowEntry {
                    network: crate::network::canonical(network),
                    comment,
                    created_at,
                });
            }
        }
        Ok(out)
    }

    /// A cheap signature of the blocks of `target` in force at `now` and of the stored
    /// allowlist: it changes whenever a block starts, ends or expires, or the allowlist
    /// changes, without reading every block.
    fn active_signature(&self, target: BlockTarget, now: i64) -> Result<String> {
        Ok(self
            .conn
            .prepare_cached(
                "SELECT (SELECT COUNT(*) || ':' || TOTAL(id) || ':' || IFNULL(MAX(id), 0)
                         FROM blocks
                         WHERE ended_at IS NULL AND target = ?1
                           AND (expires_at IS NULL OR expires_at > ?2))
                     || '/' ||
                        (SELECT COUNT(*) || ':' || TOTAL(id) || ':' || IFNULL(MAX(id), 0)
                         FROM allowlist)",
            )?
            .query_row(params![target.as_str(), now], |row| row.get(0))?)
    }

    /// The digest and state token recorded when `place` was last rendered.
    fn last_render(&self, place: &str) -> Result<Option<(String, Option<String>)>> {
        Ok(self
            .conn
            .prepare_cached("SELECT digest, token FROM renders WHERE place = ?1")?
            .query_row([place], |row| Ok((row.get(0)?, row.get(1)?)))
            .optional()?)
    }

    /// How many entries the last render of `place` wrote.
    fn render_entries(&self, place: &str) -> Result<usize> {
        let entries: Option<i64> = self
            .conn
            .prepare_cached("SELECT entries FROM renders WHERE place = ?1")?
            .query_row([place], |row| row.get(0))
            .optional()?;
        Ok(entries.unwrap_or(0).max(0) as usize)
    }

    /// Records what was rendered to `place`, and its state token right after.
    fn save_render(
        &self,
        place: &str,
        digest: &str,
        token: Option<&str>,
        entries: usize,
        now: i64,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO renders (place, digest, token, entries, rendered_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (place) DO UPDATE
                 SET digest = ?2, token = ?3, entries = ?4, rendered_at = ?5",
            )?
            .execute(params![place, digest, token, entries as i64, now])?;
        Ok(())
    }

    /// Every recorded firewall place, ordered by backend and name.
    fn firewall_places(&self) -> Result<Vec<FirewallPlace>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT backend, name FROM firewall_places ORDER BY backend, name")?;
        let rows = stmt.query_map([], |row| {
            Ok(FirewallPlace {
                backend: row.get(0)?,
                name: row.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records that saslguard is about to create objects in `place` (no-op when known).
    fn record_firewall_place(&self, place: &FirewallPlace, now: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO firewall_places (backend, name, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (backend, name) DO NOTHING",
            )?
            .execute(params![place.backend, place.name, now])?;
        Ok(())
    }

    /// Forgets `place` once its objects are gone.
    fn forget_firewall_place(&self, place: &FirewallPlace) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM firewall_places WHERE backend = ?1 AND name = ?2")?
            .execute(params![place.backend, place.name])?;
        Ok(())
    }

    /// Every recorded Postfix map, ordered by type and path.
    fn postfix_map_places(&self) -> Result<Vec<PostfixMapPlace>> {
        use std::os::unix::ffi::OsStringExt;
        let mut stmt = self
            .conn
            .prepare_cached("SELECT map_type, path FROM postfix_maps ORDER BY map_type, path")?;
        let rows = stmt.query_map([], |row| {
            Ok(PostfixMapPlace {
                map_type: row.get(0)?,
                path: std::ffi::OsString::from_vec(row.get::<_, Vec<u8>>(1)?).into(),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Records that saslguard is about to write the map `place` (no-op when known).
    fn record_postfix_map_place(&self, place: &PostfixMapPlace, now: i64) -> Result<()> {
        use std::os::unix::ffi::OsStrExt;
        self.conn
            .prepare_cached(
                "INSERT INTO postfix_maps (map_type, path, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (map_type, path) DO NOTHING",
            )?
            .execute(params![
                place.map_type,
                place.path.as_os_str().as_bytes(),
                now
            ])?;
        Ok(())
    }

    /// Forgets the map `place` once it has been emptied.
    fn forget_postfix_map_place(&self, place: &PostfixMapPlace) -> Result<()> {
        use std::os::unix::ffi::OsStrExt;
        self.conn
            .prepare_cached("DELETE FROM postfix_maps WHERE map_type = ?1 AND path = ?2")?
            .execute(params![place.map_type, place.path.as_os_str().as_bytes()])?;
        Ok(())
    }

    /// A named value kept between runs.
    fn state(&self, key: &str) -> Result<Option<i64>> {
        Ok(self
            .conn
            .prepare_cached("SELECT value FROM state WHERE key = ?1")?
            .query_row([key], |row| row.get(0))
            .optional()?)
    }

    /// Sets a named value kept between runs.
    fn set_state(&self, key: &str, value: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO state (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = ?2",
            )?
            .execute(params![key, value])?;
        Ok(())
    }

    /// Forgets a named value kept between runs (nothing happens when it is not set).
    fn clear_state(&self, key: &str) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM state WHERE key = ?1")?
            .execute([key])?;
        Ok(())
    }
}

impl SqliteStore {
    fn pardons_where(
        &self,
        condition: &str,
        values: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<Pardon>> {
        let sql = format!(
            "SELECT network, until FROM pardons WHERE {condition} ORDER BY net_first, net_last, until"
        );
        let mut stmt = self.conn.prepare_cached(&sql)?;
        let rows = stmt.query_map(values, |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (network, until) = row?;
            if let Ok(network) = network.parse() {
                out.push(Pardon {
                    network: crate::network::canonical(network),
                    until,
                });
            }
        }
        Ok(out)
    }

    /// Deletes blocks that ended before `before` (and pardons older than it); returns how
    /// many blocks went.
    pub fn prune_blocks(&self, before: i64) -> Result<usize> {
        self.conn
            .prepare_cached("DELETE FROM pardons WHERE until < ?1")?
            .execute([before])?;
        Ok(self
            .conn
            .prepare_cached("DELETE FROM blocks WHERE ended_at IS NOT NULL AND ended_at < ?1")?
            .execute([before])?)
    }
}
