// SPDX-License-Identifier: GPL-2.0

//! SysV IPC of a container's IPC namespace: its shared memory segments, message queues and
//! semaphore sets, its POSIX message queues, and its limits.
//!
//! Saved from the kernel's own objects (`sys::ipc`), with every kind's ids held still while
//! they are written: the `IPC_NS` record, then each segment (`SYSV_SHM` and the
//! `FILE_DATA` of its contents), each queue (`SYSV_MSQ` and its messages, `SYSV_MSG`) and
//! each set (`SYSV_SEM` with its values), in the order of their ids, then each POSIX queue
//! (`MQUEUE` and its messages, `MQ_MSG`), right after the `UTS_NS` record. `rstr` makes them again in the container's new IPC namespace with the
//! same ids (`kernel.*_next_id`) before any task of it runs, and the restart ioctl attaches
//! the segments where the tasks had them ([`crate::memory`]).
//!
//! Each segment's attaches are counted as the tasks' memories are saved: a segment
//! attached more often than by the tree's own areas is attached by a process outside the
//! container, which the checkpoint refuses ([`Attaches::check`]).

use kernel::alloc::KVVec;
use kernel::prelude::*;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::deleted::{save_data, Budget, Named, Place};
use crate::error::{refuse, CkptResult, Context};
use crate::files::show;
use crate::image::ImageWriter;
use crate::objects::Objects;
use crate::sys::{
    self,
    file::FileRef,
    ipc::{IpcNs, Kind, Mq, Object},
    mm::vm,
    task::{current, OpenFd, TaskRef},
};
use crate::tree::Member;
use crate::uapi::image::{self as img, file_kind, rec};
use crate::uapi::{CkptShmAt, CKPT_RESTART_MAX_SHM_AT};

/// The bits of a segment's mode that `IPC_STAT` shows: its permissions, [`img::CKPT_SHM_DEST`]
/// and [`img::CKPT_SHM_LOCKED`].
const SHM_MODE: u32 = 0o777 | img::CKPT_SHM_DEST | img::CKPT_SHM_LOCKED;

/// How often a queue is read again when a process outside the tree changed it meanwhile.
const MSQ_TRIES: u32 = 16;

/// The most bytes of one queue's copy (its messages, each with its record header), made
/// under the queue's spinlock: the copy is short, its buffer an allocation that succeeds.
const MSQ_COPY_MAX: usize = 64 << 20;

/// A segment saved, and its attaches: `nattch` when it was saved, `seen` in the tree's
/// memories since.
struct Segment {
    /// The address of the segment's file: what an attach names ([`crate::sys::ipc::attach_segment`]).
    file: u64,
    id: i32,
    key: i32,
    obj: u32,
    size: u64,
    nattch: u32,
    seen: u32,
}

/// The segments of a container's IPC namespace, by the address of their file.
pub(crate) struct Attaches(KVec<Segment>);

impl Attaches {
    pub(crate) fn new() -> Self {
        Attaches(KVec::new())
    }

    /// The `SYSV_SHM` object that an attach of the segment whose file is at `file` names,
    /// and the segment's size, counting the attach; `None` for a segment not saved (not of
    /// the container).
    pub(crate) fn attach(&mut self, file: u64) -> Option<(u32, u64)> {
        let s = self.0.iter_mut().find(|s| s.file == file)?;
        s.seen += 1;
        Some((s.obj, s.size))
    }

    /// Every attach of every segment is one of the tree's: one the tree does not have is a
    /// process outside the container's, which a restart would not give back.
    pub(crate) fn check(&self) -> CkptResult {
        if let Some(s) = self.0.iter().find(|s| s.seen != s.nattch) {
            refuse!(
                EOPNOTSUPP,
                "SysV shared memory segment {} (key {:#x}) has {} attaches, {} of them by the \
                 container's processes: a process outside the container has it attached",
                s.id,
                s.key,
                s.nattch,
                s.seen
            );
        }
        Ok(())
    }
}

/// The `IPC_NS` record of the container whose init is `init` and its SysV objects.
pub(crate) fn checkpoint(
    init: &TaskRef,
    owners: &UndoOwners,
    objs: &mut Objects,
    w: &mut ImageWriter,
) -> CkptResult {
    let ns = IpcNs::of(init).context(fmt!("the container's init"))?;
    // Every kind held at once: the counts of the IPC_NS record stay true while the objects
    // are written.
    let mut shm = ns.ids(Kind::Shm)?;
    let mut msg = ns.ids(Kind::Msg)?;
    let mut sem = ns.ids(Kind::Sem)?;
    let mut mq = ns.mqueues()?;
    let mut r = ns.limits();
    r.nr_shm = count(|| shm.next_object().is_some());
    r.nr_msq = count(|| msg.next_object().is_some());
    r.nr_sem = count(|| sem.next_object().is_some());
    r.nr_mq = count(|| mq.next_queue().is_some());
    if r.nr_mq > img::CKPT_MQ_QUEUES_MAX {
        refuse!(
            EOPNOTSUPP,
            "the container's IPC namespace holds {} POSIX message queues, an image at most {}",
            r.nr_mq,
            img::CKPT_MQ_QUEUES_MAX
        );
    }
    w.fixed(rec::IPC_NS, &r)?;
    shm.rewind();
    msg.rewind();
    sem.rewind();
    mq.rewind();
    while let Some(o) = shm.next_object() {
        save_shm(&o, objs, w)?;
    }
    drop(shm);
    let mut buf = KVVec::new();
    while let Some(o) = msg.next_object() {
        save_msq(&o, &mut buf, w)?;
    }
    drop(msg);
    let mut vals = KVVec::new();
    while let Some(o) = sem.next_object() {
        save_sem(&o, owners, &mut vals, w)?;
    }
    drop(sem);
    while let Some(q) = mq.next_queue() {
        save_mq(&q, &mut buf, w)?;
    }
    Ok(())
}

/// The `FILE` record of descriptor `o` of `task`, a POSIX message queue's: one of the
/// container's own IPC namespace (`ipc`; `None` for a tree whose namespace is the
/// caller's), still linked, which `rstr` opens again by its name (the record's path).
pub(crate) fn checkpoint_fd(
    task: &TaskRef,
    ipc: Option<&IpcNs>,
    w: &mut ImageWriter,
    o: &mut OpenFd,
) -> CkptResult {
    let fd = o.fd;
    let file = task.file(fd).context(fmt!("fd {fd}"))?;
    let name = match IpcNs::file_mq(ipc, &file) {
        Some(Ok(name)) => name,
        Some(Err(e)) if e == EXDEV => refuse!(
            EOPNOTSUPP,
            "fd {fd}: POSIX message queue of an IPC namespace not saved with the tree: only a \
             container's own (ckpt --container) is saved"
        ),
        Some(Err(_)) => refuse!(
            EOPNOTSUPP,
            "fd {fd}: POSIX message queue unlinked (mq_unlink) while open: not supported yet"
        ),
        None => refuse!(EINVAL, "fd {fd}: not a POSIX message queue"),
    };
    let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
    o.rec.kind = file_kind::MQUEUE;
    o.rec.pos = 0;
    o.rec.path_len = name.len() as u32;
    w.record(rec::FILE, &[o.rec.as_bytes(), name])
}

/// Counts while `more()`.
fn count(mut more: impl FnMut() -> bool) -> u32 {
    let mut n = 0;
    while more() {
        n += 1;
    }
    n
}

/// The permission bits, and for a segment `extra` too: the only bits a mode may have.
fn check_mode(what: &str, p: &img::CkptIpcPerm, allowed: u32) -> CkptResult {
    if p.mode & !allowed != 0 {
        refuse!(
            EOPNOTSUPP,
            "SysV {what} {} (key {:#x}): mode {:#o} has bits this module does not know",
            p.id,
            p.key,
            p.mode
        );
    }
    Ok(())
}

/// A segment's `SYSV_SHM` and `FILE_DATA` records.
fn save_shm(o: &Object<'_>, objs: &mut Objects, w: &mut ImageWriter) -> CkptResult {
    let perm = o.perm();
    let what = "shared memory segment";
    check_mode(what, &perm, SHM_MODE)?;
    let (facts, file) = o.shm()?;
    if facts.hugetlb != 0 {
        refuse!(
            EOPNOTSUPP,
            "SysV {what} {} (key {:#x}): hugetlb (SHM_HUGETLB): not supported yet",
            perm.id,
            perm.key
        );
    }
    let Ok(size) = i64::try_from(facts.size) else {
        refuse!(
            EOPNOTSUPP,
            "SysV {what} {}: size {} out of range",
            perm.id,
            facts.size
        );
    };
    let addr = file.raw() as u64;
    let obj = objs.id(addr)?;
    objs.first_save(addr);
    let r = img::CkptSysvShmRec {
        perm,
        size: facts.size,
        obj,
        nattch: facts.nattch,
    };
    w.fixed(rec::SYSV_SHM, &r)?;
    let named = Named {
        at: Place::Segment(perm.id),
        what,
        path: b"",
    };
    save_data(&file, obj, size, w, &mut Budget::unlimited(), &named)?;
    objs.segments.0.push(
        Segment {
            file: addr,
            id: perm.id,
            key: perm.key,
            obj,
            size: facts.size,
            nattch: facts.nattch,
            seen: 0,
        },
        GFP_KERNEL_ACCOUNT,
    )?;
    Ok(())
}

/// A queue, as the refusals name it.
enum QueueName<'a> {
    Sysv(&'a img::CkptIpcPerm),
    Posix(&'a [u8]),
}

impl kernel::fmt::Display for QueueName<'_> {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        match self {
            QueueName::Sysv(p) => write!(f, "SysV message queue {} (key {:#x})", p.id, p.key),
            QueueName::Posix(n) => write!(f, "POSIX message queue {}", show(n)),
        }
    }
}

/// Copies a queue's messages into `buf`, under the queue's lock: `look` says how many it
/// has and their bytes, `copy` copies that many, each text after a header of `hdr` bytes
/// and padded to 8, or fails with `EAGAIN` when the queue changed since `look`; tried again
/// then, at most [`MSQ_TRIES`] times. Returns what `look` said last and the bytes copied.
fn copy_messages<F>(
    name: QueueName<'_>,
    hdr: usize,
    buf: &mut KVVec<u8>,
    mut look: impl FnMut() -> (F, u64, u64),
    mut copy: impl FnMut(&mut [u8], u64) -> Result<usize>,
) -> CkptResult<(F, usize)> {
    let mut tries = 0;
    loop {
        let (facts, n, bytes) = look();
        let need = n
            .checked_mul(hdr as u64 + 7)
            .and_then(|h| h.checked_add(bytes))
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= MSQ_COPY_MAX);
        let Some(need) = need else {
            refuse!(
                EOPNOTSUPP,
                "{name}: {n} messages of {bytes} bytes: a checkpoint copies at most {} MiB of \
                 one queue",
                MSQ_COPY_MAX >> 20
            );
        };
        buf.clear();
        buf.resize(need, 0, GFP_KERNEL_ACCOUNT)?;
        match copy(buf, n) {
            Ok(used) => return Ok((facts, used)),
            Err(e) if e == EAGAIN => {}
            Err(e) => return Err(e.into()),
        }
        tries += 1;
        if tries == MSQ_TRIES || current::fatal_signal_pending() {
            refuse!(
                EAGAIN,
                "{name}: a process outside the container keeps changing it"
            );
        }
    }
}

/// A queue's `SYSV_MSQ` and `SYSV_MSG` records; `buf` is scratch.
fn save_msq(o: &Object<'_>, buf: &mut KVVec<u8>, w: &mut ImageWriter) -> CkptResult {
    let perm = o.perm();
    check_mode("message queue", &perm, 0o777)?;
    let f = o.msq();
    if f.longest > u64::from(img::CKPT_SYSV_MSG_MAX) || f.qnum > u64::from(img::CKPT_SYSV_MSGS_MAX)
    {
        refuse!(
            EOPNOTSUPP,
            "SysV message queue {} (key {:#x}): {} messages, the longest of {} bytes: an image \
             holds at most {} messages of at most {} bytes per queue",
            perm.id,
            perm.key,
            f.qnum,
            f.longest,
            img::CKPT_SYSV_MSGS_MAX,
            img::CKPT_SYSV_MSG_MAX
        );
    }
    let (facts, used) = copy_messages(
        QueueName::Sysv(&perm),
        size_of::<img::CkptSysvMsgRec>(),
        buf,
        || {
            let f = o.msq();
            let (n, bytes) = (f.qnum, f.cbytes);
            (f, n, bytes)
        },
        |b, n| o.msq_copy(b, n),
    )?;
    let r = img::CkptSysvMsqRec {
        perm,
        qbytes: facts.qbytes,
        nr_msgs: facts.qnum as u32,
        __reserved: 0,
    };
    w.fixed(rec::SYSV_MSQ, &r)?;
    each_message(
        QueueName::Sysv(&perm),
        &buf[..used],
        facts.qnum,
        img::CKPT_SYSV_MSG_MAX,
        |h: &img::CkptSysvMsgRec| h.len,
        |h, text| w.record(rec::SYSV_MSG, &[h.as_bytes(), text]),
    )
}

/// Hands each of the `n` messages a queue's copy `buf` holds to `f`: its header `H` (whose
/// text's length `len` reads, at most `max`) and its text.
fn each_message<H: FromBytes + KnownLayout + Immutable>(
    name: QueueName<'_>,
    buf: &[u8],
    n: u64,
    max: u32,
    len: impl Fn(&H) -> u32,
    mut f: impl FnMut(&H, &[u8]) -> CkptResult,
) -> CkptResult {
    let hdr = size_of::<H>();
    let mut at = 0;
    for _ in 0..n {
        let Some((h, _)) = buf.get(at..).and_then(|b| H::read_from_prefix(b).ok()) else {
            refuse!(EINVAL, "{name}: its copy ends early");
        };
        let l = len(&h);
        if l > max {
            refuse!(
                EOPNOTSUPP,
                "{name}: a message of {l} bytes: an image holds messages of at most {max} bytes"
            );
        }
        let l = l as usize;
        let Some(text) = buf.get(at + hdr..at + hdr + l) else {
            refuse!(EINVAL, "{name}: its copy ends early");
        };
        f(&h, text)?;
        at += hdr + l.next_multiple_of(8);
    }
    Ok(())
}

/// A POSIX queue's `MQUEUE` and `MQ_MSG` records; `buf` is scratch.
fn save_mq(q: &Mq, buf: &mut KVVec<u8>, w: &mut ImageWriter) -> CkptResult {
    let (f, name) = q.facts();
    let name = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
    let what = QueueName::Posix(name);
    if f.notify != 0 {
        refuse!(
            EOPNOTSUPP,
            "{what}: a process is registered for its notification (mq_notify): not supported yet"
        );
    }
    if f.mode & 0o7000 != 0 {
        refuse!(
            EOPNOTSUPP,
            "{what}: mode {:#o} has bits this module does not know",
            f.mode & 0o7777
        );
    }
    let (facts, used) = copy_messages(
        QueueName::Posix(name),
        size_of::<img::CkptMqMsgRec>(),
        buf,
        || {
            let (f, _) = q.facts();
            let (n, bytes) = (f.curmsgs, f.bytes);
            (f, n, bytes)
        },
        |b, n| q.copy(b, n),
    )?;
    if facts.notify != 0
        || facts.maxmsg > u64::from(img::CKPT_MQ_MAXMSG_MAX)
        || facts.msgsize > u64::from(img::CKPT_MQ_MSGSIZE_MAX)
        || facts.curmsgs > facts.maxmsg
    {
        let notified = if facts.notify != 0 {
            ", a notification registered"
        } else {
            ""
        };
        refuse!(
            EOPNOTSUPP,
            "{what}: maxmsg {}, msgsize {}, {} messages{notified}: not what an image holds",
            facts.maxmsg,
            facts.msgsize,
            facts.curmsgs
        );
    }
    let r = img::CkptMqueueRec {
        maxmsg: facts.maxmsg,
        msgsize: facts.msgsize,
        uid: facts.uid,
        gid: facts.gid,
        mode: facts.mode & 0o777,
        name_len: name.len() as u32,
        nr_msgs: facts.curmsgs as u32,
        __reserved: 0,
    };
    w.record(rec::MQUEUE, &[r.as_bytes(), name])?;
    let max = u32::try_from(facts.msgsize).unwrap_or(u32::MAX);
    each_message(
        QueueName::Posix(name),
        &buf[..used],
        facts.curmsgs,
        max,
        |h: &img::CkptMqMsgRec| h.len,
        |h, text| w.record(rec::MQ_MSG, &[h.as_bytes(), text]),
    )
}

/// The processes of the tree with SysV undo adjustments: the identity of each one's undo
/// list ([`sys::ipc::undo_list`]) and its pid in the image.
pub(crate) struct UndoOwners(KVec<(u64, i32)>);

impl UndoOwners {
    /// The lists of `members` that hold adjustments: each a process's, shared by its threads
    /// (`CLONE_SYSVSEM`, as `pthread_create` makes them), as the restart makes it again.
    pub(crate) fn of(members: &[Member]) -> CkptResult<UndoOwners> {
        let mut out = KVec::new();
        let live = || members.iter().filter(|m| m.info.zombie == 0);
        for m in live() {
            let ulp = sys::ipc::undo_list(&m.task);
            if ulp == 0 {
                continue;
            }
            let (pid, tgid) = (m.entry.pid, m.entry.tgid);
            if pid != tgid {
                let leader = live().find(|l| l.entry.pid == tgid);
                if leader.is_none_or(|l| sys::ipc::undo_list(&l.task) != ulp) {
                    refuse!(
                        EOPNOTSUPP,
                        "pid {pid}, a thread of {tgid}, has SysV undo adjustments (SEM_UNDO) \
                         of its own (made without CLONE_SYSVSEM): not supported yet"
                    );
                }
                continue;
            }
            if let Some(&(_, other)) = out.iter().find(|(u, _)| *u == ulp) {
                refuse!(
                    EOPNOTSUPP,
                    "pids {other} and {pid} share their SysV undo adjustments (SEM_UNDO, \
                     clone(CLONE_SYSVSEM) without CLONE_THREAD): not supported yet"
                );
            }
            out.push((ulp, pid), GFP_KERNEL_ACCOUNT)?;
        }
        Ok(UndoOwners(out))
    }

    fn pid(&self, ulp: u64) -> Option<i32> {
        self.0.iter().find(|(u, _)| *u == ulp).map(|&(_, p)| p)
    }
}

/// A set's `SYSV_SEM` record and its `SEM_UNDO` records; `vals` is scratch.
fn save_sem(
    o: &Object<'_>,
    owners: &UndoOwners,
    vals: &mut KVVec<i32>,
    w: &mut ImageWriter,
) -> CkptResult {
    let perm = o.perm();
    check_mode("semaphore set", &perm, 0o777)?;
    let (nsems, undo) = o.sem_nsems();
    if nsems == 0 || nsems > img::CKPT_SYSV_SEMS_MAX {
        refuse!(
            EOPNOTSUPP,
            "SysV semaphore set {} (key {:#x}): {nsems} semaphores, an image holds 1 to {}",
            perm.id,
            perm.key,
            img::CKPT_SYSV_SEMS_MAX
        );
    }
    vals.clear();
    vals.resize(nsems as usize, 0, GFP_KERNEL_ACCOUNT)?;
    o.sem_values(vals)
        .context(fmt!("SysV semaphore set {}", perm.id))?;
    // Each undo entry's process and adjustments, `nsems` of them each in `adj`.
    let mut pids = KVec::new();
    let mut adj = KVVec::new();
    if undo {
        let mut one = KVVec::new();
        one.resize(nsems as usize, 0, GFP_KERNEL_ACCOUNT)?;
        // Each list has one entry per set at most: the tree's lists bound the walk.
        while let Some(ulp) = o.sem_undo(pids.len() as u32, &mut one)? {
            let Some(pid) = owners.pid(ulp) else {
                refuse!(
                    EOPNOTSUPP,
                    "SysV semaphore set {} (key {:#x}): a process outside the container has \
                     undo adjustments (SEM_UNDO) for it",
                    perm.id,
                    perm.key
                );
            };
            check_undo(&perm, pid, &one, vals)?;
            pids.push(pid, GFP_KERNEL_ACCOUNT)?;
            adj.extend_from_slice(&one, GFP_KERNEL_ACCOUNT)?;
            if pids.len() > owners.0.len() {
                refuse!(
                    EAGAIN,
                    "SysV semaphore set {}: its undo entries changed while it was read",
                    perm.id
                );
            }
        }
    }
    let r = img::CkptSysvSemRec {
        perm,
        nsems,
        nr_undo: pids.len() as u32,
    };
    w.record(rec::SYSV_SEM, &[r.as_bytes(), vals.as_slice().as_bytes()])?;
    for (pid, a) in pids.iter().zip(adj.chunks(nsems as usize)) {
        let u = img::CkptSemUndoRec { pid: *pid, nsems };
        w.record(rec::SEM_UNDO, &[u.as_bytes(), a.as_bytes()])?;
    }
    Ok(())
}

/// An undo entry `adj` of process `pid` for the set of values `vals`: each adjustment
/// within `SEMVMX` either way, and one the restart can make again: `rstr` raises the value
/// by the adjustment's size and lowers it back, one of the two with `SEM_UNDO`, which the
/// value must allow without passing `SEMVMX`.
fn check_undo(perm: &img::CkptIpcPerm, pid: i32, adj: &[i32], vals: &[i32]) -> CkptResult {
    for (k, (&a, &v)) in adj.iter().zip(vals).enumerate() {
        if a.unsigned_abs() > img::CKPT_SEMVMX as u32 || v + a.abs() > img::CKPT_SEMVMX {
            refuse!(
                EOPNOTSUPP,
                "SysV semaphore set {} (key {:#x}): semaphore {k} of value {v} and an undo \
                 adjustment of {a} by pid {pid}: making that adjustment again would pass \
                 SEMVMX ({})",
                perm.id,
                perm.key,
                img::CKPT_SEMVMX
            );
        }
    }
    Ok(())
}

// ---- Restart --------------------------------------------------------------------------

/// The caller's own attaches of the image's segments
/// ([`CkptRestartArgs::shm_at`](crate::uapi::CkptRestartArgs::shm_at)), read before its
/// memory is replaced: for each, the segment's object id, whether it is writable, and the
/// attach's file, through which the restart attaches the segment again.
pub(crate) struct ShmAt(KVec<(u32, bool, FileRef)>);

impl ShmAt {
    /// Reads the `nr` entries at `ptr`: each at the start of an attach of the caller's, at
    /// most one read-only and one writable per id.
    pub(crate) fn read(ptr: u64, nr: u32) -> CkptResult<ShmAt> {
        if nr > CKPT_RESTART_MAX_SHM_AT {
            refuse!(
                EINVAL,
                "{nr} SysV attaches, at most {CKPT_RESTART_MAX_SHM_AT}"
            );
        }
        let table: KVVec<CkptShmAt> = crate::memory::read_array(ptr, nr)?;
        let mut out = KVec::with_capacity(table.len(), GFP_KERNEL_ACCOUNT)?;
        if table.is_empty() {
            return Ok(ShmAt(out));
        }
        let Some(mm) = sys::mm::current::mm() else {
            refuse!(EINVAL, "the caller has no memory");
        };
        let mine = mm.vmas()?;
        for a in table.iter() {
            if a.id == 0 || a.__reserved != 0 {
                refuse!(
                    EINVAL,
                    "SysV attach at {:#x}: object id 0 or a reserved field not 0",
                    a.addr
                );
            }
            let file = mine
                .iter()
                .find(|v| v.rec.start == a.addr)
                .and_then(|v| v.file.as_ref())
                .filter(|f| f.is_sysv_shm());
            let Some(file) = file else {
                refuse!(
                    EINVAL,
                    "SysV attach of object {} at {:#x}: the caller has no SysV attach there",
                    a.id,
                    a.addr
                );
            };
            let writable = file.writable();
            let access = if writable { "writable" } else { "read-only" };
            if out.iter().any(|(id, w, _)| *id == a.id && *w == writable) {
                refuse!(
                    EINVAL,
                    "SysV attach of object {} at {:#x}: a second {access} attach of it",
                    a.id,
                    a.addr
                );
            }
            out.push((a.id, writable, file.clone_ref()), GFP_KERNEL_ACCOUNT)?;
        }
        Ok(ShmAt(out))
    }

    /// The attach's file through which area `r` (of kind `SYSV_SHM`) is attached: the
    /// caller's writable attach of its segment if the area may be made writable
    /// (`VM_MAYWRITE`), else its read-only one, as `shmat` with or without `SHM_RDONLY`.
    pub(crate) fn file(&self, r: &img::CkptVmaRec) -> CkptResult<FileRef> {
        let writable = r.vm_flags & vm::MAYWRITE != 0;
        let Some((_, _, f)) = self
            .0
            .iter()
            .find(|(id, w, _)| *id == r.shm && *w == writable)
        else {
            refuse!(
                EINVAL,
                "memory {:#x}-{:#x}: attaches SysV segment object {}, of which the caller gave \
                 no {} attach",
                r.start,
                r.end,
                r.shm,
                if writable { "writable" } else { "read-only" }
            );
        };
        Ok(f.clone_ref())
    }
}
