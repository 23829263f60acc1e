// SPDX-License-Identifier: GPL-2.0

//! File locks taken again (`FILE_LOCK` records, checked by `ckptlib::locks`), never waiting:
//!
//! - `flock` and OFD locks belong to the open file description: [`take_shared`] takes them
//!   in `rstr` itself on the parked descriptions, once every one exists and before the
//!   first fork (every process then inherits the description with its lock);
//! - POSIX locks belong to the process's descriptor table and go when any descriptor of
//!   the file closes in it: [`take_posix`] takes them in the restored process that owns
//!   the table, after it installed its descriptors and closed the parked ones, as the last
//!   step before its restart ioctl (nothing it closes after that is one of the image's).
//!
//! A lock that another process holds now fails the restart, naming the descriptor, the
//! path, the range and who holds it (`F_GETLK`, `F_OFD_GETLK`, or `/proc/locks` for
//! `flock`): the restart is all or nothing.

use std::os::fd::{BorrowedFd, RawFd};

use anyhow::{anyhow, bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg};
use nix::sys::stat::{fstat, major, minor};

use ckptlib::abi::image::{self as img, lock_kind, CkptFileLockRec};
use ckptlib::locks::describe;
use ckptlib::restart::{Image, OpenFile, TaskImage};

use crate::files::Parked;
use crate::sys;

/// The `struct flock` of a record lock.
fn flock_of(l: &CkptFileLockRec) -> libc::flock {
    let mut f = zeroed_flock();
    f.l_type = if l.lock_type == img::CKPT_LOCK_WRITE {
        libc::F_WRLCK
    } else {
        libc::F_RDLCK
    } as libc::c_short;
    f.l_whence = libc::SEEK_SET as libc::c_short;
    f.l_start = l.start;
    // A length of 0 locks to the end of the file, however it grows.
    f.l_len = if l.end == img::CKPT_LOCK_EOF {
        0
    } else {
        l.end - l.start + 1
    };
    f
}

/// A `libc::flock` of zeroes.
fn zeroed_flock() -> libc::flock {
    libc::flock {
        l_type: 0,
        l_whence: 0,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    }
}

/// The path of the descriptor a lock is held through, for reasons.
fn path_of<'a>(files: &'a [OpenFile], l: &CkptFileLockRec) -> &'a str {
    match files.iter().find(|f| f.rec.fd == l.fd) {
        Some(f) if !f.path.is_empty() => &f.path,
        _ => "(no path)",
    }
}

/// Who holds a conflicting lock, as `F_GETLK` (or `F_OFD_GETLK`) reports it.
fn getlk_holder(fd: BorrowedFd, l: &CkptFileLockRec) -> String {
    let mut f = flock_of(l);
    let arg = if l.kind == lock_kind::OFD {
        FcntlArg::F_OFD_GETLK(&mut f)
    } else {
        FcntlArg::F_GETLK(&mut f)
    };
    match fcntl(fd, arg) {
        Ok(_) if f.l_type == libc::F_UNLCK as libc::c_short => {
            "nobody now (it was released meanwhile)".to_string()
        }
        Ok(_) => {
            let t = if f.l_type == libc::F_WRLCK as libc::c_short {
                "write"
            } else {
                "read"
            };
            let end = if f.l_len == 0 {
                "eof".to_string()
            } else {
                (f.l_start + f.l_len - 1).to_string()
            };
            let who = if f.l_pid > 0 {
                format!("pid {}", f.l_pid)
            } else {
                "an open file description (OFD lock)".to_string()
            };
            format!("{who} ({t} lock on bytes {}-{end})", f.l_start)
        }
        Err(e) => format!("unknown (F_GETLK: {})", e.desc()),
    }
}

/// The holders of `flock` locks on the file open at `fd`, from `/proc/locks`.
fn flock_holders(fd: BorrowedFd) -> String {
    let Ok(st) = fstat(fd) else {
        return "unknown (fstat failed)".to_string();
    };
    let dev = format!(
        "{:02x}:{:02x}:{}",
        major(st.st_dev),
        minor(st.st_dev),
        st.st_ino
    );
    let text = std::fs::read_to_string("/proc/locks").unwrap_or_default();
    let who = proc_locks_holders(&text, &dev, "FLOCK");
    if who.is_empty() {
        "another open file description (not in /proc/locks)".to_string()
    } else {
        who.join(", ")
    }
}

/// The `pid TYPE` of each lock of `class` (`FLOCK`, `POSIX`, `OFDLCK`) held on the file
/// `dev` (`MAJ:MIN:INO` as `/proc/locks` prints it) in the text of `/proc/locks`; waiters
/// (`->`) are not holders.
fn proc_locks_holders(text: &str, dev: &str, class: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| {
            let w: Vec<&str> = line.split_whitespace().collect();
            // `1: FLOCK  ADVISORY  WRITE 1234 00:2d:5678 0 EOF`
            match w.as_slice() {
                [_, c, _, t, pid, d, ..] if *c == class && *d == dev => {
                    Some(format!("pid {pid} ({} lock)", t.to_lowercase()))
                }
                _ => None,
            }
        })
        .collect()
}

/// Takes lock `l` through the descriptor `fd` without waiting; the reason names the
/// process, the descriptor, the path, the lock and who holds it when it cannot be taken.
fn take(fd: RawFd, l: &CkptFileLockRec, pid: i32, path: &str) -> Result<()> {
    let bfd = sys::borrow(fd);
    let ret = match l.kind {
        lock_kind::FLOCK => sys::flock_nb(bfd, l.lock_type == img::CKPT_LOCK_WRITE),
        lock_kind::OFD => fcntl(bfd, FcntlArg::F_OFD_SETLK(&flock_of(l))).map(drop),
        _ => fcntl(bfd, FcntlArg::F_SETLK(&flock_of(l))).map(drop),
    };
    let what = format!("process {pid}: fd {} ({path}): {}", l.fd, describe(l));
    match ret {
        Ok(()) => Ok(()),
        Err(Errno::EAGAIN | Errno::EACCES) => {
            let who = if l.kind == lock_kind::FLOCK {
                flock_holders(bfd)
            } else {
                getlk_holder(bfd, l)
            };
            bail!("{what}: cannot be taken again, another lock holds it now: {who}")
        }
        Err(e) => Err(anyhow!("{what}: cannot be taken again: {}", e.desc())),
    }
}

/// In `rstr`, once every description of the image is parked: every `flock` and OFD lock,
/// on the parked description.
pub fn take_shared(image: &Image, parked: &Parked) -> Result<()> {
    for (e, t) in image.tree.iter().zip(&image.tasks) {
        let Some(t) = t else { continue };
        let files = t.files.as_deref().unwrap_or(&[]);
        for l in t.locks.iter().filter(|l| l.kind != lock_kind::POSIX) {
            let at = match parked.given.get(&(e.files, l.fd)) {
                Some(&at) => at,
                None => *parked
                    .fds
                    .get(&l.obj)
                    .with_context(|| format!("lock on description {}: not made", l.obj))?,
            };
            take(at, l, e.pid, path_of(files, l))?;
        }
    }
    Ok(())
}

/// In the restored process `pid` that owns its descriptor table, once its descriptors are
/// installed and the parked ones closed: its POSIX locks, through the image's descriptors.
pub fn take_posix(t: &TaskImage, pid: i32) -> Result<()> {
    let files = t.files.as_deref().unwrap_or(&[]);
    for l in t.locks.iter().filter(|l| l.kind == lock_kind::POSIX) {
        take(l.fd, l, pid, path_of(files, l))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(start: i64, end: i64, t: u32) -> CkptFileLockRec {
        CkptFileLockRec {
            kind: lock_kind::POSIX,
            lock_type: t,
            obj: 1,
            fd: 3,
            pid: 1,
            __reserved: 0,
            start,
            end,
        }
    }

    #[test]
    fn ranges_become_flock_lengths() {
        let f = flock_of(&lock(10, 19, img::CKPT_LOCK_WRITE));
        assert_eq!((f.l_start, f.l_len), (10, 10));
        assert_eq!(f.l_type, libc::F_WRLCK as libc::c_short);
        let f = flock_of(&lock(100, img::CKPT_LOCK_EOF, img::CKPT_LOCK_READ));
        assert_eq!((f.l_start, f.l_len), (100, 0));
        assert_eq!(f.l_type, libc::F_RDLCK as libc::c_short);
    }

    #[test]
    fn proc_locks_names_the_holders_of_one_file() {
        let text = "1: FLOCK  ADVISORY  WRITE 1234 00:2d:5678 0 EOF\n\
                    1: -> FLOCK  ADVISORY  WRITE 99 00:2d:5678 0 EOF\n\
                    2: POSIX  ADVISORY  READ 55 00:2d:5678 0 9\n\
                    3: FLOCK  ADVISORY  READ 77 00:2d:1 0 EOF\n";
        assert_eq!(
            proc_locks_holders(text, "00:2d:5678", "FLOCK"),
            vec!["pid 1234 (write lock)".to_string()]
        );
    }
}
