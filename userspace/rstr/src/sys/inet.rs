// SPDX-License-Identifier: GPL-2.0

//! The integer socket options `nix` does not wrap (`TCP_DEFER_ACCEPT`, `TCP_FASTOPEN`,
//! `SO_RCVLOWAT`), for [`crate::inet`].

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;

/// `setsockopt(s, level, name, &val, sizeof(int))`.
pub fn set_int(s: BorrowedFd, level: i32, name: i32, val: i32) -> Result<(), Errno> {
    // SAFETY: `val` is a readable `int` for the length given; `s` is borrowed, open.
    Errno::result(unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            level,
            name,
            (&raw const val).cast(),
            size_of::<i32>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// `getsockopt(s, level, name)` of an `int` option.
pub fn get_int(s: BorrowedFd, level: i32, name: i32) -> Result<i32, Errno> {
    let mut val: i32 = 0;
    let mut len = size_of::<i32>() as libc::socklen_t;
    // SAFETY: `val` is a writable `int` and `len` says so; `s` is borrowed, open.
    Errno::result(unsafe {
        libc::getsockopt(s.as_raw_fd(), level, name, (&raw mut val).cast(), &mut len)
    })?;
    Ok(val)
}
