// SPDX-License-Identifier: GPL-2.0

//! The timer system calls of [`crate::timers`]: raw `timer_create` and `timer_settime`
//! (glibc's wrappers turn `SIGEV_THREAD` into a helper thread of their own and `timer_t`
//! into a pointer; the image has the kernel's timers), `setitimer`, and the prctl that
//! lets `timer_create` take the id asked for.

use nix::errno::Errno;

/// `PR_TIMER_CREATE_RESTORE_IDS` and its arguments (include/uapi/linux/prctl.h, Linux
/// 6.15 on; not in the libc crate yet).
const PR_TIMER_CREATE_RESTORE_IDS: libc::c_int = 77;
pub const RESTORE_IDS_OFF: libc::c_ulong = 0;
pub const RESTORE_IDS_ON: libc::c_ulong = 1;

/// `PR_TIMER_CREATE_RESTORE_IDS` with `how` (on or off): while on, `timer_create` creates
/// the timer with the id its `timer_id` argument holds (`EBUSY` if it is taken).
pub fn restore_ids(how: libc::c_ulong) -> Result<(), Errno> {
    // SAFETY: integer arguments; acts on this process's timer id allocation only.
    Errno::result(unsafe { libc::prctl(PR_TIMER_CREATE_RESTORE_IDS, how, 0, 0, 0) }).map(drop)
}

/// What a timer does when it expires (`struct sigevent`'s fields the kernel reads).
pub struct Notify {
    pub notify: i32,
    pub signo: i32,
    pub value: u64,
    pub tid: i32,
}

/// `timer_create(clock, n, &id)`: with [`restore_ids`] on, `id` is the id asked for; the id
/// the kernel gave is returned.
pub fn timer_create(clock: i32, n: &Notify, id: i32) -> Result<i32, Errno> {
    // SAFETY: an all-zero `sigevent` is a valid value of this plain C struct.
    let mut sev: libc::sigevent = unsafe { std::mem::zeroed() };
    sev.sigev_value = libc::sigval {
        sival_ptr: n.value as usize as *mut libc::c_void,
    };
    (sev.sigev_signo, sev.sigev_notify) = (n.signo, n.notify);
    sev.sigev_notify_thread_id = n.tid;
    let mut out: libc::c_int = id;
    // SAFETY: the kernel reads `sev` and reads and writes `out`, both outliving the call.
    Errno::result(unsafe {
        libc::syscall(
            libc::SYS_timer_create,
            clock as libc::c_long,
            &sev as *const libc::sigevent,
            &mut out as *mut libc::c_int,
        )
    })?;
    Ok(out)
}

/// `timer_delete(id)`.
pub fn timer_delete(id: i32) -> Result<(), Errno> {
    // SAFETY: an integer argument; deletes one timer of this process.
    Errno::result(unsafe { libc::syscall(libc::SYS_timer_delete, id as libc::c_long) }).map(drop)
}

fn timespec((sec, nsec): (u64, u32)) -> libc::timespec {
    libc::timespec {
        tv_sec: sec as libc::time_t,
        tv_nsec: nsec.into(),
    }
}

/// `clock_gettime(clock)` in nanoseconds, by the system call: the restored process has
/// moved its vDSO to the image's address ([`crate::memory::move_vdso`]), where libc's
/// cached pointer into the old one no longer leads.
pub fn clock_now(clock: i32) -> Result<u64, Errno> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: the kernel writes `ts`, which outlives the call.
    Errno::result(unsafe {
        libc::syscall(
            libc::SYS_clock_gettime,
            clock as libc::c_long,
            &mut ts as *mut libc::timespec,
        )
    })?;
    Ok(ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// How [`timer_settime`] takes its value.
#[derive(Clone, Copy)]
pub enum Arm {
    /// From now.
    Relative,
    /// A time of the timer's clock (`TIMER_ABSTIME`).
    Absolute,
}

/// `timer_settime(id, flags, {interval, value})`; times as seconds and nanoseconds.
pub fn timer_settime(
    id: i32,
    how: Arm,
    value: (u64, u32),
    interval: (u64, u32),
) -> Result<(), Errno> {
    let flags = match how {
        Arm::Relative => 0,
        Arm::Absolute => libc::TIMER_ABSTIME,
    };
    let spec = libc::itimerspec {
        it_interval: timespec(interval),
        it_value: timespec(value),
    };
    // SAFETY: the kernel reads `spec`, which outlives the call; no old value is asked for.
    Errno::result(unsafe {
        libc::syscall(
            libc::SYS_timer_settime,
            id as libc::c_long,
            flags as libc::c_long,
            &spec as *const libc::itimerspec,
            std::ptr::null_mut::<libc::itimerspec>(),
        )
    })
    .map(drop)
}

fn timeval((sec, usec): (u64, u32)) -> libc::timeval {
    libc::timeval {
        tv_sec: sec as libc::time_t,
        tv_usec: usec.into(),
    }
}

/// The interval timers of `setitimer`.
#[derive(Clone, Copy, Debug)]
pub enum Itimer {
    Real,
    Virtual,
    Prof,
}

impl Itimer {
    pub fn name(self) -> &'static str {
        match self {
            Itimer::Real => "ITIMER_REAL",
            Itimer::Virtual => "ITIMER_VIRTUAL",
            Itimer::Prof => "ITIMER_PROF",
        }
    }
}

/// `setitimer(which, {interval, value})`; times as seconds and microseconds.
pub fn set_itimer(which: Itimer, value: (u64, u32), interval: (u64, u32)) -> Result<(), Errno> {
    let which = match which {
        Itimer::Real => libc::ITIMER_REAL,
        Itimer::Virtual => libc::ITIMER_VIRTUAL,
        Itimer::Prof => libc::ITIMER_PROF,
    };
    let v = libc::itimerval {
        it_interval: timeval(interval),
        it_value: timeval(value),
    };
    // SAFETY: the kernel reads `v`, which outlives the call; no old value is asked for.
    Errno::result(unsafe { libc::setitimer(which, &v, std::ptr::null_mut()) }).map(drop)
}

nix::ioctl_write_ptr_bad!(
    ioc_restart_timer,
    ckptlib::abi::CKPT_IOC_RESTART_TIMER,
    ckptlib::abi::CkptTimerArgs
);

/// `CKPT_IOC_RESTART_TIMER` on the session's device `dev`: what `timer_getoverrun` returns
/// for our process's timer `id`, which no system call sets.
pub fn set_overrun(dev: std::os::fd::RawFd, id: i32, overrun: i32) -> Result<(), Errno> {
    let args = ckptlib::abi::CkptTimerArgs {
        id,
        overrun,
        flags: 0,
        __reserved: 0,
    };
    // SAFETY: `args` is a valid struct of the size the ioctl number encodes; `dev` is the
    // caller's open device (a bad descriptor fails with EBADF).
    unsafe { ioc_restart_timer(dev, &args) }.map(drop)
}
