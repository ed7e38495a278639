//! Blocks, pardons and the allowlist in the shared store. Every block keeps its whole
//! history: who decided it (origin and host), why, when it was created, when it
//! expires, and when, why and by which host it ended.

use ipnet::IpNet;
use postgres::{GenericClient, Row};

use super::events::{network_text, parse_network};
use super::{AllowEntry, Block, ClusterError, NewBlock, Pardon, Result};
use crate::model::{BlockTarget, EndReason};

/// A block as the cluster holds it: the block, with the hosts that decided and ended it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterBlock {
    /// The block; its `id` is the cluster's.
    pub block: Block,
    /// The host that decided it.
    pub origin_host: String,
    /// The host that ended it (`None` while active, and for expiry).
    pub ended_by: Option<String>,
}

/// The columns [`from_row`] reads, in order.
pub(super) const COLUMNS: &str =
    "id, network::text, target, origin, reason, failures, window_seconds,
    extract(epoch FROM created_at)::bigint, extract(epoch FROM expires_at)::bigint,
    extract(epoch FROM ended_at)::bigint, end_reason, origin_host, ended_by";

/// A stored name read back; an unknown one is an error naming it.
fn named<T: std::str::FromStr<Err = crate::model::UnknownName>>(text: &str) -> Result<T> {
    text.parse()
        .map_err(|e: crate::model::UnknownName| ClusterError::Corrupt(e.to_string()))
}

/// A block from the columns of [`COLUMNS`].
fn from_row(row: &Row) -> Result<ClusterBlock> {
    let end_reason: Option<String> = row.try_get(10)?;
    let block = Block {
        id: row.try_get(0)?,
        network: parse_network(row.try_get(1)?)?,
        target: named(row.try_get(2)?)?,
        origin: named(row.try_get(3)?)?,
        reason: row.try_get(4)?,
        failures: row.try_get(5)?,
        window_seconds: row.try_get(6)?,
        created_at: row.try_get(7)?,
        expires_at: row.try_get(8)?,
        ended_at: row.try_get(9)?,
        end_reason: end_reason.as_deref().map(named).transpose()?,
    };
    Ok(ClusterBlock {
        block,
        origin_host: row.try_get(11)?,
        ended_by: row.try_get(12)?,
    })
}

pub(super) fn blocks_of(rows: Vec<Row>) -> Result<Vec<ClusterBlock>> {
    rows.iter().map(from_row).collect()
}

/// Records a block decided by `host`; returns its id.
pub(super) fn insert(db: &mut impl GenericClient, block: &NewBlock, host: &str) -> Result<i64> {
    let row = db.query_one(
        "INSERT INTO blocks (network, target, origin, origin_host, reason, failures,
                             window_seconds, created_at, expires_at)
         VALUES ($1::text::cidr, $2, $3, $4, $5, $6, $7, to_timestamp($8::bigint),
                 to_timestamp($9::bigint))
         RETURNING id",
        &[
            &network_text(&block.network),
            &block.target.name(),
            &block.origin.name(),
            &host,
            &block.reason,
            &block.failures,
            &block.window_seconds,
            &block.created_at,
            &block.expires_at,
        ],
    )?;
    Ok(row.try_get(0)?)
}

/// Moves the expiry of an active block and appends `note` to its reason.
pub(super) fn extend(
    db: &mut impl GenericClient,
    id: i64,
    expires_at: Option<i64>,
    note: &str,
) -> Result<bool> {
    let changed = db.execute(
        "UPDATE blocks SET expires_at = to_timestamp($2::bigint), reason = reason || $3
         WHERE id = $1 AND ended_at IS NULL",
        &[&id, &expires_at, &note],
    )?;
    Ok(changed > 0)
}

/// In force at `$now` (a bigint parameter): not ended, not expired.
fn in_force(now: &str) -> String {
    format!("ended_at IS NULL AND (expires_at IS NULL OR expires_at > to_timestamp({now}::bigint))")
}

/// The block of exactly `network` at `target` in force at `now` lasting longest.
pub(super) fn active_of(
    db: &mut impl GenericClient,
    network: &IpNet,
    target: BlockTarget,
    now: i64,
) -> Result<Option<ClusterBlock>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM blocks
         WHERE network = $1::text::cidr AND target = $2 AND {}
         ORDER BY expires_at IS NULL DESC, expires_at DESC LIMIT 1",
        in_force("$3")
    );
    let rows = db.query(&sql, &[&network_text(network), &target.name(), &now])?;
    rows.first().map(from_row).transpose()
}

/// Blocks in force at `now`, of `target` or all, by id.
pub(super) fn active(
    db: &mut impl GenericClient,
    target: Option<BlockTarget>,
    now: i64,
) -> Result<Vec<ClusterBlock>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM blocks
         WHERE {} AND ($2::text IS NULL OR target = $2) ORDER BY id",
        in_force("$1")
    );
    blocks_of(db.query(&sql, &[&now, &target.map(BlockTarget::name)])?)
}

/// The block with this id, if it was not pruned.
pub(super) fn by_id(db: &mut impl GenericClient, id: i64) -> Result<Option<ClusterBlock>> {
    let sql = format!("SELECT {COLUMNS} FROM blocks WHERE id = $1");
    db.query(&sql, &[&id])?.first().map(from_row).transpose()
}

/// Every block, newest first.
pub(super) fn all(db: &mut impl GenericClient) -> Result<Vec<ClusterBlock>> {
    let sql = format!("SELECT {COLUMNS} FROM blocks ORDER BY created_at DESC, id DESC");
    blocks_of(db.query(&sql, &[])?)
}

/// Ends the blocks in force inside (or overlapping) `network`, as ended by `host`.
pub(super) fn end(
    db: &mut impl GenericClient,
    network: &IpNet,
    overlapping: bool,
    now: i64,
    reason: EndReason,
    host: &str,
) -> Result<Vec<ClusterBlock>> {
    let condition = if overlapping {
        "network && $1::text::cidr"
    } else {
        "network <<= $1::text::cidr"
    };
    let sql = format!(
        "UPDATE blocks SET ended_at = to_timestamp($2::bigint), end_reason = $3, ended_by = $4
         WHERE {} AND {condition}
         RETURNING {COLUMNS}",
        in_force("$2")
    );
    blocks_of(db.query(&sql, &[&network_text(network), &now, &reason.name(), &host])?)
}

/// Ends every block whose time is over at `now`, as ended at its expiry.
pub(super) fn expire(db: &mut impl GenericClient, now: i64) -> Result<Vec<ClusterBlock>> {
    let sql = format!(
        "UPDATE blocks SET ended_at = expires_at, end_reason = 'expired'
         WHERE ended_at IS NULL AND expires_at <= to_timestamp($1::bigint)
         RETURNING {COLUMNS}"
    );
    blocks_of(db.query(&sql, &[&now])?)
}

/// How many blocks of `target` ever covered `network` (allowlisted ones left out), and
/// when the latest was created.
pub(super) fn history(
    db: &mut impl GenericClient,
    network: &IpNet,
    target: BlockTarget,
) -> Result<(i64, Option<i64>)> {
    let row = db.query_one(
        "SELECT COUNT(*), extract(epoch FROM MAX(created_at))::bigint FROM blocks
         WHERE target = $2 AND network >>= $1::text::cidr
           AND end_reason IS DISTINCT FROM 'allowlisted'",
        &[&network_text(network), &target.name()],
    )?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// Failures inside `network` up to `until` count no more, on any host.
pub(super) fn add_pardon(
    db: &mut impl GenericClient,
    network: &IpNet,
    until: i64,
    host: &str,
) -> Result<()> {
    db.execute(
        "INSERT INTO pardons (network, until, added_by)
         VALUES ($1::text::cidr, to_timestamp($2::bigint), $3)",
        &[&network_text(network), &until, &host],
    )?;
    Ok(())
}

/// Every pardon, by network, then time.
pub(super) fn pardons(db: &mut impl GenericClient) -> Result<Vec<Pardon>> {
    let rows = db.query(
        "SELECT network::text, extract(epoch FROM until)::bigint FROM pardons
         ORDER BY family(network), network, until",
        &[],
    )?;
    rows.iter()
        .map(|row| {
            Ok(Pardon {
                network: parse_network(row.try_get(0)?)?,
                until: row.try_get(1)?,
            })
        })
        .collect()
}

/// Adds an allowlist entry; false when the network was there.
pub(super) fn allow_add(
    db: &mut impl GenericClient,
    network: &IpNet,
    comment: Option<&str>,
    now: i64,
    host: &str,
) -> Result<bool> {
    let added = db.execute(
        "INSERT INTO allowlist (network, comment, added_by, created_at)
         VALUES ($1::text::cidr, $2, $3, to_timestamp($4::bigint))
         ON CONFLICT (network) DO NOTHING",
        &[&network_text(network), &comment, &host, &now],
    )?;
    Ok(added > 0)
}

/// Removes an allowlist entry; false when there was none.
pub(super) fn allow_remove(db: &mut impl GenericClient, network: &IpNet) -> Result<bool> {
    let removed = db.execute(
        "DELETE FROM allowlist WHERE network = $1::text::cidr",
        &[&network_text(network)],
    )?;
    Ok(removed > 0)
}

/// The stored allowlist, by network.
pub(super) fn allowlist(db: &mut impl GenericClient) -> Result<Vec<AllowEntry>> {
    let rows = db.query(
        "SELECT network::text, comment, extract(epoch FROM created_at)::bigint FROM allowlist
         ORDER BY family(network), network",
        &[],
    )?;
    rows.iter()
        .map(|row| {
            Ok(AllowEntry {
                network: parse_network(row.try_get(0)?)?,
                comment: row.try_get(1)?,
                created_at: row.try_get(2)?,
            })
        })
        .collect()
}
