// SPDX-License-Identifier: GPL-2.0

//! The `fcntl`s of signal-driven I/O that `nix` does not wrap (`F_SETOWN_EX`, `F_SETSIG`
//! and their reads), for [`crate::fown`].

use std::os::fd::RawFd;

use nix::errno::Errno;

// `<linux/fcntl.h>` (`asm-generic/fcntl.h`), which the `libc` crate leaves out on glibc.
const F_SETSIG: i32 = 10;
const F_GETSIG: i32 = 11;
const F_SETOWN_EX: i32 = 15;
const F_GETOWN_EX: i32 = 16;

/// `struct f_owner_ex`.
#[repr(C)]
struct FOwnerEx {
    owner_type: i32,
    pid: i32,
}

/// `fcntl(fd, F_SETOWN_EX, {type, pid})`: `type` one of `F_OWNER_TID`, `F_OWNER_PID`,
/// `F_OWNER_PGRP`.
pub fn set_owner(fd: RawFd, owner_type: i32, pid: i32) -> Result<(), Errno> {
    let o = FOwnerEx { owner_type, pid };
    // SAFETY: `o` is a readable `struct f_owner_ex`; a bad `fd` is an error, not UB.
    Errno::result(unsafe { libc::fcntl(fd, F_SETOWN_EX, &raw const o) }).map(drop)
}

/// `fcntl(fd, F_GETOWN_EX)`: the owner's type and pid.
pub fn owner(fd: RawFd) -> Result<(i32, i32), Errno> {
    let mut o = FOwnerEx {
        owner_type: 0,
        pid: 0,
    };
    // SAFETY: `o` is a writable `struct f_owner_ex`; a bad `fd` is an error, not UB.
    Errno::result(unsafe { libc::fcntl(fd, F_GETOWN_EX, &raw mut o) })?;
    Ok((o.owner_type, o.pid))
}

/// `fcntl(fd, F_SETSIG, sig)`.
pub fn set_sig(fd: RawFd, sig: i32) -> Result<(), Errno> {
    // SAFETY: integer arguments only.
    Errno::result(unsafe { libc::fcntl(fd, F_SETSIG, sig) }).map(drop)
}

/// `fcntl(fd, F_GETSIG)`.
pub fn sig(fd: RawFd) -> Result<i32, Errno> {
    // SAFETY: integer arguments only.
    Errno::result(unsafe { libc::fcntl(fd, F_GETSIG) })
}
