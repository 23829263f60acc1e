// SPDX-License-Identifier: GPL-2.0

//! Signals, both directions: dispositions (`SIGHAND`), mask and alternate stack (`SIGNALS`),
//! and every pending signal with its `siginfo` (`SIGINFO`), per-task and shared.
//!
//! On restart, `rstr` installs dispositions with `rt_sigaction` and queues pending signals
//! to itself with `rt_tgsigqueueinfo` while all signals are blocked (`do_sigaction` is not
//! exported); the module sets the final blocked mask ([`restore_blocked`]) as its last step.

use kernel::bindings;
use kernel::prelude::*;
use zerocopy::FromZeros;

use crate::error::{refuse, CkptResult, Context};
use crate::image::ImageWriter;
use crate::sys::task::{current, PendingSets, TaskRef};
use crate::uapi::image::{self as img, rec};

/// The most pending signals of one task `rstr` takes (its check of the `SIGNALS` record).
const MAX_PENDING: u32 = 4096;

/// What no task can block (`sigprocmask` ignores them too).
const UNBLOCKABLE: u64 = sig_bit(bindings::SIGKILL) | sig_bit(bindings::SIGSTOP);

/// The bit of signal `sig` (1 to 64) in a `sigset_t` word.
const fn sig_bit(sig: u32) -> u64 {
    1 << (sig - 1)
}

/// `SIGHAND` if `handlers` (the first task of its handler table), then `SIGNALS` and
/// `SIGINFO`s: signals pending for the task itself, and, for a thread-group `leader`, those
/// pending for the whole process.
pub(crate) fn checkpoint(
    task: &TaskRef,
    handlers: bool,
    leader: bool,
    w: &mut ImageWriter,
) -> CkptResult {
    if handlers {
        let mut h = img::CkptSighandRec::new_zeroed();
        task.sigactions(&mut h);
        w.fixed(rec::SIGHAND, &h)?;
    }

    let mut s = img::CkptSignalsRec::new_zeroed();
    let mut queued = KVec::new();
    let sets = task
        .signals(&mut s, &mut queued)
        .context(fmt!("pending signals"))?;
    let pending = pending_infos(&queued, &sets, leader)?;
    s.nr_pending = pending.len() as u32;
    if s.nr_pending > MAX_PENDING {
        refuse!(
            EOPNOTSUPP,
            "{} pending signals, more than the {MAX_PENDING} a restart queues again",
            s.nr_pending
        );
    }
    w.fixed(rec::SIGNALS, &s)?;
    for info in pending.iter() {
        w.fixed(rec::SIGINFO, info)?;
    }
    Ok(())
}

/// The `SIGINFO` records of a task: its queued signals (the task's own, then, for a
/// `leader`, the process's), each set followed by a `SI_KERNEL` siginfo for every signal
/// pending in it without a queue entry (the kernel could not allocate one, or it is a
/// signal the kernel sends without; the restart queues it with that siginfo).
fn pending_infos(
    queued: &[img::CkptSiginfoRec],
    sets: &PendingSets,
    leader: bool,
) -> Result<KVec<img::CkptSiginfoRec>> {
    let mut out = KVec::with_capacity(queued.len(), GFP_KERNEL_ACCOUNT)?;
    for (shared, set) in [(0, sets.private), (1, sets.shared)] {
        if shared == 1 && !leader {
            break;
        }
        let mut seen = 0u64;
        for q in queued.iter().filter(|q| q.shared == shared) {
            let signo = i32::from_ne_bytes([q.info[0], q.info[1], q.info[2], q.info[3]]);
            if (1..=bindings::_NSIG as i32).contains(&signo) {
                seen |= sig_bit(signo as u32);
            }
            out.push(*q, GFP_KERNEL_ACCOUNT)?;
        }
        for sig in 1..=bindings::_NSIG {
            if set & !seen & sig_bit(sig) != 0 {
                out.push(kernel_siginfo(sig, shared), GFP_KERNEL_ACCOUNT)?;
            }
        }
    }
    Ok(out)
}

/// The siginfo of a signal sent by the kernel: `si_signo` and `si_code` `SI_KERNEL`.
fn kernel_siginfo(sig: u32, shared: u32) -> img::CkptSiginfoRec {
    let mut r = img::CkptSiginfoRec::new_zeroed();
    r.shared = shared;
    // `siginfo_t` starts with `si_signo`, `si_errno`, `si_code` (three `int`s).
    r.info[0..4].copy_from_slice(&(sig as i32).to_ne_bytes());
    r.info[8..12].copy_from_slice(&(bindings::SI_KERNEL as i32).to_ne_bytes());
    r
}

/// Restart's last step for signals: the caller's blocked mask becomes the image's.
pub(crate) fn restore_blocked(mask: u64) -> CkptResult {
    current::set_blocked(mask & !UNBLOCKABLE).context(fmt!("signal mask"))
}

#[kunit_tests(ckpt_signal)]
mod tests {
    use super::*;

    fn queued(sig: i32, shared: u32) -> img::CkptSiginfoRec {
        let mut r = img::CkptSiginfoRec::new_zeroed();
        r.shared = shared;
        r.info[0..4].copy_from_slice(&sig.to_ne_bytes());
        r.info[8..12].copy_from_slice(&(-1i32).to_ne_bytes()); // SI_QUEUE
        r
    }

    fn signo(r: &img::CkptSiginfoRec) -> i32 {
        i32::from_ne_bytes([r.info[0], r.info[1], r.info[2], r.info[3]])
    }

    fn code(r: &img::CkptSiginfoRec) -> i32 {
        i32::from_ne_bytes([r.info[8], r.info[9], r.info[10], r.info[11]])
    }

    #[test]
    fn queued_signals_are_kept_in_order() {
        let q = [queued(10, 0), queued(10, 0), queued(12, 1)];
        let sets = PendingSets {
            private: sig_bit(10),
            shared: sig_bit(12),
        };
        let out = pending_infos(&q, &sets, true).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!((signo(&out[0]), signo(&out[2]), out[2].shared), (10, 12, 1));
        assert_eq!(code(&out[1]), -1);
    }

    #[test]
    fn unqueued_signals_get_a_kernel_siginfo() {
        // SIGUSR1 queued; SIGTERM pending for the task and SIGCHLD for the process, unqueued.
        let q = [queued(10, 0)];
        let sets = PendingSets {
            private: sig_bit(10) | sig_bit(15),
            shared: sig_bit(17),
        };
        let out = pending_infos(&q, &sets, true).unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!((signo(&out[1]), out[1].shared), (15, 0));
        assert_eq!(code(&out[1]), bindings::SI_KERNEL as i32);
        assert_eq!((signo(&out[2]), out[2].shared), (17, 1));
        assert_eq!(code(&out[2]), bindings::SI_KERNEL as i32);
        // Each record is the kernel's siginfo and nothing else.
        assert!(out[2].info[12..].iter().all(|&b| b == 0));
    }

    #[test]
    fn only_a_leader_saves_the_process_signals() {
        let q = [queued(10, 0), queued(12, 1)];
        let sets = PendingSets {
            private: sig_bit(10),
            shared: sig_bit(12) | sig_bit(17),
        };
        let out = pending_infos(&q, &sets, false).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].shared, 0);
    }

    #[test]
    fn kill_and_stop_cannot_be_blocked() {
        assert_eq!(UNBLOCKABLE, (1 << 8) | (1 << 18));
    }
}
