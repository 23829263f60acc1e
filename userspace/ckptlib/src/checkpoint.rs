// SPDX-License-Identifier: GPL-2.0

//! Stopping a process with ptrace and asking the module for its image.

use std::os::fd::{AsRawFd, BorrowedFd};

use anyhow::{bail, Context, Result};
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

    /// Kills the process (`SIGKILL`) and reaps our ptrace notification of its death.
    pub fn kill(mut self) -> Result<()> {
        nix::sys::signal::kill(self.pid, Signal::SIGKILL)
            .with_context(|| format!("killing {}", self.pid))?;
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

impl Drop for Stopped {
    fn drop(&mut self) {
        if self.attached {
            let _ = ptrace::detach(self.pid, None::<Signal>);
        }
    }
}

/// Asks the module to write the image of the stopped process to `out`.
pub fn checkpoint(dev: &Device, target: &Stopped, out: BorrowedFd<'_>) -> Result<()> {
    let mut reason = [0u8; abi::image::CKPT_REASON_MAX as usize + 1];
    let args = abi::CkptCheckpointArgs {
        pid: target.pid(),
        fd: out.as_raw_fd(),
        flags: 0,
        reason: reason.as_mut_ptr() as u64,
        reason_len: reason.len() as u32,
        __reserved: 0,
    };
    // SAFETY: `args` is a valid struct of the size the ioctl number encodes; the reason
    // buffer it points to lives until the call returns.
    match unsafe { ioc_checkpoint(dev.file().as_raw_fd(), &args) } {
        Ok(_) => Ok(()),
        Err(e) => {
            let why = crate::image::c_str(&reason);
            if why.is_empty() {
                bail!("checkpoint of {} failed: {}", target.pid(), e.desc())
            }
            bail!("checkpoint of {} failed: {} ({:?})", target.pid(), why, e)
        }
    }
}
