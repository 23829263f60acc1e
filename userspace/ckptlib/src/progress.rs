// SPDX-License-Identifier: GPL-2.0

//! The progress bar of `ckpt` and `rstr` (indicatif): bytes of memory done of the total,
//! the rate, and what else the tool counts (tasks), on standard error. Drawn only on a
//! terminal and for more than [`MIN_BYTES`]; otherwise every call does nothing.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Below this much memory the work is over before a bar would say anything.
pub const MIN_BYTES: u64 = 4 << 20;

/// A progress bar, or nothing.
pub struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A bar for `what` (`checkpoint`, `restart`) of about `total` bytes, if `wanted` (no
    /// `--quiet`, no `-v`), standard error is a terminal and `total` is at least
    /// [`MIN_BYTES`].
    pub fn new(what: &'static str, total: u64, wanted: bool) -> Progress {
        if !wanted || total < MIN_BYTES || !std::io::stderr().is_terminal() {
            return Progress { bar: None };
        }
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template(
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {msg}",
        )
        .expect("a valid template")
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(what);
        Progress { bar: Some(bar) }
    }

    /// Whether a bar is drawn.
    pub fn shown(&self) -> bool {
        self.bar.is_some()
    }

    /// `done` bytes so far (the total grows if it was an underestimate), and `msg`.
    pub fn set(&self, done: u64, msg: impl FnOnce() -> String) {
        if let Some(b) = &self.bar {
            if b.length().is_some_and(|l| done > l) {
                b.set_length(done);
            }
            b.set_position(done);
            b.set_message(msg());
        }
    }

    /// Takes the bar off the terminal.
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        // An error's line must not land in the middle of the bar.
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_bar_when_small_or_unwanted() {
        assert!(!Progress::new("checkpoint", MIN_BYTES - 1, true).shown());
        assert!(!Progress::new("checkpoint", 1 << 30, false).shown());
        // cargo test runs with standard error captured or on a pipe in CI; a terminal only
        // by hand. Either way, calls on a hidden bar do nothing.
        let p = Progress::new("restart", 1 << 30, true);
        p.set(5, || "tasks 1/2".into());
        p.finish();
    }
}
