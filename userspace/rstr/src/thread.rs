// SPDX-License-Identifier: GPL-2.0

//! Tasks a restored process starts on its own memory: its threads, and the processes that
//! shared its memory (`CLONE_VM`). Each is created by the process with `clone3(CLONE_VM |
//! ..., set_tid)` on a small stack of its own ([`sys::clone::spawn_vm`]), runs the restore
//! path every task runs ([`per_task`], its rseq area, its credentials), loads its FPU state
//! and calls the restart ioctl with `CKPT_RESTART_SHARED_MM`: the module waits until the
//! process has restored the memory they share, then installs the task's registers.
//!
//! The task shares the process's memory and, having no TLS of its own, its thread pointer:
//! it must not allocate or touch anything of libc's per-thread state. Everything it needs
//! is prepared by the process in a [`ThreadStart`] before any starts, and it makes raw
//! system calls only ([`sys::raw`]).

use std::os::fd::RawFd;

use anyhow::Result;

use ckptlib::abi::{self, image as img};
use ckptlib::restart::TaskImage;

use crate::attrs;
use crate::creds;
use crate::files::OwnFds;
use crate::memory;
use crate::per_task::{self, join, Failed, Own};
use crate::sys::clone::{self, Stack};
use crate::sys::cpu::{self, XsaveArea};
use crate::sys::{self, raw};

/// Everything one task needs, in memory it does not own: leaked by its process when it
/// starts, since the process never frees it (it becomes the image or dies).
pub struct ThreadStart {
    tid: i32,
    tgid: i32,
    task: img::CkptTaskRec,
    attrs: ckptlib::attrs::TaskAttrs,
    creds: img::CkptCredsRec,
    groups: Vec<u32>,
    /// Whether `groups` differ from the process's when it starts the task (and so the
    /// task's): reading them allocates.
    groups_differ: bool,
    signals: img::CkptSignalsRec,
    pending: Vec<img::CkptSiginfoRec>,
    xsave: XsaveArea,
    args: abi::CkptRestartArgs,
    dev: RawFd,
    report: RawFd,
    /// Clone flags and exit signal: a thread, or a process sharing our memory.
    clone_flags: u64,
    exit_signal: i32,
    /// Its rseq area is in memory already in place ([`crate::cow::holds`]).
    rseq_held: bool,
}

/// What to start.
pub enum Kind {
    Thread,
    /// A process sharing the caller's memory (`CLONE_VM`), and what else it shares
    /// (`CLONE_SIGHAND`, `CLONE_FILES`, `CLONE_FS`); it stops once restored if `stopped`.
    Process {
        shares: u64,
        exit_signal: i32,
        stopped: bool,
    },
}

pub use clone::{CLONE_FILES as SHARE_FILES, CLONE_FS as SHARE_FS, CLONE_SIGHAND as SHARE_SIGHAND};

/// The clone flags of a thread.
const THREAD: u64 = clone::CLONE_VM
    | clone::CLONE_FS
    | clone::CLONE_FILES
    | clone::CLONE_SIGHAND
    | clone::CLONE_THREAD
    | clone::CLONE_SYSVSEM;

impl ThreadStart {
    /// Prepares the start of task `t`, a thread of the caller or a process sharing its
    /// memory, which is to close `close` (the descriptors of `rstr`'s, `own`: the image,
    /// the device, the report pipe, the log) and the mapped objects `objs` in its restart
    /// ioctl (`objs` lives in the memory it shares, until the ioctl has read it).
    pub fn new(
        t: &TaskImage,
        kind: Kind,
        own: OwnFds,
        close: &[RawFd],
        objs: &[abi::CkptObjFd],
    ) -> Result<ThreadStart> {
        let (clone_flags, exit_signal, stopped) = match kind {
            Kind::Thread => (THREAD, 0, false),
            Kind::Process {
                shares,
                exit_signal,
                stopped,
            } => (clone::CLONE_VM | shares, exit_signal, stopped),
        };
        let mut args = abi::CkptRestartArgs {
            fd: own.image,
            err_fd: own.report,
            flags: own.flags()
                | abi::CKPT_RESTART_SHARED_MM
                | if stopped {
                    abi::CKPT_RESTART_STOPPED
                } else {
                    0
                },
            reason: 0,
            reason_len: 0,
            nr_close: close.len() as u32,
            close_fds: [0; abi::CKPT_RESTART_MAX_CLOSE],
            blocked: t.signals.blocked,
            pos: t.kernel_pos,
            mm_sharers: 0,
            nr_kept: 0,
            kept: 0,
            log_fd: own.log,
            log_level: own.log_level,
            nr_objs: objs.len() as u32,
            nr_shm_at: 0,
            objs: objs.as_ptr() as u64,
            shm_at: 0,
        };
        args.close_fds[..close.len()].copy_from_slice(close);
        // The module writes its reason there; the task does not read it (the process's
        // own reason says what failed), so it needs no owner.
        let reason = Box::leak(Box::new([0u8; 513]));
        args.reason = reason.as_mut_ptr() as u64;
        args.reason_len = reason.len() as u32;
        Ok(ThreadStart {
            tid: t.task.pid,
            tgid: t.task.tgid,
            task: t.task,
            attrs: t.attrs.clone(),
            creds: t.creds,
            groups: t.groups.clone(),
            groups_differ: creds::groups_differ(&t.groups)?,
            signals: t.signals,
            pending: t.pending.clone(),
            xsave: XsaveArea::new(&t.xsave)?,
            args,
            dev: own.dev,
            report: own.report,
            clone_flags,
            exit_signal,
            rseq_held: crate::cow::holds(t.task.rseq),
        })
    }

    /// Starts the task; it never comes back to this code. Its start block and its stack are
    /// its own from now on.
    pub fn spawn(self) -> Result<()> {
        let (flags, exit_signal, tid) = (self.clone_flags, self.exit_signal, self.tid);
        let start: &'static ThreadStart = Box::leak(Box::new(self));
        clone::spawn_vm(flags, exit_signal, tid, Stack::new(), start, thread_main)
    }
}

/// The new task. Raw system calls only, no allocation; a failure is reported in one line
/// and ends the whole process (a task that cannot be restored fails its process).
fn thread_main(s: &'static ThreadStart) -> ! {
    let fail = |parts: &[&str]| -> ! {
        let mut buf = [0u8; 256];
        let _ = sys::report_line(s.report, s.tid, join(&mut buf, parts));
        raw::exit_group(1)
    };
    let own = Own {
        tgid: s.tgid,
        tid: s.tid,
        task: &s.task,
        attrs: &s.attrs,
        signals: &s.signals,
        pending: &s.pending,
    };
    let said = |e: Failed| [e.step, ": ", e.errno.desc()];
    let before = per_task::before_creds(own)
        .and_then(|()| memory::register_rseq(&s.task, s.rseq_held))
        .and_then(|()| attrs::apply(own));
    if let Err(e) = before {
        let [a, b, c] = said(e);
        fail(&["thread: ", a, b, c]);
    }
    // Started with the process's credentials before they changed, as the process's own
    // started: the same steps.
    if let Err(e) = creds::apply(&s.creds, &s.groups, s.groups_differ) {
        let [a, b, c] = said(e);
        fail(&["thread: credentials: ", a, b, c]);
    }
    if let Err(e) = per_task::after_creds(own) {
        let [a, b, c] = said(e);
        fail(&["thread: ", a, b, c]);
    }
    let e = cpu::restart(&s.xsave, s.dev, &s.args);
    fail(&[
        "thread: the restart ioctl failed (see the process's reason): ",
        e.desc(),
    ]);
}
