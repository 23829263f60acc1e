// SPDX-License-Identifier: GPL-2.0

//! A container's new network and IPC namespaces: made for `rstr` itself before the image's
//! sockets and POSIX message queues (so that they are made in them, and the container's
//! init inherits them), the network namespace's `lo` brought up (`SIOCSIFFLAGS`, which
//! `nix` does not wrap), and `rstr`'s way back to its own.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
use nix::sys::stat::Mode;

/// The namespace `rstr` was in before [`enter_new`] or [`enter_new_ipc`], to go back to.
pub struct Outer(OwnedFd, CloneFlags, &'static str);

/// Moves the calling thread into a new namespace of `kind` (`name` in `/proc/PID/ns/`);
/// returns the one it leaves.
fn enter(kind: CloneFlags, name: &'static str) -> Result<Outer> {
    let outer = open(
        format!("/proc/thread-self/ns/{name}").as_str(),
        OFlag::O_RDONLY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("opening rstr's {name} namespace"))?;
    unshare(kind).with_context(|| format!("unshare into a new {name} namespace"))?;
    Ok(Outer(outer, kind, name))
}

/// Moves the calling thread into a new network namespace; returns the one it leaves.
pub fn enter_new() -> Result<Outer> {
    enter(CloneFlags::CLONE_NEWNET, "net")
}

/// Moves the calling thread into a new IPC namespace; returns the one it leaves.
pub fn enter_new_ipc() -> Result<Outer> {
    enter(CloneFlags::CLONE_NEWIPC, "ipc")
}

impl Outer {
    /// Its descriptor's number.
    pub fn raw(&self) -> RawFd {
        self.0.as_raw_fd()
    }

    /// Moves the calling thread back into this namespace.
    pub fn back(self) -> Result<()> {
        setns(&self.0, self.1)
            .with_context(|| format!("setns back into rstr's {} namespace", self.2))
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
