// SPDX-License-Identifier: GPL-2.0

//! Timers of a stopped process, as raw facts: its `ITIMER_REAL` (`ckpt_helper_task_itimer_real`,
//! under siglock as `do_getitimer` reads it), `ITIMER_PROF` and `ITIMER_VIRTUAL` with the
//! process's CPU clocks (`ckpt_helper_task_itimers_cpu`, as `get_cpu_itimer`), and its
//! `timer_create` timers
//! (`ckpt_helper_task_posix_timers`, each under its `it_lock` as `/proc/PID/timers` reads
//! them). What they mean is decided in `crate::timers`.

use core::mem::offset_of;

use kernel::bindings;
use kernel::prelude::*;

use super::fill_growing;
use super::task::TaskRef;

/// `ITIMER_REAL` of a process (`struct ckpt_h_itimer_real`).
#[repr(C)]
#[derive(Default, Clone, Copy)]
pub(crate) struct ItimerReal {
    /// `__hrtimer_get_remaining(&real_timer, true)` in nanoseconds: <= 0 once it expired.
    pub(crate) remaining: i64,
    /// `it_real_incr` in nanoseconds.
    pub(crate) interval: u64,
    /// The hrtimer is queued or its callback runs.
    pub(crate) active: u32,
    /// A SIGALRM is pending for the process (`shared_pending`: a dequeue from there re-arms it).
    pub(crate) sigalrm_pending: u32,
}

/// `ITIMER_PROF` and `ITIMER_VIRTUAL` of a process and its CPU clocks when they were read
/// (`struct ckpt_h_itimers_cpu`, under siglock).
#[repr(C)]
#[derive(Default, Clone, Copy)]
pub(crate) struct ItimersCpu {
    /// `it[CPUCLOCK_PROF]`, `it[CPUCLOCK_VIRT]`: the expiry on the process's clock, in ns,
    /// 0 if disarmed.
    pub(crate) expires: [u64; 2],
    /// Their intervals in ns, 0 for none.
    pub(crate) incr: [u64; 2],
    /// The process's clocks (`CPUCLOCK_PROF`, `_VIRT`, `_SCHED`) in ns.
    pub(crate) now: [u64; 3],
    /// `TICK_NSEC`.
    pub(crate) tick_ns: u64,
    /// `now` was read (not where the kernel's CPU accounting keeps it out of reach).
    pub(crate) sampled: u32,
    pub(crate) __pad: u32,
}

/// [`PosixTimer::kind`] (`CKPT_H_TIMER_*` of helpers.h): a clock whose timer is an hrtimer
/// (`CLOCK_REALTIME`, `_MONOTONIC`, `_BOOTTIME`, `_TAI`).
pub(crate) const TIMER_HRTIMER: u32 = 1;
/// [`PosixTimer::kind`]: a CPU clock of the process or of one of its live threads, sampled.
pub(crate) const TIMER_CPU: u32 = 2;

/// One `timer_create` timer (`struct ckpt_h_posix_timer`).
#[repr(C)]
#[derive(Default, Clone, Copy)]
pub(crate) struct PosixTimer {
    pub(crate) id: i32,
    pub(crate) clock: i32,
    /// `it_sigev_notify`.
    pub(crate) notify: i32,
    pub(crate) signo: i32,
    /// For a timer of kind [`TIMER_HRTIMER`] or [`TIMER_CPU`]: the pid or thread signalled,
    /// in the image's pid namespace (0 if it has none there: it exited).
    pub(crate) target: i32,
    /// [`TIMER_HRTIMER`], [`TIMER_CPU`], or 0 for another clock (or a CPU clock of another
    /// process, of a thread that exited, or not sampled): `target` and `remaining` are
    /// read only for the first two.
    pub(crate) kind: u32,
    /// `it_status` is `POSIX_TIMER_ARMED`.
    pub(crate) armed: u32,
    /// `it_status` is `POSIX_TIMER_DISARMED` (else `POSIX_TIMER_REQUEUE_PENDING`); for a
    /// [`TIMER_CPU`] one: it has no expiry (`posix_cpu_timer_get` goes by that alone: a
    /// `SIGEV_NONE` CPU timer is never `POSIX_TIMER_ARMED`).
    pub(crate) disarmed: u32,
    /// `it_overrun_last`.
    pub(crate) overrun_last: i64,
    /// Nanoseconds to the expiry, <= 0 once past: `__hrtimer_get_remaining(timer, false)`,
    /// or for a CPU clock the expiry less the clock's sample (`posix_cpu_timer_get`).
    pub(crate) remaining: i64,
    /// `it_interval` in nanoseconds.
    pub(crate) interval: i64,
    /// `sigev_value`.
    pub(crate) value: u64,
    /// Its own signal (`sigq`) is queued and not stale, read under `it_lock`.
    pub(crate) pending: u32,
    /// For [`TIMER_CPU`]: the pid, in the image's pid namespace, of the process (this one)
    /// or the thread (one of its live threads) whose clock it is.
    pub(crate) clock_pid: i32,
}

const _: () = {
    assert!(size_of::<ItimerReal>() == 24 && offset_of!(ItimerReal, sigalrm_pending) == 20);
    assert!(size_of::<PosixTimer>() == 72 && offset_of!(PosixTimer, pending) == 64);
    assert!(offset_of!(PosixTimer, target) == 16 && offset_of!(PosixTimer, disarmed) == 28);
    assert!(offset_of!(PosixTimer, overrun_last) == 32 && offset_of!(PosixTimer, value) == 56);
    assert!(offset_of!(PosixTimer, clock_pid) == 68);
    assert!(size_of::<ItimersCpu>() == 72 && offset_of!(ItimersCpu, now) == 32);
    assert!(offset_of!(ItimersCpu, sampled) == 64);
};

// Only pointers to these C structs cross (see `super::task`).
#[allow(
    improper_ctypes,
    reason = "pointers to bindgen structs with empty members"
)]
extern "C" {
    fn ckpt_helper_task_itimer_real(task: *mut bindings::task_struct, out: *mut ItimerReal);
    fn ckpt_helper_task_itimers_cpu(task: *mut bindings::task_struct, out: *mut ItimersCpu);
    fn ckpt_helper_set_timer_overrun(id: i32, overrun: i64) -> core::ffi::c_int;
    fn ckpt_helper_task_posix_timers(
        task: *mut bindings::task_struct,
        ns: *mut bindings::pid_namespace,
        out: *mut PosixTimer,
        max: u32,
    ) -> core::ffi::c_int;
}

impl TaskRef {
    /// The `ITIMER_REAL` of this task's process.
    pub(crate) fn itimer_real(&self) -> ItimerReal {
        let mut out = ItimerReal::default();
        // SAFETY: the task is valid (type invariant of `TaskRef`); `out` is writable and of
        // the C layout.
        unsafe { ckpt_helper_task_itimer_real(self.raw(), &mut out) };
        out
    }

    /// The `ITIMER_PROF` and `ITIMER_VIRTUAL` of this task's process, with its CPU clocks.
    pub(crate) fn itimers_cpu(&self) -> ItimersCpu {
        let mut out = ItimersCpu::default();
        // SAFETY: the task is valid (type invariant of `TaskRef`); `out` is writable and of
        // the C layout.
        unsafe { ckpt_helper_task_itimers_cpu(self.raw(), &mut out) };
        out
    }

    /// The `timer_create` timers of this task's process into `out`, at most `max + 1` (more
    /// than `max` says there are too many, without collecting them all); pids as seen in
    /// the pid namespace of `ns` (the caller's if `None`).
    pub(crate) fn posix_timers(
        &self,
        ns: Option<&TaskRef>,
        max: u32,
        out: &mut KVec<PosixTimer>,
    ) -> Result {
        let most = max.saturating_add(1);
        Self::with_ns(ns, |ns| {
            fill_growing(
                out,
                || 0,
                |buf, room| {
                    let room = room.min(most);
                    // SAFETY: the task and the namespace are valid; `buf` has room for `room`
                    // entries of the C layout.
                    let ret = unsafe { ckpt_helper_task_posix_timers(self.raw(), ns, buf, room) };
                    // -E2BIG with all `most` entries filled: that many is enough to refuse.
                    if ret == E2BIG.to_errno() && room == most {
                        most as core::ffi::c_int
                    } else {
                        ret
                    }
                },
            )
        })?
    }
}

/// Sets what `timer_getoverrun` returns for the caller's own process's timer `id` (its
/// `it_overrun_last`, until its next signal's delivery sets it again). `ENOENT` if the
/// process has no such timer.
pub(crate) fn set_own_timer_overrun(id: i32, overrun: i32) -> Result {
    // SAFETY: the helper walks the caller's own timers under RCU and each one's lock; it
    // takes plain values.
    kernel::error::to_result(unsafe { ckpt_helper_set_timer_overrun(id, i64::from(overrun)) })
}
