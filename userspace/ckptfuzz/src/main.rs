// SPDX-License-Identifier: GPL-2.0

//! `ckpt-fuzz`: fuzzing of the restart's attack surface (Documentation/testing.rst,
//! "Fuzzing").
//!
//! - `rstr`: structure-aware mutants of real images ([`mutate`]) fed to the real `rstr`.
//! - `ioctl`: the module's ioctls called directly, bypassing `rstr`, with mutated images,
//!   mutated argument structs and hostile images built on purpose ([`ioctl`], [`cases`]).
//! - `mutate`: writes the mutant of one case to a file, for a regression test.
//! - `corpus`: a seed corpus for the libFuzzer targets of `userspace/fuzz`.
//! - `hostile-images`: images `rstr` must refuse, each with its reason ([`hostile`]).
//!
//! Every run prints its seed; `--seed` replays it, `--first N --cases 1` one case of it.

mod cases;
mod hostile;
mod ioctl;
mod mutate;
mod prng;
mod rstr;
mod synth;
mod sys;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "Fuzz the checkpoint image parsers and the restart ioctls"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

/// A seed: decimal or 0x-prefixed hexadecimal.
fn parse_seed(s: &str) -> Result<u64, String> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    }
    .map_err(|e| format!("{s}: {e}"))
}

#[derive(clap::Args, Debug)]
struct Run {
    /// The run's seed (printed at the start); a fresh one each run by default.
    #[arg(long, value_parser = parse_seed)]
    seed: Option<u64>,
    /// The first case's index.
    #[arg(long, default_value_t = 0)]
    first: u64,
    /// How many cases, at most.
    #[arg(long, default_value_t = u64::MAX)]
    cases: u64,
    /// Stop after this many minutes (between two cases).
    #[arg(long)]
    minutes: Option<f64>,
    /// Seconds a case may take before it counts as a hang.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Where the mutant and description of every crash or hang are written.
    #[arg(long)]
    save: Option<PathBuf>,
    /// One line per case.
    #[arg(short, long)]
    verbose: bool,
}

impl Run {
    fn seed(&self) -> u64 {
        let seed = self.seed.unwrap_or_else(prng::fresh_seed);
        println!("# ckpt-fuzz: seed {seed:#018x} (replay with --seed {seed:#x})");
        seed
    }

    fn duration(&self) -> Option<Duration> {
        self.minutes.map(|m| Duration::from_secs_f64(m * 60.0))
    }
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Feed mutants of IMAGES to rstr, one process per case, and classify each.
    Rstr {
        /// Valid images (checkpointed by ckpt) to mutate; case N mutates the (N mod
        /// count)-th.
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// The rstr to run.
        #[arg(long, default_value = "rstr")]
        rstr: PathBuf,
        /// Where mutants are written.
        #[arg(long, default_value = "/tmp")]
        tmp: PathBuf,
        #[command(flatten)]
        run: Run,
    },
    /// Call the restart and checkpoint ioctls directly with mutated images and arguments.
    Ioctl {
        /// A valid image (checkpointed by ckpt): its first task's memory records are mutated.
        #[arg(long)]
        image: PathBuf,
        /// Cases one worker process runs at the most.
        #[arg(long, default_value_t = 2000)]
        per_worker: u64,
        /// Skip the hostile cases (run first otherwise, as cases 0 to N-1).
        #[arg(long)]
        no_hostile: bool,
        /// A file only root may read, for one more hostile case.
        #[arg(long)]
        root_file: Option<String>,
        /// Refuse to run with a user id 0 or any effective capability.
        #[arg(long)]
        require_unprivileged: bool,
        #[command(flatten)]
        run: Run,
    },
    /// Write the mutant of one case to a file (and its ops to standard output).
    Mutate {
        #[arg(long)]
        image: PathBuf,
        #[arg(long, value_parser = parse_seed)]
        seed: u64,
        #[arg(long)]
        case: u64,
        /// The case of `ckpt-fuzz ioctl` (the first task's memory records), not of `rstr`.
        #[arg(long)]
        ioctl: bool,
        /// With --ioctl: the run had --no-hostile.
        #[arg(long)]
        no_hostile: bool,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Write the hostile images for rstr ([`hostile`]) as DIR/NAME.img, and one line
    /// `NAME<TAB>REASON` each on standard output.
    HostileImages { output: PathBuf },
    /// Write a seed corpus for the libFuzzer targets: a synthetic image, the IMAGES given,
    /// and MUTANTS mutants of each.
    Corpus {
        #[arg(short, long)]
        output: PathBuf,
        images: Vec<PathBuf>,
        #[arg(long, default_value_t = 64)]
        mutants: u64,
        #[arg(long, value_parser = parse_seed, default_value = "1")]
        seed: u64,
        /// Write instead streams of the images (`ckpt --to`'s format) for `stream_reader`,
        /// each at most this many bytes.
        #[arg(long, value_name = "MAX_LEN")]
        stream: Option<usize>,
    },
}

/// Whether this process runs as an ordinary user: not uid 0, no effective capability.
fn unprivileged() -> Result<()> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let cap = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .map(str::trim)
        .context("no CapEff in /proc/self/status")?;
    let uid = nix::unistd::geteuid();
    if uid.is_root() || u64::from_str_radix(cap, 16)? != 0 {
        bail!("running as uid {uid} with capabilities {cap}: not an ordinary user");
    }
    println!("# ckpt-fuzz: uid {uid}, no capabilities");
    Ok(())
}

fn main() -> ExitCode {
    match real_main() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("ckpt-fuzz: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<bool> {
    match Cli::parse().cmd {
        Cmd::Rstr {
            images,
            rstr,
            tmp,
            run,
        } => {
            let opts = rstr::Opts {
                images,
                rstr,
                seed: run.seed(),
                first: run.first,
                cases: run.cases,
                duration: run.duration(),
                timeout: Duration::from_secs_f64(run.timeout),
                tmp,
                save: run.save.clone(),
                verbose: run.verbose,
            };
            let c = rstr::run(&opts)?;
            println!("{c}");
            Ok(c.crashes == 0 && c.hangs == 0)
        }
        Cmd::Ioctl {
            image,
            per_worker,
            no_hostile,
            root_file,
            require_unprivileged,
            run,
        } => {
            if require_unprivileged {
                unprivileged()?;
            }
            let opts = ioctl::Opts {
                image,
                seed: run.seed(),
                first: run.first,
                cases: run.cases,
                duration: run.duration(),
                per_worker: per_worker.max(1),
                timeout: Duration::from_secs_f64(run.timeout),
                hostile: !no_hostile,
                root_file,
                save: run.save.clone(),
                verbose: run.verbose,
            };
            let c = ioctl::run(&opts)?;
            for bad in c.hostile_bad.iter().chain(&c.aborted) {
                println!("not ok - {bad}");
            }
            println!("{c}");
            Ok(c.crashes == 0 && c.hangs == 0 && c.hostile_bad.is_empty() && c.aborted.is_none())
        }
        Cmd::Mutate {
            image,
            seed,
            case,
            ioctl,
            no_hostile,
            output,
        } => {
            let (bytes, what) = if ioctl {
                let seeds = ioctl::seeds(&image, None)?;
                let c = cases::plan(&seeds, seed, case, !no_hostile);
                let bytes = match &c.kind {
                    cases::Kind::Restart { image, .. } => image.clone(),
                    _ => Vec::new(),
                };
                (bytes, c.to_string())
            } else {
                let recs = mutate::split(&std::fs::read(&image)?)?;
                let (bytes, ops) = rstr::case_of(&recs, seed, case);
                (bytes, mutate::describe(&ops))
            };
            std::fs::write(&output, bytes).with_context(|| format!("{}", output.display()))?;
            println!("{what}");
            Ok(true)
        }
        Cmd::HostileImages { output } => {
            std::fs::create_dir_all(&output)?;
            for (name, bytes, reason) in hostile::images() {
                let p = output.join(format!("{name}.img"));
                std::fs::write(&p, bytes).with_context(|| format!("{}", p.display()))?;
                println!("{name}\t{reason}");
            }
            Ok(true)
        }
        Cmd::Corpus {
            output,
            images,
            mutants,
            seed,
            stream,
        } => {
            std::fs::create_dir_all(&output)?;
            if let Some(max_len) = stream {
                let mut n = 0;
                for (image, bytes) in [
                    ("synth", synth::image()),
                    ("container", synth::container_image()),
                ] {
                    for (name, s) in synth::streams(&bytes, max_len) {
                        std::fs::write(output.join(format!("{image}-{name}.strm")), s)?;
                        n += 1;
                    }
                }
                println!("# ckpt-fuzz corpus: {n} streams in {}", output.display());
                return Ok(true);
            }
            let mut seeds = vec![
                ("synth".to_string(), synth::image()),
                ("synth-container".to_string(), synth::container_image()),
            ];
            for p in &images {
                let name = p
                    .file_name()
                    .map_or("image".into(), |n| n.to_string_lossy().into_owned());
                seeds.push((name, std::fs::read(p)?));
            }
            let mut n = 0;
            for (name, bytes) in &seeds {
                let recs = mutate::split(bytes).with_context(|| name.clone())?;
                std::fs::write(output.join(format!("{name}.img")), bytes)?;
                for i in 0..mutants {
                    let (m, _) = rstr::case_of(&recs, seed, i);
                    std::fs::write(output.join(format!("{name}-{i}")), m)?;
                    n += 1;
                }
            }
            println!(
                "# ckpt-fuzz corpus: {} images and {n} mutants in {}",
                seeds.len(),
                output.display()
            );
            Ok(true)
        }
    }
}
