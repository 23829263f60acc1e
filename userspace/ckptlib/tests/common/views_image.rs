// SPDX-License-Identifier: GPL-2.0

//! A known image for the tests of `ckpt show`'s views (ckptlib/tests/views.rs and
//! ckpt/tests/show_views.rs), built with `RecordWriter`:
//!
//! - 100 `parent` (uid 1000), with a thread 101: fd 0 `/dev/null`, fd 3 the read end of
//!   pipe 1 (5 bytes queued), fd 5 `/tmp/data` at offset 1234 (description 3, shared with
//!   102 by fork), fd 6 a unix stream socket 7 connected to 8 with 6 bytes queued; memory:
//!   an anonymous area 0x10000-0x20000 (16 pages, 3 saved in two runs) and `/bin/true`
//!   at 0x400000-0x402000 (none saved);
//! - 102 `child` of 100, stopped: fd 3 the write end of pipe 1, fd 5 the same description
//!   of `/tmp/data`, fd 6 socket 8; an anonymous area 0x10000-0x14000, 4 pages saved;
//! - 103 `vmchild` of 100, sharing 100's memory and descriptor table (`CLONE_VM |
//!   CLONE_FILES`);
//! - 104, a zombie child of 102 that exited with status 1.
//!
//! [`failed`] is the same checkpoint failing in 102's records (an `ERROR` record after its
//! `CREDS`); [`complete`] cut anywhere is a truncated one.

#![allow(dead_code)]

use zerocopy::{FromZeros, IntoBytes};

use ckptlib::abi::image::{self as img, file_kind, rec, vma_kind};
use ckptlib::abi::CKPT_IMAGE_VERSION;
use ckptlib::image::RecordWriter;

pub const PARENT: i32 = 100;
pub const THREAD: i32 = 101;
pub const CHILD: i32 = 102;
pub const VMCHILD: i32 = 103;
pub const ZOMBIE: i32 = 104;
pub const REASON: &str = "task 102: fd 9: a socket of family 16 (netlink): not supported yet";

type Raw = (u32, Vec<u8>);

fn raw<T: IntoBytes + zerocopy::Immutable>(kind: u32, v: &T, rest: &[u8]) -> Raw {
    (kind, [v.as_bytes(), rest].concat())
}

fn entry(pid: i32, tgid: i32, ppid: i32, ids: [u32; 4], flags: u32) -> img::CkptTreeEntry {
    let mut e = img::CkptTreeEntry::new_zeroed();
    (e.pid, e.tgid, e.ppid, e.pgid, e.sid) = (pid, tgid, ppid, PARENT, PARENT);
    e.exit_signal = if pid == tgid { 17 } else { -1 };
    [e.mm, e.files, e.fs, e.sighand] = ids;
    e.flags = flags;
    e
}

/// TASK to SIGNALS of a task; `fs`, `sighand`: whether it is the first with them.
fn task(pid: i32, tgid: i32, ppid: i32, comm: &[u8], fs: bool, sighand: bool) -> Vec<Raw> {
    let mut t = img::CkptTaskRec::new_zeroed();
    (t.pid, t.tgid, t.ppid, t.pgid, t.sid) = (pid, tgid, ppid, PARENT, PARENT);
    t.dumpable = 1;
    t.comm[..comm.len()].copy_from_slice(comm);
    let mut a = img::CkptTaskAttrsRec::new_zeroed();
    (a.nr_cpus, a.cpus_words) = (64, 1);
    let mut c = img::CkptCredsRec::new_zeroed();
    (c.uid, c.euid, c.suid, c.fsuid) = (1000, 1000, 1000, 1000);
    (c.gid, c.egid, c.sgid, c.fsgid) = (100, 100, 100, 100);
    let mut out = vec![
        raw(rec::TASK, &t, &[]),
        raw(rec::TASK_ATTRS, &a, 3u64.as_bytes()),
        raw(rec::CREDS, &c, &[]),
        raw(rec::RLIMITS, &img::CkptRlimitsRec::new_zeroed(), &[]),
    ];
    if fs {
        let fs = img::CkptFsRec {
            root_len: 1,
            cwd_len: 4,
            flags: 0,
            cwd_mode: 0,
            cwd_uid: 0,
            cwd_gid: 0,
        };
        out.push(raw(rec::FS, &fs, b"//tmp"));
    }
    if sighand {
        out.push(raw(rec::SIGHAND, &img::CkptSighandRec::new_zeroed(), &[]));
    }
    out.push(raw(rec::SIGNALS, &img::CkptSignalsRec::new_zeroed(), &[]));
    out
}

fn file(fd: i32, kind: u32, flags: i32, obj: u32, pipe: u32, pos: i64, path: &[u8]) -> Raw {
    let mut f = img::CkptFileRec::new_zeroed();
    (f.fd, f.kind, f.flags, f.obj, f.pipe, f.pos) = (fd, kind, flags as u32, obj, pipe, pos);
    f.path_len = path.len() as u32;
    raw(rec::FILE, &f, path)
}

fn unix(id: u32, peer: u32, queued: &[u8]) -> Vec<Raw> {
    let mut u = img::CkptUnixSockRec::new_zeroed();
    (u.id, u.peer, u.sock_type) = (id, peer, libc::SOCK_STREAM as u32);
    u.state = img::unix_state::CONNECTED;
    u.nr_skbs = u32::from(!queued.is_empty());
    let mut out = vec![raw(rec::UNIX_SOCK, &u, &[])];
    if !queued.is_empty() {
        let skb = img::CkptSkbRec {
            len: queued.len() as u32,
            __reserved: 0,
        };
        out.push(raw(rec::SKB, &skb, queued));
    }
    out
}

fn xstate() -> Raw {
    let x = img::CkptXstateRec {
        xstate_bv: 3,
        size: 576,
        __reserved: 0,
    };
    raw(rec::XSTATE, &x, &[0; 576])
}

fn regs() -> Raw {
    raw(rec::REGS, &img::CkptRegsRec::new_zeroed(), &[])
}

/// MM, its VMAs (start, end, kind, prot, path) and PAGES runs (address, pages).
fn memory(areas: &[(u64, u64, u32, u32, &[u8])], runs: &[(u64, u32)]) -> Vec<Raw> {
    let mut m = img::CkptMmRec::new_zeroed();
    (m.nr_vmas, m.exe_vma) = (areas.len() as u32, img::CKPT_NO_EXE);
    let mut out = vec![raw(rec::MM, &m, &[])];
    for &(start, end, kind, prot, path) in areas {
        let mut v = img::CkptVmaRec::new_zeroed();
        (v.start, v.end, v.kind, v.prot) = (start, end, kind, prot);
        v.path_len = path.len() as u32;
        out.push(raw(rec::VMA, &v, path));
    }
    for &(addr, n) in runs {
        let pg = img::CkptPagesRec {
            addr,
            nr_pages: n,
            __reserved: 0,
        };
        out.push(raw(rec::PAGES, &pg, &vec![0x5a; n as usize * 4096]));
    }
    out
}

/// The records before the `TAIL`; `fail`: the checkpoint fails after 102's `CREDS`.
fn records(fail: bool) -> Vec<Raw> {
    let mut h = img::CkptHeaderRec::new_zeroed();
    h.magic = img::CKPT_IMAGE_MAGIC;
    h.image_version = CKPT_IMAGE_VERSION;
    (h.arch, h.page_size, h.xsave_size) = (img::CKPT_ARCH_X86_64, img::CKPT_PAGE_SIZE, 576);
    (h.xfeatures, h.nr_tasks, h.time_ns) = (7, 5, 1_700_000_000_000_000_000);
    h.kernel_release[..11].copy_from_slice(b"6.12.0-test");
    let entries = [
        entry(PARENT, PARENT, 1, [1, 1, 1, 1], 0),
        entry(THREAD, PARENT, 1, [1, 1, 1, 1], 0),
        entry(CHILD, CHILD, PARENT, [2, 2, 2, 2], img::CKPT_TASK_STOPPED),
        entry(VMCHILD, VMCHILD, PARENT, [1, 1, 1, 3], 0),
        {
            let mut z = entry(ZOMBIE, ZOMBIE, CHILD, [0; 4], img::CKPT_TASK_ZOMBIE);
            z.exit_code = 0x100;
            z
        },
    ];
    let mut out = vec![
        raw(rec::HEADER, &h, &[]),
        raw(
            rec::TREE,
            &img::CkptTreeRec { nr: 5, flags: 0 },
            entries.as_bytes(),
        ),
    ];

    out.extend(task(PARENT, PARENT, 1, b"parent", true, true));
    let pipe = img::CkptPipeRec {
        id: 1,
        capacity: 65536,
        len: 5,
        __reserved: 0,
    };
    out.push(raw(rec::PIPE, &pipe, b"hello"));
    out.push(file(
        0,
        file_kind::CHARDEV,
        libc::O_RDWR,
        1,
        0,
        0,
        b"/dev/null",
    ));
    out.push(file(3, file_kind::PIPE, libc::O_RDONLY, 2, 1, 0, b""));
    out.push(file(
        5,
        file_kind::REGULAR,
        libc::O_RDWR,
        3,
        0,
        1234,
        b"/tmp/data",
    ));
    out.extend(unix(7, 8, b"abcdef"));
    out.push(file(6, file_kind::UNIX_SOCKET, libc::O_RDWR, 4, 7, 0, b""));
    out.push(xstate());
    out.extend(memory(
        &[
            (0x10000, 0x20000, vma_kind::ANON_PRIVATE, 3, b""),
            (0x400000, 0x402000, vma_kind::FILE_PRIVATE, 5, b"/bin/true"),
        ],
        &[(0x10000, 2), (0x15000, 1)],
    ));
    out.push(regs());

    out.extend(task(THREAD, PARENT, 1, b"parent", false, false));
    out.push(xstate());
    out.push(regs());

    let child = task(CHILD, CHILD, PARENT, b"child", true, true);
    if fail {
        out.extend(child.into_iter().take(3));
        let e = img::CkptErrorRec {
            error: libc::EOPNOTSUPP,
            len: REASON.len() as u32,
        };
        out.push(raw(rec::ERROR, &e, REASON.as_bytes()));
        return out;
    }
    out.extend(child);
    out.extend(unix(8, 7, b""));
    out.push(file(3, file_kind::PIPE, libc::O_WRONLY, 5, 1, 0, b""));
    out.push(file(
        5,
        file_kind::REGULAR,
        libc::O_RDWR,
        3,
        0,
        1234,
        b"/tmp/data",
    ));
    out.push(file(6, file_kind::UNIX_SOCKET, libc::O_RDWR, 6, 8, 0, b""));
    out.push(xstate());
    out.extend(memory(
        &[(0x10000, 0x14000, vma_kind::ANON_PRIVATE, 3, b"")],
        &[(0x10000, 4)],
    ));
    out.push(regs());

    out.extend(task(VMCHILD, VMCHILD, PARENT, b"vmchild", false, true));
    out.push(xstate());
    out.push(regs());
    out
}

fn write(records: &[Raw], tail: bool) -> Vec<u8> {
    let mut w = RecordWriter::new(Vec::new());
    for (k, p) in records {
        w.write(*k, &[p]).unwrap();
    }
    if tail {
        let t = img::CkptTailRec {
            magic: img::CKPT_TAIL_MAGIC,
            nr_records: records.len() as u64,
        };
        w.write(rec::TAIL, &[t.as_bytes()]).unwrap();
    }
    w.into_inner()
}

/// The complete image.
pub fn complete() -> Vec<u8> {
    write(&records(false), true)
}

/// The image of the checkpoint failing in 102's records.
pub fn failed() -> Vec<u8> {
    write(&records(true), false)
}

/// Offset and index of the `nth` record of type `kind` in `bytes`.
pub fn find(bytes: &[u8], kind: u32, nth: usize) -> (usize, usize) {
    let (mut at, mut i, mut seen) = (0, 0, 0);
    while at < bytes.len() {
        let k = u32::from_ne_bytes(bytes[at..at + 4].try_into().unwrap());
        let len = u32::from_ne_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        if k == kind {
            if seen == nth {
                return (at, i);
            }
            seen += 1;
        }
        at += 8 + len + img::record_pad(len);
        i += 1;
    }
    panic!("no record {kind} number {nth}")
}
