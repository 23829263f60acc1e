// SPDX-License-Identifier: GPL-2.0

//! Unix domain sockets: the `UNIX_SOCK` record of each socket, with its receive queue as
//! `SKB` records, before the first `FILE` that names it (`FILE.pipe` is its id).
//!
//! Saved: socket pairs and connected sockets whose peer is in the tree (both ends are
//! saved, each with what is queued for it to read; the peer id pairs them up), sockets
//! neither connected nor listening, listening stream or seqpacket sockets, and the
//! connections accepted from one of them (they share its name's id); the connections a
//! listener has not accepted yet, each a `UNIX_SOCK` of state `EMBRYO` right after the
//! listener's, with its place in the backlog and what its client sent (`SKB` records), the
//! client being a socket of the tree connected to it (an empty receive queue, checked);
//! their name (a path or an abstract name), the shutdown state, `SO_SNDBUF` and
//! `SO_RCVBUF` when the program set them, `SO_PASSCRED` (on an empty receive queue), the
//! peer credentials (`SO_PEERCRED`: pid and effective ids, which `rstr` has the module set
//! again, [`crate::session::Session::peers`]); the descriptors each queued message carries in
//! flight (`SCM_RIGHTS`: `SKB_FDS` records naming their descriptions, those that no
//! descriptor holds saved by `FILE` records of their own). `rstr` makes them again
//! (`userspace/rstr/src/unix.rs`; Documentation/files.rst, "Unix sockets").
//!
//! Refused, with the fd: another family (but `AF_INET` and `AF_INET6`, which go to
//! [`crate::inet`]); a peer outside the tree or closed; a connection not accepted yet
//! whose client is outside the tree or closed, or whose queue carries descriptors in
//! flight or messages with `SO_PASSCRED` (taken from the listener); a socket connected to a
//! connection not accepted yet of a listener outside the tree; a connected socket with a name no listening socket
//! of the tree has (bound before it connected, or accepted from a listener since closed);
//! descriptors in flight that only a descriptor could save and none holds, and unix
//! sockets in flight whose queue carries descriptors too; `MSG_OOB` data; messages from another socket
//! than the peer; `SO_PASSCRED` with messages queued (their senders' credentials are not
//! saved; on an empty queue it is saved); the socket options that change what is read (
//! `SO_PASSSEC`, `SO_PASSPIDFD`, `SO_PASSRIGHTS` off, `SO_PEEK_OFF`, `SO_RCVTIMEO` or
//! `SO_SNDTIMEO` of 2^32 ms or more (shorter ones are saved), `SO_RCVLOWAT`, a socket filter, `SO_TIMESTAMP`, `SO_TIMESTAMPNS`,
//! `SO_TIMESTAMPING`, `SO_INQ`, `SO_RIGHTS_NOTRUNC`, `SO_OOBINLINE`); a listening or
//! unconnected socket that was shut down; an `O_PATH` descriptor of a socket file; more than
//! [`img::CKPT_UNIX_QUEUE_MAX`] bytes or [`img::CKPT_UNIX_MSGS_MAX`] messages queued; a
//! name by a relative path, of 108 bytes (no NUL), or whose socket file was removed or
//! moved.

use kernel::alloc::VVec;
use kernel::bindings::{
    self, AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, ANON_INODE_FS_MAGIC, PIPEFS_MAGIC,
    SOCK_RCVBUF_LOCK, SOCK_SNDBUF_LOCK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK,
};
use kernel::prelude::*;
use kernel::rbtree::RBTree;
use zerocopy::IntoBytes;

use crate::error::{refuse, CkptResult, Context};
use crate::image::ImageWriter;
use crate::inet::timeo_ms;
use crate::objects::Objects;
use crate::sys::task::{
    OpenFd, TaskRef, UnixFacts, UnixFds, UNIX_OPT_INQ, UNIX_OPT_OOBINLINE, UNIX_OPT_RIGHTS_NOTRUNC,
    UNIX_OPT_TIMESTAMP, UNIX_OPT_TIMESTAMPING, UNIX_OPT_TIMESTAMPNS, UNIX_PATH_BOUND,
    UNIX_PATH_GONE,
};
use crate::uapi::image::{self as img, file_kind, rec, unix_state};

const SOCK_STREAM: u32 = bindings::sock_type_SOCK_STREAM;
const SOCK_DGRAM: u32 = bindings::sock_type_SOCK_DGRAM;
const SOCK_SEQPACKET: u32 = bindings::sock_type_SOCK_SEQPACKET;

/// The most descriptors in flight saved in one socket's receive queue.
const FLIGHT_MAX: usize = 4096;

/// The buffers of one socket's state, allocated once per checkpoint of a descriptor table.
pub(crate) struct Saver {
    facts: UnixFacts,
    data: VVec<u8>,
    lens: KVec<u32>,
    path: KVec<u8>,
    /// The files in flight in the queue, with how many each skb carries.
    fds: UnixFds,
    /// The messages saved: length and number of descriptors carried.
    msgs: KVec<(u32, u32)>,
    /// The object id of each file in flight, in queue order.
    ids: KVec<u32>,
    /// The path of a file in flight.
    fpath: KVec<u8>,
    /// What a pipe in flight buffers, allocated at the first one.
    pipe: Option<VVec<u8>>,
}

impl Saver {
    pub(crate) fn new() -> CkptResult<Self> {
        let msgs = img::CKPT_UNIX_MSGS_MAX as usize;
        Ok(Saver {
            facts: UnixFacts::default(),
            data: VVec::with_capacity(img::CKPT_UNIX_QUEUE_MAX as usize, GFP_KERNEL_ACCOUNT)?,
            lens: KVec::with_capacity(msgs, GFP_KERNEL_ACCOUNT)?,
            path: KVec::from_elem(0u8, img::CKPT_PATH_MAX as usize + 1, GFP_KERNEL_ACCOUNT)?,
            fds: UnixFds::new(FLIGHT_MAX, msgs)?,
            msgs: KVec::with_capacity(msgs, GFP_KERNEL_ACCOUNT)?,
            ids: KVec::with_capacity(FLIGHT_MAX, GFP_KERNEL_ACCOUNT)?,
            fpath: KVec::from_elem(0u8, img::CKPT_PATH_MAX as usize + 1, GFP_KERNEL_ACCOUNT)?,
            pipe: None,
        })
    }
}

/// The sockets of the tree, the peers and the names they refer to: to refuse, once every
/// task is saved, a peer that no descriptor of the tree holds and a connection's name that
/// no listening socket of the tree has.
pub(crate) struct Peers {
    /// Sockets saved, by address.
    met: RBTree<u64, ()>,
    /// Peers named, by address: the pid and fd of the first socket that names it.
    wanted: RBTree<u64, (i32, u32)>,
    /// The names (`struct unix_address`) of the listening sockets saved.
    listening: RBTree<u64, ()>,
    /// The names of connected sockets, by address: the pid and fd of the first one. Each
    /// must be a listening socket's (the connection was accepted from it).
    accepted: RBTree<u64, (i32, u32)>,
    /// The task whose descriptors are being saved.
    pid: i32,
    /// The open file descriptions that descriptors of the tree hold.
    held: RBTree<u64, ()>,
    /// The descriptions in flight saved with a `FILE` record of their own (fd
    /// [`img::CKPT_FD_IN_FLIGHT`]).
    flights: RBTree<u64, ()>,
    /// Descriptions in flight that only a descriptor's records can save: the pid and fd of
    /// the socket that first carries each, and what it is.
    unheld: RBTree<u64, (i32, u32, &'static str)>,
    /// The sockets saved whose receive queue carries descriptors.
    with_fds: RBTree<u64, ()>,
    /// The unix sockets carried in flight: the pid and fd of the socket that carries each.
    carried: RBTree<u64, (i32, u32)>,
    /// The connections not accepted yet that sockets of the tree are connected to: the pid
    /// and fd of the socket. Each must be in the backlog of a listener saved.
    embryo_peers: RBTree<u64, (i32, u32)>,
    /// The sockets that made the connections not accepted yet of the listeners saved: the
    /// pid and fd of the listener and the connection's place in its backlog. Each must be
    /// a socket of the tree.
    clients: RBTree<u64, (i32, u32, u32)>,
}

impl Peers {
    pub(crate) fn new() -> Self {
        Peers {
            met: RBTree::new(),
            wanted: RBTree::new(),
            listening: RBTree::new(),
            accepted: RBTree::new(),
            pid: 0,
            held: RBTree::new(),
            flights: RBTree::new(),
            unheld: RBTree::new(),
            with_fds: RBTree::new(),
            carried: RBTree::new(),
            embryo_peers: RBTree::new(),
            clients: RBTree::new(),
        }
    }

    /// Notes that a descriptor of the tree holds the open file description `file`.
    pub(crate) fn held(&mut self, file: u64) -> CkptResult {
        if self.held.get(&file).is_none() {
            self.held
                .try_create_and_insert(file, (), GFP_KERNEL_ACCOUNT)?;
        }
        Ok(())
    }

    /// The descriptors saved from now on are those of task `pid`.
    pub(crate) fn set_task(&mut self, pid: i32) {
        self.pid = pid;
    }

    /// Refuses a socket whose peer is held by no descriptor of the tree, a connected
    /// socket with a name that no listening socket of the tree has, a description in flight
    /// that only a descriptor could save and none holds, a unix socket in flight whose own
    /// queue carries descriptors (a cycle for the kernel's garbage collector).
    pub(crate) fn check(&self) -> CkptResult {
        for (file, &(pid, fd, what)) in self.unheld.iter() {
            if self.held.get(file).is_none() {
                refuse!(
                    EOPNOTSUPP,
                    "task {pid}: fd {fd}: unix socket with {what} in flight (SCM_RIGHTS) that no descriptor of the tree holds; not supported yet"
                );
            }
        }
        for (sk, &(pid, fd)) in self.carried.iter() {
            if self.with_fds.get(sk).is_some() {
                refuse!(
                    EOPNOTSUPP,
                    "task {pid}: fd {fd}: unix socket with a unix socket in flight (SCM_RIGHTS) that has descriptors in flight itself; not supported yet"
                );
            }
        }
        for (embryo, &(pid, fd)) in self.embryo_peers.iter() {
            if self.met.get(embryo).is_none() {
                refuse!(
                    EOPNOTSUPP,
                    "task {pid}: fd {fd}: unix socket connected to a connection not accepted yet of a listening socket outside the checkpointed tree; not supported yet"
                );
            }
        }
        for (client, &(pid, fd, place)) in self.clients.iter() {
            if self.met.get(client).is_none() {
                refuse!(
                    EOPNOTSUPP,
                    "task {pid}: fd {fd}: listening unix socket whose connection {place} not accepted yet was made by a socket outside the checkpointed tree; not supported yet"
                );
            }
        }
        for (peer, &(pid, fd)) in self.wanted.iter() {
            if self.met.get(peer).is_none() {
                refuse!(
                    EOPNOTSUPP,
                    "task {pid}: fd {fd}: unix socket connected to a peer outside the checkpointed tree; not supported yet"
                );
            }
        }
        for (name, &(pid, fd)) in self.accepted.iter() {
            if self.listening.get(name).is_none() {
                refuse!(
                    EOPNOTSUPP,
                    "task {pid}: fd {fd}: connected unix socket with a name of its own (bound before connecting), or accepted from a listening socket that is not open in the tree; not supported yet"
                );
            }
        }
        Ok(())
    }

    /// Notes the name of the socket at `fd`: a listener's, or one a connection must share
    /// with a listener.
    fn name(&mut self, u: &UnixFacts, fd: u32) -> CkptResult {
        let first = (self.pid, fd);
        if u.state == unix_state::LISTENING {
            if self.listening.get(&u.addr).is_none() {
                self.listening
                    .try_create_and_insert(u.addr, (), GFP_KERNEL_ACCOUNT)?;
            }
        } else if self.accepted.get(&u.addr).is_none() {
            self.accepted
                .try_create_and_insert(u.addr, first, GFP_KERNEL_ACCOUNT)?;
        }
        Ok(())
    }
}

/// A family's name for a reason.
fn family_name(f: u32) -> Option<&'static str> {
    Some(match f {
        AF_INET => "AF_INET",
        AF_INET6 => "AF_INET6",
        AF_NETLINK => "AF_NETLINK",
        AF_PACKET => "AF_PACKET",
        _ => return None,
    })
}

/// A socket type's name for a reason.
fn type_name(t: u32) -> &'static str {
    match t {
        SOCK_STREAM => "stream",
        SOCK_DGRAM => "datagram",
        SOCK_SEQPACKET => "seqpacket",
        _ => "other",
    }
}

/// The `SO_PASS*` bits of `sk_scm_recv_flags`: `SO_PASSCRED` (saved), `SO_PASSSEC` and
/// `SO_PASSPIDFD` (refused), `SO_PASSRIGHTS`, which every unix socket has unless turned off.
const SCM_CREDS_ON: u32 = 0b0001;
const SCM_SEC_ON: u32 = 0b0010;
const SCM_PIDFD_ON: u32 = 0b0100;
const SCM_RIGHTS_ON: u32 = 0b1000;

/// Refuses the socket options and queued things of `u` that are not saved.
fn check_options(fd: u32, u: &UnixFacts) -> CkptResult {
    if u.scm_flags & SCM_SEC_ON != 0 {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: unix socket with SO_PASSSEC set (security labels, SCM_SECURITY); not saved yet"
        );
    }
    if u.scm_flags & SCM_PIDFD_ON != 0 {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: unix socket with SO_PASSPIDFD set (SCM_PIDFD); not saved yet"
        );
    }
    if u.scm_flags & SCM_RIGHTS_ON == 0 {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: unix socket with SO_PASSRIGHTS off; not saved yet"
        );
    }
    if u.oob != 0 {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: unix socket with out-of-band data (MSG_OOB) queued; not supported yet"
        );
    }
    if u.peek_off != -1 {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: unix socket with SO_PEEK_OFF set; not saved yet"
        );
    }
    // The most precise name first: SO_TIMESTAMPNS sets SOCK_RCVTSTAMP too.
    let read_opts = [
        (UNIX_OPT_TIMESTAMPNS, "SO_TIMESTAMPNS"),
        (UNIX_OPT_TIMESTAMP, "SO_TIMESTAMP"),
        (UNIX_OPT_TIMESTAMPING, "SO_TIMESTAMPING"),
        (UNIX_OPT_INQ, "SO_INQ"),
        (UNIX_OPT_RIGHTS_NOTRUNC, "SO_RIGHTS_NOTRUNC"),
        (UNIX_OPT_OOBINLINE, "SO_OOBINLINE"),
    ];
    if let Some((_, opt)) = read_opts.iter().find(|(bit, _)| u.read_opts & bit != 0) {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: unix socket with {opt} set; not saved yet"
        );
    }
    if u.rcvlowat != 1 || u.filter != 0 {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: unix socket with SO_RCVLOWAT or a socket filter set; not saved yet"
        );
    }
    if timeo_ms(u.rcvtimeo, u.hz).is_none() || timeo_ms(u.sndtimeo, u.hz).is_none() {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: unix socket with SO_RCVTIMEO or SO_SNDTIMEO of 2^32 ms or more; not supported yet"
        );
    }
    Ok(())
}

/// The name `rstr` binds again, checked: an abstract name as it is, a path name absolute,
/// without its NUL, and still the path of the socket's file.
fn checked_name<'a>(fd: u32, u: &'a UnixFacts, path: &[u8]) -> CkptResult<&'a [u8]> {
    let name = &u.name[..u.name_len as usize];
    if u.addr == 0 || name.first() == Some(&0) {
        return Ok(name);
    }
    let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    let name = &name[..end];
    let shown = core::str::from_utf8(name).unwrap_or("(not UTF-8)");
    // `rstr` binds a path of at most 107 bytes, which sun_path holds with its NUL.
    if name.len() >= u.name.len() {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: unix socket bound to a path name of {} bytes, without a NUL in sun_path; not supported yet",
            name.len()
        );
    }
    if name.first() != Some(&b'/') || core::str::from_utf8(name).is_err() {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: unix socket bound to the relative or non-UTF-8 name {shown}; not supported yet"
        );
    }
    if u.path_state == UNIX_PATH_GONE {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: unix socket bound to {shown}, whose socket file was removed; not supported yet"
        );
    }
    if u.path_state != UNIX_PATH_BOUND || path != name {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: unix socket bound to {shown}, whose socket file is now elsewhere; not supported yet"
        );
    }
    Ok(name)
}

/// Refuses what of a socket's connection or listening state `rstr` would not rebuild.
fn check_state(fd: u32, u: &UnixFacts) -> CkptResult {
    let ty = type_name(u.sock_type);
    if u.state != unix_state::CONNECTED && u.shutdown != 0 {
        let what = if u.state == unix_state::LISTENING {
            "listening"
        } else {
            "unconnected"
        };
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: {what} unix {ty} socket shut down (shutdown state {:#x}); not supported yet",
            u.shutdown
        );
    }
    match u.state {
        // Its connections not accepted yet are saved by `embryo`.
        unix_state::LISTENING => {}
        unix_state::CONNECTED => {
            // First: a closed peer was orphaned, and has no socket either.
            if u.peer_dead != 0 {
                refuse!(
                    EOPNOTSUPP,
                    "fd {fd}: unix {ty} socket whose peer was closed; not supported yet"
                );
            }
            // Nothing but the connection could send to it, which no descriptor has.
            if u.peer_embryo != 0 && u.queued != 0 {
                refuse!(
                    EOPNOTSUPP,
                    "fd {fd}: unix {ty} socket connected to a connection not accepted yet, with {} messages queued for it; not supported yet",
                    u.queued
                );
            }
            if u.peer_back == 0 {
                refuse!(
                    EOPNOTSUPP,
                    "fd {fd}: unix {ty} socket connected to a socket that is not connected back to it; not supported yet"
                );
            }
            if u.sock_type != SOCK_DGRAM
                && u.peer_shutdown != img::unix_mirrored_shutdown(u.shutdown)
            {
                refuse!(
                    EOPNOTSUPP,
                    "fd {fd}: unix {ty} socket whose shutdown state {:#x} is not its peer's {:#x} mirrored",
                    u.shutdown,
                    u.peer_shutdown
                );
            }
            if u.foreign != 0 {
                refuse!(
                    EOPNOTSUPP,
                    "fd {fd}: unix {ty} socket with {} messages queued from another socket than its peer; not supported yet",
                    u.foreign
                );
            }
        }
        _ => {
            if u.queued != 0 {
                refuse!(
                    EOPNOTSUPP,
                    "fd {fd}: unconnected unix {ty} socket with {} messages queued from other sockets; not supported yet",
                    u.queued
                );
            }
        }
    }
    Ok(())
}

/// The messages of a queue to save, as (length, descriptors carried), into `out`: a
/// datagram or seqpacket socket's as they are (`lens`, `counts`); a stream's `bytes` in
/// runs: each skb that carries descriptors alone (a reader gets them with its bytes, and
/// its read ends there), the skbs between merged (`lens` may miss the last skbs, which carry
/// none: the rest of `bytes`).
fn messages(
    stream: bool,
    bytes: u32,
    lens: &[u32],
    counts: &[u32],
    out: &mut KVec<(u32, u32)>,
) -> CkptResult {
    out.clear();
    if !stream {
        for (&len, &n) in lens.iter().zip(counts) {
            out.push((len, n), GFP_KERNEL_ACCOUNT)?;
        }
        return Ok(());
    }
    let (mut run, mut seen) = (0u32, 0u32);
    for (&len, &n) in lens.iter().zip(counts) {
        seen = seen.checked_add(len).ok_or(EINVAL)?;
        if n == 0 {
            run += len;
            continue;
        }
        if run != 0 {
            out.push((run, 0), GFP_KERNEL_ACCOUNT)?;
        }
        out.push((len, n), GFP_KERNEL_ACCOUNT)?;
        run = 0;
    }
    run += bytes.checked_sub(seen).ok_or(EINVAL)?;
    if run != 0 {
        out.push((run, 0), GFP_KERNEL_ACCOUNT)?;
    }
    Ok(())
}

/// What a description in flight that no descriptor may hold is saved as, by its own `FILE`
/// record: a regular file, directory or device by path, an anonymous pipe's end; `Err`
/// with what it is for any other (a descriptor of the tree must hold it).
fn flight_kind(o: &OpenFd, p: &[u8]) -> core::result::Result<u32, &'static str> {
    let e = &o.facts;
    // Whatever mode the kernel gives them.
    if e.fs_magic == u64::from(ANON_INODE_FS_MAGIC) {
        return Err("an anonymous inode (eventfd, epoll, timerfd, ...)");
    }
    let kind = match o.rec.mode & S_IFMT {
        S_IFIFO if e.fs_magic == u64::from(PIPEFS_MAGIC) && e.pipe_id != 0 => {
            return Ok(file_kind::PIPE)
        }
        S_IFIFO => return Err("a FIFO"),
        S_IFSOCK => return Err("a socket"),
        S_IFREG => file_kind::REGULAR,
        S_IFDIR => file_kind::DIRECTORY,
        S_IFCHR => file_kind::CHARDEV,
        _ => return Err("a block device or file of no type"),
    };
    if e.unlinked != 0 {
        return Err("a deleted file");
    }
    if e.internal != 0 || p.first() != Some(&b'/') || core::str::from_utf8(p).is_err() {
        return Err("a file that no path reopens (memfd, shared memory)");
    }
    if kind == file_kind::CHARDEV && crate::sys::file::is_pty_master(o.rec.rdev) {
        return Err("a pseudo-terminal master");
    }
    Ok(kind)
}

/// Saves what the queue of the socket at `fd` carries in flight (`fds`): the object id of
/// each file into `ids`; a `FILE` record of fd [`img::CKPT_FD_IN_FLIGHT`] (after its pipe's
/// `PIPE` record) for each description that [`flight_kind`] saves and no descriptor met so
/// far holds; the others are left to the descriptors that must hold them
/// ([`Peers::check`]).
fn in_flight(
    objs: &mut Objects,
    w: &mut ImageWriter,
    fds: &UnixFds,
    ids: &mut KVec<u32>,
    path: &mut [u8],
    pipe_buf: &mut Option<VVec<u8>>,
    fd: u32,
) -> CkptResult {
    ids.clear();
    for (i, f) in fds.files.iter().enumerate() {
        let mut o = f
            .open_fd(path)
            .context(fmt!("fd {fd}: descriptor {i} in flight"))?;
        o.fd = fd;
        let file_id = o.facts.file_id;
        ids.push(objs.id(file_id)?, GFP_KERNEL_ACCOUNT)?;
        let pid = objs.unix.pid;
        let sk = f.unix_sock();
        if sk != 0 && objs.unix.carried.get(&sk).is_none() {
            objs.unix
                .carried
                .try_create_and_insert(sk, (pid, fd), GFP_KERNEL_ACCOUNT)?;
        }
        let peers = &objs.unix;
        if peers.held.get(&file_id).is_some()
            || peers.flights.get(&file_id).is_some()
            || peers.unheld.get(&file_id).is_some()
        {
            continue;
        }
        let p = &path[..o.rec.path_len as usize];
        let kind = match flight_kind(&o, p) {
            Ok(kind) => kind,
            Err(what) => {
                objs.unix.unheld.try_create_and_insert(
                    file_id,
                    (pid, fd, what),
                    GFP_KERNEL_ACCOUNT,
                )?;
                continue;
            }
        };
        if o.facts.owned != 0 || o.facts.signum != 0 {
            refuse!(
                EOPNOTSUPP,
                "fd {fd}: unix socket with a descriptor in flight (SCM_RIGHTS) with an owner or signal (F_SETOWN, F_SETSIG) that no descriptor of the tree holds; not supported yet"
            );
        }
        objs.unix
            .flights
            .try_create_and_insert(file_id, (), GFP_KERNEL_ACCOUNT)?;
        o.rec.fd = img::CKPT_FD_IN_FLIGHT;
        o.rec.cloexec = 0;
        o.rec.obj = objs.id(file_id)?;
        if kind == file_kind::PIPE {
            let pipe = objs.id(o.facts.pipe_id)?;
            crate::files::check_pipe_end(objs, &o, pipe)
                .context(fmt!("descriptor {i} in flight"))?;
            let buf = match pipe_buf {
                Some(b) => b,
                None => pipe_buf.insert(VVec::with_capacity(
                    crate::files::PIPE_MAX,
                    GFP_KERNEL_ACCOUNT,
                )?),
            };
            crate::files::save_pipe(objs, w, fd, o.facts.pipe_id, buf, |b| f.pipe_data(b))?;
            crate::files::made_again(w, &mut o, file_kind::PIPE, pipe)?;
        } else {
            o.rec.kind = kind;
            o.rec.pipe = 0;
            w.record(rec::FILE, &[o.rec.as_bytes(), p])?;
        }
    }
    Ok(())
}

/// The `UNIX_SOCK` record (once per socket) and `FILE` record of the socket open at `o`;
/// pids as seen in the pid namespace of `ns`.
pub(crate) fn checkpoint(
    task: &TaskRef,
    ns: Option<&TaskRef>,
    objs: &mut Objects,
    w: &mut ImageWriter,
    saver: &mut Saver,
    o: &mut OpenFd,
) -> CkptResult {
    let fd = o.fd;
    let s = saver;
    let read = task.unix_socket(
        fd,
        None,
        ns,
        &mut s.facts,
        &mut s.data,
        &mut s.lens,
        &mut s.path,
        &mut s.fds,
    );
    match read {
        Ok(()) => {}
        Err(e) if e == EMFILE => refuse!(
            EOPNOTSUPP,
            "fd {fd}: unix socket with more than {FLIGHT_MAX} descriptors in flight (SCM_RIGHTS), or some past its first {} skbs; not supported yet",
            img::CKPT_UNIX_MSGS_MAX
        ),
        Err(e) if e == E2BIG => refuse!(
            EOPNOTSUPP,
            "fd {fd}: unix socket with more than {} bytes or {} messages queued; not supported yet",
            img::CKPT_UNIX_QUEUE_MAX,
            img::CKPT_UNIX_MSGS_MAX
        ),
        // `files` calls it for a socket inode: not a socket file, it was opened by path.
        Err(e) if e == ENOTSOCK => refuse!(
            EOPNOTSUPP,
            "fd {fd}: O_PATH descriptor of a socket file; not supported yet"
        ),
        Err(e) => return Err(e.into()),
    }
    let u = &s.facts;
    if u.sock == 0 && matches!(u.family, AF_INET | AF_INET6) {
        return crate::inet::checkpoint(task, objs, w, o);
    }
    if u.sock == 0 {
        match family_name(u.family) {
            Some(f) => refuse!(
                EOPNOTSUPP,
                "fd {fd}: socket of family {f} not supported yet"
            ),
            None => refuse!(
                EOPNOTSUPP,
                "fd {fd}: socket of family {} not supported yet",
                u.family
            ),
        }
    }
    if !matches!(u.sock_type, SOCK_STREAM | SOCK_DGRAM | SOCK_SEQPACKET) {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: unix socket of type {} not supported yet",
            u.sock_type
        );
    }
    check_options(fd, u)?;
    check_state(fd, u)?;
    let name = checked_name(fd, u, &s.path[..u.path_len as usize])?;

    let id = objs.id(u.sock)?;
    if objs.first_save(u.sock) {
        let peers = &mut objs.unix;
        peers
            .met
            .try_create_and_insert(u.sock, (), GFP_KERNEL_ACCOUNT)?;
        let peer = if u.state == unix_state::CONNECTED {
            // Its peer is saved with the listener in whose backlog it is.
            if u.peer_embryo != 0 {
                if peers.embryo_peers.get(&u.peer).is_none() {
                    let first = (peers.pid, fd);
                    peers
                        .embryo_peers
                        .try_create_and_insert(u.peer, first, GFP_KERNEL_ACCOUNT)?;
                }
            } else if peers.wanted.get(&u.peer).is_none() {
                let first = (peers.pid, fd);
                peers
                    .wanted
                    .try_create_and_insert(u.peer, first, GFP_KERNEL_ACCOUNT)?;
            }
            objs.id(u.peer)?
        } else {
            0
        };
        // A listener and the connections accepted from it share one name.
        let listener = if u.addr != 0 && u.state != unix_state::UNCONNECTED {
            objs.unix.name(u, fd)?;
            objs.id(u.addr)?
        } else {
            0
        };
        let peer_cred = peer_cred(u);
        let stream = u.sock_type == SOCK_STREAM;
        messages(stream, u.bytes, &s.lens, &s.fds.counts, &mut s.msgs)?;
        let nr_skbs = s.msgs.len() as u32;
        // Each queued message carries its sender's pid, uid and gid, which SO_PASSCRED
        // hands to the reader (SCM_CREDENTIALS): `rstr` cannot send them again as the
        // sender (the refill is its own send, from its own pid).
        let passcred = u.scm_flags & SCM_CREDS_ON != 0;
        if passcred && nr_skbs != 0 {
            refuse!(
                EOPNOTSUPP,
                "fd {fd}: unix socket with SO_PASSCRED set and {nr_skbs} messages queued: their senders' credentials (SCM_CREDENTIALS) are not saved; not supported yet"
            );
        }
        if !s.fds.files.is_empty() {
            let peers = &mut objs.unix;
            if peers.with_fds.get(&u.sock).is_none() {
                peers
                    .with_fds
                    .try_create_and_insert(u.sock, (), GFP_KERNEL_ACCOUNT)?;
            }
        }
        // The descriptions in flight first: their records come before the socket's.
        in_flight(objs, w, &s.fds, &mut s.ids, &mut s.fpath, &mut s.pipe, fd)?;
        let r = img::CkptUnixSockRec {
            id,
            sock_type: u.sock_type,
            state: u.state,
            peer,
            shutdown: u.shutdown,
            backlog: if u.state == unix_state::LISTENING {
                u.backlog
            } else {
                0
            },
            sndbuf: if u.userlocks & SOCK_SNDBUF_LOCK != 0 {
                u.sndbuf
            } else {
                0
            },
            rcvbuf: if u.userlocks & SOCK_RCVBUF_LOCK != 0 {
                u.rcvbuf
            } else {
                0
            },
            listener,
            name_len: name.len() as u32,
            nr_skbs,
            flags: if passcred { img::CKPT_UNIX_PASSCRED } else { 0 } | peer_cred.0,
            // Checked by `check_options`: both fit.
            rcvtimeo_ms: timeo_ms(u.rcvtimeo, u.hz).unwrap_or(0),
            sndtimeo_ms: timeo_ms(u.sndtimeo, u.hz).unwrap_or(0),
            peer_pid: peer_cred.1,
            peer_uid: peer_cred.2,
            peer_gid: peer_cred.3,
            __reserved: 0,
        };
        w.record(rec::UNIX_SOCK, &[r.as_bytes(), name])?;
        skbs(w, &s.msgs, &s.data)?;
        let mut first = 0usize;
        for (i, &(_, nr_fds)) in s.msgs.iter().enumerate() {
            if nr_fds == 0 {
                continue;
            }
            let end = first + nr_fds as usize;
            let ids = s.ids.get(first..end).ok_or(EINVAL)?;
            let f = img::CkptSkbFdsRec {
                sock: id,
                skb: i as u32,
                nr_fds,
                __reserved: 0,
            };
            w.record(rec::SKB_FDS, &[f.as_bytes(), ids.as_bytes()])?;
            first = end;
        }
        if r.state == unix_state::LISTENING {
            let (sock_type, addr, scm_flags) = (r.sock_type, s.facts.addr, s.facts.scm_flags);
            let mut place = 0;
            while embryo(
                task,
                ns,
                objs,
                w,
                s,
                fd,
                place,
                (sock_type, addr, scm_flags),
            )? {
                place += 1;
            }
        }
    }
    crate::files::made_again(w, o, file_kind::UNIX_SOCKET, id)
}

/// Saves the connection not accepted yet at `place` in the backlog of the listening socket
/// at `fd` (of type, name and `SO_PASS*` flags `listener`), if there is one: its
/// `UNIX_SOCK` record of state [`unix_state::EMBRYO`] with what the socket that made it
/// sent (`SKB` records). That socket must be one of the tree ([`Peers::check`]), which
/// `rstr` connects again, in the order of the backlog, and sends the data from.
#[allow(clippy::too_many_arguments)]
fn embryo(
    task: &TaskRef,
    ns: Option<&TaskRef>,
    objs: &mut Objects,
    w: &mut ImageWriter,
    s: &mut Saver,
    fd: u32,
    place: u32,
    listener: (u32, u64, u32),
) -> CkptResult<bool> {
    let read = task.unix_socket(
        fd,
        Some(place),
        ns,
        &mut s.facts,
        &mut s.data,
        &mut s.lens,
        &mut s.path,
        &mut s.fds,
    );
    let what = "listening unix socket whose connection";
    match read {
        Ok(()) => {}
        Err(e) if e == ENOENT => return Ok(false),
        Err(e) if e == E2BIG || e == EMFILE => refuse!(
            EOPNOTSUPP,
            "fd {fd}: {what} {place} not accepted yet has more than {} bytes or {} messages queued, or {FLIGHT_MAX} descriptors in flight; not supported yet",
            img::CKPT_UNIX_QUEUE_MAX,
            img::CKPT_UNIX_MSGS_MAX
        ),
        Err(e) => return Err(e.into()),
    }
    let e = &s.facts;
    let (sock_type, addr, scm_flags) = listener;
    // Made by unix_stream_connect() with the listener's type and name.
    if e.sock == 0 || e.state != unix_state::CONNECTED || e.sock_type != sock_type || e.addr != addr
    {
        return Err(EINVAL.into());
    }
    if e.peer_dead != 0 {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: {what} {place} not accepted yet was closed by the socket that made it; not supported yet"
        );
    }
    if e.peer_back == 0 || e.peer_shutdown != img::unix_mirrored_shutdown(e.shutdown) {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: {what} {place} not accepted yet is no longer connected back by the socket that made it, or not with the mirrored shutdown state; not supported yet"
        );
    }
    if e.foreign != 0 {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: {what} {place} not accepted yet has messages queued from another socket than the one that made it; not supported yet"
        );
    }
    if e.with_fds != 0 || !s.fds.files.is_empty() {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: {what} {place} not accepted yet has descriptors in flight (SCM_RIGHTS) queued; not supported yet"
        );
    }
    // It took the listener's SO_PASS* flags when it was made: `rstr` makes it so again.
    if e.scm_flags != scm_flags {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: {what} {place} not accepted yet has other SO_PASSCRED, SO_PASSSEC, SO_PASSPIDFD or SO_PASSRIGHTS options than the listener has now; not supported yet"
        );
    }
    check_options(fd, e).context(fmt!("fd {fd}: {what} {place} not accepted yet"))?;
    let name = checked_name(fd, e, &s.path[..e.path_len as usize])?;
    let peer_cred = peer_cred(e);
    let stream = sock_type == SOCK_STREAM;
    messages(stream, e.bytes, &s.lens, &s.fds.counts, &mut s.msgs)?;
    let nr_skbs = s.msgs.len() as u32;
    if scm_flags & SCM_CREDS_ON != 0 && nr_skbs != 0 {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: {what} {place} not accepted yet has SO_PASSCRED set (from its listener) and {nr_skbs} messages queued: their senders' credentials (SCM_CREDENTIALS) are not saved; not supported yet"
        );
    }
    let id = objs.id(e.sock)?;
    if !objs.first_save(e.sock) {
        return Err(EINVAL.into());
    }
    let peers = &mut objs.unix;
    peers
        .met
        .try_create_and_insert(e.sock, (), GFP_KERNEL_ACCOUNT)?;
    if peers.clients.get(&e.peer).is_none() {
        let first = (peers.pid, fd, place);
        peers
            .clients
            .try_create_and_insert(e.peer, first, GFP_KERNEL_ACCOUNT)?;
    }
    let r = img::CkptUnixSockRec {
        id,
        sock_type,
        state: unix_state::EMBRYO,
        peer: objs.id(e.peer)?,
        shutdown: e.shutdown,
        backlog: place,
        sndbuf: 0,
        rcvbuf: 0,
        listener: objs.id(e.addr)?,
        name_len: name.len() as u32,
        nr_skbs,
        flags: peer_cred.0,
        rcvtimeo_ms: 0,
        sndtimeo_ms: 0,
        peer_pid: peer_cred.1,
        peer_uid: peer_cred.2,
        peer_gid: peer_cred.3,
        __reserved: 0,
    };
    w.record(rec::UNIX_SOCK, &[r.as_bytes(), name])?;
    skbs(w, &s.msgs, &s.data)?;
    Ok(true)
}

/// The peer credentials of `u` as its record holds them: `flags` ([`img::CKPT_UNIX_PEERCRED`]
/// or 0), pid, uid and gid; none (all 0) when the socket holds no credentials, whatever
/// its pid (the kernel sets both at once).
fn peer_cred(u: &UnixFacts) -> (u32, i32, u32, u32) {
    if u.has_cred == 0 {
        return (0, 0, 0, 0);
    }
    (
        img::CKPT_UNIX_PEERCRED,
        u.cred_pid.max(0),
        u.cred_uid,
        u.cred_gid,
    )
}

/// The `SKB` records of the messages `msgs` of a queue, whose bytes are `data`.
fn skbs(w: &mut ImageWriter, msgs: &[(u32, u32)], data: &[u8]) -> CkptResult {
    let mut at = 0usize;
    for &(len, _) in msgs {
        let end = at + len as usize;
        let bytes = data.get(at..end).ok_or(EINVAL)?;
        let skb = img::CkptSkbRec { len, __reserved: 0 };
        w.record(rec::SKB, &[skb.as_bytes(), bytes])?;
        at = end;
    }
    Ok(())
}

#[kunit_tests(ckpt_unix)]
mod tests {
    use super::*;

    #[test]
    fn shutdown_mirrors() {
        let (rcv, send) = (img::CKPT_UNIX_RCV_SHUTDOWN, img::CKPT_UNIX_SEND_SHUTDOWN);
        let mirrored = img::unix_mirrored_shutdown;
        assert_eq!(mirrored(0), 0);
        assert_eq!(mirrored(rcv), send);
        assert_eq!(mirrored(send), rcv);
        assert_eq!(mirrored(rcv | send), rcv | send);
    }

    #[test]
    fn families_are_named() {
        assert_eq!(family_name(AF_INET), Some("AF_INET"));
        assert_eq!(family_name(AF_INET6), Some("AF_INET6"));
        assert_eq!(family_name(12345), None);
        assert_eq!(type_name(SOCK_SEQPACKET), "seqpacket");
    }

    /// The facts of a fresh socket pair's end.
    fn pair_end() -> UnixFacts {
        let mut u = UnixFacts::default();
        (u.family, u.sock_type, u.state) = (bindings::AF_UNIX, SOCK_STREAM, unix_state::CONNECTED);
        (u.sock, u.peer, u.peer_back) = (1, 2, 1);
        (u.scm_flags, u.peek_off, u.rcvlowat, u.hz) = (SCM_RIGHTS_ON, -1, 1, 250);
        u
    }

    #[test]
    fn peer_credentials_are_recorded() {
        let mut u = pair_end();
        assert_eq!(peer_cred(&u), (0, 0, 0, 0));
        // A pid without credentials: not kept (the kernel never sets one alone).
        u.cred_pid = 7;
        assert_eq!(peer_cred(&u), (0, 0, 0, 0));
        (u.has_cred, u.cred_uid, u.cred_gid) = (1, 65534, 100);
        assert_eq!(peer_cred(&u), (img::CKPT_UNIX_PEERCRED, 7, 65534, 100));
        // Not visible in the tree's namespace.
        u.cred_pid = 0;
        assert_eq!(peer_cred(&u), (img::CKPT_UNIX_PEERCRED, 0, 65534, 100));
    }

    #[test]
    fn options_are_checked() {
        assert!(check_options(3, &pair_end()).is_ok());
        let changes: [fn(&mut UnixFacts); 14] = [
            |u: &mut UnixFacts| u.read_opts = UNIX_OPT_TIMESTAMP,
            |u: &mut UnixFacts| u.read_opts = UNIX_OPT_TIMESTAMP | UNIX_OPT_TIMESTAMPNS,
            |u: &mut UnixFacts| u.read_opts = UNIX_OPT_TIMESTAMPING,
            |u: &mut UnixFacts| u.read_opts = UNIX_OPT_INQ,
            |u: &mut UnixFacts| u.read_opts = UNIX_OPT_RIGHTS_NOTRUNC,
            |u: &mut UnixFacts| u.read_opts = UNIX_OPT_OOBINLINE,
            |u: &mut UnixFacts| u.scm_flags |= SCM_SEC_ON,
            |u: &mut UnixFacts| u.scm_flags |= SCM_PIDFD_ON,
            |u: &mut UnixFacts| u.scm_flags = 0,
            |u: &mut UnixFacts| u.oob = 1,
            |u: &mut UnixFacts| u.peek_off = 0,
            |u: &mut UnixFacts| u.sndtimeo = 1 << 62,
            |u: &mut UnixFacts| u.rcvlowat = 2,
            |u: &mut UnixFacts| u.filter = 1,
        ];
        for change in changes {
            let mut u = pair_end();
            change(&mut u);
            assert!(check_options(3, &u).is_err());
        }
        // SO_PASSCRED is saved (its queue is checked where the messages are counted).
        let mut u = pair_end();
        u.scm_flags |= SCM_CREDS_ON;
        assert!(check_options(3, &u).is_ok());
    }

    #[test]
    fn stream_runs_end_at_descriptors() {
        let mut out = KVec::new();
        // Datagrams as they are.
        assert!(messages(false, 5, &[2, 3], &[0, 1], &mut out).is_ok());
        assert_eq!(&out[..], &[(2, 0), (3, 1)]);
        // A stream: the skb with fds alone, the others merged, the unlisted rest last.
        assert!(messages(true, 20, &[1, 2, 3, 4], &[0, 0, 2, 0], &mut out).is_ok());
        assert_eq!(&out[..], &[(3, 0), (3, 2), (14, 0)]);
        assert!(messages(true, 6, &[6], &[0], &mut out).is_ok());
        assert_eq!(&out[..], &[(6, 0)]);
        assert!(messages(true, 0, &[], &[], &mut out).is_ok());
        assert!(out.is_empty());
        // Lengths beyond the bytes read: refused.
        assert!(messages(true, 2, &[3], &[1], &mut out).is_err());
    }

    #[test]
    fn states_are_checked() {
        let mut u = pair_end();
        assert!(check_state(3, &u).is_ok());
        u.shutdown = img::CKPT_UNIX_SEND_SHUTDOWN;
        // A shutdown its peer does not mirror.
        assert!(check_state(3, &u).is_err());
        u.peer_shutdown = img::CKPT_UNIX_RCV_SHUTDOWN;
        assert!(check_state(3, &u).is_ok());
        let changes: [fn(&mut UnixFacts); 4] = [
            // A connection not accepted yet sent it something: it cannot.
            |u: &mut UnixFacts| (u.peer_embryo, u.queued) = (1, 1),
            |u: &mut UnixFacts| u.peer_dead = 1,
            |u: &mut UnixFacts| u.peer_back = 0,
            |u: &mut UnixFacts| u.foreign = 1,
        ];
        for change in changes {
            let mut u = pair_end();
            change(&mut u);
            assert!(check_state(3, &u).is_err());
        }
        // Connected to a connection not accepted yet, nothing queued: saved.
        let mut u = pair_end();
        u.peer_embryo = 1;
        assert!(check_state(3, &u).is_ok());
        let mut l = pair_end();
        (l.state, l.peer, l.queued) = (unix_state::LISTENING, 0, 1);
        // Connections not accepted yet: saved with the listener (`embryo`).
        assert!(check_state(3, &l).is_ok());
        l.queued = 0;
        assert!(check_state(3, &l).is_ok());
        // Shut down: not rebuilt.
        l.shutdown = img::CKPT_UNIX_RCV_SHUTDOWN;
        assert!(check_state(3, &l).is_err());
        (l.state, l.shutdown) = (unix_state::UNCONNECTED, 0);
        assert!(check_state(3, &l).is_ok());
        l.shutdown = img::CKPT_UNIX_SEND_SHUTDOWN;
        assert!(check_state(3, &l).is_err());
        (l.shutdown, l.queued) = (0, 2);
        // messages of other senders.
        assert!(check_state(3, &l).is_err());
    }

    #[test]
    fn names_are_checked() {
        let mut u = UnixFacts::default();
        // Unbound.
        assert_eq!(checked_name(3, &u, b"").ok().map(<[u8]>::len), Some(0));
        // Abstract: kept as it is, NULs included.
        u.addr = 1;
        u.name[..4].copy_from_slice(b"\0a\0b");
        u.name_len = 4;
        assert_eq!(checked_name(3, &u, b"").ok().map(<[u8]>::len), Some(4));
        // A path: without its NUL, the file's path.
        u.name[..7].copy_from_slice(b"/tmp/s\0");
        u.name_len = 7;
        u.path_state = UNIX_PATH_BOUND;
        assert_eq!(
            checked_name(3, &u, b"/tmp/s").ok().map(<[u8]>::len),
            Some(6)
        );
        assert!(checked_name(3, &u, b"/tmp/moved").is_err());
        u.path_state = UNIX_PATH_GONE;
        assert!(checked_name(3, &u, b"/tmp/s").is_err());
        u.name[..2].copy_from_slice(b"s\0");
        u.name_len = 2;
        u.path_state = UNIX_PATH_BOUND;
        assert!(checked_name(3, &u, b"/tmp/s").is_err());
        // 108 bytes, no NUL: rstr could not bind it.
        let long = [b'a'; 108];
        u.name.copy_from_slice(&long);
        u.name[0] = b'/';
        u.name_len = 108;
        let mut path = long;
        path[0] = b'/';
        assert!(checked_name(3, &u, &path).is_err());
        u.name[107] = 0;
        assert_eq!(
            checked_name(3, &u, &path[..107]).ok().map(<[u8]>::len),
            Some(107)
        );
    }
}
