//! `saslguard doctor`: checks the setup and says how to fix what is wrong.

use std::io::Write;

use crate::cli::{DoctorArgs, SummaryFormat};
use crate::commands::Context;
use crate::doctor::{self, Verdict};

/// Runs `doctor`; fails (exit 1) when any check fails.
pub fn run(ctx: &Context, args: &DoctorArgs) -> anyhow::Result<()> {
    let findings = doctor::examine(&ctx.config, &ctx.db_path, ctx.clock.unix());
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
                writeln!(out, "{verdict}  {:<18} {}", f.check, f.message)?;
                if let Some(fix) = &f.fix {
                    writeln!(out, "      {:<18} fix: {fix}", "")?;
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
