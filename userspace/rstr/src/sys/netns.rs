// SPDX-License-Identifier: GPL-2.0

//! A container's new network and IPC namespaces: made for `rstr` itself before the image's
//! sockets and POSIX message queues (so that they are made in them, and the container's
//! init inherits them), the network namespace's `lo` brought up (`SIOCSIFFLAGS`, which
//! `nix` does not wrap), and `rstr`'s way back to its own. A new time namespace for the
//! children `rstr` makes next (the container's init), with its clock offsets.

use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use anyhow::{Context, Result};
use ckptlib::restart::ClockOffset;
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};
use nix::sys::stat::Mode;
use nix::time::{clock_gettime, ClockId};

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

/// `CLONE_NEWTIME`, which `nix` does not name.
const CLONE_NEWTIME: CloneFlags = CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);

/// The offsets of the time namespace the caller's children get (`/proc/self/timens_offsets`,
/// which speaks for the main thread): (`CLOCK_MONOTONIC`, `CLOCK_BOOTTIME`).
pub fn time_offsets() -> Result<(ClockOffset, ClockOffset)> {
    let path = "/proc/self/timens_offsets";
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let (mut mono, mut boot) = (None, None);
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [clock, sec, nsec] = f[..] else {
            anyhow::bail!("{path}: unexpected line {line:?}");
        };
        let off = ClockOffset {
            sec: sec.parse().with_context(|| format!("{path}: {line:?}"))?,
            nsec: nsec.parse().with_context(|| format!("{path}: {line:?}"))?,
        };
        match clock {
            "monotonic" => mono = Some(off),
            "boottime" => boot = Some(off),
            _ => {}
        }
    }
    match (mono, boot) {
        (Some(m), Some(b)) => Ok((m, b)),
        _ => anyhow::bail!("{path}: no monotonic and boottime offsets in {text:?}"),
    }
}

/// The kernel's `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` now, in nanoseconds, which time
/// namespace offsets are from: rstr's clocks less the offsets of the time namespace it
/// may itself be in.
pub fn host_clocks() -> Result<(u64, u64)> {
    let (own_mono, own_boot) = time_offsets()?;
    let now = |clock: ClockId, own: ClockOffset| -> Result<u64> {
        let ts = clock_gettime(clock).with_context(|| format!("clock_gettime({clock})"))?;
        let ns = i128::from(ts.tv_sec()) * 1_000_000_000 + i128::from(ts.tv_nsec())
            - (i128::from(own.sec) * 1_000_000_000 + i128::from(own.nsec));
        u64::try_from(ns).with_context(|| format!("{clock} less rstr's offset is {ns} ns"))
    };
    Ok((
        now(ClockId::CLOCK_MONOTONIC, own_mono)?,
        now(ClockId::CLOCK_BOOTTIME, own_boot)?,
    ))
}

/// Gives the children the calling thread (`rstr`'s main thread, the one
/// `/proc/self/timens_offsets` speaks for) makes from now on a new time namespace with
/// these offsets, written before any task is in it; returns the one they got before.
pub fn enter_new_time(monotonic: ClockOffset, boottime: ClockOffset) -> Result<Outer> {
    let outer = enter(CLONE_NEWTIME, "time_for_children")?;
    let path = "/proc/self/timens_offsets";
    let text = format!(
        "monotonic {} {}\nboottime {} {}\n",
        monotonic.sec, monotonic.nsec, boottime.sec, boottime.nsec
    );
    if let Err(e) = std::fs::write(path, &text) {
        let _ = outer.back();
        return Err(e).with_context(|| format!("writing {text:?} to {path}"));
    }
    Ok(outer)
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
