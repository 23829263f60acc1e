// SPDX-License-Identifier: GPL-2.0

//! TCP and UDP sockets of IPv4 and IPv6 that hold no connection: the `INET_SOCK` record of
//! each socket (one per open file description, `FILE.obj` is its id), before its first
//! `FILE`.
//!
//! Saved: listening TCP sockets (address, port, backlog), TCP sockets made by `socket()`
//! and maybe bound, UDP sockets bound or connected (the peer's address), with the options a
//! server sets ([`img::CkptInetSockRec`]). `rstr` makes them again
//! (`userspace/rstr/src/inet.rs`; Documentation/files.rst, "TCP and UDP sockets").
//!
//! Refused, with the fd: everything [`RULES`] lists, one rule a line: connections (an
//! established TCP connection, one not accepted yet), data queued, and every option or
//! attachment `rstr` would not set again.

use kernel::fmt;

use kernel::bindings;
use kernel::prelude::*;
use zerocopy::IntoBytes;

use crate::error::{refuse, CkptResult};
use crate::image::ImageWriter;
use crate::objects::Objects;
use crate::sys::inet::*;
use crate::sys::task::{NsIds, OpenFd, TaskRef};
use crate::uapi::image::{self as img, file_kind, inet_state, rec};

const SOCK_STREAM: u32 = bindings::sock_type_SOCK_STREAM;
const SOCK_DGRAM: u32 = bindings::sock_type_SOCK_DGRAM;
const AF_INET: u32 = bindings::AF_INET;
const AF_INET6: u32 = bindings::AF_INET6;
const IPPROTO_TCP: u32 = bindings::IPPROTO_TCP;
const IPPROTO_UDP: u32 = bindings::IPPROTO_UDP;

fn is_tcp(i: &InetFacts) -> bool {
    i.sock_type == SOCK_STREAM && i.protocol == IPPROTO_TCP
}

fn is_udp(i: &InetFacts) -> bool {
    i.sock_type == SOCK_DGRAM && i.protocol == IPPROTO_UDP
}

/// `enum` of `include/net/tcp_states.h`, for people.
fn tcp_state_name(s: u32) -> &'static str {
    const NAMES: [&str; 13] = [
        "?",
        "ESTABLISHED",
        "SYN_SENT",
        "SYN_RECV",
        "FIN_WAIT1",
        "FIN_WAIT2",
        "TIME_WAIT",
        "CLOSE",
        "CLOSE_WAIT",
        "LAST_ACK",
        "LISTEN",
        "CLOSING",
        "NEW_SYN_RECV",
    ];
    NAMES.get(s as usize).copied().unwrap_or("?")
}

/// The protocol, for people.
fn protocol_name(i: &InetFacts) -> &'static str {
    match i.protocol {
        IPPROTO_TCP => "TCP",
        IPPROTO_UDP => "UDP",
        p if p == bindings::IPPROTO_UDPLITE => "UDP-Lite",
        p if p == bindings::IPPROTO_SCTP => "SCTP",
        p if p == bindings::IPPROTO_MPTCP => "MPTCP",
        p if p == bindings::IPPROTO_ICMP || p == bindings::IPPROTO_ICMPV6 => "ICMP",
        _ if i.sock_type == bindings::sock_type_SOCK_RAW => "raw",
        _ => "other-protocol",
    }
}

/// An address as people write them: `127.0.0.1`, `::1`.
pub(crate) struct IpAddr<'a> {
    pub(crate) v6: bool,
    pub(crate) addr: &'a [u8; 16],
}

impl fmt::Display for IpAddr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = self.addr;
        if !self.v6 {
            return write!(f, "{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
        }
        let g: [u16; 8] = core::array::from_fn(|k| u16::from_be_bytes([a[2 * k], a[2 * k + 1]]));
        // The longest run of two or more zero groups is written `::` (RFC 5952).
        let (mut best, mut run) = ((0usize, 0usize), (0usize, 0usize));
        for (k, &x) in g.iter().enumerate() {
            if x != 0 {
                run = (k + 1, 0);
                continue;
            }
            run.1 += 1;
            if run.1 > best.1 {
                best = run;
            }
        }
        let mut k = 0;
        // Ends: every round moves `k` on by at least one group.
        while k < 8 {
            if best.1 >= 2 && k == best.0 {
                f.write_str("::")?;
                k += best.1;
                continue;
            }
            if k > 0 && !(best.1 >= 2 && k == best.0 + best.1) {
                f.write_str(":")?;
            }
            write!(f, "{:x}", g[k])?;
            k += 1;
        }
        Ok(())
    }
}

/// An address and port as people write them: `127.0.0.1:6379`, `[::1]:6379`.
pub(crate) struct SockAddr<'a> {
    pub(crate) v6: bool,
    pub(crate) addr: &'a [u8; 16],
    pub(crate) port: u32,
}

impl fmt::Display for SockAddr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = IpAddr {
            v6: self.v6,
            addr: self.addr,
        };
        f.write_str(if self.v6 { "[" } else { "" })?;
        fmt::Display::fmt(&a, f)?;
        write!(f, "{}:{}", if self.v6 { "]" } else { "" }, self.port)
    }
}

/// Whether a socket's local address is one a container's new network namespace has: the
/// any address or loopback (`127.0.0.0/8`, `::1`, and both as IPv4-mapped IPv6).
fn on_loopback_or_any(i: &InetFacts) -> bool {
    let a = &i.rcv_saddr;
    let v4 = |b: &[u8]| b == [0; 4] || b[0] == 127;
    if i.family != AF_INET6 {
        return v4(&a[..4]);
    }
    let mut one = [0u8; 16];
    one[15] = 1;
    let mapped = a[..10] == [0; 10] && a[10..12] == [0xff, 0xff];
    *a == [0; 16] || *a == one || (mapped && v4(&a[12..]))
}

/// `retrans_to_secs()` of `net/ipv4/tcp.c` (static there): the seconds `getsockopt`
/// reports for a `TCP_DEFER_ACCEPT` of `retrans` retransmits, which `setsockopt` turns back
/// into `retrans`.
fn retrans_to_secs(retrans: u32, timeout: u32, rto_max: u32) -> u32 {
    if retrans == 0 {
        return 0;
    }
    let (mut period, mut timeout) = (timeout, timeout);
    // Ends: `retrans` is a `u8` of the kernel's; the bound only guards a bad value.
    for _ in 1..retrans.min(255) {
        timeout = timeout.saturating_mul(2).min(rto_max);
        period = period.saturating_add(timeout);
    }
    period
}

/// Whether a socket is refused.
type Applies = fn(&InetFacts) -> bool;
/// Why, after `fd N: AF_INET TCP socket ADDR: `.
type Why = fn(&InetFacts, &mut fmt::Formatter<'_>) -> fmt::Result;

/// A socket timeout (`sk_rcvtimeo`, `sk_sndtimeo`) of `jiffies` at `hz` in milliseconds,
/// rounded up, as its record keeps it: 0 for none (`MAX_SCHEDULE_TIMEOUT`), `None` when it
/// does not fit in 32 bits.
pub(crate) fn timeo_ms(jiffies: u64, hz: u32) -> Option<u32> {
    if jiffies == 0 || jiffies >= i64::MAX as u64 {
        return Some(0);
    }
    if hz == 0 {
        return None;
    }
    // No u128: its division is a libgcc call the kernel does not have.
    let ms = jiffies.checked_mul(1000)?.div_ceil(u64::from(hz));
    u32::try_from(ms).ok()
}

/// What `rstr` would not make again, one rule a line, in the order they are tried.
#[rustfmt::skip]
const RULES: &[(Applies, Why)] = &[
    (|i| !matches!(i.sock_type, SOCK_STREAM | SOCK_DGRAM), |i, f| write!(f, "of type {}: only stream and datagram sockets are supported yet", i.sock_type)),
    (|i| !is_tcp(i) && !is_udp(i), |_, f| f.write_str("only TCP and UDP sockets are supported yet")),
    (|i| i.other_netns != 0, |_, f| f.write_str("of another network namespace than its process; not supported yet")),
    (|i| is_tcp(i) && !matches!(i.state, TCP_LISTEN | TCP_CLOSE), |i, f| write!(f, "in state {}: established TCP connections are not supported yet", tcp_state_name(i.state))),
    (|i| is_udp(i) && !matches!(i.state, TCP_CLOSE | TCP_ESTABLISHED), |i, f| write!(f, "in state {}; not supported yet", i.state)),
    (|i| i.state == TCP_LISTEN && i.ack_backlog > 0, |i, f| write!(f, "{} connections waiting in the accept queue; not supported yet", i.ack_backlog)),
    (|i| i.state == TCP_LISTEN && i.reqsk_queue > 0, |i, f| write!(f, "{} connections being established (handshake in progress); not supported yet", i.reqsk_queue)),
    (|i| is_tcp(i) && i.state == TCP_CLOSE && i.dport != 0, |_, f| f.write_str("a TCP connection that was closed; not supported yet")),
    (|i| i.shutdown != 0, |i, f| write!(f, "shut down (shutdown state {:#x}); not supported yet", i.shutdown)),
    (|i| i.err != 0, |i, f| write!(f, "with an error not reported yet (errno {}); not supported yet", i.err)),
    (|i| i.rcv_queue > 0 || i.rmem > 0, |i, f| write!(f, "{} datagrams or buffers ({} bytes) queued in its receive queue; not supported yet", i.rcv_queue, i.rmem)),
    (|i| i.write_queue > 0 || i.udp_pending != 0 || i.wmem > 0, |i, f| write!(f, "data in its send queue ({} buffers, {} bytes); not supported yet", i.write_queue, i.wmem)),
    (|i| i.bound_dev_if != 0, |i, f| write!(f, "bound to a device (SO_BINDTODEVICE, interface {}); not supported yet", i.bound_dev_if)),
    (|i| i.filter != 0, |_, f| f.write_str("with a socket filter (SO_ATTACH_FILTER, SO_ATTACH_BPF); not supported yet")),
    (|i| i.reuseport_prog != 0, |_, f| f.write_str("in a SO_REUSEPORT group with a BPF program; not supported yet")),
    (|i| i.mc_list != 0 || i.mc6_list != 0, |_, f| f.write_str("with multicast memberships (IP_ADD_MEMBERSHIP, IPV6_JOIN_GROUP); not supported yet")),
    (|i| i.inet_flags & INET_IF_NO_PORT != 0, |_, f| f.write_str("with IP_BIND_ADDRESS_NO_PORT set; not saved yet")),
    (|i| i.inet_flags & (INET_IF_HDRINCL | INET_IF_OPTIONS) != 0, |_, f| f.write_str("with IP_OPTIONS or IP_HDRINCL set; not saved yet")),
    (|i| i.inet_flags & INET_IF_RECVERR != 0, |_, f| f.write_str("with IP_RECVERR or IPV6_RECVERR set; not saved yet")),
    (|i| i.cmsg_flags != 0 || i.rxopt != 0, |_, f| f.write_str("with IP_PKTINFO, IP_RECVTOS or another IP_RECV*/IPV6_RECV* option set; not saved yet")),
    (|i| i.family == AF_INET6 && (i.hop_limit != -1 || i.tclass != 0), |_, f| f.write_str("with IPV6_UNICAST_HOPS or IPV6_TCLASS set; not saved yet")),
    (|i| timeo_ms(i.rcvtimeo, i.hz).is_none() || timeo_ms(i.sndtimeo, i.hz).is_none(), |_, f| f.write_str("with SO_RCVTIMEO or SO_SNDTIMEO of 2^32 ms or more; not supported yet")),
    (|i| i.peek_off != -1, |_, f| f.write_str("with SO_PEEK_OFF set; not saved yet")),
    (|i| i.tsflags != 0 || i.sock_flags & INET_SF_RCVTSTAMP != 0, |_, f| f.write_str("with SO_TIMESTAMP, SO_TIMESTAMPNS or SO_TIMESTAMPING set; not saved yet")),
    (|i| i.sock_flags & (INET_SF_URGINLINE | INET_SF_ZEROCOPY | INET_SF_RXQ_OVFL) != 0, |_, f| f.write_str("with SO_OOBINLINE, SO_ZEROCOPY or SO_RXQ_OVFL set; not saved yet")),
    (|i| i.sock_flags & INET_SF_LINGER != 0 && i.lingertime / u64::from(i.hz.max(1)) > i32::MAX as u64, |_, f| f.write_str("with SO_LINGER beyond 2^31 seconds; not supported yet")),
    (|i| i.tcp_opts & INET_TCP_CORK != 0, |_, f| f.write_str("with TCP_CORK set; not saved yet")),
    (|i| i.tcp_opts & INET_TCP_REPAIR != 0, |_, f| f.write_str("in TCP_REPAIR mode; not supported")),
    (|i| i.tcp_opts & (INET_TCP_SAVE_SYN | INET_TCP_INQ) != 0, |_, f| f.write_str("with TCP_SAVE_SYN or TCP_INQ set; not saved yet")),
    (|i| i.tcp_opts & INET_TCP_MD5 != 0, |_, f| f.write_str("with TCP_MD5SIG or TCP-AO keys; not saved yet")),
    (|i| i.tcp_opts & (INET_TCP_ULP | INET_TCP_CONGESTION) != 0, |_, f| f.write_str("with TCP_ULP or TCP_CONGESTION set; not saved yet")),
    (|i| i.user_mss != 0 || i.user_timeout != 0 || i.syn_retries != 0 || i.notsent_lowat != 0, |_, f| f.write_str("with TCP_MAXSEG, TCP_USER_TIMEOUT, TCP_SYNCNT or TCP_NOTSENT_LOWAT set; not saved yet")),
    (|i| i.udp_flags != 0 || i.encap_type != 0 || i.gso_size != 0, |i, f| write!(f, "with UDP_CORK, UDP_SEGMENT, UDP_GRO, UDP_ENCAP or UDP_NO_CHECK6_* set (flags {:#x}); not saved yet", i.udp_flags)),
];

/// What `rstr` could not make again in a container's own network namespace, which has only
/// `lo` with its default addresses ([`crate::ns`]).
#[rustfmt::skip]
const NETNS_RULE: (Applies, Why) =
    (|i| !on_loopback_or_any(i), |_, f| f.write_str("bound to an address that the container's network namespace, restored with only lo, will not have (only loopback and the any address are); not supported yet"));

/// The reason of a rule, for `refuse!`.
struct Reason<'a>(&'a InetFacts, Why);

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.1)(self.0, f)
    }
}

fn family_name(i: &InetFacts) -> &'static str {
    if i.family == AF_INET6 {
        "AF_INET6"
    } else {
        "AF_INET"
    }
}

/// Refuses the socket at `fd` by the first of [`RULES`] that applies, and then, for a
/// socket of a container's own network namespace (`own_net`), by [`NETNS_RULE`].
fn check(fd: u32, i: &InetFacts, own_net: bool) -> CkptResult {
    let netns = own_net.then_some(&NETNS_RULE);
    if let Some(&(_, why)) = Iterator::chain(RULES.iter(), netns).find(|(applies, _)| applies(i)) {
        let (fam, proto) = (family_name(i), protocol_name(i));
        if i.num != 0 {
            let local = SockAddr {
                v6: i.family == AF_INET6,
                addr: &i.rcv_saddr,
                port: i.num,
            };
            refuse!(
                EOPNOTSUPP,
                "fd {fd}: {fam} {proto} socket {local}: {}",
                Reason(i, why)
            );
        }
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: {fam} {proto} socket: {}",
            Reason(i, why)
        );
    }
    Ok(())
}

/// The `INET_SOCK` record of a socket [`check`] let through.
fn record(id: u32, i: &InetFacts) -> img::CkptInetSockRec {
    let tcp = is_tcp(i);
    let state = match i.state {
        TCP_LISTEN => inet_state::LISTENING,
        TCP_ESTABLISHED => inet_state::CONNECTED,
        _ => inet_state::CLOSED,
    };
    let bits = [
        (i.reuse != 0, img::CKPT_INET_REUSEADDR),
        (i.reuseport != 0, img::CKPT_INET_REUSEPORT),
        (
            i.sock_flags & INET_SF_KEEPOPEN != 0,
            img::CKPT_INET_KEEPALIVE,
        ),
        (
            i.sock_flags & INET_SF_BROADCAST != 0,
            img::CKPT_INET_BROADCAST,
        ),
        (i.sock_flags & INET_SF_LINGER != 0, img::CKPT_INET_LINGER),
        (
            i.family == AF_INET6 && i.ipv6only != 0,
            img::CKPT_INET_V6ONLY,
        ),
        (
            tcp && i.nonagle & TCP_NAGLE_OFF != 0,
            img::CKPT_INET_NODELAY,
        ),
        (
            i.inet_flags & INET_IF_FREEBIND != 0,
            img::CKPT_INET_FREEBIND,
        ),
        (
            i.inet_flags & INET_IF_TRANSPARENT != 0,
            img::CKPT_INET_TRANSPARENT,
        ),
        (
            i.userlocks & SOCK_BINDPORT_LOCK != 0,
            img::CKPT_INET_USER_PORT,
        ),
        (
            i.userlocks & SOCK_BINDADDR_LOCK != 0,
            img::CKPT_INET_USER_ADDR,
        ),
    ];
    let flags = bits
        .iter()
        .filter(|(on, _)| *on)
        .fold(0, |acc, (_, bit)| acc | bit);
    let hz = i.hz.max(1);
    let connected = state == inet_state::CONNECTED;
    let tcp_only = |v: u32| if tcp { v } else { 0 };
    img::CkptInetSockRec {
        id,
        family: i.family,
        sock_type: i.sock_type,
        protocol: i.protocol,
        state,
        flags,
        port: i.num,
        peer_port: if connected { i.dport } else { 0 },
        addr: i.rcv_saddr,
        peer_addr: if connected { i.daddr } else { [0; 16] },
        backlog: if state == inet_state::LISTENING {
            i.max_ack_backlog
        } else {
            0
        },
        sndbuf: if i.userlocks & bindings::SOCK_SNDBUF_LOCK != 0 {
            i.sndbuf
        } else {
            0
        },
        rcvbuf: if i.userlocks & bindings::SOCK_RCVBUF_LOCK != 0 {
            i.rcvbuf
        } else {
            0
        },
        priority: i.priority,
        mark: i.mark,
        rcvlowat: i.rcvlowat.max(0) as u32,
        linger: if flags & img::CKPT_INET_LINGER != 0 {
            (i.lingertime / u64::from(hz)) as u32
        } else {
            0
        },
        tos: i.tos,
        ttl: i.uc_ttl,
        keepidle: tcp_only(i.keepalive_time / hz),
        keepintvl: tcp_only(i.keepalive_intvl / hz),
        keepcnt: tcp_only(i.keepalive_probes),
        defer_accept: tcp_only(retrans_to_secs(
            i.defer_accept,
            i.defer_timeout_s,
            i.defer_rto_max_s,
        )),
        fastopen: tcp_only(i.fastopen_qlen),
        // Checked by the rules: both fit.
        rcvtimeo_ms: timeo_ms(i.rcvtimeo, i.hz).unwrap_or(0),
        sndtimeo_ms: timeo_ms(i.sndtimeo, i.hz).unwrap_or(0),
    }
}

/// The `INET_SOCK` record (once per socket) and `FILE` record of the TCP or UDP socket
/// open at `o`.
pub(crate) fn checkpoint(
    task: &TaskRef,
    objs: &mut Objects,
    w: &mut ImageWriter,
    o: &mut OpenFd,
) -> CkptResult {
    let fd = o.fd;
    let mut i = InetFacts::default();
    task.inet_socket(fd, &mut i)?;
    // The tree's checks let a task have a network namespace other than the caller's only
    // as a container's own, which restart makes with only lo.
    let own_net = task.namespaces().0[NsIds::NET] != NsIds::current().0[NsIds::NET];
    check(fd, &i, own_net)?;
    if objs.first_save(o.facts.file_id) {
        let r = record(o.rec.obj, &i);
        w.record(rec::INET_SOCK, &[r.as_bytes()])?;
    }
    crate::files::made_again(w, o, file_kind::INET_SOCKET, 0)
}

#[kunit_tests(ckpt_inet)]
mod tests {
    use super::*;
    use kernel::str::CString;

    /// A socket as `socket(AF_INET, SOCK_STREAM, 0)` makes it, then `listen`.
    fn listener() -> InetFacts {
        let mut i = InetFacts::default();
        (i.family, i.sock_type, i.protocol) = (AF_INET, SOCK_STREAM, IPPROTO_TCP);
        (i.state, i.num, i.max_ack_backlog) = (TCP_LISTEN, 6379, 511);
        i.rcv_saddr[..4].copy_from_slice(&[127, 0, 0, 1]);
        (i.peek_off, i.uc_ttl, i.hop_limit, i.rcvlowat, i.hz) = (-1, -1, -1, 1, 250);
        i
    }

    fn reason(i: &InetFacts) -> Option<CString> {
        check(3, i, false).err().and_then(|e| e.reason)
    }

    #[test]
    fn a_listener_passes_and_its_backlog_refuses() {
        let mut i = listener();
        assert!(check(3, &i, false).is_ok());
        i.ack_backlog = 2;
        let r = reason(&i).unwrap();
        assert_eq!(
            r.to_bytes(),
            b"fd 3: AF_INET TCP socket 127.0.0.1:6379: 2 connections waiting in the accept queue; not supported yet"
        );
    }

    #[test]
    fn every_rule_refuses_on_its_own() {
        let changes: [fn(&mut InetFacts); 12] = [
            |i| i.state = TCP_ESTABLISHED,
            |i| i.protocol = bindings::IPPROTO_SCTP,
            |i| i.sock_type = bindings::sock_type_SOCK_RAW,
            |i| i.reqsk_queue = 1,
            |i| i.bound_dev_if = 2,
            |i| i.filter = 1,
            |i| i.reuseport_prog = 1,
            |i| i.mc_list = 1,
            |i| i.rcvtimeo = 1 << 62,
            |i| i.tcp_opts = INET_TCP_CORK,
            |i| i.shutdown = 1,
            |i| i.other_netns = 1,
        ];
        for change in changes {
            let mut i = listener();
            change(&mut i);
            assert!(check(3, &i, false).is_err());
        }
        let mut u = listener();
        (u.sock_type, u.protocol, u.state, u.rcv_queue) = (SOCK_DGRAM, IPPROTO_UDP, TCP_CLOSE, 1);
        assert!(check(3, &u, false).is_err());
        u.rcv_queue = 0;
        assert!(check(3, &u, false).is_ok());
    }

    #[test]
    fn in_a_containers_network_namespace_only_loopback_and_any() {
        let mut i = listener();
        assert!(check(3, &i, true).is_ok());
        i.rcv_saddr[..4].copy_from_slice(&[127, 0, 0, 9]);
        assert!(check(3, &i, true).is_ok());
        i.rcv_saddr[..4].copy_from_slice(&[0, 0, 0, 0]);
        assert!(check(3, &i, true).is_ok());
        i.rcv_saddr[..4].copy_from_slice(&[10, 9, 9, 9]);
        assert!(check(3, &i, false).is_ok());
        let r = reason_in_netns(&i);
        assert!(r
            .to_bytes()
            .starts_with(b"fd 3: AF_INET TCP socket 10.9.9.9:6379: bound to an address"));
        let mut v6 = listener();
        (v6.family, v6.rcv_saddr) = (AF_INET6, [0; 16]);
        assert!(check(3, &v6, true).is_ok());
        v6.rcv_saddr[15] = 1;
        assert!(check(3, &v6, true).is_ok());
        v6.rcv_saddr[10..].copy_from_slice(&[0xff, 0xff, 127, 0, 0, 1]);
        assert!(check(3, &v6, true).is_ok());
        v6.rcv_saddr[12] = 10;
        assert!(check(3, &v6, true).is_err());
        v6.rcv_saddr = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert!(check(3, &v6, true).is_err());
    }

    fn reason_in_netns(i: &InetFacts) -> CString {
        check(3, i, true).err().and_then(|e| e.reason).unwrap()
    }

    #[test]
    fn established_is_named() {
        let mut i = listener();
        i.state = TCP_ESTABLISHED;
        let r = reason(&i).unwrap();
        assert!(r
            .to_str()
            .unwrap()
            .ends_with("in state ESTABLISHED: established TCP connections are not supported yet"));
    }

    #[test]
    fn addresses_are_written_as_people_do() {
        let mut a = [0u8; 16];
        a[15] = 1;
        let s = CString::try_from_fmt(fmt!(
            "{}",
            SockAddr {
                v6: true,
                addr: &a,
                port: 6379
            }
        ))
        .unwrap();
        assert_eq!(s.to_bytes(), b"[::1]:6379");
        a = [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1];
        let s = CString::try_from_fmt(fmt!(
            "{}",
            SockAddr {
                v6: true,
                addr: &a,
                port: 1
            }
        ))
        .unwrap();
        assert_eq!(s.to_bytes(), b"[2001:db8::1:0:0:1]:1");
        let z = [0u8; 16];
        let s = CString::try_from_fmt(fmt!(
            "{}",
            SockAddr {
                v6: true,
                addr: &z,
                port: 0
            }
        ))
        .unwrap();
        assert_eq!(s.to_bytes(), b"[::]:0");
    }

    #[test]
    fn defer_accept_counts_as_tcp_c() {
        assert_eq!(retrans_to_secs(0, 1, 120), 0);
        assert_eq!(retrans_to_secs(1, 1, 120), 1);
        // 1 + 2 + 4 + 8
        assert_eq!(retrans_to_secs(4, 1, 120), 15);
        // 1 + 2 + 4 + 8 + 16 + 32 + 64 + 120
        assert_eq!(retrans_to_secs(8, 1, 120), 247);
    }

    #[test]
    fn socket_timeouts_are_kept_in_milliseconds() {
        assert_eq!(timeo_ms(i64::MAX as u64, 250), Some(0));
        assert_eq!(timeo_ms(125, 250), Some(500));
        // One jiffy at 300 Hz: 3.33 ms, rounded up.
        assert_eq!(timeo_ms(1, 300), Some(4));
        assert_eq!(timeo_ms(1 << 40, 1000), None);
        let mut i = listener();
        (i.rcvtimeo, i.sndtimeo) = (250 * 3, i64::MAX as u64);
        let r = record(9, &i);
        assert_eq!((r.rcvtimeo_ms, r.sndtimeo_ms), (3000, 0));
    }

    #[test]
    fn the_record_keeps_what_the_user_set() {
        let mut i = listener();
        (i.reuse, i.userlocks, i.rcvbuf) = (1, bindings::SOCK_RCVBUF_LOCK, 8192);
        (i.sock_flags, i.nonagle, i.keepalive_time) = (INET_SF_KEEPOPEN, TCP_NAGLE_OFF, 250 * 60);
        let r = record(9, &i);
        assert_eq!(r.state, inet_state::LISTENING);
        assert_eq!(r.backlog, 511);
        assert_eq!(r.rcvbuf, 8192);
        assert_eq!(r.sndbuf, 0);
        assert_eq!(r.keepidle, 60);
        let want = img::CKPT_INET_REUSEADDR | img::CKPT_INET_KEEPALIVE | img::CKPT_INET_NODELAY;
        assert_eq!(r.flags, want);
    }
}
