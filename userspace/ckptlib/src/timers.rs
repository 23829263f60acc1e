// SPDX-License-Identifier: GPL-2.0

//! A process's timers as a restart takes them: its `ITIMERS` record and the `POSIX_TIMER`s
//! after it, every field checked ([`Timers::check`], and [`check_targets`] once the whole
//! tree is read), so that `rstr` passes only values the kernel takes as the image means them.

use anyhow::{bail, ensure, Context, Result};

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

/// One interval timer (`setitimer`): nanoseconds to the next expiry (0: disarmed) and the
/// interval, of its clock (wall time for `ITIMER_REAL`, the process's CPU time for the
/// others).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Itimer {
    pub value_ns: u64,
    pub interval_ns: u64,
}

impl Itimer {
    fn checked(what: &str, value_ns: u64, interval_ns: u64) -> Result<Itimer> {
        ns(&format!("{what} value"), value_ns)?;
        ns(&format!("{what} interval"), interval_ns)?;
        Ok(Itimer {
            value_ns,
            interval_ns,
        })
    }

    /// Armed, or disarmed with an interval (`getitimer` shows it): something to set.
    pub fn is_set(&self) -> bool {
        self.value_ns != 0 || self.interval_ns != 0
    }
}

/// The interval timers and the `timer_create` timers of one process, checked.
#[derive(Debug, Clone)]
pub struct Timers {
    pub real: Itimer,
    pub virt: Itimer,
    pub prof: Itimer,
    /// In increasing id.
    pub posix: Vec<img::CkptPosixTimerRec>,
}

/// A CPU clock of a saved timer, from the kernel's encoding (`make_process_cpuclock`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CpuClock {
    /// `CPUCLOCK_PROF` (0: user and system time), `_VIRT` (1: user time) or `_SCHED` (2: run
    /// time, what `CLOCK_PROCESS_CPUTIME_ID` counts).
    pub which: i32,
    /// A thread's clock (its tid), else the process's own.
    pub thread: Option<i32>,
}

/// The CPU clock `clock` names, if it is one (negative); an error if it is not one an image
/// may hold: the process's own (pid 0) or a thread's (pid > 0), of a known kind.
pub fn cpu_clock(clock: i32) -> Result<Option<CpuClock>> {
    if clock >= 0 {
        return Ok(None);
    }
    let which = clock & 3;
    let pid = !(clock >> 3);
    ensure!(which < 3, "CPU clock {clock}: kind {which} is unknown");
    let thread = if clock & 4 != 0 {
        ensure!(
            pid > 0,
            "CPU clock {clock}: a thread's clock without its thread"
        );
        Some(pid)
    } else {
        ensure!(
            pid == 0,
            "CPU clock {clock}: process {pid}'s, not the process's own"
        );
        None
    };
    Ok(Some(CpuClock { which, thread }))
}

/// What `ckpt show` calls a timer's clock.
pub fn clock_name(clock: i32) -> &'static str {
    match (clock, cpu_clock(clock)) {
        (libc::CLOCK_REALTIME, _) => "realtime",
        (libc::CLOCK_MONOTONIC, _) => "monotonic",
        (libc::CLOCK_BOOTTIME, _) => "boottime",
        (libc::CLOCK_TAI, _) => "tai",
        (_, Ok(Some(c))) => match (c.thread.is_some(), c.which) {
            (false, 0) => "process-prof",
            (false, 1) => "process-virt",
            (false, _) => "process-cputime",
            (true, 0) => "thread-prof",
            (true, 1) => "thread-virt",
            (true, _) => "thread-cputime",
        },
        _ => "unknown",
    }
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
    let cpu = cpu_clock(t.clock).with_context(|| format!("POSIX_TIMER {id}"))?;
    ensure!(
        cpu.is_some() || CLOCKS.contains(&t.clock),
        "POSIX_TIMER {id}: clock {} is not CLOCK_REALTIME, _MONOTONIC, _BOOTTIME, _TAI or a \
         CPU clock",
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
        let real = Itimer::checked("ITIMER_REAL", i.real_value_ns, i.real_interval_ns)?;
        let virt = Itimer::checked("ITIMER_VIRTUAL", i.virt_value_ns, i.virt_interval_ns)?;
        let prof = Itimer::checked("ITIMER_PROF", i.prof_value_ns, i.prof_interval_ns)?;
        ensure!(
            i.__reserved == 0,
            "ITIMERS record: reserved bits {:#x} set",
            i.__reserved
        );
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
            real,
            virt,
            prof,
            posix,
        })
    }

    /// Whether anything is to be restored.
    pub fn is_empty(&self) -> bool {
        !self.real.is_set() && !self.virt.is_set() && !self.prof.is_set() && self.posix.is_empty()
    }
}

/// Every `SIGEV_THREAD_ID` timer signals, and every timer on a thread's CPU clock counts, a
/// live thread of its own process in the image. `timers` is one per `tree` entry.
pub fn check_targets<'a>(
    tree: &[img::CkptTreeEntry],
    timers: impl Iterator<Item = Option<&'a Timers>>,
) -> Result<()> {
    for (e, t) in tree.iter().zip(timers) {
        for p in t.into_iter().flat_map(|t| &t.posix) {
            let signalled = (p.notify == SIGEV_THREAD_ID).then_some(("signals", p.tid));
            // Checked by `Timers::check` already.
            let clock = cpu_clock(p.clock).ok().flatten().and_then(|c| c.thread);
            for (what, tid) in signalled
                .into_iter()
                .chain(clock.map(|t| ("counts the CPU time of", t)))
            {
                ensure!(
                    tree.iter().any(|o| o.pid == tid
                        && o.tgid == e.pid
                        && o.flags & img::CKPT_TASK_ZOMBIE == 0),
                    "POSIX_TIMER {} of process {}: {what} thread {tid}, which is not one of \
                     its live threads",
                    p.id,
                    e.pid,
                );
            }
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
        let cases: [(Set, &str); 15] = [
            (|t| t.id = -1, "negative"),
            (|t| t.clock = libc::CLOCK_PROCESS_CPUTIME_ID, "clock"),
            (|t| t.clock = ((!321) << 3) | 2, "process 321's"),
            (|t| t.clock = -5, "kind 3"),
            (|t| t.clock = ((!0) << 3) | 4, "without its thread"),
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
            assert!(format!("{e:#}").contains(want), "{e:#} lacks {want}");
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
        let mut i = itimers();
        i.prof_value_ns = 1 << 63;
        let e = Timers::check(&leader(), i, vec![]).unwrap_err();
        assert!(e.to_string().contains("ITIMER_PROF"), "{e}");
        let mut i = itimers();
        i.__reserved = 1;
        assert!(Timers::check(&leader(), i, vec![]).is_err());
    }

    #[test]
    fn cpu_clocks_decode_as_the_kernel_encodes_them() {
        // CLOCK_PROCESS_CPUTIME_ID as timer_create keeps it: pid 0, CPUCLOCK_SCHED.
        let c = cpu_clock(-6).unwrap().unwrap();
        assert_eq!((c.which, c.thread), (2, None));
        assert_eq!(clock_name(-6), "process-cputime");
        let c = cpu_clock(((!322) << 3) | 4 | 1).unwrap().unwrap();
        assert_eq!((c.which, c.thread), (1, Some(322)));
        assert_eq!(clock_name(((!322) << 3) | 4 | 1), "thread-virt");
        assert_eq!(cpu_clock(libc::CLOCK_MONOTONIC).unwrap(), None);
        assert_eq!(clock_name(libc::CLOCK_MONOTONIC), "monotonic");
        assert_eq!(clock_name(-5), "unknown");
        let mut i = itimers();
        (i.virt_value_ns, i.virt_interval_ns, i.prof_interval_ns) = (3, 4, 5);
        let t = Timers::check(&leader(), i, vec![]).unwrap();
        assert_eq!((t.virt.value_ns, t.virt.interval_ns), (3, 4));
        assert!(t.prof.is_set() && !t.is_empty());
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
        // A thread's CPU clock: the thread must be one of the process's, alive.
        let mut t = timer(0);
        t.clock = ((!101) << 3) | 4 | 2;
        let ok = Timers::check(&l, itimers(), vec![t]).unwrap();
        assert!(check_targets(&tree, [Some(&ok), None, None].into_iter()).is_ok());
        assert!(check_targets(&dead, [Some(&ok), None, None].into_iter()).is_err());
        t.clock = ((!200) << 3) | 4 | 2;
        let bad = Timers::check(&l, itimers(), vec![t]).unwrap();
        let e = check_targets(&tree, [Some(&bad), None, None].into_iter()).unwrap_err();
        assert!(
            e.to_string().contains("counts the CPU time of thread 200"),
            "{e}"
        );
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
