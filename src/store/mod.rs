//! The store: every event, log stream position, run, block and allowlist entry.
//!
//! This module is the backend-neutral API: the traits callers need ([`EventStore`] and
//! [`EventSink`] for ingest, [`BlockStore`] for policy and enforcement, [`ReportStore`]
//! for the reports), the rows they return in domain types (`IpAddr`, `IpNet`, the
//! [`crate::model`] vocabulary, unix seconds) and the errors a caller acts on
//! ([`StoreError`]). Each backend is one module owning its SQL and its migrations:
//! [`sqlite`] (the embedded default, `migrations/sqlite/`) today. The rest of the code
//! never writes SQL and never sees how a backend keys addresses.
//!
//! A backend implements the four traits; opening, migrating, transactions and
//! maintenance (retention) stay on its concrete type, which the commands that must
//! (open, `run`'s one transaction, pruning) name.

pub mod postgres;
pub mod rollup;
pub mod sqlite;

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use ipnet::IpNet;

pub use crate::model::{BlockTarget, EndReason, EventKind, Origin};
pub use sqlite::{SqliteStore, Transaction};

/// Bits of an event id that hold the byte offset; the stream id sits above them.
pub(crate) const OFFSET_BITS: u32 = 40;

/// The largest byte offset an event id can hold (1 TiB per stream).
pub const MAX_STREAM_OFFSET: u64 = (1 << OFFSET_BITS) - 1;

/// The id of the event read at `offset` of stream `stream_id`: its position, so the same
/// line read twice has the same id.
pub fn event_id(stream_id: i64, offset: u64) -> i64 {
    (stream_id << OFFSET_BITS) | (offset & MAX_STREAM_OFFSET) as i64
}

/// A backend's own error, kept as the cause of a [`StoreError`].
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors a caller may act on, the same for every backend; everything else is
/// [`StoreError::Backend`], reported with its context.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database was written by a newer saslguard: refuse rather than misread it.
    #[error(
        "database {path} has schema version {found}, newer than this saslguard understands \
         (up to {supported}); upgrade saslguard"
    )]
    SchemaTooNew {
        /// The database (a file, or where a server database lives).
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    /// A reading command found a database not yet upgraded to this version's schema.
    #[error(
        "database {path} has schema version {found}, older than this saslguard's \
         ({supported}); run `saslguard run` (or `ingest`) once as its owner to upgrade it"
    )]
    SchemaTooOld {
        /// The database (a file, or where a server database lives).
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    /// A reader without write access to the directory found no `-wal`/`-shm` files
    /// beside the database (saslguard's writers keep them; an older version did not).
    #[error(
        "cannot read database {path}: in WAL mode a reader needs its -wal and -shm files, \
         which are missing, and this user cannot create them in its directory; run \
         `saslguard run` once as the database's owner (it keeps them from then on)"
    )]
    ReaderCannotOpen {
        /// The database file.
        path: PathBuf,
    },
    /// The database could not be opened or set up as a saslguard database; `source`
    /// says why (itself [`StoreError::ReadOnly`] when this user may not write it).
    #[error("cannot open database {path}: {source}")]
    Open {
        /// The database (a file, or where a server database lives).
        path: PathBuf,
        source: Box<StoreError>,
    },
    /// The database file could not be created private, or made private.
    #[error("cannot create or restrict the permissions of database {path}: {source}")]
    Permissions {
        /// The database file.
        path: PathBuf,
        source: std::io::Error,
    },
    /// Another writer held the database longer than the wait allowed.
    #[error(transparent)]
    Busy(BackendError),
    /// The database (or its directory) is read-only for this process.
    #[error(transparent)]
    ReadOnly(BackendError),
    /// Any other failure of the backend (a query failed).
    #[error(transparent)]
    Backend(BackendError),
}

impl StoreError {
    /// Whether the message already says which database it is about (a backend's own
    /// errors do not).
    pub fn names_database(&self) -> bool {
        !matches!(
            self,
            StoreError::Busy(_) | StoreError::ReadOnly(_) | StoreError::Backend(_)
        )
    }

    /// Whether the database (or its directory) is read-only for this process.
    pub fn is_read_only(&self) -> bool {
        match self {
            StoreError::ReadOnly(_) | StoreError::ReaderCannotOpen { .. } => true,
            StoreError::Open { source, .. } => source.is_read_only(),
            _ => false,
        }
    }
}

/// Shorthand for store results.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A log stream: one file's content across renames and compression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stream {
    /// Backend id; also the high bits of its events' ids.
    pub id: i64,
    /// Bytes already ingested (always the end of a complete line).
    pub read_offset: u64,
}

/// What was at a configured log path the last time it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceState {
    pub device: u64,
    pub inode: u64,
    /// The stream the file at the path held; `None` while it had no complete first line.
    pub stream_id: Option<i64>,
    pub offset: u64,
    pub size: u64,
    /// The file's modification time then (unix seconds): files rotated after it may
    /// hold lines not read yet.
    pub mtime: i64,
    /// When this was recorded (unix seconds).
    pub updated_at: i64,
}

/// Counters of one run, stored with the run as it goes so a killed run still shows its
/// work.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RunCounters {
    /// Complete lines read.
    pub lines: u64,
    /// Bytes read (complete lines only).
    pub bytes: u64,
    /// Events stored for the first time.
    pub events: u64,
    /// Events that were already stored (the same bytes read again).
    pub duplicates: u64,
    /// Lines that were garbage or failure lines that could not be used: counted and
    /// skipped.
    pub unparsed: u64,
    /// Failure lines whose writer was not proven to be Postfix's smtpd (journal entries
    /// from another program or user): counted and skipped.
    pub untrusted: u64,
}

/// Where ingest stands after a batch: committed together with the batch's events.
#[derive(Debug, Clone)]
pub struct Progress<'p> {
    /// The stream being read and the end of its last complete line read.
    pub stream_id: i64,
    pub stream_offset: u64,
    /// The configured path being read, when the stream is the file at that path.
    pub source: Option<(&'p Path, SourceState)>,
    /// For the journal: the cursor of the last entry read.
    pub cursor: Option<&'p str>,
    /// The run's counters so far.
    pub counters: RunCounters,
}

/// An event ready to store: its texts and address already resolved to the ids an
/// [`EventSink`] gave them ([`EventSink::address_id`], [`EventSink::label_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventRow {
    pub address_id: i64,
    pub kind: EventKind,
    /// Unix seconds, UTC.
    pub ts: i64,
    /// The position: see [`event_id`].
    pub id: i64,
    pub mechanism_id: i64,
    pub username_id: Option<i64>,
    pub service_id: i64,
}

/// What `saslguard metrics` reads from the store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreMetrics {
    pub failures: i64,
    pub server_faults: i64,
    pub unparsed_lines: i64,
    /// The latest run: started (unix seconds), duration in seconds (if it finished),
    /// whether it succeeded, and the journal entries it counted as untrusted.
    pub last_run: Option<(i64, Option<f64>, bool, i64)>,
}

/// The latest run of a command, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastRun {
    /// When it started (unix seconds).
    pub started_at: i64,
    /// When it ended (unix seconds); `None` if it did not finish.
    pub ended_at: Option<i64>,
    /// `ok`, `failed`, or `running`.
    pub status: String,
    /// Journal entries it counted as untrusted and did not use.
    pub untrusted: i64,
}

/// How offenders are grouped in a ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// One row per address.
    Address,
    /// One row per network: IPv4 addresses cut to `v4_prefix` bits, IPv6 to `v6_prefix`.
    Network { v4_prefix: u8, v6_prefix: u8 },
}

impl Grouping {
    /// The network `addr` is ranked under: the address alone (`/32`, `/128`), or its
    /// network of this grouping (prefixes past the family's width are cut to it).
    pub fn network_of(self, addr: IpAddr) -> IpNet {
        let addr = addr.to_canonical();
        let prefix = match (self, addr) {
            (Grouping::Address, IpAddr::V4(_)) => 32,
            (Grouping::Address, IpAddr::V6(_)) => 128,
            (Grouping::Network { v4_prefix, .. }, IpAddr::V4(_)) => v4_prefix.min(32),
            (Grouping::Network { v6_prefix, .. }, IpAddr::V6(_)) => v6_prefix.min(128),
        };
        // The prefix is within the family's width, so this cannot fail.
        IpNet::new(addr, prefix).map_or(IpNet::from(addr), |net| net.trunc())
    }
}

/// One row of a ranking over a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankedOffender {
    /// The address (as a `/32` or `/128`) or network ranked (see [`Grouping`]).
    pub network: IpNet,
    /// Counted failures inside the period.
    pub failures: i64,
    /// First and last failure inside the period (unix seconds), when asked for.
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    /// `RANK() OVER (ORDER BY failures DESC)`: ties share a rank.
    pub rank: i64,
}

/// A block as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub id: i64,
    pub network: IpNet,
    pub target: BlockTarget,
    pub origin: Origin,
    pub reason: String,
    pub failures: Option<i64>,
    pub window_seconds: Option<i64>,
    pub created_at: i64,
    /// `None`: permanent.
    pub expires_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub end_reason: Option<EndReason>,
}

impl Block {
    /// Whether the block is in force at `now`.
    pub fn is_active(&self, now: i64) -> bool {
        self.ended_at.is_none() && self.expires_at.is_none_or(|end| end > now)
    }

    /// When the block stopped (or will stop) being in force: the earlier of its end and
    /// its expiry; `None` for a permanent block not ended.
    pub fn end(&self) -> Option<i64> {
        match (self.ended_at, self.expires_at) {
            (Some(ended), Some(expires)) => Some(ended.min(expires)),
            (ended, expires) => ended.or(expires),
        }
    }
}

/// A block about to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBlock {
    pub network: IpNet,
    pub target: BlockTarget,
    pub origin: Origin,
    pub reason: String,
    pub failures: Option<i64>,
    pub window_seconds: Option<i64>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
}

/// An allowlist entry stored with `saslguard allow add`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    pub network: IpNet,
    pub comment: Option<String>,
    pub created_at: i64,
}

/// A record that failures of addresses inside `network` up to `until` do not count:
/// written by `unblock` (for the blocks it ends, or for a whole network with
/// `--forgive`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pardon {
    pub network: IpNet,
    pub until: i64,
}

/// A backend and name saslguard created firewall objects under: kept from before the
/// first change there until its objects are removed, so a backend or name no longer
/// configured is cleaned up (`enforce::remove_leftovers`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct FirewallPlace {
    /// `nftables`, `ipset` or `iptables` (the target's name).
    pub backend: String,
    /// The `[firewall] name` used there.
    pub name: String,
}

/// A Postfix map saslguard rendered: its table type and source path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PostfixMapPlace {
    /// `cidr`, `texthash`, `hash` or `lmdb` (as `[postfix] map_type` spells it).
    pub map_type: String,
    /// The map's source file.
    pub path: PathBuf,
}

/// What was last rendered to a place: its digest and the place's state token then.
pub type RenderRecord = (String, Option<String>);

/// Which text of an event a report groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LabelKind {
    /// `sasl_username=`, when Postfix logged it.
    Username,
    /// The SASL mechanism, as the client wrote it (`LOGIN` and `login` stay apart).
    Mechanism,
    /// The process tag of the smtpd that logged it (`postfix/submission/smtpd`).
    Service,
}

impl LabelKind {
    /// Every kind, in the order [`ReportStore::range_label_counts`] answers.
    pub const ALL: [LabelKind; 3] = [
        LabelKind::Username,
        LabelKind::Mechanism,
        LabelKind::Service,
    ];

    /// Its place in [`LabelKind::ALL`], which is also how [`rollup::Rollups`] numbers
    /// the texts of an event (its `labels`).
    pub fn dimension(self) -> usize {
        self as usize
    }
}

/// One text (a username, mechanism or service) ranked over a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RankedLabel {
    /// The text as logged.
    pub text: String,
    /// Counted failures with it inside the period.
    pub failures: i64,
    /// First and last failure with it inside the period (unix seconds).
    pub first_seen: i64,
    pub last_seen: i64,
    /// `RANK() OVER (ORDER BY failures DESC)`: ties share a rank.
    pub rank: i64,
}

/// The totals of one address or network up to a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RangeTotals {
    /// Addresses inside with at least one counted failure.
    pub addresses: i64,
    /// Counted failures ([`EventKind::AuthFailed`]).
    pub failures: i64,
    /// First and last counted failure (unix seconds); `None` without any.
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    /// Server-side faults ([`EventKind::ServerFault`]): recorded, never counted against
    /// the client.
    pub server_faults: i64,
}

/// How many counted failures carried one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelCount {
    /// The text; `None` for failures logged without one (only usernames can be missing).
    pub text: Option<String>,
    pub failures: i64,
}

/// Counted failures and server faults of one address in the current period
/// `(since, until]` and in the previous one `(previous_since, since]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressPeriods {
    /// The address.
    pub address: IpAddr,
    /// Counted failures in the current period.
    pub failures: i64,
    /// Server faults in the current period.
    pub server_faults: i64,
    /// Counted failures in the previous period.
    pub previous_failures: i64,
    /// Server faults in the previous period.
    pub previous_server_faults: i64,
}

/// How many blocks of one target were created and ended inside a period, and how many
/// were in force at its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct BlockCounts {
    /// Blocks created inside the period.
    pub created: i64,
    /// Blocks whose end (unblocked, allowlisted, or their expiry, whichever came first)
    /// lies inside the period.
    pub ended: i64,
    /// Blocks created by the end of the period and not ended or expired then.
    pub active: i64,
}

/// Block counts for every target, from a backend's rows of (target name, counts): a
/// target without a row counts zero. Both backends' `blocks_in_period` end here.
pub(crate) fn counts_per_target(
    rows: impl IntoIterator<Item = (String, BlockCounts)>,
) -> Vec<(BlockTarget, BlockCounts)> {
    let mut counts: Vec<(BlockTarget, BlockCounts)> = BlockTarget::ALL
        .iter()
        .map(|&t| (t, BlockCounts::default()))
        .collect();
    for (target, found) in rows {
        if let Some(entry) = counts.iter_mut().find(|(t, _)| t.as_str() == target) {
            entry.1 = found;
        }
    }
    counts
}

/// Ingest's side of the store: [`StreamStore`] and the writer that stores events in
/// batches.
///
/// The writer is an associated type, not a trait object: ingest stores millions of
/// events and calls it once per event without dynamic dispatch.
pub trait EventStore: StreamStore {
    /// The batch writer [`EventStore::event_writer`] returns.
    type Sink<'s>: EventSink
    where
        Self: 's;

    /// A writer that stores events and progress in batched transactions, counted for
    /// the run `run_id`.
    fn event_writer(&self, run_id: i64) -> Result<Self::Sink<'_>>;
}

/// Where ingest stands: log streams and their positions, what was at each configured
/// path, and the record of runs. A trait object (`&dyn StreamStore`) is what a
/// [`crate::source::Source`] sees: it finds its stream, never events.
pub trait StreamStore {
    /// The stream whose first line is `fingerprint`, if it was seen before.
    fn stream_by_fingerprint(&self, fingerprint: &[u8]) -> Result<Option<Stream>>;
    /// The fingerprint (first line) of a stream.
    fn stream_fingerprint(&self, id: i64) -> Result<Option<Vec<u8>>>;
    /// The journal cursor stored with a stream.
    fn stream_cursor(&self, id: i64) -> Result<Option<String>>;
    /// Finds the stream for `fingerprint`, recording a new one (read from offset 0)
    /// first read at `path` if it was never seen.
    fn stream_for(&self, fingerprint: &[u8], path: &Path, now: i64) -> Result<Stream>;
    /// What was at `path` the last time it was read.
    fn source(&self, path: &Path) -> Result<Option<SourceState>>;
    /// Records what is at `path` now (outside any event batch).
    fn save_source(&self, path: &Path, state: &SourceState) -> Result<()>;
    /// Starts a run of `command`; it says `running` until [`StreamStore::finish_run`].
    fn begin_run(&self, command: &str, now: i64) -> Result<i64>;
    /// Ends a run with its outcome and wall-clock duration, and its final counters when
    /// known. `None` (an ingest that failed part way) keeps the counters each committed
    /// batch already stored, so the record still shows the work that was kept.
    fn finish_run(
        &self,
        run_id: i64,
        now: i64,
        counters: Option<&RunCounters>,
        error: Option<&str>,
        duration: std::time::Duration,
    ) -> Result<()>;
    /// Adds block counters to a run's record.
    fn record_run_blocks(
        &self,
        run_id: i64,
        created: usize,
        ended: usize,
        rendered: Option<usize>,
    ) -> Result<()>;
}

/// Stores events and progress in transactions: each batch of events commits together
/// with the stream offset after it, so a crash loses nothing and repeats nothing. A
/// batch not committed when the sink is dropped is rolled back.
pub trait EventSink {
    /// Adds one event to the open batch, unless the same line was stored before; true
    /// when it was new. The caller counts each new event into the rollups, with
    /// [`EventSink::count`] or, for many at once, [`EventSink::count_all`].
    fn insert(&mut self, row: &EventRow) -> Result<bool>;
    /// Counts one event [`EventSink::insert`] stored into the batch's rollups.
    fn count(&mut self, row: &EventRow);
    /// Counts events that were all stored, already rolled up by the caller under its
    /// own numbering (`address` and `label` map it to the sink's ids).
    fn count_all(
        &mut self,
        counted: rollup::Rollups,
        address: impl Fn(i64) -> i64,
        label: impl Fn(i64) -> i64,
    );
    /// Records `progress` and commits it with every event added since the last commit.
    /// Fills in `progress.counters.events` and `.duplicates` from what was stored.
    fn commit(&mut self, progress: &mut Progress<'_>) -> Result<()>;
    /// Drops every event added since the last commit (a source failed mid-batch: its
    /// events are read again, with its position, next run).
    fn rollback(&mut self) -> Result<()>;
    /// The id events of `addr` are stored under, recorded if new. Part of the open
    /// batch.
    fn address_id(&mut self, addr: IpAddr) -> Result<i64>;
    /// The id of a mechanism, username or service text, recorded if new. Part of the
    /// open batch.
    fn label_id(&mut self, text: &str) -> Result<i64>;
}

/// The named state ([`BlockStore::state`]) an event store adds the number of new events
/// to whenever it stores some: the policy skips counting its windows again while it
/// stays unchanged (a store without it makes every run count).
pub const EVENTS_STORED: &str = "events_stored";

/// What policy and enforcement read and write: blocks, the allowlist, pardons, the
/// counts a policy decides on, what was rendered where, and named state.
pub trait BlockStore {
    /// Records a block; returns its id.
    fn insert_block(&self, block: &NewBlock) -> Result<i64>;
    /// Moves the expiry of an active block (`None`: permanent) and appends `note` to its
    /// reason, so its history says it was extended; false when the block is not active.
    fn extend_block(&self, id: i64, expires_at: Option<i64>, note: &str) -> Result<bool>;
    /// The block of exactly `network` at `target` in force at `now` that lasts longest
    /// (permanent first), if any.
    fn active_block_of(
        &self,
        network: &IpNet,
        target: BlockTarget,
        now: i64,
    ) -> Result<Option<Block>>;
    /// Blocks in force at `now` (of one target, or all), in no particular order.
    fn active_blocks(&self, target: Option<BlockTarget>, now: i64) -> Result<Vec<Block>>;
    /// Every block ever recorded, newest first.
    fn all_blocks(&self) -> Result<Vec<Block>>;
    /// Ends the blocks in force at `now` that equal or lie inside `network`
    /// (`overlapping`: that share any address with it); returns them.
    fn end_blocks(
        &self,
        network: &IpNet,
        overlapping: bool,
        now: i64,
        reason: EndReason,
    ) -> Result<Vec<Block>>;
    /// Ends every block whose time is over at `now`, as ended at its expiry; returns them.
    fn expire_blocks(&self, now: i64) -> Result<Vec<Block>>;
    /// Whether a block of `target` in force at `now` covers all of `network`.
    fn is_covered(&self, network: &IpNet, target: BlockTarget, now: i64) -> Result<bool>;
    /// How many blocks of `target` ever covered `network`, and when the latest of them
    /// was created: for escalation, and so the failures behind a block never count twice.
    /// Blocks ended because an allowlist entry covered them are left out.
    fn block_history(&self, network: &IpNet, target: BlockTarget) -> Result<(i64, Option<i64>)>;
    /// From now on, failures of addresses inside `network` up to `until` do not count.
    fn add_pardon(&self, network: &IpNet, until: i64) -> Result<()>;
    /// Every pardon, ordered by address, then time.
    fn pardons(&self) -> Result<Vec<Pardon>>;
    /// The pardons sharing any address with `network`, ordered by address, then time.
    fn pardons_overlapping(&self, network: &IpNet) -> Result<Vec<Pardon>>;
    /// Events of `kind` per address in `(since, until]`, pardons not applied: the cheap
    /// first pass of the policy.
    fn kind_per_address(
        &self,
        kind: EventKind,
        since: i64,
        until: i64,
    ) -> Result<Vec<(IpAddr, i64)>>;
    /// Events of `kind` of the addresses inside `network` in `(since, until]`, leaving
    /// out pardoned ones: the exact count the policy acts on.
    fn countable_of_kind(
        &self,
        network: &IpNet,
        kind: EventKind,
        since: i64,
        until: i64,
    ) -> Result<i64>;
    /// Adds an allowlist entry; false when it was already there.
    fn allowlist_add(&self, network: &IpNet, comment: Option<&str>, now: i64) -> Result<bool>;
    /// Removes an allowlist entry; false when there was none.
    fn allowlist_remove(&self, network: &IpNet) -> Result<bool>;
    /// The stored allowlist, ordered by address.
    fn allowlist(&self) -> Result<Vec<AllowEntry>>;
    /// A cheap signature of the blocks of `target` in force at `now` and of the stored
    /// allowlist: it changes whenever a block starts, ends or expires, or the allowlist
    /// changes, without reading every block.
    fn active_signature(&self, target: BlockTarget, now: i64) -> Result<String>;
    /// The digest and state token recorded when `place` was last rendered.
    fn last_render(&self, place: &str) -> Result<Option<RenderRecord>>;
    /// How many entries the last render of `place` wrote.
    fn render_entries(&self, place: &str) -> Result<usize>;
    /// Records what was rendered to `place`, and its state token right after.
    fn save_render(
        &self,
        place: &str,
        digest: &str,
        token: Option<&str>,
        entries: usize,
        now: i64,
    ) -> Result<()>;
    /// Every recorded firewall place, ordered by backend and name.
    fn firewall_places(&self) -> Result<Vec<FirewallPlace>>;
    /// Records that saslguard is about to create objects in `place` (no-op when known).
    fn record_firewall_place(&self, place: &FirewallPlace, now: i64) -> Result<()>;
    /// Forgets `place` once its objects are gone.
    fn forget_firewall_place(&self, place: &FirewallPlace) -> Result<()>;
    /// Every recorded Postfix map, ordered by type and path.
    fn postfix_map_places(&self) -> Result<Vec<PostfixMapPlace>>;
    /// Records that saslguard is about to write the map `place` (no-op when known).
    fn record_postfix_map_place(&self, place: &PostfixMapPlace, now: i64) -> Result<()>;
    /// Forgets the map `place` once it has been emptied.
    fn forget_postfix_map_place(&self, place: &PostfixMapPlace) -> Result<()>;
    /// A named value kept between runs.
    fn state(&self, key: &str) -> Result<Option<i64>>;
    /// Sets a named value kept between runs.
    fn set_state(&self, key: &str, value: i64) -> Result<()>;
    /// Forgets a named value kept between runs (nothing happens when it is not set).
    fn clear_state(&self, key: &str) -> Result<()>;

    /// Counted failures per address in `(since, until]`, pardons not applied.
    fn failures_per_address(&self, since: i64, until: i64) -> Result<Vec<(IpAddr, i64)>> {
        self.kind_per_address(EventKind::AuthFailed, since, until)
    }

    /// Counted failures of addresses inside `network` in `(since, until]`, leaving out
    /// pardoned ones.
    fn countable_failures(&self, network: &IpNet, since: i64, until: i64) -> Result<i64> {
        self.countable_of_kind(network, EventKind::AuthFailed, since, until)
    }
}

/// What the reports read (`top`, `show`, `report`, `metrics`, `status`). Reports also
/// read blocks, so every report store is a [`BlockStore`].
pub trait ReportStore: BlockStore {
    /// Offenders inside `(since, until]` ranked by events of `kind`, ties sharing a
    /// rank; `since = None` means from the beginning. First and last seen are left
    /// `None`: [`ReportStore::first_and_last`] finds them for the rows shown.
    fn rank_offenders(
        &self,
        kind: EventKind,
        since: Option<i64>,
        until: i64,
        grouping: Grouping,
    ) -> Result<Vec<RankedOffender>>;
    /// [`ReportStore::rank_offenders`] over several periods ending at `until` (`top
    /// --period 24h,7d,30d`), one ranking per entry of `sinces`, in that order. A backend
    /// that can read them in one pass says so by overriding this.
    fn rank_offenders_over(
        &self,
        kind: EventKind,
        sinces: &[Option<i64>],
        until: i64,
        grouping: Grouping,
    ) -> Result<Vec<Vec<RankedOffender>>> {
        sinces
            .iter()
            .map(|since| self.rank_offenders(kind, *since, until, grouping))
            .collect()
    }
    /// The first and last event of `kind` inside `network` in `(since, until]`
    /// (`since = None`: from the beginning); `None` without any.
    fn first_and_last(
        &self,
        network: &IpNet,
        kind: EventKind,
        since: Option<i64>,
        until: i64,
    ) -> Result<Option<(i64, i64)>>;
    /// Whether some address inside `network` had a counted failure at or before `at`
    /// (for `top --new`).
    fn failed_by(&self, network: &IpNet, at: i64) -> Result<bool>;
    /// Usernames, mechanisms or services ranked by counted failures inside
    /// `(since, until]` (`since = None`: from the beginning), ties sharing a rank.
    fn rank_labels(
        &self,
        since: Option<i64>,
        until: i64,
        kind: LabelKind,
    ) -> Result<Vec<RankedLabel>>;
    /// Whether a counted failure at or before `at` carried the text `text` of one kind.
    fn label_failed_by(&self, kind: LabelKind, text: &str, at: i64) -> Result<bool>;
    /// Counted failures and server faults of every address inside `network` up to
    /// `until`, with the first and last failure.
    fn range_totals(&self, network: &IpNet, until: i64) -> Result<RangeTotals>;
    /// Counted failures of the addresses inside `network` per UTC day from the midnight
    /// `from` up to `until`: (start of the day, failures), oldest first, days without
    /// failures left out.
    fn range_failures_per_day(
        &self,
        network: &IpNet,
        from: i64,
        until: i64,
    ) -> Result<Vec<(i64, i64)>>;
    /// Counted failures of the addresses inside `network` up to `until` per username,
    /// mechanism and service (in [`LabelKind::ALL`] order), each most first (ties by
    /// text; failures without a username last among their tie).
    fn range_label_counts(&self, network: &IpNet, until: i64) -> Result<[Vec<LabelCount>; 3]>;
    /// Every block, active or ended, of any target, that covers `network` or lies inside
    /// it, newest first.
    fn blocks_overlapping(&self, network: &IpNet) -> Result<Vec<Block>>;
    /// Every block, of any target, in force at some moment of `(since, until]`, oldest
    /// first.
    fn blocks_during(&self, since: i64, until: i64) -> Result<Vec<Block>>;
    /// Blocks created and ended in `(since, until]` and in force at `until`, per target
    /// (both targets always present, in [`BlockTarget::ALL`] order).
    fn blocks_in_period(&self, since: i64, until: i64) -> Result<Vec<(BlockTarget, BlockCounts)>>;
    /// Every address with a counted failure or server fault in `(since, until]` or in
    /// `(previous_since, since]`, with its counts in each.
    fn address_periods(
        &self,
        previous_since: i64,
        since: i64,
        until: i64,
    ) -> Result<Vec<AddressPeriods>>;
    /// Counted failures in `(since, until]` per UTC hour: (start of the hour in unix
    /// seconds, failures), oldest first, hours without failures left out.
    fn failures_per_hour(&self, since: i64, until: i64) -> Result<Vec<(i64, i64)>>;
    /// Every address (inside `within`, if given) with events of `kind` in
    /// `(since, until]`, with how many.
    fn events_per_address(
        &self,
        kind: EventKind,
        since: i64,
        until: i64,
        within: Option<&IpNet>,
    ) -> Result<Vec<(IpAddr, i64)>>;
    /// Events of `kind` of `addr` in `(since, until]`.
    fn events_of_address(
        &self,
        addr: IpAddr,
        kind: EventKind,
        since: i64,
        until: i64,
    ) -> Result<i64>;
    /// Figures for monitoring: events stored per kind, unparsed lines over all runs,
    /// and the latest `run` (or, failing that, `ingest`).
    fn metrics(&self) -> Result<StoreMetrics>;
    /// The latest run of `command`.
    fn last_run(&self, command: &str) -> Result<Option<LastRun>>;

    /// Events of `kind` inside `network` in `(since, until]` (`since = None`: from the
    /// beginning) per host, by host name, when the store holds the events of several
    /// hosts (a cluster); `None` for a single host's store, whose reports name no hosts.
    fn hosts_of(
        &self,
        network: &IpNet,
        kind: EventKind,
        since: Option<i64>,
        until: i64,
    ) -> Result<Option<Vec<(String, i64)>>> {
        let _ = (network, kind, since, until);
        Ok(None)
    }

    /// Events of `kind` in `(since, until]` of the addresses inside `within` (all when
    /// `None`).
    fn kind_total(
        &self,
        kind: EventKind,
        since: i64,
        until: i64,
        within: Option<&IpNet>,
    ) -> Result<i64> {
        Ok(self
            .events_per_address(kind, since, until, within)?
            .iter()
            .map(|(_, n)| n)
            .sum())
    }
}
