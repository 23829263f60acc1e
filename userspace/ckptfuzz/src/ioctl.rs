// SPDX-License-Identifier: GPL-2.0

//! `ckpt-fuzz ioctl`: the module's ioctls called directly, as the (unprivileged) caller,
//! with mutated images and mutated argument structs, bypassing every check of `rstr`.
//!
//! A restart has two phases (kmod/restart.rs): everything is checked before anything is
//! changed, and a refusal returns to the caller; past the point of no return the caller's
//! memory is replaced, and it is either restored (it waits in its session for a go that
//! never comes) or killed. So cases run in a forked worker, many per worker: the worker
//! opens `/dev/checkpoint`, makes it a session of `CKPT_MAX_TASKS` tasks, moves its vDSO
//! where the seed image has it (as `rstr` does, so that cases reach the second phase) and
//! runs case after case until one gets past the point of no return; the parent counts it
//! (`OK` on the error pipe, a late reason and the worker's death, or the worker parked in
//! its session), kills the worker if need be and starts the next one at the next case.
//!
//! Outcomes: refused (the ioctl failed, errno and reason), restored (past the point of no
//! return: restored, killed with a late reason, or parked in a session wait; for a
//! checkpoint or a session call, it succeeded), crash (the worker died of a signal the
//! harness did not send, mid-case or between cases), hang (a case still in the kernel,
//! not asleep in a session wait, after `--timeout`; where it is is printed).

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::{pipe2, Pid};
use zerocopy::{FromBytes, FromZeros, IntoBytes};

use ckptlib::abi::{self, CKPT_MAX_TASKS};
use ckptlib::image::RecordReader;

use crate::cases::{self, Case, Fd, Kind, Pid as CasePid, Ptr, Seeds, SessionOp, Set, Val, Want};
use crate::mutate;
use crate::sys::{self, REASON_ROOM};

/// What the parent is told by a worker, one message per `write` (smaller than
/// `PIPE_BUF`: never interleaved, never split).
#[repr(C)]
#[derive(
    Clone,
    Copy,
    zerocopy_derive::FromBytes,
    zerocopy_derive::IntoBytes,
    zerocopy_derive::Immutable,
    zerocopy_derive::KnownLayout,
)]
struct Msg {
    tag: u32,
    outcome: u32,
    case: u64,
    errno: i32,
    /// `READY`: whether the worker's vDSO is where the image has it.
    extra: u32,
    reason: [u8; 200],
}

const READY: u32 = 1;
const START: u32 = 2;
const DONE: u32 = 3;
const SETUP_FAILED: u32 = 4;

const REFUSED: u32 = 0;
const ACCEPTED: u32 = 1;

/// The options of `ckpt-fuzz ioctl`.
pub struct Opts {
    pub image: PathBuf,
    pub seed: u64,
    pub first: u64,
    pub cases: u64,
    pub duration: Option<Duration>,
    pub per_worker: u64,
    pub timeout: Duration,
    pub hostile: bool,
    pub root_file: Option<String>,
    pub save: Option<PathBuf>,
    pub verbose: bool,
}

/// How one case ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Refused {
        errno: i32,
        reason: String,
    },
    /// A checkpoint or session call that succeeded.
    Accepted,
    /// Past the point of no return: `OK` from the module.
    Restored,
    /// Past the point of no return, then killed by the module with this reason.
    Late(String),
    /// Asleep in a session wait (sharers that never come, a go that never comes).
    Parked,
    Crash(String),
    Hang(String),
}

/// The counts of a run.
#[derive(Default, Debug)]
pub struct Counts {
    pub cases: u64,
    pub refused: u64,
    pub accepted: u64,
    pub restored: u64,
    pub late: u64,
    pub parked: u64,
    pub crashes: u64,
    pub hangs: u64,
    pub by_errno: BTreeMap<i32, u64>,
    pub workers: u64,
    /// Time from a worker's fork to its first case, in all.
    pub setup: Duration,
    pub vdso_placed: u64,
    pub hostile: u64,
    pub hostile_bad: Vec<String>,
    /// Why the run stopped early: a worker that cannot be killed.
    pub aborted: Option<String>,
    pub elapsed: Duration,
}

impl Counts {
    fn add(&mut self, o: &Outcome) {
        self.cases += 1;
        match o {
            Outcome::Refused { errno, .. } => {
                self.refused += 1;
                *self.by_errno.entry(*errno).or_default() += 1;
            }
            Outcome::Accepted => self.accepted += 1,
            Outcome::Restored => self.restored += 1,
            Outcome::Late(_) => self.late += 1,
            Outcome::Parked => self.parked += 1,
            Outcome::Crash(_) => self.crashes += 1,
            Outcome::Hang(_) => self.hangs += 1,
        }
    }

    /// Cases that got through: restored, killed late, parked, or accepted.
    pub fn through(&self) -> u64 {
        self.accepted + self.restored + self.late + self.parked
    }
}

impl fmt::Display for Counts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "fuzz ioctl: {} cases, {} refused, {} restored, {} crashes, {} hangs",
            self.cases,
            self.refused,
            self.through(),
            self.crashes,
            self.hangs
        )?;
        let errnos: Vec<String> = self
            .by_errno
            .iter()
            .map(|(e, n)| format!("{} {n}", Errno::from_raw(*e)))
            .collect();
        write!(
            f,
            "fuzz ioctl detail: refused by errno [{}]; restored: {} restored, {} killed past the point of no return, {} parked in a session wait, {} checkpoint/session calls accepted; {} workers ({} with the image's vDSO, {:.1} s in their setup); hostile: {} cases, {} as expected; {:.1} s, {:.0} cases/s",
            errnos.join(", "),
            self.restored,
            self.late,
            self.parked,
            self.accepted,
            self.workers,
            self.vdso_placed,
            self.setup.as_secs_f64(),
            self.hostile,
            self.hostile - self.hostile_bad.len() as u64,
            self.elapsed.as_secs_f64(),
            self.cases as f64 / self.elapsed.as_secs_f64().max(1e-3)
        )
    }
}

/// The seeds of a run: the module's records of the image's first task that owns its memory.
pub fn seeds(image: &Path, root_file: Option<&str>) -> Result<Seeds> {
    let bytes = std::fs::read(image).with_context(|| format!("reading {}", image.display()))?;
    let recs = mutate::split(&bytes).with_context(|| format!("seed {}", image.display()))?;
    let scanned = ckptlib::restart::scan(&mut RecordReader::new(std::io::Cursor::new(&bytes)))
        .with_context(|| format!("seed {}", image.display()))?;
    let task = scanned
        .tasks
        .iter()
        .flatten()
        .find(|t| t.owns_mm)
        .context("the seed has no task with its memory")?;
    let module = mutate::module_records(&recs, task.kernel_pos)?;
    Seeds::new(module, task.task.vdso_base, root_file)
}

/// The run; the counts, once every case ran or the time is up.
pub fn run(opts: &Opts) -> Result<Counts> {
    let seeds = seeds(&opts.image, opts.root_file.as_deref())?;
    let start = Instant::now();
    let mut counts = Counts::default();
    let end = opts.first.saturating_add(opts.cases);
    let mut next = opts.first;
    let mut shown = Instant::now();
    while next < end && opts.duration.is_none_or(|d| start.elapsed() < d) {
        let last = end.min(next.saturating_add(opts.per_worker));
        next = supervise(opts, &seeds, next, last, start, &mut counts)?;
        counts.workers += 1;
        if shown.elapsed() > Duration::from_secs(60) {
            shown = Instant::now();
            counts.elapsed = start.elapsed();
            println!("# {}", counts.to_string().lines().next().unwrap_or(""));
        }
    }
    counts.elapsed = start.elapsed();
    Ok(counts)
}

/// The worker's side of a pipe pair, and the parent's.
struct Pipes {
    res_r: File,
    res_w: OwnedFd,
    err_r: File,
    err_w: OwnedFd,
}

fn pipes() -> Result<Pipes> {
    // Close-on-exec: the traced child that runs /bin/sleep must not keep them open.
    let (res_r, res_w) = pipe2(OFlag::O_CLOEXEC).context("pipe")?;
    let (err_r, err_w) = pipe2(OFlag::O_CLOEXEC).context("pipe")?;
    for fd in [&res_r, &err_r] {
        nix::fcntl::fcntl(
            fd,
            nix::fcntl::FcntlArg::F_SETFL(nix::fcntl::OFlag::O_NONBLOCK),
        )
        .context("O_NONBLOCK")?;
    }
    Ok(Pipes {
        res_r: File::from(res_r),
        res_w,
        err_r: File::from(err_r),
        err_w,
    })
}

/// Runs cases `first..last` in a new worker, counting each; returns the first case not run.
fn supervise(
    opts: &Opts,
    seeds: &Seeds,
    first: u64,
    last: u64,
    run_start: Instant,
    counts: &mut Counts,
) -> Result<u64> {
    let p = pipes()?;
    let forked = Instant::now();
    let worker =
        sys::fork(|| Worker::run(opts, seeds, first, last, &p.res_w, &p.err_w)).context("fork")?;
    drop(p.res_w);
    drop(p.err_w);
    let (mut res_r, mut err_r) = (p.res_r, p.err_r);

    let mut in_flight: Option<(u64, Instant)> = None;
    let mut next = first;
    let mut late = String::new();
    let mut killed = false;
    let mut parked = false;
    let mut buf = Vec::new();
    let mut done_reading = false;
    let mut vdso = false;
    loop {
        let mut fds = [
            PollFd::new(res_r.as_fd(), PollFlags::POLLIN),
            PollFd::new(err_r.as_fd(), PollFlags::POLLIN),
        ];
        let _ = poll(&mut fds, PollTimeout::from(50u16));
        // Late reasons and OKs.
        let mut chunk = [0u8; 4096];
        while let Ok(n) = err_r.read(&mut chunk) {
            if n == 0 {
                break;
            }
            late.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
        if restored(&late) && !killed {
            let _ = kill(worker, Signal::SIGKILL);
            killed = true;
        }
        // Messages.
        loop {
            match res_r.read(&mut chunk) {
                Ok(0) => {
                    done_reading = true;
                    break;
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(_) => break,
            }
        }
        let size = size_of::<Msg>();
        while buf.len() >= size {
            let m = Msg::read_from_bytes(&buf[..size]).expect("size checked");
            buf.drain(..size);
            match m.tag {
                READY => {
                    counts.setup += forked.elapsed();
                    vdso = m.extra != 0;
                    counts.vdso_placed += u64::from(m.extra);
                }
                START => in_flight = Some((m.case, Instant::now())),
                DONE => {
                    let o = if m.outcome == REFUSED {
                        Outcome::Refused {
                            errno: m.errno,
                            reason: ckptlib::image::c_str(&m.reason),
                        }
                    } else {
                        Outcome::Accepted
                    };
                    finish(opts, seeds, m.case, &o, vdso, counts);
                    in_flight = None;
                    next = m.case + 1;
                }
                SETUP_FAILED => {
                    let _ = kill(worker, Signal::SIGKILL);
                    let _ = waitpid(worker, None);
                    bail!(
                        "the worker could not start: {} ({})",
                        ckptlib::image::c_str(&m.reason),
                        Errno::from_raw(m.errno)
                    );
                }
                t => bail!("unknown message {t} from the worker"),
            }
        }
        if done_reading {
            break;
        }
        if let Some((case, since)) = in_flight {
            let waited = since.elapsed();
            if !killed && waited > Duration::from_millis(1000) && asleep(worker) {
                // Asleep, interruptibly, in the case's ioctl: a session wait (sharers or a go
                // that never come; a restored task's registers are the image's, so its
                // system call number is too), or a read of a pipe given as the image.
                let _ = kill(worker, Signal::SIGKILL);
                killed = true;
                parked = true;
            } else if waited > opts.timeout {
                let where_ = where_is(worker);
                let _ = kill(worker, Signal::SIGKILL);
                let o = Outcome::Hang(format!(
                    "still in the kernel after {:?}: {where_}",
                    opts.timeout
                ));
                finish(opts, seeds, case, &o, vdso, counts);
                if reaped_within(worker, Duration::from_secs(30)).is_none() {
                    counts.aborted = Some(format!(
                        "case {case}: the worker cannot be killed: {}",
                        where_is(worker)
                    ));
                    return Ok(u64::MAX);
                }
                return Ok(case + 1);
            }
        }
        if !killed && opts.duration.is_some_and(|d| run_start.elapsed() >= d) && in_flight.is_none()
        {
            // Time is up: the worker stops between two cases.
            let _ = kill(worker, Signal::SIGKILL);
            killed = true;
        }
    }
    let last_status = reaped_within(worker, Duration::from_secs(30));
    if last_status.is_none() {
        let where_ = where_is(worker);
        let case = in_flight.map_or(next, |(c, _)| c);
        let o = Outcome::Hang(format!("killed, still not dead after 30 s: {where_}"));
        finish(opts, seeds, case, &o, vdso, counts);
        counts.aborted = Some(format!(
            "case {case}: the worker cannot be killed: {where_}"
        ));
        return Ok(u64::MAX);
    }
    let status = last_status.unwrap_or(WaitStatus::StillAlive);
    match in_flight {
        Some((case, _)) => {
            let o = match status {
                _ if restored(&late) => Outcome::Restored,
                _ if parked => Outcome::Parked,
                WaitStatus::Signaled(_, Signal::SIGKILL, _) if !late.is_empty() => {
                    Outcome::Late(late.trim().to_string())
                }
                // Killed by the module with its reason sent to an err_fd the case chose.
                WaitStatus::Signaled(_, Signal::SIGKILL, _) if !killed => Outcome::Late(
                    String::from("(no reason: err_fd was not the harness's pipe)"),
                ),
                WaitStatus::Signaled(_, Signal::SIGKILL, _) => Outcome::Parked,
                s => Outcome::Crash(format!("the worker ended mid-case: {s:?}")),
            };
            finish(opts, seeds, case, &o, vdso, counts);
            Ok(case + 1)
        }
        None => {
            match status {
                WaitStatus::Exited(_, 0) => {}
                WaitStatus::Signaled(_, Signal::SIGKILL, _) if killed => {}
                s => {
                    let o = Outcome::Crash(format!("the worker ended between cases: {s:?}"));
                    finish(opts, seeds, next, &o, vdso, counts);
                    return Ok(next + 1);
                }
            }
            Ok(next)
        }
    }
}

/// Counts a case, checks a hostile one against what it wants, reports what must be.
fn finish(opts: &Opts, seeds: &Seeds, case: u64, o: &Outcome, vdso: bool, counts: &mut Counts) {
    counts.add(o);
    let bad = matches!(o, Outcome::Crash(_) | Outcome::Hang(_));
    let hostile = opts.hostile && (case as usize) < seeds.hostile.len();
    if !(bad || hostile || opts.verbose) {
        return;
    }
    let c = cases::plan(seeds, opts.seed, case, opts.hostile);
    if let Some((name, want)) = &c.hostile {
        counts.hostile += 1;
        let ok = match (want, o) {
            (Want::Refused(e, text), Outcome::Refused { errno, reason }) => {
                e == errno && reason.contains(text)
            }
            (Want::RefusedAny, Outcome::Refused { .. }) => true,
            (Want::Late(text), Outcome::Late(reason)) => vdso && reason.contains(text),
            (Want::Late(_), Outcome::Refused { errno, reason }) => {
                !vdso && *errno == libc::EINVAL && reason.contains("special mapping")
            }
            _ => false,
        };
        if !ok {
            counts.hostile_bad.push(format!(
                "hostile case {case} {name}: want {want:?}, got {o:?}"
            ));
        }
        if opts.verbose {
            println!(
                "# hostile case {case} {name}: {o:?}{}",
                if ok { "" } else { " UNEXPECTED" }
            );
        }
    }
    if bad {
        println!(
            "fuzz ioctl: case {case}: {o:?}: {c}\n# replay: ckpt-fuzz ioctl --image {} --seed {} --first {case} --cases 1{}",
            opts.image.display(),
            opts.seed,
            if opts.hostile { "" } else { " --no-hostile" }
        );
        if let Some(dir) = &opts.save {
            save(dir, opts.seed, case, &c);
        }
    } else if opts.verbose {
        println!("# case {case}: {o:?}: {c}");
    }
}

/// Writes the case's image (if it has one) and its description under `dir`.
fn save(dir: &Path, seed: u64, case: u64, c: &Case) {
    let base = dir.join(format!("ioctl-{seed:016x}-{case}"));
    let _ = std::fs::create_dir_all(dir);
    if let Kind::Restart { image, .. } = &c.kind {
        let _ = std::fs::write(base.with_extension("img"), image);
    }
    let _ = std::fs::write(base.with_extension("txt"), format!("{c}\n"));
}

/// Whether the task is asleep, interruptibly (a kernel loop is running, a lock wait is
/// uninterruptible).
fn asleep(pid: Pid) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rsplit_once(')')
        .map(|(_, r)| r.trim_start().chars().next());
    state == Some(Some('S'))
}

/// Where a task is, as far as its owner may see: its state, wait channel, system call, and
/// kernel stack if readable.
pub fn where_is(pid: Pid) -> String {
    let read = |f: &str| {
        std::fs::read_to_string(format!("/proc/{pid}/{f}"))
            .map(|s| s.trim().replace('\n', " <- "))
            .unwrap_or_else(|e| format!("({e})"))
    };
    let stat = read("stat");
    let state = stat
        .rsplit_once(')')
        .map_or("?", |(_, r)| r.trim_start().get(..1).unwrap_or("?"));
    format!(
        "pid {pid} state {state} wchan {} syscall {} stack {}",
        read("wchan"),
        read("syscall"),
        read("stack")
    )
}

/// Waits for `pid` to end, at most `limit`; its status, if it ended.
fn reaped_within(pid: Pid, limit: Duration) -> Option<WaitStatus> {
    let t = Instant::now();
    while t.elapsed() < limit {
        match waitpid(pid, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => std::thread::sleep(Duration::from_millis(5)),
            Ok(s) => return Some(s),
            Err(_) => return None,
        }
    }
    None
}

/// `/dev/checkpoint` opened anew and made a session of `CKPT_MAX_TASKS` tasks.
fn session() -> Result<File, (Errno, String)> {
    let dev = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC)
        .open("/dev/checkpoint")
        .map_err(|e| {
            (
                Errno::from_raw(e.raw_os_error().unwrap_or(0)),
                "open /dev/checkpoint".to_string(),
            )
        })?;
    sys::begin(
        dev.as_raw_fd(),
        &abi::CkptSessionArgs {
            nr_tasks: CKPT_MAX_TASKS,
            flags: 0,
        },
    )
    .map_err(|e| (e, "CKPT_IOC_RESTART_BEGIN".into()))?;
    Ok(dev)
}

/// The worker: runs cases, each in a session of its own, until one does not come back.
struct Worker<'a> {
    seeds: &'a Seeds,
    err_w: RawFd,
    dev: File,
    image: OwnedFd,
    out: OwnedFd,
    pipe_r: OwnedFd,
    dir: File,
    zero: File,
    wronly: File,
    reason: Box<[u8; REASON_ROOM + 8]>,
    read_only: u64,
    /// Room for `CKPT_MAX_TASKS` thread ids, so that a count up to that bound reads.
    tasks: Box<[i32]>,
    child: Option<Pid>,
    ioctl_buf: Box<[u8; 1 << 14]>,
    /// The table of mapped objects of [`Ptr::Objects`].
    objs: Box<[abi::CkptObjFd; 1]>,
}

impl<'a> Worker<'a> {
    /// The worker's body; its exit status.
    fn run(
        opts: &Opts,
        seeds: &Seeds,
        first: u64,
        last: u64,
        res: &OwnedFd,
        err_w: &OwnedFd,
    ) -> i32 {
        let mut w = match Worker::new(seeds, err_w.as_raw_fd()) {
            Ok(w) => w,
            Err((errno, why)) => {
                send(res, SETUP_FAILED, 0, 0, errno as i32, 0, &why);
                return 2;
            }
        };
        // From here on, no clock is read: the vDSO may have moved. glibc's rseq area is
        // unregistered, as rstr does: a restored memory does not have it.
        let placed = w.place_vdso().is_ok() && ckptlib::sys::unregister_own_rseq().is_ok();
        send(res, READY, 0, 0, 0, u32::from(placed), "");
        for case in first..last {
            // Each case in a session of its own: a session one case failed in is over
            // (`ECANCELED` for all that follows), and a case must not depend on the cases
            // before it, or it would not replay alone from its seed and index.
            if case > first {
                match session() {
                    Ok(dev) => w.dev = dev,
                    Err((errno, why)) => {
                        send(res, SETUP_FAILED, 0, case, errno as i32, 0, &why);
                        return 2;
                    }
                }
            }
            send(res, START, 0, case, 0, 0, "");
            let c = cases::plan(seeds, opts.seed, case, opts.hostile);
            let (outcome, errno) = match w.case(&c) {
                Ok(()) => (ACCEPTED, 0),
                Err(e) => (REFUSED, e as i32),
            };
            let reason = ckptlib::image::c_str(&w.reason[..REASON_ROOM]);
            send(res, DONE, outcome, case, errno, 0, &reason);
        }
        0
    }

    fn new(seeds: &'a Seeds, err_w: RawFd) -> Result<Self, (Errno, String)> {
        let open = |p: &str, write: bool| {
            OpenOptions::new()
                .read(!write)
                .write(write)
                .custom_flags(libc::O_CLOEXEC)
                .open(p)
                .map_err(|e| {
                    (
                        Errno::from_raw(e.raw_os_error().unwrap_or(0)),
                        format!("open {p}"),
                    )
                })
        };
        let dev = session()?;
        let memfd = |n: &std::ffi::CStr| sys::memfd(n).map_err(|e| (e, "memfd_create".to_string()));
        let (pipe_r, pipe_w) = pipe2(OFlag::O_CLOEXEC).map_err(|e| (e, "pipe".to_string()))?;
        // The write end is kept open by leaking it: a read end with no writer would be EOF.
        std::mem::forget(pipe_w);
        let w = Worker {
            seeds,
            err_w,
            dev,
            image: memfd(c"ckpt-fuzz-image")?,
            out: memfd(c"ckpt-fuzz-out")?,
            pipe_r,
            dir: open("/", false)?,
            zero: open("/dev/zero", false)?,
            wronly: open("/dev/null", true)?,
            reason: Box::new([0; REASON_ROOM + 8]),
            read_only: sys::read_only_page().map_err(|e| (e, "mmap".to_string()))?,
            tasks: vec![0; CKPT_MAX_TASKS as usize].into_boxed_slice(),
            child: None,
            ioctl_buf: Box::new([0; 1 << 14]),
            objs: Box::new([abi::CkptObjFd { id: 0, fd: -1 }]),
        };
        Ok(w)
    }

    /// Moves the vDSO where the image has it, as `rstr` does.
    fn place_vdso(&self) -> Result<()> {
        let maps = std::fs::read_to_string("/proc/self/maps")?;
        let (ranges, to_text) = ckptlib::procfs::vdso_layout(&maps)?;
        let block = self
            .seeds
            .vdso_base
            .checked_sub(to_text)
            .context("vDSO too low")?;
        sys::remap_vdso(&ranges, block)?;
        Ok(())
    }

    fn fd(&self, f: Fd) -> i32 {
        match f {
            Fd::Image => self.image.as_raw_fd(),
            Fd::Device => self.dev.as_raw_fd(),
            Fd::ErrPipe => self.err_w,
            Fd::PipeRead => self.pipe_r.as_raw_fd(),
            Fd::Dir => self.dir.as_raw_fd(),
            Fd::Zero => self.zero.as_raw_fd(),
            Fd::WriteOnly => self.wronly.as_raw_fd(),
            Fd::Out => self.out.as_raw_fd(),
            Fd::Raw(n) => n,
        }
    }

    fn value(&mut self, v: Val) -> u64 {
        match v {
            Val::Num(n) => n,
            Val::Fd(f) => self.fd(f) as u32 as u64,
            Val::Ptr(Ptr::Buffer(off)) => self.reason.as_ptr() as u64 + off.min(7),
            Val::Ptr(Ptr::ReadOnly) => self.read_only,
            Val::Ptr(Ptr::Tasks(off)) => self.tasks.as_ptr() as u64 + off.min(7),
            Val::Ptr(Ptr::Objects(f)) => {
                let fd = self.fd(f);
                self.objs[0] = abi::CkptObjFd {
                    id: crate::cases::MAPPED_ID,
                    fd,
                };
                self.objs.as_ptr() as u64
            }
            Val::Ptr(Ptr::Raw(a)) => a,
            Val::Pid(CasePid::Child) => self.child.map_or(0, |p| p.as_raw()) as u32 as u64,
            Val::Pid(CasePid::Own) => std::process::id() as u64,
            Val::Pid(CasePid::Raw(n)) => n as u32 as u64,
        }
    }

    fn apply<T: IntoBytes + FromBytes>(&mut self, args: &mut T, sets: &[Set]) {
        for s in sets {
            let v = self.value(s.val);
            mutate::put(args.as_mut_bytes(), s.offset, s.size, v);
        }
    }

    /// Runs one case; `Ok` if its ioctl succeeded (a restart never returns then).
    fn case(&mut self, c: &Case) -> Result<(), Errno> {
        self.reason[0] = 0;
        match &c.kind {
            Kind::Restart { image, sets, .. } => {
                write_image(&self.image, image)?;
                let mut args = abi::CkptRestartArgs {
                    fd: self.image.as_raw_fd(),
                    err_fd: self.err_w,
                    flags: 0,
                    reason: self.reason.as_ptr() as u64,
                    reason_len: REASON_ROOM as u32,
                    nr_close: 0,
                    close_fds: [-1; abi::CKPT_RESTART_MAX_CLOSE],
                    blocked: 0,
                    pos: 0,
                    mm_sharers: 0,
                    nr_kept: 0,
                    kept: 0,
                    log_fd: -1,
                    log_level: abi::CKPT_LOG_NONE,
                    nr_objs: 0,
                    nr_shm_at: 0,
                    objs: 0,
                    shm_at: 0,
                };
                self.apply(&mut args, sets);
                let reason = args.reason;
                if reason_is_ours(reason, &self.reason[..]) {
                    args.reason_len = args.reason_len.min(REASON_ROOM as u32);
                }
                // SAFETY: `args.reason` is the worker's reason buffer (`reason_len` cut to
                // its room just above), or an address `cases` chose among those that are no
                // memory of this process's Rust objects: null, low, kernel, `TASK_SIZE - 1`,
                // or its read-only page.
                unsafe { sys::restart(self.dev.as_raw_fd(), &args) }.map(drop)
            }
            Kind::Checkpoint { sets } => {
                let child = self.traced_child()?;
                nix::unistd::ftruncate(&self.out, 0)?;
                self.tasks[0] = child.as_raw();
                let mut args = abi::CkptCheckpointArgs {
                    pid: child.as_raw(),
                    fd: self.out.as_raw_fd(),
                    flags: 0,
                    reason: self.reason.as_ptr() as u64,
                    reason_len: REASON_ROOM as u32,
                    nr_tasks: 1,
                    tasks: self.tasks.as_ptr() as u64,
                    log_fd: -1,
                    log_level: abi::CKPT_LOG_NONE,
                    stats: 0,
                };
                self.apply(&mut args, sets);
                if reason_is_ours(args.reason, &self.reason[..]) {
                    args.reason_len = args.reason_len.min(REASON_ROOM as u32);
                }
                // SAFETY: as for the restart: `reason` is ours with its room, or no memory
                // of a Rust object; the kernel only reads at `tasks`.
                unsafe { sys::checkpoint(self.dev.as_raw_fd(), &args) }.map(drop)
            }
            Kind::Session { ops } => {
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .open("/dev/checkpoint")
                    .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
                let dev = f.as_raw_fd();
                let mut last = Ok(());
                for op in ops {
                    last = match *op {
                        SessionOp::Begin { nr_tasks, flags } => {
                            sys::begin(dev, &abi::CkptSessionArgs { nr_tasks, flags }).map(drop)
                        }
                        SessionOp::Go => sys::go(dev).map(drop),
                        SessionOp::RestartUnbegun => {
                            if ops.iter().any(|o| matches!(o, SessionOp::Begin { .. })) {
                                // Only on a file that is no session: it cannot go further.
                                continue;
                            }
                            write_image(&self.image, &self.seeds.bytes)?;
                            let mut args = abi::CkptRestartArgs::new_zeroed();
                            args.fd = self.image.as_raw_fd();
                            args.err_fd = -1;
                            args.reason = self.reason.as_ptr() as u64;
                            args.reason_len = REASON_ROOM as u32;
                            // SAFETY: `reason` is the worker's buffer, `reason_len` its room.
                            unsafe { sys::restart(dev, &args) }.map(drop)
                        }
                        SessionOp::Other(cmd) => {
                            if [abi::CKPT_IOC_RESTART, abi::CKPT_IOC_CHECKPOINT].contains(&cmd) {
                                continue;
                            }
                            sys::any_ioctl(dev, cmd, &mut self.ioctl_buf).map(drop)
                        }
                    };
                }
                last
            }
        }
    }

    /// A child of the worker that runs `/bin/sleep`, seized and stopped by it: something to
    /// checkpoint that the worker may trace.
    fn traced_child(&mut self) -> Result<Pid, Errno> {
        if let Some(c) = self.child {
            return Ok(c);
        }
        let child = sys::fork(|| {
            let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
            let _ = nix::unistd::execv(c"/bin/sleep", &[c"sleep", c"100000"]);
            127
        })?;
        // Until it runs sleep (its comm says so): no clock is read, sleeps are system calls.
        for _ in 0..500 {
            if std::fs::read_to_string(format!("/proc/{child}/comm"))
                .is_ok_and(|c| c.trim() == "sleep")
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        nix::sys::ptrace::seize(child, nix::sys::ptrace::Options::empty())?;
        nix::sys::ptrace::interrupt(child)?;
        waitpid(child, Some(WaitPidFlag::__WALL))?;
        self.child = Some(child);
        Ok(child)
    }
}

fn reason_is_ours(addr: u64, buf: &[u8]) -> bool {
    let b = buf.as_ptr() as u64;
    (b..b + buf.len() as u64).contains(&addr)
}

/// The memfd holds `image`, and only it.
fn write_image(fd: &OwnedFd, image: &[u8]) -> Result<(), Errno> {
    nix::unistd::ftruncate(fd, 0)?;
    let mut done = 0;
    while done < image.len() {
        done += nix::sys::uio::pwrite(fd, &image[done..], done as i64)?;
    }
    Ok(())
}

/// One message to the parent, in one write.
fn send(fd: &OwnedFd, tag: u32, outcome: u32, case: u64, errno: i32, extra: u32, reason: &str) {
    let mut m = Msg {
        tag,
        outcome,
        case,
        errno,
        extra,
        reason: [0; 200],
    };
    let n = reason.len().min(m.reason.len() - 1);
    m.reason[..n].copy_from_slice(&reason.as_bytes()[..n]);
    // Smaller than PIPE_BUF: written whole or not at all; a parent gone is no error here.
    let _ = nix::unistd::write(fd, m.as_bytes());
}

/// Whether the module's report lines say a task was restored (`OK PID COPIED KEPT`).
fn restored(late: &str) -> bool {
    late.lines().any(|l| l == "OK" || l.starts_with("OK "))
}
