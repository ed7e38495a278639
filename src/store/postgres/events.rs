//! Events in the shared store: shipping a batch exactly once (binary COPY straight into
//! `events` when the batch cannot conflict, else into a temporary table, then one
//! `INSERT ... ON CONFLICT (host_id, event_id) DO NOTHING`),
//! and the counts over all hosts the policy and reports read.

use std::net::IpAddr;

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use postgres::GenericClient;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;

use super::{ClusterError, EventKind, Result};

/// One event as a host ships it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterEvent {
    /// The event's id in the host's local store (its position in the host's logs).
    pub event_id: i64,
    /// When it happened (unix seconds).
    pub ts: i64,
    /// The client; IPv4-mapped IPv6 is shipped as the IPv4 address it is.
    pub address: IpAddr,
    pub kind: EventKind,
    pub mechanism: String,
    pub username: Option<String>,
    pub service: String,
}

/// What one shipment did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Shipment {
    /// Events in the batch.
    pub offered: u64,
    /// Events stored for the first time (the rest were already there).
    pub stored: u64,
}

/// The temporary table a batch is copied into; emptied at each commit.
const INCOMING: &str = "CREATE TEMP TABLE IF NOT EXISTS incoming_events (
        event_id  bigint   NOT NULL,
        ts        bigint   NOT NULL,
        address   inet     NOT NULL,
        kind      smallint NOT NULL,
        mechanism text     NOT NULL,
        username  text,
        service   text     NOT NULL
    ) ON COMMIT DELETE ROWS";

/// Stores `events` of host `host_id`, each at most once; runs inside the caller's
/// transaction.
///
/// A batch entirely above the host's highest stored event id cannot conflict: it is
/// copied straight into `events` (the rollup triggers see the COPY as one statement).
/// Any other batch (a retry, a stream that grew behind a later one) goes through the
/// temporary table and `ON CONFLICT DO NOTHING`. The host's row is locked first, so two
/// shippers of one host take turns and the check stays true until the commit.
pub(super) fn ship(
    db: &mut impl GenericClient,
    host_id: i32,
    events: &[ClusterEvent],
) -> Result<Shipment> {
    if events.is_empty() {
        return Ok(Shipment::default());
    }
    db.execute("SELECT 1 FROM hosts WHERE id = $1 FOR UPDATE", &[&host_id])?;
    let highest: Option<i64> = db
        .query_one(
            "SELECT max(event_id) FROM events WHERE host_id = $1",
            &[&host_id],
        )?
        .try_get(0)?;
    let lowest = events.iter().map(|e| e.event_id).min();
    let fresh = match (highest, lowest) {
        (None, _) => true,
        (Some(high), Some(low)) => low > high,
        (Some(_), None) => false,
    };
    if fresh && let Some(times) = timestamps(events) {
        copy_direct(db, host_id, events, &times)?;
        return Ok(Shipment {
            offered: events.len() as u64,
            stored: events.len() as u64,
        });
    }
    ship_deduplicated(db, host_id, events)
}

/// The events' times as `timestamptz` values; `None` when one is out of range (the
/// deduplicating path then reports it as PostgreSQL does).
fn timestamps(events: &[ClusterEvent]) -> Option<Vec<DateTime<Utc>>> {
    events
        .iter()
        .map(|e| DateTime::<Utc>::from_timestamp(e.ts, 0))
        .collect()
}

/// Copies a batch that cannot conflict straight into `events`.
fn copy_direct(
    db: &mut impl GenericClient,
    host_id: i32,
    events: &[ClusterEvent],
    times: &[DateTime<Utc>],
) -> Result<()> {
    let sink = db.copy_in(
        "COPY events (host_id, event_id, ts, address, kind, mechanism, username, service)
         FROM STDIN (FORMAT binary)",
    )?;
    let types = [
        Type::INT4,
        Type::INT8,
        Type::TIMESTAMPTZ,
        Type::INET,
        Type::INT2,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
    ];
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    for (event, ts) in events.iter().zip(times) {
        let address = event.address.to_canonical();
        let kind = kind_code(event.kind);
        writer.write(&[
            &host_id,
            &event.event_id,
            ts,
            &address,
            &kind,
            &event.mechanism,
            &event.username,
            &event.service,
        ])?;
    }
    writer.finish()?;
    Ok(())
}

/// Stores a batch that may hold events already stored: COPY into a temporary table,
/// then one `INSERT ... ON CONFLICT (host_id, event_id) DO NOTHING`.
fn ship_deduplicated(
    db: &mut impl GenericClient,
    host_id: i32,
    events: &[ClusterEvent],
) -> Result<Shipment> {
    db.batch_execute(INCOMING)?;
    let sink = db.copy_in(
        "COPY incoming_events (event_id, ts, address, kind, mechanism, username, service)
         FROM STDIN (FORMAT binary)",
    )?;
    let types = [
        Type::INT8,
        Type::INT8,
        Type::INET,
        Type::INT2,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
    ];
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    for event in events {
        let address = event.address.to_canonical();
        let kind = kind_code(event.kind);
        writer.write(&[
            &event.event_id,
            &event.ts,
            &address,
            &kind,
            &event.mechanism,
            &event.username,
            &event.service,
        ])?;
    }
    writer.finish()?;
    let stored = db.execute(
        "INSERT INTO events (host_id, event_id, ts, address, kind, mechanism, username, service)
         SELECT $1, event_id, to_timestamp(ts), address, kind, mechanism, username, service
         FROM incoming_events
         ON CONFLICT (host_id, event_id) DO NOTHING",
        &[&host_id],
    )?;
    db.execute("TRUNCATE incoming_events", &[])?;
    Ok(Shipment {
        offered: events.len() as u64,
        stored,
    })
}

/// The code of a kind as stored (`event_kinds.code`).
pub(super) fn kind_code(kind: EventKind) -> i16 {
    kind.code() as i16
}

fn kind_codes(kinds: &[EventKind]) -> Vec<i16> {
    kinds.iter().copied().map(kind_code).collect()
}

/// Leaves out events a pardon covers (`e` is the event row).
const NOT_PARDONED: &str = "NOT EXISTS (SELECT 1 FROM pardons AS p
                                   WHERE p.network >>= e.address AND e.ts <= p.until)";

/// Events of `kinds` per address in `(since, until]`, pardoned ones left out.
pub(super) fn per_address(
    db: &mut impl GenericClient,
    kinds: &[EventKind],
    since: i64,
    until: i64,
) -> Result<Vec<(IpAddr, i64)>> {
    let sql = format!(
        "SELECT e.address, COUNT(*) FROM events AS e
         WHERE e.kind = ANY($1) AND e.ts > to_timestamp($2::bigint)
           AND e.ts <= to_timestamp($3::bigint) AND {NOT_PARDONED}
         GROUP BY e.address ORDER BY e.address"
    );
    let rows = db.query(&sql, &[&kind_codes(kinds), &since, &until])?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect()
}

/// Events of `kinds` of addresses inside `network` in `(since, until]`, pardoned ones
/// left out.
pub(super) fn countable(
    db: &mut impl GenericClient,
    network: &IpNet,
    kinds: &[EventKind],
    since: i64,
    until: i64,
) -> Result<i64> {
    let sql = format!(
        "SELECT COUNT(*) FROM events AS e
         WHERE e.address <<= $1::text::inet AND e.kind = ANY($2)
           AND e.ts > to_timestamp($3::bigint) AND e.ts <= to_timestamp($4::bigint)
           AND {NOT_PARDONED}"
    );
    let row = db.query_one(
        &sql,
        &[&network_text(network), &kind_codes(kinds), &since, &until],
    )?;
    Ok(row.try_get(0)?)
}

/// Events of `kinds` inside `network` in `(since, until]` per host name.
pub(super) fn per_host(
    db: &mut impl GenericClient,
    network: &IpNet,
    kinds: &[EventKind],
    since: i64,
    until: i64,
) -> Result<Vec<(String, i64)>> {
    let rows = db.query(
        "SELECT h.name, COUNT(*) FROM events AS e JOIN hosts AS h ON h.id = e.host_id
         WHERE e.address <<= $1::text::inet AND e.kind = ANY($2)
           AND e.ts > to_timestamp($3::bigint) AND e.ts <= to_timestamp($4::bigint)
         GROUP BY h.name ORDER BY h.name",
        &[&network_text(network), &kind_codes(kinds), &since, &until],
    )?;
    rows.iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect()
}

/// A network as PostgreSQL reads it (`cidr`/`inet` text), normalised so an IPv4-mapped
/// network is the IPv4 one and host bits are cleared.
pub(super) fn network_text(network: &IpNet) -> String {
    crate::network::canonical(*network).trunc().to_string()
}

/// A stored network read back.
pub(super) fn parse_network(text: &str) -> Result<IpNet> {
    text.parse::<IpNet>()
        .map(crate::network::canonical)
        .map_err(|_| ClusterError::Corrupt(format!("network {text:?}")))
}
