// SPDX-License-Identifier: GPL-2.0

//! `ckpt`: checkpoint a running process through the kernel's `/dev/checkpoint`.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};

use ckptlib::device::Device;

/// Checkpoint a process with the in-kernel checkpoint/restart module (ckpt.ko).
///
/// The module must be loaded (`insmod ckpt.ko`), which creates /dev/checkpoint.
/// `ckpt version` is the quickest way to see that it is there and speaks the
/// same ABI as these tools.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Ask the loaded module for its ABI and image format versions.
    ///
    /// Exits non-zero if /dev/checkpoint is missing or speaks another ABI
    /// version than these tools were built for.
    Version {
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    ckptlib::cli::run("ckpt", || run(cli))
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Version { json } => {
            let dev = Device::open()?;
            let v = dev.version();
            if json {
                println!("{}", serde_json::to_string(v)?);
            } else {
                println!("module ABI version:   {}", v.abi_version);
                println!("image format version: {}", v.image_version);
                println!("features:             {:#x}", v.features);
                println!("kernel release:       {}", v.kernel_release);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
