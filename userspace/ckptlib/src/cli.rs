// SPDX-License-Identifier: GPL-2.0

//! What `ckpt` and `rstr` share as command-line programs.

mod manual;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Arg, Parser};

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

/// The id of the hidden option `--generate-docs DIR`.
const GENERATE_DOCS: &str = "generate-docs";

/// Parses the tool's command line, as `C::parse()` does, with one hidden option more:
/// `--generate-docs DIR` (alone) writes the tool's manual pages and shell completions, made
/// from the same clap definitions, into DIR (see [`manual::generate`]) and exits. `make
/// install` runs it, so that the pages never drift from `--help`.
pub fn parse<C: Parser>() -> C {
    let cmd = C::command().arg(
        Arg::new(GENERATE_DOCS)
            .long(GENERATE_DOCS)
            .value_name("DIR")
            .value_parser(clap::value_parser!(PathBuf))
            .exclusive(true)
            .hide(true),
    );
    let mut matches = cmd.get_matches();
    if let Some(dir) = matches.get_one::<PathBuf>(GENERATE_DOCS) {
        let cmd = C::command();
        let name = cmd.get_name().to_owned();
        let done = run(&name, || manual::generate(cmd, dir)) == ExitCode::SUCCESS;
        std::process::exit(if done { 0 } else { 1 });
    }
    C::from_arg_matches_mut(&mut matches).unwrap_or_else(|e| e.format(&mut C::command()).exit())
}
