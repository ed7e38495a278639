//! The command line, defined in one place: help, completions and the man page all come
//! from these types.

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// reproducible reports and tests.
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

    /// Rank single addresses, or networks (IPv4 /24 and IPv6 /64 unless configured).
    #[arg(long, value_enum, default_value_t = TopBy::Ip)]
    pub by: TopBy,

    /// How many rows to show; 0 shows all.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,

    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Table)]
    pub format: TableFormat,
}

/// What `top` ranks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TopBy {
    /// Single addresses.
    Ip,
    /// Networks.
    Net,
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

/// Parses durations like `15m`, `24h`, `7d`, `2w`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("{e} (expected a duration like 15m, 24h, 7d)"))
}

fn parse_period(text: &str) -> Result<Period, String> {
    Period::parse(text)
}
