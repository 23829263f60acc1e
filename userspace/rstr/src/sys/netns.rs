// SPDX-License-Identifier: GPL-2.0

//! A container's new network namespace: made for `rstr` itself before the image's sockets
//! (so that they are made in it, and the container's init inherits it), its `lo` brought
//! up (`SIOCSIFFLAGS`, which `nix` does not wrap), and `rstr`'s way back to its own.

use std::os::fd::{AsRawFd, OwnedFd};

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
use nix::sys::stat::Mode;

/// The network namespace `rstr` was in before [`enter_new`], to go back to.
pub struct Outer(OwnedFd);

/// Moves the calling thread into a new network namespace; returns the one it leaves.
pub fn enter_new() -> Result<Outer> {
    let outer = open(
        "/proc/thread-self/ns/net",
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .context("opening rstr's network namespace")?;
    unshare(CloneFlags::CLONE_NEWNET).context("unshare(CLONE_NEWNET)")?;
    Ok(Outer(outer))
}

impl Outer {
    /// Moves the calling thread back into this namespace.
    pub fn back(self) -> Result<()> {
        setns(&self.0, CloneFlags::CLONE_NEWNET).context("setns back into rstr's network namespace")
    }
}

/// Brings the caller's `lo` up, as `ip link set lo up` does.
pub fn lo_up() -> Result<()> {
    let s = socket(
        AddressFamily::Inet,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .context("socket for SIOCSIFFLAGS")?;
    // SAFETY: all-zero bytes are a valid `ifreq` (a name and a union of integers).
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(b"lo") {
        *d = *s as libc::c_char;
    }
    // SAFETY: `req` is a writable `ifreq` naming a device, as SIOCGIFFLAGS reads and writes.
    Errno::result(unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) })
        .context("SIOCGIFFLAGS of lo")?;
    // SAFETY: SIOCGIFFLAGS filled the union's flags member.
    unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
    // SAFETY: `req` is a readable `ifreq` with the device's name and its new flags.
    Errno::result(unsafe { libc::ioctl(s.as_raw_fd(), libc::SIOCSIFFLAGS, &req) })
        .context("SIOCSIFFLAGS of lo (bringing it up)")?;
    Ok(())
}
