// SPDX-License-Identifier: GPL-2.0

//! What `ckpt` and `rstr` say while they work, and where: `-v`/`-vv`, `--log-file`,
//! `--stats`, `--quiet` (the same options on both, [`Watch`]), the tool's own lines and
//! the descriptor the module writes its lines to (the ioctls' `log_fd`, as Linux-CR's
//! `logfd`).

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::abi::{CKPT_LOG_DEBUG, CKPT_LOG_INFO};

/// The options that say what a tool reports while it works, shared by `ckpt` and `rstr`.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Watch {
    /// Say what is done on standard error: the tool's steps and the module's line per task
    /// (-v), and per descriptor and memory area (-vv), written by the module itself.
    #[arg(short, long, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Append the tool's steps, with the time, and every line of the module (what it did,
    /// per task, descriptor and area, or why it refused) to FILE, made 0600 if new.
    #[arg(long, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Print the figures on standard error once done, as text or (`--stats=json`) one
    /// JSON object: times (the tree stopped, in all), tasks, pages and image bytes, as the
    /// module counted them.
    #[arg(long, value_name = "FORMAT", num_args = 0..=1, require_equals = true, default_missing_value = "text")]
    pub stats: Option<StatsFormat>,
    /// No progress bar. It is shown only on a terminal (standard error), for more than a
    /// few MiB of memory, and never with -v (the module's lines go there).
    #[arg(short, long)]
    pub quiet: bool,
}

impl Watch {
    /// Whether a progress bar may be drawn (the terminal is checked by [`crate::progress`]).
    pub fn progress(&self) -> bool {
        !self.quiet && self.verbose == 0
    }
}

/// `--stats`: as text or JSON.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsFormat {
    Text,
    Json,
}

/// One figure of `--stats`: its JSON key, its text label, its value. A key ending in `_ms`
/// is a time in milliseconds.
pub type Figure<'a> = (&'a str, &'a str, serde_json::Value);

/// Prints `figures` on standard error as `--stats` asks: one `label: value` line each,
/// aligned, or one JSON object.
pub fn print_stats(format: StatsFormat, figures: &[Figure]) -> Result<()> {
    let text = match format {
        StatsFormat::Json => serde_json::Value::Object(
            figures
                .iter()
                .map(|(k, _, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
        .to_string(),
        StatsFormat::Text => stats_text(figures),
    };
    writeln!(io::stderr().lock(), "{text}")?;
    Ok(())
}

/// The text form of `--stats`: times with three decimals and their unit.
fn stats_text(figures: &[Figure]) -> String {
    let width = figures
        .iter()
        .map(|(_, l, _)| l.len() + 1)
        .max()
        .unwrap_or(0);
    figures
        .iter()
        .map(|(k, label, v)| {
            let value = match v.as_f64() {
                Some(f) if k.ends_with("_ms") => format!("{f:.3} ms"),
                _ => v.to_string(),
            };
            format!("{:<width$} {value}", format!("{label}:"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where a tool's own lines and the module's go.
pub struct Logging {
    prog: &'static str,
    file: Option<File>,
    verbose: u8,
    stderr: io::Stderr,
}

impl Logging {
    /// The log of `prog` (`ckpt`, `rstr`) as `watch` asks; the log file is opened now.
    pub fn open(prog: &'static str, watch: &Watch) -> Result<Logging> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = match &watch.log_file {
            None => None,
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .mode(0o600)
                    .open(p)
                    .with_context(|| format!("cannot open the log file {}", p.display()))?,
            ),
        };
        Ok(Logging {
            prog,
            file,
            verbose: watch.verbose,
            stderr: io::stderr(),
        })
    }

    /// One line of the tool's: to the log file with the time (seconds since the epoch), and
    /// to standard error with -v.
    pub fn line(&self, what: &str) {
        if let Some(mut f) = self.file.as_ref() {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            let _ = writeln!(
                f,
                "[{}.{:06}] {}: {what}",
                t.as_secs(),
                t.subsec_micros(),
                self.prog
            );
        }
        if self.verbose > 0 {
            eprintln!("{}: {what}", self.prog);
        }
    }

    /// Where the module writes its lines, and which: all of them to the log file, else
    /// to standard error as -v asks.
    pub fn module(&self) -> Option<(BorrowedFd<'_>, u32)> {
        match (&self.file, self.verbose) {
            (Some(f), _) => Some((f.as_fd(), CKPT_LOG_DEBUG)),
            (None, 0) => None,
            (None, 1) => Some((self.stderr.as_fd(), CKPT_LOG_INFO)),
            (None, _) => Some((self.stderr.as_fd(), CKPT_LOG_DEBUG)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stats_text_gives_units_and_aligns() {
        let t = stats_text(&[
            ("frozen_ms", "frozen time", json!(1.5)),
            ("pages_written", "pages written", json!(12)),
            ("tasks", "tasks", json!(3)),
        ]);
        assert_eq!(
            t,
            "frozen time:   1.500 ms\npages written: 12\ntasks:         3"
        );
    }

    #[test]
    fn no_bar_with_quiet_or_verbose() {
        let w = Watch::default();
        assert!(w.progress());
        assert!(!Watch {
            quiet: true,
            ..w.clone()
        }
        .progress());
        assert!(!Watch { verbose: 1, ..w }.progress());
    }
}
