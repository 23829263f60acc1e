// SPDX-License-Identifier: GPL-2.0

//! A thread's scheduling and I/O attributes: the `TASK_ATTRS` record, written after its
//! `TASK`. Its policy (`SCHED_OTHER`, `SCHED_BATCH`, `SCHED_IDLE`, `SCHED_FIFO`, `SCHED_RR`)
//! with its real-time priority and `SCHED_RESET_ON_FORK`, its own I/O priority and its CPU
//! affinity (`cpus_mask`, as many CPUs as the kernel has).
//!
//! `rstr` sets them again with system calls (`sched_setaffinity`, `sched_setscheduler`,
//! `ioprio_set`): the kernel's own permission checks decide what a caller may get back.
//! `SCHED_DEADLINE`, other policies (`sched_ext`) and utilisation clamps are refused.

use kernel::bindings;
use kernel::prelude::*;
use zerocopy::{FromZeros, IntoBytes};

use crate::error::{refuse, CkptResult, Context};
use crate::image::ImageWriter;
use crate::sys::attrs::{SchedFacts, MASK_WORDS};
use crate::sys::task::TaskRef;
use crate::uapi::image::{self as img, rec};

/// What of `f` this version cannot save, as words for the refusal; `None` if nothing.
fn unsupported(f: &SchedFacts) -> Option<&'static str> {
    match f.policy {
        bindings::SCHED_NORMAL
        | bindings::SCHED_BATCH
        | bindings::SCHED_IDLE
        | bindings::SCHED_FIFO
        | bindings::SCHED_RR => {}
        bindings::SCHED_DEADLINE => {
            return Some(
                "SCHED_DEADLINE (its runtime, deadline and period, and the CPU bandwidth the \
                 kernel admitted it for, are not saved)",
            )
        }
        _ => {
            return Some(
                "a scheduling policy other than SCHED_OTHER, SCHED_BATCH, SCHED_IDLE, \
                 SCHED_FIFO and SCHED_RR",
            )
        }
    }
    if f.uclamp != 0 {
        return Some("a utilisation clamp of its own (sched_setattr with SCHED_FLAG_UTIL_CLAMP)");
    }
    None
}

/// The record of `f` (checked by [`unsupported`]).
fn record(f: &SchedFacts) -> img::CkptTaskAttrsRec {
    let mut r = img::CkptTaskAttrsRec::new_zeroed();
    r.policy = f.policy;
    r.rt_priority = f.rt_priority;
    if f.reset_on_fork != 0 {
        r.flags |= img::CKPT_ATTRS_RESET_ON_FORK;
    }
    // An affinity nobody chose (every CPU, never set) follows the machine it runs on.
    if f.user_cpus != 0 || f.all_cpus == 0 {
        r.flags |= img::CKPT_ATTRS_AFFINITY;
    }
    r.ioprio = f.ioprio;
    r.nr_cpus = f.nr_cpus;
    r.cpus_words = f.nr_cpus.div_ceil(64);
    r
}

/// The facts of `task`, with its mask into `mask`.
fn facts(task: &TaskRef, pid: i32, mask: &mut [u64; MASK_WORDS]) -> CkptResult<SchedFacts> {
    let f = task
        .sched(mask)
        .context(fmt!("pid {pid}: its CPU affinity"))?;
    if let Some(what) = unsupported(&f) {
        refuse!(EOPNOTSUPP, "pid {pid} uses {what}: not supported yet");
    }
    Ok(f)
}

/// Refuses, with its reason, what this version cannot save of `task`'s attributes.
pub(crate) fn check_supported(task: &TaskRef, pid: i32) -> CkptResult {
    let mut mask = KBox::new([0u64; MASK_WORDS], GFP_KERNEL)?;
    facts(task, pid, &mut mask).map(drop)
}

/// `TASK_ATTRS` of `task` (`pid` for the reasons).
pub(crate) fn checkpoint(task: &TaskRef, pid: i32, w: &mut ImageWriter) -> CkptResult {
    let mut mask = KBox::new([0u64; MASK_WORDS], GFP_KERNEL)?;
    let f = facts(task, pid, &mut mask)?;
    let r = record(&f);
    let words = &mask[..r.cpus_words as usize];
    w.record(rec::TASK_ATTRS, &[r.as_bytes(), words.as_bytes()])
}

/// What `task` may lock at restart, where it maps its memory again with its own
/// credentials and limits: `None` with `CAP_IPC_LOCK` (no bound), else its
/// `RLIMIT_MEMLOCK` (0: it may lock nothing, as `can_do_mlock()` says).
pub(crate) fn lock_limit(task: &TaskRef, pid: i32) -> CkptResult<Option<u64>> {
    let mut c = img::CkptCredsRec::new_zeroed();
    let mut groups = KVec::new();
    task.creds(&mut c, &mut groups)
        .context(fmt!("pid {pid}: credentials"))?;
    if c.cap_effective & (1 << bindings::CAP_IPC_LOCK) != 0 {
        return Ok(None);
    }
    let mut r = img::CkptRlimitsRec::new_zeroed();
    task.rlimits(&mut r);
    Ok(Some(r.rlim[bindings::RLIMIT_MEMLOCK as usize].cur))
}

#[kunit_tests(ckpt_attrs)]
mod tests {
    use super::*;

    fn plain() -> SchedFacts {
        SchedFacts {
            nr_cpus: 2,
            all_cpus: 1,
            ..SchedFacts::default()
        }
    }

    #[test]
    fn saved_policies_pass_deadline_does_not() {
        for p in [
            bindings::SCHED_NORMAL,
            bindings::SCHED_BATCH,
            bindings::SCHED_IDLE,
            bindings::SCHED_FIFO,
            bindings::SCHED_RR,
        ] {
            let f = SchedFacts {
                policy: p,
                ..plain()
            };
            assert!(unsupported(&f).is_none());
        }
        let f = SchedFacts {
            policy: bindings::SCHED_DEADLINE,
            ..plain()
        };
        assert!(unsupported(&f).unwrap_or("").contains("SCHED_DEADLINE"));
        let f = SchedFacts {
            policy: 7,
            ..plain()
        };
        assert!(unsupported(&f).is_some());
        let f = SchedFacts {
            uclamp: 1,
            ..plain()
        };
        assert!(unsupported(&f)
            .unwrap_or("")
            .contains("SCHED_FLAG_UTIL_CLAMP"));
    }

    #[test]
    fn the_record_says_what_rstr_sets() {
        let r = record(&plain());
        assert_eq!((r.flags, r.cpus_words, r.ioprio), (0, 1, 0));
        let f = SchedFacts {
            policy: bindings::SCHED_FIFO,
            rt_priority: 10,
            reset_on_fork: 1,
            ioprio: (2 << 13) | 4,
            nr_cpus: 65,
            ..plain()
        };
        let r = record(&f);
        assert_eq!((r.policy, r.rt_priority), (bindings::SCHED_FIFO, 10));
        assert_eq!(r.flags, img::CKPT_ATTRS_RESET_ON_FORK);
        assert_eq!((r.ioprio, r.cpus_words), ((2 << 13) | 4, 2));
        // Narrower than every CPU, or set by sched_setaffinity: the thread's own.
        let f = SchedFacts {
            all_cpus: 0,
            ..plain()
        };
        assert_eq!(record(&f).flags, img::CKPT_ATTRS_AFFINITY);
        let f = SchedFacts {
            user_cpus: 1,
            ..plain()
        };
        assert_eq!(record(&f).flags, img::CKPT_ATTRS_AFFINITY);
    }
}
