//! Named queries for event kinds beyond counted failures: what the policy adds when
//! `[policy] count_invalid_mechanism` is on, and the totals `show` and `report` print for
//! a kind.

use std::net::IpAddr;

use ipnet::IpNet;
use rusqlite::params;

use super::blocks::key_range;
use super::{Result, Store, address};
use crate::parse::EventKind;

impl Store {
    /// Events of `kind` per address in `(since, until]`, pardons not applied: like
    /// [`Store::failures_per_address`] for another kind.
    pub fn kind_per_address(
        &self,
        kind: EventKind,
        since: i64,
        until: i64,
    ) -> Result<Vec<(IpAddr, i64)>> {
        Ok(self
            .events_per_address(kind, since, until, None)?
            .into_iter()
            .filter_map(|(_, key, n)| address::from_key(&key).map(|addr| (addr, n)))
            .collect())
    }

    /// Events of `kind` of the addresses inside `network` in `(since, until]`, leaving
    /// out pardoned ones: like [`Store::countable_failures`] for another kind.
    pub fn countable_of_kind(
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

    /// Events of `kind` in `(since, until]` of the addresses inside `within` (all when
    /// `None`).
    pub fn kind_total(
        &self,
        kind: EventKind,
        since: i64,
        until: i64,
        within: Option<&IpNet>,
    ) -> Result<i64> {
        Ok(self
            .events_per_address(kind, since, until, within)?
            .iter()
            .map(|(_, _, n)| n)
            .sum())
    }
}
