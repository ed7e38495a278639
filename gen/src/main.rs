//! `saslguard-gen`: writes a realistic, seeded Postfix mail log and the JSON truth of its
//! SASL failures (see the library, `gen/src/lib.rs`, for what it writes and why).

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;
use saslguard_gen::Options;

/// Command line of `saslguard-gen`.
#[derive(Parser, Debug)]
#[command(
    name = "saslguard-gen",
    version,
    about = "Writes a realistic, seeded Postfix mail log and the JSON truth of its SASL failures"
)]
struct Args {
    /// What to generate.
    #[command(flatten)]
    options: Options,
    /// The log file to write.
    #[arg(long)]
    out: PathBuf,
    /// The JSON truth file to write.
    #[arg(long)]
    truth: PathBuf,
}

/// Parses the flags, writes the log and the truth file, and says what it wrote.
fn main() -> Result<()> {
    let args = Args::parse();
    let made = saslguard_gen::write(&args.options, &args.out, &args.truth)?;
    let (n, bytes, truth) = (made.truth.lines, made.bytes, &made.truth);
    let secs = made.elapsed.as_secs_f64();
    eprintln!(
        "saslguard-gen: {n} lines, {bytes} bytes ({:.1} bytes/line) in {secs:.2} s ({:.0} MB/s); \
         {} failures from {} addresses, {} server faults, {} decoys, {} garbage",
        bytes as f64 / n.max(1) as f64,
        bytes as f64 / 1e6 / secs.max(1e-9),
        truth.failures_total,
        truth.failures.len(),
        truth.server_faults_total,
        truth.decoy_lines,
        truth.garbage_lines,
    );
    Ok(())
}
