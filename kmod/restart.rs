// SPDX-License-Identifier: GPL-2.0

//! `CKPT_IOC_RESTART`: become the process of an image.
//!
//! Called by each task `rstr` creates, once it has restored, with system calls, what the
//! module cannot (pid, credentials, files, signal handlers, pending signals, the vDSO's
//! place) and loaded the image's FPU state with `XRSTOR`. The module reads the task's own
//! records from the offset `rstr` gives: `MM`, `VMA`s, `PAGES`, `REGS` (only `REGS` for a
//! thread whose memory another task restores). The private anonymous areas `rstr` has
//! already mapped at their place (`kept`, so that a parent's pages stay shared with its
//! children) are kept as they are. Every task belongs to a [`Session`].
//!
//! Two phases. First everything that can be checked is checked and every mapped file is
//! opened, changing nothing: a failure returns an error and a reason to `rstr`. Then the
//! caller's memory is replaced; from there on a failure cannot be returned to code that no
//! longer exists, so the reason goes to `err_fd` and the caller is killed: no half-restored
//! process ever runs. On success `err_fd` receives `OK PID COPIED KEPT` and the task waits
//! for the session's go; then `rstr`'s own descriptors are closed and the ioctl "returns" into the restored
//! registers.

use kernel::prelude::*;

use crate::error::{refuse, CkptError, CkptResult, Context};
use crate::image::ImageReader;
use crate::log::{Log, Report};
use crate::mapped::ObjFds;
use crate::memory::{self, Filled};
use crate::session::Session;
use crate::sys::file::{FileRef, Input};
use crate::sys::task::current;
use crate::uapi::{
    CkptRestartArgs, CKPT_RESTART_PROGRESS, CKPT_RESTART_SHARED_MM, CKPT_RESTART_STOPPED,
};
use crate::{regs, signal};

/// Runs the restart; the value is what the caller's `ax` must hold when it returns.
pub(crate) fn restart(session: &Session, args: &CkptRestartArgs) -> CkptResult<u64> {
    if args.flags & !(CKPT_RESTART_SHARED_MM | CKPT_RESTART_STOPPED | CKPT_RESTART_PROGRESS) != 0 {
        refuse!(EINVAL, "unknown flags {:#x}", args.flags);
    }
    if args.nr_kept != 0 && args.flags & CKPT_RESTART_SHARED_MM != 0 {
        refuse!(
            EINVAL,
            "kept areas given by a task whose memory another task restores"
        );
    }
    if args.nr_close as usize > args.close_fds.len() {
        refuse!(
            EINVAL,
            "{} descriptors to close, at most {}",
            args.nr_close,
            args.close_fds.len()
        );
    }
    // Read now: the caller's memory, where the table is, is replaced before it is closed.
    let objs = ObjFds::read(args.objs, args.nr_objs)?;
    let Ok(pos) = i64::try_from(args.pos) else {
        refuse!(EINVAL, "image offset {:#x} out of range", args.pos);
    };
    let Some(file) = FileRef::fget(args.fd) else {
        refuse!(EBADF, "image fd {} is not open", args.fd);
    };
    if !file.readable() {
        refuse!(EBADF, "image fd {} is not open for reading", args.fd);
    }
    let mut report = Report::open(args.err_fd)?;
    let mut log = Log::open(args.log_fd, args.log_level)?;
    let pid = kernel::current!().pid();
    let mut rd = ImageReader::new(Input::new_at(file, pos));
    session.join()?;

    // Phase 1: check, change nothing. A refusal fails the session: it can never go.
    let plan = check(session, &mut rd, args, &objs).inspect_err(|e| {
        session.fail();
        log.failure(fmt!("pid {pid}: restart refused"), e);
    })?;

    // Phase 2: no way back.
    let result = match &plan {
        Some((plan, mine)) => {
            become_image(session, &mut rd, plan, mine, args, &mut log, &mut report)
        }
        None => become_thread(session, &mut rd, args).map(|ax| (ax, Filled::default())),
    };
    if result.is_ok() && plan.is_none() {
        log.info(fmt!("pid {pid}: restored a thread (registers) at {pos:#x}"));
    }
    let result = result.and_then(|(ax, done)| {
        session.ready();
        report.line(fmt!("OK {pid} {} {}", done.copied, done.kept));
        report.close();
        session.wait_go(|| {
            for &fd in &args.close_fds[..args.nr_close as usize] {
                let _ = current::close_fd(fd);
            }
            objs.close_all();
        })?;
        if args.flags & CKPT_RESTART_STOPPED != 0 {
            current::stop_self();
        }
        Ok(ax)
    });
    if let Err(e) = &result {
        // Killed while waiting for the go included: the others must not wait for it.
        session.fail();
        log.failure(fmt!("pid {pid}: restart failed, killed"), e);
        // One line, written at once: tasks of a tree share the pipe.
        let reason = e.reason.as_ref().and_then(|r| r.to_str().ok());
        report.line(fmt!("pid {pid}: {}", reason.unwrap_or("restart failed")));
        current::kill_self();
    }
    // Past the point of no return the caller's memory is the image's: the reason went to
    // `err_fd` only, never to `args.reason`, which may now point into a restored mapping.
    result.map_err(|e| CkptError {
        errno: e.errno,
        reason: None,
    })
}

/// Phase 1: reads and checks the caller's memory records, opens its files and makes its
/// shared objects; `None` for a thread whose memory another task restores.
fn check(
    session: &Session,
    rd: &mut ImageReader,
    args: &CkptRestartArgs,
    objs: &ObjFds,
) -> CkptResult<Option<(memory::Plan, KVec<crate::sys::mm::Vma>)>> {
    if args.flags & CKPT_RESTART_SHARED_MM != 0 {
        return Ok(None);
    }
    session.check_sharers(args.mm_sharers)?;
    let may_set_exe = session.may_set_exe();
    let kept = memory::read_kept(args.kept, args.nr_kept)?;
    let shm_at = crate::ipc::ShmAt::read(args.shm_at, args.nr_shm_at)?;
    let shm = &mut |id, size| session.shm(id, size);
    let mut plan = memory::plan(rd, shm, objs, &shm_at, may_set_exe)?;
    memory::mark_kept(&mut plan, kept)?;
    let mine = memory::check_specials(&plan)?;
    Ok(Some((plan, mine)))
}

/// Replaces the caller's memory once every task sharing it waits, then its registers.
fn become_image(
    session: &Session,
    rd: &mut ImageReader,
    plan: &memory::Plan,
    mine: &[crate::sys::mm::Vma],
    args: &CkptRestartArgs,
    log: &mut Log,
    report: &mut Report,
) -> CkptResult<(u64, Filled)> {
    session.wait_sharers(args.mm_sharers)?;
    memory::replace(plan, mine)?;
    let mut done = Filled::default();
    let pid = kernel::current!().pid();
    let progress = args.flags & CKPT_RESTART_PROGRESS != 0;
    let h = memory::fill(rd, plan, &mut done, &mut |copied| {
        if progress {
            report.line(fmt!("P {pid} {copied}"));
        }
    })?;
    let (areas, kept) = plan.areas();
    log.info(fmt!(
        "pid {}: restored {areas} areas ({kept} kept as rstr mapped them), {} pages read, {} pages kept",
        kernel::current!().pid(),
        done.copied,
        done.kept
    ));
    let r = regs::read(rd, &h)?;
    memory::set_layout(plan)?;
    memory::set_exe(plan)?;
    memory::set_lock_future(plan)?;
    session.memory_done()?;
    Ok((finish(r, args)?, done))
}

/// A thread of a restored process: its memory is restored by the task that owns it.
fn become_thread(
    session: &Session,
    rd: &mut ImageReader,
    args: &CkptRestartArgs,
) -> CkptResult<u64> {
    let h = rd.header()?;
    let r = regs::read(rd, &h)?;
    session.wait_memory()?;
    finish(r, args)
}

fn finish(r: crate::uapi::image::CkptRegsRec, args: &CkptRestartArgs) -> CkptResult<u64> {
    let ax = regs::install(r)?;
    current::rseq_sync()
        .map_err(CkptError::from)
        .context(fmt!("the rseq area is not writable in the restored memory"))?;
    signal::restore_blocked(args.blocked)?;
    Ok(ax)
}
