// SPDX-License-Identifier: GPL-2.0

//! Checks of the unix sockets of an image (`UNIX_SOCK` and its `SKB` records) before `rstr`
//! makes them again: each socket on its own ([`check_socket`]), then each connected pair
//! ([`check_pairs`]). See Documentation/files.rst, "Unix sockets".

use std::collections::HashMap;

use anyhow::{bail, ensure, Context, Result};

use crate::abi::image::{self as img, file_kind, unix_state};
use crate::restart::UnixImage;

use img::unix_mirrored_shutdown as mirrored;

/// The socket's fields on their own: a type, state and shutdown `rstr` can make, a name it
/// can bind, a queue only where one is kept, within the bounds.
pub fn check_socket(u: &UnixImage) -> Result<()> {
    let s = &u.sock;
    let id = s.id;
    ensure!(id != 0, "UNIX_SOCK record: id 0");
    ensure!(
        matches!(
            s.sock_type as i32,
            libc::SOCK_STREAM | libc::SOCK_DGRAM | libc::SOCK_SEQPACKET
        ),
        "unix socket {id}: type {} is not stream, datagram or seqpacket",
        s.sock_type
    );
    ensure!(
        s.shutdown & !(img::CKPT_UNIX_RCV_SHUTDOWN | img::CKPT_UNIX_SEND_SHUTDOWN) == 0,
        "unix socket {id}: shutdown bits {:#x}",
        s.shutdown
    );
    ensure!(
        s.sndbuf <= i32::MAX as u32 && s.rcvbuf <= i32::MAX as u32,
        "unix socket {id}: buffer sizes {} {} out of range",
        s.sndbuf,
        s.rcvbuf
    );
    ensure!(
        s.name_len as usize == u.name.len() && u.queue.len() == s.nr_skbs as usize,
        "unix socket {id}: name or queue length does not match its record"
    );
    let total: usize = u.queue.iter().map(Vec::len).sum();
    ensure!(
        total <= img::CKPT_UNIX_QUEUE_MAX as usize,
        "unix socket {id}: {total} bytes queued, more than {}",
        img::CKPT_UNIX_QUEUE_MAX
    );
    check_name(id, &u.name)?;
    match s.state {
        unix_state::CONNECTED => {
            ensure!(
                s.peer != 0 && s.peer != id,
                "unix socket {id}: connected to {}",
                s.peer
            );
            ensure!(
                u.name.is_empty() == (s.listener == 0),
                "unix socket {id}: a connected socket has a name if and only if it was accepted"
            );
        }
        unix_state::LISTENING => {
            ensure!(
                s.sock_type as i32 != libc::SOCK_DGRAM,
                "unix socket {id}: a listening datagram socket"
            );
            ensure!(
                !u.name.is_empty() && s.listener != 0,
                "unix socket {id}: listening with no name"
            );
            ensure!(
                s.backlog <= i32::MAX as u32,
                "unix socket {id}: backlog {} out of range",
                s.backlog
            );
        }
        unix_state::EMBRYO => {
            ensure!(
                s.sock_type as i32 != libc::SOCK_DGRAM,
                "unix socket {id}: a datagram connection not accepted yet"
            );
            ensure!(
                s.peer != 0 && s.peer != id,
                "unix socket {id}: not accepted yet, connected to {}",
                s.peer
            );
            ensure!(
                !u.name.is_empty() && s.listener != 0,
                "unix socket {id}: not accepted yet, without its listener's name"
            );
            ensure!(
                s.backlog <= i32::MAX as u32,
                "unix socket {id}: place {} in its listener's backlog out of range",
                s.backlog
            );
            ensure!(
                s.sndbuf == 0 && s.rcvbuf == 0 && s.flags & img::CKPT_UNIX_PASSCRED == 0,
                "unix socket {id}: not accepted yet, with buffer sizes or SO_PASSCRED of its own"
            );
            ensure!(
                s.rcvtimeo_ms == 0 && s.sndtimeo_ms == 0,
                "unix socket {id}: not accepted yet, with timeouts of its own"
            );
        }
        unix_state::UNCONNECTED => {}
        st => bail!("unix socket {id}: state {st} unknown"),
    }
    if !matches!(s.state, unix_state::CONNECTED | unix_state::EMBRYO) {
        ensure!(
            s.peer == 0 && s.nr_skbs == 0 && s.shutdown == 0,
            "unix socket {id}: not connected, yet a peer, a queue or a shutdown state"
        );
    }
    if !matches!(s.state, unix_state::LISTENING | unix_state::EMBRYO) {
        ensure!(
            s.backlog == 0,
            "unix socket {id}: a backlog but not listening"
        );
    }
    Ok(())
}

/// A name `rstr` can bind: none, an abstract one (a NUL first), or an absolute UTF-8 path
/// without NUL that fits in `sun_path` with its NUL.
fn check_name(id: u32, name: &[u8]) -> Result<()> {
    ensure!(
        name.len() <= img::CKPT_UNIX_NAME_MAX as usize,
        "unix socket {id}: name of {} bytes",
        name.len()
    );
    match name.first() {
        None | Some(0) => Ok(()),
        Some(_) => {
            ensure!(
                name[0] == b'/'
                    && !name.contains(&0)
                    && name.len() < img::CKPT_UNIX_NAME_MAX as usize,
                "unix socket {id}: name is not an absolute path that fits in sun_path"
            );
            ensure!(
                std::str::from_utf8(name).is_ok(),
                "unix socket {id}: name is not UTF-8"
            );
            Ok(())
        }
    }
}

/// The listening socket of name id `name`, if the image has one.
pub fn listener_of(unix: &HashMap<u32, UnixImage>, name: u32) -> Option<&UnixImage> {
    unix.values()
        .find(|l| l.sock.state == unix_state::LISTENING && l.sock.listener == name)
}

/// The connections not accepted yet in the backlog of the listener of name id `name`, in
/// the order `accept` returns them.
pub fn embryos_of(unix: &HashMap<u32, UnixImage>, name: u32) -> Vec<&UnixImage> {
    let mut v: Vec<&UnixImage> = unix
        .values()
        .filter(|e| e.sock.state == unix_state::EMBRYO && e.sock.listener == name)
        .collect();
    v.sort_unstable_by_key(|e| e.sock.backlog);
    v
}

/// Each connection not accepted yet is in the backlog of a listener of the image, of its
/// type and name, at a place of its own (0, 1, ... in each backlog), connected to a socket
/// with no name, nothing queued for it, connected back to it with the mirrored shutdown
/// state.
fn check_embryos(unix: &HashMap<u32, UnixImage>) -> Result<()> {
    for l in unix
        .values()
        .filter(|l| l.sock.state == unix_state::LISTENING)
    {
        for (i, e) in embryos_of(unix, l.sock.listener).iter().enumerate() {
            ensure!(
                e.sock.backlog as usize == i,
                "unix socket {}: at place {} in the backlog of listener {}, not {i}",
                e.sock.id,
                e.sock.backlog,
                l.sock.id
            );
        }
    }
    for e in unix.values().filter(|e| e.sock.state == unix_state::EMBRYO) {
        let s = &e.sock;
        let Some(l) = listener_of(unix, s.listener) else {
            bail!(
                "unix socket {}: not accepted yet by a listener of name {} the image lacks",
                s.id,
                s.listener
            )
        };
        ensure!(
            l.sock.sock_type == s.sock_type && l.name == e.name,
            "unix socket {}: not accepted yet by listener {} of another type or name",
            s.id,
            l.sock.id
        );
        let Some(c) = unix.get(&s.peer) else {
            bail!(
                "unix socket {}: not accepted yet, made by {} which is not in the image",
                s.id,
                s.peer
            )
        };
        ensure!(
            e.fds.iter().all(Vec::is_empty),
            "unix socket {}: not accepted yet, with descriptors in flight",
            s.id
        );
        let c = &c.sock;
        ensure!(
            c.state == unix_state::CONNECTED
                && c.peer == s.id
                && c.sock_type == s.sock_type
                && c.listener == 0
                && c.name_len == 0
                && c.nr_skbs == 0
                && c.shutdown == mirrored(s.shutdown),
            "unix socket {}: not accepted yet, made by {} which is not connected back to it alone (of its type, no name, nothing queued, the mirrored shutdown state)",
            s.id,
            c.id
        );
    }
    Ok(())
}

/// Each connected socket's peer is in the image, connected back to it, of its type, with
/// the mirrored shutdown state of a stream or seqpacket connection; an accepted one's
/// listener is in the image, of its type and name, and its peer has no name; no two
/// listeners share a name; the connections not accepted yet as [`check_embryos`] has them.
pub fn check_pairs(unix: &HashMap<u32, UnixImage>) -> Result<()> {
    let mut names = HashMap::new();
    for l in unix
        .values()
        .filter(|l| l.sock.state == unix_state::LISTENING)
    {
        if let Some(other) = names.insert(l.sock.listener, l.sock.id) {
            bail!(
                "unix sockets {other} and {}: two listeners of name {}",
                l.sock.id,
                l.sock.listener
            );
        }
    }
    for u in unix.values() {
        let s = &u.sock;
        if s.state != unix_state::CONNECTED {
            continue;
        }
        let Some(p) = unix.get(&s.peer) else {
            bail!(
                "unix socket {}: its peer {} is not in the image",
                s.id,
                s.peer
            )
        };
        let p = &p.sock;
        if p.state == unix_state::EMBRYO {
            // Checked with the connection.
            continue;
        }
        ensure!(
            p.state == unix_state::CONNECTED && p.peer == s.id && p.sock_type == s.sock_type,
            "unix socket {}: its peer {} is not connected back to it, or of another type",
            s.id,
            p.id
        );
        if s.listener != 0 {
            ensure!(
                p.listener == 0,
                "unix socket {}: both it and its peer {} were accepted",
                s.id,
                p.id
            );
            let Some(l) = listener_of(unix, s.listener) else {
                bail!(
                    "unix socket {}: accepted from a listener of name {} the image lacks",
                    s.id,
                    s.listener
                )
            };
            ensure!(
                l.sock.sock_type == s.sock_type && l.name == u.name,
                "unix socket {}: accepted from listener {} of another type or name",
                s.id,
                l.sock.id
            );
        }
        if s.sock_type as i32 != libc::SOCK_DGRAM {
            ensure!(
                p.shutdown == mirrored(s.shutdown),
                "unix socket {}: shutdown {:#x}, its peer's {:#x} is not the mirror",
                s.id,
                s.shutdown,
                p.shutdown
            );
        }
    }
    check_embryos(unix)
}

/// A `FILE` record of fd [`img::CKPT_FD_IN_FLIGHT`]: a description only messages in flight
/// hold, of a kind `rstr` makes from the record alone (a regular file, directory or device
/// by path, an anonymous pipe's end), never close-on-exec.
pub fn read_flight(
    f: img::CkptFileRec,
    path: &[u8],
    pipes: &HashMap<u32, crate::restart::PipeImage>,
) -> Result<crate::restart::OpenFile> {
    let obj = f.obj;
    ensure!(
        matches!(
            f.kind,
            file_kind::REGULAR | file_kind::DIRECTORY | file_kind::CHARDEV | file_kind::PIPE
        ),
        "FILE record of description {obj} in flight: kind {} is not a regular file, directory, device or pipe",
        f.kind
    );
    ensure!(
        f.cloexec == 0,
        "FILE record of description {obj} in flight: close-on-exec"
    );
    let mut f = f;
    // `read_file` checks the rest as a descriptor's (number 0: no order, no table).
    f.fd = 0;
    let (mut unix, anonfds) = (HashMap::new(), HashMap::new());
    let mut o = crate::restart::read_file(f, path, pipes, &mut unix, &anonfds, None)
        .with_context(|| format!("description {obj} in flight"))?;
    o.rec.fd = img::CKPT_FD_IN_FLIGHT;
    Ok(o)
}

/// Every description a message carries is one the image has (a descriptor's `FILE`, or one
/// in flight).
pub fn check_in_flight(unix: &HashMap<u32, UnixImage>, refs: &crate::refs::Refs) -> Result<()> {
    for u in unix.values() {
        for (i, objs) in u.fds.iter().enumerate() {
            if let Some(o) = objs.iter().find(|&&o| !refs.described(o)) {
                bail!(
                    "SKB_FDS record of unix socket {}: message {i} carries description {o}, which no FILE record has",
                    u.sock.id
                );
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    fn sock(id: u32, peer: u32, ty: i32) -> UnixImage {
        let mut s = img::CkptUnixSockRec::new_zeroed();
        s.id = id;
        s.peer = peer;
        s.sock_type = ty as u32;
        s.state = if peer != 0 {
            unix_state::CONNECTED
        } else {
            unix_state::UNCONNECTED
        };
        UnixImage {
            sock: s,
            name: Vec::new(),
            queue: Vec::new(),
            fds: Vec::new(),
            obj: 0,
        }
    }

    /// A listener of type `ty` bound to `/s`, of name id 7.
    fn listening(id: u32, ty: i32) -> UnixImage {
        let mut l = sock(id, 0, ty);
        l.sock.state = unix_state::LISTENING;
        (l.name, l.sock.name_len, l.sock.listener) = (b"/s".to_vec(), 2, 7);
        l
    }

    #[test]
    fn a_pair_checks() {
        let mut m = HashMap::new();
        let mut a = sock(1, 2, libc::SOCK_STREAM);
        a.sock.shutdown = img::CKPT_UNIX_SEND_SHUTDOWN;
        a.queue.push(b"hello".to_vec());
        a.sock.nr_skbs = 1;
        let mut b = sock(2, 1, libc::SOCK_STREAM);
        b.sock.shutdown = img::CKPT_UNIX_RCV_SHUTDOWN;
        check_socket(&a).unwrap();
        check_socket(&b).unwrap();
        m.insert(1, a);
        m.insert(2, b);
        check_pairs(&m).unwrap();
        // Not mirrored.
        m.get_mut(&2).unwrap().sock.shutdown = 0;
        assert!(check_pairs(&m).is_err());
        // Another type.
        m.get_mut(&2).unwrap().sock.shutdown = img::CKPT_UNIX_RCV_SHUTDOWN;
        m.get_mut(&2).unwrap().sock.sock_type = libc::SOCK_DGRAM as u32;
        assert!(check_pairs(&m).is_err());
        // A peer missing.
        m.remove(&2);
        assert!(check_pairs(&m).is_err());
    }

    #[test]
    fn fields_are_checked() {
        assert!(check_socket(&sock(1, 1, libc::SOCK_STREAM)).is_err());
        assert!(check_socket(&sock(1, 0, libc::SOCK_RAW)).is_err());
        let mut u = sock(1, 0, libc::SOCK_DGRAM);
        check_socket(&u).unwrap();
        u.sock.nr_skbs = 1;
        u.queue.push(vec![1]);
        assert!(check_socket(&u).is_err(), "an unconnected socket's queue");
        let mut l = sock(3, 0, libc::SOCK_STREAM);
        l.sock.state = unix_state::LISTENING;
        assert!(check_socket(&l).is_err(), "listening without a name");
        l.name = b"/tmp/x".to_vec();
        l.sock.name_len = 6;
        l.sock.backlog = 5;
        assert!(check_socket(&l).is_err(), "listening without a name id");
        l.sock.listener = 9;
        check_socket(&l).unwrap();
        l.name = b"\0abstract".to_vec();
        l.sock.name_len = 9;
        check_socket(&l).unwrap();
        l.name = b"rel".to_vec();
        l.sock.name_len = 3;
        assert!(check_socket(&l).is_err(), "a relative name");
        l.sock.state = 7;
        assert!(check_socket(&l).is_err());
    }

    #[test]
    fn an_accepted_connection_checks() {
        let mut m = HashMap::new();
        let mut l = listening(1, libc::SOCK_STREAM);
        let mut a = sock(2, 3, libc::SOCK_STREAM);
        (a.name, a.sock.name_len, a.sock.listener) = (b"/s".to_vec(), 2, 7);
        let c = sock(3, 2, libc::SOCK_STREAM);
        for u in [&l, &a, &c] {
            check_socket(u).unwrap();
        }
        m.insert(1, l.clone());
        m.insert(2, a.clone());
        m.insert(3, c);
        check_pairs(&m).unwrap();
        // Its listener gone.
        m.remove(&1);
        assert!(check_pairs(&m).is_err());
        // Of another name.
        l.name = b"/t".to_vec();
        m.insert(1, l.clone());
        assert!(check_pairs(&m).is_err());
        // Two listeners of one name.
        l.name = b"/s".to_vec();
        m.insert(1, l.clone());
        l.sock.id = 4;
        m.insert(4, l);
        assert!(check_pairs(&m).is_err());
        // A name without a listener's id.
        a.sock.listener = 0;
        assert!(check_socket(&a).is_err());
    }

    #[test]
    fn connections_not_accepted_check() {
        let mut m = HashMap::new();
        m.insert(1, listening(1, libc::SOCK_SEQPACKET));
        for (e, c, place) in [(2, 3, 0), (4, 5, 1)] {
            let mut u = sock(e, c, libc::SOCK_SEQPACKET);
            u.sock.state = unix_state::EMBRYO;
            (u.name, u.sock.name_len, u.sock.listener) = (b"/s".to_vec(), 2, 7);
            u.sock.backlog = place;
            u.sock.nr_skbs = 1;
            u.queue.push(b"hi".to_vec());
            u.fds.push(Vec::new());
            check_socket(&u).unwrap();
            m.insert(e, u);
            m.insert(c, sock(c, e, libc::SOCK_SEQPACKET));
        }
        check_pairs(&m).unwrap();
        let order: Vec<u32> = embryos_of(&m, 7).iter().map(|e| e.sock.id).collect();
        assert_eq!(order, [2, 4]);
        let broken: [fn(&mut HashMap<u32, UnixImage>); 6] = [
            // Two at one place.
            |m| m.get_mut(&4).unwrap().sock.backlog = 0,
            // A hole.
            |m| m.get_mut(&4).unwrap().sock.backlog = 2,
            // Its client not connected back.
            |m| m.get_mut(&3).unwrap().sock.peer = 4,
            // Something queued for its client.
            |m| {
                let c = m.get_mut(&3).unwrap();
                (c.sock.nr_skbs, c.queue) = (1, vec![b"x".to_vec()]);
            },
            // Not the mirrored shutdown.
            |m| m.get_mut(&3).unwrap().sock.shutdown = img::CKPT_UNIX_SEND_SHUTDOWN,
            // No listener.
            |m| {
                m.remove(&1);
            },
        ];
        for b in broken {
            let mut bad = m.clone();
            b(&mut bad);
            assert!(check_pairs(&bad).is_err());
        }
        // A client that shut down for writing: the connection's mirror.
        let mut ok = m.clone();
        ok.get_mut(&3).unwrap().sock.shutdown = img::CKPT_UNIX_SEND_SHUTDOWN;
        ok.get_mut(&2).unwrap().sock.shutdown = img::CKPT_UNIX_RCV_SHUTDOWN;
        check_pairs(&ok).unwrap();
        // A datagram one, one without a name or with buffers of its own: refused alone.
        let mut e = m[&2].clone();
        e.sock.sock_type = libc::SOCK_DGRAM as u32;
        assert!(check_socket(&e).is_err());
        let mut e = m[&2].clone();
        (e.name, e.sock.name_len) = (Vec::new(), 0);
        assert!(check_socket(&e).is_err());
        let mut e = m[&2].clone();
        e.sock.sndbuf = 4096;
        assert!(check_socket(&e).is_err());
    }

    #[test]
    fn shutdown_mirrors() {
        assert_eq!(mirrored(1), 2);
        assert_eq!(mirrored(2), 1);
        assert_eq!(mirrored(3), 3);
        assert_eq!(mirrored(0), 0);
    }
}
