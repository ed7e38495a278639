//! The cluster policy's watermark (`policy_watermark`): what the last evaluation over all
//! hosts depended on, read and written under the policy lock. The signature itself is
//! computed by `crate::enforce::watermark`, the same as a host alone's.

use postgres::GenericClient;

use super::Result;
use super::events::kind_code;
use crate::model::EventKind;

/// The events side of the signature: hosts known and events they stored (each once).
/// `hosts.events_shipped` grows in the transaction that stores the events, so a
/// shipment is seen whole or not at all; retention only lowers counts.
pub(super) fn events(db: &mut impl GenericClient) -> Result<(i64, i64)> {
    let row = db.query_one(
        "SELECT count(*)::bigint, COALESCE(sum(events_shipped), 0)::bigint FROM hosts",
        &[],
    )?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// The blocks side: every block in force at `now` by id and expiry, as one digest.
pub(super) fn blocks(db: &mut impl GenericClient, now: i64) -> Result<String> {
    let row = db.query_one(
        "SELECT md5(COALESCE(string_agg(id::text || ':' || target || ':' ||
                    COALESCE(extract(epoch FROM expires_at)::bigint::text, '-'), ',' ORDER BY id), ''))
         FROM blocks
         WHERE ended_at IS NULL AND (expires_at IS NULL OR expires_at > to_timestamp($1::bigint))",
        &[&now],
    )?;
    Ok(row.try_get(0)?)
}

/// Whether any countable event (a failure of either counted kind) lies after `at`.
pub(super) fn countable_after(db: &mut impl GenericClient, at: i64) -> Result<bool> {
    let kinds: Vec<i16> = [EventKind::AuthFailed, EventKind::InvalidMechanism]
        .into_iter()
        .map(kind_code)
        .collect();
    let row = db.query_one(
        "SELECT EXISTS (SELECT 1 FROM events
                        WHERE kind = ANY($1) AND ts > to_timestamp($2::bigint))",
        &[&kinds, &at],
    )?;
    Ok(row.try_get(0)?)
}

/// The recorded signature and evaluation time, if any.
pub(super) fn recorded(db: &mut impl GenericClient) -> Result<Option<(i64, i64)>> {
    let rows = db.query("SELECT signature, evaluated_at FROM policy_watermark", &[])?;
    match rows.first() {
        Some(row) => Ok(Some((row.try_get(0)?, row.try_get(1)?))),
        None => Ok(None),
    }
}

/// Replaces the record: `Some((signature, evaluated_at))`, or none (evaluate next time).
pub(super) fn record(db: &mut impl GenericClient, mark: Option<(i64, i64)>) -> Result<()> {
    db.execute("DELETE FROM policy_watermark", &[])?;
    if let Some((signature, at)) = mark {
        db.execute(
            "INSERT INTO policy_watermark (signature, evaluated_at) VALUES ($1, $2)",
            &[&signature, &at],
        )?;
    }
    Ok(())
}
