//! Running external commands (`nft`, `ipset`, `iptables-restore`, `postmap`, `postfix
//! reload`): never through a shell, arguments passed as they are, stderr captured so a
//! failure says what the command said.

use std::ffi::OsStr;
use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// What a finished command printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub stdout: String,
    pub stderr: String,
}

/// Runs `program` with `args`, feeding `stdin` if given; fails (with its stderr) unless it
/// exits 0. A missing program is reported as such.
pub fn run<S: AsRef<OsStr>>(
    program: &str,
    args: &[S],
    stdin: Option<&[u8]>,
) -> anyhow::Result<Output> {
    let output = run_status(program, args, stdin)?;
    match output {
        (true, out) => Ok(out),
        (false, out) => bail!(
            "{} failed: {}",
            describe(program, args),
            first_lines(&out.stderr, &out.stdout)
        ),
    }
}

/// Runs `program` and returns whether it exited 0, with what it printed; only failing
/// to start it at all is an error. For checks like `iptables -C`.
pub fn run_status<S: AsRef<OsStr>>(
    program: &str,
    args: &[S],
    stdin: Option<&[u8]>,
) -> anyhow::Result<(bool, Output)> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!("{program} not found: is it installed and in PATH?")
            } else {
                anyhow::Error::new(e).context(format!("cannot run {program}"))
            }
        })?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A command that exits early closes its stdin; its exit status tells why.
        let _ = pipe.write_all(input);
    }
    let output = child
        .wait_with_output()
        .with_context(|| format!("waiting for {program}"))?;
    Ok((
        output.status.success(),
        Output {
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        },
    ))
}

fn describe<S: AsRef<OsStr>>(program: &str, args: &[S]) -> String {
    let mut text = program.to_string();
    for arg in args.iter().take(6) {
        text.push(' ');
        text.push_str(&arg.as_ref().to_string_lossy());
    }
    if args.len() > 6 {
        text.push_str(" ...");
    }
    text
}

fn first_lines(stderr: &str, stdout: &str) -> String {
    let text = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    let lines: Vec<&str> = text.trim().lines().take(5).collect();
    if lines.is_empty() {
        "no output".to_string()
    } else {
        lines.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_command_reports_its_stderr() {
        let err = run("sh", &["-c", "echo boom >&2; exit 3"], None).unwrap_err();
        assert!(format!("{err}").contains("boom"), "{err}");
    }

    #[test]
    fn a_missing_program_says_so() {
        let err = run::<&str>("saslguard-no-such-program", &[], None).unwrap_err();
        assert!(format!("{err}").contains("not found"), "{err}");
    }

    #[test]
    fn stdin_reaches_the_command() {
        let out = run("cat", &[] as &[&str], Some(b"hello")).unwrap();
        assert_eq!(out.stdout, "hello");
    }
}
