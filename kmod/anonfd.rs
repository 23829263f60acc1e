// SPDX-License-Identifier: GPL-2.0

//! eventfd, timerfd and signalfd descriptors: one `EVENTFD`, `TIMERFD` or `SIGNALFD` record
//! per open file description, before the first `FILE` that refers to it (by its `obj`).
//!
//! Their state is private to `fs/eventfd.c`, `fs/timerfd.c` and `fs/signalfd.c`; what an
//! out-of-tree module reaches of it is what their `show_fdinfo` prints (under the locks
//! those files take), read through `ckpt_helper_task_fdinfo` and parsed here strictly: a
//! line that is not the one expected refuses the descriptor. `rstr` makes them again with
//! `eventfd2`, `timerfd_create` + `timerfd_settime` and `signalfd4`.

use kernel::prelude::*;
use zerocopy::IntoBytes;

use crate::error::{refuse, CkptResult, Context};
use crate::image::ImageWriter;
use crate::objects::Objects;
use crate::sys::task::{OpenFd, TaskRef};
use crate::uapi::image::{self as img, file_kind, rec};

use kernel::bindings::{
    ANON_INODE_FS_MAGIC, CLOCK_BOOTTIME, CLOCK_BOOTTIME_ALARM, CLOCK_MONOTONIC, CLOCK_REALTIME,
    CLOCK_REALTIME_ALARM, O_ACCMODE, O_APPEND, O_CLOEXEC, O_NONBLOCK, O_RDWR, SIGKILL, SIGSTOP,
};

const NSEC_PER_SEC: u64 = 1_000_000_000;

/// The `FILE` kind of a descriptor that is an eventfd, timerfd or signalfd, by the name of
/// its anonymous inode (`path`, as `/proc/PID/fd` shows it) on the anon_inode filesystem;
/// the helper checks the type again on the file itself.
pub(crate) fn kind_of(fs_magic: u64, path: &[u8]) -> Option<u32> {
    if fs_magic != u64::from(ANON_INODE_FS_MAGIC) {
        return None;
    }
    match path {
        b"anon_inode:[eventfd]" => Some(file_kind::EVENTFD),
        b"anon_inode:[timerfd]" => Some(file_kind::TIMERFD),
        b"anon_inode:[signalfd]" => Some(file_kind::SIGNALFD),
        _ => None,
    }
}

/// The lines of a `show_fdinfo` text, each taken with its expected key.
struct Lines<'a>(core::str::Split<'a, char>);

impl<'a> Lines<'a> {
    fn new(text: &'a [u8]) -> Option<Self> {
        let s = core::str::from_utf8(text).ok()?;
        // Every line ends with a newline: nothing may follow the last.
        Some(Lines(s.strip_suffix('\n')?.split('\n')))
    }

    /// The value of the next line, which must start with `key`.
    fn value(&mut self, key: &str) -> Option<&'a str> {
        self.0.next()?.strip_prefix(key)
    }

    /// Whether every line was taken.
    fn done(mut self) -> bool {
        self.0.next().is_none()
    }
}

fn dec(s: &str) -> Option<u64> {
    // `from_str_radix` takes a sign; the kernel prints none.
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u64>().ok()
}

/// `(%llu, %llu)`: seconds and nanoseconds, the nanoseconds below a second.
fn timespec(s: &str) -> Option<(u64, u64)> {
    let (sec, nsec) = s.strip_prefix('(')?.strip_suffix(')')?.split_once(", ")?;
    let (sec, nsec) = (dec(sec)?, dec(nsec)?);
    (nsec < NSEC_PER_SEC).then_some((sec, nsec))
}

/// An eventfd's state from `eventfd_show_fdinfo`: its count and whether it is a semaphore.
fn parse_eventfd(text: &[u8]) -> Option<(u64, bool)> {
    let mut l = Lines::new(text)?;
    let count = l.value("eventfd-count: ")?.trim_start_matches(' ');
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let count = u64::from_str_radix(count, 16).ok()?;
    // The id is an ida number of this boot's: not kept.
    let id = l.value("eventfd-id: ")?;
    dec(id)?;
    let semaphore = match l.value("eventfd-semaphore: ")? {
        "0" => false,
        "1" => true,
        _ => return None,
    };
    (l.done() && count <= img::CKPT_EVENTFD_MAX).then_some((count, semaphore))
}

/// A timerfd's state from `timerfd_show`, as a `TIMERFD` record without `id` and `now`.
fn parse_timerfd(text: &[u8]) -> Option<img::CkptTimerfdRec> {
    let mut l = Lines::new(text)?;
    let clockid = u32::try_from(dec(l.value("clockid: ")?)?).ok()?;
    let ticks = dec(l.value("ticks: ")?)?;
    let flags = l.value("settime flags: 0")?;
    if flags.is_empty() || !flags.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    let settime_flags = u32::from_str_radix(flags, 8).ok()?;
    let (value_sec, value_nsec) = timespec(l.value("it_value: ")?)?;
    let (interval_sec, interval_nsec) = timespec(l.value("it_interval: ")?)?;
    l.done().then_some(img::CkptTimerfdRec {
        id: 0,
        clockid,
        settime_flags,
        __reserved: 0,
        ticks,
        value_sec,
        value_nsec,
        interval_sec,
        interval_nsec,
        now_sec: 0,
        now_nsec: 0,
    })
}

/// A signalfd's mask from `signalfd_show_fdinfo` (`render_sigset_t`: 16 hex digits, signal
/// 64 first), which never holds `SIGKILL` nor `SIGSTOP`.
fn parse_signalfd(text: &[u8]) -> Option<u64> {
    let mut l = Lines::new(text)?;
    let mask = l.value("sigmask:\t")?;
    if mask.len() != 16 || !mask.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let mask = u64::from_str_radix(mask, 16).ok()?;
    let never = 1u64 << (SIGKILL - 1) | 1u64 << (SIGSTOP - 1);
    (l.done() && mask & never == 0).then_some(mask)
}

/// A clock's name for a reason.
fn clock_name(clockid: u32) -> &'static str {
    match clockid {
        CLOCK_REALTIME => "CLOCK_REALTIME",
        CLOCK_MONOTONIC => "CLOCK_MONOTONIC",
        CLOCK_BOOTTIME => "CLOCK_BOOTTIME",
        CLOCK_REALTIME_ALARM => "CLOCK_REALTIME_ALARM",
        CLOCK_BOOTTIME_ALARM => "CLOCK_BOOTTIME_ALARM",
        _ => "an unknown clock",
    }
}

/// Refuses a timerfd `rstr` would not rebuild exactly.
fn check_timerfd(fd: u32, t: &img::CkptTimerfdRec) -> CkptResult {
    let clock = t.clockid;
    if !matches!(clock, CLOCK_REALTIME | CLOCK_MONOTONIC | CLOCK_BOOTTIME) {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: timerfd on clock {clock} ({}): not supported yet (an alarm timer wakes the system from suspend; only CLOCK_REALTIME, CLOCK_MONOTONIC and CLOCK_BOOTTIME are restored)",
            clock_name(clock)
        );
    }
    if t.settime_flags & img::CKPT_TFD_TIMER_CANCEL_ON_SET != 0 {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: timerfd armed with TFD_TIMER_CANCEL_ON_SET: whether a change of the clock already cancelled it is not visible; not supported yet"
        );
    }
    if t.settime_flags & !img::CKPT_TFD_TIMER_ABSTIME != 0 {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: timerfd with settime flags {:#o}: not supported yet",
            t.settime_flags
        );
    }
    Ok(())
}

/// Refuses status flags `rstr` would not set again: it makes the file with `O_RDWR`,
/// `O_NONBLOCK` and `O_CLOEXEC` as they were, then `F_SETFL`s `O_APPEND`.
pub(crate) fn check_flags(fd: u32, what: &str, flags: u32) -> CkptResult {
    if flags & O_ACCMODE != O_RDWR || flags & !(O_RDWR | O_NONBLOCK | O_CLOEXEC | O_APPEND) != 0 {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: {what} with flags {flags:#o} (O_DIRECT, O_NOATIME, ...): not supported yet"
        );
    }
    Ok(())
}

/// The state record of the eventfd, timerfd or signalfd (`kind`) open at descriptor `o`,
/// once per open file description, then its `FILE` record (no path, no offset).
pub(crate) fn checkpoint(
    task: &TaskRef,
    objs: &mut Objects,
    w: &mut ImageWriter,
    o: &mut OpenFd,
    kind: u32,
) -> CkptResult {
    let fd = o.fd;
    let id = o.rec.obj;
    let what = match kind {
        file_kind::EVENTFD => "eventfd",
        file_kind::TIMERFD => "timerfd",
        _ => "signalfd",
    };
    check_flags(fd, what, o.rec.flags)?;
    if objs.first_save(o.facts.file_id) {
        let mut buf = [0u8; 256];
        let (text, real_ns) = task
            .fdinfo(fd, kind, &mut buf)
            .context(fmt!("fd {fd}: {what} state"))?;
        let unreadable = || -> CkptResult {
            refuse!(
                EOPNOTSUPP,
                "fd {fd}: {what}: its state (fdinfo) is not in the form this version reads: {}",
                core::str::from_utf8(text).unwrap_or("(not UTF-8)")
            )
        };
        match kind {
            file_kind::EVENTFD => {
                let Some((count, semaphore)) = parse_eventfd(text) else {
                    return unreadable();
                };
                let r = img::CkptEventfdRec {
                    id,
                    flags: if semaphore {
                        img::CKPT_EFD_SEMAPHORE
                    } else {
                        0
                    },
                    count,
                };
                w.record(rec::EVENTFD, &[r.as_bytes()])?;
            }
            file_kind::TIMERFD => {
                let Some(mut r) = parse_timerfd(text) else {
                    return unreadable();
                };
                check_timerfd(fd, &r)?;
                let real = u64::try_from(real_ns).map_err(|_| EINVAL)?;
                (r.id, r.now_sec, r.now_nsec) = (id, real / NSEC_PER_SEC, real % NSEC_PER_SEC);
                w.record(rec::TIMERFD, &[r.as_bytes()])?;
            }
            _ => {
                let Some(mask) = parse_signalfd(text) else {
                    return unreadable();
                };
                let r = img::CkptSignalfdRec {
                    id,
                    __reserved: 0,
                    mask,
                };
                w.record(rec::SIGNALFD, &[r.as_bytes()])?;
            }
        }
    }
    crate::files::made_again(w, o, kind, 0)
}

#[kunit_tests(ckpt_anonfd)]
mod tests {
    use super::*;

    #[test]
    fn anon_inodes_are_told_by_name_on_their_filesystem() {
        let anon = u64::from(ANON_INODE_FS_MAGIC);
        assert_eq!(
            kind_of(anon, b"anon_inode:[eventfd]"),
            Some(file_kind::EVENTFD)
        );
        assert_eq!(
            kind_of(anon, b"anon_inode:[timerfd]"),
            Some(file_kind::TIMERFD)
        );
        assert_eq!(
            kind_of(anon, b"anon_inode:[signalfd]"),
            Some(file_kind::SIGNALFD)
        );
        assert_eq!(kind_of(anon, b"anon_inode:[eventpoll]"), None);
        assert_eq!(kind_of(0xEF53, b"anon_inode:[eventfd]"), None);
    }

    #[test]
    fn eventfd_fdinfo_parses() {
        let t = b"eventfd-count:                5\neventfd-id: 3\neventfd-semaphore: 1\n";
        assert_eq!(parse_eventfd(t), Some((5, true)));
        let t = b"eventfd-count: fffffffffffffffe\neventfd-id: 0\neventfd-semaphore: 0\n";
        assert_eq!(parse_eventfd(t), Some((u64::MAX - 1, false)));
        // ULLONG_MAX is no count; a missing line, a line too many, a sign are refused.
        let t = b"eventfd-count: ffffffffffffffff\neventfd-id: 0\neventfd-semaphore: 0\n";
        assert_eq!(parse_eventfd(t), None);
        assert_eq!(parse_eventfd(b"eventfd-count: 5\neventfd-id: 3\n"), None);
        let t = b"eventfd-count: 5\neventfd-id: 3\neventfd-semaphore: 0\nx: 1\n";
        assert_eq!(parse_eventfd(t), None);
        let t = b"eventfd-count: +5\neventfd-id: 3\neventfd-semaphore: 0\n";
        assert_eq!(parse_eventfd(t), None);
        let t = b"eventfd-count: 5\neventfd-id: 3\neventfd-semaphore: 2\n";
        assert_eq!(parse_eventfd(t), None);
    }

    #[test]
    fn timerfd_fdinfo_parses() {
        let t = b"clockid: 1\nticks: 3\nsettime flags: 01\nit_value: (0, 49999000)\nit_interval: (2, 5)\n";
        let r = parse_timerfd(t).unwrap();
        assert_eq!((r.clockid, r.ticks, r.settime_flags), (1, 3, 1));
        assert_eq!((r.value_sec, r.value_nsec), (0, 49_999_000));
        assert_eq!((r.interval_sec, r.interval_nsec), (2, 5));
        let t = b"clockid: 0\nticks: 0\nsettime flags: 00\nit_value: (0, 0)\nit_interval: (0, 0)\n";
        assert_eq!(parse_timerfd(t).map(|r| r.settime_flags), Some(0));
        // Nanoseconds of a second or more, an octal digit that is not one, a torn text.
        let t = b"clockid: 1\nticks: 0\nsettime flags: 00\nit_value: (0, 1000000000)\nit_interval: (0, 0)\n";
        assert!(parse_timerfd(t).is_none());
        let t = b"clockid: 1\nticks: 0\nsettime flags: 08\nit_value: (0, 0)\nit_interval: (0, 0)\n";
        assert!(parse_timerfd(t).is_none());
        assert!(
            parse_timerfd(b"clockid: 1\nticks: 0\nsettime flags: 00\nit_value: (0, 0)").is_none()
        );
    }

    #[test]
    fn timerfd_refusals_name_the_fd_and_the_clock() {
        let t = b"clockid: 9\nticks: 0\nsettime flags: 00\nit_value: (1, 0)\nit_interval: (0, 0)\n";
        let r = parse_timerfd(t).unwrap();
        assert!(check_timerfd(4, &r).is_err());
        let t = b"clockid: 0\nticks: 0\nsettime flags: 03\nit_value: (1, 0)\nit_interval: (0, 0)\n";
        assert!(check_timerfd(4, &parse_timerfd(t).unwrap()).is_err());
        let t = b"clockid: 7\nticks: 0\nsettime flags: 01\nit_value: (1, 0)\nit_interval: (0, 0)\n";
        assert!(check_timerfd(4, &parse_timerfd(t).unwrap()).is_ok());
    }

    #[test]
    fn only_the_flags_rstr_sets_again_pass() {
        assert!(check_flags(3, "eventfd", O_RDWR | O_NONBLOCK | O_CLOEXEC).is_ok());
        assert!(check_flags(3, "eventfd", O_RDWR | O_APPEND).is_ok());
        assert!(check_flags(3, "eventfd", O_NONBLOCK).is_err());
        assert!(check_flags(3, "eventfd", O_RDWR | kernel::bindings::O_NOATIME).is_err());
    }

    #[test]
    fn signalfd_fdinfo_parses() {
        // SIGUSR1 (10) and SIGTERM (15).
        assert_eq!(
            parse_signalfd(b"sigmask:\t0000000000004200\n"),
            Some(0x4200)
        );
        // SIGKILL (9) cannot be in a signalfd's mask; 15 digits is not a sigset.
        assert_eq!(parse_signalfd(b"sigmask:\t0000000000000100\n"), None);
        assert_eq!(parse_signalfd(b"sigmask:\t000000000004200\n"), None);
        assert_eq!(parse_signalfd(b"sigmask: 0000000000004200\n"), None);
    }
}
