// SPDX-License-Identifier: GPL-2.0

//! eventfd, timerfd and signalfd descriptions of an image (`EVENTFD`, `TIMERFD`,
//! `SIGNALFD` records): what [`crate::image`] parses and [`crate::restart::scan`] checks
//! field by field before `rstr` makes them again.

use anyhow::{ensure, Result};

use crate::abi::image::{self as img, file_kind, rec};

/// The largest seconds of a time a restart takes: `KTIME_SEC_MAX`, beyond which the kernel
/// clamps a timer's expiry (and `now + value` stays far from overflowing).
pub const TIME_SEC_MAX: u64 = (i64::MAX as u64) / 1_000_000_000;

/// `O_*` flags such a descriptor's `FILE` record may hold: its access mode is `O_RDWR`;
/// `O_NONBLOCK` and `O_CLOEXEC` come from its creation flags, `O_APPEND` from `F_SETFL`.
pub const FLAGS: u32 = (libc::O_RDWR | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_APPEND) as u32;

/// One eventfd, timerfd or signalfd record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AnonFd {
    Eventfd(img::CkptEventfdRec),
    Timerfd(img::CkptTimerfdRec),
    Signalfd(img::CkptSignalfdRec),
}

/// The clocks a restart arms a timerfd on.
pub fn clock_name(clockid: u32) -> Option<&'static str> {
    match clockid as i32 {
        libc::CLOCK_REALTIME => Some("CLOCK_REALTIME"),
        libc::CLOCK_MONOTONIC => Some("CLOCK_MONOTONIC"),
        libc::CLOCK_BOOTTIME => Some("CLOCK_BOOTTIME"),
        _ => None,
    }
}

fn check_time(what: &str, id: u32, field: &str, sec: u64, nsec: u64) -> Result<()> {
    ensure!(
        nsec < 1_000_000_000,
        "{what} record {id}: {field} has {nsec} nanoseconds, not below a second"
    );
    ensure!(
        sec <= TIME_SEC_MAX,
        "{what} record {id}: {field} of {sec} seconds is beyond {TIME_SEC_MAX}"
    );
    Ok(())
}

impl AnonFd {
    /// The record type.
    pub fn kind(&self) -> u32 {
        match self {
            AnonFd::Eventfd(_) => rec::EVENTFD,
            AnonFd::Timerfd(_) => rec::TIMERFD,
            AnonFd::Signalfd(_) => rec::SIGNALFD,
        }
    }

    /// The `FILE` kind of the descriptors of this description.
    pub fn file_kind(&self) -> u32 {
        match self {
            AnonFd::Eventfd(_) => file_kind::EVENTFD,
            AnonFd::Timerfd(_) => file_kind::TIMERFD,
            AnonFd::Signalfd(_) => file_kind::SIGNALFD,
        }
    }

    /// The open file description's id (the `obj` of its `FILE` records).
    pub fn id(&self) -> u32 {
        match self {
            AnonFd::Eventfd(r) => r.id,
            AnonFd::Timerfd(r) => r.id,
            AnonFd::Signalfd(r) => r.id,
        }
    }

    /// Checks every field against what the system calls that make it again take.
    pub fn check(&self) -> Result<()> {
        let name = rec::name(self.kind());
        ensure!(self.id() != 0, "{name} record: id 0");
        match self {
            AnonFd::Eventfd(r) => {
                ensure!(
                    r.flags & !img::CKPT_EFD_SEMAPHORE == 0,
                    "EVENTFD record {}: unknown flags {:#x}",
                    r.id,
                    r.flags
                );
                ensure!(
                    r.count <= img::CKPT_EVENTFD_MAX,
                    "EVENTFD record {}: count {:#x} is above the largest an eventfd holds",
                    r.id,
                    r.count
                );
            }
            AnonFd::Timerfd(r) => {
                ensure!(
                    clock_name(r.clockid).is_some(),
                    "TIMERFD record {}: clock {} is not one a restart arms",
                    r.id,
                    r.clockid
                );
                ensure!(
                    r.settime_flags & !img::CKPT_TFD_TIMER_ABSTIME == 0,
                    "TIMERFD record {}: settime flags {:#o} are not restored",
                    r.id,
                    r.settime_flags
                );
                check_time("TIMERFD", r.id, "value", r.value_sec, r.value_nsec)?;
                check_time("TIMERFD", r.id, "interval", r.interval_sec, r.interval_nsec)?;
                check_time("TIMERFD", r.id, "now", r.now_sec, r.now_nsec)?;
            }
            AnonFd::Signalfd(r) => {
                let never = 1u64 << (libc::SIGKILL - 1) | 1u64 << (libc::SIGSTOP - 1);
                ensure!(
                    r.mask & never == 0,
                    "SIGNALFD record {}: mask {:#x} holds SIGKILL or SIGSTOP",
                    r.id,
                    r.mask
                );
            }
        }
        Ok(())
    }

    /// Checks a `FILE` record of this description: its kind, no path, no pipe, its flags.
    pub fn check_file(&self, f: &img::CkptFileRec, path: &[u8]) -> Result<()> {
        let name = rec::name(self.kind());
        ensure!(
            f.kind == self.file_kind(),
            "FILE record: fd {} of kind {} refers to {name} record {}",
            f.fd,
            f.kind,
            f.obj
        );
        ensure!(
            path.is_empty() && f.pipe == 0 && f.pos == 0,
            "FILE record: fd {} ({name}) has a path, a pipe or an offset",
            f.fd
        );
        ensure!(
            f.flags as i32 & libc::O_ACCMODE == libc::O_RDWR && f.flags & !FLAGS == 0,
            "FILE record: fd {} ({name}) has flags {:#o}, not restored",
            f.fd,
            f.flags
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    #[test]
    fn records_are_checked_field_by_field() {
        let mut e = img::CkptEventfdRec::new_zeroed();
        e.id = 1;
        (e.flags, e.count) = (img::CKPT_EFD_SEMAPHORE, 5);
        assert!(AnonFd::Eventfd(e).check().is_ok());
        e.flags = 2;
        assert!(AnonFd::Eventfd(e).check().is_err());
        (e.flags, e.count) = (0, u64::MAX);
        assert!(AnonFd::Eventfd(e).check().is_err());

        let mut t = img::CkptTimerfdRec::new_zeroed();
        t.id = 2;
        (t.clockid, t.value_nsec, t.interval_nsec) =
            (libc::CLOCK_MONOTONIC as u32, 999_999_999, 50_000_000);
        assert!(AnonFd::Timerfd(t).check().is_ok());
        t.clockid = libc::CLOCK_BOOTTIME_ALARM as u32;
        assert!(AnonFd::Timerfd(t).check().is_err());
        t.clockid = libc::CLOCK_REALTIME as u32;
        t.interval_nsec = 1_000_000_000;
        assert!(AnonFd::Timerfd(t).check().is_err());
        t.interval_nsec = 0;
        t.settime_flags = img::CKPT_TFD_TIMER_CANCEL_ON_SET;
        assert!(AnonFd::Timerfd(t).check().is_err());
        t.settime_flags = 0;
        t.value_sec = TIME_SEC_MAX + 1;
        assert!(AnonFd::Timerfd(t).check().is_err());

        let mut s = img::CkptSignalfdRec::new_zeroed();
        (s.id, s.mask) = (3, 1 << (libc::SIGUSR1 - 1));
        assert!(AnonFd::Signalfd(s).check().is_ok());
        s.mask |= 1 << (libc::SIGKILL - 1);
        assert!(AnonFd::Signalfd(s).check().is_err());
        s.id = 0;
        assert!(AnonFd::Signalfd(s).check().is_err());
    }

    #[test]
    fn file_records_must_match_their_description() {
        let mut s = img::CkptSignalfdRec::new_zeroed();
        s.id = 3;
        let a = AnonFd::Signalfd(s);
        let mut f = img::CkptFileRec::new_zeroed();
        (f.fd, f.kind, f.obj) = (4, file_kind::SIGNALFD, 3);
        f.flags = (libc::O_RDWR | libc::O_NONBLOCK) as u32;
        assert!(a.check_file(&f, b"").is_ok());
        assert!(a.check_file(&f, b"/x").is_err());
        f.flags = libc::O_RDONLY as u32;
        assert!(a.check_file(&f, b"").is_err());
        f.flags = (libc::O_RDWR | libc::O_DIRECT) as u32;
        assert!(a.check_file(&f, b"").is_err());
        f.flags = libc::O_RDWR as u32;
        f.kind = file_kind::EVENTFD;
        assert!(a.check_file(&f, b"").is_err());
    }
}
