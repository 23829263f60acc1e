// SPDX-License-Identifier: GPL-2.0

//! SysV IPC of a container's IPC namespace: its shared memory segments, message queues and
//! semaphore sets, and its limits.
//!
//! Saved from the kernel's own objects (`sys::ipc`), with every kind's ids held still while
//! they are written: the `IPC_NS` record, then each segment (`SYSV_SHM` and the
//! `FILE_DATA` of its contents), each queue (`SYSV_MSQ` and its messages, `SYSV_MSG`) and
//! each set (`SYSV_SEM` with its values), in the order of their ids, right after the
//! `UTS_NS` record. `rstr` makes them again in the container's new IPC namespace with the
//! same ids (`kernel.*_next_id`) before any task of it runs, and the restart ioctl attaches
//! the segments where the tasks had them ([`crate::memory`]).
//!
//! Each segment's attaches are counted as the tasks' memories are saved: a segment
//! attached more often than by the tree's own areas is attached by a process outside the
//! container, which the checkpoint refuses ([`Attaches::check`]).

use kernel::alloc::KVVec;
use kernel::prelude::*;
use zerocopy::IntoBytes;

use crate::deleted::{save_data, Budget, Named, Place};
use crate::error::{refuse, CkptResult, Context};
use crate::image::ImageWriter;
use crate::objects::Objects;
use crate::sys::{
    self,
    file::FileRef,
    ipc::{IpcNs, Kind, Object},
    mm::vm,
    task::{current, TaskRef},
};
use crate::uapi::image::{self as img, rec};
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
pub(crate) fn checkpoint(init: &TaskRef, objs: &mut Objects, w: &mut ImageWriter) -> CkptResult {
    let ns = IpcNs::of(init).context(fmt!("the container's init"))?;
    // Every kind held at once: the counts of the IPC_NS record stay true while the objects
    // are written.
    let mut shm = ns.ids(Kind::Shm)?;
    let mut msg = ns.ids(Kind::Msg)?;
    let mut sem = ns.ids(Kind::Sem)?;
    let mut r = ns.limits();
    r.nr_shm = count(|| shm.next_object().is_some());
    r.nr_msq = count(|| msg.next_object().is_some());
    r.nr_sem = count(|| sem.next_object().is_some());
    w.fixed(rec::IPC_NS, &r)?;
    shm.rewind();
    msg.rewind();
    sem.rewind();
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
        save_sem(&o, &mut vals, w)?;
    }
    Ok(())
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

/// A queue's `SYSV_MSQ` and `SYSV_MSG` records; `buf` is scratch.
fn save_msq(o: &Object<'_>, buf: &mut KVVec<u8>, w: &mut ImageWriter) -> CkptResult {
    let perm = o.perm();
    check_mode("message queue", &perm, 0o777)?;
    let mut tries = 0;
    let (facts, used) = loop {
        let f = o.msq();
        if f.longest > u64::from(img::CKPT_SYSV_MSG_MAX)
            || f.qnum > u64::from(img::CKPT_SYSV_MSGS_MAX)
        {
            refuse!(
                EOPNOTSUPP,
                "SysV message queue {} (key {:#x}): {} messages, the longest of {} bytes: an \
                 image holds at most {} messages of at most {} bytes per queue",
                perm.id,
                perm.key,
                f.qnum,
                f.longest,
                img::CKPT_SYSV_MSGS_MAX,
                img::CKPT_SYSV_MSG_MAX
            );
        }
        // Each message's record header and its text padded to 8 bytes.
        let need = f
            .qnum
            .checked_mul(size_of::<img::CkptSysvMsgRec>() as u64 + 7)
            .and_then(|h| h.checked_add(f.cbytes))
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= MSQ_COPY_MAX);
        let Some(need) = need else {
            refuse!(
                EOPNOTSUPP,
                "SysV message queue {} (key {:#x}): {} messages of {} bytes: a checkpoint copies \
                 at most {} MiB of one queue",
                perm.id,
                perm.key,
                f.qnum,
                f.cbytes,
                MSQ_COPY_MAX >> 20
            );
        };
        buf.clear();
        buf.resize(need, 0, GFP_KERNEL_ACCOUNT)?;
        match o.msq_copy(buf, f.qnum) {
            Ok(n) => break (f, n),
            Err(e) if e == EAGAIN => {}
            Err(e) => return Err(e.into()),
        }
        tries += 1;
        if tries == MSQ_TRIES || current::fatal_signal_pending() {
            refuse!(
                EAGAIN,
                "SysV message queue {} (key {:#x}): a process outside the container keeps \
                 changing it",
                perm.id,
                perm.key
            );
        }
    };
    let r = img::CkptSysvMsqRec {
        perm,
        qbytes: facts.qbytes,
        nr_msgs: facts.qnum as u32,
        __reserved: 0,
    };
    w.fixed(rec::SYSV_MSQ, &r)?;
    let hdr = size_of::<img::CkptSysvMsgRec>();
    let mut at = 0;
    for _ in 0..facts.qnum {
        let Some((h, _)) = buf
            .get(at..used)
            .and_then(|b| img::CkptSysvMsgRec::read_from_prefix(b).ok())
        else {
            refuse!(
                EINVAL,
                "SysV message queue {}: its copy ends early",
                perm.id
            );
        };
        let len = h.len as usize;
        let Some(text) = buf.get(at + hdr..at + hdr + len) else {
            refuse!(
                EINVAL,
                "SysV message queue {}: its copy ends early",
                perm.id
            );
        };
        w.record(rec::SYSV_MSG, &[h.as_bytes(), text])?;
        at += hdr + len.next_multiple_of(8);
    }
    Ok(())
}

/// A set's `SYSV_SEM` record; `vals` is scratch.
fn save_sem(o: &Object<'_>, vals: &mut KVVec<i32>, w: &mut ImageWriter) -> CkptResult {
    let perm = o.perm();
    check_mode("semaphore set", &perm, 0o777)?;
    let (nsems, undo) = o.sem_nsems();
    if undo {
        refuse!(
            EOPNOTSUPP,
            "SysV semaphore set {} (key {:#x}): a process has undo adjustments (SEM_UNDO) for \
             it: not supported yet",
            perm.id,
            perm.key
        );
    }
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
    let r = img::CkptSysvSemRec {
        perm,
        nsems,
        __reserved: 0,
    };
    w.record(rec::SYSV_SEM, &[r.as_bytes(), vals.as_slice().as_bytes()])
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
