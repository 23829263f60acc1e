// SPDX-License-Identifier: GPL-2.0

//! What `ckpt` and `rstr` share as command-line programs.

use std::process::ExitCode;

/// Runs a tool's body and turns an error into one line on stderr, `PROG: error: reason: cause`,
/// and exit status 1. Never a backtrace: the reason is what a user needs.
pub fn run(prog: &str, body: impl FnOnce() -> anyhow::Result<ExitCode>) -> ExitCode {
    match body() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{prog}: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
