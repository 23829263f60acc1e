// SPDX-License-Identifier: GPL-2.0

//! Stopping a process tree with ptrace and asking the module for its image.

use std::os::fd::{AsRawFd, BorrowedFd};

use anyhow::{bail, ensure, Context, Result};
use nix::errno::Errno;
use nix::sys::ptrace;
use nix::sys::signal::Signal;
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use crate::abi;
use crate::device::Device;

nix::ioctl_write_ptr_bad!(
    ioc_checkpoint,
    abi::CKPT_IOC_CHECKPOINT,
    abi::CkptCheckpointArgs
);

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
            Err(Errno::EPERM) => bail!(
                "not allowed to ptrace-attach to {pid}: checkpoint needs ptrace rights over it \
                 (same user and dumpable, or CAP_SYS_PTRACE; see also kernel.yama.ptrace_scope)"
            ),
            Err(e) => return Err(e).with_context(|| format!("PTRACE_SEIZE {pid}")),
        }
        let mut me = Stopped {
            pid,
            attached: true,
        };
        ptrace::interrupt(pid).with_context(|| format!("PTRACE_INTERRUPT {pid}"))?;
        loop {
            match waitpid(pid, Some(WaitPidFlag::__WALL))
                .with_context(|| format!("waiting for {pid} to stop"))?
            {
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
        loop {
            match waitpid(self.pid, Some(WaitPidFlag::__WALL)) {
                Ok(WaitStatus::Exited(..)) | Ok(WaitStatus::Signaled(..)) | Err(Errno::ECHILD) => {
                    return Ok(())
                }
                Ok(_) => {}
                Err(e) => return Err(e).context("waiting for the killed process"),
            }
        }
    }
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
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// The numbered entries of a `/proc` directory, in numeric order.
fn numbers_in(dir: &str) -> Vec<i32> {
    let mut v: Vec<i32> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    v.sort_unstable();
    v
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
                for tid in numbers_in(&format!("/proc/{pid}/task")) {
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
            for tid in numbers_in(&format!("/proc/{pid}/task")) {
                let children = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/children"))
                    .unwrap_or_default();
                queue.extend(
                    children
                        .split_whitespace()
                        .filter_map(|c| c.parse::<i32>().ok()),
                );
            }
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

/// Asks the module to write the image of the stopped tree to `out`; `container` if its
/// root is the init of a pid namespace to be saved whole. With a `refusal` (state only the
/// caller sees, such as SysV IPC in use), the module ends the image with it and fails.
pub fn checkpoint(
    dev: &Device,
    tree: &StoppedTree,
    container: bool,
    refusal: Option<&str>,
    out: BorrowedFd<'_>,
) -> Result<()> {
    let flags = if container {
        abi::CKPT_CHECKPOINT_CONTAINER
    } else {
        0
    } | if refusal.is_some() {
        abi::CKPT_CHECKPOINT_REFUSE
    } else {
        0
    };
    call(dev, tree, flags, refusal, out)
}

/// The `TREE` record's entries of the stopped tree, as the module checks and writes them
/// (`CKPT_CHECKPOINT_TREE_ONLY`, into a memfd): what `rstr` plans the restart from.
pub fn tree_entries(
    dev: &Device,
    tree: &StoppedTree,
    container: bool,
) -> Result<Vec<abi::image::CkptTreeEntry>> {
    use std::io::Seek;
    use std::os::fd::FromRawFd;
    // SAFETY: a plain system call with a NUL-terminated name.
    let fd = unsafe { libc::memfd_create(c"ckpt-tree".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("memfd_create");
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    let mut f = unsafe { std::fs::File::from_raw_fd(fd) };
    let mut flags = abi::CKPT_CHECKPOINT_TREE_ONLY;
    if container {
        flags |= abi::CKPT_CHECKPOINT_CONTAINER;
    }
    call(dev, tree, flags, None, std::os::fd::AsFd::as_fd(&f))?;
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

fn call(
    dev: &Device,
    tree: &StoppedTree,
    flags: u64,
    refusal: Option<&str>,
    out: BorrowedFd<'_>,
) -> Result<()> {
    let mut reason = [0u8; abi::image::CKPT_REASON_MAX as usize + 1];
    if let Some(r) = refusal {
        let n = r.len().min(reason.len() - 1);
        reason[..n].copy_from_slice(&r.as_bytes()[..n]);
    }
    let tids = tree.tids();
    let args = abi::CkptCheckpointArgs {
        pid: tree.root(),
        fd: out.as_raw_fd(),
        flags,
        reason: reason.as_mut_ptr() as u64,
        reason_len: reason.len() as u32,
        nr_tasks: tids.len() as u32,
        tasks: tids.as_ptr() as u64,
    };
    // SAFETY: `args` is a valid struct of the size the ioctl number encodes; the reason
    // buffer and the task list it points to live until the call returns.
    match unsafe { ioc_checkpoint(dev.file().as_raw_fd(), &args) } {
        Ok(_) => Ok(()),
        Err(e) => {
            let why = crate::image::c_str(&reason);
            if why.is_empty() {
                bail!("checkpoint of {} failed: {}", tree.root(), e.desc())
            }
            bail!("checkpoint of {} failed: {} ({:?})", tree.root(), why, e)
        }
    }
}
