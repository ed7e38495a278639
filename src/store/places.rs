//! Where saslguard created firewall objects: one record per (backend, name), kept from
//! before the first change there until its objects are removed, so a backend or name
//! no longer configured is cleaned up (`enforce::remove_leftovers`).

use rusqlite::params;

use super::{Result, Store};

/// A backend and name saslguard created firewall objects under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FirewallPlace {
    /// `nftables`, `ipset` or `iptables` (the target's name).
    pub backend: String,
    /// The `[firewall] name` used there.
    pub name: String,
}

impl Store {
    /// Every recorded firewall place, ordered by backend and name.
    pub fn firewall_places(&self) -> Result<Vec<FirewallPlace>> {
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
    pub fn record_firewall_place(&self, place: &FirewallPlace, now: i64) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO firewall_places (backend, name, created_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (backend, name) DO NOTHING",
            )?
            .execute(params![place.backend, place.name, now])?;
        Ok(())
    }

    /// Forgets `place` once its objects are gone.
    pub fn forget_firewall_place(&self, place: &FirewallPlace) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM firewall_places WHERE backend = ?1 AND name = ?2")?
            .execute(params![place.backend, place.name])?;
        Ok(())
    }
}
