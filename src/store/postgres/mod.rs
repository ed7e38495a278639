//! The shared store of several hosts (`[cluster]`): one PostgreSQL database that every
//! host ships its events to, counts failures over, and records blocks in. This module
//! owns all of its SQL and its migrations (`migrations/postgres/`); callers speak domain
//! types (`IpAddr`, `IpNet`, [`EventKind`], [`Block`]).
//!
//! - [`Cluster::connect`] connects within the configured timeout, brings the schema up
//!   to date (one transaction, recorded in `saslguard_schema`) and registers the host.
//! - [`Cluster::ship`] stores a batch of events exactly once: keyed by (host, event id),
//!   a batch shipped again (a retry, a crash before the host recorded the shipment)
//!   stores nothing twice.
//! - [`SharedStore`] holds the reads and writes both a plain connection and a
//!   [`PolicyGuard`] offer: counts over all hosts less pardons, blocks with their whole
//!   history, pardons, the allowlist, host status and retention.
//! - [`Cluster::try_lock_policy`] lets one host at a time evaluate the policy: a
//!   transaction holding `pg_try_advisory_xact_lock`, released by commit or rollback.

mod blocks;
mod connect;
mod events;
mod hosts;
mod reports;
mod watermark;

use std::time::Duration;

use postgres::{Client, GenericClient, Transaction};

pub use blocks::ClusterBlock;
pub use connect::{Settings, Tls, check_url, redact, url_has_password};
pub use events::{ClusterEvent, Shipment};
pub use hosts::{HostStatus, Pruned};
pub use reports::ClusterReports;

pub use crate::model::EventKind;
pub use crate::store::{AllowEntry, Block, NewBlock, Pardon};

/// The schema, one file per version; `saslguard_schema` records those applied.
const MIGRATIONS: &[(&str, &str)] = &[
    (
        "001_cluster",
        include_str!("../../../migrations/postgres/001_cluster.sql"),
    ),
    (
        "002_report_rollups",
        include_str!("../../../migrations/postgres/002_report_rollups.sql"),
    ),
    (
        "003_policy_watermark",
        include_str!("../../../migrations/postgres/003_policy_watermark.sql"),
    ),
];

/// The advisory lock key held while one host evaluates the policy ("sgpolicy").
const POLICY_LOCK: i64 = 0x7367_706f_6c69_6379;
/// The advisory lock key held while the schema is brought up to date ("sgschema").
const SCHEMA_LOCK: i64 = 0x7367_7363_6865_6d61;

/// Errors of the shared store; a caller acts on [`ClusterError::is_unreachable`].
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The `[cluster] url` cannot be used.
    #[error("[cluster] url: {0}")]
    Url(String),
    /// No connection within the timeout (refused, unresolvable, timed out, TLS or
    /// authentication failed).
    /// The cause is part of the message, not a `source` (said once, not twice).
    #[error(
        "cannot reach the cluster database {url}: {}",
        unreachable_why(*timeout, cause, hint.as_deref())
    )]
    Unreachable {
        url: String,
        timeout: Duration,
        cause: postgres::Error,
        /// What a refused TLS handshake means (a certificate no trusted CA signed, or
        /// not for the url's host), in the admin's words.
        hint: Option<String>,
    },
    /// The password could not be read, or its file is not private.
    #[error("cluster database password: {0}")]
    Password(String),
    /// TLS could not be set up.
    #[error("cluster database TLS: {0}")]
    Tls(String),
    /// The database was set up by a newer saslguard: refuse rather than misread it.
    #[error(
        "cluster database {url} has schema version {found}, newer than this saslguard \
         understands (up to {supported}); upgrade saslguard on this host"
    )]
    SchemaTooNew {
        url: String,
        found: i64,
        supported: i64,
    },
    /// The schema could not be created or upgraded (usually: no schema the role may
    /// create tables in).
    #[error(
        "cannot set up the saslguard tables in cluster database {url}: {} (give the \
         role a schema of its own: CREATE SCHEMA saslguard AUTHORIZATION <role>, see the \
         README's \"Several hosts\")",
        describe(source)
    )]
    Migrate {
        url: String,
        source: postgres::Error,
    },
    /// A `[cluster] host` name that cannot be used.
    #[error("[cluster] host: {0}")]
    Host(String),
    /// A stored value this saslguard cannot read (a name it does not know).
    #[error("cluster database holds {0}")]
    Corrupt(String),
    /// A query failed.
    #[error("cluster database: {}", describe(.0))]
    Query(#[from] postgres::Error),
}

impl ClusterError {
    /// Whether the database could not be reached or the connection was lost: the run
    /// goes on with what it knows locally and tries again next time.
    pub fn is_unreachable(&self) -> bool {
        match self {
            ClusterError::Unreachable { .. } => true,
            ClusterError::Query(e) => e.is_closed() || e.as_db_error().is_none(),
            _ => false,
        }
    }
}

/// What went wrong, in full: the server's message (and its detail and hint) for an
/// error it reported, else the client's error with its causes ("db error" alone says
/// nothing).
fn describe(error: &postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        let mut text = db.message().to_string();
        for extra in [db.detail(), db.hint()].into_iter().flatten() {
            text.push_str("; ");
            text.push_str(extra);
        }
        return text;
    }
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        // A cause its error already quotes is said once.
        let said = inner.to_string();
        if !text.ends_with(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = inner.source();
    }
    text
}

/// Why a connection failed: the hint of a refused certificate with the client's words
/// after it, or else the client's error after the timeout it was given.
fn unreachable_why(timeout: Duration, cause: &postgres::Error, hint: Option<&str>) -> String {
    match hint {
        Some(hint) => format!("{hint} ({})", describe(cause)),
        None => format!("within {}s: {}", timeout.as_secs(), describe(cause)),
    }
}

/// Shorthand for results of the shared store.
pub type Result<T, E = ClusterError> = std::result::Result<T, E>;

/// A connection to the shared store as one host.
pub struct Cluster {
    client: Client,
    host_id: i32,
    host: String,
}

impl Cluster {
    /// Connects as `host` within the timeout of `settings`, brings the schema up to
    /// date and records the contact (`now`, unix seconds).
    pub fn connect(settings: &Settings, host: &str, now: i64) -> Result<Cluster> {
        check_host_name(host)?;
        let mut client = settings.open()?;
        migrate(&mut client, settings.shown())?;
        let host_id = hosts::register(&mut client, host, now)?;
        Ok(Cluster {
            client,
            host_id,
            host: host.to_string(),
        })
    }

    /// This host's name in the cluster.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The schema version of the database (migrations applied).
    pub fn schema_version(&mut self) -> Result<i64> {
        schema_version(&mut self.client)
    }

    /// Stores `events` of this host exactly once and records the contact with the
    /// backlog this host still holds after them; all or nothing.
    pub fn ship(&mut self, events: &[ClusterEvent], backlog: u64, now: i64) -> Result<Shipment> {
        let mut tx = self.client.transaction()?;
        let shipment = events::ship(&mut tx, self.host_id, events)?;
        hosts::contact(&mut tx, self.host_id, shipment.stored, backlog, now)?;
        tx.commit()?;
        Ok(shipment)
    }

    /// Records a contact with nothing to ship (the backlog this host holds).
    pub fn report_contact(&mut self, backlog: u64, now: i64) -> Result<()> {
        hosts::contact(&mut self.client, self.host_id, 0, backlog, now)
    }

    /// The policy lock if no other host holds it (`None`: another host is evaluating,
    /// and its evaluation counts this host's shipped events too).
    pub fn try_lock_policy(&mut self) -> Result<Option<PolicyGuard<'_>>> {
        let mut tx = self.client.transaction()?;
        let locked: bool = tx
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&POLICY_LOCK])?
            .get(0);
        if !locked {
            tx.rollback()?;
            return Ok(None);
        }
        Ok(Some(PolicyGuard {
            tx,
            host: &self.host,
        }))
    }

    /// The policy lock, waiting for a host that holds it: for changes by hand (`block`,
    /// `unblock`, `allow`), which must not interleave with an evaluation.
    pub fn lock_policy(&mut self) -> Result<PolicyGuard<'_>> {
        let mut tx = self.client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&POLICY_LOCK])?;
        Ok(PolicyGuard {
            tx,
            host: &self.host,
        })
    }
}

/// A read-only look at the shared store (`cluster status`, `doctor`): connects, checks
/// the schema and neither migrates nor registers this host, so looking is no contact.
pub struct Reader {
    client: Client,
    host: String,
    version: i64,
}

impl Reader {
    /// Connects within the timeout of `settings`; refuses a schema newer than this
    /// saslguard understands. A database no host set up yet has version 0.
    pub fn open(settings: &Settings, host: &str) -> Result<Reader> {
        let mut client = settings.open()?;
        let exists: bool = client
            .query_one("SELECT to_regclass('saslguard_schema') IS NOT NULL", &[])?
            .get(0);
        let version = if exists {
            schema_version(&mut client)?
        } else {
            0
        };
        if version > supported_schema_version() {
            return Err(ClusterError::SchemaTooNew {
                url: settings.shown().to_string(),
                found: version,
                supported: supported_schema_version(),
            });
        }
        Ok(Reader {
            client,
            host: host.to_string(),
            version,
        })
    }

    /// The schema version found (0: no host has set the database up yet).
    pub fn schema_version(&self) -> i64 {
        self.version
    }
}

impl SharedStore for Reader {
    type Db = Client;
    fn db(&mut self) -> &mut Client {
        &mut self.client
    }
    fn host_name(&self) -> &str {
        &self.host
    }
}

/// A transaction holding the policy lock: every change made through it is stored on
/// [`PolicyGuard::commit`], or none (dropped, or an error); the lock goes with it.
pub struct PolicyGuard<'a> {
    tx: Transaction<'a>,
    host: &'a str,
}

impl PolicyGuard<'_> {
    /// Stores every change and releases the lock.
    pub fn commit(self) -> Result<()> {
        Ok(self.tx.commit()?)
    }

    /// Hosts known and events they stored: what the cluster's policy watermark
    /// takes as "events since" (read before counting, so a shipment that lands
    /// during the evaluation changes it).
    pub fn watermark_events(&mut self) -> Result<(i64, i64)> {
        watermark::events(&mut self.tx)
    }

    /// A digest of the blocks in force at `now` (ids, targets, expiries).
    pub fn watermark_blocks(&mut self, now: i64) -> Result<String> {
        watermark::blocks(&mut self.tx, now)
    }

    /// Whether a countable event of any host lies after `at`.
    pub fn countable_after(&mut self, at: i64) -> Result<bool> {
        watermark::countable_after(&mut self.tx, at)
    }

    /// The watermark of the last evaluation: its signature and time.
    pub fn policy_watermark(&mut self) -> Result<Option<(i64, i64)>> {
        watermark::recorded(&mut self.tx)
    }

    /// Records the watermark of this evaluation, or clears it (`None`).
    pub fn set_policy_watermark(&mut self, mark: Option<(i64, i64)>) -> Result<()> {
        watermark::record(&mut self.tx, mark)
    }
}

/// The reads and writes of the shared store, the same through a plain connection and
/// through a [`PolicyGuard`].
pub trait SharedStore {
    /// The client queries run on.
    type Db: GenericClient;
    /// The connection or transaction.
    fn db(&mut self) -> &mut Self::Db;
    /// This host's name (recorded as who decided or ended a block).
    fn host_name(&self) -> &str;

    /// Countable events of `kinds` per address in `(since, until]` over all hosts,
    /// pardoned ones left out.
    fn failures_per_address(
        &mut self,
        kinds: &[EventKind],
        since: i64,
        until: i64,
    ) -> Result<Vec<(std::net::IpAddr, i64)>> {
        events::per_address(self.db(), kinds, since, until)
    }

    /// Countable events of `kinds` of addresses inside `network` in `(since, until]`
    /// over all hosts, pardoned ones left out: the count the policy acts on.
    fn countable_failures(
        &mut self,
        network: &ipnet::IpNet,
        kinds: &[EventKind],
        since: i64,
        until: i64,
    ) -> Result<i64> {
        events::countable(self.db(), network, kinds, since, until)
    }

    /// Events of `kinds` of addresses inside `network` in `(since, until]` per host
    /// (pardons not applied: what each host saw), by host name.
    fn failures_per_host(
        &mut self,
        network: &ipnet::IpNet,
        kinds: &[EventKind],
        since: i64,
        until: i64,
    ) -> Result<Vec<(String, i64)>> {
        events::per_host(self.db(), network, kinds, since, until)
    }

    /// Records a block decided on this host; returns its id.
    fn insert_block(&mut self, block: &NewBlock) -> Result<i64> {
        let host = self.host_name().to_string();
        blocks::insert(self.db(), block, &host)
    }

    /// Moves the expiry of an active block and appends `note` to its reason; false when
    /// it is not active.
    fn extend_block(&mut self, id: i64, expires_at: Option<i64>, note: &str) -> Result<bool> {
        blocks::extend(self.db(), id, expires_at, note)
    }

    /// The block of exactly `network` at `target` in force at `now` lasting longest.
    fn active_block_of(
        &mut self,
        network: &ipnet::IpNet,
        target: crate::model::BlockTarget,
        now: i64,
    ) -> Result<Option<ClusterBlock>> {
        blocks::active_of(self.db(), network, target, now)
    }

    /// Blocks in force at `now` (of one target, or all), by id.
    fn active_blocks(
        &mut self,
        target: Option<crate::model::BlockTarget>,
        now: i64,
    ) -> Result<Vec<ClusterBlock>> {
        blocks::active(self.db(), target, now)
    }

    /// The block with this id, ended or not (`None`: pruned, or never).
    fn block(&mut self, id: i64) -> Result<Option<ClusterBlock>> {
        blocks::by_id(self.db(), id)
    }

    /// Every block ever recorded, newest first.
    fn all_blocks(&mut self) -> Result<Vec<ClusterBlock>> {
        blocks::all(self.db())
    }

    /// Ends the blocks in force at `now` inside `network` (`overlapping`: sharing any
    /// address with it) as ended by this host; returns them.
    fn end_blocks(
        &mut self,
        network: &ipnet::IpNet,
        overlapping: bool,
        now: i64,
        reason: crate::model::EndReason,
    ) -> Result<Vec<ClusterBlock>> {
        let host = self.host_name().to_string();
        blocks::end(self.db(), network, overlapping, now, reason, &host)
    }

    /// Ends every block whose time is over at `now`, as ended at its expiry.
    fn expire_blocks(&mut self, now: i64) -> Result<Vec<ClusterBlock>> {
        blocks::expire(self.db(), now)
    }

    /// How many blocks of `target` ever covered `network` (allowlisted ones left out),
    /// and when the latest was created.
    fn block_history(
        &mut self,
        network: &ipnet::IpNet,
        target: crate::model::BlockTarget,
    ) -> Result<(i64, Option<i64>)> {
        blocks::history(self.db(), network, target)
    }

    /// From now on, failures inside `network` up to `until` count on no host.
    fn add_pardon(&mut self, network: &ipnet::IpNet, until: i64) -> Result<()> {
        let host = self.host_name().to_string();
        blocks::add_pardon(self.db(), network, until, &host)
    }

    /// Every pardon, by network, then time.
    fn pardons(&mut self) -> Result<Vec<Pardon>> {
        blocks::pardons(self.db())
    }

    /// Adds an allowlist entry; false when it was there.
    fn allowlist_add(
        &mut self,
        network: &ipnet::IpNet,
        comment: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        let host = self.host_name().to_string();
        blocks::allow_add(self.db(), network, comment, now, &host)
    }

    /// Removes an allowlist entry; false when there was none.
    fn allowlist_remove(&mut self, network: &ipnet::IpNet) -> Result<bool> {
        blocks::allow_remove(self.db(), network)
    }

    /// The stored allowlist, by network.
    fn allowlist(&mut self) -> Result<Vec<AllowEntry>> {
        blocks::allowlist(self.db())
    }

    /// Every host with its last contact, shipped events and reported backlog.
    fn hosts(&mut self) -> Result<Vec<HostStatus>> {
        hosts::list(self.db())
    }

    /// Deletes events older than `events_before` and blocks ended (and pardons ending)
    /// before `blocks_before`; `None` keeps them.
    fn prune(&mut self, events_before: Option<i64>, blocks_before: Option<i64>) -> Result<Pruned> {
        hosts::prune(self.db(), events_before, blocks_before, true)
    }

    /// What [`SharedStore::prune`] with the same cutoffs would delete; deletes nothing.
    fn would_prune(
        &mut self,
        events_before: Option<i64>,
        blocks_before: Option<i64>,
    ) -> Result<Pruned> {
        hosts::prune(self.db(), events_before, blocks_before, false)
    }
}

impl SharedStore for Cluster {
    type Db = Client;
    fn db(&mut self) -> &mut Client {
        &mut self.client
    }
    fn host_name(&self) -> &str {
        &self.host
    }
}

impl<'a> SharedStore for PolicyGuard<'a> {
    type Db = Transaction<'a>;
    fn db(&mut self) -> &mut Transaction<'a> {
        &mut self.tx
    }
    fn host_name(&self) -> &str {
        self.host
    }
}

/// A host name as the cluster records it: 1 to 253 printable characters, no blanks.
pub fn check_host_name(host: &str) -> Result<()> {
    let fine = !host.is_empty()
        && host.len() <= 253
        && host.chars().all(|c| c.is_ascii_graphic() && c != '/');
    if fine {
        Ok(())
    } else {
        Err(ClusterError::Host(format!(
            "{host:?} is not a host name (1 to 253 printable ASCII characters, no blank or /)"
        )))
    }
}

/// The migrations applied so far.
fn schema_version(db: &mut impl GenericClient) -> Result<i64> {
    let row = db.query_one(
        "SELECT COALESCE(MAX(version), 0)::bigint FROM saslguard_schema",
        &[],
    )?;
    Ok(row.get(0))
}

/// Applies the migrations not applied yet, all in one transaction under an advisory
/// lock, so hosts starting together never apply one twice and a failure leaves the
/// schema as it was.
fn migrate(client: &mut Client, url: &str) -> Result<()> {
    let fail = |source| ClusterError::Migrate {
        url: url.to_string(),
        source,
    };
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS saslguard_schema (
             version    integer     PRIMARY KEY,
             name       text        NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .map_err(fail)?;
    let found = schema_version(&mut tx)?;
    let supported = MIGRATIONS.len() as i64;
    if found > supported {
        return Err(ClusterError::SchemaTooNew {
            url: url.to_string(),
            found,
            supported,
        });
    }
    for (index, (name, sql)) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.batch_execute(sql).map_err(fail)?;
        let version = index as i32 + 1;
        tx.execute(
            "INSERT INTO saslguard_schema (version, name) VALUES ($1, $2)",
            &[&version, name],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// The number of migrations this saslguard knows.
pub fn supported_schema_version() -> i64 {
    MIGRATIONS.len() as i64
}
