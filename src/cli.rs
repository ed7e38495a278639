//! The command line, defined in one place: help, completions and the man page all come
//! from these types.

use crate::model::BlockTarget;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use ipnet::IpNet;

use crate::report::Period;

/// Stops SMTP AUTH brute force on Postfix: reads mail logs incrementally into SQLite
/// and ranks the addresses that fail to authenticate.
#[derive(Debug, Parser)]
#[command(
    name = "saslguard",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    /// The SQLite database holding every event and position
    /// [default: /var/lib/saslguard/saslguard.db].
    #[arg(long, global = true, env = "SASLGUARD_DB", value_name = "PATH")]
    pub db: Option<PathBuf>,

    /// The TOML configuration [default: /etc/saslguard/saslguard.toml, if present].
    #[arg(long, global = true, env = "SASLGUARD_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Act as if now were this moment (RFC 3339, e.g. 2026-11-27T12:00:00Z): for
    /// reproducible reports and tests. Commands that write (ingest, run, block, unblock,
    /// expire, allow, render, prune, import) change the real database, map and firewall
    /// as if it were then.
    #[arg(long, global = true, value_name = "TIME", value_parser = parse_time)]
    pub as_of: Option<DateTime<Utc>>,

    /// Print only errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Print what is read from where (repeat for more).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Read new lines of the mail logs and store their SASL failures.
    ///
    /// Resumes where the last run stopped, follows rotation (renamed, gzipped and
    /// copytruncated files) and never stores a line twice.
    Ingest(IngestArgs),
    /// Rank offenders by failed authentications over one or more periods.
    Top(TopArgs),
    /// Everything about one address or network: failures per day, usernames,
    /// mechanisms and services tried, server faults, blocks.
    ///
    /// A network (203.0.113.0/24) adds up every address inside it. Counts cover
    /// everything stored up to now (or --as-of); the days are the last 30 UTC dates.
    Show(ShowArgs),
    /// A summary of a period against the period before it: failures, addresses,
    /// networks and server faults, failures per hour, top addresses and usernames,
    /// blocks created, ended and in force, and the connections Postfix refused because
    /// of a block (in total and per block).
    ///
    /// The period ends now (or at --as-of). Periods are after their start, up to and
    /// including their end, like `top --period`.
    Report(ReportArgs),
    /// The cron/timer entry point: ingest, expire, apply the policy, render.
    ///
    /// Runs under the database lock; exits 0 when all went well, with a one-line
    /// summary. Rendering is skipped where nothing changed.
    Run(RunArgs),
    /// Block a network by hand (postfix map, firewall, or both).
    Block(BlockArgs),
    /// End every active block that equals or lies inside a network.
    ///
    /// The failures behind those blocks no longer count, so the next run does not block
    /// the same address again for them; new failures do count. Without an active block
    /// inside the network nothing changes and the exit status is 1, unless --forgive.
    Unblock(UnblockArgs),
    /// End the blocks whose time is over.
    Expire,
    /// List blocks: active ones (default), or every block ever made.
    Blocks(BlocksArgs),
    /// Manage the allowlist: networks that are never blocked.
    Allow(AllowArgs),
    /// Write the Postfix map and the firewall from the active blocks.
    Render(RenderArgs),
    /// Active blocks per target, the last run, and drift between the database and what
    /// the map file and firewall hold.
    Status(StatusArgs),
    /// Delete old history: events, run records and ended blocks.
    Prune(PruneArgs),
    /// Check the setup: logs, database, Postfix's use of the map, smtpd_delay_reject,
    /// the firewall. Exits 1 when a check fails.
    Doctor(DoctorArgs),
    /// Print the default configuration, or check a configuration file.
    Config(ConfigArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page (roff), generated from this command line definition; with
    /// --dir, write it and one page per subcommand (saslguard-top.1, ...) there.
    Man(ManArgs),
    /// Print figures for monitoring in Prometheus text format: events, unparsed lines,
    /// active blocks per target, the last run and its duration, drift.
    Metrics,
    /// Turn the classic script's state into manual blocks (nothing old is deleted).
    ///
    /// Every network goes through the checks of `block` (not wider than /8 IPv4 or /16
    /// IPv6, no allowlisted address inside; IPv4-mapped IPv6 is IPv4): a line that fails
    /// them is refused with its file and line, the rest is imported, and the exit status
    /// is 1.
    Import(ImportArgs),
    /// The shared store of several hosts ([cluster]): hosts, their last contact and
    /// backlog, the blocks in force on every host.
    Cluster(ClusterArgs),
}

/// Options of `cluster`.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub action: ClusterAction,
}

/// What `cluster` does.
#[derive(Debug, Subcommand)]
pub enum ClusterAction {
    /// Every host with its last contact, events shipped and the backlog it reported,
    /// the cluster's active blocks, and this host's own backlog (events waiting in the
    /// local outbox). Exits 1 when the shared store cannot be reached.
    Status(StatusArgs),
}

/// Options of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub source: ImportSource,
}

/// What `import` reads.
#[derive(Debug, Subcommand)]
pub enum ImportSource {
    /// A Postfix access file such as /etc/postfix/reject_client (`1.2.3.4 REJECT`,
    /// `1.2.3 REJECT`, `# comments`): blocks for the Postfix map by default.
    RejectClient {
        /// The access file to read (it is not changed).
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        block: ImportBlock,
    },
    /// `iptables-save` output (FILE, or run iptables-save and ip6tables-save): INPUT rules
    /// dropping one source become firewall blocks by default.
    Iptables {
        /// Saved `iptables-save` output to read [default: run iptables-save and
        /// ip6tables-save].
        #[arg(value_name = "FILE")]
        file: Option<PathBuf>,
        #[command(flatten)]
        block: ImportBlock,
    },
}

/// How imported blocks are recorded.
#[derive(Debug, Args)]
pub struct ImportBlock {
    /// How long the imported blocks last.
    #[arg(long = "for", value_name = "DURATION", default_value = "30d", value_parser = parse_block_length,
          conflicts_with = "permanent")]
    pub duration: Duration,

    /// Never expire.
    #[arg(long)]
    pub permanent: bool,

    /// Where to block [default: postfix for reject-client, firewall for iptables].
    #[arg(long, value_enum)]
    pub target: Option<TargetChoice>,
}

/// Options of `config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub action: ConfigAction,
}

/// What `config` does.
#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Print the fully commented default configuration (the text the binary embeds).
    Default,
    /// Check a configuration file (default: --config, SASLGUARD_CONFIG, or
    /// /etc/saslguard/saslguard.toml); exits 1 with the error and its line.
    Check {
        #[arg(value_name = "PATH")]
        path: Option<PathBuf>,
    },
}

/// Options of `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Options of `doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// How to print the findings.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    pub format: SummaryFormat,
}

/// Options of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Read no logs, change nothing: print what expiry, the policy and rendering would do.
    #[arg(long)]
    pub dry_run: bool,

    /// How to print the summary.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    pub format: SummaryFormat,

    /// How long to wait for another saslguard using the same database.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub wait: Duration,
}

/// Options of `block`.
#[derive(Debug, Args)]
pub struct BlockArgs {
    /// An address (203.0.113.7, 2001:db8::1) or network (203.0.113.0/24).
    #[arg(value_name = "ADDR|CIDR", value_parser = parse_network)]
    pub network: IpNet,

    /// How long the block lasts.
    #[arg(long = "for", value_name = "DURATION", default_value = "7d", value_parser = parse_block_length,
          conflicts_with = "permanent")]
    pub duration: Duration,

    /// Never expire.
    #[arg(long)]
    pub permanent: bool,

    /// Where to block.
    #[arg(long, value_enum, default_value_t = TargetChoice::Both)]
    pub target: TargetChoice,

    /// Why, for the record.
    #[arg(long, default_value = "blocked by hand")]
    pub reason: String,
}

/// Options of `unblock`.
#[derive(Debug, Args)]
pub struct UnblockArgs {
    /// An address or network: every active block equal to it or inside it ends, and
    /// the failures behind those blocks no longer count.
    #[arg(value_name = "ADDR|CIDR", value_parser = parse_network)]
    pub network: IpNet,

    /// Also forgive every failure inside the network up to now, blocked or not (shown
    /// by `show` and `blocks`); works without an active block.
    #[arg(long)]
    pub forgive: bool,

    /// Accept a network wider than `block` would (wider than /8 IPv4 or /16 IPv6).
    #[arg(long)]
    pub force: bool,
}

/// Options of `blocks`.
#[derive(Debug, Args)]
pub struct BlocksArgs {
    /// Only blocks in force now (the default).
    #[arg(long, conflicts_with = "all")]
    pub active: bool,

    /// Every block ever made, ended ones included.
    #[arg(long)]
    pub all: bool,

    /// List the forgiven networks instead (`unblock`, `unblock --forgive`): failures
    /// inside them up to the time shown no longer count.
    #[arg(long, conflicts_with_all = ["active", "all"])]
    pub forgiven: bool,

    /// Read only this host's own database, even with `[cluster]` configured (by
    /// default reports read the cluster's shared store: every host's events and blocks).
    #[arg(long)]
    pub local: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
}

/// Options of `allow`.
#[derive(Debug, Args)]
pub struct AllowArgs {
    #[command(subcommand)]
    pub action: AllowAction,
}

/// What `allow` does.
#[derive(Debug, Subcommand)]
pub enum AllowAction {
    /// Never block this network; ends the active blocks it covers.
    ///
    /// Nothing is forgiven: once the entry is removed, the failures inside it count as
    /// before (`unblock --forgive` forgives them).
    Add {
        /// An address or network never to block (IPv4-mapped IPv6 is taken as IPv4).
        #[arg(value_name = "ADDR|CIDR", value_parser = parse_network)]
        network: IpNet,
        /// Why (a customer's office, a monitoring host, ...).
        #[arg(long)]
        comment: Option<String>,
        /// Allow a network wider than `block` accepts (0.0.0.0/0 forgives every IPv4
        /// client): only with this.
        #[arg(long)]
        force: bool,
    },
    /// Remove a network added with `allow add`.
    Remove {
        /// The network exactly as listed by `allow list` (entries of the config file are
        /// removed there).
        #[arg(value_name = "ADDR|CIDR", value_parser = parse_network)]
        network: IpNet,
    },
    /// The allowlist: from the config and added by hand.
    List {
        /// Output format.
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        format: TableFormat,
    },
}

/// Options of `render`.
#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Print what would be added and removed per target; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// How to print what was done.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    pub format: SummaryFormat,
}

/// Options of `status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// How to print it.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    pub format: SummaryFormat,
}

impl Command {
    /// Whether the command changes the database, the map or the firewall.
    pub fn writes(&self) -> bool {
        match self {
            Command::Run(args) => !args.dry_run,
            Command::Render(args) => !args.dry_run,
            Command::Prune(args) => !args.dry_run,
            Command::Ingest(_)
            | Command::Block(_)
            | Command::Unblock(_)
            | Command::Expire
            | Command::Import(_) => true,
            Command::Allow(args) => !matches!(args.action, AllowAction::List { .. }),
            Command::Top(_)
            | Command::Show(_)
            | Command::Report(_)
            | Command::Blocks(_)
            | Command::Status(_)
            | Command::Doctor(_)
            | Command::Config(_)
            | Command::Completions(_)
            | Command::Man(_)
            | Command::Cluster(_)
            | Command::Metrics => false,
        }
    }
}

/// Options of `man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write saslguard.1 and a page for every subcommand (which saslguard.1 refers to)
    /// into this directory instead of printing saslguard.1.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Options of `prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Delete events, run records and ended blocks older than this [default: `retention`
    /// and `block_retention` from the config, 400d].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub older_than: Option<Duration>,

    /// Allow an `--older-than` shorter than one day, which deletes recent events too
    /// (with `0`, every event).
    #[arg(long)]
    pub force: bool,

    /// Print what would be deleted; delete nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Where a manual block applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TargetChoice {
    /// The Postfix access map.
    Postfix,
    /// The firewall.
    Firewall,
    /// Both.
    Both,
}

impl TargetChoice {
    /// The targets chosen.
    pub fn targets(self) -> &'static [BlockTarget] {
        match self {
            TargetChoice::Postfix => &[BlockTarget::Postfix],
            TargetChoice::Firewall => &[BlockTarget::Firewall],
            TargetChoice::Both => &BlockTarget::ALL,
        }
    }
}

/// Options of `ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Log files to read (`-` for stdin) [default: `logs` from the config].
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Read the files from their first byte again; events already stored are not
    /// stored twice.
    #[arg(long)]
    pub from_start: bool,

    /// How to print the summary.
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    pub format: SummaryFormat,

    /// How long to wait for another saslguard using the same database.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub wait: Duration,
}

/// Options of `top`.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// Periods ending now (or at --as-of): durations like 15m, 24h, 7d, 30d, or `all`;
    /// several separated by commas give one column each.
    #[arg(long, value_name = "PERIOD", value_delimiter = ',', default_value = "24h",
          value_parser = parse_period)]
    pub period: Vec<Period>,

    /// Rank single addresses, networks (IPv4 /24 and IPv6 /64 unless configured), or
    /// the usernames, mechanisms or services that failed.
    #[arg(long, value_enum, default_value_t = TopBy::Ip)]
    pub by: TopBy,

    /// Which events to rank addresses and networks by: failed authentications (what
    /// blocks), `Invalid authentication mechanism` failures (stored apart; they count
    /// toward blocks only with `[policy] count_invalid_mechanism`), or server faults.
    #[arg(long, value_enum, default_value_t = TopKind::AuthFailed)]
    pub kind: TopKind,

    /// Only offenders (or usernames, mechanisms, services) whose first counted failure
    /// ever lies inside the first period: who is new. Ranks stay those among all.
    #[arg(long)]
    pub new: bool,

    /// How many rows to show; 0 shows all.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,

    /// Read only this host's own database, even with `[cluster]` configured (by
    /// default reports read the cluster's shared store: every host's events and blocks).
    #[arg(long)]
    pub local: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
}

/// Which events `top --kind` ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TopKind {
    /// Failed authentications: what counts toward blocks.
    AuthFailed,
    /// `Invalid authentication mechanism`: the client asked for a mechanism the server
    /// does not offer.
    InvalidMechanism,
    /// The server's authentication backend failed: never counted against the client.
    ServerFault,
}

impl TopKind {
    /// The stored event kind.
    pub fn event_kind(self) -> crate::parse::EventKind {
        match self {
            TopKind::AuthFailed => crate::parse::EventKind::AuthFailed,
            TopKind::InvalidMechanism => crate::parse::EventKind::InvalidMechanism,
            TopKind::ServerFault => crate::parse::EventKind::ServerFault,
        }
    }
}

/// What `top` ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TopBy {
    /// Single addresses.
    Ip,
    /// Networks.
    Net,
    /// SASL usernames (failures logged without one are left out).
    User,
    /// SASL mechanisms (case-folded: `login` is `LOGIN`).
    Mechanism,
    /// The smtpd services that logged the failures (postfix/submission/smtpd, ...).
    Service,
}

/// Options of `show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// An address (203.0.113.7, 2001:db8::1) or network (203.0.113.0/24).
    #[arg(value_name = "ADDR|CIDR", value_parser = parse_network)]
    pub network: IpNet,

    /// Read only this host's own database, even with `[cluster]` configured (by
    /// default reports read the cluster's shared store: every host's events and blocks).
    #[arg(long)]
    pub local: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ShowFormat::Table)]
    pub format: ShowFormat,
}

/// Options of `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The period ending now (or at --as-of): a duration like 24h, 7d, 30d. The
    /// previous period, compared against, has the same length.
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = parse_report_period)]
    pub period: Period,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,

    /// Write the report to FILE (atomically: a temporary file renamed) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Read only this host's own database, even with `[cluster]` configured (by
    /// default reports read the cluster's shared store: every host's events and blocks).
    #[arg(long)]
    pub local: bool,
}

/// Output of `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Sections and a bar chart for people.
    Table,
    /// One JSON object for scripts.
    Json,
    /// One self-contained HTML page with SVG charts, to read in a browser or mail on:
    /// inline CSS, no scripts, nothing fetched; attacker-chosen text escaped.
    Html,
}

/// Output of `show`: one report, so no CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ShowFormat {
    /// Sections for people.
    Table,
    /// One JSON object for scripts.
    Json,
}

/// Output of reading commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TableFormat {
    /// Aligned table for people.
    Table,
    /// A JSON array of objects for scripts.
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

/// Output of summaries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SummaryFormat {
    /// One line for people.
    Text,
    /// One JSON object for scripts.
    Json,
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e} (expected RFC 3339 like 2026-11-27T12:00:00Z)"))
}

/// Parses durations like `15m`, `24h`, `7d`, `2w` (zero allowed); the error says in
/// words what is wrong.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    use humantime::DurationError;
    let text = text.trim();
    humantime::parse_duration(text).map_err(|e| match e {
        DurationError::Empty => "a duration is needed, like 15m, 24h or 7d".to_string(),
        DurationError::UnknownUnit { unit, value, .. } if unit.is_empty() => {
            format!("{text:?} needs a unit: {value}m, {value}h or {value}d?")
        }
        DurationError::UnknownUnit { unit, .. } => {
            format!("{text:?}: unknown unit {unit:?}; use s, m, h, d or w, like 15m, 24h or 7d")
        }
        DurationError::NumberOverflow => format!("{text:?} is too long"),
        DurationError::InvalidCharacter(_) | DurationError::NumberExpected(_) => {
            format!("{text:?} is not a duration: write a number and a unit, like 15m, 24h or 7d")
        }
    })
}

/// Parses a length of time that must be longer than zero (a window, a period).
pub fn parse_length(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration.is_zero() {
        return Err(format!(
            "{:?} is no time at all: give a duration longer than zero, like 15m, 24h or 7d",
            text.trim()
        ));
    }
    Ok(duration)
}

/// The longest a block made by hand may last; longer is what `--permanent` is for.
pub const MAX_BLOCK_DURATION: Duration = Duration::from_secs(10 * 366 * 86400);

/// Parses how long a block made by hand lasts: longer than zero (a block that ends as
/// it starts protects nothing) and at most [`MAX_BLOCK_DURATION`].
pub fn parse_block_length(text: &str) -> Result<Duration, String> {
    let duration = parse_length(text)?;
    if duration > MAX_BLOCK_DURATION {
        return Err(format!(
            "{:?} is longer than 10 years: use --permanent for a block that never ends",
            text.trim()
        ));
    }
    Ok(duration)
}

/// Parses an address (a host network) or a CIDR network with no host bits set; see
/// [`crate::network::parse_network`], which the config and `import` use too.
pub fn parse_network(text: &str) -> Result<IpNet, String> {
    crate::network::parse_network(text)
}

fn parse_period(text: &str) -> Result<Period, String> {
    Period::parse(text)
}

/// A report period must have a length: `all` is refused.
fn parse_report_period(text: &str) -> Result<Period, String> {
    match Period::parse(text)? {
        Period::All => Err("report needs a period with a length, like 24h, 7d or 30d".into()),
        period => Ok(period),
    }
}
