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

/// A Postfix map saslguard rendered: its table type and source path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PostfixMapPlace {
    /// `cidr`, `texthash`, `hash` or `lmdb` (as `[postfix] map_type` spells it).
    pub map_type: String,
    /// The map's source file.
    pub path: std::path::PathBuf,
}

impl Store {
    /// Every recorded Postfix map, ordered by type and path.
    pub fn postfix_map_places(&self) -> Result<Vec<PostfixMapPlace>> {
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
    pub fn record_postfix_map_place(&self, place: &PostfixMapPlace, now: i64) -> Result<()> {
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
    pub fn forget_postfix_map_place(&self, place: &PostfixMapPlace) -> Result<()> {
        use std::os::unix::ffi::OsStrExt;
        self.conn
            .prepare_cached("DELETE FROM postfix_maps WHERE map_type = ?1 AND path = ?2")?
            .execute(params![place.map_type, place.path.as_os_str().as_bytes()])?;
        Ok(())
    }
}
