// SPDX-License-Identifier: GPL-2.0

//! The process tree of a checkpoint: which tasks, in which order, related how, sharing what.
//!
//! `ckpt` stops every thread of the root and of its descendants (ptrace) and hands the
//! module the list. The module trusts none of it: each task must be stopped by the caller
//! (or be a zombie, which cannot change), each must come after its parent and after its
//! thread-group leader, and the list must be closed: every child and every thread of a
//! listed task is listed, and every shared object (descriptor table, fs context, signal
//! handlers) has all its users in the list. A tree that passes is one consistent instant.

use kernel::prelude::*;
use kernel::rbtree::RBTree;
use zerocopy::{FromZeros, IntoBytes};

use crate::error::{refuse, CkptResult, Context};
use crate::objects::Objects;
use crate::sys::task::{current, FsPath, TaskRef, TreeFacts};
use crate::uapi::image::{self as img};

/// One task of the tree.
pub(crate) struct Member {
    pub(crate) task: TaskRef,
    pub(crate) info: TreeFacts,
    /// Its `TREE` entry, object ids filled in; its pids are the task's in the image.
    pub(crate) entry: img::CkptTreeEntry,
}

pub(crate) struct Tree {
    pub(crate) members: KVVec<Member>,
    pub(crate) objects: Objects,
    /// The root, whose pid namespace numbers the image in a container checkpoint.
    pub(crate) container: bool,
}

/// Its memory is used by no task outside the checkpoint (`clone(CLONE_VM)` from a process
/// outside, or of one): that task would run on in the memory being saved, and keep what
/// the image cannot give back. `mm_users` counts the tasks using it and, for a moment,
/// whoever reads it (`/proc/PID/status`, `process_vm_readv`): a count above the `members`
/// of the checkpoint that use it is read again a few times before it is refused.
fn check_mm_users(m: &Member, ns: Option<&TaskRef>, members: u32) -> CkptResult {
    let mut users = m.info.mm_users;
    for _ in 0..MM_USERS_RETRIES {
        if users <= members || current::fatal_signal_pending() {
            break;
        }
        current::sleep_killable(10);
        let mut entry = img::CkptTreeEntry::new_zeroed();
        users = m.task.tree(ns, &mut entry)?.mm_users;
    }
    if users > members {
        refuse!(
            EOPNOTSUPP,
            "task {} shares its memory (CLONE_VM) with a task outside the checkpoint ({users} users, {members} listed)",
            m.entry.pid
        );
    }
    Ok(())
}

/// How many times [`check_mm_users`] reads a count again, 10 ms apart.
const MM_USERS_RETRIES: u32 = 10;

impl Tree {
    /// Checks and collects the tasks `tids` (caller's pid namespace), `tids[0]` the root.
    pub(crate) fn collect(tids: &[i32], container: bool) -> CkptResult<Tree> {
        let Some(&root_tid) = tids.first() else {
            refuse!(EINVAL, "no task to checkpoint");
        };
        let Some(root) = TaskRef::lookup(root_tid) else {
            refuse!(ESRCH, "no process {root_tid}");
        };
        // In a container, pids are numbered in the root's namespace.
        let ns = container.then_some(&root);
        // kvmalloc: `tids` may be as long as `CKPT_MAX_TASKS`, more than kmalloc serves.
        let mut members = KVVec::with_capacity(tids.len(), GFP_KERNEL_ACCOUNT)?;
        let mut index: RBTree<i32, usize> = RBTree::new();
        for (i, &tid) in tids.iter().enumerate() {
            let task = if i == 0 {
                root.clone()
            } else {
                match TaskRef::lookup(tid) {
                    Some(t) => t,
                    None => refuse!(ESRCH, "no task {tid}"),
                }
            };
            let mut entry = img::CkptTreeEntry::new_zeroed();
            let info = task
                .tree(ns, &mut entry)
                .context(fmt!("task {tid}: the root of the pid namespace is gone"))?;
            check_task(&task, &entry, &info, tid, i == 0, container)?;
            if index.get(&entry.pid).is_some() {
                refuse!(EINVAL, "task {tid} is listed twice");
            }
            // Order: the leader before its threads, the parent before its children.
            if i > 0 {
                let (before, what) = if entry.pid != entry.tgid {
                    (entry.tgid, "its thread-group leader")
                } else {
                    (entry.ppid, "its parent")
                };
                if index.get(&before).is_none() {
                    refuse!(
                        EINVAL,
                        "task {tid} is listed before {what} ({before}), or without it"
                    );
                }
            } else {
                // The root's parent is not restored.
                entry.ppid = 0;
            }
            if info.zombie == 0 {
                entry.exit_code = 0;
            }
            entry.flags = flags(&info);
            index.try_create_and_insert(entry.pid, i, GFP_KERNEL_ACCOUNT)?;
            members.push(Member { task, info, entry }, GFP_KERNEL_ACCOUNT)?;
        }

        // Closed: no child or thread left out.
        let mut rel = KVec::new();
        for m in members.iter() {
            if m.info.zombie != 0 {
                continue;
            }
            m.task.relatives(ns, &mut rel)?;
            for &r in rel.iter() {
                if index.get(&r).is_none() {
                    refuse!(
                        EINVAL,
                        "task {r}, a child or thread of {}, is not in the list: the tree would be cut",
                        m.entry.pid
                    );
                }
            }
        }

        let mut objects = Objects::new();
        for m in members.iter_mut() {
            let i = &m.info;
            if i.zombie != 0 {
                continue;
            }
            m.entry.mm = objects.add_user(i.mm)?;
            m.entry.files = objects.add_user(i.files)?;
            m.entry.fs = objects.add_user(i.fs)?;
            m.entry.sighand = objects.add_user(i.sighand)?;
        }
        // Shared with nobody outside.
        for m in members.iter() {
            let i = &m.info;
            if i.zombie != 0 {
                continue;
            }
            let shared = [
                (i.files, i.files_users, "descriptor table (CLONE_FILES)"),
                (i.fs, i.fs_users, "root and cwd (CLONE_FS)"),
                (
                    i.sighand,
                    i.sighand_users,
                    "signal handlers (CLONE_SIGHAND)",
                ),
            ];
            for (addr, users, what) in shared {
                if users > objects.users(addr) {
                    refuse!(
                        EOPNOTSUPP,
                        "task {} shares its {what} with a task outside the checkpoint",
                        m.entry.pid
                    );
                }
            }
            check_mm_users(m, ns, objects.users(i.mm))?;
        }
        Ok(Tree {
            members,
            objects,
            container,
        })
    }

    /// `rstr` creates a process that shares its parent's memory (`clone(CLONE_VM)` without
    /// `CLONE_THREAD`) with `clone` from the parent: what it does not share it gets as a copy of
    /// the parent's, which must be what the image has (`rstr`'s `check_vm_children`). Refuses
    /// now the processes whose descriptor table, root and cwd, umask, signal handlers,
    /// credentials or limits differ from their parent's.
    pub(crate) fn check_vm_children(&self) -> CkptResult {
        let live = |m: &&Member| m.info.zombie == 0;
        for c in self.members.iter().filter(live) {
            if c.entry.pid != c.entry.tgid {
                continue;
            }
            let Some(p) = self
                .members
                .iter()
                .filter(live)
                .find(|p| p.entry.pid == c.entry.ppid && p.info.mm == c.info.mm)
            else {
                continue;
            };
            let (ct, pt) = (&c.task, &p.task);
            let same = [
                (
                    "descriptor table",
                    c.info.files == p.info.files || same_fds(ct, pt)?,
                ),
                (
                    "root and cwd",
                    (c.info.fs == p.info.fs || same_fs(ct, pt)?) && umask(ct)? == umask(pt)?,
                ),
                (
                    "signal handlers",
                    c.info.sighand == p.info.sighand || same_handlers(ct, pt),
                ),
                ("credentials", same_creds(ct, pt)?),
                ("resource limits", same_limits(ct, pt)),
            ];
            for (what, ok) in same {
                if !ok {
                    refuse!(
                        EOPNOTSUPP,
                        "process {} shares its parent's memory but not its {what}, which differs: not supported yet",
                        c.entry.pid
                    );
                }
            }
        }
        Ok(())
    }

    /// The task whose pid namespace numbers the image: the root of a container.
    pub(crate) fn ns(&self) -> Option<&TaskRef> {
        self.members
            .first()
            .filter(|_| self.container)
            .map(|m| &m.task)
    }
}

fn flags(i: &TreeFacts) -> u32 {
    let mut f = 0;
    if i.zombie != 0 {
        f |= img::CKPT_TASK_ZOMBIE;
    }
    if i.group_stopped != 0 {
        f |= img::CKPT_TASK_STOPPED;
    }
    if i.subreaper != 0 {
        f |= img::CKPT_TASK_SUBREAPER;
    }
    f
}

/// What one task must be to be checkpointed.
fn check_task(
    task: &TaskRef,
    entry: &img::CkptTreeEntry,
    info: &TreeFacts,
    tid: i32,
    root: bool,
    container: bool,
) -> CkptResult {
    let st = task.state();
    if st.is_current {
        refuse!(EINVAL, "a process cannot checkpoint itself ({tid})");
    }
    if st.kthread {
        refuse!(EPERM, "task {tid} is a kernel thread");
    }
    if info.in_ns == 0 {
        refuse!(
            EOPNOTSUPP,
            "task {tid} is in another pid namespace than the tree's: nested pid namespaces are not supported yet"
        );
    }
    if root {
        if entry.pid != entry.tgid {
            refuse!(
                EINVAL,
                "{tid} is a thread, not a process: checkpoint its process"
            );
        }
        if info.zombie != 0 {
            refuse!(ESRCH, "process {tid} is a zombie");
        }
        if container && (info.ns_init == 0 || entry.pid != 1) {
            refuse!(
                EINVAL,
                "process {tid} is not the init of a pid namespace: it cannot be checkpointed as a container"
            );
        }
    }
    if info.zombie != 0 {
        if info.leader != 0 && info.nr_threads > 1 {
            refuse!(
                EOPNOTSUPP,
                "process {tid}: its leader thread exited while other threads run: not supported yet"
            );
        }
        return Ok(());
    }
    if !st.has_mm {
        refuse!(ESRCH, "task {tid} is exiting");
    }
    if !st.traced_by_current {
        refuse!(
            EPERM,
            "task {tid} is not ptrace-attached by the caller (ckpt attaches first; that needs ptrace rights over it)"
        );
    }
    if !st.stopped {
        refuse!(EBUSY, "task {tid} is not in a ptrace stop");
    }
    // The attach passed ptrace's checks when `ckpt` seized the task, but the task ran after
    // it until its stop: it may have become non-dumpable (`prctl(PR_SET_DUMPABLE, 0)`, an
    // exec of a setuid or unreadable program) or changed its credentials. Ptrace itself
    // re-checks dumpability at every peek (`ptracer_access_allowed`); the module reads all
    // of the task, and applies both rules now that it is stopped and cannot change.
    let a = task.access();
    if a.same_creds == 0 && a.creds_capable == 0 {
        refuse!(
            EPERM,
            "task {tid} runs with other credentials than the caller's (a setuid or setgid program, or another user's), and the caller lacks CAP_SYS_PTRACE over it"
        );
    }
    if a.dumpable == 0 && a.exec_capable == 0 {
        refuse!(
            EPERM,
            "task {tid} is not dumpable (a setuid, setgid or unreadable program, or prctl(PR_SET_DUMPABLE, 0)), and the caller lacks CAP_SYS_PTRACE over it"
        );
    }
    Ok(())
}

/// The same descriptors, open file descriptions and close-on-exec bits.
fn same_fds(a: &TaskRef, b: &TaskRef) -> CkptResult<bool> {
    let mut path = KVec::from_elem(0u8, img::CKPT_PATH_MAX as usize + 1, GFP_KERNEL_ACCOUNT)?;
    let mut from = 0;
    // Ends: descriptor numbers only grow, and a table is finite.
    loop {
        let x = a.next_fd(from, &mut path)?;
        let y = b.next_fd(from, &mut path)?;
        match (x, y) {
            (None, None) => return Ok(true),
            (Some(i), Some(j))
                if i.fd == j.fd
                    && i.facts.file_id == j.facts.file_id
                    && i.rec.cloexec == j.rec.cloexec =>
            {
                from = i.fd + 1;
            }
            _ => return Ok(false),
        }
    }
}

fn same_fs(a: &TaskRef, b: &TaskRef) -> CkptResult<bool> {
    let mut pa = KVec::from_elem(0u8, img::CKPT_PATH_MAX as usize + 1, GFP_KERNEL_ACCOUNT)?;
    let mut pb = KVec::from_elem(0u8, img::CKPT_PATH_MAX as usize + 1, GFP_KERNEL_ACCOUNT)?;
    for cwd in [false, true] {
        let which = || if cwd { FsPath::Cwd } else { FsPath::Root };
        let (la, _) = a.fs_path(which(), &mut pa)?;
        let (lb, _) = b.fs_path(which(), &mut pb)?;
        if pa[..la] != pb[..lb] {
            return Ok(false);
        }
    }
    Ok(true)
}

fn umask(t: &TaskRef) -> Result<u32> {
    let mut r = img::CkptTaskRec::new_zeroed();
    t.info(None, &mut r)?;
    Ok(r.umask)
}

fn same_handlers(a: &TaskRef, b: &TaskRef) -> bool {
    let (mut x, mut y) = (
        img::CkptSighandRec::new_zeroed(),
        img::CkptSighandRec::new_zeroed(),
    );
    a.sigactions(&mut x);
    b.sigactions(&mut y);
    x.as_bytes() == y.as_bytes()
}

fn same_creds(a: &TaskRef, b: &TaskRef) -> CkptResult<bool> {
    let (mut x, mut y) = (
        img::CkptCredsRec::new_zeroed(),
        img::CkptCredsRec::new_zeroed(),
    );
    let (mut gx, mut gy) = (KVec::new(), KVec::new());
    a.creds(&mut x, &mut gx)?;
    b.creds(&mut y, &mut gy)?;
    Ok(x.as_bytes() == y.as_bytes() && gx.as_slice() == gy.as_slice())
}

fn same_limits(a: &TaskRef, b: &TaskRef) -> bool {
    let (mut x, mut y) = (
        img::CkptRlimitsRec::new_zeroed(),
        img::CkptRlimitsRec::new_zeroed(),
    );
    a.rlimits(&mut x);
    b.rlimits(&mut y);
    x.as_bytes() == y.as_bytes()
}
