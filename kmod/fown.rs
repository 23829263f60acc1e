// SPDX-License-Identifier: GPL-2.0

//! Owners of open file descriptions and signal-driven I/O: the `FOWN` record.
//!
//! A description with an owner (`F_SETOWN`, `F_SETOWN_EX`), a signal (`F_SETSIG`) or
//! `O_ASYNC` gets one `FOWN` record, right after the `FILE` record of its first descriptor
//! in the image (once per description, not per descriptor): the owner's kind (thread,
//! process, process group), its pid in the tree's pid namespace, the uid and euid of the
//! process that set it (signal delivery checks them against the receiver's), the signal,
//! `O_ASYNC`. `rstr` sets them again once every task of the tree exists.
//!
//! Refused: an owner outside the checkpointed tree (a pid or process group no task of the
//! tree has; checked once every task is saved), a session as owner (no `fcntl` sets one),
//! a thread of another process than the first of the tree to have the description (that
//! process sets the owner at restart, before the other processes' threads exist).

use kernel::prelude::*;
use kernel::rbtree::RBTree;
use zerocopy::IntoBytes;

use kernel::bindings::{
    pid_type_PIDTYPE_PGID, pid_type_PIDTYPE_PID, pid_type_PIDTYPE_TGID, FASYNC as O_ASYNC,
};

use crate::error::{refuse, CkptResult, Context};
use crate::image::ImageWriter;
use crate::sys::task::{OpenFd, TaskRef};
use crate::tree::Member;
use crate::uapi::image::{self as img, fown_type, rec};

/// `enum pid_type`: what an `F_SETOWN` owner is, in words.
pub(crate) fn owner_kind(t: u32) -> &'static str {
    if t == pid_type_PIDTYPE_PID {
        "thread"
    } else if t == pid_type_PIDTYPE_TGID {
        "process"
    } else if t == pid_type_PIDTYPE_PGID {
        "process group"
    } else {
        "session"
    }
}

/// The `F_OWNER_*` of an `enum pid_type`; `None` for a session.
fn record_type(t: u32) -> Option<u32> {
    if t == pid_type_PIDTYPE_PID {
        Some(fown_type::TID)
    } else if t == pid_type_PIDTYPE_TGID {
        Some(fown_type::PID)
    } else if t == pid_type_PIDTYPE_PGID {
        Some(fown_type::PGRP)
    } else {
        None
    }
}

/// An owner saved, to be found in the tree once every task is saved.
struct Wanted {
    /// The task whose descriptor it is (the first of the tree to have the description).
    task: i32,
    fd: u32,
    pid: i32,
    owner_type: u32,
}

/// The descriptions whose `FOWN` is written, and the owners to check.
pub(crate) struct Owners {
    saved: RBTree<u64, ()>,
    wanted: KVec<Wanted>,
    /// The task whose descriptors are being saved.
    task: i32,
}

impl Owners {
    pub(crate) fn new() -> Self {
        Owners {
            saved: RBTree::new(),
            wanted: KVec::new(),
            task: 0,
        }
    }

    /// The descriptors saved from now on are those of task `pid`.
    pub(crate) fn set_task(&mut self, pid: i32) {
        self.task = pid;
    }

    /// Refuses an owner that no task of `members` is, and a thread owner of another
    /// process than the one whose descriptor has it.
    pub(crate) fn check(&self, members: &[Member]) -> CkptResult {
        for w in self.wanted.iter() {
            let (task, fd, pid) = (w.task, w.fd, w.pid);
            let live = || members.iter().map(|m| &m.entry);
            let found = match w.owner_type {
                fown_type::TID => live().find(|e| e.pid == pid).map(|e| e.tgid),
                fown_type::PID => live()
                    .find(|e| e.pid == pid && e.tgid == pid)
                    .map(|e| e.tgid),
                _ => live().find(|e| e.pgid == pid).map(|_| 0),
            };
            let Some(tgid) = found else {
                let what = if w.owner_type == fown_type::PGRP {
                    "process group"
                } else {
                    "pid"
                };
                refuse!(
                    EOPNOTSUPP,
                    "task {task}: fd {fd}: owner {what} {pid} (F_SETOWN) is outside the checkpointed tree"
                );
            };
            let Some(saver) = live().find(|e| e.pid == task) else {
                continue;
            };
            // A process on its parent's memory (CLONE_VM) is restarted by its parent's
            // path, which sets no owners.
            let vm_child = saver.pid == saver.tgid
                && live().any(|e| e.pid == e.tgid && e.pid != saver.pid && e.mm == saver.mm);
            if vm_child {
                refuse!(
                    EOPNOTSUPP,
                    "task {task}: fd {fd}: an owner (F_SETOWN) on a description first held by a process that shares its parent's memory (CLONE_VM); not supported yet"
                );
            }
            let own_tgid = saver.tgid;
            if w.owner_type == fown_type::TID && tgid != pid && tgid != own_tgid {
                refuse!(
                    EOPNOTSUPP,
                    "task {task}: fd {fd}: owner thread {pid} (F_SETOWN_EX F_OWNER_TID) is a thread of another process (F_SETOWN); not supported yet"
                );
            }
        }
        Ok(())
    }
}

/// Whether the descriptor `o` needs a `FOWN` record: an owner, a signal or `O_ASYNC`.
fn needs_record(o: &OpenFd) -> bool {
    o.facts.owned != 0 || o.facts.signum != 0 || o.rec.flags & O_ASYNC != 0
}

/// The `FOWN` record of the descriptor `o` of `task`, if its description needs one and
/// this is the first descriptor of it met; written by [`write()`] after its `FILE`.
pub(crate) fn checkpoint(
    task: &TaskRef,
    ns: Option<&TaskRef>,
    owners: &mut Owners,
    o: &OpenFd,
) -> CkptResult<Option<img::CkptFownRec>> {
    let fd = o.fd;
    if !needs_record(o) || owners.saved.get(&o.facts.file_id).is_some() {
        return Ok(None);
    }
    owners
        .saved
        .try_create_and_insert(o.facts.file_id, (), GFP_KERNEL_ACCOUNT)?;
    let f = task.fown(fd, ns).context(fmt!("fd {fd}: owner"))?;
    if !(0..=img::CKPT_NSIG as i32).contains(&f.signum) {
        refuse!(
            EINVAL,
            "fd {fd}: F_SETSIG signal {} is not a signal",
            f.signum
        );
    }
    let mut r = img::CkptFownRec {
        obj: o.rec.obj,
        owner_type: fown_type::PID,
        pid: 0,
        uid: 0,
        euid: 0,
        signum: f.signum,
        flags: if o.rec.flags & O_ASYNC != 0 {
            img::CKPT_FOWN_ASYNC
        } else {
            0
        },
        __reserved: 0,
    };
    if f.owned != 0 {
        let Some(t) = record_type(f.pid_type) else {
            refuse!(
                EOPNOTSUPP,
                "fd {fd}: owned by a {} (F_SETOWN); not supported",
                owner_kind(f.pid_type)
            );
        };
        if f.pid == 0 {
            // Not numbered in the tree's pid namespace: outside it.
            refuse!(
                EOPNOTSUPP,
                "fd {fd}: owner pid {} (F_SETOWN) is outside the checkpointed tree",
                o.facts.owner
            );
        }
        (r.owner_type, r.pid, r.uid, r.euid) = (t, f.pid, f.uid, f.euid);
        owners.wanted.push(
            Wanted {
                task: owners.task,
                fd,
                pid: f.pid,
                owner_type: t,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
    }
    Ok(Some(r))
}

/// Writes the `FOWN` record [`checkpoint`] returned, if any (right after its `FILE`).
pub(crate) fn write(pending: &mut Option<img::CkptFownRec>, w: &mut ImageWriter) -> CkptResult {
    if let Some(r) = pending.take() {
        w.record(rec::FOWN, &[r.as_bytes()])?;
    }
    Ok(())
}

#[kunit_tests(ckpt_fown)]
mod tests {
    use super::*;

    #[test]
    fn only_pid_types_name_owners() {
        assert_eq!(owner_kind(pid_type_PIDTYPE_PID), "thread");
        assert_eq!(owner_kind(pid_type_PIDTYPE_PGID), "process group");
        assert_eq!(record_type(pid_type_PIDTYPE_TGID), Some(fown_type::PID));
        assert_eq!(record_type(pid_type_PIDTYPE_PGID), Some(fown_type::PGRP));
        assert_eq!(record_type(pid_type_PIDTYPE_PID), Some(fown_type::TID));
        assert_eq!(record_type(kernel::bindings::pid_type_PIDTYPE_SID), None);
    }
}
