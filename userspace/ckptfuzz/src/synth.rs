// SPDX-License-Identifier: GPL-2.0

//! A small valid image made with `ckptlib`'s encoder, for the host fuzzers' seed corpus
//! (the guest's seeds are real images, written by `ckpt`): one process with a pending
//! signal, an interval timer and two POSIX timers, a pipe, a file, a unix socket pair
//! with a queued message each way, an eventfd, a timerfd and a signalfd, a listening TCP
//! socket, an epoll watching the eventfd, a FIFO, a deleted file with a hole, a sealed
//! memfd, a UDP socket, a datagram pair whose message carries a pipe's write end (only
//! in flight) and /dev/null's description (fd 0), a seqpacket listener with a connection
//! not accepted yet (`unix_state::EMBRYO`) whose client is fd 19, its memory of an
//! anonymous area with one page, a mapped file, a shared writable area of a memfd no
//! descriptor holds (the `VMA`'s `shm` names its `MEMFD`) and its vDSO, then its registers.
//! [`container_image`] is the same process as a container's init, with its own UTS, IPC
//! and network namespaces, `lo` up (a `UTS_NS` record after the `TREE`), its IPC
//! namespace holding a locked SysV segment nobody attaches, a queue of two messages, a set
//! of three semaphores with the process's undo adjustments and a POSIX message queue of one
//! message.

use zerocopy::{FromZeros, IntoBytes};

use ckptlib::abi::image::{self as img, file_kind, rec, vma_kind};
use ckptlib::abi::CKPT_IMAGE_VERSION;
use ckptlib::image::RecordWriter;

const PID: i32 = 4242;
/// The id of the memfd only a `VMA` names (its `shm`).
const MAPPED_MEMFD: u32 = 30;
/// The object of the container's SysV segment.
const SYSV_SEGMENT: u32 = 40;

/// The image's bytes.
pub fn image() -> Vec<u8> {
    build(false)
}

/// The same process saved as a container (`ckpt --container`) with a UTS and an IPC
/// namespace of its own.
pub fn container_image() -> Vec<u8> {
    build(true)
}

/// Streams of `image` as `ckpt --to` sends them and `rstr --listen` answers
/// (`ckptlib::stream`), for the `stream_reader` fuzzer: its first bytes (as many as fit in
/// `max_len`) in DATA frames of a few sizes and END; a sender's ERROR; a receiver's ACK
/// and RELEASED; a REFUSE.
pub fn streams(image: &[u8], max_len: usize) -> Vec<(&'static str, Vec<u8>)> {
    use ckptlib::stream::{Writer, FRAME_HEADER_LEN, HEADER_LEN};
    fn stream(f: impl FnOnce(&mut Writer<&mut Vec<u8>>) -> std::io::Result<()>) -> Vec<u8> {
        let mut s = Vec::new();
        let mut w = Writer::new(&mut s).expect("an in-memory write");
        f(&mut w).expect("an in-memory write");
        s
    }
    let mut out = Vec::new();
    for (name, piece) in [("data-4096", 4096), ("data-500", 500), ("data-61", 61)] {
        // The header, the frames of n image bytes and END fit in max_len.
        let fit = |n: usize| HEADER_LEN + n + (n.div_ceil(piece) + 1) * FRAME_HEADER_LEN + 16;
        let n = (0..=image.len())
            .rev()
            .find(|&n| fit(n) <= max_len)
            .unwrap_or(0);
        let s = stream(|w| {
            image[..n].chunks(piece).try_for_each(|p| w.data(p))?;
            w.end()
        });
        out.push((name, s));
    }
    out.push((
        "error",
        stream(|w| {
            w.data(&image[..image.len().min(100)])?;
            w.error("pid 4242 fd 3: a socket of a kind not saved")
        }),
    ));
    out.push((
        "ack-released",
        stream(|w| {
            w.ack()?;
            w.released(true)
        }),
    ));
    out.push((
        "refuse",
        stream(|w| w.refuse("image version 8: this rstr reads 9")),
    ));
    out
}

fn build(container: bool) -> Vec<u8> {
    let mut w = RecordWriter::new(Vec::new());
    let mut put = |kind: u32, fixed: &[u8], rest: &[u8]| {
        w.write(kind, &[fixed, rest]).expect("an in-memory write");
    };
    let mut h = img::CkptHeaderRec::new_zeroed();
    h.magic = img::CKPT_IMAGE_MAGIC;
    h.image_version = CKPT_IMAGE_VERSION;
    (h.arch, h.page_size, h.xsave_size) = (img::CKPT_ARCH_X86_64, img::CKPT_PAGE_SIZE, 576);
    (h.xfeatures, h.nr_tasks) = (7, 1);
    put(rec::HEADER, h.as_bytes(), &[]);
    let mut e = img::CkptTreeEntry::new_zeroed();
    (e.pid, e.tgid, e.ppid, e.pgid, e.sid, e.exit_signal) = (PID, PID, 1, PID, PID, 17);
    (e.mm, e.files, e.fs, e.sighand) = (1, 1, 1, 1);
    let flags = if container {
        img::CKPT_TREE_CONTAINER
    } else {
        0
    };
    put(
        rec::TREE,
        img::CkptTreeRec { nr: 1, flags }.as_bytes(),
        e.as_bytes(),
    );
    if container {
        let mut u = img::CkptUtsNsRec::new_zeroed();
        u.flags = img::CKPT_NS_UTS
            | img::CKPT_NS_IPC
            | img::CKPT_NS_NET
            | img::CKPT_NS_LO_UP
            | img::CKPT_NS_TIME;
        u.nodename[..5].copy_from_slice(b"synth");
        u.domainname[..7].copy_from_slice(b"example");
        put(rec::UTS_NS, u.as_bytes(), &[]);
        let t = img::CkptTimeNsRec {
            monotonic_sec: 86400,
            boottime_sec: -5,
            monotonic_nsec: 250_000_000,
            boottime_nsec: 0,
            host_monotonic: 10_000_000_000,
            host_boottime: 12_000_000_000,
        };
        put(rec::TIME_NS, t.as_bytes(), &[]);
        let mut n = img::CkptIpcNsRec::new_zeroed();
        (n.shm_ctlmax, n.shm_ctlall, n.shm_ctlmni) = (1 << 30, 1 << 20, 4096);
        (n.msg_ctlmax, n.msg_ctlmnb, n.msg_ctlmni) = (8192, 16384, 32000);
        n.sem_ctls = [32000, 1_024_000_000, 500, 32000];
        (n.mq_queues_max, n.mq_msg_max, n.mq_msgsize_max) = (256, 10, 8192);
        (n.mq_msg_default, n.mq_msgsize_default) = (10, 8192);
        (n.nr_shm, n.nr_msq, n.nr_sem, n.nr_mq) = (1, 1, 1, 1);
        put(rec::IPC_NS, n.as_bytes(), &[]);
        let perm = |key: i32, id: i32, mode: u32| img::CkptIpcPerm {
            key,
            id,
            uid: 1000,
            gid: 1000,
            cuid: 0,
            cgid: 0,
            mode,
            __reserved: 0,
        };
        let shm = img::CkptSysvShmRec {
            perm: perm(0x5eed, 0, 0o640 | img::CKPT_SHM_LOCKED),
            size: 10_000,
            obj: SYSV_SEGMENT,
            nattch: 0,
        };
        put(rec::SYSV_SHM, shm.as_bytes(), &[]);
        let r = img::CkptFileDataRec {
            id: SYSV_SEGMENT,
            len: 4,
            offset: 8192,
        };
        put(rec::FILE_DATA, r.as_bytes(), b"shm!");
        let mut q = img::CkptSysvMsqRec::new_zeroed();
        (q.perm, q.qbytes, q.nr_msgs) = (perm(0, 32768, 0o600), 4096, 2);
        put(rec::SYSV_MSQ, q.as_bytes(), &[]);
        for (mtype, text) in [(1i64, &b"first"[..]), (7, b"second message")] {
            let mut m = img::CkptSysvMsgRec::new_zeroed();
            (m.mtype, m.len) = (mtype, text.len() as u32);
            put(rec::SYSV_MSG, m.as_bytes(), text);
        }
        let mut e = img::CkptSysvSemRec::new_zeroed();
        (e.perm, e.nsems, e.nr_undo) = (perm(0x5e3, 1, 0o666), 3, 1);
        put(rec::SYSV_SEM, e.as_bytes(), [0i32, 5, 32767].as_bytes());
        let u = img::CkptSemUndoRec { pid: PID, nsems: 3 };
        put(rec::SEM_UNDO, u.as_bytes(), [2i32, -5, 0].as_bytes());
        let mut q = img::CkptMqueueRec::new_zeroed();
        (q.maxmsg, q.msgsize, q.mode, q.name_len, q.nr_msgs) = (10, 128, 0o640, 6, 1);
        put(rec::MQUEUE, q.as_bytes(), b"/synth");
        let m = img::CkptMqMsgRec { prio: 4, len: 5 };
        put(rec::MQ_MSG, m.as_bytes(), b"posix");
    }

    let mut t = img::CkptTaskRec::new_zeroed();
    (t.pid, t.tgid, t.ppid, t.pgid, t.sid) = (PID, PID, 1, PID, PID);
    (t.dumpable, t.exit_signal, t.umask, t.vdso_base) = (1, 17, 0o22, 0x7fff_f7fc_1000);
    t.comm[..6].copy_from_slice(b"target");
    put(rec::TASK, t.as_bytes(), &[]);
    let mut a = img::CkptTaskAttrsRec::new_zeroed();
    (a.nr_cpus, a.cpus_words, a.flags) = (1, 1, img::CKPT_ATTRS_AFFINITY);
    put(rec::TASK_ATTRS, a.as_bytes(), 1u64.as_bytes());
    let mut c = img::CkptCredsRec::new_zeroed();
    c.ngroups = 1;
    put(rec::CREDS, c.as_bytes(), 65534u32.as_bytes());
    put(
        rec::RLIMITS,
        img::CkptRlimitsRec::new_zeroed().as_bytes(),
        &[],
    );
    let fs = img::CkptFsRec {
        root_len: 1,
        cwd_len: 4,
        flags: 0,
        cwd_mode: 0,
        cwd_uid: 0,
        cwd_gid: 0,
    };
    put(rec::FS, fs.as_bytes(), b"//tmp");
    put(
        rec::SIGHAND,
        img::CkptSighandRec::new_zeroed().as_bytes(),
        &[],
    );
    let mut s = img::CkptSignalsRec::new_zeroed();
    s.nr_pending = 1;
    put(rec::SIGNALS, s.as_bytes(), &[]);
    let mut i = img::CkptSiginfoRec::new_zeroed();
    (i.info[0], i.shared) = (10, 1);
    put(rec::SIGINFO, i.as_bytes(), &[]);
    let it = img::CkptItimersRec {
        real_value_ns: 15_000_000,
        real_interval_ns: 20_000_000,
        virt_value_ns: 3_000_000,
        virt_interval_ns: 10_000_000,
        prof_value_ns: 0,
        prof_interval_ns: 0,
        nr_posix: 2,
        __reserved: 0,
    };
    put(rec::ITIMERS, it.as_bytes(), &[]);
    let mut pt = img::CkptPosixTimerRec::new_zeroed();
    // The first on the process's CPU clock (CLOCK_PROCESS_CPUTIME_ID), the second monotonic.
    (pt.id, pt.clock, pt.notify, pt.signo) = (0, -6, 0, 34);
    (pt.value, pt.value_ns, pt.interval_ns) = (0xc0ffee, 12_000_000, 30_000_000);
    put(rec::POSIX_TIMER, pt.as_bytes(), &[]);
    // SIGEV_THREAD_ID to the process's only thread, one-shot.
    (pt.id, pt.clock, pt.notify, pt.tid, pt.interval_ns) = (5, 1, 4, PID, 0);
    put(rec::POSIX_TIMER, pt.as_bytes(), &[]);
    let p = img::CkptPipeRec {
        id: 1,
        capacity: 65536,
        len: 5,
        __reserved: 0,
    };
    put(rec::PIPE, p.as_bytes(), b"hello");
    let mut f = img::CkptFileRec::new_zeroed();
    (f.fd, f.kind, f.obj, f.path_len) = (0, file_kind::REGULAR, 1, 9);
    put(rec::FILE, f.as_bytes(), b"/dev/null");
    let mut f = img::CkptFileRec::new_zeroed();
    (f.fd, f.kind, f.obj, f.pipe) = (3, file_kind::PIPE, 2, 1);
    put(rec::FILE, f.as_bytes(), &[]);
    // A datagram socket pair, both ends open: one message queued for each end to read.
    for (id, peer, fd, msg) in [(3u32, 4u32, 4, &b"ping"[..]), (4, 3, 5, &b"pong!"[..])] {
        let mut u = img::CkptUnixSockRec::new_zeroed();
        (u.id, u.peer, u.sock_type) = (id, peer, libc::SOCK_DGRAM as u32);
        (u.state, u.nr_skbs) = (img::unix_state::CONNECTED, 1);
        put(rec::UNIX_SOCK, u.as_bytes(), &[]);
        let skb = img::CkptSkbRec {
            len: msg.len() as u32,
            __reserved: 0,
        };
        put(rec::SKB, skb.as_bytes(), msg);
        let mut f = img::CkptFileRec::new_zeroed();
        (f.fd, f.kind, f.obj, f.pipe) = (fd, file_kind::UNIX_SOCKET, id, id);
        f.flags = libc::O_RDWR as u32;
        put(rec::FILE, f.as_bytes(), &[]);
    }
    // An eventfd, a timerfd and a signalfd, each before its FILE.
    let e = img::CkptEventfdRec {
        id: 5,
        flags: img::CKPT_EFD_SEMAPHORE,
        count: 5,
    };
    put(rec::EVENTFD, e.as_bytes(), &[]);
    let mut f = img::CkptFileRec::new_zeroed();
    (f.fd, f.kind, f.obj, f.flags) = (6, file_kind::EVENTFD, 5, libc::O_RDWR as u32);
    put(rec::FILE, f.as_bytes(), &[]);
    let mut t = img::CkptTimerfdRec::new_zeroed();
    (t.id, t.clockid, t.ticks) = (6, libc::CLOCK_MONOTONIC as u32, 2);
    (t.value_nsec, t.interval_nsec) = (20_000_000, 50_000_000);
    (t.now_sec, t.now_nsec) = (1_700_000_000, 5);
    put(rec::TIMERFD, t.as_bytes(), &[]);
    let mut f = img::CkptFileRec::new_zeroed();
    (f.fd, f.kind, f.obj, f.flags) = (
        7,
        file_kind::TIMERFD,
        6,
        (libc::O_RDWR | libc::O_NONBLOCK) as u32,
    );
    put(rec::FILE, f.as_bytes(), &[]);
    let sfd = img::CkptSignalfdRec {
        id: 7,
        __reserved: 0,
        mask: 1 << (libc::SIGUSR1 - 1),
    };
    put(rec::SIGNALFD, sfd.as_bytes(), &[]);
    let mut f = img::CkptFileRec::new_zeroed();
    (f.fd, f.kind, f.obj, f.flags) = (8, file_kind::SIGNALFD, 7, libc::O_RDWR as u32);
    put(rec::FILE, f.as_bytes(), &[]);
    // A TCP socket listening on 127.0.0.1:6379, before its FILE.
    let mut s = img::CkptInetSockRec::new_zeroed();
    (s.id, s.family, s.sock_type) = (8, libc::AF_INET as u32, libc::SOCK_STREAM as u32);
    (s.protocol, s.state, s.port) = (libc::IPPROTO_TCP as u32, img::inet_state::LISTENING, 6379);
    s.addr[..4].copy_from_slice(&[127, 0, 0, 1]);
    (s.backlog, s.ttl) = (511, -1);
    put(rec::INET_SOCK, s.as_bytes(), &[]);
    let mut f = img::CkptFileRec::new_zeroed();
    (f.fd, f.kind, f.obj) = (9, file_kind::INET_SOCKET, 8);
    f.flags = (libc::O_RDWR | libc::O_ASYNC) as u32;
    put(rec::FILE, f.as_bytes(), &[]);
    // Signal-driven I/O on it, without an owner, right after its FILE.
    let mut o = img::CkptFownRec::new_zeroed();
    (o.obj, o.owner_type, o.signum) = (8, img::fown_type::PID, libc::SIGRTMIN() + 1);
    o.flags = img::CKPT_FOWN_ASYNC;
    put(rec::FOWN, o.as_bytes(), &[]);
    kinds_of_files(&mut put);
    // A memfd that only a shared writable area maps (its descriptor closed), before MM.
    let name = b"synth-map";
    let m = img::CkptMemfdRec {
        id: MAPPED_MEMFD,
        seals: 0,
        mode: libc::S_IFREG | 0o600,
        name_len: name.len() as u32,
        size: 4096,
    };
    put(rec::MEMFD, m.as_bytes(), name);
    let r = img::CkptFileDataRec {
        id: MAPPED_MEMFD,
        len: 4,
        offset: 0,
    };
    put(rec::FILE_DATA, r.as_bytes(), b"map!");
    let x = img::CkptXstateRec {
        xstate_bv: 3,
        size: 576,
        __reserved: 0,
    };
    put(rec::XSTATE, x.as_bytes(), &[0; 576]);

    let mut m = img::CkptMmRec::new_zeroed();
    (m.start_code, m.end_code) = (0x40_0000, 0x40_1000);
    (m.start_data, m.end_data, m.start_brk, m.brk) = (0x60_0000, 0x60_1000, 0x70_0000, 0x70_0000);
    (m.start_stack, m.arg_start, m.arg_end) =
        (0x7fff_f000_0000, 0x7fff_f000_0100, 0x7fff_f000_0200);
    (m.env_start, m.env_end) = (0x7fff_f000_0200, 0x7fff_f000_0300);
    (m.nr_vmas, m.auxv_words, m.exe_vma) = (4, 4, 1);
    (m.auxv[0], m.auxv[1]) = (6, 4096);
    put(rec::MM, m.as_bytes(), &[]);
    let mut v = img::CkptVmaRec::new_zeroed();
    (v.start, v.end, v.kind, v.prot) = (0x10_0000, 0x10_2000, vma_kind::ANON_PRIVATE, 3);
    put(rec::VMA, v.as_bytes(), &[]);
    let mut v = img::CkptVmaRec::new_zeroed();
    (v.start, v.end, v.kind, v.prot, v.path_len) =
        (0x40_0000, 0x40_1000, vma_kind::FILE_PRIVATE, 5, 9);
    put(rec::VMA, v.as_bytes(), b"/bin/true");
    let path = b"/memfd:synth-map (deleted)";
    let mut v = img::CkptVmaRec::new_zeroed();
    (v.start, v.end, v.kind, v.prot, v.path_len) = (
        0x50_0000,
        0x50_1000,
        vma_kind::FILE_SHARED,
        3,
        path.len() as u32,
    );
    // VM_READ, VM_WRITE, VM_SHARED, VM_MAYREAD, VM_MAYWRITE, VM_MAYSHARE.
    (v.vm_flags, v.shm) = (0xbb, MAPPED_MEMFD);
    put(rec::VMA, v.as_bytes(), path);
    let mut v = img::CkptVmaRec::new_zeroed();
    (v.start, v.end, v.kind, v.prot) = (0x7fff_f7fc_1000, 0x7fff_f7fc_3000, vma_kind::VDSO, 5);
    put(rec::VMA, v.as_bytes(), &[]);
    let pg = img::CkptPagesRec {
        addr: 0x10_0000,
        nr_pages: 1,
        __reserved: 0,
    };
    put(rec::PAGES, pg.as_bytes(), &[0xa5; 4096]);
    // The area's second page has the first one's contents (`src` set by `refer_back`).
    let pr = img::CkptPagesRefRec {
        addr: 0x10_1000,
        nr_pages: 1,
        __reserved: 0,
        src: 0,
    };
    put(rec::PAGES_REF, pr.as_bytes(), &[]);
    let mut r = img::CkptRegsRec::new_zeroed();
    (r.ip, r.sp, r.cs, r.ss, r.flags) = (0x40_0100, 0x10_1ff0, 0x33, 0x2b, 0x202);
    put(rec::REGS, r.as_bytes(), &[]);
    let tail = img::CkptTailRec {
        magic: img::CKPT_TAIL_MAGIC,
        nr_records: w.count(),
    };
    w.write(rec::TAIL, &[tail.as_bytes()])
        .expect("an in-memory write");
    refer_back(w.into_inner())
}

/// Points each `PAGES_REF` record of `image` at the contents of the `PAGES` record before it.
fn refer_back(mut image: Vec<u8>) -> Vec<u8> {
    let (mut at, mut data) = (0, 0u64);
    while at + 8 <= image.len() {
        let kind = u32::from_ne_bytes(image[at..at + 4].try_into().unwrap());
        let len = u32::from_ne_bytes(image[at + 4..at + 8].try_into().unwrap()) as usize;
        let payload = at + 8;
        match kind {
            rec::PAGES => data = (payload + size_of::<img::CkptPagesRec>()) as u64,
            rec::PAGES_REF => {
                image[payload + 16..payload + 24].copy_from_slice(&data.to_ne_bytes())
            }
            _ => {}
        }
        at = payload + len + img::record_pad(len);
    }
    image
}

/// An epoll watching the eventfd (fd 6), a FIFO by path with a byte in it, a deleted file
/// with a hole between its two extents, a sealed memfd with data, a bound UDP socket: each
/// object's records before its `FILE`, at fds 10 to 14.
fn kinds_of_files(put: &mut impl FnMut(u32, &[u8], &[u8])) {
    let file = |fd: i32, kind: u32, obj: u32, pipe: u32, path: &[u8]| {
        let mut f = img::CkptFileRec::new_zeroed();
        (f.fd, f.kind, f.obj, f.pipe) = (fd, kind, obj, pipe);
        (f.flags, f.path_len) = (libc::O_RDWR as u32, path.len() as u32);
        f
    };
    let ep = img::CkptEpollRec { id: 9, nr_items: 1 };
    let mut it = img::CkptEpollItem::new_zeroed();
    (it.obj, it.tfd, it.data) = (5, 6, 0x5eed);
    it.events = (libc::EPOLLIN | libc::EPOLLERR | libc::EPOLLHUP | libc::EPOLLET) as u32;
    put(rec::EPOLL, ep.as_bytes(), it.as_bytes());
    put(
        rec::FILE,
        file(10, file_kind::EPOLL, 9, 0, b"").as_bytes(),
        &[],
    );

    let p = img::CkptPipeRec {
        id: 11,
        capacity: 65536,
        len: 1,
        __reserved: 0,
    };
    put(rec::PIPE, p.as_bytes(), b"f");
    let mut f = file(11, file_kind::FIFO, 10, 11, b"/tmp/synth.fifo");
    f.mode = libc::S_IFIFO | 0o600;
    put(rec::FILE, f.as_bytes(), b"/tmp/synth.fifo");

    let d = img::CkptDeletedRec {
        id: 13,
        mode: libc::S_IFREG | 0o640,
        uid: 65534,
        gid: 65534,
        size: 3 * 4096 + 10,
    };
    put(rec::DELETED, d.as_bytes(), &[]);
    for offset in [0, 2 * 4096] {
        let r = img::CkptFileDataRec {
            id: 13,
            len: 5,
            offset,
        };
        put(rec::FILE_DATA, r.as_bytes(), b"data!");
    }
    let mut f = file(12, file_kind::DELETED, 12, 13, b"/tmp/synth.gone");
    (f.mode, f.pos) = (d.mode, 4096);
    put(rec::FILE, f.as_bytes(), b"/tmp/synth.gone");

    let name = b"synth";
    let m = img::CkptMemfdRec {
        id: 15,
        seals: (libc::F_SEAL_SEAL | libc::F_SEAL_WRITE | libc::F_SEAL_SHRINK) as u32,
        mode: libc::S_IFREG | 0o600,
        name_len: name.len() as u32,
        size: 4096,
    };
    put(rec::MEMFD, m.as_bytes(), name);
    let r = img::CkptFileDataRec {
        id: 15,
        len: 3,
        offset: 100,
    };
    put(rec::FILE_DATA, r.as_bytes(), b"mem");
    let path = b"/memfd:synth (deleted)";
    let mut f = file(13, file_kind::MEMFD, 14, 15, path);
    f.mode = m.mode;
    put(rec::FILE, f.as_bytes(), path);

    let mut s = img::CkptInetSockRec::new_zeroed();
    (s.id, s.family, s.sock_type) = (16, libc::AF_INET as u32, libc::SOCK_DGRAM as u32);
    (s.protocol, s.state, s.port, s.ttl) =
        (libc::IPPROTO_UDP as u32, img::inet_state::CLOSED, 5353, -1);
    s.addr[..4].copy_from_slice(&[127, 0, 0, 1]);
    s.flags = img::CKPT_INET_USER_PORT | img::CKPT_INET_USER_ADDR;
    put(rec::INET_SOCK, s.as_bytes(), &[]);
    put(
        rec::FILE,
        file(14, file_kind::INET_SOCKET, 16, 0, b"").as_bytes(),
        &[],
    );

    let i = img::CkptInotifyRec {
        id: 17,
        nr_watches: 2,
    };
    put(rec::INOTIFY, i.as_bytes(), &[]);
    let watches: [(i32, u32, &[u8]); 2] = [
        (1, libc::IN_CREATE | libc::IN_DELETE, b"/tmp"),
        (3, libc::IN_MODIFY | libc::IN_ONESHOT, b"/tmp/synth.fifo"),
    ];
    for (wd, mask, path) in watches {
        let w = img::CkptInotifyWatchRec {
            wd,
            mask,
            ino: 2,
            dev: 0x801,
            path_len: path.len() as u32,
        };
        put(rec::INOTIFY_WATCH, w.as_bytes(), path);
    }
    let mut f = file(15, file_kind::INOTIFY, 17, 0, b"");
    f.flags = libc::O_NONBLOCK as u32;
    put(rec::FILE, f.as_bytes(), &[]);

    // A pipe's write end that only a message holds, then a datagram pair (fds 16, 17)
    // whose one message carries it and /dev/null's description (fd 0) in flight.
    let p = img::CkptPipeRec {
        id: 18,
        capacity: 65536,
        len: 0,
        __reserved: 0,
    };
    put(rec::PIPE, p.as_bytes(), &[]);
    let mut f = file(img::CKPT_FD_IN_FLIGHT, file_kind::PIPE, 18, 18, b"");
    (f.flags, f.mode) = (libc::O_WRONLY as u32, libc::S_IFIFO | 0o600);
    put(rec::FILE, f.as_bytes(), &[]);
    for (id, peer, fd) in [(19u32, 20u32, 16), (20, 19, 17)] {
        let mut u = img::CkptUnixSockRec::new_zeroed();
        (u.id, u.peer, u.sock_type) = (id, peer, libc::SOCK_DGRAM as u32);
        (u.state, u.nr_skbs) = (img::unix_state::CONNECTED, u32::from(id == 19));
        put(rec::UNIX_SOCK, u.as_bytes(), &[]);
        if id == 19 {
            let skb = img::CkptSkbRec {
                len: 3,
                __reserved: 0,
            };
            put(rec::SKB, skb.as_bytes(), b"fds");
            let r = img::CkptSkbFdsRec {
                sock: 19,
                skb: 0,
                nr_fds: 2,
                __reserved: 0,
            };
            put(rec::SKB_FDS, r.as_bytes(), [18u32, 1].as_bytes());
        }
        put(
            rec::FILE,
            file(fd, file_kind::UNIX_SOCKET, id, id, b"").as_bytes(),
            &[],
        );
    }
    // A seqpacket listener (name id 22, fd 18) with a connection not accepted yet (23)
    // right after it, before the listener's FILE as the module writes them, whose client
    // (24) is fd 19 and sent it one message.
    let name = b"/tmp/synth.sock";
    for (id, state, peer, desc) in [
        (21u32, img::unix_state::LISTENING, 0u32, None),
        (23, img::unix_state::EMBRYO, 24, Some((18, 21))),
        (24, img::unix_state::CONNECTED, 23, Some((19, 24))),
    ] {
        let mut u = img::CkptUnixSockRec::new_zeroed();
        (u.id, u.peer, u.sock_type, u.state) = (id, peer, libc::SOCK_SEQPACKET as u32, state);
        let named = id != 24;
        if named {
            (u.listener, u.name_len) = (22, name.len() as u32);
        }
        u.backlog = u32::from(id == 21) * 4;
        u.nr_skbs = u32::from(id == 23);
        put(rec::UNIX_SOCK, u.as_bytes(), if named { name } else { b"" });
        if id == 23 {
            let skb = img::CkptSkbRec {
                len: 2,
                __reserved: 0,
            };
            put(rec::SKB, skb.as_bytes(), b"hi");
        }
        if let Some((fd, obj)) = desc {
            put(
                rec::FILE,
                file(fd, file_kind::UNIX_SOCKET, obj, obj, b"").as_bytes(),
                &[],
            );
        }
    }
    // A removed directory (id 26) open twice: read at fd 20 (description 25, offset 2,
    // past `.` and `..`) and O_PATH at fd 21 (description 27).
    let d = img::CkptRemovedDirRec {
        id: 26,
        mode: 0o751,
        uid: 65534,
        gid: 65534,
    };
    put(rec::REMOVED_DIR, d.as_bytes(), &[]);
    let gone = b"/tmp/synth.rmdir";
    for (fd, obj, flags, pos) in [
        (20, 25, libc::O_RDONLY | libc::O_DIRECTORY, 2),
        (21, 27, libc::O_PATH | libc::O_DIRECTORY, 0),
    ] {
        let mut f = file(fd, file_kind::REMOVED_DIR, obj, 26, gone);
        (f.mode, f.flags, f.pos) = (libc::S_IFDIR | 0o751, flags as u32, pos);
        put(rec::FILE, f.as_bytes(), gone);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use ckptlib::abi::image as img;
    use ckptlib::image::{Decoded, ImageReader, RecordReader};
    use ckptlib::restart::scan;

    #[test]
    fn the_container_image_has_its_namespaces() {
        let bytes = super::container_image();
        let image = scan(&mut RecordReader::new(Cursor::new(&bytes[..]))).unwrap();
        assert!(image.container);
        let ns = image.namespaces.unwrap();
        let uts = ns.uts.unwrap();
        assert!(ns.ipc);
        assert_eq!(ns.net, Some(ckptlib::restart::NetNs { lo_up: true }));
        assert_eq!(
            (&uts.nodename[..], &uts.domainname[..]),
            (&b"synth"[..], &b"example"[..])
        );
        let records = |bytes: &[u8]| {
            let mut rd = RecordReader::new(bytes);
            let mut rd = ImageReader::new(&mut rd);
            let mut kinds = Vec::new();
            while let Some(r) = rd.next_record().unwrap() {
                kinds.push(serde_json::to_value(Decoded::from(&r)).unwrap());
            }
            kinds
        };
        let kinds = records(&bytes);
        // The plain image's records, the UTS_NS, the TIME_NS and the IPC namespace's.
        assert_eq!(kinds.len(), records(&super::image()).len() + 12);
        assert_eq!(kinds[2]["type"], "UTS_NS");
        assert_eq!(kinds[2]["nodename"], "synth");
        assert_eq!(kinds[3]["type"], "TIME_NS");
        assert_eq!(kinds[3]["monotonic_sec"], 86400);
        assert_eq!(kinds[3]["boottime_sec"], -5);
        let time = ns.time.unwrap();
        assert_eq!(
            (time.monotonic_nsec, time.host_boottime),
            (250_000_000, 12_000_000_000)
        );
        let ipc = image.ipc.unwrap();
        assert_eq!(ipc.limits.shm_ctlmni, 4096);
        assert_eq!(ipc.shm.len(), 1);
        assert_eq!(ipc.shm[0].data, vec![(8192, b"shm!".to_vec())]);
        assert_eq!(ipc.msq[0].msgs[1], (7, b"second message".to_vec()));
        assert_eq!(ipc.sem[0].values, vec![0, 5, 32767]);
        assert_eq!(ipc.sem[0].undo, vec![(super::PID, vec![2, -5, 0])]);
        assert_eq!(ipc.mq[0].msgs, vec![(4, b"posix".to_vec())]);
        // The plain image has none: it is the container's alone.
        let plain = super::image();
        assert!(scan(&mut RecordReader::new(Cursor::new(&plain[..])))
            .unwrap()
            .namespaces
            .is_none());
    }

    /// ckpt-fuzz's mutants of the seeds reach the mapped memfd's VMA and the net flags.
    #[test]
    fn mutants_change_the_mapped_area_and_the_net_flags() {
        use crate::mutate::{split, Op};
        let hits = |image: &[u8], kind: u32, field: &str, pick: &dyn Fn(&[u8]) -> bool| {
            let recs = split(image).unwrap();
            (0..20_000)
                .filter(|&i| {
                    crate::rstr::case_of(&recs, 7, i).1.iter().any(|op| {
                        let Op::Field { rec, field: f, .. } = op else {
                            return false;
                        };
                        recs.get(*rec)
                            .is_some_and(|r| r.kind == kind && f == field && pick(&r.payload))
                    })
                })
                .count()
        };
        let at = std::mem::offset_of!(img::CkptVmaRec, shm);
        let mapped = |p: &[u8]| p[at..at + 4] == super::MAPPED_MEMFD.to_ne_bytes();
        let image = super::image();
        assert!(hits(&image, img::rec::VMA, "VMA.shm", &mapped) > 0);
        let container = super::container_image();
        let net = img::CKPT_NS_NET | img::CKPT_NS_LO_UP;
        let own_net = |p: &[u8]| u32::from_ne_bytes(p[..4].try_into().unwrap()) & net == net;
        assert!(hits(&container, img::rec::UTS_NS, "UTS_NS.flags", &own_net) > 0);
    }

    #[test]
    fn the_streams_read_back() {
        use ckptlib::stream::{Frame, Reader};
        let image = super::image();
        let streams = super::streams(&image, 8192);
        assert_eq!(streams.len(), 6);
        for (name, s) in &streams {
            assert!(s.len() <= 8192, "{name}: {} bytes", s.len());
            let mut r = Reader::new(&s[..]).unwrap();
            if name.starts_with("data-") {
                let mut out = Vec::new();
                let n = r.image_into(&mut out).unwrap();
                assert!(n > 6000 && image.starts_with(&out), "{name}: {n} bytes");
            } else if *name == "error" {
                assert!(r.frame().is_ok());
                let Frame::Error(e) = r.frame().unwrap() else {
                    panic!("{name}")
                };
                assert!(e.starts_with("pid 4242 fd 3:"));
            } else {
                while r.frame().is_ok() {}
            }
            assert_eq!(r.bytes_on_wire(), s.len() as u64, "{name}: read whole");
        }
    }

    #[test]
    fn the_image_reads_and_scans() {
        let bytes = super::image();
        let image = scan(&mut RecordReader::new(Cursor::new(&bytes[..]))).unwrap();
        assert_eq!(image.tree[0].pid, super::PID);
        let t = image.tasks[0].as_ref().unwrap();
        assert!(t.owns_mm);
        assert_eq!(t.pending.len(), 1);
        let timers = t.timers.as_ref().unwrap();
        assert_eq!((timers.posix.len(), timers.posix[1].tid), (2, super::PID));
        assert_eq!(
            (timers.posix[0].clock, timers.virt.value_ns),
            (-6, 3_000_000)
        );
        assert_eq!(image.unix[&4].queue, [b"pong!".to_vec()]);
        assert_eq!(image.unix[&3].sock.peer, 4);
        let mut rd = RecordReader::new(&bytes[..]);
        let mut rd = ImageReader::new(&mut rd);
        let mut kinds = Vec::new();
        while let Some(r) = rd.next_record().unwrap() {
            kinds.push(serde_json::to_value(Decoded::from(&r)).unwrap()["type"].clone());
        }
        assert_eq!(kinds.len(), 77);
        assert_eq!(kinds[3], "TASK_ATTRS");
        assert_eq!(
            (&kinds[10], &kinds[11]),
            (&"ITIMERS".into(), &"POSIX_TIMER".into())
        );
        assert_eq!(kinds[16], "UNIX_SOCK");
        assert_eq!(kinds[17], "SKB");
        assert_eq!(
            (&kinds[22], &kinds[24], &kinds[26]),
            (&"EVENTFD".into(), &"TIMERFD".into(), &"SIGNALFD".into())
        );
        assert_eq!(
            (&kinds[28], &kinds[30], &kinds[73]),
            (&"INET_SOCK".into(), &"FOWN".into(), &"PAGES".into())
        );
        let new: Vec<_> = kinds[31..48].iter().map(|k| k.as_str().unwrap()).collect();
        assert_eq!(
            new,
            [
                "EPOLL",
                "FILE",
                "PIPE",
                "FILE",
                "DELETED",
                "FILE_DATA",
                "FILE_DATA",
                "FILE",
                "MEMFD",
                "FILE_DATA",
                "FILE",
                "INET_SOCK",
                "FILE",
                "INOTIFY",
                "INOTIFY_WATCH",
                "INOTIFY_WATCH",
                "FILE"
            ]
        );
        let fds: Vec<_> = kinds[48..66].iter().map(|k| k.as_str().unwrap()).collect();
        assert_eq!(
            fds,
            [
                "PIPE",
                "FILE",
                "UNIX_SOCK",
                "SKB",
                "SKB_FDS",
                "FILE",
                "UNIX_SOCK",
                "FILE",
                "UNIX_SOCK",
                "UNIX_SOCK",
                "SKB",
                "FILE",
                "UNIX_SOCK",
                "FILE",
                "REMOVED_DIR",
                "FILE",
                "FILE",
                "MEMFD"
            ]
        );
        assert_eq!(
            (&kinds[66], &kinds[67]),
            (&"FILE_DATA".into(), &"XSTATE".into())
        );
        assert_eq!(image.inotify[&17].watches[1].wd, 3);
        assert_eq!(image.anonfds.len(), 3);
        assert_eq!(image.fowns[&8].rec.signum, libc::SIGRTMIN() + 1);
        assert_eq!(image.inet[&8].port, 6379);
        assert_eq!(image.inet[&16].sock_type, libc::SOCK_DGRAM as u32);
        assert_eq!(image.epolls[&9].items[0].tfd, 6);
        assert_eq!(image.pipes[&11].data, b"f");
        let gone = &image.deleted[&13];
        assert_eq!(
            (gone.data.len(), gone.data[1].0, gone.data_len()),
            (2, 8192, 10)
        );
        let m = image.deleted[&15].memfd.as_ref().unwrap();
        assert_eq!(m.name, "synth");
        // The memfd only an area maps: named by the VMA's shm, no FILE has it.
        let mapped = &image.deleted[&super::MAPPED_MEMFD];
        assert_eq!(mapped.memfd.as_ref().unwrap().name, "synth-map");
        assert_eq!(
            t.memory.mapped,
            [(
                super::MAPPED_MEMFD,
                "/memfd:synth-map (deleted)".to_string()
            )]
        );
        let v = &t.memory.areas[2];
        assert_eq!(
            (v.kind, v.shm, v.prot),
            (img::vma_kind::FILE_SHARED, super::MAPPED_MEMFD, 3)
        );
        assert!(t
            .files
            .as_ref()
            .unwrap()
            .iter()
            .all(|f| f.rec.obj != super::MAPPED_MEMFD));
        let files = t.files.as_ref().unwrap();
        let kinds: Vec<u32> = files[files.len() - 12..files.len() - 4]
            .iter()
            .map(|f| f.rec.kind)
            .collect();
        assert_eq!(kinds, [9, 11, 13, 12, 10, 14, 8, 8]);
        // The removed directory: one object, two descriptions.
        let rmdir: Vec<_> = files[files.len() - 2..]
            .iter()
            .map(|f| (f.rec.fd, f.rec.kind, f.rec.obj, f.rec.pipe, &f.path[..]))
            .collect();
        assert_eq!(
            rmdir,
            [
                (20, 15, 25, 26, "/tmp/synth.rmdir"),
                (21, 15, 27, 26, "/tmp/synth.rmdir")
            ]
        );
        assert_eq!(
            image.removed_dirs[&26],
            ckptlib::restart::RemovedDir {
                mode: 0o751,
                uid: 65534,
                gid: 65534
            }
        );
        // The pipe end in flight is no descriptor's: a description of its own.
        assert_eq!(image.flights.len(), 1);
        assert_eq!(
            image.flights[0].rec.fd,
            ckptlib::abi::image::CKPT_FD_IN_FLIGHT
        );
        assert_eq!(image.unix[&19].fds, [vec![18, 1]]);
        assert!(image.unix[&20].fds.is_empty());
        // The connection not accepted yet, in its listener's backlog.
        let embryos = ckptlib::unix::embryos_of(&image.unix, 22);
        assert_eq!(embryos.len(), 1);
        assert_eq!(
            (embryos[0].sock.peer, &embryos[0].queue),
            (24, &vec![b"hi".to_vec()])
        );
    }
}
