// SPDX-License-Identifier: GPL-2.0

//! A process's timers (saved by kmod/timers.rs, checked by [`ckptlib::timers`]): its
//! `timer_create` timers recreated with the same ids (`PR_TIMER_CREATE_RESTORE_IDS`), then
//! armed with the time that was left and their interval, then `ITIMER_REAL`; all of it
//! the last thing the process does before its restart ioctl, once its threads exist (a
//! `SIGEV_THREAD_ID` timer names one).
//!
//! A timer that expires before the restart is done neither kills the process nor is lost:
//! the process runs with every signal blocked ([`crate::signals::block_all`]) until the
//! module sets the image's mask as its last step, so the signal waits, pending, and is
//! delivered (or not, as the image's mask says) once the process runs again. Pending
//! signals of the image, a timer's among them (`SI_TIMER`), were queued again before
//! ([`crate::per_task`]): each expiry is delivered once.

use anyhow::{ensure, Context, Result};

use ckptlib::timers::{split_ns, split_us, Timers};

use crate::sys::timers::{self as sys, Notify};

/// Recreates and arms the timers of this process (`pid`, for the reasons).
pub fn restore(pid: i32, t: &Timers) -> Result<()> {
    if !t.posix.is_empty() {
        create(t).with_context(|| format!("pid {pid}: POSIX timers"))?;
    }
    for p in &t.posix {
        if p.value_ns != 0 {
            sys::timer_settime(p.id, split_ns(p.value_ns), split_ns(p.interval_ns))
                .with_context(|| format!("pid {pid}: POSIX timer {}: timer_settime", p.id))?;
        }
    }
    if t.real_value_ns != 0 || t.real_interval_ns != 0 {
        sys::set_itimer_real(split_us(t.real_value_ns), split_us(t.real_interval_ns))
            .with_context(|| format!("pid {pid}: setitimer(ITIMER_REAL)"))?;
    }
    Ok(())
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
