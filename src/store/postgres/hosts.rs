//! The hosts of the cluster (who shipped, when, how much is still held back) and
//! retention in the shared store.

use postgres::GenericClient;

use super::Result;

/// One host as `cluster status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct HostStatus {
    pub name: String,
    /// First and last contact (unix seconds).
    pub first_contact: i64,
    pub last_contact: i64,
    /// Events this host stored in the cluster (each once).
    pub events_shipped: i64,
    /// Events it still held back at its last contact, as it said.
    pub backlog: i64,
    /// The saslguard version it last connected with.
    pub version: Option<String>,
}

/// What retention deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Pruned {
    pub events: u64,
    pub blocks: u64,
    pub pardons: u64,
}

/// Records `host` (new, or a new contact); returns its id.
pub(super) fn register(db: &mut impl GenericClient, host: &str, now: i64) -> Result<i32> {
    let row = db.query_one(
        "INSERT INTO hosts (name, first_contact, last_contact, version)
         VALUES ($1, to_timestamp($2::bigint), to_timestamp($2::bigint), $3)
         ON CONFLICT (name) DO UPDATE
         SET last_contact = GREATEST(hosts.last_contact, EXCLUDED.last_contact),
             version = EXCLUDED.version
         RETURNING id",
        &[&host, &now, &env!("CARGO_PKG_VERSION")],
    )?;
    Ok(row.try_get(0)?)
}

/// Records a contact of host `id`: `stored` more events shipped, `backlog` held back.
pub(super) fn contact(
    db: &mut impl GenericClient,
    id: i32,
    stored: u64,
    backlog: u64,
    now: i64,
) -> Result<()> {
    db.execute(
        "UPDATE hosts SET last_contact = GREATEST(last_contact, to_timestamp($2::bigint)),
                          events_shipped = events_shipped + $3, backlog = $4
         WHERE id = $1",
        &[
            &id,
            &now,
            &i64::try_from(stored).unwrap_or(i64::MAX),
            &i64::try_from(backlog).unwrap_or(i64::MAX),
        ],
    )?;
    Ok(())
}

/// Every host, by name.
pub(super) fn list(db: &mut impl GenericClient) -> Result<Vec<HostStatus>> {
    let rows = db.query(
        "SELECT name, extract(epoch FROM first_contact)::bigint,
                extract(epoch FROM last_contact)::bigint, events_shipped, backlog, version
         FROM hosts ORDER BY name",
        &[],
    )?;
    rows.iter()
        .map(|row| {
            Ok(HostStatus {
                name: row.try_get(0)?,
                first_contact: row.try_get(1)?,
                last_contact: row.try_get(2)?,
                events_shipped: row.try_get(3)?,
                backlog: row.try_get(4)?,
                version: row.try_get(5)?,
            })
        })
        .collect()
}

/// What retention takes from each table: the rows older than a cutoff (`$1`, unix
/// seconds), events by the events' cutoff, blocks and pardons by the blocks'.
const RETAINED: [(&str, &str); 3] = [
    ("events", "ts < to_timestamp($1::bigint)"),
    ("blocks", "ended_at < to_timestamp($1::bigint)"),
    ("pardons", "until < to_timestamp($1::bigint)"),
];

/// Deletes events before `events_before`, and blocks ended and pardons ending before
/// `blocks_before` (`delete` false: only counts them, for `prune --dry-run`).
pub(super) fn prune(
    db: &mut impl GenericClient,
    events_before: Option<i64>,
    blocks_before: Option<i64>,
    delete: bool,
) -> Result<Pruned> {
    let mut counts = [0u64; 3];
    let cutoffs = [events_before, blocks_before, blocks_before];
    for (((table, condition), before), count) in RETAINED.iter().zip(cutoffs).zip(&mut counts) {
        let Some(before) = before else { continue };
        *count = if delete {
            db.execute(
                &format!("DELETE FROM {table} WHERE {condition}"),
                &[&before],
            )?
        } else {
            let n: i64 = db
                .query_one(
                    &format!("SELECT COUNT(*) FROM {table} WHERE {condition}"),
                    &[&before],
                )?
                .try_get(0)?;
            n.max(0) as u64
        };
    }
    let [events, blocks, pardons] = counts;
    Ok(Pruned {
        events,
        blocks,
        pardons,
    })
}
