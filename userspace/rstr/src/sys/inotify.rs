// SPDX-License-Identifier: GPL-2.0

//! inotify's calls with the watch descriptor as a number (`nix` keeps it opaque), for
//! [`crate::inotify`].

use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

/// `inotify_init1(flags)`.
pub fn init(flags: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: no pointer is passed.
    let fd = Errno::result(unsafe { libc::inotify_init1(flags) })?;
    // SAFETY: `fd` is a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// `inotify_add_watch(fd, path, mask)`: the watch descriptor.
pub fn add_watch(fd: BorrowedFd, path: &CString, mask: u32) -> Result<i32, Errno> {
    // SAFETY: `path` is a NUL-terminated string that lives across the call; `fd` is open.
    Errno::result(unsafe { libc::inotify_add_watch(fd.as_raw_fd(), path.as_ptr(), mask) })
}

/// `inotify_rm_watch(fd, wd)`.
pub fn rm_watch(fd: BorrowedFd, wd: i32) -> Result<(), Errno> {
    // SAFETY: no pointer is passed; `fd` is open.
    Errno::result(unsafe { libc::inotify_rm_watch(fd.as_raw_fd(), wd) }).map(drop)
}
