// SPDX-License-Identifier: GPL-2.0

//! Stopping a process tree with ptrace and asking the module for its image.

use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, ensure, Context, Result};
use nix::errno::Errno;
use nix::sys::ptrace;
use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::abi;
use crate::device::Device;
use crate::procfs;

/// `PTRACE_EVENT_STOP`: the stop `PTRACE_INTERRUPT` asks for.
const PTRACE_EVENT_STOP: i32 = 128;

/// A process held in a ptrace stop by us; it runs on (detached) when dropped.
pub struct Stopped {
    pid: Pid,
    attached: bool,
}

impl Stopped {
    /// Seizes `pid` (`PTRACE_SEIZE`: no signal is sent, nothing the process could see) and
    /// interrupts it into a ptrace stop. A signal that arrives meanwhile is delivered as it
    /// would have been, before the stop.
    pub fn seize(pid: i32) -> Result<Stopped> {
        let pid = Pid::from_raw(pid);
        match ptrace::seize(pid, ptrace::Options::empty()) {
            Ok(()) => {}
            Err(Errno::ESRCH) => bail!("no process {pid}"),
            Err(Errno::EPERM) => {
                if let Some(tracer) = tracer_of(pid.as_raw()) {
                    bail!(
                        "process {pid} is already traced by process {tracer} ({}): a task has \
                         one tracer only; checkpoint it once {tracer} has detached",
                        comm(tracer)
                    )
                }
                bail!(
                    "not allowed to ptrace-attach to {pid}: checkpoint needs ptrace rights over \
                     it (same user and dumpable, or CAP_SYS_PTRACE; see also \
                     kernel.yama.ptrace_scope)"
                )
            }
            Err(e) => return Err(e).with_context(|| format!("PTRACE_SEIZE {pid}")),
        }
        let mut me = Stopped {
            pid,
            attached: true,
        };
        ptrace::interrupt(pid).with_context(|| format!("PTRACE_INTERRUPT {pid}"))?;
        let deadline = Instant::now() + WAIT_LIMIT;
        loop {
            // A task that does not stop at once may never: a parent in vfork waits for its
            // child, out of reach of ptrace, until the child execs or exits. That is
            // usually a moment (a shell starting a command): it is given VFORK_GRACE.
            let mut vfork_since = None;
            let status = wait_traced(pid, deadline, || match in_vfork(pid.as_raw()) {
                Some(why)
                    if vfork_since.get_or_insert_with(Instant::now).elapsed() >= VFORK_GRACE =>
                {
                    Err(anyhow!("{why}"))
                }
                Some(_) => Ok(()),
                None => {
                    vfork_since = None;
                    Ok(())
                }
            })?
            .with_context(|| {
                format!(
                    "process {pid} did not stop within {} s of PTRACE_INTERRUPT ({})",
                    WAIT_LIMIT.as_secs(),
                    where_is(pid.as_raw())
                )
            })?;
            match status {
                WaitStatus::PtraceEvent(_, _, PTRACE_EVENT_STOP) => return Ok(me),
                WaitStatus::Stopped(_, sig) => {
                    // A signal-delivery stop: let the signal go on as it would have.
                    ptrace::cont(pid, Some(sig))
                        .with_context(|| format!("resuming {pid} with {sig}"))?;
                }
                WaitStatus::PtraceEvent(..)
                | WaitStatus::PtraceSyscall(_)
                | WaitStatus::Continued(_) => {
                    ptrace::cont(pid, None::<Signal>).with_context(|| format!("resuming {pid}"))?;
                }
                WaitStatus::Exited(_, code) => {
                    me.attached = false;
                    bail!("process {pid} exited (status {code}) before it could be stopped")
                }
                WaitStatus::Signaled(_, sig, _) => {
                    me.attached = false;
                    bail!("process {pid} was killed by {sig} before it could be stopped")
                }
                WaitStatus::StillAlive => {}
            }
        }
    }

    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// Reaps our ptrace notification of the task's death, once it was killed.
    fn reap(&mut self) -> Result<()> {
        self.attached = false;
        let deadline = Instant::now() + WAIT_LIMIT;
        loop {
            match wait_traced(self.pid, deadline, || Ok(())) {
                Ok(Some(WaitStatus::Exited(..))) | Ok(Some(WaitStatus::Signaled(..))) => {
                    return Ok(())
                }
                Err(e) if e.downcast_ref() == Some(&Errno::ECHILD) => return Ok(()),
                Ok(Some(_)) => {}
                Ok(None) => bail!(
                    "killed process {} did not die within {} s ({})",
                    self.pid,
                    WAIT_LIMIT.as_secs(),
                    where_is(self.pid.as_raw())
                ),
                Err(e) => {
                    return Err(e.context(format!("waiting for the killed process {}", self.pid)))
                }
            }
        }
    }
}

/// How long `ckpt` waits for a task to stop, or for a killed one to die.
const WAIT_LIMIT: Duration = Duration::from_secs(30);
/// How long a parent may stay in `vfork` (its child not yet exec'd) before the checkpoint
/// is refused for it.
const VFORK_GRACE: Duration = Duration::from_secs(3);

/// Waits for the next wait status of the traced task `pid`, until `deadline` (then `None`).
/// `idle` runs now and then while nothing comes, after a first short wait; its error ends
/// the wait. Every wait is bounded: `SIGCHLD` (blocked meanwhile) wakes it early.
fn wait_traced(
    pid: Pid,
    deadline: Instant,
    mut idle: impl FnMut() -> Result<()>,
) -> Result<Option<WaitStatus>> {
    let chld = SigSet::from(Signal::SIGCHLD);
    let mut old = SigSet::empty();
    pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&chld), Some(&mut old))
        .context("blocking SIGCHLD")?;
    let start = Instant::now();
    let mut next_idle = start + Duration::from_millis(50);
    let r = loop {
        match waitpid(pid, Some(WaitPidFlag::__WALL | WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(s) => break Ok(Some(s)),
            Err(e) => break Err(anyhow::Error::new(e)),
        }
        let now = Instant::now();
        if now >= deadline {
            break Ok(None);
        }
        if now >= next_idle {
            if let Err(e) = idle() {
                break Err(e);
            }
            next_idle = now + Duration::from_millis(200);
        }
        let wait = (deadline - now).min(next_idle.saturating_duration_since(now));
        crate::sys::sigtimedwait(&chld, wait);
    };
    let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    r
}

/// The tracer of `pid` (`TracerPid` of `/proc/PID/status`), if it has one.
fn tracer_of(pid: i32) -> Option<i32> {
    let t: i32 = procfs::status_field(pid, "TracerPid")?.parse().ok()?;
    (t != 0).then_some(t)
}

fn comm(pid: i32) -> String {
    procfs::comm(pid).unwrap_or_else(|| "gone".into())
}

/// Where a task that does not stop is: its state and the kernel function it waits in.
fn where_is(pid: i32) -> String {
    let wchan = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
    format!(
        "state {}, waiting in {}",
        proc_state(pid).unwrap_or('?'),
        if wchan.is_empty() { "?" } else { &wchan }
    )
}

const CLONE_VFORK: u64 = 0x4000;

/// Why `pid` cannot be stopped if it is a parent waiting in `vfork` (`vfork`, or `clone`
/// or `clone3` with `CLONE_VFORK`) for its child: the system call it is blocked in, as
/// `/proc/PID/syscall` shows it (and the flags `clone3` reads, from its memory), or the
/// kernel function it waits in.
fn in_vfork(pid: i32) -> Option<String> {
    if !matches!(proc_state(pid), Some('D' | 'S')) {
        return None;
    }
    let call = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
    let mut f = call.split_whitespace();
    let nr: i64 = f.next()?.parse().ok()?;
    let arg1 = f
        .next()
        .and_then(|a| u64::from_str_radix(a.trim_start_matches("0x"), 16).ok())
        .unwrap_or(0);
    let vfork = match nr {
        libc::SYS_vfork => true,
        libc::SYS_clone => arg1 & CLONE_VFORK != 0,
        libc::SYS_clone3 => {
            let mut flags = [0u8; 8];
            std::fs::File::open(format!("/proc/{pid}/mem"))
                .and_then(|m| m.read_exact_at(&mut flags, arg1))
                .is_ok_and(|()| u64::from_ne_bytes(flags) & CLONE_VFORK != 0)
        }
        _ => false,
    } || std::fs::read_to_string(format!("/proc/{pid}/wchan"))
        .is_ok_and(|w| w.trim() == "wait_for_vfork_done");
    if !vfork {
        return None;
    }
    // The child is the one sharing its memory.
    let child = procfs::children_of_thread(pid, pid)
        .into_iter()
        .find(|&c| crate::sys::same_memory(pid, c));
    let who = child.map_or("its child".into(), |c| format!("its child {c}"));
    Some(format!(
        "process {pid} is in vfork: {who} shares its memory until it execs or exits, and the \
         parent cannot be stopped until then; checkpoint it after that"
    ))
}

/// A process, its threads and all its descendants, every live task held in a ptrace stop,
/// listed as the module wants them: the root first, each task after its parent and after
/// its thread-group leader. Zombies are listed but not attached (they cannot be, and cannot
/// change either). They all run on when this is dropped.
pub struct StoppedTree {
    tids: Vec<i32>,
    /// Thread-group ids of the live processes.
    procs: Vec<i32>,
    stopped: Vec<Stopped>,
}

/// The state letter of `/proc/PID/stat` (`R`, `S`, `Z`...), or `None` if it is gone.
fn proc_state(pid: i32) -> Option<char> {
    procfs::stat(pid).map(|s| s.state)
}

impl StoppedTree {
    /// Stops `root` and everything below it. Threads and children created while this runs
    /// are found too: a task's threads are listed again until none is new, and children are
    /// read only once their parent's threads are all stopped.
    pub fn seize(root: i32) -> Result<StoppedTree> {
        let mut t = StoppedTree {
            tids: Vec::new(),
            procs: Vec::new(),
            stopped: Vec::new(),
        };
        let mut seen = std::collections::HashSet::new();
        let mut queue = std::collections::VecDeque::from([root]);
        while let Some(pid) = queue.pop_front() {
            if !seen.insert(pid) {
                continue;
            }
            if pid != root && proc_state(pid) == Some('Z') {
                t.tids.push(pid);
                continue;
            }
            match Stopped::seize(pid) {
                Ok(s) => t.stopped.push(s),
                // It died meanwhile: a zombie now, or reaped and gone.
                Err(_) if pid != root && proc_state(pid).is_none_or(|c| c == 'Z') => {
                    if proc_state(pid) == Some('Z') {
                        t.tids.push(pid);
                    }
                    continue;
                }
                Err(e) => return Err(e),
            }
            t.tids.push(pid);
            t.procs.push(pid);
            loop {
                let mut new = false;
                for tid in procfs::numbers_in(&format!("/proc/{pid}/task")) {
                    if seen.insert(tid) {
                        match Stopped::seize(tid) {
                            Ok(s) => t.stopped.push(s),
                            // A thread that exited meanwhile is no longer part of the process.
                            Err(_) if proc_state(tid).is_none_or(|c| c == 'Z' || c == 'X') => {
                                continue
                            }
                            Err(e) => return Err(e),
                        }
                        t.tids.push(tid);
                        new = true;
                    }
                }
                if !new {
                    break;
                }
            }
            queue.extend(procfs::children(pid));
        }
        Ok(t)
    }

    /// Every task, as the checkpoint ioctl takes them.
    pub fn tids(&self) -> &[i32] {
        &self.tids
    }

    pub fn root(&self) -> i32 {
        self.tids[0]
    }

    /// The live processes (thread-group ids).
    pub fn procs(&self) -> &[i32] {
        &self.procs
    }

    /// Kills every live process of the tree (`SIGKILL`) and reaps our ptrace notifications.
    pub fn kill(mut self) -> Result<()> {
        for &p in &self.procs {
            nix::sys::signal::kill(Pid::from_raw(p), Signal::SIGKILL)
                .with_context(|| format!("killing {p}"))?;
        }
        // Threads first: a traced thread-group leader's death is reported only once its
        // other threads are reaped.
        for s in self.stopped.iter_mut().rev() {
            s.reap()?;
        }
        Ok(())
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        if self.attached {
            let _ = ptrace::detach(self.pid, None::<Signal>);
        }
    }
}

/// How to take a checkpoint, beyond the tree and where the image goes.
#[derive(Default)]
pub struct Options<'a> {
    /// The tree's root is the init of a pid namespace, saved whole.
    pub container: bool,
    /// State only the caller sees (such as SysV IPC in use) that cannot be saved: the
    /// module ends the image with it and fails.
    pub refusal: Option<&'a str>,
    /// The most bytes of deleted files' data the image may hold (else 64 MiB).
    pub deleted_max: Option<u64>,
    /// Where the module writes its log lines, and of which level (`CKPT_LOG_*`).
    pub log: Option<(BorrowedFd<'a>, u32)>,
    /// Figures the module keeps up to date while it writes.
    pub stats: Option<&'a crate::sys::LiveStats>,
}

impl Options<'_> {
    fn flags(&self) -> Result<u64> {
        let mut flags = match self.deleted_max {
            Some(bytes) => crate::deleted::limit_flags(bytes)?,
            None => 0,
        };
        if self.container {
            flags |= abi::CKPT_CHECKPOINT_CONTAINER;
        }
        if self.refusal.is_some() {
            flags |= abi::CKPT_CHECKPOINT_REFUSE;
        }
        Ok(flags)
    }
}

/// Asks the module to write the image of the stopped tree to `out`.
pub fn checkpoint(
    dev: &Device,
    tree: &StoppedTree,
    opts: &Options<'_>,
    out: BorrowedFd<'_>,
) -> Result<()> {
    let mut reason = [0u8; abi::image::CKPT_REASON_MAX as usize + 1];
    call(dev, tree, opts.flags()?, opts, Some(out), &mut reason)
}

/// Room for the reasons of a check: 128 of the longest, more of the usual.
const CHECK_ROOM: usize = 128 * (abi::image::CKPT_REASON_MAX as usize + 1);

/// A dry run of the checkpoint (`CKPT_CHECKPOINT_CHECK`): every reason the module finds not
/// to checkpoint the stopped tree, none if it would; nothing is written. `opts.refusal` is
/// not given to the module (the caller adds it to the list).
pub fn check(dev: &Device, tree: &StoppedTree, opts: &Options<'_>) -> Result<Vec<String>> {
    let opts = Options {
        refusal: None,
        ..*opts
    };
    let flags = opts.flags()? | abi::CKPT_CHECKPOINT_CHECK;
    let mut reason = vec![0u8; CHECK_ROOM];
    match ioctl(dev, tree, flags, &opts, None, &mut reason) {
        Ok(()) => Ok(Vec::new()),
        Err(nix::Error::EOPNOTSUPP) => Ok(crate::image::c_str(&reason)
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()),
        Err(e) => {
            let why = crate::image::c_str(&reason);
            bail!(
                "check of {} failed: {why}: {} ({e:?})",
                tree.root(),
                e.desc()
            )
        }
    }
}

/// The `TREE` record's entries of the stopped tree, as the module checks and writes them
/// (`CKPT_CHECKPOINT_TREE_ONLY`, into a memfd): what `rstr` plans the restart from.
pub fn tree_entries(
    dev: &Device,
    tree: &StoppedTree,
    container: bool,
) -> Result<Vec<abi::image::CkptTreeEntry>> {
    use nix::sys::memfd::{memfd_create, MFdFlags};
    use std::io::Seek;
    let mut f = std::fs::File::from(
        memfd_create(c"ckpt-tree", MFdFlags::MFD_CLOEXEC).context("memfd_create")?,
    );
    let mut flags = abi::CKPT_CHECKPOINT_TREE_ONLY;
    if container {
        flags |= abi::CKPT_CHECKPOINT_CONTAINER;
    }
    let mut reason = [0u8; abi::image::CKPT_REASON_MAX as usize + 1];
    let opts = Options::default();
    call(
        dev,
        tree,
        flags,
        &opts,
        Some(std::os::fd::AsFd::as_fd(&f)),
        &mut reason,
    )?;
    f.rewind()?;
    let mut rd = crate::image::RecordReader::new(std::io::BufReader::new(f));
    for kind in [abi::image::rec::HEADER, abi::image::rec::TREE] {
        let r = rd
            .next_record()?
            .context("the module wrote no HEADER and TREE")?;
        ensure!(r.kind == kind, "the module wrote {} first", r.kind);
        if kind == abi::image::rec::TREE {
            return Ok(crate::image::tree_entries(&r.payload)?.1);
        }
    }
    unreachable!()
}

/// `CKPT_IOC_CHECKPOINT` of the stopped tree with `flags` and `opts`; the caller's refusal
/// goes to the module in `reason`, which receives the module's reasons.
fn ioctl(
    dev: &Device,
    tree: &StoppedTree,
    flags: u64,
    opts: &Options<'_>,
    out: Option<BorrowedFd<'_>>,
    reason: &mut [u8],
) -> nix::Result<()> {
    if let Some(r) = opts
        .refusal
        .filter(|_| flags & abi::CKPT_CHECKPOINT_REFUSE != 0)
    {
        let n = r.len().min(reason.len() - 1);
        reason[..n].copy_from_slice(&r.as_bytes()[..n]);
    }
    crate::sys::checkpoint(
        dev.file().as_fd(),
        tree.tids(),
        out,
        flags,
        reason,
        opts.log,
        opts.stats,
    )
}

fn call(
    dev: &Device,
    tree: &StoppedTree,
    flags: u64,
    opts: &Options<'_>,
    out: Option<BorrowedFd<'_>>,
    reason: &mut [u8],
) -> Result<()> {
    match ioctl(dev, tree, flags, opts, out, reason) {
        Ok(_) => Ok(()),
        Err(e) => {
            let why = crate::image::c_str(reason);
            if why.is_empty() {
                bail!("checkpoint of {} failed: {}", tree.root(), e.desc())
            }
            bail!(
                "checkpoint of {} failed: {}: {} ({:?})",
                tree.root(),
                why,
                e.desc(),
                e
            )
        }
    }
}
