// SPDX-License-Identifier: GPL-2.0

//! `rstr`: restart a process tree from an image written by `ckpt`.
//!
//! The work is split between this program and the kernel module, along what a module can
//! reach (Documentation/design.rst). One file per kind of state, as in the module:
//!
//! | state                                         | here          | kmod/      |
//! |-----------------------------------------------|---------------|------------|
//! | the tree: pids, sessions, groups, ghosts      | [`plan`]      | tree.rs    |
//! | a process, from its creation to the ioctl     | [`task`]      | task.rs    |
//! | its threads and `CLONE_VM` processes          | [`thread`]    | task.rs    |
//! | what every task restores on itself            | [`per_task`]  | task.rs    |
//! | credentials                                   | [`creds`]     | creds.rs   |
//! | root, cwd, umask                              | [`fs`]        | files.rs   |
//! | descriptors, open files, pipes                | [`files`]     | files.rs   |
//! | unix sockets and their queued data            | [`unix`]      | unix.rs    |
//! | TCP and UDP sockets, listening or not         | [`inet`]      | inet.rs    |
//! | handlers, masks, pending signals              | [`signals`]   | signal.rs  |
//! | interval and POSIX timers                     | [`timers`]    | timers.rs  |
//! | vDSO, rseq, THP policy around the memory      | [`memory`]    | memory.rs  |
//! | FPU state and registers (the restart ioctl)   | [`sys::cpu`]  | regs.rs    |
//!
//! [`supervise`] is `rstr` itself around the tree: it checks the image, creates the first
//! process, waits until every task is restored, lets them all go at once
//! (`CKPT_IOC_RESTART_GO`), kills them all if one fails, and waits for the root. Every
//! `unsafe` block is in [`sys`].

mod anonfd;
mod attrs;
mod cow;
mod creds;
mod deleted;
mod epoll;
mod fifo;
mod files;
mod fown;
mod fs;
mod inet;
mod inotify;
mod ipc;
mod locks;
mod memfd;
mod memory;
mod per_task;
mod plan;
mod receive;
mod removed_dir;
mod signals;
mod supervise;
mod sys;
mod task;
mod thread;
mod timers;
mod unix;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

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
/// seen from outside. A container that had a UTS, IPC, network or time namespace of its own
/// gets a new one, with its host and domain names, its SysV IPC objects and POSIX message
/// queues, its lo up if it was and its clock offsets, before any of its processes runs (and
/// its sockets are made in the new network namespace). Its clocks read what they would
/// have on the same boot, and never go back on another.
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
#[command(after_long_help = include_str!("after-help.txt"))]
struct Cli {
    /// The image to restart from; `-` reads it from standard input.
    #[arg(required_unless_present = "listen", conflicts_with = "listen")]
    image: Option<PathBuf>,
    /// Receive the image over TCP from `ckpt --to HOST:PORT` instead of a file: listen on
    /// ADDR (default 127.0.0.1; 0.0.0.0 for every interface) and PORT (0: any free one),
    /// print `listening on ADDR:PORT` on standard error, accept one connection and check
    /// every frame of the stream as it comes (CRC32 of each, then the length and CRC32 of
    /// the whole image). A damaged or cut stream is refused, with its frame and offset, and
    /// nothing is restarted. Once the image is whole and passes the checks made before any
    /// process exists, rstr answers ACK (ckpt --kill kills the tree only then) and builds
    /// the tree when ckpt says the old one is released. E.g. `rstr -d --listen
    /// 0.0.0.0:7777` here, `ckpt --kill 4242 --to thishost:7777` on the old machine.
    #[arg(long, value_name = "[ADDR:]PORT", value_parser = receive::parse_listen)]
    listen: Option<std::net::SocketAddr>,
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
    fds: Vec<files::FdSpec>,
    #[command(flatten)]
    watch: ckptlib::logging::Watch,
}

fn main() -> ExitCode {
    let cli: Cli = ckptlib::cli::parse();
    ckptlib::cli::run("rstr", || {
        randomized()?;
        supervise::run(supervise::Options {
            image: cli.image,
            listen: cli.listen,
            detach: cli.detach,
            pidns: cli.pidns,
            fds: cli.fds,
            watch: cli.watch,
        })
    })
}

/// Makes sure rstr runs with a randomized address space layout: started without it
/// (`setarch -R`, a debugger, a shell whose personality has `ADDR_NO_RANDOMIZE`), rstr's
/// own program, stack and libraries sit exactly where a program checkpointed the same way
/// had its own, and the image's memory (its rseq area first) collides with them. Then the
/// flag is cleared and rstr executes itself again with the same arguments and descriptors;
/// each restored task gets the image's personality back (`per_task`), so a target that ran
/// without randomization keeps running without it.
fn randomized() -> anyhow::Result<()> {
    use anyhow::Context;
    use nix::sys::personality::{self, Persona};
    use std::os::unix::process::CommandExt;

    let persona = personality::get().context("personality")?;
    if !persona.contains(Persona::ADDR_NO_RANDOMIZE) {
        return Ok(());
    }
    personality::set(persona - Persona::ADDR_NO_RANDOMIZE).context("personality")?;
    let mut args = std::env::args_os();
    let arg0 = args.next().unwrap_or_else(|| "rstr".into());
    let e = std::process::Command::new("/proc/self/exe")
        .arg0(arg0)
        .args(args)
        .exec();
    Err(e).context("executing rstr again with a randomized address space layout")
}
