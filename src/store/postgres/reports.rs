//! The reports over the cluster (`top`, `show`, `report`, `blocks` with `[cluster]`):
//! [`ClusterReports`] implements [`ReportStore`] and [`BlockStore`] on the shared store,
//! so `src/report/` reads every host's events and the cluster's blocks through the same
//! traits as a single host's SQLite. What only this host has (its runs, unparsed lines,
//! render records, firewall places, named state) still comes from its local store.

use std::cell::RefCell;
use std::net::IpAddr;

use ipnet::IpNet;
use postgres::types::ToSql;
use postgres::{Client, Row};

use super::blocks::{self, ClusterBlock};
use super::events::{countable, kind_code, network_text, parse_network};
use super::{ClusterError, Settings};
use crate::model::{BlockTarget, EndReason, EventKind};
use crate::store::rollup::Split;
use crate::store::{
    AddressPeriods, AllowEntry, Block, BlockCounts, BlockStore, FirewallPlace, Grouping,
    LabelCount, LabelKind, LastRun, NewBlock, Pardon, PostfixMapPlace, RangeTotals, RankedLabel,
    RankedOffender, RenderRecord, ReportStore, Result, SqliteStore, StoreError, StoreMetrics,
};

/// The earliest and latest unix seconds PostgreSQL's `timestamptz` holds (about 4700 BC
/// and 294000 AD): "from the beginning" (`i64::MIN`) is clamped to the first.
const EARLIEST: i64 = -210_000_000_000;
const LATEST: i64 = 9_000_000_000_000;

/// Unix seconds as a `to_timestamp` argument.
fn at(unix: i64) -> i64 {
    unix.clamp(EARLIEST, LATEST)
}

/// An optional start as a `to_timestamp` argument (`None`: the beginning).
fn since_or_start(since: Option<i64>) -> i64 {
    at(since.unwrap_or(i64::MIN))
}

/// The cluster's view for reports: events of every host and the cluster's blocks from
/// PostgreSQL, this host's own records from its local store.
pub struct ClusterReports {
    /// The connection (queries need `&mut`, the traits give `&self`; one thread).
    db: RefCell<Client>,
    /// This host's local store: runs, render records, places, state.
    local: SqliteStore,
    /// This host's name, recorded on the changes made through this store.
    host: String,
}

impl ClusterReports {
    /// Connects within the timeout of `settings` and brings the schema up to date (a
    /// report does not count as a contact: the host's record is left as it is).
    pub fn open(
        settings: &Settings,
        host: &str,
        local: SqliteStore,
    ) -> std::result::Result<ClusterReports, ClusterError> {
        super::check_host_name(host)?;
        let mut client = settings.open()?;
        super::migrate(&mut client, settings.shown())?;
        Ok(ClusterReports {
            db: RefCell::new(client),
            local,
            host: host.to_string(),
        })
    }

    /// This host's local store.
    pub fn local(&self) -> &SqliteStore {
        &self.local
    }

    /// Runs `f` on the connection, mapping its errors to [`StoreError`].
    fn with<T>(
        &self,
        f: impl FnOnce(&mut Client) -> std::result::Result<T, ClusterError>,
    ) -> Result<T> {
        let mut db = self.db.borrow_mut();
        f(&mut db).map_err(|e| StoreError::Backend(Box::new(e)))
    }

    /// The rows of `sql` with `params`.
    fn rows(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        self.with(|db| Ok(db.query(sql, params)?))
    }

    /// The one row of `sql` with `params`.
    fn row(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        self.with(|db| Ok(db.query_one(sql, params)?))
    }
}

/// A backend error for a stored value this saslguard cannot read.
fn corrupt(error: ClusterError) -> StoreError {
    StoreError::Backend(Box::new(error))
}

fn query_error(error: postgres::Error) -> StoreError {
    StoreError::Backend(Box::new(ClusterError::Query(error)))
}

/// The blocks of cluster rows, without their hosts.
fn plain(blocks: Vec<ClusterBlock>) -> Vec<Block> {
    blocks.into_iter().map(|b| b.block).collect()
}

/// The column of a label kind in `events`.
fn label_column(kind: LabelKind) -> &'static str {
    match kind {
        LabelKind::Username => "username",
        LabelKind::Mechanism => "mechanism",
        LabelKind::Service => "service",
    }
}

/// Events of `kind` in `(since, until]` (parameters `$1`, `$2`, `$3`).
const IN_PERIOD: &str =
    "kind = $1 AND ts > to_timestamp($2::bigint) AND ts <= to_timestamp($3::bigint)";

/// Unix seconds of a `timestamptz` expression.
fn epoch(expr: &str) -> String {
    format!("extract(epoch FROM {expr})::bigint")
}

/// The rows of events of `kinds` in `(since, until]` as `(kind, address, host_id, n)`
/// (`ts_hour`: the hour of an event's `ts`, when `hours` asks for it as a fifth column):
/// the whole UTC days from `event_days`, the whole hours around them from
/// `event_hours`, the partial hours at either end from `events` (see
/// [`crate::store::rollup::Split`]). Exact for any period. The pieces are literal
/// numbers computed here (never outside text); `filter` is added to every piece (an
/// address condition on a parameter, or `TRUE`).
fn period_rows(kinds: &[EventKind], since: i64, until: i64, filter: &str, hours: bool) -> String {
    let split = Split::new(at(since), at(until));
    let kinds = kinds
        .iter()
        .map(|k| kind_code(*k).to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let (day_hour, hour_hour, event_hour) = if hours {
        (
            ", day * 24 AS hour",
            ", hour",
            ", floor(extract(epoch FROM ts) / 3600)::bigint AS hour",
        )
    } else {
        ("", "", "")
    };
    // Per hour, the whole hours come from `event_hours` alone (days have no hours).
    let (days, hour_ranges) = if hours {
        (
            String::new(),
            format!("hour BETWEEN {} AND {}", split.hour_from, split.hour_to),
        )
    } else {
        (
            format!(
                "SELECT kind, address, host_id, n{day_hour} FROM event_days
                 WHERE kind IN ({kinds}) AND day BETWEEN {} AND {} AND {filter}
                 UNION ALL ",
                split.day_from, split.day_to
            ),
            format!(
                "(hour BETWEEN {} AND {} OR hour BETWEEN {} AND {})",
                split.lead_from, split.lead_to, split.trail_from, split.trail_to
            ),
        )
    };
    format!(
        "{days}SELECT kind, address, host_id, n{hour_hour} FROM event_hours
         WHERE kind IN ({kinds}) AND {hour_ranges} AND {filter}
         UNION ALL
         SELECT kind, address, host_id, 1::bigint{event_hour} FROM events
         WHERE kind IN ({kinds}) AND {filter}
           AND (ts BETWEEN to_timestamp({}) AND to_timestamp({})
                OR ts BETWEEN to_timestamp({}) AND to_timestamp({}))",
        split.head_from, split.head_to, split.tail_from, split.tail_to
    )
}

impl ReportStore for ClusterReports {
    fn rank_offenders(
        &self,
        kind: EventKind,
        since: Option<i64>,
        until: i64,
        grouping: Grouping,
    ) -> Result<Vec<RankedOffender>> {
        let (v4, v6) = match grouping {
            Grouping::Address => (32, 128),
            Grouping::Network {
                v4_prefix,
                v6_prefix,
            } => (i32::from(v4_prefix.min(32)), i32::from(v6_prefix.min(128))),
        };
        let sql = format!(
            "SELECT host(net)::inet, n, RANK() OVER (ORDER BY n DESC) AS rank
             FROM (SELECT network(set_masklen(address,
                              CASE family(address) WHEN 4 THEN $1::int ELSE $2::int END)) AS net,
                          SUM(n)::bigint AS n
                   FROM ({}) AS p GROUP BY 1) AS c
             ORDER BY rank, net",
            period_rows(&[kind], since.unwrap_or(i64::MIN), until, "TRUE", false)
        );
        let rows = self.rows(&sql, &[&v4, &v6])?;
        rows.iter()
            .map(|row| {
                let addr: IpAddr = row.try_get(0).map_err(query_error)?;
                Ok(RankedOffender {
                    network: grouping.network_of(addr),
                    failures: row.try_get(1).map_err(query_error)?,
                    first_seen: None,
                    last_seen: None,
                    rank: row.try_get(2).map_err(query_error)?,
                })
            })
            .collect()
    }

    fn first_and_last(
        &self,
        network: &IpNet,
        kind: EventKind,
        since: Option<i64>,
        until: i64,
    ) -> Result<Option<(i64, i64)>> {
        // One address: an equality, so the index on (address, ts) finds both ends in
        // a seek each; a network: its range of that index.
        let single = network.prefix_len() == network.max_prefix_len();
        let sql = format!(
            "SELECT {}, {} FROM events WHERE {IN_PERIOD} AND address {} $4::text::inet",
            epoch("MIN(ts)"),
            epoch("MAX(ts)"),
            if single { "=" } else { "<<=" }
        );
        let row = self.row(
            &sql,
            &[
                &kind_code(kind),
                &since_or_start(since),
                &at(until),
                &network_text(network),
            ],
        )?;
        let first: Option<i64> = row.try_get(0).map_err(query_error)?;
        let last: Option<i64> = row.try_get(1).map_err(query_error)?;
        Ok(first.zip(last))
    }

    fn failed_by(&self, network: &IpNet, at_most: i64) -> Result<bool> {
        let row = self.row(
            "SELECT EXISTS (SELECT 1 FROM events WHERE address <<= $1::text::inet
                            AND kind = $2 AND ts <= to_timestamp($3::bigint))",
            &[
                &network_text(network),
                &kind_code(EventKind::AuthFailed),
                &at(at_most),
            ],
        )?;
        row.try_get(0).map_err(query_error)
    }

    fn rank_labels(
        &self,
        since: Option<i64>,
        until: i64,
        kind: LabelKind,
    ) -> Result<Vec<RankedLabel>> {
        let column = label_column(kind);
        let sql = format!(
            "SELECT {column}, COUNT(*), {}, {}, RANK() OVER (ORDER BY COUNT(*) DESC) AS rank
             FROM events WHERE {IN_PERIOD} AND {column} IS NOT NULL
             GROUP BY {column} ORDER BY rank, {column} COLLATE \"C\"",
            epoch("MIN(ts)"),
            epoch("MAX(ts)")
        );
        let rows = self.rows(
            &sql,
            &[
                &kind_code(EventKind::AuthFailed),
                &since_or_start(since),
                &at(until),
            ],
        )?;
        rows.iter()
            .map(|row| {
                Ok(RankedLabel {
                    text: row.try_get(0)?,
                    failures: row.try_get(1)?,
                    first_seen: row.try_get(2)?,
                    last_seen: row.try_get(3)?,
                    rank: row.try_get(4)?,
                })
            })
            .collect::<std::result::Result<_, postgres::Error>>()
            .map_err(query_error)
    }

    fn label_failed_by(&self, kind: LabelKind, text: &str, at_most: i64) -> Result<bool> {
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM events WHERE {} = $1 AND kind = $2
                            AND ts <= to_timestamp($3::bigint))",
            label_column(kind)
        );
        let row = self.row(
            &sql,
            &[&text, &kind_code(EventKind::AuthFailed), &at(at_most)],
        )?;
        row.try_get(0).map_err(query_error)
    }

    fn range_totals(&self, network: &IpNet, until: i64) -> Result<RangeTotals> {
        let sql = format!(
            "SELECT COUNT(DISTINCT address) FILTER (WHERE kind = $3),
                    COUNT(*) FILTER (WHERE kind = $3),
                    {}, {},
                    COUNT(*) FILTER (WHERE kind = $4)
             FROM events WHERE address <<= $1::text::inet AND ts <= to_timestamp($2::bigint)",
            epoch("MIN(ts) FILTER (WHERE kind = $3)"),
            epoch("MAX(ts) FILTER (WHERE kind = $3)"),
        );
        let row = self.row(
            &sql,
            &[
                &network_text(network),
                &at(until),
                &kind_code(EventKind::AuthFailed),
                &kind_code(EventKind::ServerFault),
            ],
        )?;
        (|| {
            Ok(RangeTotals {
                addresses: row.try_get(0)?,
                failures: row.try_get(1)?,
                first_seen: row.try_get(2)?,
                last_seen: row.try_get(3)?,
                server_faults: row.try_get(4)?,
            })
        })()
        .map_err(query_error)
    }

    fn range_failures_per_day(
        &self,
        network: &IpNet,
        from: i64,
        until: i64,
    ) -> Result<Vec<(i64, i64)>> {
        let sql = format!(
            "SELECT ({} - $2) / 86400 AS day, COUNT(*) FROM events
             WHERE address <<= $1::text::inet AND kind = $4
               AND ts >= to_timestamp($2::bigint) AND ts <= to_timestamp($3::bigint)
             GROUP BY day ORDER BY day",
            epoch("ts")
        );
        let rows = self.rows(
            &sql,
            &[
                &network_text(network),
                &at(from),
                &at(until),
                &kind_code(EventKind::AuthFailed),
            ],
        )?;
        rows.iter()
            .map(|row| Ok((from + row.try_get::<_, i64>(0)? * 86_400, row.try_get(1)?)))
            .collect::<std::result::Result<_, postgres::Error>>()
            .map_err(query_error)
    }

    fn range_label_counts(&self, network: &IpNet, until: i64) -> Result<[Vec<LabelCount>; 3]> {
        let rows = self.rows(
            "SELECT username, mechanism, service, COUNT(*) FROM events
             WHERE address <<= $1::text::inet AND kind = $2 AND ts <= to_timestamp($3::bigint)
             GROUP BY 1, 2, 3",
            &[
                &network_text(network),
                &kind_code(EventKind::AuthFailed),
                &at(until),
            ],
        )?;
        let mut counts: [std::collections::HashMap<Option<String>, i64>; 3] = Default::default();
        for row in &rows {
            let n: i64 = row.try_get(3).map_err(query_error)?;
            let texts: [Option<String>; 3] = [
                row.try_get(0).map_err(query_error)?,
                row.try_get(1).map_err(query_error)?,
                row.try_get(2).map_err(query_error)?,
            ];
            for (count, text) in counts.iter_mut().zip(texts) {
                *count.entry(text).or_insert(0) += n;
            }
        }
        Ok(counts.map(|count| {
            let mut list: Vec<LabelCount> = count
                .into_iter()
                .map(|(text, failures)| LabelCount { text, failures })
                .collect();
            list.sort_by(|a, b| {
                b.failures
                    .cmp(&a.failures)
                    .then(a.text.is_none().cmp(&b.text.is_none()))
                    .then(a.text.cmp(&b.text))
            });
            list
        }))
    }

    fn blocks_overlapping(&self, network: &IpNet) -> Result<Vec<Block>> {
        let sql = format!(
            "SELECT {} FROM blocks WHERE network && $1::text::cidr
             ORDER BY created_at DESC, id DESC",
            blocks::COLUMNS
        );
        let rows = self.rows(&sql, &[&network_text(network)])?;
        Ok(plain(blocks::blocks_of(rows).map_err(corrupt)?))
    }

    fn blocks_during(&self, since: i64, until: i64) -> Result<Vec<Block>> {
        let sql = format!(
            "SELECT {} FROM blocks
             WHERE created_at <= to_timestamp($2::bigint)
               AND (ended_at IS NULL OR ended_at > to_timestamp($1::bigint))
               AND (expires_at IS NULL OR expires_at > to_timestamp($1::bigint))
             ORDER BY created_at, id",
            blocks::COLUMNS
        );
        let rows = self.rows(&sql, &[&at(since), &at(until)])?;
        Ok(plain(blocks::blocks_of(rows).map_err(corrupt)?))
    }

    fn blocks_in_period(&self, since: i64, until: i64) -> Result<Vec<(BlockTarget, BlockCounts)>> {
        let rows = self.rows(
            "SELECT target,
                    COUNT(*) FILTER (WHERE created_at > since AND created_at <= until),
                    COUNT(*) FILTER (WHERE end_at > since AND end_at <= until),
                    COUNT(*) FILTER (WHERE created_at <= until
                                       AND (end_at IS NULL OR end_at > until))
             FROM (SELECT target, created_at, LEAST(ended_at, expires_at) AS end_at,
                          to_timestamp($1::bigint) AS since, to_timestamp($2::bigint) AS until
                   FROM blocks) AS b
             GROUP BY target",
            &[&at(since), &at(until)],
        )?;
        let found = rows
            .iter()
            .map(|row| {
                Ok::<_, postgres::Error>((
                    row.try_get(0)?,
                    BlockCounts {
                        created: row.try_get(1)?,
                        ended: row.try_get(2)?,
                        active: row.try_get(3)?,
                    },
                ))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(query_error)?;
        Ok(crate::store::counts_per_target(found))
    }

    fn address_periods(
        &self,
        previous_since: i64,
        since: i64,
        until: i64,
    ) -> Result<Vec<AddressPeriods>> {
        let kinds = [EventKind::AuthFailed, EventKind::ServerFault];
        let (failed, fault) = (kind_code(kinds[0]), kind_code(kinds[1]));
        let sql = format!(
            "SELECT address,
                    COALESCE(SUM(n) FILTER (WHERE current AND kind = {failed}), 0)::bigint,
                    COALESCE(SUM(n) FILTER (WHERE current AND kind = {fault}), 0)::bigint,
                    COALESCE(SUM(n) FILTER (WHERE NOT current AND kind = {failed}), 0)::bigint,
                    COALESCE(SUM(n) FILTER (WHERE NOT current AND kind = {fault}), 0)::bigint
             FROM (SELECT TRUE AS current, kind, address, n FROM ({}) AS c
                   UNION ALL
                   SELECT FALSE, kind, address, n FROM ({}) AS p) AS r
             GROUP BY address HAVING SUM(n) > 0",
            period_rows(&kinds, since, until, "TRUE", false),
            period_rows(&kinds, previous_since, since, "TRUE", false),
        );
        let rows = self.rows(&sql, &[])?;
        rows.iter()
            .map(|row| {
                Ok(AddressPeriods {
                    address: row.try_get(0)?,
                    failures: row.try_get(1)?,
                    server_faults: row.try_get(2)?,
                    previous_failures: row.try_get(3)?,
                    previous_server_faults: row.try_get(4)?,
                })
            })
            .collect::<std::result::Result<_, postgres::Error>>()
            .map_err(query_error)
    }

    fn failures_per_hour(&self, since: i64, until: i64) -> Result<Vec<(i64, i64)>> {
        let sql = format!(
            "SELECT hour * 3600, SUM(n)::bigint FROM ({}) AS p
             GROUP BY hour HAVING SUM(n) > 0 ORDER BY hour",
            period_rows(&[EventKind::AuthFailed], since, until, "TRUE", true)
        );
        let rows = self.rows(&sql, &[])?;
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<std::result::Result<_, postgres::Error>>()
            .map_err(query_error)
    }

    fn events_per_address(
        &self,
        kind: EventKind,
        since: i64,
        until: i64,
        within: Option<&IpNet>,
    ) -> Result<Vec<(IpAddr, i64)>> {
        let per_address = |filter: &str| {
            format!(
                "SELECT address, SUM(n)::bigint FROM ({}) AS p
                 GROUP BY address HAVING SUM(n) > 0",
                period_rows(&[kind], since, until, filter, false)
            )
        };
        let rows = match within {
            Some(network) => self.rows(
                &per_address("address <<= $1::text::inet"),
                &[&network_text(network)],
            )?,
            None => self.rows(&per_address("TRUE"), &[])?,
        };
        rows.iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<std::result::Result<_, postgres::Error>>()
            .map_err(query_error)
    }

    fn events_of_address(
        &self,
        addr: IpAddr,
        kind: EventKind,
        since: i64,
        until: i64,
    ) -> Result<i64> {
        let row = self.row(
            &format!("SELECT COUNT(*) FROM events WHERE {IN_PERIOD} AND address = $4"),
            &[
                &kind_code(kind),
                &at(since),
                &at(until),
                &addr.to_canonical(),
            ],
        )?;
        row.try_get(0).map_err(query_error)
    }

    /// This host's own figures: runs and unparsed lines never leave a host, and
    /// `metrics` describes the host it runs on.
    fn metrics(&self) -> Result<StoreMetrics> {
        self.local.metrics()
    }

    /// This host's own runs (runs are not shipped).
    fn last_run(&self, command: &str) -> Result<Option<LastRun>> {
        self.local.last_run(command)
    }

    fn hosts_of(
        &self,
        network: &IpNet,
        kind: EventKind,
        since: Option<i64>,
        until: i64,
    ) -> Result<Option<Vec<(String, i64)>>> {
        let sql = format!(
            "SELECT h.name, c.n FROM (SELECT host_id, SUM(n)::bigint AS n FROM ({}) AS p
                                   GROUP BY host_id HAVING SUM(n) > 0) AS c
             JOIN hosts AS h ON h.id = c.host_id ORDER BY h.name COLLATE \"C\"",
            period_rows(
                &[kind],
                since.unwrap_or(i64::MIN),
                until,
                "address <<= $1::text::inet",
                false
            )
        );
        let rows = self.rows(&sql, &[&network_text(network)])?;
        let hosts = rows
            .iter()
            .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
            .collect::<std::result::Result<_, postgres::Error>>()
            .map_err(query_error)?;
        Ok(Some(hosts))
    }
}

impl BlockStore for ClusterReports {
    fn insert_block(&self, block: &NewBlock) -> Result<i64> {
        self.with(|db| blocks::insert(db, block, &self.host))
    }
    fn extend_block(&self, id: i64, expires_at: Option<i64>, note: &str) -> Result<bool> {
        self.with(|db| blocks::extend(db, id, expires_at, note))
    }
    fn active_block_of(
        &self,
        network: &IpNet,
        target: BlockTarget,
        now: i64,
    ) -> Result<Option<Block>> {
        Ok(self
            .with(|db| blocks::active_of(db, network, target, now))?
            .map(|b| b.block))
    }
    fn active_blocks(&self, target: Option<BlockTarget>, now: i64) -> Result<Vec<Block>> {
        Ok(plain(self.with(|db| blocks::active(db, target, now))?))
    }
    fn all_blocks(&self) -> Result<Vec<Block>> {
        Ok(plain(self.with(blocks::all)?))
    }
    fn end_blocks(
        &self,
        network: &IpNet,
        overlapping: bool,
        now: i64,
        reason: EndReason,
    ) -> Result<Vec<Block>> {
        Ok(plain(self.with(|db| {
            blocks::end(db, network, overlapping, now, reason, &self.host)
        })?))
    }
    fn expire_blocks(&self, now: i64) -> Result<Vec<Block>> {
        Ok(plain(self.with(|db| blocks::expire(db, now))?))
    }
    fn is_covered(&self, network: &IpNet, target: BlockTarget, now: i64) -> Result<bool> {
        let row = self.row(
            "SELECT EXISTS (SELECT 1 FROM blocks
                            WHERE target = $2 AND network >>= $1::text::cidr
                              AND ended_at IS NULL
                              AND (expires_at IS NULL OR expires_at > to_timestamp($3::bigint)))",
            &[&network_text(network), &target.name(), &at(now)],
        )?;
        row.try_get(0).map_err(query_error)
    }
    fn block_history(&self, network: &IpNet, target: BlockTarget) -> Result<(i64, Option<i64>)> {
        self.with(|db| blocks::history(db, network, target))
    }
    fn add_pardon(&self, network: &IpNet, until: i64) -> Result<()> {
        self.with(|db| blocks::add_pardon(db, network, until, &self.host))
    }
    fn pardons(&self) -> Result<Vec<Pardon>> {
        self.with(blocks::pardons)
    }
    fn pardons_overlapping(&self, network: &IpNet) -> Result<Vec<Pardon>> {
        let rows = self.rows(
            "SELECT network::text, extract(epoch FROM until)::bigint FROM pardons
             WHERE network && $1::text::cidr ORDER BY family(network), network, until",
            &[&network_text(network)],
        )?;
        rows.iter()
            .map(|row| {
                let text: &str = row.try_get(0).map_err(query_error)?;
                Ok(Pardon {
                    network: parse_network(text).map_err(corrupt)?,
                    until: row.try_get(1).map_err(query_error)?,
                })
            })
            .collect()
    }
    fn kind_per_address(
        &self,
        kind: EventKind,
        since: i64,
        until: i64,
    ) -> Result<Vec<(IpAddr, i64)>> {
        self.events_per_address(kind, since, until, None)
    }
    fn countable_of_kind(
        &self,
        network: &IpNet,
        kind: EventKind,
        since: i64,
        until: i64,
    ) -> Result<i64> {
        self.with(|db| countable(db, network, &[kind], at(since), at(until)))
    }
    fn allowlist_add(&self, network: &IpNet, comment: Option<&str>, now: i64) -> Result<bool> {
        self.with(|db| blocks::allow_add(db, network, comment, now, &self.host))
    }
    fn allowlist_remove(&self, network: &IpNet) -> Result<bool> {
        self.with(|db| blocks::allow_remove(db, network))
    }
    fn allowlist(&self) -> Result<Vec<AllowEntry>> {
        self.with(blocks::allowlist)
    }
    /// This host's: it describes what this host rendered (the cluster's blocks as
    /// mirrored into its local store).
    fn active_signature(&self, target: BlockTarget, now: i64) -> Result<String> {
        self.local.active_signature(target, now)
    }
    fn last_render(&self, place: &str) -> Result<Option<RenderRecord>> {
        self.local.last_render(place)
    }
    fn render_entries(&self, place: &str) -> Result<usize> {
        self.local.render_entries(place)
    }
    fn save_render(
        &self,
        place: &str,
        digest: &str,
        token: Option<&str>,
        entries: usize,
        now: i64,
    ) -> Result<()> {
        self.local.save_render(place, digest, token, entries, now)
    }
    fn firewall_places(&self) -> Result<Vec<FirewallPlace>> {
        self.local.firewall_places()
    }
    fn record_firewall_place(&self, place: &FirewallPlace, now: i64) -> Result<()> {
        self.local.record_firewall_place(place, now)
    }
    fn forget_firewall_place(&self, place: &FirewallPlace) -> Result<()> {
        self.local.forget_firewall_place(place)
    }
    fn postfix_map_places(&self) -> Result<Vec<PostfixMapPlace>> {
        self.local.postfix_map_places()
    }
    fn record_postfix_map_place(&self, place: &PostfixMapPlace, now: i64) -> Result<()> {
        self.local.record_postfix_map_place(place, now)
    }
    fn forget_postfix_map_place(&self, place: &PostfixMapPlace) -> Result<()> {
        self.local.forget_postfix_map_place(place)
    }
    fn state(&self, key: &str) -> Result<Option<i64>> {
        self.local.state(key)
    }
    fn set_state(&self, key: &str, value: i64) -> Result<()> {
        self.local.set_state(key, value)
    }
    fn clear_state(&self, key: &str) -> Result<()> {
        self.local.clear_state(key)
    }
}
