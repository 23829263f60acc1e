// SPDX-License-Identifier: GPL-2.0

//! The IPC of a container's IPC namespace, as the image keeps it: the `IPC_NS` record right
//! after the `UTS_NS`, then its segments (each `SYSV_SHM` with its `FILE_DATA`), its
//! message queues (each `SYSV_MSQ` with its `SYSV_MSG`s) and its semaphore sets
//! (`SYSV_SEM`), each kind in the order of the index of its ids, then its POSIX message
//! queues (each `MQUEUE` with its `MQ_MSG`s). `rstr` makes them again with [`IpcImage`] in
//! the container's new IPC namespace before any task of it runs.

use std::collections::HashSet;

use anyhow::{bail, ensure, Context, Result};

use crate::abi::image::{self as img, rec};
use crate::image::Rec;

/// The index of an object's id (`ipc/util.h`'s `ipcid_to_idx`, with the default
/// `IPCMNI_SHIFT` of 15): unique among the objects of a kind.
pub fn id_index(id: i32) -> i32 {
    id & 0x7fff
}

/// A segment and its contents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShmImage {
    pub rec: img::CkptSysvShmRec,
    /// (offset, bytes), increasing, not overlapping, within the size; the rest is zeros.
    pub data: Vec<(u64, Vec<u8>)>,
}

/// A message queue and its messages (type, text), first to be received first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MsqImage {
    pub rec: img::CkptSysvMsqRec,
    pub msgs: Vec<(i64, Vec<u8>)>,
}

/// A semaphore set, its values and the undo adjustments (pid, one per semaphore) the
/// processes of the tree have for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SemImage {
    pub rec: img::CkptSysvSemRec,
    pub values: Vec<i32>,
    pub undo: Vec<(i32, Vec<i32>)>,
}

/// A POSIX message queue, its name (`/` and a file name) and its messages (priority,
/// text), first to be received first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MqImage {
    pub rec: img::CkptMqueueRec,
    pub name: Vec<u8>,
    pub msgs: Vec<(u32, Vec<u8>)>,
}

/// A container's IPC namespace: its limits and objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpcImage {
    pub limits: img::CkptIpcNsRec,
    pub shm: Vec<ShmImage>,
    pub msq: Vec<MsqImage>,
    pub sem: Vec<SemImage>,
    pub mq: Vec<MqImage>,
}

impl IpcImage {
    /// The segment of `SYSV_SHM` object `obj`.
    pub fn segment(&self, obj: u32) -> Option<&ShmImage> {
        self.shm.iter().find(|s| s.rec.obj == obj)
    }
}

/// Checks what every object has; `what` names its kind, `modes` the bits its mode may have.
fn check_perm(what: &str, p: &img::CkptIpcPerm, modes: u32, ids: &mut HashSet<i32>) -> Result<()> {
    ensure!(p.id >= 0, "{what} record: id {} is negative", p.id);
    ensure!(
        ids.insert(id_index(p.id)),
        "{what} record {}: a second object at index {}",
        p.id,
        id_index(p.id)
    );
    ensure!(
        p.mode & !modes == 0,
        "{what} record {}: mode {:#o} has unknown bits",
        p.id,
        p.mode
    );
    Ok(())
}

/// Reads the records of a container's IPC namespace with `next`, which returns the next
/// record of the image; the first record after them is handed back to `unread`.
pub fn read(mut next: impl FnMut() -> Result<Rec>, unread: impl FnOnce(Rec)) -> Result<IpcImage> {
    let limits = match next()? {
        Rec::IpcNs(n) => n,
        r => bail!(
            "expected an IPC_NS record after the UTS_NS of a container with an IPC namespace of its own, found {}",
            rec::name(r.kind())
        ),
    };
    let mut ids = HashSet::new();
    let mut objs = HashSet::new();
    let mut shm = Vec::new();
    let mut r = next()?;
    for _ in 0..limits.nr_shm {
        let Rec::SysvShm(s) = r else {
            bail!(
                "IPC_NS announces {} SYSV_SHM records, found {} after {}",
                limits.nr_shm,
                rec::name(r.kind()),
                shm.len()
            );
        };
        check_perm(
            "SYSV_SHM",
            &s.perm,
            0o777 | img::CKPT_SHM_DEST | img::CKPT_SHM_LOCKED,
            &mut ids,
        )?;
        ensure!(
            s.obj != 0 && objs.insert(s.obj),
            "SYSV_SHM record {}: object {} is 0 or given twice",
            s.perm.id,
            s.obj
        );
        ensure!(
            s.size >= 1 && s.size <= i64::MAX as u64,
            "SYSV_SHM record {}: size {} out of range",
            s.perm.id,
            s.size
        );
        ensure!(
            s.perm.mode & img::CKPT_SHM_DEST == 0 || (s.perm.key == 0 && s.nattch > 0),
            "SYSV_SHM record {}: removed (SHM_DEST) with key {:#x} and {} attaches: a removed \
             segment has key IPC_PRIVATE and is attached",
            s.perm.id,
            s.perm.key,
            s.nattch
        );
        let mut data: Vec<(u64, Vec<u8>)> = Vec::new();
        r = next()?;
        while let Rec::FileData { data: d, bytes } = r {
            ensure!(
                d.id == s.obj,
                "FILE_DATA record of file {} after SYSV_SHM {} (object {})",
                d.id,
                s.perm.id,
                s.obj
            );
            let prev_end = data.last().map_or(0, |(o, b)| o + b.len() as u64);
            let end = d.offset.checked_add(bytes.len() as u64);
            ensure!(
                d.offset >= prev_end && end.is_some_and(|e| e <= s.size),
                "FILE_DATA record of SysV segment {}: {} bytes at {}, before the data before it \
                 (up to {prev_end}) or beyond its size {}",
                s.perm.id,
                bytes.len(),
                d.offset,
                s.size
            );
            data.push((d.offset, bytes));
            r = next()?;
        }
        shm.push(ShmImage { rec: s, data });
    }
    let mut ids = HashSet::new();
    let mut msq = Vec::new();
    for _ in 0..limits.nr_msq {
        let Rec::SysvMsq(q) = r else {
            bail!(
                "IPC_NS announces {} SYSV_MSQ records, found {} after {}",
                limits.nr_msq,
                rec::name(r.kind()),
                msq.len()
            );
        };
        check_perm("SYSV_MSQ", &q.perm, 0o777, &mut ids)?;
        let mut msgs = Vec::with_capacity(q.nr_msgs.min(1024) as usize);
        for _ in 0..q.nr_msgs {
            match next()? {
                Rec::SysvMsg { msg, text } => msgs.push((msg.mtype, text)),
                r => bail!(
                    "SYSV_MSQ record {}: expected a SYSV_MSG, found {}",
                    q.perm.id,
                    rec::name(r.kind())
                ),
            }
        }
        msq.push(MsqImage { rec: q, msgs });
        r = next()?;
    }
    let mut ids = HashSet::new();
    let mut sem = Vec::new();
    for _ in 0..limits.nr_sem {
        let Rec::SysvSem { sem: s, values } = r else {
            bail!(
                "IPC_NS announces {} SYSV_SEM records, found {} after {}",
                limits.nr_sem,
                rec::name(r.kind()),
                sem.len()
            );
        };
        check_perm("SYSV_SEM", &s.perm, 0o777, &mut ids)?;
        let mut undo: Vec<(i32, Vec<i32>)> = Vec::new();
        for _ in 0..s.nr_undo {
            let (u, adj) = match next()? {
                Rec::SemUndo { undo, adj } => (undo, adj),
                r => bail!(
                    "SYSV_SEM record {}: expected a SEM_UNDO, found {}",
                    s.perm.id,
                    rec::name(r.kind())
                ),
            };
            ensure!(
                u.nsems == s.nsems && !undo.iter().any(|(p, _)| *p == u.pid),
                "SEM_UNDO record of pid {} for set {}: {} adjustments for {} semaphores, or a \
                 second record of that pid",
                u.pid,
                s.perm.id,
                u.nsems,
                s.nsems
            );
            // rstr raises each value by an adjustment's size and lowers it back.
            if let Some((k, v)) = values
                .iter()
                .zip(&adj)
                .map(|(v, a)| v + a.abs())
                .enumerate()
                .find(|(_, v)| *v > img::CKPT_SEMVMX)
            {
                bail!(
                    "SEM_UNDO record of pid {} for set {}: semaphore {k} and its adjustment \
                     add up to {v}, beyond SEMVMX",
                    u.pid,
                    s.perm.id
                );
            }
            undo.push((u.pid, adj));
        }
        sem.push(SemImage {
            rec: s,
            values,
            undo,
        });
        r = next()?;
    }
    let mut mq: Vec<MqImage> = Vec::new();
    for _ in 0..limits.nr_mq {
        let Rec::Mqueue { mq: q, name } = r else {
            bail!(
                "IPC_NS announces {} MQUEUE records, found {} after {}",
                limits.nr_mq,
                rec::name(r.kind()),
                mq.len()
            );
        };
        let shown = String::from_utf8_lossy(&name).into_owned();
        ensure!(
            !mq.iter().any(|m| m.name == name),
            "MQUEUE record {shown}: a second queue of that name"
        );
        let mut msgs: Vec<(u32, Vec<u8>)> = Vec::with_capacity(q.nr_msgs.min(1024) as usize);
        for _ in 0..q.nr_msgs {
            let (msg, text) = match next()? {
                Rec::MqMsg { msg, text } => (msg, text),
                r => bail!(
                    "MQUEUE record {shown}: expected an MQ_MSG, found {}",
                    rec::name(r.kind())
                ),
            };
            ensure!(
                text.len() as u64 <= q.msgsize,
                "MQ_MSG record of queue {shown}: {} bytes, more than its msgsize {}",
                text.len(),
                q.msgsize
            );
            // First received first: the highest priority first.
            ensure!(
                msgs.last().is_none_or(|(p, _)| *p >= msg.prio),
                "MQ_MSG record of queue {shown}: priority {} after a lower one",
                msg.prio
            );
            msgs.push((msg.prio, text));
        }
        mq.push(MqImage { rec: q, name, msgs });
        r = next()?;
    }
    ensure!(
        !matches!(
            r,
            Rec::SysvShm(_)
                | Rec::SysvMsq(_)
                | Rec::SysvSem { .. }
                | Rec::SysvMsg { .. }
                | Rec::Mqueue { .. }
                | Rec::MqMsg { .. }
                | Rec::SemUndo { .. }
        ),
        "a {} record beyond what IPC_NS announces",
        rec::name(r.kind())
    );
    unread(r);
    Ok(IpcImage {
        limits,
        shm,
        msq,
        sem,
        mq,
    })
}

/// Checks the processes of the undo adjustments: each a live process of `tree` (a thread
/// group leader, which `rstr` restores them in).
pub fn check_undo(ipc: Option<&IpcImage>, tree: &[img::CkptTreeEntry]) -> Result<()> {
    for s in ipc.iter().flat_map(|i| i.sem.iter()) {
        for (pid, _) in &s.undo {
            ensure!(
                tree.iter().any(|e| e.pid == *pid
                    && e.tgid == *pid
                    && e.flags & img::CKPT_TASK_ZOMBIE == 0),
                "SEM_UNDO record for set {}: pid {pid} is no live process of the tree",
                s.rec.perm.id
            );
        }
    }
    Ok(())
}

/// Checks the descriptors of POSIX message queues (`FILE` records of kind `MQUEUE`, as
/// (fd, path)): each names a queue of the image's IPC namespace.
pub fn check_mq_files<'a>(
    ipc: Option<&IpcImage>,
    files: impl IntoIterator<Item = (i32, &'a str)>,
) -> Result<()> {
    for (fd, path) in files {
        ensure!(
            ipc.is_some_and(|i| i.mq.iter().any(|q| q.name == path.as_bytes())),
            "FILE record: fd {fd} opens POSIX message queue {path}, which the image's IPC \
             namespace has not"
        );
    }
    Ok(())
}

/// Checks the attaches of every memory (`VMA` records of kind `SYSV_SHM`, as (object,
/// pages from, pages to)) against the segments: each names one, within its size; and each
/// segment has as many attaches as its `nattch`.
pub fn check_attaches(ipc: Option<&IpcImage>, attaches: &[(u32, u64, u64)]) -> Result<()> {
    let Some(ipc) = ipc else {
        ensure!(
            attaches.is_empty(),
            "a VMA record of kind SYSV_SHM in an image without SysV segments"
        );
        return Ok(());
    };
    for &(obj, _, end) in attaches {
        let s = ipc.segment(obj).with_context(|| {
            format!("a VMA record attaches SysV segment object {obj}, which the image has not")
        })?;
        ensure!(
            end <= s.rec.size.next_multiple_of(u64::from(img::CKPT_PAGE_SIZE)),
            "a VMA record attaches SysV segment {} up to byte {end}, beyond its size {}",
            s.rec.perm.id,
            s.rec.size
        );
    }
    for s in &ipc.shm {
        let n = attaches.iter().filter(|a| a.0 == s.rec.obj).count();
        ensure!(
            n == s.rec.nattch as usize,
            "SYSV_SHM record {}: {} attaches, the memories of the image have {n}",
            s.rec.perm.id,
            s.rec.nattch
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    fn one_segment(nattch: u32) -> IpcImage {
        let mut s = img::CkptSysvShmRec::new_zeroed();
        (s.perm.id, s.size, s.obj, s.nattch) = (5, 5000, 9, nattch);
        IpcImage {
            limits: img::CkptIpcNsRec::new_zeroed(),
            shm: vec![ShmImage {
                rec: s,
                data: Vec::new(),
            }],
            msq: Vec::new(),
            sem: Vec::new(),
            mq: Vec::new(),
        }
    }

    #[test]
    fn attaches_name_a_segment_within_its_pages_as_often_as_it_counts() {
        let ipc = one_segment(2);
        // The size rounds up to two pages.
        let both = [(9, 0, 8192), (9, 4096, 8192)];
        check_attaches(Some(&ipc), &both).unwrap();
        let err = |a: &[(u32, u64, u64)], ipc: Option<&IpcImage>| {
            format!("{:#}", check_attaches(ipc, a).unwrap_err())
        };
        assert!(err(&[(9, 0, 8192)], Some(&ipc))
            .contains("2 attaches, the memories of the image have 1"));
        assert!(err(&[(9, 0, 12288), (9, 0, 4096)], Some(&ipc))
            .contains("up to byte 12288, beyond its size 5000"));
        assert!(err(&[(8, 0, 4096), (9, 0, 4096)], Some(&ipc))
            .contains("object 8, which the image has not"));
        assert!(err(&both, None).contains("without SysV segments"));
        check_attaches(Some(&one_segment(0)), &[]).unwrap();
        check_attaches(None, &[]).unwrap();
    }

    #[test]
    fn an_index_is_the_low_15_bits() {
        assert_eq!(
            (id_index(0), id_index(32769), id_index(65536 + 7)),
            (0, 1, 7)
        );
    }
}
