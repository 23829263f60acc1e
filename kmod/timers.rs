// SPDX-License-Identifier: GPL-2.0

//! A process's timers, checkpoint side: `ITIMER_REAL` and its `timer_create` timers, as the
//! `ITIMERS` record and its `POSIX_TIMER`s, written with the thread-group leader's records.
//!
//! Each remaining time is what `getitimer`/`timer_gettime` would return at that instant
//! (`do_getitimer`, `common_timer_get`), computed here from the raw facts without touching
//! the timers: an interval timer whose signal is still pending (it re-arms on delivery) is
//! moved forward by whole intervals past now. That signal itself is one of the pending
//! signals [`crate::signal`] saves (`si_code` `SI_TIMER`, or `SI_KERNEL` for SIGALRM), which
//! `rstr` queues again: restored once, and the restored timer's next expiry is the one after
//! it. `rstr` recreates the timers with the same ids (`PR_TIMER_CREATE_RESTORE_IDS`) and
//! arms them with these relative times (Documentation/files.rst, "Timers").
//!
//! `ITIMER_VIRTUAL` and `ITIMER_PROF` are refused in [`crate::task`], and so are timers on
//! CPU-time clocks here: the process's CPU clock (`thread_group_sample_cputime`) is not
//! exported. Alarm clocks are refused too.

use kernel::bindings;
use kernel::prelude::*;

use crate::error::{refuse, CkptResult, Context};
use crate::image::ImageWriter;
use crate::sys::task::TaskRef;
use crate::sys::timers::{ItimerReal, PosixTimer};
use crate::uapi::image::{self as img, rec};

/// `sigev_notify` of a timer signalling one thread.
const SIGEV_THREAD_ID: i32 = (bindings::SIGEV_SIGNAL | bindings::SIGEV_THREAD_ID) as i32;

/// The time to an expiry `remaining` ns away (<= 0: past) of a timer of `interval` ns that
/// re-arms from its last expiry, once moved forward by whole intervals to after now, as
/// `hrtimer_forward` moves it: in `1..=interval` for a past expiry.
fn forward(remaining: i64, interval: i64) -> i64 {
    if remaining > 0 || interval <= 0 {
        return remaining;
    }
    let late = remaining.unsigned_abs();
    let interval = interval as u64;
    // `interval - late % interval` is in `1..=interval`, which fits an `i64`.
    (interval - late % interval) as i64
}

/// `ITIMER_REAL`'s time to its next expiry and interval, in ns, as `getitimer` reads them,
/// except for a periodic timer that fired and whose SIGALRM is pending: `getitimer` says 0
/// until the SIGALRM's dequeue re-arms it one interval on, which is what is saved.
fn itimer_real(r: &ItimerReal) -> (u64, u64) {
    let value = if r.active != 0 {
        // `itimer_get_remtime`: an expired timer whose callback has not run yet.
        r.remaining.max(i64::from(bindings::NSEC_PER_USEC))
    } else if r.interval != 0 && r.sigalrm_pending != 0 {
        forward(r.remaining, r.interval.min(i64::MAX as u64) as i64)
    } else {
        0
    };
    (value as u64, r.interval)
}

/// A timer's time to its next expiry in ns, as `common_timer_get` computes it (without
/// moving the timer forward).
fn posix_value(t: &PosixTimer) -> u64 {
    let sig_none = t.notify == bindings::SIGEV_NONE as i32;
    if t.interval == 0 && t.disarmed != 0 {
        return 0;
    }
    let mut remaining = t.remaining;
    if t.interval > 0 && (sig_none || t.armed == 0) {
        remaining = forward(remaining, t.interval);
    }
    match remaining {
        // An expired SIGEV_NONE one-shot reads 0; any other's signal is still to come.
        ..=0 if sig_none => 0,
        ..=0 => 1,
        r => r as u64,
    }
}

/// The `POSIX_TIMER` record of `t`, or what of it cannot be saved.
fn posix_record(t: &PosixTimer) -> Result<img::CkptPosixTimerRec, &'static str> {
    if t.hrtimer == 0 {
        return Err(match t.clock {
            c if c < 0 => {
                "a CPU-time clock (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID or \
                 clock_getcpuclockid), whose time is not reachable from a module"
            }
            c if c == bindings::CLOCK_REALTIME_ALARM as i32
                || c == bindings::CLOCK_BOOTTIME_ALARM as i32 =>
            {
                "an alarm clock (CLOCK_REALTIME_ALARM, CLOCK_BOOTTIME_ALARM)"
            }
            _ => "a clock other than CLOCK_REALTIME, _MONOTONIC, _BOOTTIME and _TAI",
        });
    }
    let signals = t.notify != bindings::SIGEV_NONE as i32;
    let known = [
        bindings::SIGEV_SIGNAL as i32,
        bindings::SIGEV_NONE as i32,
        bindings::SIGEV_THREAD as i32,
        SIGEV_THREAD_ID,
    ];
    if !known.contains(&t.notify) {
        return Err("an unknown notification (sigev_notify)");
    }
    if signals && !(1..=bindings::_NSIG as i32).contains(&t.signo) {
        return Err("a signal number out of 1..64");
    }
    if t.notify == SIGEV_THREAD_ID && t.target <= 0 {
        return Err("SIGEV_THREAD_ID to a thread that exited");
    }
    if t.id < 0 || t.interval < 0 {
        return Err("a negative id or interval");
    }
    Ok(img::CkptPosixTimerRec {
        id: t.id,
        clock: t.clock,
        notify: t.notify,
        signo: if signals { t.signo } else { 0 },
        tid: if t.notify == SIGEV_THREAD_ID {
            t.target
        } else {
            0
        },
        overrun: t.overrun_last.clamp(0, i64::from(i32::MAX)) as i32,
        value: t.value,
        value_ns: posix_value(t),
        interval_ns: t.interval as u64,
        flags: if t.pending != 0 && signals {
            img::CKPT_POSIX_TIMER_PENDING
        } else {
            0
        },
        __reserved: 0,
    })
}

/// `ITIMERS` and the `POSIX_TIMER`s of the process of `task`, its thread-group leader
/// (pid `pid`), if it has an `ITIMER_REAL` armed or with an interval, or a timer; pids as
/// seen in the namespace of `ns`. A process that `shares_mm` with its parent (`CLONE_VM`)
/// is restored by its parent's restart path, which does not create timers: refused.
pub(crate) fn checkpoint(
    task: &TaskRef,
    ns: Option<&TaskRef>,
    pid: i32,
    shares_mm: bool,
    w: &mut ImageWriter,
) -> CkptResult {
    let (real_value_ns, real_interval_ns) = itimer_real(&task.itimer_real());
    let mut raw = KVec::new();
    task.posix_timers(ns, img::CKPT_MAX_POSIX_TIMERS, &mut raw)
        .context(fmt!("pid {pid}: POSIX timers"))?;
    if real_value_ns == 0 && real_interval_ns == 0 && raw.is_empty() {
        return Ok(());
    }
    if shares_mm {
        refuse!(
            EOPNOTSUPP,
            "pid {pid} shares its parent's memory (CLONE_VM) and has timers (setitimer or \
             timer_create): not supported yet"
        );
    }
    if raw.len() > img::CKPT_MAX_POSIX_TIMERS as usize {
        refuse!(
            EOPNOTSUPP,
            "pid {pid} has more POSIX timers than the {} an image holds",
            img::CKPT_MAX_POSIX_TIMERS
        );
    }
    let mut recs = KVec::with_capacity(raw.len(), GFP_KERNEL_ACCOUNT)?;
    for t in raw.iter() {
        match posix_record(t) {
            Ok(r) => recs.push(r, GFP_KERNEL_ACCOUNT)?,
            Err(what) => refuse!(
                EOPNOTSUPP,
                "pid {pid}: POSIX timer {} (timer_create) uses {what}: not supported yet",
                t.id
            ),
        }
    }
    recs.sort_unstable_by_key(|r| r.id);
    let i = img::CkptItimersRec {
        real_value_ns,
        real_interval_ns,
        nr_posix: recs.len() as u32,
        __reserved: 0,
    };
    w.fixed(rec::ITIMERS, &i)?;
    for r in recs.iter() {
        w.fixed(rec::POSIX_TIMER, r)?;
    }
    Ok(())
}

#[kunit_tests(ckpt_timers)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    fn timer(remaining: i64, interval: i64) -> PosixTimer {
        PosixTimer {
            id: 3,
            clock: bindings::CLOCK_MONOTONIC as i32,
            notify: bindings::SIGEV_SIGNAL as i32,
            signo: 10,
            hrtimer: 1,
            armed: 1,
            remaining,
            interval,
            value: 0xfeed,
            ..PosixTimer::default()
        }
    }

    #[test]
    fn forward_lands_within_one_interval() {
        assert_eq!(forward(5 * MS, 30 * MS), 5 * MS);
        assert_eq!(forward(0, 30 * MS), 30 * MS);
        assert_eq!(forward(-MS, 30 * MS), 29 * MS);
        assert_eq!(forward(-30 * MS, 30 * MS), 30 * MS);
        assert_eq!(forward(-95 * MS, 30 * MS), 25 * MS);
        assert_eq!(
            forward(i64::MIN, 7),
            7 - (i64::MIN.unsigned_abs() % 7) as i64
        );
        // A one-shot is not moved.
        assert_eq!(forward(-MS, 0), -MS);
    }

    #[test]
    fn itimer_real_as_getitimer_and_dequeue_see_it() {
        let r = |remaining, interval, active, pending| ItimerReal {
            remaining,
            interval,
            active,
            sigalrm_pending: pending,
        };
        assert_eq!(itimer_real(&r(3000 * MS, 0, 1, 0)), (3000 * MS as u64, 0));
        // Expired, its callback not run yet: 1 us, as itimer_get_remtime says.
        assert_eq!(itimer_real(&r(-5, 0, 1, 0)), (1000, 0));
        // Fired, SIGALRM pending: the dequeue re-arms it on the interval's grid.
        let iv = 20 * MS as u64;
        assert_eq!(itimer_real(&r(-5 * MS, iv, 0, 1)), (15 * MS as u64, iv));
        // Fired and the SIGALRM was ignored (dropped): nothing re-arms it.
        assert_eq!(itimer_real(&r(-5 * MS, iv, 0, 0)), (0, iv));
        assert_eq!(itimer_real(&r(0, 0, 0, 1)), (0, 0));
    }

    #[test]
    fn posix_remaining_as_timer_gettime() {
        assert_eq!(posix_value(&timer(2500 * MS, 0)), 2500 * MS as u64);
        // Fired, its signal pending (requeue pending): moved past now.
        let mut t = timer(-40 * MS, 30 * MS);
        t.armed = 0;
        assert_eq!(posix_value(&t), 20 * MS as u64);
        // A fired one-shot is disarmed.
        let mut t = timer(-MS, 0);
        (t.armed, t.disarmed) = (0, 1);
        assert_eq!(posix_value(&t), 0);
        // Armed but its callback waits for the lock: the signal is still to come.
        assert_eq!(posix_value(&timer(-1, 0)), 1);
        // SIGEV_NONE: expired one-shot 0, periodic moved forward though "armed".
        let mut t = timer(-1, 0);
        t.notify = bindings::SIGEV_NONE as i32;
        assert_eq!(posix_value(&t), 0);
        t.interval = 10 * MS;
        assert_eq!(posix_value(&t), (10 * MS - 1) as u64);
    }

    #[test]
    fn records_keep_the_timer_and_refuse_what_cannot_be_saved() {
        let r = posix_record(&timer(MS, 30 * MS)).unwrap();
        assert_eq!((r.id, r.signo, r.tid, r.value), (3, 10, 0, 0xfeed));
        assert_eq!((r.value_ns, r.interval_ns), (MS as u64, 30 * MS as u64));
        let mut t = timer(MS, 0);
        (t.notify, t.target) = (SIGEV_THREAD_ID, 77);
        assert_eq!(posix_record(&t).unwrap().tid, 77);
        t.target = 0;
        assert!(posix_record(&t).unwrap_err().contains("exited"));
        let mut t = timer(MS, 0);
        (t.clock, t.hrtimer) = (-6, 0);
        assert!(posix_record(&t).unwrap_err().contains("CPU-time"));
        t.clock = bindings::CLOCK_BOOTTIME_ALARM as i32;
        assert!(posix_record(&t).unwrap_err().contains("alarm"));
        let mut t = timer(MS, 0);
        t.signo = 65;
        assert!(posix_record(&t).is_err());
        t.notify = bindings::SIGEV_NONE as i32;
        assert_eq!(posix_record(&t).unwrap().signo, 0);
        t.notify = 3;
        assert!(posix_record(&t).unwrap_err().contains("notification"));
    }

    #[test]
    fn a_queued_signal_is_saved_with_its_timer() {
        let mut t = timer(-MS, 0);
        (t.armed, t.disarmed, t.pending) = (0, 1, 1);
        let r = posix_record(&t).unwrap();
        assert_eq!((r.flags, r.value_ns), (img::CKPT_POSIX_TIMER_PENDING, 0));
        // Periodic: the next expiry within one interval, as ckptlib checks.
        let mut t = timer(-40 * MS, 30 * MS);
        (t.armed, t.pending) = (0, 1);
        let r = posix_record(&t).unwrap();
        assert!(r.flags == img::CKPT_POSIX_TIMER_PENDING && r.value_ns <= r.interval_ns);
        assert_eq!(posix_record(&timer(MS, 0)).unwrap().flags, 0);
    }
}
