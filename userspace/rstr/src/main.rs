// SPDX-License-Identifier: GPL-2.0

//! `rstr`: restart a process tree from an image written by `ckpt`.
//!
//! The work is split between this program and the kernel module, along what a module can
//! reach (Documentation/design.rst): `rstr` scans and checks the image, plans the tree
//! ([`plan`]), opens the image's files and pipes once ([`objects`]), makes its open file of
//! `/dev/checkpoint` a restart session, and creates the tree with the image's pids
//! (`clone3` with `set_tid`). Each process ([`task`]) restores with ordinary system calls
//! what the module cannot (descriptors, handlers, pending signals, credentials, limits, the
//! vDSO's place), starts its threads ([`thread`]), loads its FPU state (`XRSTOR`) and calls
//! `CKPT_IOC_RESTART`, in which the module replaces its memory and registers and waits.
//! When every task is restored, `rstr` lets them all go at once (`CKPT_IOC_RESTART_GO`);
//! if any fails, it kills them all.

mod inherit;
mod objects;
mod plan;
mod restore;
mod sys;
mod task;
mod thread;

use std::fs::File;
use std::io::{self, BufRead, Seek};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, ensure, Context, Result};
use clap::Parser;

use ckptlib::abi::{self, image as img};
use ckptlib::device::Device;
use ckptlib::image::RecordReader;
use ckptlib::restart::{check_xstate, scan, Image};

use sys::{check, clone_process, cpu_xsave, pipe, Board, CLONE_NEWPID};

/// Restart a process tree from a checkpoint image (written by `ckpt`).
///
/// Every process and thread gets its original pid back (an error names a pid that is
/// taken), with its parent, process group and session, and continues where it was
/// checkpointed; zombies come back as zombies, stopped processes stopped. The root of the
/// tree is a child of rstr. rstr waits for the root and exits with its exit status (128 + N
/// if signal N killed it), or, with --detach, prints the root's pid and exits once every
/// task runs.
///
/// With --pidns (always for an image made with `ckpt --container`) the tree comes back in
/// a new pid namespace, where the image's pids are free: a container's init is pid 1 there;
/// for another image rstr adds a small init as pid 1, and the pid printed is the root's as
/// seen from outside.
///
/// Restart needs /dev/checkpoint (`insmod ckpt.ko`) and the right to choose pids
/// (CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN). Each process gets only the credentials the
/// caller could set itself: an unprivileged user cannot restart a root image. Files are
/// opened once by rstr, with its own credentials, and shared as they were. Either the whole
/// tree comes back or none of it runs: on any failure every task is killed and rstr exits
/// non-zero with the reason.
///
/// Terminals (a shell job): a descriptor that was on a terminal (a tty, pty or console;
/// `ckpt show` marks them) is not reopened: as a job started from this shell would, the
/// restarted process gets rstr's own descriptor of the same number for its 0, 1 and 2, and
/// rstr's first terminal among 0, 1, 2 for a higher one. So `ckpt --kill PID` then `rstr
/// IMAGE` in the same shell works even when the old terminal is gone, busy or another's,
/// and `rstr IMAGE </dev/pts/4 >/dev/pts/4 2>&1` puts it on another. While rstr waits (no
/// --detach) the restored root's process group is the terminal's foreground group; when it
/// stops (Ctrl-Z) rstr stops too, and `fg` continues both.
#[derive(Parser, Debug)]
#[command(version, about, long_about)]
struct Cli {
    /// The image to restart from; `-` reads it from standard input.
    image: PathBuf,
    /// Leave the restarted tree running, print the root's pid and exit.
    #[arg(short, long)]
    detach: bool,
    /// Restart in a new pid namespace.
    #[arg(long)]
    pidns: bool,
    /// Give descriptor FD of process PID (of every process of the image if no PID: pids
    /// as the image has them) rstr's own open descriptor RSTRFD instead of reopening what
    /// the image names: for a file that is gone or cannot be opened, the other end of a
    /// pipe outside the tree, or to choose what a terminal descriptor gets. The descriptor
    /// keeps RSTRFD's offset and flags (shared with rstr's); close-on-exec is the image's.
    /// Repeatable. E.g. `rstr --fd 1=5 IMAGE 5>>log`, `rstr --fd 4242:3=0 IMAGE </dev/null`.
    #[arg(long = "fd", value_name = "[PID:]FD=RSTRFD")]
    fds: Vec<inherit::FdSpec>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    ckptlib::cli::run("rstr", || run(cli))
}

/// The image as a seekable file: a pipe is first copied to an unnamed temporary file.
fn open_image(path: &PathBuf) -> Result<File> {
    let mut f = if path.as_os_str() == "-" {
        // SAFETY: duplicating standard input, which we then own.
        let fd = check(unsafe { libc::dup(0) }.into(), "dup of standard input")?;
        // SAFETY: `fd` is a fresh descriptor.
        File::from(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    } else {
        File::open(path).with_context(|| format!("cannot open {}", path.display()))?
    };
    if f.stream_position().is_ok() {
        return Ok(f);
    }
    let mut tmp = tempfile_in_memory()?;
    io::copy(&mut f, &mut tmp).context("copying the image from its pipe")?;
    tmp.rewind()?;
    Ok(tmp)
}

fn tempfile_in_memory() -> Result<File> {
    let name = c"rstr-image";
    // SAFETY: a new anonymous memory file, which we own.
    let fd = check(
        unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) }.into(),
        "memfd_create",
    )?;
    // SAFETY: `fd` is a fresh descriptor.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }))
}

fn run(cli: Cli) -> Result<ExitCode> {
    ckptlib::phase::mark("start");
    // Before anything is opened: a descriptor of ours must not take a number the user meant.
    let inherited = inherit::at_start(cli.fds.clone())?;
    let dev = Device::open()?;
    ensure!(
        dev.version().features & abi::CKPT_FEATURE_RESTART != 0,
        "the loaded module cannot restart (features {:#x})",
        dev.version().features
    );
    let image_file = open_image(&cli.image)?;
    // Buffered: the scan reads every record header and skips the module's payloads; small
    // ones are skipped inside the buffer, with no system call.
    let image = scan(&mut RecordReader::new(io::BufReader::with_capacity(
        64 << 10,
        &image_file,
    )))
    .context("reading the image")?;
    let (xcr0, xsize) = cpu_xsave();
    for t in image.tasks.iter().flatten() {
        check_xstate(t, xcr0, xsize).with_context(|| format!("task {}", t.task.pid))?;
    }
    ckptlib::phase::mark("scanned");
    let plan = plan::plan(&image.tree)?;
    check_vm_children(&image, &plan)?;
    let pidns = cli.pidns || image.container;
    ensure!(
        !image.container || image.tree[0].pid == 1,
        "a container image whose init is not pid 1"
    );
    let root = plan.nodes[0].pid;
    ensure!(
        may_choose_pids()?,
        "choosing pid {root} needs CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN)"
    );
    let live = image.tasks.iter().flatten().count() as u32;
    sys::session_begin(dev.file().as_raw_fd(), live)?;

    // Our descriptors go above every descriptor of the image, the parked objects above them.
    let top = objects::highest_fd(&image) + 1;
    let (rd_end, wr_end) = pipe()?;
    let own = [
        image_file.as_raw_fd(),
        dev.file().as_raw_fd(),
        wr_end.as_raw_fd(),
    ];
    let mut moved = [0; 3];
    for (k, fd) in own.iter().enumerate() {
        // SAFETY: duplicating our own descriptors to the lowest free numbers from `top`.
        moved[k] = check(
            unsafe { libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, top) }.into(),
            "moving rstr's descriptors",
        )? as RawFd;
    }
    let given = inherit::choose(&image, &inherited)?;
    let parked = objects::park(&image, moved.iter().max().unwrap() + 1, &given)?;
    let board = Board::new()?;
    ckptlib::phase::mark("parked");
    // SAFETY: reading our own process group.
    let outer_pgid = unsafe { libc::getpgid(0) };
    let ctx = task::Ctx {
        image: &image,
        plan: &plan,
        parked: &parked,
        board: &board,
        own: moved,
        outer_pgid,
    };

    // Every signal stays blocked in the new processes until the module sets their masks.
    block_all_signals()?;
    // Until the tree runs, a process whose creator failed comes to us, not to init: a
    // failed restart finds and kills it (kill_all). The plan leaves no other orphan.
    if !pidns {
        set_subreaper(true)?;
    }
    let first = if pidns {
        let init = clone_process(0, CLONE_NEWPID, libc::SIGCHLD)?;
        if init == 0 {
            if image.container {
                task::node_main(&ctx, 0)
            }
            ns_init(&ctx)
        }
        init
    } else {
        match clone_process(root, 0, plan.nodes[0].exit_signal) {
            Ok(0) => task::node_main(&ctx, 0),
            Ok(p) => p,
            Err(e) => return Err(e),
        }
    };
    drop(wr_end);
    // SAFETY: closing our copy of the moved report descriptor: only the tree writes to it.
    unsafe { libc::close(moved[2]) };

    ckptlib::phase::mark("cloned");
    if let Err(e) = wait_ready(rd_end, live, first, &image, pidns) {
        kill_all(first, pidns);
        return Err(e);
    }
    ckptlib::phase::mark("ready");
    let shown = if pidns && !image.container {
        outer_pid_of_root(first, root).unwrap_or(first)
    } else {
        first
    };
    // Before the tree runs: a restored process reading its terminal at once must find
    // itself in the foreground. Given back when this function returns.
    let foreground = (!cli.detach)
        .then(|| inherit::Foreground::hand_over(&inherited, &given, shown))
        .flatten();
    if let Err(e) = sys::session_go(dev.file().as_raw_fd()) {
        kill_all(first, pidns);
        return Err(e);
    }
    ckptlib::phase::mark("go");
    if !pidns {
        set_subreaper(false)?;
    }
    if cli.detach {
        println!("{shown}");
        return Ok(ExitCode::SUCCESS);
    }
    let status = match &foreground {
        Some(f) => f.wait(first),
        None => wait_status(first),
    };
    drop(foreground);
    Ok(match status {
        Status::Exited(c) => ExitCode::from(c as u8),
        Status::Killed(s) => ExitCode::from(128u8.wrapping_add(s as u8)),
    })
}

/// A process that shares its parent's memory is started by the restored parent with
/// `clone(CLONE_VM | ...)`: what it does not share it gets as a copy of the parent's, which
/// must then be what the image has.
fn check_vm_children(image: &Image, plan: &plan::Plan) -> Result<()> {
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

/// Whether this process may give new processes the pids it chooses (`clone3` with
/// `set_tid`): asked before anything is opened or created, so that a restart that cannot
/// succeed says why first.
fn may_choose_pids() -> Result<bool> {
    const CAP_SYS_ADMIN: u32 = 21;
    const CAP_CHECKPOINT_RESTORE: u32 = 40;
    let status = std::fs::read_to_string("/proc/self/status").context("/proc/self/status")?;
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .context("no CapEff in /proc/self/status")?;
    Ok(eff & (1 << CAP_SYS_ADMIN | 1 << CAP_CHECKPOINT_RESTORE) != 0)
}

fn set_subreaper(on: bool) -> Result<()> {
    // SAFETY: a plain system call on this process.
    check(
        unsafe {
            libc::prctl(
                libc::PR_SET_CHILD_SUBREAPER,
                libc::c_ulong::from(on),
                0,
                0,
                0,
            )
        }
        .into(),
        "PR_SET_CHILD_SUBREAPER",
    )?;
    Ok(())
}

/// Our children: the first process and, while we are a subreaper, every orphan of the tree.
fn own_children() -> Vec<i32> {
    std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .flat_map(|t| {
            let c = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            c.split_whitespace()
                .filter_map(|c| c.parse().ok())
                .collect::<Vec<i32>>()
        })
        .collect()
}

fn block_all_signals() -> Result<()> {
    // SAFETY: plain system calls on this process.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        check(
            libc::sigprocmask(libc::SIG_SETMASK, &all, std::ptr::null_mut()).into(),
            "sigprocmask",
        )?;
    }
    Ok(())
}

/// The init `rstr` adds to a new pid namespace for an image that has none: it creates the
/// root, reaps whatever is orphaned to it, and ends with the root's status (which ends the
/// namespace).
fn ns_init(ctx: &task::Ctx) -> ! {
    let root = ctx.plan.nodes[0].pid;
    if let Err(e) = task::spawn(ctx, 0) {
        sys::report_line(ctx.own[2], 1, &format!("{e:#}"));
        // SAFETY: leaving at once.
        unsafe { libc::_exit(1) }
    }
    // The init keeps no descriptor: none of rstr's, none of the caller's (a pipe it held
    // open would keep whoever reads rstr's output waiting).
    // SAFETY: closing every descriptor of this process, which uses none from here on.
    unsafe { libc::syscall(libc::SYS_close_range, 0, u32::MAX, 0) };
    // SAFETY: reaping children until the root is gone.
    unsafe {
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        libc::prctl(libc::PR_SET_NAME, c"rstr-init".as_ptr());
        loop {
            let mut st = 0;
            let p = libc::waitpid(-1, &mut st, 0);
            if p == root {
                if libc::WIFSIGNALED(st) {
                    libc::_exit(128 + libc::WTERMSIG(st));
                }
                libc::_exit(libc::WEXITSTATUS(st));
            }
            if p < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD) {
                libc::_exit(0);
            }
        }
    }
}

/// The outer pid of the root inside the namespace whose init is `init`.
fn outer_pid_of_root(init: i32, root: i32) -> Option<i32> {
    let children = std::fs::read_to_string(format!("/proc/{init}/task/{init}/children")).ok()?;
    children
        .split_whitespace()
        .filter_map(|c| c.parse::<i32>().ok())
        .find(|c| {
            std::fs::read_to_string(format!("/proc/{c}/status"))
                .ok()
                .and_then(|s| {
                    s.lines()
                        .find(|l| l.starts_with("NSpid:"))
                        .and_then(|l| l.split_whitespace().last()?.parse::<i32>().ok())
                })
                == Some(root)
        })
}

/// Reads the tree's report lines until `live` tasks said `OK`; any other line is a failure.
/// Also fails if the first process (the root, or the namespace's init) dies first.
fn wait_ready(report: OwnedFd, live: u32, first: i32, image: &Image, pidns: bool) -> Result<()> {
    let mut ok = 0;
    let mut rd = io::BufReader::new(File::from(report));
    let mut line = String::new();
    while ok < live {
        let mut pfd = libc::pollfd {
            fd: rd.get_ref().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: polling one descriptor we own.
        let n = if rd.buffer().is_empty() {
            unsafe { libc::poll(&mut pfd, 1, 500) }
        } else {
            1
        };
        if n == 0 {
            if let Some(why) = dead(first, image, pidns) {
                bail!("restart failed: {why} before every task was restored");
            }
            continue;
        }
        line.clear();
        if rd.read_line(&mut line)? == 0 {
            bail!("restart failed: every task died before it was restored");
        }
        match line.trim_end() {
            "OK" => ok += 1,
            why => bail!("restart failed: {why}"),
        }
    }
    Ok(())
}

/// Whether a task of the tree died: the first process, or (in our namespace) any live one.
fn dead(first: i32, image: &Image, pidns: bool) -> Option<String> {
    let mut st = 0;
    // SAFETY: a non-blocking wait for our own child.
    if unsafe { libc::waitpid(first, &mut st, libc::WNOHANG) } == first {
        return Some(format!("process {first} ended ({})", describe_status(st)));
    }
    if pidns {
        return None;
    }
    // Ours only: a zombie of the tree, or of us. One of another parent holds a pid of the
    // image that a creator waits for (sys::clone_process).
    let me = std::process::id() as i32;
    let ours = |ppid: i32| ppid == me || image.tree.iter().any(|e| e.pid == ppid);
    image
        .tree
        .iter()
        .filter(|e| e.flags & img::CKPT_TASK_ZOMBIE == 0)
        .find(|e| {
            std::fs::read_to_string(format!("/proc/{}/stat", e.pid))
                .ok()
                .and_then(|s| {
                    let mut f = s.rsplit_once(')')?.1.split_whitespace();
                    let zombie = f.next()? == "Z";
                    Some(zombie && ours(f.next()?.parse().ok()?))
                })
                .unwrap_or(false)
        })
        .map(|e| format!("task {} died", e.pid))
}

fn describe_status(st: i32) -> String {
    if libc::WIFSIGNALED(st) {
        format!("killed by signal {}", libc::WTERMSIG(st))
    } else {
        format!("exit status {}", libc::WEXITSTATUS(st))
    }
}

/// Kills every process of the tree under `first` and under us (orphans whose creator failed
/// came to us): stopped first, so that none can create more while the tree is walked, then
/// killed and reaped. In a new pid namespace killing its init is enough: the kernel kills
/// the rest.
fn kill_all(first: i32, pidns: bool) {
    let kill = |p: i32, sig| {
        // SAFETY: signalling a process of the tree we made.
        unsafe { libc::kill(p, sig) };
    };
    if pidns {
        kill(first, libc::SIGKILL);
    } else {
        let mut all = vec![first];
        all.extend(own_children().into_iter().filter(|&c| c != first));
        let mut seen = std::collections::HashSet::new();
        loop {
            let mut grew = false;
            let mut i = 0;
            while i < all.len() {
                let p = all[i];
                i += 1;
                if seen.insert(p) {
                    grew = true;
                    kill(p, libc::SIGSTOP);
                }
                for t in std::fs::read_dir(format!("/proc/{p}/task"))
                    .into_iter()
                    .flatten()
                {
                    let Ok(t) = t else { continue };
                    let children =
                        std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
                    for c in children.split_whitespace().filter_map(|c| c.parse().ok()) {
                        if !all.contains(&c) {
                            all.push(c);
                        }
                    }
                }
            }
            if !grew {
                break;
            }
        }
        for &p in &all {
            kill(p, libc::SIGKILL);
        }
    }
    let _ = wait_status(first);
    for c in own_children() {
        let _ = wait_status(c);
    }
}

enum Status {
    Exited(i32),
    Killed(i32),
}

fn wait_status(pid: i32) -> Status {
    let mut st = 0;
    loop {
        // SAFETY: `st` is writable.
        let r = unsafe { libc::waitpid(pid, &mut st, 0) };
        if r == pid {
            break;
        }
        if r < 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            return Status::Exited(255);
        }
    }
    if libc::WIFSIGNALED(st) {
        Status::Killed(libc::WTERMSIG(st))
    } else {
        Status::Exited(libc::WEXITSTATUS(st))
    }
}
