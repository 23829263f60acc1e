// SPDX-License-Identifier: GPL-2.0

//! Task identity and resource limits: the `TASK` and `RLIMITS` records (with the task's
//! `CREDS`, written by [`crate::creds`]).
//!
//! Restart of these is done by `rstr` with system calls (`prctl`, `setresuid`, `capset`,
//! `setrlimit`): the kernel's own permission checks then decide what a caller may get back.

use kernel::bindings;
use kernel::prelude::*;
use zerocopy::FromZeros;

use crate::error::{refuse, CkptResult, Context};
use crate::image::ImageWriter;
use crate::sys::task::{TaskRef, Unsupported};
use crate::uapi::image::{self as img, rec};
use crate::{attrs, creds};

/// What of `u` this version cannot save, as words for the refusal; `None` if nothing.
/// `undo_saved`: its SysV undo adjustments are saved (a container's own IPC namespace's).
fn unsupported_use(u: &Unsupported, undo_saved: bool) -> Option<&'static str> {
    let pfa = |bit: u32| u.atomic_flags & (1 << bit) != 0;
    let tif = |bit: u32| u.tif & (1 << bit) != 0;
    let speculation = pfa(bindings::PFA_SPEC_SSB_DISABLE)
        || pfa(bindings::PFA_SPEC_SSB_NOEXEC)
        || pfa(bindings::PFA_SPEC_SSB_FORCE_DISABLE)
        || pfa(bindings::PFA_SPEC_IB_DISABLE)
        || pfa(bindings::PFA_SPEC_IB_FORCE_DISABLE)
        || tif(bindings::TIF_SPEC_L1D_FLUSH);
    let dispatch = 1 << bindings::syscall_work_bit_SYSCALL_WORK_BIT_SYSCALL_USER_DISPATCH;
    let refusals = [
        (
            u.sem_undo && !undo_saved,
            "SysV semaphores with undo (SEM_UNDO) of an IPC namespace not saved with the tree \
             (a container's own is, ckpt --container)",
        ),
        (
            u.seccomp_mode != bindings::SECCOMP_MODE_DISABLED,
            "seccomp (strict mode or filters)",
        ),
        (
            u.mdwe,
            "memory-deny-write-execute (PR_SET_MDWE), which would forbid the restart its \
             own mappings",
        ),
        (
            u.syscall_work & dispatch != 0,
            "syscall user dispatch (PR_SET_SYSCALL_USER_DISPATCH)",
        ),
        (
            speculation,
            "speculation controls (PR_SET_SPECULATION_CTRL)",
        ),
        (
            u.flags & bindings::PF_MCE_PROCESS != 0,
            "a machine-check kill policy (PR_MCE_KILL)",
        ),
        (
            u.flags & (bindings::PF_MEMALLOC_NOIO | bindings::PF_LOCAL_THROTTLE) != 0,
            "PR_SET_IO_FLUSHER",
        ),
        (
            tif(bindings::TIF_NOTSC),
            "a disabled time-stamp counter (PR_SET_TSC)",
        ),
    ];
    refusals
        .into_iter()
        .find(|(set, _)| *set)
        .map(|(_, what)| what)
}

/// Refuses, with its reason, what this version cannot save, instead of losing it.
/// What a task uses that a checkpoint cannot save; `undo_saved` as [`unsupported_use`]'s.
pub(crate) fn check_supported(task: &TaskRef, pid: i32, undo_saved: bool) -> CkptResult {
    if let Some(what) = unsupported_use(&task.unsupported(), undo_saved) {
        refuse!(EOPNOTSUPP, "pid {pid} uses {what}: not supported yet");
    }
    attrs::check_supported(task, pid)?;
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
    attrs::checkpoint(task, t.pid, w)?;

    creds::checkpoint(task, w)?;

    let mut r = img::CkptRlimitsRec::new_zeroed();
    task.rlimits(&mut r);
    w.fixed(rec::RLIMITS, &r)
}

#[kunit_tests(ckpt_task)]
mod tests {
    use super::*;

    fn plain() -> Unsupported {
        Unsupported {
            sem_undo: false,
            mdwe: false,
            seccomp_mode: bindings::SECCOMP_MODE_DISABLED,
            flags: 0,
            atomic_flags: 0,
            tif: 0,
            syscall_work: 0,
        }
    }

    #[test]
    fn a_plain_task_is_supported() {
        assert!(unsupported_use(&plain(), false).is_none());
        // Flags the checkpoint does not care about.
        let mut u = plain();
        u.flags = bindings::PF_EXITING | bindings::PF_KTHREAD;
        u.tif = 1 << bindings::TIF_NEED_RESCHED;
        assert!(unsupported_use(&u, false).is_none());
    }

    #[test]
    fn undo_adjustments_only_in_a_container_of_its_own_ipc() {
        let mut u = plain();
        u.sem_undo = true;
        assert!(unsupported_use(&u, false).is_some_and(|w| w.contains("SEM_UNDO")));
        assert!(unsupported_use(&u, true).is_none());
    }

    /// Sets one raw fact of a task.
    type Set = fn(&mut Unsupported);

    #[test]
    fn each_raw_fact_is_refused() {
        let cases: [(Set, &str); 7] = [
            (|u| u.mdwe = true, "PR_SET_MDWE"),
            (
                |u| u.seccomp_mode = bindings::SECCOMP_MODE_FILTER,
                "seccomp",
            ),
            (|u| u.flags = bindings::PF_MCE_PROCESS, "PR_MCE_KILL"),
            (
                |u| u.flags = bindings::PF_LOCAL_THROTTLE,
                "PR_SET_IO_FLUSHER",
            ),
            (|u| u.tif = 1 << bindings::TIF_NOTSC, "PR_SET_TSC"),
            (
                |u| u.atomic_flags = 1 << bindings::PFA_SPEC_IB_DISABLE,
                "PR_SET_SPECULATION_CTRL",
            ),
            (
                |u| {
                    u.syscall_work =
                        1 << bindings::syscall_work_bit_SYSCALL_WORK_BIT_SYSCALL_USER_DISPATCH
                },
                "PR_SET_SYSCALL_USER_DISPATCH",
            ),
        ];
        for (set, want) in cases {
            let mut u = plain();
            set(&mut u);
            let got = unsupported_use(&u, true).unwrap_or("");
            assert!(got.contains(want));
        }
    }
}
