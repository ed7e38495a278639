//! `saslguard doctor`: checks the setup and says how to fix what is wrong.

use std::io::Write;

use std::path::PathBuf;

use crate::cli::{Cli, DoctorArgs, SummaryFormat};
use crate::commands::Context;
use crate::config::{self, Config};
use crate::doctor::{self, Finding, Verdict};

/// Runs `doctor`; fails (exit 1) when any check fails. A configuration that cannot be
/// loaded is a failed check of its own (every error with its line), in text and JSON.
pub fn run(cli: &Cli, args: &DoctorArgs) -> anyhow::Result<()> {
    let findings = match Context::from_cli(cli) {
        Ok(ctx) => doctor::examine(&ctx.config, &ctx.db_path, ctx.clock.unix()),
        Err(err) => config_findings(cli, &err),
    };
    let mut out = std::io::stdout().lock();
    match args.format {
        SummaryFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&findings)?)?,
        SummaryFormat::Text => {
            for f in &findings {
                let verdict = match f.verdict {
                    Verdict::Pass => "pass",
                    Verdict::Warn => "WARN",
                    Verdict::Fail => "FAIL",
                };
                // Findings quote paths and other programs' output: shown sanitized.
                let message = crate::ui::shown(&f.message);
                writeln!(out, "{verdict}  {:<18} {message}", f.check)?;
                if let Some(fix) = &f.fix {
                    writeln!(out, "      {:<18} fix: {}", "", crate::ui::shown(fix))?;
                }
            }
        }
    }
    let failed = findings
        .iter()
        .filter(|f| f.verdict == Verdict::Fail)
        .count();
    if failed > 0 {
        anyhow::bail!("doctor: {failed} check(s) failed");
    }
    Ok(())
}

/// Why the configuration did not load: each error `config check` finds (file, line,
/// key, value), or the error itself when the file is not the cause.
fn config_findings(cli: &Cli, err: &anyhow::Error) -> Vec<Finding> {
    let path = cli
        .config
        .clone()
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_CONFIG_PATH));
    let errors = std::fs::read_to_string(&path)
        .map(|text| Config::check_all(&text, &path))
        .unwrap_or_default();
    if errors.is_empty() {
        vec![doctor::config_failure(format!("{err:#}"))]
    } else {
        errors.into_iter().map(doctor::config_failure).collect()
    }
}
