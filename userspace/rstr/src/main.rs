// SPDX-License-Identifier: GPL-2.0

//! `rstr`: restart a process from an image written by `ckpt`.

use std::path::PathBuf;

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Parser;

use ckptlib::device::Device;

/// Restart a process from a checkpoint image (written by `ckpt`).
///
/// The module must be loaded (`insmod ckpt.ko`), which creates /dev/checkpoint.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Cli {
    /// The image to restart from; `-` reads it from standard input.
    image: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    ckptlib::cli::run("rstr", || run(cli))
}

fn run(cli: Cli) -> Result<ExitCode> {
    let dev = Device::open()?;
    bail!(
        "cannot restart {}: the loaded module (ABI version {}) has no restart ioctl yet",
        cli.image.display(),
        dev.version().abi_version
    )
}
