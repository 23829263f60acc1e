// SPDX-License-Identifier: GPL-2.0

//! Task identity, credentials and resource limits: the `TASK`, `CREDS` and `RLIMITS` records.
//!
//! Restart of these is done by `rstr` with system calls (`prctl`, `setresuid`, `capset`,
//! `setrlimit`): the kernel's own permission checks then decide what a caller may get back.

use kernel::prelude::*;
use zerocopy::{FromZeros, IntoBytes};

use crate::error::{refuse, CkptResult, Context};
use crate::image::ImageWriter;
use crate::sys::task::TaskRef;
use crate::uapi::image::{self as img, rec};

/// Refuses, with its reason, what this version cannot save, instead of losing it.
pub(crate) fn check_supported(task: &TaskRef, pid: i32) -> CkptResult {
    let u = task.unsupported();
    let refusals = [
        (u.posix_timers, "POSIX timers (timer_create)"),
        (u.itimer_real, "an armed ITIMER_REAL (setitimer, alarm)"),
        (u.itimer_cpu, "an armed ITIMER_VIRTUAL or ITIMER_PROF"),
        (u.sem_undo, "SysV semaphores with undo (SEM_UNDO)"),
        (
            u.other_ns,
            "namespaces (other than pid) other than the caller's",
        ),
        (
            u.sched_policy,
            "a scheduling policy other than SCHED_OTHER, or SCHED_RESET_ON_FORK",
        ),
        (u.seccomp, "seccomp (strict mode or filters)"),
        (
            u.mdwe,
            "memory-deny-write-execute (PR_SET_MDWE), which would forbid the restart its \
             own mappings",
        ),
        (
            u.syscall_dispatch,
            "syscall user dispatch (PR_SET_SYSCALL_USER_DISPATCH)",
        ),
        (
            u.speculation,
            "speculation controls (PR_SET_SPECULATION_CTRL)",
        ),
        (u.mce_kill, "a machine-check kill policy (PR_MCE_KILL)"),
        (u.io_flusher, "PR_SET_IO_FLUSHER"),
        (u.notsc, "a disabled time-stamp counter (PR_SET_TSC)"),
        (u.ioprio, "an I/O priority (ioprio_set)"),
    ];
    for (set, what) in refusals {
        if set != 0 {
            refuse!(EOPNOTSUPP, "pid {pid} uses {what}: not supported yet");
        }
    }
    let mut t = img::CkptTaskRec::new_zeroed();
    task.info(None, &mut t).context(fmt!("pid {pid}"))?;
    if t.dumpable == 2 {
        refuse!(
            EOPNOTSUPP,
            "pid {pid} is dumpable by root only (dumpable 2, from the suid_dumpable sysctl): \
             prctl(PR_SET_DUMPABLE) cannot set that back"
        );
    }
    Ok(())
}

/// `TASK`, `CREDS`, `RLIMITS`; pids as seen in the namespace of `ns` (the caller's if `None`).
pub(crate) fn checkpoint(task: &TaskRef, ns: Option<&TaskRef>, w: &mut ImageWriter) -> CkptResult {
    let mut t = img::CkptTaskRec::new_zeroed();
    task.info(ns, &mut t)
        .context(fmt!("the root of the pid namespace is gone"))?;
    w.fixed(rec::TASK, &t)?;

    let mut c = img::CkptCredsRec::new_zeroed();
    let mut groups = KVec::new();
    task.creds(&mut c, &mut groups)
        .context(fmt!("credentials"))?;
    w.record(rec::CREDS, &[c.as_bytes(), groups.as_slice().as_bytes()])?;

    let mut r = img::CkptRlimitsRec::new_zeroed();
    task.rlimits(&mut r);
    w.fixed(rec::RLIMITS, &r)
}
