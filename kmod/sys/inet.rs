// SPDX-License-Identifier: GPL-2.0

//! TCP and UDP sockets: what the descriptor of one shows (`ckpt_helper_task_inet`), read
//! under `lock_sock`, for `kmod/inet.rs` to decide on.

use core::mem::offset_of;

use kernel::bindings;
use kernel::prelude::*;

use super::check;
use super::task::TaskRef;

/// The facts of one socket, as `struct ckpt_h_inet` (`helpers.h`) has them: raw field
/// values, every decision is `kmod/inet.rs`'s.
#[repr(C)]
pub(crate) struct InetFacts {
    pub(crate) family: u32,
    pub(crate) sock_type: u32,
    pub(crate) protocol: u32,
    /// `sk_state` (`TCP_LISTEN`, `TCP_CLOSE`, `TCP_ESTABLISHED`...).
    pub(crate) state: u32,
    /// `inet_num`: the local port, 0 if unbound.
    pub(crate) num: u32,
    /// The peer's port.
    pub(crate) dport: u32,
    /// The local address: an IPv4 one in the first 4 bytes, network byte order.
    pub(crate) rcv_saddr: [u8; 16],
    pub(crate) daddr: [u8; 16],
    /// `sk_reuse` (`SO_REUSEADDR`), `sk_reuseport` (`SO_REUSEPORT`).
    pub(crate) reuse: u32,
    pub(crate) reuseport: u32,
    /// Its reuseport group has a BPF program (`SO_ATTACH_REUSEPORT_*BPF`).
    pub(crate) reuseport_prog: u32,
    /// `sk_userlocks`: `SOCK_SNDBUF_LOCK`, `SOCK_RCVBUF_LOCK`, `SOCK_BINDADDR_LOCK`,
    /// `SOCK_BINDPORT_LOCK`.
    pub(crate) userlocks: u32,
    /// `INET_SF_*`.
    pub(crate) sock_flags: u32,
    /// Connections not accepted yet.
    pub(crate) ack_backlog: u32,
    /// Handshakes in progress (request sockets).
    pub(crate) reqsk_queue: u32,
    pub(crate) max_ack_backlog: u32,
    pub(crate) sndbuf: u32,
    pub(crate) rcvbuf: u32,
    pub(crate) priority: u32,
    pub(crate) mark: u32,
    pub(crate) rcvlowat: i32,
    pub(crate) shutdown: u32,
    /// `sk_err`: an error not reported yet.
    pub(crate) err: i32,
    /// `SO_BINDTODEVICE`'s interface index, 0 for none.
    pub(crate) bound_dev_if: i32,
    pub(crate) filter: u32,
    /// Bit 0: `SO_RCVTIMEO` set, bit 1: `SO_SNDTIMEO` set.
    pub(crate) timeo: u32,
    /// `SO_PEEK_OFF`, -1 when off.
    pub(crate) peek_off: i32,
    pub(crate) tsflags: u32,
    /// Buffers queued to be read.
    pub(crate) rcv_queue: u32,
    /// Buffers queued to be sent.
    pub(crate) write_queue: u32,
    /// Bytes being sent.
    pub(crate) wmem: u32,
    /// `HZ`: the unit of the jiffies fields.
    pub(crate) hz: u32,
    /// `SO_LINGER`'s time, in jiffies.
    pub(crate) lingertime: u64,
    /// `INET_IF_*`.
    pub(crate) inet_flags: u32,
    /// `IP_PKTINFO`, `IP_RECVTOS`... (`inet_cmsg_flags`).
    pub(crate) cmsg_flags: u32,
    pub(crate) tos: u32,
    /// `IP_TTL`, -1 when not set.
    pub(crate) uc_ttl: i32,
    /// IPv4 multicast memberships.
    pub(crate) mc_list: u32,
    /// Of another network namespace than the task's.
    pub(crate) other_netns: u32,
    pub(crate) ipv6only: u32,
    /// `IPV6_UNICAST_HOPS`, -1 when not set.
    pub(crate) hop_limit: i32,
    /// `IPV6_TCLASS`.
    pub(crate) tclass: u32,
    /// `IPV6_RECVPKTINFO` and the other received-data options.
    pub(crate) rxopt: u32,
    /// IPv6 multicast memberships.
    pub(crate) mc6_list: u32,
    /// `TCP_NAGLE_OFF` (`TCP_NODELAY`), `TCP_NAGLE_CORK`...
    pub(crate) nonagle: u32,
    /// `TCP_KEEPIDLE`, `TCP_KEEPINTVL` in jiffies, `TCP_KEEPCNT`; 0 when not set.
    pub(crate) keepalive_time: u32,
    pub(crate) keepalive_intvl: u32,
    pub(crate) keepalive_probes: u32,
    /// `TCP_DEFER_ACCEPT` in retransmits, with the two bounds `tcp.c` counts its seconds
    /// with (`TCP_TIMEOUT_INIT / HZ`, `TCP_RTO_MAX / HZ`).
    pub(crate) defer_accept: u32,
    pub(crate) defer_timeout_s: u32,
    pub(crate) defer_rto_max_s: u32,
    /// `TCP_FASTOPEN`'s queue length.
    pub(crate) fastopen_qlen: u32,
    pub(crate) user_mss: u32,
    pub(crate) user_timeout: u32,
    pub(crate) syn_retries: u32,
    pub(crate) notsent_lowat: u32,
    /// `INET_TCP_*`.
    pub(crate) tcp_opts: u32,
    /// `udp_flags`: `UDP_CORK`, `UDP_GRO`, `UDP_NO_CHECK6_*`...
    pub(crate) udp_flags: u32,
    /// Corked frames pending.
    pub(crate) udp_pending: u32,
    /// `UDP_ENCAP`.
    pub(crate) encap_type: u32,
    /// `UDP_SEGMENT`.
    pub(crate) gso_size: u32,
    /// Bytes received, unread.
    pub(crate) rmem: u32,
    pub(crate) __reserved: u32,
    /// `sk_rcvtimeo` and `sk_sndtimeo` in jiffies (`MAX_SCHEDULE_TIMEOUT` for none).
    pub(crate) rcvtimeo: u64,
    pub(crate) sndtimeo: u64,
}

/// [`InetFacts::sock_flags`]: `SO_KEEPALIVE`.
pub(crate) const INET_SF_KEEPOPEN: u32 = 1 << 0;
/// `SO_BROADCAST`.
pub(crate) const INET_SF_BROADCAST: u32 = 1 << 1;
/// `SO_LINGER` on.
pub(crate) const INET_SF_LINGER: u32 = 1 << 2;
/// `SO_TIMESTAMP` or `SO_TIMESTAMPNS`.
pub(crate) const INET_SF_RCVTSTAMP: u32 = 1 << 3;
/// `SO_OOBINLINE`.
pub(crate) const INET_SF_URGINLINE: u32 = 1 << 4;
/// `SO_ZEROCOPY`.
pub(crate) const INET_SF_ZEROCOPY: u32 = 1 << 5;
/// `SO_RXQ_OVFL`.
pub(crate) const INET_SF_RXQ_OVFL: u32 = 1 << 6;

/// [`InetFacts::inet_flags`]: `IP_FREEBIND`.
pub(crate) const INET_IF_FREEBIND: u32 = 1 << 0;
/// `IP_TRANSPARENT`.
pub(crate) const INET_IF_TRANSPARENT: u32 = 1 << 1;
/// `IP_RECVERR` or `IPV6_RECVERR`.
pub(crate) const INET_IF_RECVERR: u32 = 1 << 2;
/// `IP_BIND_ADDRESS_NO_PORT`.
pub(crate) const INET_IF_NO_PORT: u32 = 1 << 3;
/// `IP_HDRINCL`.
pub(crate) const INET_IF_HDRINCL: u32 = 1 << 4;
/// `IP_OPTIONS`.
pub(crate) const INET_IF_OPTIONS: u32 = 1 << 5;

/// [`InetFacts::tcp_opts`]: `TCP_CORK`.
pub(crate) const INET_TCP_CORK: u32 = 1 << 0;
/// `TCP_REPAIR`.
pub(crate) const INET_TCP_REPAIR: u32 = 1 << 1;
/// `TCP_SAVE_SYN`.
pub(crate) const INET_TCP_SAVE_SYN: u32 = 1 << 2;
/// `TCP_INQ`.
pub(crate) const INET_TCP_INQ: u32 = 1 << 3;
/// `TCP_MD5SIG` or TCP-AO keys.
pub(crate) const INET_TCP_MD5: u32 = 1 << 4;
/// `TCP_ULP` (kTLS...).
pub(crate) const INET_TCP_ULP: u32 = 1 << 5;
/// `TCP_CONGESTION` set by the program.
pub(crate) const INET_TCP_CONGESTION: u32 = 1 << 6;

// Kernel constants bindgen does not see (`include/net/tcp_states.h`, `include/net/sock.h`,
// `include/net/tcp.h` are not in the kernel crate's bindings): their values are asserted
// against the kernel's in `helpers.c` (`CKPT_H_*`).
/// `TCP_ESTABLISHED` of `sk_state`.
pub(crate) const TCP_ESTABLISHED: u32 = 1;
/// `TCP_CLOSE`.
pub(crate) const TCP_CLOSE: u32 = 7;
/// `TCP_LISTEN`.
pub(crate) const TCP_LISTEN: u32 = 10;
/// `SOCK_BINDADDR_LOCK` of `sk_userlocks`: the program bound an address.
pub(crate) const SOCK_BINDADDR_LOCK: u32 = 4;
/// `SOCK_BINDPORT_LOCK`: the program bound a port.
pub(crate) const SOCK_BINDPORT_LOCK: u32 = 8;
/// `TCP_NAGLE_OFF` of `tcp_sock.nonagle`: `TCP_NODELAY`.
pub(crate) const TCP_NAGLE_OFF: u32 = 1;

const _: () = {
    assert!(size_of::<InetFacts>() == 296);
    assert!(offset_of!(InetFacts, rcv_saddr) == 24 && offset_of!(InetFacts, reuse) == 56);
    assert!(offset_of!(InetFacts, lingertime) == 152 && offset_of!(InetFacts, inet_flags) == 160);
    assert!(offset_of!(InetFacts, nonagle) == 204 && offset_of!(InetFacts, udp_flags) == 256);
    assert!(offset_of!(InetFacts, rmem) == 272);
};

impl Default for InetFacts {
    fn default() -> Self {
        // SAFETY: all fields are integers or arrays of them, for which zero is valid.
        unsafe { core::mem::zeroed() }
    }
}

#[allow(
    improper_ctypes,
    reason = "pointers to bindgen structs with empty members"
)]
extern "C" {
    fn ckpt_helper_task_inet(task: *mut bindings::task_struct, fd: u32, out: *mut InetFacts)
        -> i32;
}

impl TaskRef {
    /// The TCP or UDP socket open at `fd`: its facts into `out`. `ENOTSOCK` if `fd` is no
    /// socket, `EAFNOSUPPORT` if one of another family than `AF_INET`, `AF_INET6`.
    pub(crate) fn inet_socket(&self, fd: u32, out: &mut InetFacts) -> Result {
        // SAFETY: the task is valid by the type invariant; `out` is writable and has the
        // helper's layout (asserted on both sides).
        let ret = unsafe { ckpt_helper_task_inet(self.raw(), fd, out) };
        check(ret as isize).map(|_| ())
    }
}
