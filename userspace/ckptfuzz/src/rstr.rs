// SPDX-License-Identifier: GPL-2.0

//! `ckpt-fuzz rstr`: mutants of real images fed to the real `rstr`, one child per case,
//! with a timeout.
//!
//! Each case: the mutant is written to a file, `rstr --detach FILE` runs in a process
//! group of its own; then
//! - refused: `rstr` exited non-zero with a reason on its standard error, and no task it
//!   restored is left running (restart is all or nothing);
//! - restored: `rstr` exited 0 and printed the root's pid, which runs (or ran: a mutant's
//!   registers or memory may make it die at once, which is the restored program's doing);
//!   the tree is killed;
//! - crash: `rstr` died of a signal the harness did not send, or panicked, or a refused
//!   restart left tasks running;
//! - hang: `rstr` still runs after the timeout: where every process is, is printed.
//!
//! The harness is a child subreaper: what `rstr --detach` leaves behind is reparented to
//! it, found and killed after each case.

use std::fmt;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use nix::sys::signal::{kill, killpg, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use ckptlib::image::Record;

use crate::mutate;
use crate::prng::Rng;
use crate::sys;

pub struct Opts {
    pub images: Vec<PathBuf>,
    pub rstr: PathBuf,
    pub seed: u64,
    pub first: u64,
    pub cases: u64,
    pub duration: Option<Duration>,
    pub timeout: Duration,
    pub tmp: PathBuf,
    pub save: Option<PathBuf>,
    pub verbose: bool,
}

#[derive(Default, Debug)]
pub struct Counts {
    pub cases: u64,
    pub refused: u64,
    pub restored: u64,
    /// Restored, and the root was running when looked at.
    pub alive: u64,
    pub crashes: u64,
    pub hangs: u64,
    pub elapsed: Duration,
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "fuzz rstr: {} cases, {} refused, {} restored, {} crashes, {} hangs",
            self.cases, self.refused, self.restored, self.crashes, self.hangs
        )?;
        write!(
            f,
            "fuzz rstr detail: {} of the restored running when checked; {:.1} s, {:.2} cases/s",
            self.alive,
            self.elapsed.as_secs_f64(),
            self.cases as f64 / self.elapsed.as_secs_f64().max(1e-3)
        )
    }
}

enum Outcome {
    Refused(String),
    Restored { alive: bool },
    Crash(String),
    Hang(String),
}

/// One seed image, split into its records.
struct Seed {
    path: PathBuf,
    records: Vec<Record>,
}

/// The mutant of case `index`: the seed is the `index % n`-th, the ops come from the run's
/// seed and the index (as `ckpt-fuzz mutate` makes them from that one image).
pub fn case_of(records: &[Record], seed: u64, index: u64) -> (Vec<u8>, Vec<mutate::Op>) {
    mutate::mutant(records, 0..records.len(), Rng::for_case(seed, index))
}

pub fn run(opts: &Opts) -> Result<Counts> {
    let seeds = opts
        .images
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            let records = mutate::split(&bytes).with_context(|| format!("seed {}", p.display()))?;
            Ok(Seed {
                path: p.clone(),
                records,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    anyhow::ensure!(!seeds.is_empty(), "no seed image");
    sys::become_subreaper().context("PR_SET_CHILD_SUBREAPER")?;
    std::fs::create_dir_all(&opts.tmp)?;
    let file = opts.tmp.join(format!("mutant-{}", std::process::id()));
    let start = Instant::now();
    let mut counts = Counts::default();
    let mut shown = Instant::now();
    for index in opts.first..opts.first.saturating_add(opts.cases) {
        if opts.duration.is_some_and(|d| start.elapsed() >= d) {
            break;
        }
        if shown.elapsed() > Duration::from_secs(60) {
            shown = Instant::now();
            counts.elapsed = start.elapsed();
            println!("# {}", counts.to_string().lines().next().unwrap_or(""));
        }
        let s = &seeds[(index % seeds.len() as u64) as usize];
        let (bytes, ops) = case_of(&s.records, opts.seed, index);
        write_private(&file, &bytes)?;
        let o = one(opts, &file)?;
        counts.cases += 1;
        match &o {
            Outcome::Refused(_) => counts.refused += 1,
            Outcome::Restored { alive } => {
                counts.restored += 1;
                counts.alive += u64::from(*alive);
            }
            Outcome::Crash(_) => counts.crashes += 1,
            Outcome::Hang(_) => counts.hangs += 1,
        }
        let what = match &o {
            Outcome::Refused(r) => format!("refused: {r}"),
            Outcome::Restored { alive } => format!("restored (running: {alive})"),
            Outcome::Crash(w) => format!("CRASH: {w}"),
            Outcome::Hang(w) => format!("HANG: {w}"),
        };
        if matches!(o, Outcome::Crash(_) | Outcome::Hang(_)) {
            println!(
                "fuzz rstr: case {index} of {}: {what}\n# ops: {}\n# replay: ckpt-fuzz mutate --image {} --seed {} --case {index} -o FILE; rstr -d FILE",
                s.path.display(),
                mutate::describe(&ops),
                s.path.display(),
                opts.seed
            );
            if let Some(dir) = &opts.save {
                std::fs::create_dir_all(dir)?;
                let base = dir.join(format!("rstr-{:016x}-{index}", opts.seed));
                std::fs::write(base.with_extension("img"), &bytes)?;
                std::fs::write(
                    base.with_extension("txt"),
                    format!("{what}\n{}\n", mutate::describe(&ops)),
                )?;
            }
        } else if opts.verbose {
            println!("# case {index}: {what} [{}]", mutate::describe(&ops));
        }
    }
    let _ = std::fs::remove_file(&file);
    counts.elapsed = start.elapsed();
    Ok(counts)
}

/// Writes the mutant, mode 0600, as images are.
fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let _ = std::fs::remove_file(path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    std::io::Write::write_all(&mut f, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Runs `rstr --detach` on the mutant and classifies what happened.
fn one(opts: &Opts, file: &Path) -> Result<Outcome> {
    let mut child = Command::new(&opts.rstr)
        .arg("--detach")
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .with_context(|| format!("running {}", opts.rstr.display()))?;
    let pid = Pid::from_raw(child.id() as i32);
    let t = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if t.elapsed() > opts.timeout {
            let dump = where_hung();
            let _ = killpg(pid, Signal::SIGKILL);
            let _ = child.wait();
            kill_strays();
            return Ok(Outcome::Hang(format!(
                "rstr still runs after {:?}\n{dump}",
                opts.timeout
            )));
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    let err = err.trim().to_string();
    if let Some(sig) = status.signal() {
        kill_strays();
        return Ok(Outcome::Crash(format!(
            "rstr killed by signal {sig}: {err}"
        )));
    }
    if err.contains("panicked") || status.code() == Some(101) {
        kill_strays();
        return Ok(Outcome::Crash(format!("rstr panicked: {err}")));
    }
    if status.success() {
        let root = out.trim().parse::<i32>().ok();
        let alive = root.is_some_and(running);
        let left = kill_strays();
        if root.is_none() {
            return Ok(Outcome::Crash(format!(
                "rstr exited 0 without a pid: {out:?} {err}"
            )));
        }
        let _ = left;
        return Ok(Outcome::Restored { alive });
    }
    // Refused: nothing it restored may be left running.
    let left = kill_strays();
    if !left.is_empty() {
        return Ok(Outcome::Crash(format!(
            "rstr refused ({err}) but left tasks running: {left:?}"
        )));
    }
    if err.is_empty() {
        return Ok(Outcome::Crash(format!(
            "rstr exited {status} with no reason"
        )));
    }
    Ok(Outcome::Refused(reason(&err)))
}

/// rstr's reason on one line: its last `rstr: error:` line with the indented lines that follow
/// it (a list of mismatches, say) joined by `; `, else the last line of what it printed.
fn reason(err: &str) -> String {
    let lines: Vec<&str> = err.lines().collect();
    match lines.iter().rposition(|l| l.starts_with("rstr: error:")) {
        Some(at) => {
            let mut text = lines[at].to_string();
            for l in lines[at + 1..].iter().take_while(|l| l.starts_with(' ')) {
                text.push_str("; ");
                text.push_str(l.trim());
            }
            text
        }
        None => lines.last().unwrap_or(&"").to_string(),
    }
}

/// Whether a process with this pid runs (not a zombie).
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().chars().next())
        })
        .is_some_and(|c| c != Some('Z'))
}

/// Our children (the harness is their subreaper): pid and state.
fn children() -> Vec<(i32, char)> {
    let me = std::process::id().to_string();
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for e in dir.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let mut f = rest.split_whitespace();
        let state = f.next().and_then(|s| s.chars().next()).unwrap_or('?');
        if f.next() == Some(me.as_str()) {
            out.push((pid, state));
        }
    }
    out
}

/// Kills and reaps every child left (restored trees reparented to us); returns those
/// that were running when found.
fn kill_strays() -> Vec<i32> {
    let mut running = Vec::new();
    // A task killed by rstr may still be on its way out: it gets a moment.
    let t = Instant::now();
    loop {
        let kids = children();
        let live: Vec<i32> = kids
            .iter()
            .filter(|(_, s)| *s != 'Z')
            .map(|(p, _)| *p)
            .collect();
        if live.is_empty() || t.elapsed() > Duration::from_millis(500) {
            for &p in &live {
                running.push(p);
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        let _ = reap();
    }
    // Killing a process makes its children ours: repeat until no child is left.
    let t = Instant::now();
    loop {
        let kids = children();
        if kids.is_empty() || t.elapsed() > Duration::from_secs(30) {
            break;
        }
        for (p, _) in kids {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
        std::thread::sleep(Duration::from_millis(5));
        let _ = reap();
    }
    running
}

fn reap() -> usize {
    let mut n = 0;
    while let Ok(s) = waitpid(
        Pid::from_raw(-1),
        Some(WaitPidFlag::WNOHANG | WaitPidFlag::__WALL),
    ) {
        if matches!(s, WaitStatus::StillAlive) {
            break;
        }
        n += 1;
    }
    n
}

/// What every user process is doing, with its kernel stack if it is not running (as
/// selftests/ktap.py's where_hung).
pub fn where_hung() -> String {
    let mut lines = vec!["processes when it timed out:".to_string()];
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return String::new();
    };
    let mut pids: Vec<i32> = dir
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse().ok()))
        .collect();
    pids.sort_unstable();
    for pid in pids {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(a), Some(b)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[a + 1..b];
        let f: Vec<&str> = stat[b + 1..].split_whitespace().collect();
        if f.len() < 3 || pid == 2 || f[1] == "2" {
            continue;
        }
        let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
        let stack = if "DStT".contains(f[0]) {
            std::fs::read_to_string(format!("/proc/{pid}/stack"))
                .map(|s| {
                    s.lines()
                        .take(8)
                        .filter_map(|l| l.split_whitespace().nth(1))
                        .map(|fr| fr.split('+').next().unwrap_or(fr).to_string())
                        .collect::<Vec<_>>()
                        .join(" <- ")
                })
                .unwrap_or_default()
        } else {
            String::new()
        };
        lines.push(format!(
            "{pid} ppid {} pgid {} {} {comm} {wchan} {stack}",
            f[1], f[2], f[0]
        ));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::reason;

    #[test]
    fn a_reason_of_several_lines_is_kept_whole() {
        let err = "rstr: note: x\nrstr: error: this machine cannot run it\n  the vDSO differs\n  avx2 missing\n";
        assert_eq!(
            reason(err),
            "rstr: error: this machine cannot run it; the vDSO differs; avx2 missing"
        );
        assert_eq!(
            reason("rstr: error: bad record\n"),
            "rstr: error: bad record"
        );
        assert_eq!(reason("something\nelse"), "else");
        assert_eq!(reason(""), "");
    }
}
