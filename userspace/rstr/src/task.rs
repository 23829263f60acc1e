// SPDX-License-Identifier: GPL-2.0

//! One process of the tree being rebuilt, from its creation to the restart ioctl.
//!
//! 1. It takes its session and group (`setsid`, `setpgid(0, 0)`), creating around that the
//!    children that belong on either side, as the [plan](crate::plan) says.
//! 2. Once every process exists (a barrier shared by all), it joins its group; once all have
//!    (a second barrier), ghosts and zombies exit: zombies with the image's status, so that
//!    their parent finds them dead and unreaped.
//! 3. It restores what is its own with system calls: descriptors (if it owns its table),
//!    root and cwd (if it owns its fs context), limits, handlers, pending signals,
//!    credentials, vDSO and rseq; creates its threads; and calls the restart ioctl, which
//!    does not return until every task of the tree is restored.
//!
//! Every failure is reported as one line on the report pipe; `rstr` then kills the tree.

use std::ffi::CString;
use std::os::fd::RawFd;

use anyhow::{bail, Context, Result};

use ckptlib::abi::{self, image as img};
use ckptlib::image::c_str;
use ckptlib::restart::{Image, TaskImage};

use crate::objects::{self, Parked};
use crate::plan::{Id, Plan, What};
use crate::restore;
use crate::sys;
use crate::sys::{check, clone_process, report_line, xrstor_and_restart, Board};
use crate::sys::{BOARD_CREATED, BOARD_JOINED};
use crate::thread::{Kind, ThreadStart, SHARE_FILES, SHARE_FS, SHARE_SIGHAND};

/// What every process of the restart shares, read-only (inherited across `fork`).
pub struct Ctx<'a> {
    pub image: &'a Image,
    pub plan: &'a Plan,
    pub parked: &'a Parked,
    pub board: &'a Board,
    /// The image, the device (the session) and the report pipe, at the same numbers in
    /// every process.
    pub own: [RawFd; 3],
    /// The group `rstr` is in: the root's, when its leader is not in the image.
    pub outer_pgid: i32,
}

/// Runs node `n` of the plan in the calling (new) process. Never returns.
pub fn node_main(ctx: &Ctx, n: usize) -> ! {
    let pid = ctx.plan.nodes[n].pid;
    let err = match run(ctx, n) {
        Ok(never) => match never {},
        Err(e) => format!("{e:#}"),
    };
    report_line(ctx.own[2], pid, &err);
    // SAFETY: leaving at once, without running anything of the parent's.
    unsafe { libc::_exit(1) }
}

/// Creates node `c` as a child of the caller.
pub fn spawn(ctx: &Ctx, c: usize) -> Result<()> {
    let node = &ctx.plan.nodes[c];
    if clone_process(node.pid, node.clone_flags, node.exit_signal)? == 0 {
        node_main(ctx, c)
    }
    Ok(())
}

fn run(ctx: &Ctx, n: usize) -> Result<std::convert::Infallible> {
    let plan = ctx.plan;
    let node = &plan.nodes[n];
    let n_all = plan.nr_processes();
    // SAFETY: plain system calls on this process.
    unsafe {
        if let What::Task(i) = node.what {
            if ctx.image.tree[i].flags & img::CKPT_TASK_SUBREAPER != 0 {
                check(
                    libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0).into(),
                    "PR_SET_CHILD_SUBREAPER",
                )?;
            }
        }
        if node.own_group {
            check(libc::setpgid(0, 0).into(), "setpgid(0, 0)")?;
        }
        for &c in &node.early {
            spawn(ctx, c)?;
        }
        if node.setsid {
            check(libc::setsid().into(), "setsid")?;
        }
        for &c in &node.late {
            spawn(ctx, c)?;
        }
    }
    ctx.board.barrier(BOARD_CREATED, n_all);
    ckptlib::phase::mark("child: created");
    if let Some(pg) = node.join {
        let pgid = match pg {
            Id::Outer => ctx.outer_pgid,
            Id::Led(g) => g,
        };
        // SAFETY: joining a group of our session.
        check(
            unsafe { libc::setpgid(0, pgid) }.into(),
            format!("joining process group {pgid}"),
        )?;
    }
    ctx.board.barrier(BOARD_JOINED, n_all);

    let i = match node.what {
        // SAFETY: a placeholder's work is done: its pid kept the session or group alive.
        What::Ghost => unsafe { libc::_exit(0) },
        What::Task(i) => i,
    };
    let e = &ctx.image.tree[i];
    if e.flags & img::CKPT_TASK_ZOMBIE != 0 {
        die_with(e.exit_code);
    }
    // Children that exit now: ghosts are reaped, zombies only waited for (their parent
    // will reap them). Their SIGCHLD is not the image's: it is dropped.
    for &c in node.early.iter().chain(&node.late) {
        let child = &plan.nodes[c];
        // SAFETY: waiting for our own children.
        unsafe {
            match child.what {
                What::Ghost => {
                    let mut st = 0;
                    libc::waitpid(child.pid, &mut st, 0);
                }
                What::Task(ci) if ctx.image.tree[ci].flags & img::CKPT_TASK_ZOMBIE != 0 => {
                    let mut info: libc::siginfo_t = std::mem::zeroed();
                    check(
                        libc::waitid(
                            libc::P_PID,
                            child.pid as libc::id_t,
                            &mut info,
                            libc::WEXITED | libc::WNOWAIT,
                        )
                        .into(),
                        format!("waiting for zombie {}", child.pid),
                    )?;
                }
                What::Task(_) => {}
            }
        }
    }
    drain_sigchld();
    let t = ctx.image.tasks[i]
        .as_ref()
        .context("a live task without records")?;
    ckptlib::phase::mark("child: joined");
    restore_process(ctx, i, t)
}

/// Ends this process as the image's zombie ended: `exit` with its code, or killed by its
/// signal (with no core dump).
fn die_with(status: i32) -> ! {
    let sig = status & 0x7f;
    // SAFETY: plain system calls ending this process.
    unsafe {
        if sig != 0 && sig != 0x7f {
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            libc::signal(sig, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, sig);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), sig);
        }
        libc::_exit((status >> 8) & 0xff)
    }
}

/// Drops a pending SIGCHLD (all signals are blocked while restoring).
fn drain_sigchld() {
    // SAFETY: plain system calls on this process.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGCHLD);
        let zero = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        while libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) > 0 {}
    }
}

fn restore_process(ctx: &Ctx, i: usize, t: &TaskImage) -> Result<std::convert::Infallible> {
    let e = &ctx.image.tree[i];
    let plan = ctx.plan;
    // SAFETY: each call below is a plain system call on values owned here; errors are checked.
    unsafe {
        if plan.owns_files[i] {
            let files = t.files.as_deref().unwrap_or(&[]);
            objects::install(files, e.files, ctx.parked, &ctx.own)?;
            objects::unpark(ctx.parked);
        }
        if let (true, Some((root, _))) = (plan.owns_fs[i], &t.fs) {
            if root != "/" {
                let r = CString::new(root.as_str())?;
                check(libc::chroot(r.as_ptr()).into(), format!("chroot {root}"))?;
            }
            libc::umask(t.task.umask as libc::mode_t);
        }
        for (n, l) in t.rlimits.rlim.iter().enumerate() {
            let new = libc::rlimit64 {
                rlim_cur: l.cur,
                rlim_max: l.max,
            };
            check(
                libc::prlimit64(
                    0,
                    n as libc::__rlimit_resource_t,
                    &new,
                    std::ptr::null_mut(),
                )
                .into(),
                format!("resource limit {n} to {}/{}", l.cur, l.max),
            )?;
        }
        check(
            libc::personality(t.task.personality as libc::c_ulong).into(),
            "personality",
        )?;
        // Of the memory, which stays ours when the module replaces its mappings.
        if t.task.thp_disable != 0 {
            let flags = t.task.thp_disable & !1;
            check(
                libc::prctl(libc::PR_SET_THP_DISABLE, 1, flags as libc::c_ulong, 0, 0).into(),
                format!("PR_SET_THP_DISABLE 1 {flags:#x}"),
            )?;
        }
        let comm = CString::new(c_str(&t.task.comm))?;
        check(
            libc::prctl(libc::PR_SET_NAME, comm.as_ptr()).into(),
            "PR_SET_NAME",
        )?;

        // Signal dispositions (raw rt_sigaction: the image's restorer, not libc's).
        if let Some(h) = &t.sighand {
            for (n, a) in h.action.iter().enumerate() {
                let sig = n as libc::c_long + 1;
                if sig == libc::SIGKILL as libc::c_long || sig == libc::SIGSTOP as libc::c_long {
                    continue;
                }
                let act = [a.handler, a.flags, a.restorer, a.mask];
                check(
                    libc::syscall(
                        libc::SYS_rt_sigaction,
                        sig,
                        act.as_ptr(),
                        std::ptr::null_mut::<u64>(),
                        8,
                    ),
                    format!("signal {sig}: rt_sigaction"),
                )?;
            }
        }
        if !sys::set_altstack(&t.signals) {
            return Err(sys::last_os("sigaltstack"));
        }
        let me = libc::getpid();
        for p in &t.pending {
            if let Err(signo) = sys::requeue_pending(me, me, p.shared != 0, p) {
                return Err(sys::last_os(format!("queueing pending signal {signo}")));
            }
        }
        if t.task.robust_list != 0 {
            check(
                libc::syscall(
                    libc::SYS_set_robust_list,
                    t.task.robust_list,
                    t.task.robust_list_len,
                ),
                "set_robust_list",
            )?;
        }
        libc::syscall(libc::SYS_set_tid_address, t.task.clear_child_tid);

        // Nice: lowering it needs CAP_SYS_NICE (or RLIMIT_NICE), so before the credentials
        // this process takes the lowest of its own and of the tasks it starts (they begin
        // with it; each raises its own); it raises its own last, just before the restart.
        let starts = |ti: usize, te: &img::CkptTreeEntry| {
            (te.tgid == e.pid && te.pid != e.pid)
                || plan.vm_children.get(&i).is_some_and(|v| v.contains(&ti))
        };
        let lowest = (ctx.image.tree.iter().zip(&ctx.image.tasks).enumerate())
            .filter(|(ti, (te, _))| starts(*ti, te))
            .filter_map(|(_, (_, tt))| tt.as_ref().map(|tt| tt.task.nice))
            .fold(t.task.nice, i32::min);
        restore::set_nice(lowest)?;

        // The vDSO moves to where the image has it; the module checks it landed there.
        restore::move_vdso(t)?;
        // rseq: ours goes, the image's comes.
        restore::swap_rseq(t)?;

        // Threads: all prepared before any starts (they share our memory and must find
        // everything ready), then started, before our credentials change (creating a task
        // with a chosen pid needs CAP_CHECKPOINT_RESTORE); each sets its own credentials and
        // waits in the module for our memory.
        let own = ctx.own;
        let mut threads = Vec::new();
        for (ti, te) in ctx.image.tree.iter().enumerate() {
            if te.tgid == e.pid && te.pid != e.pid {
                let tt = ctx.image.tasks[ti]
                    .as_ref()
                    .context("a thread without records")?;
                threads.push(ThreadStart::new(tt, Kind::Thread, own, &own)?);
            }
        }
        for &ci in plan.vm_children.get(&i).into_iter().flatten() {
            let ce = &ctx.image.tree[ci];
            let ct = ctx.image.tasks[ci]
                .as_ref()
                .context("a process without records")?;
            let mut shares = 0;
            for (same, flag) in [
                (ce.sighand == e.sighand, SHARE_SIGHAND),
                (ce.files == e.files, SHARE_FILES),
                (ce.fs == e.fs, SHARE_FS),
            ] {
                if same {
                    shares |= flag;
                }
            }
            let kind = Kind::Process {
                shares,
                exit_signal: ce.exit_signal,
                stopped: ce.flags & img::CKPT_TASK_STOPPED != 0,
            };
            threads.push(ThreadStart::new(ct, kind, own, &own)?);
        }
        let mut reason = [0u8; 513];
        let mut args = abi::CkptRestartArgs {
            fd: own[0],
            err_fd: own[2],
            flags: if e.flags & img::CKPT_TASK_STOPPED != 0 {
                abi::CKPT_RESTART_STOPPED
            } else {
                0
            },
            reason: reason.as_mut_ptr() as u64,
            reason_len: reason.len() as u32,
            nr_close: 3,
            close_fds: [0; abi::CKPT_RESTART_MAX_CLOSE],
            blocked: t.signals.blocked,
            pos: t.kernel_pos,
            mm_sharers: threads.len() as u32,
            __reserved: 0,
        };
        args.close_fds[..3].copy_from_slice(&own);

        // XSAVE areas must be 64-byte aligned.
        let layout = std::alloc::Layout::from_size_align(t.xsave.len(), 64)?;
        let area = std::alloc::alloc(layout);
        anyhow::ensure!(!area.is_null(), "out of memory");
        std::ptr::copy_nonoverlapping(t.xsave.as_ptr(), area, t.xsave.len());

        for th in &mut threads {
            th.spawn()?;
        }
        // The structs stay: the threads read them until the module takes over.
        std::mem::forget(threads);

        // Credentials, then what a change of credentials resets (commit_creds sets dumpable
        // to the suid_dumpable sysctl and clears the parent-death signal).
        restore::set_credentials(t)?;
        if t.task.dumpable != u32::MAX {
            nix::sys::prctl::set_dumpable(t.task.dumpable == 1)
                .with_context(|| format!("PR_SET_DUMPABLE {}", t.task.dumpable))?;
        }
        let parent_in_tree = ctx.image.tree.iter().any(|p| p.pid == t.task.ppid);
        restore::set_pdeathsig(t, parent_in_tree)?;
        if t.task.timer_slack_ns != 0 {
            nix::sys::prctl::set_timerslack(t.task.timer_slack_ns as libc::c_ulong)
                .with_context(|| format!("PR_SET_TIMERSLACK {}", t.task.timer_slack_ns))?;
        }
        if lowest != t.task.nice {
            restore::set_nice(t.task.nice)?;
        }
        // Per task, and for good: after the threads started (each sets its own).
        if t.task.no_new_privs != 0 {
            nix::sys::prctl::set_no_new_privs().context("PR_SET_NO_NEW_PRIVS")?;
        }
        if let (true, Some((_, cwd))) = (plan.owns_fs[i], &t.fs) {
            let c = CString::new(cwd.as_str())?;
            check(libc::chdir(c.as_ptr()).into(), format!("chdir {cwd}"))?;
        }

        let ret = xrstor_and_restart(area, own[1], &args);
        // Only a failure before anything was changed comes back here.
        let why = c_str(&reason);
        bail!(
            "{} ({})",
            why,
            std::io::Error::from_raw_os_error(-ret as i32)
        )
    }
}
