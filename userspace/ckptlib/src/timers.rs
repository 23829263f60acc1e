// SPDX-License-Identifier: GPL-2.0

//! A process's timers as a restart takes them: its `ITIMERS` record and the `POSIX_TIMER`s
//! after it, every field checked ([`Timers::check`], and [`check_targets`] once the whole
//! tree is read), so that `rstr` passes only values the kernel takes as the image means them.

use anyhow::{bail, ensure, Result};

use crate::abi::image as img;

/// The clocks a saved timer may be on (the checkpoint refuses the others).
pub const CLOCKS: [i32; 4] = [
    libc::CLOCK_REALTIME,
    libc::CLOCK_MONOTONIC,
    libc::CLOCK_BOOTTIME,
    libc::CLOCK_TAI,
];

/// `sigev_notify` of a timer signalling one thread, as the kernel keeps it.
pub const SIGEV_THREAD_ID: i32 = libc::SIGEV_SIGNAL | libc::SIGEV_THREAD_ID;

/// `ITIMER_REAL` and the `timer_create` timers of one process, checked.
#[derive(Debug, Clone)]
pub struct Timers {
    /// `ITIMER_REAL`: nanoseconds to the next expiry (0: disarmed) and the interval.
    pub real_value_ns: u64,
    pub real_interval_ns: u64,
    /// In increasing id.
    pub posix: Vec<img::CkptPosixTimerRec>,
}

/// A time of the image in nanoseconds, which the kernel keeps as a signed `ktime_t`.
fn ns(what: &str, v: u64) -> Result<u64> {
    ensure!(
        v <= i64::MAX as u64,
        "{what} {v} ns is beyond the kernel's time"
    );
    Ok(v)
}

/// What is wrong with one `POSIX_TIMER` record, if anything.
fn check_posix(t: &img::CkptPosixTimerRec) -> Result<()> {
    let id = t.id;
    ensure!(id >= 0, "POSIX_TIMER record: id {id} is negative");
    ensure!(
        CLOCKS.contains(&t.clock),
        "POSIX_TIMER {id}: clock {} is not CLOCK_REALTIME, _MONOTONIC, _BOOTTIME or _TAI",
        t.clock
    );
    match t.notify {
        libc::SIGEV_NONE => ensure!(
            t.signo == 0,
            "POSIX_TIMER {id}: SIGEV_NONE with signal {}",
            t.signo
        ),
        libc::SIGEV_SIGNAL | libc::SIGEV_THREAD | SIGEV_THREAD_ID => ensure!(
            (1..=img::CKPT_NSIG as i32).contains(&t.signo),
            "POSIX_TIMER {id}: signal {} is not in 1..64",
            t.signo
        ),
        n => bail!("POSIX_TIMER {id}: notification {n} is unknown"),
    }
    ensure!(
        (t.notify == SIGEV_THREAD_ID) == (t.tid > 0),
        "POSIX_TIMER {id}: thread {} with notification {}",
        t.tid,
        t.notify
    );
    ensure!(t.overrun >= 0, "POSIX_TIMER {id}: overrun {}", t.overrun);
    ns("POSIX_TIMER value", t.value_ns)?;
    ns("POSIX_TIMER interval", t.interval_ns)?;
    ensure!(
        t.value_ns != 0 || t.interval_ns == 0,
        "POSIX_TIMER {id}: disarmed, with an interval"
    );
    ensure!(
        t.flags & !img::CKPT_POSIX_TIMER_PENDING == 0 && t.__reserved == 0,
        "POSIX_TIMER {id}: unknown flags {:#x} or reserved bits set",
        t.flags
    );
    ensure!(
        t.flags & img::CKPT_POSIX_TIMER_PENDING == 0 || t.notify != libc::SIGEV_NONE,
        "POSIX_TIMER {id}: a pending signal with SIGEV_NONE"
    );
    ensure!(
        t.flags & img::CKPT_POSIX_TIMER_PENDING == 0 || t.value_ns <= t.interval_ns,
        "POSIX_TIMER {id}: a pending signal, and {} ns to the next expiry, more than its interval",
        t.value_ns
    );
    Ok(())
}

impl Timers {
    /// The timers of the process whose leader is `e`, from its `ITIMERS` record `i` and the
    /// `POSIX_TIMER`s that followed it.
    pub fn check(
        e: &img::CkptTreeEntry,
        i: img::CkptItimersRec,
        posix: Vec<img::CkptPosixTimerRec>,
    ) -> Result<Timers> {
        ensure!(
            e.pid == e.tgid,
            "ITIMERS record with thread {} of process {}: timers are the process's",
            e.pid,
            e.tgid
        );
        ns("ITIMER_REAL value", i.real_value_ns)?;
        ns("ITIMER_REAL interval", i.real_interval_ns)?;
        for t in &posix {
            check_posix(t)?;
        }
        for w in posix.windows(2) {
            ensure!(
                w[0].id < w[1].id,
                "POSIX_TIMER {} after {}: not in increasing id",
                w[1].id,
                w[0].id
            );
        }
        Ok(Timers {
            real_value_ns: i.real_value_ns,
            real_interval_ns: i.real_interval_ns,
            posix,
        })
    }

    /// Whether anything is to be restored.
    pub fn is_empty(&self) -> bool {
        self.real_value_ns == 0 && self.real_interval_ns == 0 && self.posix.is_empty()
    }
}

/// Every `SIGEV_THREAD_ID` timer signals a live thread of its own process in the image.
/// `timers` is one per `tree` entry.
pub fn check_targets<'a>(
    tree: &[img::CkptTreeEntry],
    timers: impl Iterator<Item = Option<&'a Timers>>,
) -> Result<()> {
    for (e, t) in tree.iter().zip(timers) {
        for p in t.into_iter().flat_map(|t| &t.posix) {
            if p.notify != SIGEV_THREAD_ID {
                continue;
            }
            ensure!(
                tree.iter().any(|o| o.pid == p.tid
                    && o.tgid == e.pid
                    && o.flags & img::CKPT_TASK_ZOMBIE == 0),
                "POSIX_TIMER {} of process {}: thread {} is not one of its live threads",
                p.id,
                e.pid,
                p.tid
            );
        }
    }
    Ok(())
}

/// Splits nanoseconds into seconds and nanoseconds below 1e9 (a `timespec`).
pub fn split_ns(v: u64) -> (u64, u32) {
    (v / 1_000_000_000, (v % 1_000_000_000) as u32)
}

/// Nanoseconds as seconds and microseconds below 1e6 (a `timeval`, for `setitimer`),
/// rounded up so that a timer armed for less than 1 us stays armed.
pub fn split_us(v: u64) -> (u64, u32) {
    let us = v.div_ceil(1000);
    (us / 1_000_000, (us % 1_000_000) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    fn leader() -> img::CkptTreeEntry {
        let mut e = img::CkptTreeEntry::new_zeroed();
        (e.pid, e.tgid) = (100, 100);
        e
    }

    fn timer(id: i32) -> img::CkptPosixTimerRec {
        let mut t = img::CkptPosixTimerRec::new_zeroed();
        (t.id, t.clock, t.notify, t.signo) = (id, libc::CLOCK_MONOTONIC, libc::SIGEV_SIGNAL, 10);
        (t.value_ns, t.interval_ns) = (5_000_000, 30_000_000);
        t
    }

    fn itimers() -> img::CkptItimersRec {
        let mut i = img::CkptItimersRec::new_zeroed();
        i.real_value_ns = 7;
        i
    }

    #[test]
    fn good_timers_pass() {
        let mut t2 = timer(2);
        (t2.notify, t2.signo) = (libc::SIGEV_NONE, 0);
        let t = Timers::check(&leader(), itimers(), vec![timer(0), t2]).unwrap();
        assert_eq!(t.posix.len(), 2);
        assert!(!t.is_empty());
    }

    #[test]
    fn each_bad_field_is_refused() {
        type Set = fn(&mut img::CkptPosixTimerRec);
        let cases: [(Set, &str); 12] = [
            (|t| t.id = -1, "negative"),
            (|t| t.clock = libc::CLOCK_PROCESS_CPUTIME_ID, "clock"),
            (|t| t.notify = 3, "unknown"),
            (|t| t.signo = 65, "1..64"),
            (|t| t.signo = 0, "1..64"),
            (|t| t.tid = 5, "thread"),
            (|t| t.value_ns = u64::MAX, "beyond"),
            (|t| t.value_ns = 0, "disarmed"),
            (|t| t.overrun = -1, "overrun"),
            (|t| t.flags = 2, "flags"),
            (|t| t.__reserved = 1, "reserved"),
            (
                |t| (t.flags, t.value_ns) = (img::CKPT_POSIX_TIMER_PENDING, 30_000_001),
                "more than its interval",
            ),
        ];
        for (set, want) in cases {
            let mut t = timer(1);
            set(&mut t);
            let e = Timers::check(&leader(), itimers(), vec![t]).unwrap_err();
            assert!(e.to_string().contains(want), "{e} lacks {want}");
        }
        let mut t = timer(1);
        (t.notify, t.signo) = (libc::SIGEV_NONE, 10);
        assert!(Timers::check(&leader(), itimers(), vec![t]).is_err());
        (t.signo, t.flags) = (0, img::CKPT_POSIX_TIMER_PENDING);
        let e = Timers::check(&leader(), itimers(), vec![t]).unwrap_err();
        assert!(e.to_string().contains("SIGEV_NONE"), "{e}");
        let e = Timers::check(&leader(), itimers(), vec![timer(3), timer(3)]).unwrap_err();
        assert!(e.to_string().contains("increasing"));
        let mut thread = leader();
        thread.pid = 101;
        assert!(Timers::check(&thread, itimers(), vec![]).is_err());
        let mut i = itimers();
        i.real_interval_ns = 1 << 63;
        assert!(Timers::check(&leader(), i, vec![]).is_err());
    }

    #[test]
    fn thread_targets_are_live_threads_of_the_process() {
        let l = leader();
        let mut th = leader();
        th.pid = 101;
        let mut other = leader();
        (other.pid, other.tgid) = (200, 200);
        let tree = [l, th, other];
        let mut t = timer(0);
        (t.notify, t.tid) = (SIGEV_THREAD_ID, 101);
        let ok = Timers::check(&l, itimers(), vec![t]).unwrap();
        assert!(check_targets(&tree, [Some(&ok), None, None].into_iter()).is_ok());
        t.tid = 200;
        let bad = Timers::check(&l, itimers(), vec![t]).unwrap();
        assert!(check_targets(&tree, [Some(&bad), None, None].into_iter()).is_err());
        let mut dead = tree;
        dead[1].flags = img::CKPT_TASK_ZOMBIE;
        assert!(check_targets(&dead, [Some(&ok), None, None].into_iter()).is_err());
    }

    #[test]
    fn times_split_into_timespec_and_timeval() {
        assert_eq!(split_ns(3_000_000_007), (3, 7));
        assert_eq!(split_ns(999_999_999), (0, 999_999_999));
        assert_eq!(split_us(1), (0, 1));
        assert_eq!(split_us(20_000_000), (0, 20_000));
        assert_eq!(split_us(2_999_999_001), (3, 0));
        assert_eq!(split_us(0), (0, 0));
    }
}
