// SPDX-License-Identifier: GPL-2.0

//! eventfds, timerfds and signalfds, made again from their `EVENTFD`, `TIMERFD` and
//! `SIGNALFD` records (checked by `ckptlib::restart::scan`), once per open file
//! description: [`crate::files::park`] shares the descriptor as it does any file.
//!
//! - eventfd: `eventfd2(0)` then one `write` of the count (`eventfd2` takes 32 bits only);
//! - timerfd: `timerfd_create`, `timerfd_settime` with the time that remained, so that it
//!   fires when it would have had the process not been stopped (a timer armed with
//!   `TFD_TIMER_ABSTIME` on `CLOCK_REALTIME` at the same wall-clock time instead), then
//!   the expirations not yet read with `TFD_IOC_SET_TICKS`;
//! - signalfd: `signalfd4` with the mask.

use std::os::fd::{AsFd, OwnedFd};

use anyhow::{Context, Result};
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::eventfd::{EfdFlags, EventFd};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

use ckptlib::abi::image::{self as img, CkptTimerfdRec};
use ckptlib::anonfd::AnonFd;
use ckptlib::restart::OpenFile;

use crate::sys;

const NSEC_PER_SEC: u64 = 1_000_000_000;

/// How a timerfd is armed again: the first expiration (relative unless `abstime`), the
/// period, and the expirations a read returns before any new one.
#[derive(Debug, PartialEq, Eq)]
struct Arm {
    value: (u64, u64),
    interval: (u64, u64),
    abstime: bool,
    ticks: u64,
}

fn add(a: (u64, u64), b: (u64, u64)) -> (u64, u64) {
    let nsec = a.1 + b.1;
    (a.0 + b.0 + nsec / NSEC_PER_SEC, nsec % NSEC_PER_SEC)
}

/// The arming of a timerfd from its record (whose times are below `TIME_SEC_MAX`, the
/// nanoseconds below a second: no sum overflows).
///
/// A value of 0 is a timer that is disarmed, or that expired and is not armed again until
/// read (a periodic one re-arms when read, counting the periods missed since): a periodic
/// one is armed one period ahead, its expirations kept; one with none (it was due as it was
/// saved) fires at once. A one-shot one stays disarmed, its expirations kept.
fn arm_of(t: &CkptTimerfdRec) -> Arm {
    let value = (t.value_sec, t.value_nsec);
    let interval = (t.interval_sec, t.interval_nsec);
    let abstime = t.settime_flags & img::CKPT_TFD_TIMER_ABSTIME != 0
        && t.clockid == libc::CLOCK_REALTIME as u32;
    let (value, abstime) = if value != (0, 0) {
        if abstime {
            (add((t.now_sec, t.now_nsec), value), true)
        } else {
            (value, false)
        }
    } else if interval != (0, 0) {
        (if t.ticks > 0 { interval } else { (0, 1) }, false)
    } else {
        ((0, 0), false)
    };
    Arm {
        value,
        interval,
        abstime,
        ticks: t.ticks,
    }
}

fn timespec((sec, nsec): (u64, u64)) -> TimeSpec {
    // Bounded by the record's checks: both fit.
    TimeSpec::new(sec as libc::time_t, nsec as libc::c_long)
}

fn timerfd(t: &CkptTimerfdRec, fd: i32, flags: TimerFlags) -> Result<OwnedFd> {
    let clock = match t.clockid as i32 {
        libc::CLOCK_REALTIME => ClockId::CLOCK_REALTIME,
        libc::CLOCK_MONOTONIC => ClockId::CLOCK_MONOTONIC,
        // `scan` let no other through.
        _ => ClockId::CLOCK_BOOTTIME,
    };
    let tfd = TimerFd::new(clock, flags).with_context(|| format!("fd {fd}: timerfd_create"))?;
    let arm = arm_of(t);
    if arm.value != (0, 0) {
        let flags = if arm.abstime {
            TimerSetTimeFlags::TFD_TIMER_ABSTIME
        } else {
            TimerSetTimeFlags::empty()
        };
        let e = Expiration::IntervalDelayed(timespec(arm.value), timespec(arm.interval));
        tfd.set(e, flags).with_context(|| {
            format!(
                "fd {fd}: timerfd_settime({}.{:09} s, every {}.{:09} s)",
                arm.value.0, arm.value.1, arm.interval.0, arm.interval.1
            )
        })?;
    }
    if arm.ticks > 0 {
        sys::anonfd::set_ticks(tfd.as_fd(), arm.ticks).with_context(|| {
            format!(
                "fd {fd}: timerfd: restoring {} expirations not yet read (TFD_IOC_SET_TICKS)",
                arm.ticks
            )
        })?;
    }
    Ok(tfd.into())
}

/// Makes the eventfd, timerfd or signalfd `a` whose descriptor `f` is (the first of its
/// description), with the status flags of its `FILE` record.
pub fn make(a: &AnonFd, f: &OpenFile) -> Result<OwnedFd> {
    let r = &f.rec;
    let fd = r.fd;
    let flags = OFlag::from_bits_retain(r.flags as i32);
    let (nonblock, cloexec) = (
        flags.contains(OFlag::O_NONBLOCK),
        flags.contains(OFlag::O_CLOEXEC),
    );
    let made: OwnedFd = match a {
        AnonFd::Eventfd(e) => {
            let mut ef = EfdFlags::empty();
            ef.set(
                EfdFlags::EFD_SEMAPHORE,
                e.flags & img::CKPT_EFD_SEMAPHORE != 0,
            );
            ef.set(EfdFlags::EFD_NONBLOCK, nonblock);
            ef.set(EfdFlags::EFD_CLOEXEC, cloexec);
            let efd = EventFd::from_value_and_flags(0, ef)
                .with_context(|| format!("fd {fd}: eventfd2"))?;
            if e.count > 0 {
                // From 0, any count below ULLONG_MAX goes in at once, without blocking.
                efd.write(e.count)
                    .with_context(|| format!("fd {fd}: eventfd: writing its count {}", e.count))?;
            }
            efd.into()
        }
        AnonFd::Timerfd(t) => {
            let mut tf = TimerFlags::empty();
            tf.set(TimerFlags::TFD_NONBLOCK, nonblock);
            tf.set(TimerFlags::TFD_CLOEXEC, cloexec);
            timerfd(t, fd, tf)?
        }
        AnonFd::Signalfd(s) => {
            let mut sf = SfdFlags::empty();
            sf.set(SfdFlags::SFD_NONBLOCK, nonblock);
            sf.set(SfdFlags::SFD_CLOEXEC, cloexec);
            SignalFd::with_flags(&sys::anonfd::sigset(s.mask), sf)
                .with_context(|| format!("fd {fd}: signalfd4 of mask {:#x}", s.mask))?
                .into()
        }
    };
    // `O_APPEND`, set by `F_SETFL` (the record's other flags are checked to be these).
    let status = flags & (OFlag::O_NONBLOCK | OFlag::O_APPEND);
    fcntl(&made, FcntlArg::F_SETFL(status)).with_context(|| format!("fd {fd}: flags"))?;
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    fn timer(value: (u64, u64), interval: (u64, u64), ticks: u64) -> CkptTimerfdRec {
        let mut t = CkptTimerfdRec::new_zeroed();
        (t.id, t.clockid, t.ticks) = (1, libc::CLOCK_MONOTONIC as u32, ticks);
        (t.value_sec, t.value_nsec) = value;
        (t.interval_sec, t.interval_nsec) = interval;
        (t.now_sec, t.now_nsec) = (1_700_000_000, 900_000_000);
        t
    }

    #[test]
    fn timers_are_armed_with_what_remained() {
        let ms50 = (0, 50_000_000);
        // Armed: the time that remained, the period and the unread expirations kept.
        let a = arm_of(&timer((0, 20_000_000), ms50, 3));
        assert_eq!(
            a,
            Arm {
                value: (0, 20_000_000),
                interval: ms50,
                abstime: false,
                ticks: 3
            }
        );
        // Expired and not re-armed until read: one period ahead; due as it was saved: now.
        assert_eq!(arm_of(&timer((0, 0), ms50, 2)).value, ms50);
        assert_eq!(arm_of(&timer((0, 0), ms50, 0)).value, (0, 1));
        // A one-shot timer that expired stays disarmed with its expiration.
        let a = arm_of(&timer((0, 0), (0, 0), 1));
        assert_eq!((a.value, a.ticks), ((0, 0), 1));
    }

    #[test]
    fn absolute_wall_clock_timers_keep_their_wall_clock_time() {
        let mut t = timer((2, 200_000_000), (0, 0), 0);
        t.settime_flags = img::CKPT_TFD_TIMER_ABSTIME;
        // On CLOCK_MONOTONIC the remaining time, relative.
        assert!(!arm_of(&t).abstime);
        t.clockid = libc::CLOCK_REALTIME as u32;
        let a = arm_of(&t);
        assert!(a.abstime);
        assert_eq!(a.value, (1_700_000_003, 100_000_000));
    }
}
