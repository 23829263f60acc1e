// SPDX-License-Identifier: GPL-2.0

//! A process's timers (saved by kmod/timers.rs, checked by [`ckptlib::timers`]): its
//! `timer_create` timers recreated with the same ids (`PR_TIMER_CREATE_RESTORE_IDS`), then
//! armed with the time that was left and their interval, then `ITIMER_VIRTUAL`,
//! `ITIMER_PROF` and `ITIMER_REAL`; all of it the last thing the process does before its
//! restart ioctl, once its threads exist (a `SIGEV_THREAD_ID` timer names one, and so does
//! a timer on a thread's CPU clock).
//!
//! A timer on a CPU clock counts the new process's CPU time from there: the CPU time its
//! restart ioctl takes after that (loading its memory, in the kernel) counts too, so one
//! on a clock that counts system time (`ITIMER_PROF`, `CLOCK_PROCESS_CPUTIME_ID`, ...)
//! expires that much early; `ITIMER_VIRTUAL` and the `_VIRT` clocks count user time only.
//!
//! A timer that expires before the restart is done neither kills the process nor is lost:
//! the process runs with every signal blocked ([`crate::signals::block_all`]) until the
//! module sets the image's mask as its last step, so the signal waits, pending, and is
//! delivered (or not, as the image's mask says) once the process runs again.
//!
//! A timer that had fired with its signal still pending (`CKPT_POSIX_TIMER_PENDING`; the
//! module leaves a timer's own signal out of the pending signals it saves) is made to fire
//! again at once, so that the signal pending after restart is the timer's own, as before:
//! while it waits, later expiries only count as its overrun, and its delivery re-arms the
//! timer. A periodic one is armed at an absolute time one interval before its saved next
//! expiry, already past: it fires now, and that delivery re-arms it on the saved phase.

use std::os::fd::RawFd;

use anyhow::{ensure, Context, Result};

use ckptlib::abi::image::{CkptPosixTimerRec, CKPT_POSIX_TIMER_PENDING};
use ckptlib::timers::{split_ns, split_us, Timers};

use crate::sys::timers::{self as sys, Arm, Itimer, Notify};

/// Recreates and arms the timers of this process (`pid`, for the reasons).
pub fn restore(pid: i32, t: &Timers, dev: RawFd) -> Result<()> {
    if !t.posix.is_empty() {
        create(t).with_context(|| format!("pid {pid}: POSIX timers"))?;
    }
    for p in &t.posix {
        let (how, value) = if p.flags & CKPT_POSIX_TIMER_PENDING != 0 {
            fire_now(p)?
        } else if p.value_ns != 0 {
            (Arm::Relative, p.value_ns)
        } else {
            continue;
        };
        sys::timer_settime(p.id, how, split_ns(value), split_ns(p.interval_ns))
            .with_context(|| format!("pid {pid}: POSIX timer {}: timer_settime", p.id))?;
    }
    // After timer_settime, which resets it (posix_timer_set_common): a timer that fires
    // from here on (one whose signal was pending fires at once) sets it again when its
    // signal is delivered, as it would have.
    for p in t.posix.iter().filter(|p| p.overrun != 0) {
        sys::set_overrun(dev, p.id, p.overrun).with_context(|| {
            format!(
                "pid {pid}: POSIX timer {}: CKPT_IOC_RESTART_TIMER (its overrun)",
                p.id
            )
        })?;
    }
    for (which, it) in [
        (Itimer::Virtual, t.virt),
        (Itimer::Prof, t.prof),
        (Itimer::Real, t.real),
    ] {
        if it.is_set() {
            sys::set_itimer(which, split_us(it.value_ns), split_us(it.interval_ns))
                .with_context(|| format!("pid {pid}: setitimer({})", which.name()))?;
        }
    }
    Ok(())
}

/// How to arm the timer `p`, whose signal was pending, so that it fires at once: a
/// one-shot 1 ns from now; a periodic one at `now + value_ns - interval_ns` of its clock
/// (`value_ns <= interval_ns`, checked by ckptlib), at or before now, so that the re-arm
/// of its delivery puts its next expiry `value_ns` after now.
fn fire_now(p: &CkptPosixTimerRec) -> Result<(Arm, u64)> {
    if p.interval_ns == 0 {
        return Ok((Arm::Relative, 1));
    }
    let now = sys::clock_now(p.clock)
        .with_context(|| format!("POSIX timer {}: clock_gettime({})", p.id, p.clock))?;
    // Each at most `i64::MAX` (ckptlib checks `value_ns`): checked all the same.
    match now
        .checked_add(p.value_ns)
        .and_then(|t| t.checked_sub(p.interval_ns))
    {
        Some(at) if at > 0 => Ok((Arm::Absolute, at)),
        // A clock younger than one interval: from now, the phase is lost.
        _ => Ok((Arm::Relative, 1)),
    }
}

/// Creates every POSIX timer, disarmed, with its id.
fn create(t: &Timers) -> Result<()> {
    sys::restore_ids(sys::RESTORE_IDS_ON).context(
        "prctl(PR_TIMER_CREATE_RESTORE_IDS): this kernel cannot create a timer with a chosen \
         id (Linux 6.15 and later can)",
    )?;
    let made = t.posix.iter().try_for_each(|p| {
        let n = Notify {
            notify: p.notify,
            signo: p.signo,
            value: p.value,
            tid: p.tid,
        };
        let got = sys::timer_create(p.clock, &n, p.id)
            .with_context(|| format!("timer {}: timer_create", p.id))?;
        if got != p.id {
            // Not ours to keep: the kernel ignored the id asked for.
            let _ = sys::timer_delete(got);
        }
        ensure!(got == p.id, "timer {}: the kernel gave id {got}", p.id);
        Ok(())
    });
    // Off again in any case: the process's own timer_create calls take any id.
    let off =
        sys::restore_ids(sys::RESTORE_IDS_OFF).context("prctl(PR_TIMER_CREATE_RESTORE_IDS, off)");
    made.and(off)
}
