// SPDX-License-Identifier: GPL-2.0

//! TCP and UDP sockets of an image (`INET_SOCK` records): each checked field by field
//! ([`check`]) before `rstr` makes it again, and its addresses as people write them. See
//! Documentation/files.rst, "TCP and UDP sockets".

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use anyhow::{ensure, Result};
use serde::Serialize;

use crate::abi::image::{self as img, inet_state, CkptInetSockRec};

/// The names of the [`CkptInetSockRec::flags`] bits, as the options people know.
pub const FLAG_NAMES: [(u32, &str); 11] = [
    (img::CKPT_INET_REUSEADDR, "SO_REUSEADDR"),
    (img::CKPT_INET_REUSEPORT, "SO_REUSEPORT"),
    (img::CKPT_INET_KEEPALIVE, "SO_KEEPALIVE"),
    (img::CKPT_INET_BROADCAST, "SO_BROADCAST"),
    (img::CKPT_INET_LINGER, "SO_LINGER"),
    (img::CKPT_INET_V6ONLY, "IPV6_V6ONLY"),
    (img::CKPT_INET_NODELAY, "TCP_NODELAY"),
    (img::CKPT_INET_FREEBIND, "IP_FREEBIND"),
    (img::CKPT_INET_TRANSPARENT, "IP_TRANSPARENT"),
    (img::CKPT_INET_USER_PORT, "user-port"),
    (img::CKPT_INET_USER_ADDR, "user-addr"),
];

fn is_v6(r: &CkptInetSockRec) -> bool {
    r.family == libc::AF_INET6 as u32
}

/// `addr`, `port` as a socket address of the record's family.
fn sockaddr(r: &CkptInetSockRec, addr: &[u8; 16], port: u32) -> SocketAddr {
    let port = port as u16;
    if is_v6(r) {
        SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(*addr), port, 0, 0))
    } else {
        let a = Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3]);
        SocketAddr::V4(SocketAddrV4::new(a, port))
    }
}

/// The local address and port (`127.0.0.1:6379`, `[::1]:6379`).
pub fn local(r: &CkptInetSockRec) -> SocketAddr {
    sockaddr(r, &r.addr, r.port)
}

/// The peer's address and port.
pub fn peer(r: &CkptInetSockRec) -> SocketAddr {
    sockaddr(r, &r.peer_addr, r.peer_port)
}

/// The address `rstr` binds: the local one if the program chose it, else the wildcard
/// address of the family (a connected UDP socket's own address comes from its `connect`).
pub fn bind_addr(r: &CkptInetSockRec) -> SocketAddr {
    if r.flags & img::CKPT_INET_USER_ADDR != 0 {
        return local(r);
    }
    sockaddr(r, &[0; 16], r.port)
}

/// `tcp` or `udp`.
pub fn protocol_name(r: &CkptInetSockRec) -> &'static str {
    if r.sock_type == libc::SOCK_STREAM as u32 {
        "tcp"
    } else {
        "udp"
    }
}

pub fn state_name(r: &CkptInetSockRec) -> &'static str {
    match r.state {
        inet_state::CLOSED if r.port == 0 => "unbound",
        inet_state::CLOSED => "bound",
        inet_state::LISTENING => "listening",
        inet_state::CONNECTED => "connected",
        _ => "unknown",
    }
}

/// `ckpt show`'s view of an `INET_SOCK` record.
#[derive(Debug, Serialize)]
pub struct Shown {
    pub id: u32,
    pub family: &'static str,
    pub protocol: &'static str,
    pub state: &'static str,
    /// `127.0.0.1:6379`, `[::1]:6379`.
    pub addr: String,
    /// The peer of a connected UDP socket, else `None`.
    pub peer: Option<String>,
    pub backlog: u32,
    /// The options set, by name.
    pub options: Vec<&'static str>,
    pub sndbuf: u32,
    pub rcvbuf: u32,
    pub priority: u32,
    pub mark: u32,
    pub rcvlowat: u32,
    pub linger: u32,
    pub tos: u32,
    pub ttl: i32,
    pub keepidle: u32,
    pub keepintvl: u32,
    pub keepcnt: u32,
    pub defer_accept: u32,
    pub fastopen: u32,
    pub rcvtimeo_ms: u32,
    pub sndtimeo_ms: u32,
}

/// The record for people (nothing is checked here).
pub fn show(r: &CkptInetSockRec) -> Shown {
    Shown {
        id: r.id,
        family: if is_v6(r) { "AF_INET6" } else { "AF_INET" },
        protocol: protocol_name(r),
        state: state_name(r),
        addr: local(r).to_string(),
        peer: (r.state == inet_state::CONNECTED).then(|| peer(r).to_string()),
        backlog: r.backlog,
        options: FLAG_NAMES
            .iter()
            .filter(|(bit, _)| r.flags & bit != 0)
            .map(|&(_, n)| n)
            .collect(),
        sndbuf: r.sndbuf,
        rcvbuf: r.rcvbuf,
        priority: r.priority,
        mark: r.mark,
        rcvlowat: r.rcvlowat,
        linger: r.linger,
        tos: r.tos,
        ttl: r.ttl,
        keepidle: r.keepidle,
        keepintvl: r.keepintvl,
        keepcnt: r.keepcnt,
        defer_accept: r.defer_accept,
        fastopen: r.fastopen,
        rcvtimeo_ms: r.rcvtimeo_ms,
        sndtimeo_ms: r.sndtimeo_ms,
    }
}

/// Every field against what the system calls that make the socket again take.
pub fn check(r: &CkptInetSockRec) -> Result<()> {
    let id = r.id;
    ensure!(id != 0, "INET_SOCK record: id 0");
    let (v4, v6) = (libc::AF_INET as u32, libc::AF_INET6 as u32);
    ensure!(
        r.family == v4 || r.family == v6,
        "inet socket {id}: family {} is not AF_INET or AF_INET6",
        r.family
    );
    let tcp = (r.sock_type, r.protocol) == (libc::SOCK_STREAM as u32, libc::IPPROTO_TCP as u32);
    let udp = (r.sock_type, r.protocol) == (libc::SOCK_DGRAM as u32, libc::IPPROTO_UDP as u32);
    ensure!(
        tcp || udp,
        "inet socket {id}: type {} protocol {} is neither TCP nor UDP",
        r.sock_type,
        r.protocol
    );
    ensure!(
        r.flags & !img::CKPT_INET_FLAGS == 0,
        "inet socket {id}: unknown flags {:#x}",
        r.flags & !img::CKPT_INET_FLAGS
    );
    ensure!(
        r.family == v6 || r.flags & img::CKPT_INET_V6ONLY == 0,
        "inet socket {id}: IPV6_V6ONLY on an IPv4 socket"
    );
    ensure!(
        tcp || r.flags & img::CKPT_INET_NODELAY == 0,
        "inet socket {id}: TCP_NODELAY on a UDP socket"
    );
    ensure!(
        r.port <= 0xffff && r.peer_port <= 0xffff,
        "inet socket {id}: port {} or {} beyond 65535",
        r.port,
        r.peer_port
    );
    if r.family == v4 {
        ensure!(
            r.addr[4..].iter().chain(&r.peer_addr[4..]).all(|&b| b == 0),
            "inet socket {id}: an IPv4 address of more than 4 bytes"
        );
    }
    match r.state {
        inet_state::CLOSED => {}
        inet_state::LISTENING => ensure!(
            tcp && r.port != 0,
            "inet socket {id}: listening, yet not TCP or with no port"
        ),
        inet_state::CONNECTED => ensure!(
            udp && r.port != 0 && r.peer_port != 0,
            "inet socket {id}: connected, yet not UDP or with no port"
        ),
        st => anyhow::bail!("inet socket {id}: state {st} unknown"),
    }
    if r.state != inet_state::CONNECTED {
        ensure!(
            r.peer_port == 0 && r.peer_addr == [0; 16],
            "inet socket {id}: a peer but not connected"
        );
    }
    ensure!(
        r.state == inet_state::LISTENING || r.backlog == 0,
        "inet socket {id}: a backlog but not listening"
    );
    let int = i32::MAX as u32;
    for (name, v) in [
        ("backlog", r.backlog),
        ("sndbuf", r.sndbuf),
        ("rcvbuf", r.rcvbuf),
        ("priority", r.priority),
        ("rcvlowat", r.rcvlowat),
        ("linger", r.linger),
        ("defer_accept", r.defer_accept),
        ("fastopen", r.fastopen),
    ] {
        ensure!(v <= int, "inet socket {id}: {name} {v} out of range");
    }
    ensure!(r.tos <= 0xff, "inet socket {id}: IP_TOS {}", r.tos);
    ensure!(
        r.ttl == -1 || (1..=255).contains(&r.ttl),
        "inet socket {id}: IP_TTL {}",
        r.ttl
    );
    // MAX_TCP_KEEPIDLE, MAX_TCP_KEEPINTVL, MAX_TCP_KEEPCNT of include/net/tcp.h.
    ensure!(
        r.keepidle <= 32767 && r.keepintvl <= 32767 && r.keepcnt <= 127,
        "inet socket {id}: TCP keepalive {} {} {} out of range",
        r.keepidle,
        r.keepintvl,
        r.keepcnt
    );
    ensure!(
        tcp || r.keepidle | r.keepintvl | r.keepcnt | r.defer_accept | r.fastopen == 0,
        "inet socket {id}: TCP options on a UDP socket"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    fn listener() -> CkptInetSockRec {
        let mut r = CkptInetSockRec::new_zeroed();
        (r.id, r.family, r.sock_type, r.protocol) = (
            1,
            libc::AF_INET as u32,
            libc::SOCK_STREAM as u32,
            libc::IPPROTO_TCP as u32,
        );
        (r.state, r.port, r.backlog, r.ttl) = (inet_state::LISTENING, 6379, 7, -1);
        r.addr[..4].copy_from_slice(&[127, 0, 0, 1]);
        r.flags = img::CKPT_INET_USER_ADDR | img::CKPT_INET_REUSEADDR;
        r
    }

    #[test]
    fn addresses_show_as_people_write_them() {
        let mut r = listener();
        assert_eq!(local(&r).to_string(), "127.0.0.1:6379");
        assert_eq!(bind_addr(&r).to_string(), "127.0.0.1:6379");
        r.flags = 0;
        assert_eq!(bind_addr(&r).to_string(), "0.0.0.0:6379");
        r.family = libc::AF_INET6 as u32;
        r.addr = Ipv6Addr::LOCALHOST.octets();
        assert_eq!(local(&r).to_string(), "[::1]:6379");
        let s = show(&r);
        assert_eq!(
            (s.family, s.protocol, s.state),
            ("AF_INET6", "tcp", "listening")
        );
    }

    #[test]
    fn fields_are_checked() {
        check(&listener()).unwrap();
        let changes: [fn(&mut CkptInetSockRec); 11] = [
            |r| r.id = 0,
            |r| r.family = libc::AF_UNIX as u32,
            |r| r.protocol = libc::IPPROTO_UDP as u32,
            |r| r.flags |= 1 << 20,
            |r| r.flags |= img::CKPT_INET_V6ONLY,
            |r| r.port = 70000,
            |r| r.addr[5] = 1,
            |r| r.state = inet_state::CONNECTED,
            |r| r.ttl = 0,
            |r| r.keepcnt = 200,
            |r| r.backlog = u32::MAX,
        ];
        for change in changes {
            let mut r = listener();
            change(&mut r);
            assert!(check(&r).is_err());
        }
        let mut u = listener();
        (u.sock_type, u.protocol, u.backlog) =
            (libc::SOCK_DGRAM as u32, libc::IPPROTO_UDP as u32, 0);
        u.state = inet_state::CONNECTED;
        assert!(check(&u).is_err(), "connected with no peer");
        u.peer_port = 9;
        check(&u).unwrap();
        assert_eq!(show(&u).peer.as_deref(), Some("0.0.0.0:9"));
    }
}
