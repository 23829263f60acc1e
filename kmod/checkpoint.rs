// SPDX-License-Identifier: GPL-2.0

//! `CKPT_IOC_CHECKPOINT`: write the image of a stopped tree of tasks.
//!
//! The caller must be the ptrace tracer of every task and each must be in a ptrace stop
//! (`ckpt` seizes and interrupts them; [`crate::tree`] checks the list). This is also the
//! permission check: the kernel let the caller attach only if it has ptrace rights over
//! each task (`ptrace_may_access` is not exported, so the module leans on the attach having
//! passed it), and the stops guarantee that nothing changes while the image is written.

use kernel::prelude::*;
use kernel::uaccess::{UserPtr, UserSlice};

use crate::error::{refuse, CkptError, CkptResult, Context};
use crate::image::ImageWriter;
use crate::log::Log;
use crate::sys::{self, file::FileRef, file::Output};
use crate::tree::{Member, Tree};
use crate::uapi::image::{self as img, rec};
use crate::uapi::{
    CkptCheckpointArgs, CKPT_CHECKPOINT_CHECK, CKPT_CHECKPOINT_CONTAINER, CKPT_CHECKPOINT_REFUSE,
    CKPT_CHECKPOINT_TREE_ONLY, CKPT_MAX_TASKS,
};
use crate::{files, memory, ns, regs, signal, task, timers};
use zerocopy::IntoBytes;

pub(crate) fn checkpoint(args: &CkptCheckpointArgs) -> CkptResult {
    let known = CKPT_CHECKPOINT_CONTAINER
        | CKPT_CHECKPOINT_REFUSE
        | CKPT_CHECKPOINT_TREE_ONLY
        | CKPT_CHECKPOINT_CHECK
        | !0u64 << crate::uapi::CKPT_CHECKPOINT_DELETED_MAX_SHIFT;
    let modes = CKPT_CHECKPOINT_REFUSE | CKPT_CHECKPOINT_TREE_ONLY | CKPT_CHECKPOINT_CHECK;
    if args.flags & !known != 0 || (args.flags & modes).count_ones() > 1 {
        refuse!(
            EINVAL,
            "unknown flags {:#x}, or more than one of CKPT_CHECKPOINT_REFUSE, \
             CKPT_CHECKPOINT_TREE_ONLY and CKPT_CHECKPOINT_CHECK",
            args.flags
        );
    }
    let tree_only = args.flags & CKPT_CHECKPOINT_TREE_ONLY != 0;
    let dry_run = args.flags & CKPT_CHECKPOINT_CHECK != 0;
    let refusal = match args.flags & CKPT_CHECKPOINT_REFUSE {
        0 => None,
        _ => Some(caller_refusal(args)?),
    };
    if args.nr_tasks == 0 || args.nr_tasks > CKPT_MAX_TASKS {
        refuse!(
            EINVAL,
            "{} tasks: between 1 and {CKPT_MAX_TASKS} can be checkpointed at once",
            args.nr_tasks
        );
    }
    let file = match (dry_run, FileRef::fget(args.fd)) {
        (true, _) if args.fd != -1 => refuse!(
            EINVAL,
            "CKPT_CHECKPOINT_CHECK writes no image: the image fd must be -1, not {}",
            args.fd
        ),
        (true, _) => None,
        (false, None) => refuse!(EBADF, "image fd {} is not open", args.fd),
        (false, Some(f)) if !f.writable() => {
            refuse!(EBADF, "image fd {} is not open for writing", args.fd)
        }
        (false, Some(f)) => Some(f),
    };
    let mut log = Log::open(args.log_fd, args.log_level)?;
    let stats = match args.stats {
        0 => None,
        p => Some(UserPtr::from_addr(p as usize)),
    };
    let n = args.nr_tasks as usize;
    let mut tids = KVec::from_elem(0i32, n, GFP_KERNEL_ACCOUNT)?;
    UserSlice::new(UserPtr::from_addr(args.tasks as usize), n * 4)
        .reader()
        .read_slice(tids.as_mut_bytes())?;
    if tids[0] != args.pid {
        refuse!(
            EINVAL,
            "the task list starts with {}, not with the root {}",
            tids[0],
            args.pid
        );
    }
    let container = args.flags & CKPT_CHECKPOINT_CONTAINER != 0;
    // Before the tree is checked (the caller's rights over it among the rest), nothing is
    // written to the image: its reason goes back to the caller, and to the log.
    let mut tree = Tree::collect(&tids, container)
        .inspect_err(|e| log.failure(fmt!("checkpoint of {} refused", args.pid), e))?;
    tree.objects.deleted = crate::deleted::Budget::from_flags(args.flags);
    let out = file.map(Output::for_image).transpose()?;
    let mut w = ImageWriter::new(out, stats, log);
    let result = write_image(&mut tree, &mut w, refusal.as_deref(), tree_only);
    match &result {
        Err(e) => {
            w.log.failure(fmt!("checkpoint of {} refused", args.pid), e);
            if !w.dry_run() {
                // Best effort: the stream ends with the reason instead of a TAIL.
                let _ = write_error(&mut w, e);
            }
        }
        Ok(()) => w.log.info(fmt!(
            "checkpoint of {}: {} tasks, {} records, {} bytes",
            args.pid,
            w.stats.tasks,
            w.stats.records,
            w.stats.bytes
        )),
    }
    result?;
    match w.reasons() {
        None => Ok(()),
        Some((list, more)) => {
            let (shown, more) = fitting(list, more, args.reason_len as usize);
            let text = core::str::from_utf8(shown).unwrap_or("(reasons not UTF-8)");
            let text = text.strip_suffix('\n').unwrap_or(text);
            Err(match more {
                0 => CkptError::new(EOPNOTSUPP, fmt!("{text}")),
                n => CkptError::new(EOPNOTSUPP, fmt!("{text}\n... and {n} more")),
            })
        }
    }
}

/// Room kept in the caller's reason buffer for the last line, `... and N more`.
const MORE_ROOM: usize = 32;

/// The whole lines of a dry run's reasons (`list`, `more` that did not fit in it) that the
/// caller's buffer of `room` bytes takes with a NUL and, if some are left out, the line that
/// says how many: those lines, and how many are left out.
fn fitting(list: &[u8], mut more: usize, room: usize) -> (&[u8], usize) {
    let tail = if more > 0 { MORE_ROOM } else { 0 };
    if list.len() + tail < room {
        return (list, more);
    }
    let limit = room.saturating_sub(MORE_ROOM + 1);
    let mut end = 0;
    // Every line ends with a newline; once one is past the limit, so are the rest.
    for (i, _) in list.iter().enumerate().filter(|(_, &b)| b == b'\n') {
        if i < limit {
            end = i + 1;
        } else {
            more += 1;
        }
    }
    (&list[..end], more)
}

/// The reason of a [`CKPT_CHECKPOINT_REFUSE`]: the caller's NUL-terminated string, cut to
/// what an `ERROR` record holds.
fn caller_refusal(args: &CkptCheckpointArgs) -> CkptResult<KVec<u8>> {
    let n = (args.reason_len as usize).min(img::CKPT_REASON_MAX as usize + 1);
    let mut buf = KVec::from_elem(0u8, n, GFP_KERNEL_ACCOUNT)?;
    UserSlice::new(UserPtr::from_addr(args.reason as usize), n)
        .reader()
        .read_slice(&mut buf)?;
    let Some(len) = buf.iter().position(|&b| b == 0) else {
        refuse!(
            EINVAL,
            "CKPT_CHECKPOINT_REFUSE: the reason is not NUL-terminated"
        );
    };
    if len == 0 || core::str::from_utf8(&buf[..len]).is_err() {
        refuse!(
            EINVAL,
            "CKPT_CHECKPOINT_REFUSE: the reason is empty or not UTF-8"
        );
    }
    buf.truncate(len);
    Ok(buf)
}

fn write_image(
    tree: &mut Tree,
    w: &mut ImageWriter,
    refusal: Option<&[u8]>,
    tree_only: bool,
) -> CkptResult {
    let root_xstate = regs::xstate(&tree.members[0].task)?;
    // The vDSO the tree's programs use: the first live task's (every memory of one kernel
    // has the same).
    let (vdso_size, vvar_size, vdso_hash) = match tree.members.iter().find(|m| m.info.zombie == 0) {
        Some(m) => memory::vdso_facts(&m.task)?,
        None => (0, 0, 0),
    };
    let mut h = img::CkptHeaderRec {
        magic: img::CKPT_IMAGE_MAGIC,
        image_version: crate::uapi::CKPT_IMAGE_VERSION,
        arch: img::CKPT_ARCH_X86_64,
        page_size: img::CKPT_PAGE_SIZE,
        xsave_size: root_xstate.as_slice().len() as u32,
        xfeatures: sys::cpu::xfeatures(),
        time_ns: sys::cpu::time_ns(),
        nr_tasks: tree.members.len() as u32,
        __reserved: 0,
        kernel_release: [0; 64],
        cpuid: sys::cpu::cpuid_words(),
        vdso_size,
        vvar_size,
        vdso_hash,
    };
    sys::uts::kernel_release(&mut h.kernel_release);
    w.fixed(rec::HEADER, &h)?;
    drop(root_xstate);

    let t = img::CkptTreeRec {
        nr: tree.members.len() as u32,
        flags: if tree.container {
            img::CKPT_TREE_CONTAINER
        } else {
            0
        },
    };
    let mut entries = KVVec::with_capacity(tree.members.len(), GFP_KERNEL_ACCOUNT)?;
    for m in tree.members.iter() {
        entries.push(m.entry, GFP_KERNEL_ACCOUNT)?;
    }
    w.record(rec::TREE, &[t.as_bytes(), entries.as_slice().as_bytes()])?;
    drop(entries);

    if tree_only {
        return Ok(());
    }
    // After the TREE: what cannot be saved is said by the image's ERROR record too.
    // A container's own IPC namespace is saved with its processes' undo adjustments.
    let own_ipc = tree.ns().is_some_and(ns::own_ipc);
    for m in tree.members.iter().filter(|m| m.info.zombie == 0) {
        w.go_on(task::check_supported(&m.task, m.entry.pid, own_ipc))?;
        w.go_on(ns::check_task(tree, m))?;
    }
    w.go_on(tree.check_vm_children())?;
    // A container's other namespaces, right after the TREE: before any task's records.
    let r = ns::checkpoint(tree, w);
    w.go_on(r)?;
    if let Some(init) = tree.ns().cloned().filter(ns::own_ipc) {
        let owners = crate::ipc::UndoOwners::of(&tree.members);
        let r = owners.and_then(|o| crate::ipc::checkpoint(&init, &o, &mut tree.objects, w));
        w.go_on(r)?;
    }
    if let Some(r) = refusal {
        refuse!(
            EOPNOTSUPP,
            "{}",
            core::str::from_utf8(r).unwrap_or("(refused by the caller)")
        );
    }

    let ns = tree.ns().cloned();
    for i in 0..tree.members.len() {
        let m = &tree.members[i];
        if m.info.zombie != 0 {
            continue;
        }
        w.set_task(m.entry.pid);
        write_task(m, ns.as_ref(), &mut tree.objects, w)?;
        w.stats.tasks += 1;
        w.publish()?;
    }
    w.set_task(0);
    let unix = tree.objects.unix.check();
    w.go_on(unix)?;
    let fown = tree.objects.fown.check(&tree.members);
    w.go_on(fown)?;
    let segments = tree.objects.segments.check();
    w.go_on(segments)?;

    let tail = img::CkptTailRec {
        magic: img::CKPT_TAIL_MAGIC,
        nr_records: w.count(),
    };
    w.fixed(rec::TAIL, &tail)
}

/// One live task's records; shared objects only if this task is the first to have them.
fn write_task(
    m: &Member,
    ns: Option<&sys::task::TaskRef>,
    objs: &mut crate::objects::Objects,
    w: &mut ImageWriter,
) -> CkptResult {
    let (task, i) = (&m.task, &m.info);
    let pid = m.entry.pid;
    let start = w.stats;
    // Each step's failure ends the checkpoint, or in a dry run is noted and the next step
    // taken (the steps save separate state: one refusal does not hide the next).
    let r = task::checkpoint(task, ns, w);
    w.go_on(r).context(fmt!("task {pid}"))?;
    if objs.first_save(i.fs) {
        let r = files::checkpoint_fs(task, w);
        w.go_on(r).context(fmt!("task {pid}"))?;
    }
    let r = signal::checkpoint(task, objs.first_save(i.sighand), i.leader != 0, w);
    w.go_on(r).context(fmt!("task {pid}"))?;
    // Taken here: a process that finds its memory saved already shares its parent's.
    let owns_mm = objs.first_save(i.mm);
    if i.leader != 0 {
        let r = timers::checkpoint(task, ns, pid, !owns_mm, w);
        w.go_on(r)?;
    }
    if objs.first_save(i.files) {
        objs.unix.set_task(pid);
        objs.fown.set_task(pid);
        let r = files::checkpoint(task, ns, objs, w);
        w.go_on(r).context(fmt!("task {pid}"))?;
        let r = crate::locks::checkpoint(task, i.files, pid, !owns_mm, objs, w);
        w.go_on(r).context(fmt!("task {pid}"))?;
    }
    let xstate = regs::xstate(task)?;
    regs::checkpoint_xstate(&xstate, w)?;
    if owns_mm {
        let Some(mm) = task.mm() else {
            refuse!(ESRCH, "task {pid} is exiting");
        };
        let lock_limit = crate::attrs::lock_limit(task, pid)?;
        let r = memory::checkpoint(&mm, task.data_limit(), lock_limit, objs, w);
        w.go_on(r).context(fmt!("task {pid}"))?;
    }
    let r = regs::checkpoint_regs(task, w);
    w.go_on(r).context(fmt!("task {pid}"))?;
    let s = &w.stats;
    w.log.info(fmt!(
        "task {pid}: {} records, {} bytes: {} areas, {} pages saved of {} ({} shared), {} files",
        s.records - start.records,
        s.bytes - start.bytes,
        s.vmas - start.vmas,
        s.pages_written - start.pages_written,
        s.pages_scanned - start.pages_scanned,
        s.pages_shared - start.pages_shared,
        s.files - start.files
    ));
    Ok(())
}

fn write_error(w: &mut ImageWriter, e: &CkptError) -> CkptResult {
    let reason = e.reason.as_ref().map(|r| r.to_bytes()).unwrap_or(b"");
    let reason = &reason[..reason.len().min(img::CKPT_REASON_MAX as usize)];
    let r = img::CkptErrorRec {
        error: -e.errno.to_errno(),
        len: reason.len() as u32,
    };
    w.record(rec::ERROR, &[r.as_bytes(), reason])
}

#[kunit_tests(ckpt_checkpoint)]
mod tests {
    use super::*;

    #[test]
    fn dry_run_reasons_fit_the_callers_buffer() {
        let list = b"task 1: a\ntask 2: bb\ntask 3: ccc\ntask 4: dddd\ntask 5: eeeee\n";
        assert_eq!(list.len(), 60);
        // All of it, and its NUL.
        assert_eq!(fitting(list, 0, 61), (&list[..], 0));
        // Lines left out are counted, with room kept for the line that says so.
        assert_eq!(fitting(list, 0, 60), (&list[..21], 3));
        let room = MORE_ROOM + 1 + 21;
        assert_eq!(fitting(list, 0, room), (&list[..21], 3));
        assert_eq!(fitting(list, 5, room), (&list[..21], 8));
        // Not even one line: only the count.
        assert_eq!(fitting(list, 0, 8), (&list[..0], 5));
        // Already short, with its count: kept as it is when the count line fits too.
        assert_eq!(fitting(list, 4, 200), (&list[..], 4));
    }
}
