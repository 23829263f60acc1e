// SPDX-License-Identifier: GPL-2.0

//! TCP and UDP sockets (the image's `INET_SOCK` records), made again by `rstr` before the
//! first fork and parked with the other files ([`crate::files::park`]), one socket per
//! open file description: `socket` of the family, type and protocol; the options that act
//! on `bind` (`SO_REUSEADDR`, `SO_REUSEPORT`, `IP_FREEBIND`, `IP_TRANSPARENT`,
//! `IPV6_V6ONLY`, always set on an IPv6 socket: its default is a sysctl's), then the others
//! as `getsockopt` read them (`IP_TOS` before `SO_PRIORITY`, which it changes; `SO_RCVBUF`
//! before `SO_RCVLOWAT`, which it caps); `bind` to the same port (the address the program
//! chose, else the wildcard one), checked with `getsockname`; `listen` with the backlog,
//! or `connect` to the peer of a connected UDP socket; the descriptor's `O_NONBLOCK`.
//!
//! A `bind` that fails (the port is taken: the original program, or another, still holds
//! it) fails the whole restart with the fd, the address and the port.

use std::os::fd::{AsFd, OwnedFd};

use anyhow::{bail, ensure, Context, Result};
use ckptlib::abi::image::{self as img, inet_state, CkptInetSockRec};
use ckptlib::inet::{bind_addr, local, peer, protocol_name};
use ckptlib::restart::{Image, OpenFile};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::socket::{
    bind, connect, getsockname, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockProtocol,
    SockType, SockaddrStorage,
};
use nix::sys::time::TimeVal;

use crate::sys::inet::{get_int, set_int};

/// The socket of a `FILE` record of kind `INET_SOCKET`, with the descriptor's status flags.
pub fn make(image: &Image, f: &OpenFile) -> Result<OwnedFd> {
    let r = &f.rec;
    let s = image
        .inet
        .get(&r.obj)
        .with_context(|| format!("fd {}: no INET_SOCK record {}", r.fd, r.obj))?;
    let fd = build(s).with_context(|| {
        format!(
            "fd {}: {} socket {}",
            r.fd,
            protocol_name(s).to_uppercase(),
            local(s)
        )
    })?;
    let status = OFlag::from_bits_retain(r.flags as i32) - OFlag::O_ACCMODE;
    fcntl(&fd, FcntlArg::F_SETFL(status)).with_context(|| format!("fd {}: socket flags", r.fd))?;
    Ok(fd)
}

fn on(s: &CkptInetSockRec, bit: u32) -> bool {
    s.flags & bit != 0
}

/// Sets an option `nix` wraps, naming it in the error.
fn set<O: nix::sys::socket::SetSockOpt>(
    fd: &OwnedFd,
    opt: O,
    val: &O::Val,
    name: &str,
) -> Result<()> {
    setsockopt(fd, opt, val).with_context(|| format!("setsockopt {name}"))
}

/// `SO_RCVTIMEO` and `SO_SNDTIMEO` of a socket (TCP, UDP or unix), in milliseconds, where
/// they are not 0 (none).
pub fn set_timeouts(fd: &OwnedFd, rcv_ms: u32, snd_ms: u32) -> Result<()> {
    let tv = |ms: u32| TimeVal::new(i64::from(ms / 1000), i64::from(ms % 1000) * 1000);
    if rcv_ms != 0 {
        set(fd, sockopt::ReceiveTimeout, &tv(rcv_ms), "SO_RCVTIMEO")?;
    }
    if snd_ms != 0 {
        set(fd, sockopt::SendTimeout, &tv(snd_ms), "SO_SNDTIMEO")?;
    }
    Ok(())
}

/// Sets an `int` option `nix` does not wrap, and reads it back.
fn set_checked(fd: &OwnedFd, level: i32, name: i32, val: u32, what: &str) -> Result<()> {
    let val = i32::try_from(val).with_context(|| format!("{what} {val}"))?;
    set_int(fd.as_fd(), level, name, val).with_context(|| format!("setsockopt {what} {val}"))?;
    let now = get_int(fd.as_fd(), level, name).with_context(|| format!("getsockopt {what}"))?;
    ensure!(now == val, "{what} is {now}, not {val}");
    Ok(())
}

fn build(s: &CkptInetSockRec) -> Result<OwnedFd> {
    let v6 = s.family == libc::AF_INET6 as u32;
    let tcp = s.sock_type == libc::SOCK_STREAM as u32;
    let (family, ty, proto) = match (v6, tcp) {
        (false, true) => (AddressFamily::Inet, SockType::Stream, SockProtocol::Tcp),
        (true, true) => (AddressFamily::Inet6, SockType::Stream, SockProtocol::Tcp),
        (false, false) => (AddressFamily::Inet, SockType::Datagram, SockProtocol::Udp),
        (true, false) => (AddressFamily::Inet6, SockType::Datagram, SockProtocol::Udp),
    };
    let fd = socket(family, ty, SockFlag::SOCK_CLOEXEC, proto).context("socket")?;

    // What acts on bind.
    set(
        &fd,
        sockopt::ReuseAddr,
        &on(s, img::CKPT_INET_REUSEADDR),
        "SO_REUSEADDR",
    )?;
    if on(s, img::CKPT_INET_REUSEPORT) {
        set(&fd, sockopt::ReusePort, &true, "SO_REUSEPORT")?;
    }
    if on(s, img::CKPT_INET_FREEBIND) {
        set(&fd, sockopt::IpFreebind, &true, "IP_FREEBIND")?;
    }
    if on(s, img::CKPT_INET_TRANSPARENT) {
        set(&fd, sockopt::IpTransparent, &true, "IP_TRANSPARENT")?;
    }
    if v6 {
        set(
            &fd,
            sockopt::Ipv6V6Only,
            &on(s, img::CKPT_INET_V6ONLY),
            "IPV6_V6ONLY",
        )?;
    }

    // The other options, as getsockopt read them.
    set_timeouts(&fd, s.rcvtimeo_ms, s.sndtimeo_ms)?;
    if on(s, img::CKPT_INET_KEEPALIVE) {
        set(&fd, sockopt::KeepAlive, &true, "SO_KEEPALIVE")?;
    }
    if on(s, img::CKPT_INET_BROADCAST) {
        set(&fd, sockopt::Broadcast, &true, "SO_BROADCAST")?;
    }
    if on(s, img::CKPT_INET_LINGER) {
        let l = libc::linger {
            l_onoff: 1,
            l_linger: i32::try_from(s.linger).context("SO_LINGER")?,
        };
        set(&fd, sockopt::Linger, &l, "SO_LINGER")?;
    }
    if s.tos != 0 {
        set(&fd, sockopt::Ipv4Tos, &(s.tos as i32), "IP_TOS")?;
    }
    if s.priority != 0 || s.tos != 0 {
        set(&fd, sockopt::Priority, &(s.priority as i32), "SO_PRIORITY")?;
    }
    if s.mark != 0 {
        set(&fd, sockopt::Mark, &s.mark, "SO_MARK (needs CAP_NET_ADMIN)")?;
    }
    if s.ttl != -1 {
        set(&fd, sockopt::Ipv4Ttl, &s.ttl, "IP_TTL")?;
    }
    crate::unix::buffer(
        &fd,
        s.sndbuf,
        "SO_SNDBUF",
        sockopt::SndBuf,
        sockopt::SndBufForce,
    )?;
    crate::unix::buffer(
        &fd,
        s.rcvbuf,
        "SO_RCVBUF",
        sockopt::RcvBuf,
        sockopt::RcvBufForce,
    )?;
    if s.rcvlowat != 1 {
        set_checked(
            &fd,
            libc::SOL_SOCKET,
            libc::SO_RCVLOWAT,
            s.rcvlowat,
            "SO_RCVLOWAT",
        )?;
    }
    if tcp {
        tcp_options(&fd, s)?;
    }

    if s.port != 0 {
        bind_port(&fd, s)?;
    }
    match s.state {
        inet_state::LISTENING => {
            let backlog = i32::try_from(s.backlog).context("backlog")?;
            crate::sys::listen(fd.as_fd(), backlog).context("listen")?;
        }
        inet_state::CONNECTED => {
            let to = SockaddrStorage::from(peer(s));
            connect(std::os::fd::AsRawFd::as_raw_fd(&fd), &to)
                .with_context(|| format!("connect to {}", peer(s)))?;
        }
        _ => {}
    }
    Ok(fd)
}

fn tcp_options(fd: &OwnedFd, s: &CkptInetSockRec) -> Result<()> {
    if on(s, img::CKPT_INET_NODELAY) {
        set(fd, sockopt::TcpNoDelay, &true, "TCP_NODELAY")?;
    }
    if s.keepidle != 0 {
        set(fd, sockopt::TcpKeepIdle, &s.keepidle, "TCP_KEEPIDLE")?;
    }
    if s.keepintvl != 0 {
        set(fd, sockopt::TcpKeepInterval, &s.keepintvl, "TCP_KEEPINTVL")?;
    }
    if s.keepcnt != 0 {
        set(fd, sockopt::TcpKeepCount, &s.keepcnt, "TCP_KEEPCNT")?;
    }
    if s.defer_accept != 0 {
        let what = "TCP_DEFER_ACCEPT";
        set_checked(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_DEFER_ACCEPT,
            s.defer_accept,
            what,
        )?;
    }
    if s.fastopen != 0 {
        let qlen = i32::try_from(s.fastopen).context("TCP_FASTOPEN")?;
        set_int(fd.as_fd(), libc::IPPROTO_TCP, libc::TCP_FASTOPEN, qlen)
            .context("setsockopt TCP_FASTOPEN")?;
    }
    Ok(())
}

/// Binds the saved port, on the address the program chose (else the wildcard one), and
/// checks that the socket has it.
fn bind_port(fd: &OwnedFd, s: &CkptInetSockRec) -> Result<()> {
    let at = bind_addr(s);
    let raw = std::os::fd::AsRawFd::as_raw_fd(fd);
    match bind(raw, &SockaddrStorage::from(at)) {
        Ok(()) => {}
        Err(Errno::EADDRINUSE) => bail!(
            "bind to {at}: address and port already in use (is the original program, or another one, still holding port {}?)",
            s.port
        ),
        Err(e) => return Err(e).with_context(|| format!("bind to {at}")),
    }
    let got: SockaddrStorage = getsockname(raw).context("getsockname")?;
    let port = got
        .as_sockaddr_in()
        .map(|a| a.port())
        .or_else(|| got.as_sockaddr_in6().map(|a| a.port()));
    ensure!(
        port == Some(s.port as u16),
        "bound to {at}, the socket has port {port:?}"
    );
    Ok(())
}
