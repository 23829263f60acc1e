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
//! `ITIMER_VIRTUAL`, `ITIMER_PROF` and timers on CPU clocks (the process's, or one of its
//! threads') are saved the same way: their expiry is a point on the clock, so the time left
//! is that less the clock's reading now, read as `posix-cpu-timers.c` reads it (the C
//! helper's `group_sample`, `thread_sample`). Restarted, they count from the new process's
//! clock. A timer on another process's CPU clock, or on a thread that exited, and alarm
//! clocks are refused.

use kernel::bindings;
use kernel::prelude::*;

use crate::error::{refuse, CkptResult, Context};
use crate::image::ImageWriter;
use crate::session::Session;
use crate::sys::task::TaskRef;
use crate::sys::timers::{
    set_own_timer_overrun, ItimerReal, ItimersCpu, PosixTimer, TIMER_CPU, TIMER_HRTIMER,
};
use crate::uapi;
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

/// `ITIMER_PROF` and `ITIMER_VIRTUAL` (in that order) as `getitimer` reads them: time to the
/// next expiry and interval in ns. One that is due already reads a tick (`TICK_NSEC`), as
/// `get_cpu_itimer` says: its signal is about to come. `None` if one is armed and the clocks
/// could not be read.
fn itimers_cpu(c: &ItimersCpu) -> Option<[(u64, u64); 2]> {
    let mut out = [(0, 0); 2];
    for (i, o) in out.iter_mut().enumerate() {
        let (expires, incr) = (c.expires[i], c.incr[i]);
        // CPUCLOCK_PROF is 0, CPUCLOCK_VIRT 1: `it[]` and `now[]` share the index.
        let value = match expires {
            0 => 0,
            _ if c.sampled == 0 => return None,
            e if e <= c.now[i] => c.tick_ns.max(1),
            e => e - c.now[i],
        };
        *o = (value, incr);
    }
    Some(out)
}

/// The clock a CPU-clock timer is recreated on: the process's own (pid 0, as
/// `CLOCK_PROCESS_CPUTIME_ID` gives) or its thread `clock_pid`'s, of the same kind
/// (`CPUCLOCK_PROF`, `_VIRT`, `_SCHED`) as `clock`, in the kernel's encoding
/// (`make_process_cpuclock`, `make_thread_cpuclock`).
fn cpu_clock(clock: i32, clock_pid: i32) -> i32 {
    let thread = clock & bindings::CPUCLOCK_PERTHREAD_MASK as i32;
    let pid = if thread != 0 { clock_pid } else { 0 };
    ((!pid) << 3) | (clock & bindings::CPUCLOCK_CLOCK_MASK as i32) | thread
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
    if t.kind != TIMER_HRTIMER && t.kind != TIMER_CPU {
        return Err(match t.clock {
            c if c < 0 => {
                "the CPU clock of another process or of a thread that exited (or of a kernel \
                 whose CPU accounting, CONFIG_VIRT_CPU_ACCOUNTING_GEN, a module cannot read)"
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
    let clock = if t.kind == TIMER_CPU {
        if t.clock & bindings::CPUCLOCK_CLOCK_MASK as i32 >= bindings::CPUCLOCK_MAX as i32
            || t.clock_pid <= 0
        {
            return Err("an unknown CPU clock");
        }
        cpu_clock(t.clock, t.clock_pid)
    } else {
        t.clock
    };
    Ok(img::CkptPosixTimerRec {
        id: t.id,
        clock,
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
    let Some([prof, virt]) = itimers_cpu(&task.itimers_cpu()) else {
        refuse!(
            EOPNOTSUPP,
            "pid {pid} uses an armed ITIMER_VIRTUAL or ITIMER_PROF, and this kernel's CPU \
             accounting (CONFIG_VIRT_CPU_ACCOUNTING_GEN) keeps the process's CPU time out of a \
             module's reach: not supported"
        );
    };
    let mut raw = KVec::new();
    task.posix_timers(ns, img::CKPT_MAX_POSIX_TIMERS, &mut raw)
        .context(fmt!("pid {pid}: POSIX timers"))?;
    let interval_timers = [(real_value_ns, real_interval_ns), prof, virt];
    if interval_timers.iter().all(|&t| t == (0, 0)) && raw.is_empty() {
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
        virt_value_ns: virt.0,
        virt_interval_ns: virt.1,
        prof_value_ns: prof.0,
        prof_interval_ns: prof.1,
        nr_posix: recs.len() as u32,
        __reserved: 0,
    };
    w.fixed(rec::ITIMERS, &i)?;
    for r in recs.iter() {
        w.fixed(rec::POSIX_TIMER, r)?;
    }
    Ok(())
}

/// `CKPT_IOC_RESTART_TIMER`: while its session restores tasks, the caller sets the overrun
/// of one of its process's POSIX timers, as the image saved it (`rstr` does it right after
/// it recreated the timers). Only its own process's timers, and only a count the kernel
/// could have reached (`0..=INT_MAX`, as `timer_getoverrun` returns it).
pub(crate) fn restart_overrun(session: &Session, a: &uapi::CkptTimerArgs) -> CkptResult {
    if a.flags != 0 || a.__reserved != 0 {
        refuse!(
            EINVAL,
            "unknown flags {:#x} or reserved field not 0",
            a.flags
        );
    }
    if a.id < 0 || a.overrun < 0 {
        refuse!(EINVAL, "POSIX timer {}: overrun {}", a.id, a.overrun);
    }
    session.restoring()?;
    Ok(set_own_timer_overrun(a.id, a.overrun)?)
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
            kind: TIMER_HRTIMER,
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
        (t.clock, t.kind) = (-6, 0);
        assert!(posix_record(&t).unwrap_err().contains("another process"));
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
    fn cpu_itimers_as_getitimer_reads_them() {
        let c = ItimersCpu {
            // PROF due 30 ms of CPU time on, VIRT due already (its signal is coming).
            expires: [530 * MS as u64, 90 * MS as u64],
            incr: [50 * MS as u64, 0],
            now: [500 * MS as u64, 100 * MS as u64, 501 * MS as u64],
            tick_ns: 4 * MS as u64,
            sampled: 1,
            __pad: 0,
        };
        let [prof, virt] = itimers_cpu(&c).unwrap();
        assert_eq!(prof, (30 * MS as u64, 50 * MS as u64));
        assert_eq!(virt, (4 * MS as u64, 0));
        // Disarmed with an interval kept (setitimer with a zero value): read as such.
        let c2 = ItimersCpu {
            expires: [0, 0],
            incr: [0, 7],
            sampled: 0,
            ..c
        };
        assert_eq!(itimers_cpu(&c2), Some([(0, 0), (0, 7)]));
        // Armed and the clocks unread: nothing can be said of it.
        assert!(itimers_cpu(&ItimersCpu { sampled: 0, ..c }).is_none());
    }

    #[test]
    fn cpu_clock_timers_keep_their_clock_and_time_left() {
        let mut t = timer(20 * MS, 0);
        // CLOCK_PROCESS_CPUTIME_ID as timer_create keeps it (PROCESS_CLOCK: pid 0, SCHED),
        // and as clock_getcpuclockid(getpid()) gives it (pid 321): both the process's own.
        for clock in [-6, ((!321) << 3) | 2] {
            (t.clock, t.kind, t.clock_pid) = (clock, TIMER_CPU, 321);
            let r = posix_record(&t).unwrap();
            assert_eq!((r.clock, r.value_ns), (-6, 20 * MS as u64));
        }
        // A thread's PROF clock (CLOCK_THREAD_CPUTIME_ID is SCHED | 4): named by its tid.
        t.clock = ((!0) << 3) | 4;
        t.clock_pid = 322;
        assert_eq!(posix_record(&t).unwrap().clock, ((!322) << 3) | 4);
        // Fired and its signal not delivered: moved on as bump_cpu_timer moves it.
        let mut t = timer(-70 * MS, 30 * MS);
        (t.clock, t.kind, t.clock_pid, t.armed) = (-6, TIMER_CPU, 321, 0);
        assert_eq!(posix_record(&t).unwrap().value_ns, 20 * MS as u64);
        // A SIGEV_NONE one-shot is never POSIX_TIMER_ARMED; its expiry tells it is armed.
        let mut none = timer(900 * MS, 0);
        none.notify = bindings::SIGEV_NONE as i32;
        (none.clock, none.kind, none.clock_pid, none.armed) = (-6, TIMER_CPU, 321, 0);
        assert_eq!(posix_record(&none).unwrap().value_ns, 900 * MS as u64);
        t.clock = -5; // which 3: no such clock
        assert!(posix_record(&t).unwrap_err().contains("unknown CPU clock"));
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
