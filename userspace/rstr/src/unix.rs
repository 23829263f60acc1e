// SPDX-License-Identifier: GPL-2.0

//! Unix domain sockets (the image's `UNIX_SOCK` and `SKB` records), made again by `rstr`
//! before the first fork and parked with the other files ([`crate::files::park`]):
//!
//! - a connected pair with `socketpair`, both ends at once; the connections accepted from a
//!   listening socket right after its `listen`, each by a non-blocking `connect` to the
//!   listener's name and an `accept` from it, so that the accepted end has the listener's
//!   name again (a random token sent on it tells that the connection accepted is rstr's
//!   own, not one another process made meanwhile: else the restart fails); what was queued
//!   for each end to read is sent again from the other end, message by message (a stream's
//!   bytes at once), so it lands in the right receive queue with its boundaries; then each
//!   end's shutdown state is applied, after the data;
//! - the connections a listening socket had not accepted yet, right after those accepted,
//!   in the order of its backlog: the socket that had connected (its peer) connects again
//!   without waiting, sends what the connection had queued (message by message) and is shut
//!   down as it was; nothing is accepted, so `accept` returns them in their order with
//!   their data (`listen` first with a backlog that holds them all, then with the saved one);
//! - a listening socket with `socket`, `bind` on its name and `listen` with its backlog; a
//!   socket file left at its path is removed first if, and only if, it is a socket nobody
//!   listens on (`connect` is refused): anything else at the path fails the restart;
//! - a socket neither connected nor listening with `socket` (and `bind` if it had a name).
//!
//! The queued data is charged to the sender's buffer: the refill is sent with a send
//! buffer large enough for it, then `SO_SNDBUF` and `SO_RCVBUF` are set to the saved values
//! where the program had set them (the kernel lets them be lowered below what is queued);
//! `SO_*BUFFORCE` is tried when the limits (`net.core.wmem_max`) cap the plain ones.

use std::collections::{HashMap, HashSet};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileTypeExt;

use anyhow::{bail, ensure, Context, Result};
use ckptlib::abi::{
    self,
    image::{self as img, unix_state},
};
use ckptlib::restart::{Image, OpenFile, UnixImage};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::socket::{
    bind, connect, getsockopt, recv, send, sendmsg, setsockopt, shutdown, socket, socketpair,
    sockopt, AddressFamily, ControlMessage, GetSockOpt, MsgFlags, SetSockOpt, Shutdown, SockFlag,
    SockType, UnixAddr,
};

/// The sockets made ahead of their own descriptor: the other end of a pair, a listener
/// made for a connection accepted from it; and a copy of each listener, by name id, to
/// accept its connections from.
#[derive(Default)]
pub struct Made {
    ends: HashMap<u32, OwnedFd>,
    listeners: HashMap<u32, OwnedFd>,
    /// The pairs whose queues carry descriptors in flight, by socket id and its peer's:
    /// filled once every object is made ([`fill_deferred`]).
    deferred: Vec<(OwnedFd, u32, OwnedFd, u32)>,
}

impl Made {
    pub fn new() -> Self {
        Self::default()
    }
}

/// The socket a file object of kind `UNIX_SOCKET` is, made the first time it (or its peer)
/// is asked for, with the descriptor's status flags (`O_NONBLOCK`).
pub fn socket_end(image: &Image, f: &OpenFile, made: &mut Made) -> Result<OwnedFd> {
    let r = &f.rec;
    let id = r.pipe;
    let fd = match made.ends.remove(&id) {
        Some(fd) => fd,
        None => make(image, id, made).with_context(|| format!("fd {}: unix socket {id}", r.fd))?,
    };
    let status = OFlag::from_bits_retain(r.flags as i32) - OFlag::O_ACCMODE;
    fcntl(&fd, FcntlArg::F_SETFL(status))
        .with_context(|| format!("fd {}: unix socket flags", r.fd))?;
    Ok(fd)
}

fn sock_type(u: &UnixImage) -> Result<SockType> {
    Ok(match u.sock.sock_type as i32 {
        libc::SOCK_STREAM => SockType::Stream,
        libc::SOCK_DGRAM => SockType::Datagram,
        libc::SOCK_SEQPACKET => SockType::SeqPacket,
        t => bail!("type {t}"),
    })
}

/// Makes socket `id` (and its peer, into `made`).
fn make(image: &Image, id: u32, made: &mut Made) -> Result<OwnedFd> {
    let u = image.unix.get(&id).context("no UNIX_SOCK record")?;
    let ty = sock_type(u)?;
    match u.sock.state {
        unix_state::CONNECTED => {
            let p = image
                .unix
                .get(&u.sock.peer)
                .with_context(|| format!("its peer {} has no UNIX_SOCK record", u.sock.peer))?;
            if u.sock.listener != 0 || p.sock.listener != 0 {
                // Accepted from a listener: made with it, right after its listen().
                let name = u.sock.listener.max(p.sock.listener);
                if !made.listeners.contains_key(&name) {
                    let l = ckptlib::unix::listener_of(&image.unix, name)
                        .with_context(|| format!("no listener of name {name}"))?;
                    let fd = make(image, l.sock.id, made)
                        .with_context(|| format!("its listener, unix socket {}", l.sock.id))?;
                    made.ends.insert(l.sock.id, fd);
                }
                return made
                    .ends
                    .remove(&id)
                    .context("not made with its listener (made twice?)");
            }
            let (a, b) = socketpair(AddressFamily::Unix, ty, None, SockFlag::SOCK_CLOEXEC)
                .context("socketpair")?;
            fill_or_defer(&a, u, &b, p, made)?;
            made.ends.insert(p.sock.id, b);
            Ok(a)
        }
        unix_state::LISTENING | unix_state::UNCONNECTED => {
            let s =
                socket(AddressFamily::Unix, ty, SockFlag::SOCK_CLOEXEC, None).context("socket")?;
            buffers(&s, u)?;
            if !u.name.is_empty() {
                bind_name(&s, &u.name, ty)?;
            }
            if u.sock.state == unix_state::LISTENING {
                let backlog = i32::try_from(u.sock.backlog)
                    .with_context(|| format!("backlog {}", u.sock.backlog))?;
                let embryos = ckptlib::unix::embryos_of(&image.unix, u.sock.listener);
                // Room for its connections not accepted yet, whatever the backlog is now
                // (`listen` may have lowered it since they connected).
                let room = i32::try_from(embryos.len())
                    .unwrap_or(i32::MAX)
                    .max(backlog);
                crate::sys::listen(s.as_fd(), room).context("listen")?;
                let copy = s.try_clone().context("dup of the listener")?;
                made.listeners.insert(u.sock.listener, copy);
                // Its accepted connections at once, before others can connect to it.
                let mut ids: Vec<u32> = image
                    .unix
                    .values()
                    .filter(|a| {
                        a.sock.state == unix_state::CONNECTED && a.sock.listener == u.sock.listener
                    })
                    .map(|a| a.sock.id)
                    .collect();
                ids.sort_unstable();
                for a in ids {
                    accepted(image, a, &s, made)
                        .with_context(|| format!("its accepted connection, unix socket {a}"))?;
                }
                // Then those not accepted yet, in the order of its backlog.
                for e in embryos {
                    let place = e.sock.backlog;
                    embryo(image, e, made).with_context(|| {
                        format!(
                            "its connection {place} not accepted yet, unix socket {}",
                            e.sock.id
                        )
                    })?;
                }
                if room != backlog {
                    crate::sys::listen(s.as_fd(), backlog).context("listen, again")?;
                }
            }
            Ok(s)
        }
        st => bail!("state {st}"),
    }
}

/// [`fill`]s the pair now, or once every object is made if a queue of it carries
/// descriptors in flight (copies of both ends kept in `made` until then).
fn fill_or_defer(
    a: &OwnedFd,
    u: &UnixImage,
    b: &OwnedFd,
    p: &UnixImage,
    made: &mut Made,
) -> Result<()> {
    let carries = |x: &UnixImage| x.fds.iter().any(|f| !f.is_empty());
    if !carries(u) && !carries(p) {
        return fill(a, u, b, p, &HashMap::new());
    }
    let (ca, cb) = (
        a.try_clone().context("dup of a socket")?,
        b.try_clone().context("dup of its peer")?,
    );
    made.deferred.push((ca, u.sock.id, cb, p.sock.id));
    Ok(())
}

/// Fills the pairs whose queues carry descriptors in flight, now that every object of the
/// image is made, at its parked descriptor (`parked`, by `FILE.obj`).
pub fn fill_deferred(image: &Image, made: &mut Made, parked: &HashMap<u32, RawFd>) -> Result<()> {
    for (a, u, b, p) in made.deferred.drain(..) {
        let (u, p) = (&image.unix[&u], &image.unix[&p]);
        fill(&a, u, &b, p, parked).with_context(|| format!("unix socket {}", u.sock.id))?;
    }
    Ok(())
}

/// Sets `a` (socket `u`) and `b` (its peer `p`) as they were: what each had to read, sent
/// by the other, with room enough in the sender's buffer, each message with the
/// descriptors it carried (`parked`: the objects, by `FILE.obj`); then the buffer sizes
/// saved (the kernel lets `SO_SNDBUF` be lowered below what is queued) and the shutdown
/// state.
fn fill(
    a: &OwnedFd,
    u: &UnixImage,
    b: &OwnedFd,
    p: &UnixImage,
    parked: &HashMap<u32, RawFd>,
) -> Result<()> {
    let peer = || format!("its peer {}", p.sock.id);
    room(b, p, u)?;
    room(a, u, p).with_context(peer)?;
    refill(b, u, parked)?;
    refill(a, p, parked).with_context(peer)?;
    buffers(a, u)?;
    buffers(b, p).with_context(peer)?;
    apply_shutdown(a, u.sock.shutdown)?;
    apply_shutdown(b, p.sock.shutdown).with_context(peer)
}

/// Before the refill: a send buffer on `from` (socket `s`) large enough for what `to` has
/// to read, where the program had set `s`'s (else the default, under which it was sent).
fn room(from: &OwnedFd, s: &UnixImage, to: &UnixImage) -> Result<()> {
    if s.sock.sndbuf == 0 {
        return Ok(());
    }
    // Each message's data and its skb's overhead, twice (the kernel doubles the value).
    let need = to.queue.iter().map(|m| m.len() + 1024).sum::<usize>() + 64 * 1024;
    let need = need
        .max(s.sock.sndbuf as usize / 2)
        .min(i32::MAX as usize / 2);
    setsockopt(from, sockopt::SndBuf, &need).context("SO_SNDBUF, for the refill")?;
    if getsockopt(from, sockopt::SndBuf).context("SO_SNDBUF")? < 2 * need {
        // Capped by net.core.wmem_max; without CAP_NET_ADMIN the refill may not fit, and
        // fails with the numbers.
        let _ = setsockopt(from, sockopt::SndBufForce, &need);
    }
    Ok(())
}

/// Makes the connection `id` accepted from `listener` again, with its peer: a socket
/// connects to the listener's name without waiting and the listener accepts it, as when
/// the tree made it. The connection accepted must be that socket's, not one another
/// process made meanwhile: a random token sent by the connecting end must be what the
/// accepted end reads. Both ends into `made`.
fn accepted(image: &Image, id: u32, listener: &OwnedFd, made: &mut Made) -> Result<()> {
    let server = image.unix.get(&id).context("no UNIX_SOCK record")?;
    let client = image
        .unix
        .get(&server.sock.peer)
        .with_context(|| format!("its peer {} has no UNIX_SOCK record", server.sock.peer))?;
    ensure!(
        client.sock.listener == 0,
        "its peer {} is accepted too",
        client.sock.id
    );
    let ty = sock_type(server)?;
    let c = socket(
        AddressFamily::Unix,
        ty,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
    .context("socket")?;
    let addr = addr_of(&server.name)?;
    match connect(c.as_raw_fd(), &addr) {
        Ok(()) => {}
        Err(Errno::EAGAIN) => bail!(
            "connect to its listener: its backlog is full (another process connected to it during the restart)"
        ),
        Err(e) => return Err(e).context("connect to its listener"),
    }
    let s = crate::sys::accept(listener.as_fd()).context("accept from its listener")?;
    let mut token = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut r| std::io::Read::read_exact(&mut r, &mut token))
        .context("a token from /dev/urandom")?;
    let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
    let sent = send(c.as_raw_fd(), &token, flags).context("sending the token")?;
    ensure!(sent == token.len(), "the token sent as {sent} bytes");
    let mut got = [0u8; 17];
    let n = match recv(s.as_raw_fd(), &mut got, MsgFlags::MSG_DONTWAIT) {
        Ok(n) => n,
        Err(Errno::EAGAIN) => 0,
        Err(e) => return Err(e).context("reading the token"),
    };
    ensure!(
        got[..n] == token,
        "the connection accepted from its listener is another process's (it connected during the restart): restart refused"
    );
    fill_or_defer(&s, server, &c, client, made)?;
    made.ends.insert(server.sock.id, s);
    made.ends.insert(client.sock.id, c);
    Ok(())
}

/// Makes the connection `e` not accepted yet again, in the backlog of its listener (made
/// just before, named `e.name`): its peer, the socket that connected, connects to the
/// name without waiting and sends what `e` had queued, then is shut down as it was (which
/// the connection mirrors). Nothing is queued for the peer (checked by
/// [`ckptlib::unix::check_pairs`]). The peer into `made`.
fn embryo(image: &Image, e: &UnixImage, made: &mut Made) -> Result<()> {
    let client = image
        .unix
        .get(&e.sock.peer)
        .with_context(|| format!("its peer {} has no UNIX_SOCK record", e.sock.peer))?;
    let c = socket(
        AddressFamily::Unix,
        sock_type(e)?,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
    .context("socket")?;
    match connect(c.as_raw_fd(), &addr_of(&e.name)?) {
        Ok(()) => {}
        Err(Errno::EAGAIN) => bail!(
            "connect to its listener: its backlog is full (another process connected to it during the restart)"
        ),
        Err(e) => return Err(e).context("connect to its listener"),
    }
    let peer = || format!("from its peer {}", client.sock.id);
    room(&c, client, e).with_context(peer)?;
    refill(&c, e, &HashMap::new()).with_context(peer)?;
    buffers(&c, client).with_context(peer)?;
    apply_shutdown(&c, client.sock.shutdown).with_context(peer)?;
    made.ends.insert(client.sock.id, c);
    Ok(())
}

/// The address of a name of the image: abstract (a NUL first) or a path.
fn addr_of(name: &[u8]) -> Result<UnixAddr> {
    if name.first() == Some(&0) {
        return UnixAddr::new_abstract(&name[1..]).context("abstract name");
    }
    let path = std::str::from_utf8(name).context("name is not UTF-8")?;
    UnixAddr::new(path).with_context(|| format!("name {path}"))
}

/// `SO_SNDBUF` and `SO_RCVBUF` as the image has them (the kernel's doubled values), where
/// the program had set them; `SO_RCVTIMEO` and `SO_SNDTIMEO`; `SO_PASSCRED` (after the
/// refill: the image has it only on an empty receive queue).
fn buffers(s: &OwnedFd, u: &UnixImage) -> Result<()> {
    crate::inet::set_timeouts(s, u.sock.rcvtimeo_ms, u.sock.sndtimeo_ms)?;
    if u.sock.flags & img::CKPT_UNIX_PASSCRED != 0 {
        setsockopt(s, sockopt::PassCred, &true).context("SO_PASSCRED")?;
    }
    buffer(
        s,
        u.sock.sndbuf,
        "SO_SNDBUF",
        sockopt::SndBuf,
        sockopt::SndBufForce,
    )?;
    buffer(
        s,
        u.sock.rcvbuf,
        "SO_RCVBUF",
        sockopt::RcvBuf,
        sockopt::RcvBufForce,
    )
}

/// Sets one buffer size to `want` as the kernel holds it (twice what is asked), with the
/// `FORCE` option when the plain one is capped; none when `want` is 0.
pub(crate) fn buffer<O, F>(s: &OwnedFd, want: u32, name: &str, opt: O, force: F) -> Result<()>
where
    O: GetSockOpt<Val = usize> + SetSockOpt<Val = usize> + Copy,
    F: SetSockOpt<Val = usize>,
{
    if want == 0 {
        return Ok(());
    }
    let want = want as usize;
    setsockopt(s, opt, &(want / 2)).context(name.to_owned())?;
    if getsockopt(s, opt).context(name.to_owned())? != want {
        setsockopt(s, force, &(want / 2)).with_context(|| format!("{name} (forced)"))?;
    }
    let now = getsockopt(s, opt).context(name.to_owned())?;
    ensure!(now == want, "{name} is {now}, not {want}");
    Ok(())
}

/// The descriptors to send again with message `i` of `u`: the parked objects it carried.
fn carried(u: &UnixImage, i: usize, parked: &HashMap<u32, RawFd>) -> Result<Vec<RawFd>> {
    let objs = u.fds.get(i).map_or(&[][..], Vec::as_slice);
    objs.iter()
        .map(|o| {
            parked.get(o).copied().with_context(|| {
                format!("message {i} carries description {o}, which was not made (given by --fd?)")
            })
        })
        .collect()
}

/// Sends `u`'s saved queue from `from`, its peer: a stream's bytes until all are sent, each
/// message of a datagram or seqpacket socket whole, each with the descriptors it carried
/// in flight (`SCM_RIGHTS`, with the message's first bytes). Never blocks: a queue that no
/// longer fits fails with the numbers.
fn refill(from: &OwnedFd, u: &UnixImage, parked: &HashMap<u32, RawFd>) -> Result<()> {
    let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
    let stream = u.sock.sock_type as i32 == libc::SOCK_STREAM;
    for (i, m) in u.queue.iter().enumerate() {
        let mut at = 0;
        let mut fds = carried(u, i, parked)?;
        loop {
            let sent = if fds.is_empty() {
                send(from.as_raw_fd(), &m[at..], flags)
            } else {
                let iov = [std::io::IoSlice::new(&m[at..])];
                let cmsg = [ControlMessage::ScmRights(&fds)];
                sendmsg::<()>(from.as_raw_fd(), &iov, &cmsg, flags, None)
            };
            let n = match sent {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!(
                            "refilling its receive queue: message {i} ({} bytes), {at} sent",
                            m.len()
                        )
                    })
                }
            };
            at += n;
            // Sent with the first bytes: not again.
            fds.clear();
            if !stream {
                ensure!(
                    n == m.len(),
                    "refilling its receive queue: message {i} of {} bytes sent as {n}",
                    m.len()
                );
            }
            if at >= m.len() {
                break;
            }
        }
    }
    Ok(())
}

fn apply_shutdown(s: &OwnedFd, bits: u32) -> Result<()> {
    let how = match bits {
        0 => return Ok(()),
        img::CKPT_UNIX_RCV_SHUTDOWN => Shutdown::Read,
        img::CKPT_UNIX_SEND_SHUTDOWN => Shutdown::Write,
        _ => Shutdown::Both,
    };
    shutdown(s.as_raw_fd(), how).with_context(|| format!("shutdown {how:?}"))
}

/// Binds `s` to `name`: an abstract name as it is; a path after removing a stale socket file
/// left there (a socket nobody listens on), never anything else.
fn bind_name(s: &OwnedFd, name: &[u8], ty: SockType) -> Result<()> {
    let addr = addr_of(name)?;
    if name[0] == 0 {
        return bind(s.as_raw_fd(), &addr).with_context(|| {
            format!(
                "bind to the abstract name @{}",
                String::from_utf8_lossy(&name[1..])
            )
        });
    }
    let path = std::str::from_utf8(name).context("name is not UTF-8")?;
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if stale(&addr, ty)? {
                std::fs::remove_file(path)
                    .with_context(|| format!("removing the stale socket file {path}"))?;
            } else {
                bail!("{path}: another socket is listening there");
            }
        }
        Ok(_) => bail!("{path} exists and is not a socket: not removed"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("lstat {path}")),
    }
    bind(s.as_raw_fd(), &addr).with_context(|| format!("bind to {path}"))
}

/// Whether the socket file at `addr` is stale: a connection to it is refused.
fn stale(addr: &UnixAddr, ty: SockType) -> Result<bool> {
    let probe = socket(
        AddressFamily::Unix,
        ty,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
    .context("socket")?;
    match connect(probe.as_raw_fd(), addr) {
        Err(Errno::ECONNREFUSED) => Ok(true),
        // EPROTOTYPE: a socket of another type is bound there, alive.
        Ok(()) | Err(Errno::EAGAIN) | Err(Errno::EPROTOTYPE) => Ok(false),
        Err(e) => Err(e).context("connect, to tell whether the socket file is stale"),
    }
}

/// The peer credentials (`SO_PEERCRED`) of every unix socket `rstr` made, as the image
/// has them, for `CKPT_IOC_RESTART_PEERS` once every task has joined the session: each
/// socket at its parked descriptor (`parked`, by file object), and each connection not
/// accepted yet through its listener's. `rstr` made them all, so until then they name
/// `rstr` and its credentials. A peer pid that is no live process of the image (one that
/// exited, or outside the tree) becomes 0, as the kernel shows a peer whose pid is not in
/// the reader's namespace.
pub fn peers(image: &Image, parked: &HashMap<u32, RawFd>) -> Vec<abi::CkptPeerCred> {
    let live: HashSet<i32> = image
        .tree
        .iter()
        .zip(&image.tasks)
        .filter(|(e, t)| t.is_some() && e.pid == e.tgid)
        .map(|(e, _)| e.pid)
        .collect();
    let mut done = HashSet::new();
    let mut out = Vec::new();
    for f in image.files() {
        if f.rec.kind != img::file_kind::UNIX_SOCKET || !done.insert(f.rec.pipe) {
            continue;
        }
        let (Some(u), Some(&fd)) = (image.unix.get(&f.rec.pipe), parked.get(&f.rec.obj)) else {
            continue;
        };
        out.push(peer_entry(&u.sock, fd, 0, &live));
        if u.sock.state == unix_state::LISTENING {
            for e in ckptlib::unix::embryos_of(&image.unix, u.sock.listener) {
                out.push(peer_entry(&e.sock, fd, e.sock.backlog + 1, &live));
            }
        }
    }
    out
}

/// The entry of socket `s` at `fd` (`embryo`: 0, or 1 + its place in the backlog of the
/// listener at `fd`), its pid kept if it is one of the `live` processes.
fn peer_entry(
    s: &img::CkptUnixSockRec,
    fd: RawFd,
    embryo: u32,
    live: &HashSet<i32>,
) -> abi::CkptPeerCred {
    let mut e = abi::CkptPeerCred {
        fd,
        embryo,
        pid: 0,
        flags: 0,
        uid: 0,
        gid: 0,
    };
    if s.flags & img::CKPT_UNIX_PEERCRED != 0 {
        e.flags = abi::CKPT_PEER_CRED;
        e.pid = if live.contains(&s.peer_pid) {
            s.peer_pid
        } else {
            0
        };
        (e.uid, e.gid) = (s.peer_uid, s.peer_gid);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    #[test]
    fn peer_entries_keep_live_pids_only() {
        let mut s = img::CkptUnixSockRec::new_zeroed();
        let live = HashSet::from([10, 11]);
        // No credentials: none set (the kernel's own state of a socket()).
        let e = peer_entry(&s, 5, 0, &live);
        assert_eq!(
            (e.fd, e.embryo, e.flags, e.pid, e.uid, e.gid),
            (5, 0, 0, 0, 0, 0)
        );
        s.flags = img::CKPT_UNIX_PEERCRED;
        (s.peer_pid, s.peer_uid, s.peer_gid) = (11, 65534, 65534);
        let e = peer_entry(&s, 5, 3, &live);
        assert_eq!(
            (e.embryo, e.flags, e.pid, e.uid, e.gid),
            (3, abi::CKPT_PEER_CRED, 11, 65534, 65534)
        );
        // A pid that is no live process of the image: 0, its ids kept.
        s.peer_pid = 12;
        let e = peer_entry(&s, 5, 0, &live);
        assert_eq!((e.flags, e.pid, e.uid), (abi::CKPT_PEER_CRED, 0, 65534));
    }
}
