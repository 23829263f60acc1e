// SPDX-License-Identifier: GPL-2.0

//! `rstr` itself, around the tree it restarts: it reads and checks the image, plans the
//! tree, opens the image's files once, makes its open file of `/dev/checkpoint` a restart
//! session and creates the first process ([`crate::task`] does the rest); it then waits
//! until every task reports it is restored, lets them all go at once, and waits for the
//! root as a shell waits for its job. If any task fails, it kills them all.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead};
use std::os::fd::{AsFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, ensure, Context, Result};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::prctl;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::{getpgid, getpgrp, getpid, getsid, pipe2, tcgetpgrp, tcsetpgrp, Pid};

use ckptlib::abi::{self, image as img};
use ckptlib::compat::{self, Machine};
use ckptlib::device::Device;
use ckptlib::image::RecordReader;
use ckptlib::procfs;
use ckptlib::restart::{check_xstate, scan, Image};

use crate::files::{self, FdSpec, Inherited};
use crate::sys::board::Board;
use crate::sys::clone::{clone_process, CLONE_NEWPID, CLONE_NEWUTS};
use crate::sys::cpu::cpu_xsave;
use crate::sys::Ended;
use crate::{creds, plan, signals, sys, task};
use ckptlib::logging::Logging;
use ckptlib::progress::Progress;

/// What the command line asks for.
pub struct Options {
    pub image: Option<PathBuf>,
    /// `--listen`: the image comes over TCP (crate::receive).
    pub listen: Option<std::net::SocketAddr>,
    pub detach: bool,
    pub pidns: bool,
    pub fds: Vec<FdSpec>,
    pub watch: ckptlib::logging::Watch,
}

/// Restarts the image `opt` names: the exit code of the restored root, or success once the
/// tree runs with `detach`.
pub fn run(opt: Options) -> Result<ExitCode> {
    let log = Logging::open("rstr", &opt.watch)?;
    match (&opt.image, &opt.listen) {
        (_, Some(addr)) => log.line(&format!("restart from a stream, listening on {addr}")),
        (Some(image), None) => log.line(&format!("restart from {}", image.display())),
        (None, None) => bail!("no image: name one, or --listen [ADDR:]PORT"),
    }
    let r = run_logged(opt, &log);
    if let Err(e) = &r {
        log.line(&format!("error: {e:#}"));
    }
    r
}

fn run_logged(mut opt: Options, log: &Logging) -> Result<ExitCode> {
    let started = std::time::Instant::now();
    ckptlib::phase::mark("start");
    // Before anything is opened: a descriptor of ours must not take a number the user meant.
    let inherited = files::at_start(std::mem::take(&mut opt.fds))?;
    let dev = Device::open()?;
    ensure!(
        dev.version().features & abi::CKPT_FEATURE_RESTART != 0,
        "the loaded module cannot restart (features {:#x})",
        dev.version().features
    );
    let (image_file, mut conn) = match (&opt.listen, &opt.image) {
        (Some(addr), _) => {
            let (f, c) = crate::receive::receive(*addr, log)?;
            (f, Some(c))
        }
        (None, Some(path)) => (files::open_image(path)?, None),
        (None, None) => unreachable!("refused above"),
    };
    let checked = checked(&image_file, opt.pidns, log);
    let ready = match (checked, &mut conn) {
        (Err(e), Some(c)) => {
            c.refuse(&e);
            return Err(e);
        }
        (r, _) => r?,
    };
    // The image is whole and fit to restart here: the sender may let the tree go.
    if let Some(c) = &mut conn {
        let pids: Vec<i32> = if ready.pidns {
            Vec::new()
        } else {
            ready.image.tree.iter().map(|t| t.pid).collect()
        };
        c.ack_and_wait(&pids, log)?;
    }
    sys::session_begin(dev.file().as_fd(), ready.live)?;
    restart(&opt, log, started, inherited, dev, image_file, ready, conn)
}

/// An image read and checked, before any process exists.
struct Checked {
    image: Image,
    /// The plan of its tree.
    plan: plan::Plan,
    /// It comes back in a new pid namespace.
    pidns: bool,
    /// Its live tasks.
    live: u32,
    /// The pages of memory it holds.
    pages: u64,
    /// The lowest descriptor above all of the image's.
    top: RawFd,
}

/// Reads the image and makes every check that needs no process.
fn checked(image_file: &File, pidns: bool, log: &Logging) -> Result<Checked> {
    // Buffered: the scan reads every record header and skips the module's payloads; small
    // ones are skipped inside the buffer, with no system call.
    let image = scan(&mut RecordReader::new(io::BufReader::with_capacity(
        64 << 10,
        image_file,
    )))
    .context("reading the image")?;
    // Before any process exists: the programs must find the CPU and vDSO they chose.
    let (was, here) = (Machine::of_image(&image.header), Machine::here()?);
    compat::check(&was, &here)?;
    for note in compat::notes(&was, &here) {
        log.line(&note);
    }
    let (xcr0, xsize) = cpu_xsave();
    for t in image.tasks.iter().flatten() {
        check_xstate(t, xcr0, xsize).with_context(|| format!("task {}", t.task.pid))?;
    }
    ckptlib::phase::mark("scanned");
    let pages: u64 = image
        .tasks
        .iter()
        .flatten()
        .filter(|t| t.owns_mm)
        .flat_map(|t| &t.memory.pages)
        .map(|r| u64::from(r.nr_pages))
        .sum();
    log.line(&format!(
        "image of {} tasks, {pages} pages of memory",
        image.tasks.iter().flatten().count()
    ));
    let plan = plan::plan(&image.tree)?;
    task::check_vm_children(&image, &plan)?;
    crate::attrs::check(&image)?;
    let pidns = pidns || image.container;
    ensure!(
        !image.container || image.tree[0].pid == 1,
        "a container image whose init is not pid 1"
    );
    let root = plan.nodes[0].pid;
    ensure!(
        creds::may_choose_pids()?,
        "choosing pid {root} needs CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN)"
    );
    let live = image.tasks.iter().flatten().count() as u32;
    // Our descriptors go above every descriptor of the image, the parked objects above them.
    let top = files::highest_fd(&image) + 1;
    files::room_for(&image, top)?;
    Ok(Checked {
        image,
        plan,
        pidns,
        live,
        pages,
        top,
    })
}

/// Builds the checked tree, lets it go and waits for it (or not, with `detach`).
// What run_logged opened and checked, handed on whole: a struct of them would be used once.
#[allow(clippy::too_many_arguments)]
fn restart(
    opt: &Options,
    log: &Logging,
    started: std::time::Instant,
    inherited: Inherited,
    dev: Device,
    image_file: File,
    ready: Checked,
    conn: Option<crate::receive::Conn>,
) -> Result<ExitCode> {
    let Checked {
        image,
        plan,
        pidns,
        live,
        pages,
        top,
    } = ready;
    let root = plan.nodes[0].pid;
    let (rd_end, wr_end) = pipe2(nix::fcntl::OFlag::O_CLOEXEC).context("pipe2")?;
    let bar = Progress::new(
        "restart",
        pages * u64::from(img::CKPT_PAGE_SIZE),
        opt.watch.progress(),
    );
    let moved = files::move_own(
        [image_file.as_fd(), dev.file().as_fd(), wr_end.as_fd()],
        log.module(),
        bar.shown(),
        top,
    )?;
    let given = files::choose(&image, &inherited)?;
    // A container's own network namespace, before its sockets are made in it.
    let outer_net = container_net(&image)?;
    let outer_ipc = container_ipc(&image)?;
    let outer_time = container_time(&image)?;
    let parked = files::park(&image, moved.all().iter().max().unwrap() + 1, &given)?;
    // The locks of the descriptions, before any process of the tree exists.
    crate::locks::take_shared(&image, &parked)?;
    let board = Board::new()?;
    ckptlib::phase::mark("parked");
    let ctx = task::Ctx {
        image: &image,
        plan: &plan,
        parked: &parked,
        board: &board,
        own: moved,
        outer_pgid: getpgrp().as_raw(),
        outer_ns: [&outer_net, &outer_ipc, &outer_time]
            .into_iter()
            .flatten()
            .map(|o| o.raw())
            .collect(),
    };

    // Every signal stays blocked in the new processes until the module sets their masks.
    signals::block_all()?;
    // Until the tree runs, a process whose creator failed comes to us, not to init: a
    // failed restart finds and kills it (kill_all). The plan leaves no other orphan.
    if !pidns {
        prctl::set_child_subreaper(true).context("PR_SET_CHILD_SUBREAPER")?;
    }
    let first = if pidns {
        let init = clone_process(0, CLONE_NEWPID | ns_flags(&image), libc::SIGCHLD)?;
        if init == 0 {
            if image.container {
                container_init(&ctx)
            }
            ns_init(&ctx)
        }
        init
    } else {
        match clone_process(root, 0, plan.nodes[0].exit_signal)? {
            0 => task::node_main(&ctx, 0),
            p => p,
        }
    };
    // The init is in the new network, IPC and time namespaces: rstr goes back to its own
    // (which it would otherwise keep alive after the container).
    for outer in [outer_net, outer_ipc, outer_time].into_iter().flatten() {
        if let Err(e) = outer.back() {
            kill_all(first, pidns);
            return Err(e);
        }
    }
    drop(wr_end);
    // Our copy of the moved report descriptor: only the tree writes to it, and the reader
    // must see the end of the pipe once every task has closed its own.
    sys::close(moved.report).context("closing rstr's report descriptor")?;
    if moved.log >= 0 {
        sys::close(moved.log).context("closing rstr's log descriptor")?;
    }
    log.line(&format!(
        "created the first process, {live} tasks to restore"
    ));

    ckptlib::phase::mark("cloned");
    let mut done = Restored::default();
    if let Err(e) = wait_ready(rd_end, live, first, &image, pidns, &mut |d| {
        done = *d;
        bar.set((d.copied + d.kept) * u64::from(img::CKPT_PAGE_SIZE), || {
            format!("tasks {}/{live}", d.tasks)
        });
    }) {
        kill_all(first, pidns);
        return Err(e);
    }
    bar.finish();
    ckptlib::phase::mark("ready");
    log.line(&format!(
        "{} tasks restored: {} pages read, {} pages kept",
        done.tasks, done.copied, done.kept
    ));
    // Every task joined: the sockets rstr made name the tree's peers again, not rstr.
    let peers = crate::unix::peers(&image, &parked.fds);
    if let Err(e) = sys::session_peers(dev.file().as_fd(), &peers) {
        kill_all(first, pidns);
        return Err(e);
    }
    // Every attach exists: the removed segments can be removed again.
    if let Some(ipc) = &image.ipc {
        if let Err(e) = crate::ipc::finish(first, ipc) {
            kill_all(first, pidns);
            return Err(e.context("the container's IPC namespace"));
        }
    }
    let shown = if pidns && !image.container {
        outer_pid_of_root(first, root).unwrap_or(first)
    } else {
        first
    };
    // Before the tree runs: a restored process reading its terminal at once must find
    // itself in the foreground. Given back when this function returns.
    let foreground = (!opt.detach)
        .then(|| Foreground::hand_over(&inherited, &given, shown))
        .flatten();
    if let Err(e) = sys::session_go(dev.file().as_fd()) {
        kill_all(first, pidns);
        return Err(e);
    }
    ckptlib::phase::mark("go");
    log.line("the tree runs");
    if let Some(format) = opt.watch.stats {
        let ms = |d: std::time::Duration| serde_json::json!(d.as_secs_f64() * 1e3);
        ckptlib::logging::print_stats(
            format,
            &[
                ("restore_ms", "restore time", ms(started.elapsed())),
                ("tasks", "tasks", done.tasks.into()),
                ("pages", "pages", pages.into()),
                ("pages_read", "pages read", done.copied.into()),
                ("pages_kept", "pages kept", done.kept.into()),
                (
                    "image_bytes",
                    "image bytes",
                    image_file.metadata().map_or(0, |m| m.len()).into(),
                ),
            ]
            .into_iter()
            .chain(conn.as_ref().map(|c| {
                (
                    "bytes_on_wire",
                    "bytes on the wire",
                    c.bytes_on_wire().into(),
                )
            }))
            .collect::<Vec<_>>(),
        )?;
    }
    if !pidns {
        prctl::set_child_subreaper(false).context("PR_SET_CHILD_SUBREAPER")?;
    }
    if opt.detach {
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

/// The `clone` flags of the namespaces besides pid a container's image has of its own
/// (but network and IPC: [`container_net`], [`container_ipc`]).
fn ns_flags(image: &Image) -> u64 {
    match &image.namespaces {
        Some(ns) if ns.uts.is_some() => CLONE_NEWUTS,
        _ => 0,
    }
}

/// For a container with an IPC namespace of its own: moves rstr into a new one, where it
/// makes the image's POSIX message queues (their descriptors are parked there) and the
/// container's init is cloned, which makes the SysV objects; returns rstr's own, to go
/// back to once the init exists.
fn container_ipc(image: &Image) -> Result<Option<sys::netns::Outer>> {
    let Some(ipc) = &image.ipc else {
        return Ok(None);
    };
    let outer = sys::netns::enter_new_ipc().context("the container's IPC namespace")?;
    if let Err(e) = crate::ipc::make_mqueues(ipc) {
        let _ = outer.back();
        return Err(e.context("the container's IPC namespace"));
    }
    Ok(Some(outer))
}

/// For a container with a time namespace of its own: gives rstr's next child (its init) a
/// new one, with the image's offsets unless the host's clocks are now behind where they
/// were at checkpoint ([`ckptlib::restart::ClockOffset::restored`]); returns the one rstr's children had, to
/// go back to once the init exists.
fn container_time(image: &Image) -> Result<Option<sys::netns::Outer>> {
    let Some(t) = image.namespaces.as_ref().and_then(|n| n.time.as_ref()) else {
        return Ok(None);
    };
    let (host_mono, host_boot) = sys::netns::host_clocks()?;
    let (mono, boot) = ckptlib::restart::time_offsets(t);
    let mono = mono.restored(t.host_monotonic, host_mono);
    let boot = boot.restored(t.host_boottime, host_boot);
    let outer = sys::netns::enter_new_time(mono, boot).context("the container's time namespace")?;
    Ok(Some(outer))
}

/// For a container with a network namespace of its own: moves rstr into a new one, with
/// its `lo` up if it was, where the image's sockets are then made and the container's init
/// is cloned (so the namespace is not one of [`ns_flags`]); returns rstr's own, to go back
/// to once the init exists.
fn container_net(image: &Image) -> Result<Option<sys::netns::Outer>> {
    let Some(net) = image.namespaces.as_ref().and_then(|n| n.net.as_ref()) else {
        return Ok(None);
    };
    let outer = sys::netns::enter_new().context("the container's network namespace")?;
    if net.lo_up {
        if let Err(e) = sys::netns::lo_up() {
            let _ = outer.back();
            return Err(e.context("the container's network namespace"));
        }
    }
    Ok(Some(outer))
}

/// A container's init, the first process in its new namespaces: it gives its UTS namespace
/// the image's names and its IPC namespace the image's objects before it restores itself (the tree's first process: no task of the
/// tree runs before), then restores itself.
fn container_init(ctx: &task::Ctx) -> ! {
    let fail = |why: String| -> ! {
        let _ = sys::report_line(ctx.own.report, ctx.plan.nodes[0].pid, &why);
        sys::exit_now(1)
    };
    for &fd in &ctx.outer_ns {
        if let Err(e) = sys::close(fd) {
            fail(format!("closing rstr's namespace descriptor {fd}: {e}"))
        }
    }
    if let Some(uts) = ctx.image.namespaces.as_ref().and_then(|n| n.uts.as_ref()) {
        if let Err(e) = sys::set_uts_names(&uts.nodename, &uts.domainname) {
            fail(format!("the container's UTS namespace: {e:#}"))
        }
    }
    if let Some(ipc) = &ctx.image.ipc {
        if let Err(e) = crate::ipc::restore(ipc) {
            fail(format!("the container's IPC namespace: {e:#}"))
        }
    }
    task::node_main(ctx, 0)
}

/// The init `rstr` adds to a new pid namespace for an image that has none: it creates the
/// root, reaps whatever is orphaned to it, and ends with the root's status (which ends the
/// namespace).
fn ns_init(ctx: &task::Ctx) -> ! {
    let root = ctx.plan.nodes[0].pid;
    if let Err(e) = task::spawn(ctx, 0) {
        let _ = sys::report_line(ctx.own.report, 1, &format!("{e:#}"));
        sys::exit_now(1)
    }
    // The init keeps no descriptor: none of rstr's, none of the caller's (a pipe it held
    // open would keep whoever reads rstr's output waiting). What fails below cannot be
    // reported any more (the report pipe is closed): the init goes on reaping regardless,
    // since the namespace ends with it.
    let _ = sys::close_all();
    let _ = signals::unblock_all();
    let _ = prctl::set_name(c"rstr-init");
    loop {
        match sys::wait(-1, 0) {
            Ok((p, Ended::Exited(code))) if p == root => sys::exit_now(code),
            Ok((p, Ended::Killed(sig))) if p == root => sys::exit_now(128 + sig),
            Err(Errno::ECHILD) => sys::exit_now(0),
            Ok(_) | Err(_) => {}
        }
    }
}

/// The outer pid of the root inside the namespace whose init is `init`.
fn outer_pid_of_root(init: i32, root: i32) -> Option<i32> {
    procfs::children_of_thread(init, init)
        .into_iter()
        .find(|&c| {
            procfs::status_field(c, "NSpid")
                .and_then(|l| l.split_whitespace().last()?.parse::<i32>().ok())
                == Some(root)
        })
}

/// Reads the tree's report lines until `live` tasks said `OK`; any other line is a failure.
/// Also fails if the first process (the root, or the namespace's init) dies first.
/// What the tasks restored so far reported (`OK PID COPIED KEPT` lines, with `P PID COPIED`
/// lines in between for the pages of a task being read).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    pub tasks: u32,
    pub copied: u64,
    pub kept: u64,
}

/// One line of the report pipe.
#[derive(Debug, PartialEq, Eq)]
enum Report<'a> {
    /// Task `pid` is restored: `copied` pages read from the image, `kept` as rstr mapped
    /// them.
    Ok { pid: i32, copied: u64, kept: u64 },
    /// Task `pid` has read `copied` pages so far.
    Pages { pid: i32, copied: u64 },
    /// The reason a task failed.
    Failed(&'a str),
}

impl<'a> Report<'a> {
    fn parse(line: &'a str) -> Report<'a> {
        let words: Vec<&str> = line.split(' ').collect();
        let num = |i: usize| words.get(i).and_then(|w| w.parse::<u64>().ok());
        let pid = words.get(1).and_then(|w| w.parse::<i32>().ok());
        match (words[0], pid, words.len()) {
            ("OK", Some(pid), 4) => match (num(2), num(3)) {
                (Some(copied), Some(kept)) => Report::Ok { pid, copied, kept },
                _ => Report::Failed(line),
            },
            ("P", Some(pid), 3) => match num(2) {
                Some(copied) => Report::Pages { pid, copied },
                None => Report::Failed(line),
            },
            _ => Report::Failed(line),
        }
    }
}

/// Sums the report lines: the pages of the tasks still being read, by pid, and what the
/// restored ones said.
#[derive(Default)]
struct Tally {
    reading: HashMap<i32, u64>,
    restored: Restored,
}

impl Tally {
    /// Takes in one line; its reason if it says a task failed.
    fn add<'a>(&mut self, line: &'a str) -> Option<&'a str> {
        match Report::parse(line) {
            Report::Ok { pid, copied, kept } => {
                self.reading.remove(&pid);
                self.restored.tasks += 1;
                self.restored.copied += copied;
                self.restored.kept += kept;
            }
            Report::Pages { pid, copied } => {
                self.reading.insert(pid, copied);
            }
            Report::Failed(why) => return Some(why),
        }
        None
    }

    /// Everything so far: the tasks restored, and the pages of the others being read.
    fn now(&self) -> Restored {
        Restored {
            copied: self.restored.copied + self.reading.values().sum::<u64>(),
            ..self.restored
        }
    }
}

fn wait_ready(
    report: OwnedFd,
    live: u32,
    first: i32,
    image: &Image,
    pidns: bool,
    progress: &mut dyn FnMut(&Restored),
) -> Result<()> {
    let mut tally = Tally::default();
    let mut rd = io::BufReader::new(File::from(report));
    let mut line = String::new();
    // A death seen while nothing was to read. The task that died may have written its
    // reason just before (a failed restart reports, then kills itself): what is in the
    // pipe is read first, and the death is the reason only when the pipe is empty.
    let mut died: Option<String> = None;
    let readable = |rd: &io::BufReader<File>, ms: u16| -> Result<bool> {
        if !rd.buffer().is_empty() {
            return Ok(true);
        }
        let mut pfd = [PollFd::new(rd.get_ref().as_fd(), PollFlags::POLLIN)];
        match poll(&mut pfd, PollTimeout::from(ms)) {
            Ok(n) => Ok(n > 0),
            Err(Errno::EINTR) => Ok(false),
            Err(e) => Err(e).context("poll of the report pipe"),
        }
    };
    while tally.restored.tasks < live {
        if !readable(&rd, 500)? {
            if died.is_none() {
                died = dead(first, image, pidns);
            }
            match &died {
                Some(why) if !readable(&rd, 0)? => {
                    bail!("restart failed: {why} before every task was restored")
                }
                _ => continue,
            }
        }
        line.clear();
        if rd.read_line(&mut line)? == 0 {
            // No report: the first process's exit status may say why (task::node_main).
            let why = (0..20).find_map(|_| {
                dead(first, image, pidns).or_else(|| {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                    None
                })
            });
            match why {
                Some(why) => bail!("restart failed: every task died before it was restored: {why}"),
                None => bail!("restart failed: every task died before it was restored"),
            }
        }
        if let Some(why) = tally.add(line.trim_end()) {
            bail!("restart failed: {why}");
        }
        progress(&tally.now());
    }
    Ok(())
}

/// Whether a task of the tree died: the first process, or (in our namespace) any live one.
fn dead(first: i32, image: &Image, pidns: bool) -> Option<String> {
    match sys::wait(first, libc::WNOHANG) {
        Ok((p, Ended::Exited(code))) if p == first && code > 1 => {
            let e = Errno::from_raw(code);
            return Some(format!(
                "process {first} ended (exit status {code}: it could not report its failure, \
                 whose errno is its status: {} ({e:?}))",
                e.desc()
            ));
        }
        Ok((p, Ended::Exited(code))) if p == first => {
            return Some(format!("process {first} ended (exit status {code})"))
        }
        Ok((p, Ended::Killed(sig))) if p == first => {
            return Some(format!("process {first} ended (killed by signal {sig})"))
        }
        _ => {}
    }
    if pidns {
        return None;
    }
    // Ours only: a zombie of the tree, or of us. One of another parent holds a pid of the
    // image that a creator waits for (sys::clone::clone_process).
    let me = std::process::id() as i32;
    let ours = |ppid: i32| ppid == me || image.tree.iter().any(|e| e.pid == ppid);
    image
        .tree
        .iter()
        .filter(|e| e.flags & img::CKPT_TASK_ZOMBIE == 0)
        .find(|e| procfs::stat(e.pid).is_some_and(|s| s.state == 'Z' && ours(s.ppid)))
        .map(|e| format!("task {} died", e.pid))
}

/// Sends `sig` to `p`, a process of the tree we made; one gone meanwhile is no error.
fn signal(p: i32, sig: Signal) {
    match kill(Pid::from_raw(p), sig) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => eprintln!("rstr: warning: cannot send {sig} to {p}: {e}"),
    }
}

/// Kills every process of the tree under `first` and under us (orphans whose creator failed
/// came to us): stopped first, so that none can create more while the tree is walked, then
/// killed and reaped. In a new pid namespace killing its init is enough: the kernel kills
/// the rest.
fn kill_all(first: i32, pidns: bool) {
    if pidns {
        signal(first, Signal::SIGKILL);
    } else {
        let mut all = vec![first];
        all.extend(procfs::children("self").into_iter().filter(|&c| c != first));
        let mut seen = std::collections::HashSet::new();
        loop {
            let mut grew = false;
            let mut i = 0;
            while i < all.len() {
                let p = all[i];
                i += 1;
                if seen.insert(p) {
                    grew = true;
                    signal(p, Signal::SIGSTOP);
                }
                for c in procfs::children(p) {
                    if !all.contains(&c) {
                        all.push(c);
                    }
                }
            }
            if !grew {
                break;
            }
        }
        for &p in &all {
            signal(p, Signal::SIGKILL);
        }
    }
    // Reaped only: their status says nothing more than that the restart failed. A task of
    // the tree whose parent died meanwhile is reparented to us (the subreaper) after the
    // scan above, still waiting in the session for a go that will not come: every child
    // is killed again before each wait, until none is left. Ends: each round kills every
    // child we have and waits for one of them to end.
    loop {
        let kids = procfs::children("self");
        for &c in &kids {
            signal(c, Signal::SIGKILL);
        }
        match sys::wait(-1, 0) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => break,
        }
    }
}

/// How the root ended.
pub enum Status {
    Exited(i32),
    Killed(i32),
}

/// Waits for the end of `pid`; 255 if it cannot be waited for.
fn wait_status(pid: i32) -> Status {
    loop {
        match sys::wait(pid, 0) {
            Ok((_, Ended::Exited(code))) => return Status::Exited(code),
            Ok((_, Ended::Killed(sig))) => return Status::Killed(sig),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return Status::Exited(255),
        }
    }
}

/// The terminal rstr waits on, handed to the restored tree: restored to rstr's own
/// process group when dropped.
pub struct Foreground {
    fd: RawFd,
    own: Pid,
    /// The root's process group, which has the terminal.
    pgrp: Pid,
}

impl Foreground {
    /// Makes the process group of `root` (a pid as rstr sees it) the foreground group of
    /// rstr's controlling terminal, when the tree was given that terminal (`given`: the
    /// rstr descriptors handed to it), rstr is that terminal's foreground group, and the
    /// root is in rstr's session but another group. `None` when nothing was changed; a
    /// failure is only a warning: the tree runs, in the background.
    pub fn hand_over(
        inh: &Inherited,
        given: &HashMap<(u32, RawFd), RawFd>,
        root: i32,
    ) -> Option<Foreground> {
        let own = getpgrp();
        let fd = (0..3).find(|&fd| {
            inh.std_tty[fd as usize]
                && given.values().any(|&g| g == fd)
                && tcgetpgrp(sys::borrow(fd)).is_ok_and(|fg| fg == own)
        })?;
        let root = Pid::from_raw(root);
        let pgrp = getpgid(Some(root)).ok()?;
        let same_session = getsid(Some(root)).ok() == getsid(None).ok();
        if pgrp == own || !same_session {
            return None;
        }
        if let Err(e) = tcsetpgrp(sys::borrow(fd), pgrp) {
            eprintln!(
                "rstr: warning: process group {pgrp} stays in the background of the terminal \
                 (tcsetpgrp: {e})"
            );
            return None;
        }
        Some(Foreground { fd, own, pgrp })
    }
}

impl Foreground {
    /// Waits for the end of `first` (the root) as a shell waits for its foreground job: when
    /// the root stops (Ctrl-Z, SIGSTOP), rstr takes the terminal back and stops too, so that
    /// its shell sees the job stopped; continued in the foreground (`fg`), it gives the
    /// terminal to the tree again, in the background (`bg`) it does not; then continues the
    /// root's group.
    pub fn wait(&self, first: i32) -> Status {
        loop {
            match sys::wait(first, libc::WUNTRACED) {
                Ok((_, Ended::Exited(code))) => return Status::Exited(code),
                Ok((_, Ended::Killed(sig))) => return Status::Killed(sig),
                Ok((_, Ended::Stopped(_))) => {
                    // Each step may fail only with the terminal gone (hung up) or the group
                    // dead: the wait goes on, and ends with the root.
                    let _ = tcsetpgrp(sys::borrow(self.fd), self.own);
                    // SIGSTOP cannot be blocked: rstr stops here until its shell continues it.
                    let _ = kill(getpid(), Signal::SIGSTOP);
                    if tcgetpgrp(sys::borrow(self.fd)).is_ok_and(|fg| fg == self.own) {
                        let _ = tcsetpgrp(sys::borrow(self.fd), self.pgrp);
                    }
                    let _ = killpg(self.pgrp, Signal::SIGCONT);
                }
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) => return Status::Exited(255),
            }
        }
    }
}

impl Drop for Foreground {
    fn drop(&mut self) {
        // rstr blocks every signal (SIGTTOU too): a background group may take the
        // terminal back. Nothing to do if it fails: the terminal is gone.
        let _ = tcsetpgrp(sys::borrow(self.fd), self.own);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_lines_parse() {
        assert_eq!(
            Report::parse("OK 42 300 12"),
            Report::Ok {
                pid: 42,
                copied: 300,
                kept: 12
            }
        );
        assert_eq!(
            Report::parse("P 42 256"),
            Report::Pages {
                pid: 42,
                copied: 256
            }
        );
        for bad in ["OK", "OK 42", "OK 42 x 1", "P 42", "pid 42: no memory", ""] {
            assert_eq!(Report::parse(bad), Report::Failed(bad), "{bad:?}");
        }
    }

    #[test]
    fn tally_counts_reading_tasks_until_they_are_restored() {
        let mut t = Tally::default();
        assert_eq!(t.add("P 7 256"), None);
        assert_eq!(t.add("P 8 256"), None);
        assert_eq!(t.add("P 7 512"), None);
        assert_eq!(t.now().copied, 768);
        assert_eq!(t.add("OK 7 600 10"), None);
        let n = t.now();
        assert_eq!((n.tasks, n.copied, n.kept), (1, 856, 10));
        assert_eq!(
            t.add("pid 8: reading page 0x1000"),
            Some("pid 8: reading page 0x1000")
        );
    }
}
