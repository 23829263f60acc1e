// SPDX-License-Identifier: GPL-2.0

//! One process of the tree being rebuilt, from its creation to the restart ioctl.
//!
//! 1. It takes its session and group (`setsid`, `setpgid(0, 0)`), creating around that the
//!    children that belong on either side, as the [plan](crate::plan) says.
//! 2. Once every process exists (a barrier shared by all), it joins its group; once all have
//!    (a second barrier), ghosts and zombies exit: zombies with the image's status, so that
//!    their parent finds them dead and unreaped.
//! 0. Before anything, it maps its private memory itself ([`cow`]), so that its children
//!    inherit it copy-on-write.
//! 3. It restores what is its own with system calls: descriptors ([`files`], if it owns its
//!    table; a third barrier waits for every table to be whole), root and cwd ([`fs`], if it owns its fs context), limits, handlers
//!    ([`signals`]), what every task restores ([`per_task`]), the vDSO and rseq
//!    ([`memory`]), credentials ([`creds`]); starts its threads ([`crate::thread`]); and
//!    calls the restart ioctl, which does not return until every task of the tree is
//!    restored.
//!
//! Every failure is reported as one line on the report pipe; `rstr` then kills the tree.

use std::convert::Infallible;

use anyhow::{ensure, Context, Result};
use nix::sys::prctl;
use nix::sys::wait::{waitid, waitpid, Id as WaitId, WaitPidFlag};
use nix::unistd::{getpid, getppid, setpgid, setsid, Pid};

use ckptlib::abi::{self, image as img};
use ckptlib::image::c_str;
use ckptlib::restart::{Image, TaskImage};

use crate::files::{self, OwnFds, Parked};
use crate::per_task::{self, Own};
use crate::plan::{Id, Plan, What};
use crate::sys::board::{Board, BOARD_CREATED, BOARD_FILES, BOARD_JOINED};
use crate::sys::clone::clone_process;
use crate::sys::cpu::{self, XsaveArea};
use crate::thread::{Kind, ThreadStart, SHARE_FILES, SHARE_FS, SHARE_SIGHAND};
use crate::{attrs, cow, creds, fs, memory, signals, sys, timers};

/// What every process of the restart shares, read-only (inherited across `fork`).
pub struct Ctx<'a> {
    pub image: &'a Image,
    pub plan: &'a Plan,
    pub parked: &'a Parked,
    pub board: &'a Board,
    /// The image, the device (the session), the report pipe and the log, at the same
    /// numbers in every process.
    pub own: OwnFds,
    /// The group `rstr` is in: the root's, when its leader is not in the image.
    pub outer_pgid: i32,
    /// `rstr`'s descriptors of its own namespaces (network, IPC), open while a container's
    /// init is cloned in the new ones: the init closes them first.
    pub outer_ns: Vec<std::os::fd::RawFd>,
}

/// A process that shares its parent's memory is started by the restored parent with
/// `clone(CLONE_VM | ...)`: what it does not share it gets as a copy of the parent's, which
/// must then be what the image has.
pub fn check_vm_children(image: &Image, plan: &Plan) -> Result<()> {
    let table = |id: u32| {
        image
            .tree
            .iter()
            .zip(&image.tasks)
            .find(|(e, t)| e.files == id && t.as_ref().is_some_and(|t| t.files.is_some()))
            .and_then(|(_, t)| t.as_ref()?.files.as_ref())
            .map(|f| {
                f.iter()
                    .map(|f| (f.rec.fd, f.rec.obj, f.rec.cloexec))
                    .collect::<Vec<_>>()
            })
    };
    let fs = |id: u32| {
        image
            .tree
            .iter()
            .zip(&image.tasks)
            .find_map(|(e, t)| t.as_ref().filter(|_| e.fs == id)?.fs.clone())
    };
    let handlers = |id: u32| {
        image
            .tree
            .iter()
            .zip(&image.tasks)
            .find_map(|(e, t)| t.as_ref().filter(|_| e.sighand == id)?.sighand)
    };
    for (&p, children) in &plan.vm_children {
        let (pe, pt) = (&image.tree[p], image.tasks[p].as_ref().context("parent")?);
        for &c in children {
            let (ce, ct) = (&image.tree[c], image.tasks[c].as_ref().context("child")?);
            let same = [
                ("descriptor table", table(ce.files) == table(pe.files)),
                (
                    "root and cwd",
                    fs(ce.fs) == fs(pe.fs) && ct.task.umask == pt.task.umask,
                ),
                (
                    "signal handlers",
                    handlers(ce.sighand) == handlers(pe.sighand),
                ),
                (
                    "credentials",
                    ct.creds == pt.creds && ct.groups == pt.groups,
                ),
                ("resource limits", ct.rlimits == pt.rlimits),
            ];
            // Its restart (the parent's path) takes no POSIX locks; the module refuses them.
            ensure!(
                !ct.locks.iter().any(|l| l.kind == img::lock_kind::POSIX),
                "process {} shares its parent's memory and holds POSIX locks: not supported yet",
                ce.pid
            );
            for (what, ok) in same {
                ensure!(
                    ok,
                    "process {} shares its parent's memory but not its {what}, which differs: \
                     not supported yet",
                    ce.pid
                );
            }
        }
    }
    Ok(())
}

/// Runs node `n` of the plan in the calling (new) process. Never returns.
pub fn node_main(ctx: &Ctx, n: usize) -> ! {
    let pid = ctx.plan.nodes[n].pid;
    let err = match run(ctx, n) {
        Ok(never) => match never {},
        Err(e) => (format!("{e:#}"), errno_of(&e)),
    };
    if sys::report_line(ctx.own.report, pid, &err.0) {
        sys::exit_now(1)
    }
    // The report could not be written (out of memory, most likely): the errno of the failure
    // is the exit status, which rstr's supervisor shows (supervise::dead).
    sys::exit_now(err.1.filter(|&e| e > 1 && e < 256).unwrap_or(1))
}

/// The errno a failure carries, if any of its causes has one.
fn errno_of(e: &anyhow::Error) -> Option<i32> {
    e.chain().find_map(|c| {
        c.downcast_ref::<RestartFailed>()
            .map(|r| r.0 as i32)
            .or_else(|| c.downcast_ref::<nix::errno::Errno>().map(|&e| e as i32))
            .or_else(|| {
                c.downcast_ref::<std::io::Error>()
                    .and_then(|e| e.raw_os_error())
            })
            .or_else(|| {
                c.downcast_ref::<crate::per_task::Failed>()
                    .map(|f| f.errno as i32)
            })
    })
}

/// The restart ioctl's failure: the module's reason and its errno.
#[derive(Debug)]
struct RestartFailed(nix::errno::Errno, String);

impl std::fmt::Display for RestartFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}

impl std::error::Error for RestartFailed {}

/// Creates node `c` as a child of the caller.
pub fn spawn(ctx: &Ctx, c: usize) -> Result<()> {
    let node = &ctx.plan.nodes[c];
    if clone_process(node.pid, node.clone_flags, node.exit_signal)? == 0 {
        node_main(ctx, c)
    }
    Ok(())
}

fn run(ctx: &Ctx, n: usize) -> Result<Infallible> {
    let plan = ctx.plan;
    let node = &plan.nodes[n];
    let n_all = plan.nr_processes();
    if let What::Task(i) = node.what {
        if ctx.image.tree[i].flags & img::CKPT_TASK_SUBREAPER != 0 {
            prctl::set_child_subreaper(true).context("PR_SET_CHILD_SUBREAPER")?;
        }
        // Before any child exists: they inherit it copy-on-write. A process with no child
        // that inherited nothing shares nothing: the module restores its memory.
        let forks = !node.early.is_empty() || !node.late.is_empty();
        if let Some(t) = ctx.image.tasks[i].as_ref().filter(|t| t.owns_mm) {
            if forks || cow::inherited() {
                cow::prepare(t, sys::borrow(ctx.own.image))?;
            }
        }
    }
    if node.own_group {
        setpgid(Pid::from_raw(0), Pid::from_raw(0)).context("setpgid(0, 0)")?;
    }
    for &c in &node.early {
        spawn(ctx, c)?;
    }
    if node.setsid {
        setsid().context("setsid")?;
    }
    for &c in &node.late {
        spawn(ctx, c)?;
    }
    ctx.board.barrier(BOARD_CREATED, n_all);
    ckptlib::phase::mark("child: created");
    if let Some(pg) = node.join {
        let pgid = match pg {
            Id::Outer => ctx.outer_pgid,
            Id::Led(g) => g,
        };
        setpgid(Pid::from_raw(0), Pid::from_raw(pgid))
            .with_context(|| format!("joining process group {pgid}"))?;
    }
    ctx.board.barrier(BOARD_JOINED, n_all);

    let i = match node.what {
        // A placeholder's work is done: its pid kept the session or group alive.
        What::Ghost => sys::exit_now(0),
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
        let pid = Pid::from_raw(child.pid);
        match child.what {
            What::Ghost => {
                waitpid(pid, None).with_context(|| format!("reaping placeholder {pid}"))?;
            }
            What::Task(ci) if ctx.image.tree[ci].flags & img::CKPT_TASK_ZOMBIE != 0 => {
                waitid(
                    WaitId::Pid(pid),
                    WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT,
                )
                .with_context(|| format!("waiting for zombie {pid}"))?;
            }
            What::Task(_) => {}
        }
    }
    signals::drain_sigchld()?;
    let t = ctx.image.tasks[i]
        .as_ref()
        .context("a live task without records")?;
    ckptlib::phase::mark("child: joined");
    restore_process(ctx, i, t)
}

/// Ends this process as the image's zombie ended: `exit` with its code, or killed by its
/// signal (with no core dump).
fn die_with(status: i32) -> ! {
    let (sig, code) = (status & 0x7f, (status >> 8) & 0xff);
    if sig != 0 && sig != 0x7f {
        signals::die_by(sig, code)
    }
    sys::exit_now(code)
}

/// The lowest nice value of process `i` (`e`, `t`) and of the tasks it starts (its threads
/// and the processes sharing its memory, which begin with its nice): lowering the nice value
/// needs CAP_SYS_NICE (or RLIMIT_NICE), so the process takes it before its credentials
/// change, and each task raises its own after ([`per_task::after_creds`]).
fn lowest_nice(image: &Image, plan: &Plan, i: usize) -> i32 {
    let e = &image.tree[i];
    let starts = |ti: usize, te: &img::CkptTreeEntry| {
        (te.tgid == e.pid && te.pid != e.pid)
            || plan.vm_children.get(&i).is_some_and(|v| v.contains(&ti))
    };
    let own = image.tasks[i].as_ref().map_or(0, |t| t.task.nice);
    (image.tree.iter().zip(&image.tasks).enumerate())
        .filter(|(ti, (te, _))| starts(*ti, te))
        .filter_map(|(_, (_, tt))| tt.as_ref().map(|tt| tt.task.nice))
        .fold(own, i32::min)
}

/// The tasks process `i` starts on its memory, prepared (all before any starts: they share
/// its memory and must find everything ready): its threads, then the processes sharing
/// its memory.
fn prepare_threads(ctx: &Ctx, i: usize) -> Result<Vec<ThreadStart>> {
    let e = &ctx.image.tree[i];
    let own = ctx.own;
    let close = own.all();
    let mut threads = Vec::new();
    for (ti, te) in ctx.image.tree.iter().enumerate() {
        if te.tgid == e.pid && te.pid != e.pid {
            let tt = ctx.image.tasks[ti]
                .as_ref()
                .context("a thread without records")?;
            threads.push(ThreadStart::new(
                tt,
                Kind::Thread,
                own,
                &close,
                &ctx.parked.mapped,
            )?);
        }
    }
    for &ci in ctx.plan.vm_children.get(&i).into_iter().flatten() {
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
        threads.push(ThreadStart::new(ct, kind, own, &close, &ctx.parked.mapped)?);
    }
    Ok(threads)
}

/// Waits until this process's parent is the image's: a process created by a placeholder is
/// its child until the placeholder exits and the process is reparented to the image's
/// parent (a subreaper); a parent-death signal set before would be sent by that exit. The
/// root's parent is `rstr` (outside the image), its parent from the start.
fn wait_for_parent(ppid: i32) -> Result<()> {
    let mut waited = 0;
    while getppid().as_raw() != ppid {
        ensure!(
            waited < 10_000,
            "the parent is still {} instead of {ppid} after 10 s",
            getppid()
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
        waited += 1;
    }
    Ok(())
}

fn restore_process(ctx: &Ctx, i: usize, t: &TaskImage) -> Result<Infallible> {
    let e = &ctx.image.tree[i];
    let plan = ctx.plan;
    if plan.owns_files[i] {
        let files = t.files.as_deref().unwrap_or(&[]);
        files::install(files, e.files, ctx.parked, &ctx.own.all())?;
        files::unpark(ctx.parked)?;
    }
    // A process that shares its owner's table (CLONE_FILES) must not open anything while
    // the owner installs it: a descriptor it opened would take a number the owner is about
    // to dup3 to (EBUSY while the other's open holds it). Every table is complete before any
    // process goes on.
    ctx.board
        .barrier(BOARD_FILES, plan.nr_restored(&ctx.image.tree));
    let cwd = if plan.owns_fs[i] {
        fs::enter_root(t)?
    } else {
        fs::Cwd::None
    };
    for (n, l) in t.rlimits.rlim.iter().enumerate() {
        sys::set_rlimit(n as u32, l.cur, l.max)
            .with_context(|| format!("resource limit {n} to {}/{}", l.cur, l.max))?;
    }
    memory::set_thp(t)?;
    if let Some(h) = &t.sighand {
        signals::set_handlers(h)?;
    }
    let me = getpid().as_raw();
    let own = Own {
        tgid: me,
        tid: me,
        task: &t.task,
        attrs: &t.attrs,
        signals: &t.signals,
        pending: &t.pending,
    };
    per_task::before_creds(own)?;

    let lowest = lowest_nice(ctx.image, plan, i);
    sys::raw::set_nice(lowest).with_context(|| {
        format!("nice {lowest} (lowering it needs CAP_SYS_NICE or RLIMIT_NICE)")
    })?;
    // The vDSO moves to where the image has it; the module checks it landed there.
    memory::move_vdso(t)?;
    // rseq: ours goes, the image's comes.
    sys::unregister_own_rseq()?;
    memory::register_rseq(&t.task, cow::holds(t.task.rseq)).with_context(|| {
        format!(
            "the image's rseq area {:#x} of {} bytes",
            t.task.rseq, t.task.rseq_len
        )
    })?;

    // Threads: prepared, then started, before our credentials change (creating a task with
    // a chosen pid needs CAP_CHECKPOINT_RESTORE); each sets its own credentials and waits in
    // the module for our memory.
    let threads = prepare_threads(ctx, i)?;
    // Its SysV attaches, through which the module maps the image's (as root: the
    // segments' modes may leave the task's own credentials no access until they are in).
    let shm_at = crate::ipc::attach(ctx.image, t)?;
    crate::ipc::apply_undo(ctx.image, t.task.pid)?;
    // Alive until the ioctl, which reads it.
    let kept = cow::held();
    let mut reason = [0u8; 513];
    let close = ctx.own.all();
    let mut args = abi::CkptRestartArgs {
        fd: ctx.own.image,
        err_fd: ctx.own.report,
        flags: ctx.own.flags()
            | if e.flags & img::CKPT_TASK_STOPPED != 0 {
                abi::CKPT_RESTART_STOPPED
            } else {
                0
            },
        reason: reason.as_mut_ptr() as u64,
        reason_len: reason.len() as u32,
        nr_close: close.len() as u32,
        close_fds: [0; abi::CKPT_RESTART_MAX_CLOSE],
        blocked: t.signals.blocked,
        pos: t.kernel_pos,
        mm_sharers: threads.len() as u32,
        nr_kept: kept.len() as u32,
        kept: kept.as_ptr() as u64,
        log_fd: ctx.own.log,
        log_level: ctx.own.log_level,
        nr_objs: ctx.parked.mapped.len() as u32,
        nr_shm_at: shm_at.len() as u32,
        objs: ctx.parked.mapped.as_ptr() as u64,
        shm_at: shm_at.as_ptr() as u64,
    };
    args.close_fds[..close.len()].copy_from_slice(&close);
    let area = XsaveArea::new(&t.xsave)?;
    for th in threads {
        th.spawn()?;
    }
    // Every task exists, our threads too: owners can be set (with their uids).
    crate::fown::restore(ctx.image, i)?;
    // Its threads are started: they do not inherit these, each sets its own.
    attrs::apply(own).context("scheduling attributes")?;

    // Known to pidfs before any socket names it as its peer (unix::peers).
    sys::register_own_pid()?;
    // Credentials, then what a change of credentials resets (commit_creds sets dumpable
    // to the suid_dumpable sysctl and clears the parent-death signal).
    creds::set_credentials(t)?;
    if t.task.pdeath_signal != 0 && ctx.image.tree.iter().any(|p| p.pid == t.task.ppid) {
        wait_for_parent(t.task.ppid)?;
    }
    per_task::after_creds(own)?;
    fs::enter_cwd(cwd)?;
    // Its POSIX locks, once nothing of this process closes a descriptor of the image's
    // files any more (a close drops the process's POSIX locks on that file).
    if plan.owns_files[i] {
        crate::locks::take_posix(t, me)?;
    }
    // Last: what keeps running from here on counts down towards the restored process.
    if let Some(timers) = &t.timers {
        timers::restore(me, timers, ctx.own.dev)?;
    }

    let err = cpu::restart(&area, ctx.own.dev, &args);
    // Only a failure before anything was changed comes back here.
    let why = format!("{} ({})", c_str(&reason), std::io::Error::from(err));
    Err(RestartFailed(err, why).into())
}
