// SPDX-License-Identifier: GPL-2.0

//! Every system call `rstr` makes that `nix` does not wrap (or wraps with a type too narrow
//! for an image's values), and every `unsafe` block of `rstr`: the rest of the program is
//! safe Rust on top of these and of `nix`.
//!
//! - [`raw`]: calls made with the `syscall` instruction, which touch no libc state, for the
//!   tasks started on a shared memory (threads) and the restore path they share with
//!   their process;
//! - [`clone`]: `clone3` with chosen pids, forks and tasks sharing the memory;
//! - [`board`]: the barriers every process of the tree shares;
//! - [`cpu`]: the FPU state and the final restart ioctl;
//! - [`timers`]: `timer_create`, `timer_settime`, `setitimer`;
//! - [`anonfd`]: signal sets of signalfds, the expirations of timerfds;
//! - [`mem`]: the image's private memory that `rstr` maps itself ([`crate::cow`]);
//! - [`netns`]: a container's new network namespace and its `lo`;
//! - [`ipc`]: SysV segments, queues and sets, their ids and creators;
//! - here: the names of a container's UTS namespace, descriptors by number, signal dispositions, limits, the vDSO and glibc's rseq
//!   area, the report line, the session ioctls.

pub mod anonfd;
pub mod board;
pub mod clone;
pub mod cpu;
pub mod fown;
pub mod inet;
pub mod inotify;
pub mod ipc;
pub mod mem;
pub mod netns;
pub mod raw;
pub mod timers;

use std::io;
use std::os::fd::{BorrowedFd, RawFd};

use anyhow::{Context, Result};
use nix::errno::Errno;

use ckptlib::abi;

/// `errno` of the last failed call, as an error with context.
pub fn last_os(what: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(io::Error::last_os_error()).context(what.to_string())
}

/// A system call's `-1`-on-error return, as a `Result`.
fn check(ret: libc::c_long, what: impl std::fmt::Display) -> Result<libc::c_long> {
    if ret < 0 {
        Err(last_os(what))
    } else {
        Ok(ret)
    }
}

/// Sets the host name and the NIS domain name of the caller's UTS namespace (names of at
/// most 64 bytes, without their NUL).
pub fn set_uts_names(nodename: &[u8], domainname: &[u8]) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    nix::unistd::sethostname(std::ffi::OsStr::from_bytes(nodename))
        .map_err(|e| anyhow::Error::new(e).context("sethostname"))?;
    // SAFETY: `domainname` is valid for reads of its length, which the kernel copies.
    let ret = unsafe { libc::setdomainname(domainname.as_ptr().cast(), domainname.len()) };
    check(ret.into(), "setdomainname").map(|_| ())
}

/// Descriptor `fd` of this process, borrowed for one call.
///
/// For descriptors `rstr` knows by number only: the ones it inherited (`--fd`, 0, 1, 2), and
/// its own moved ones ([`crate::files::move_own`]), which stay open as long as the
/// process runs its restart. A call on a number that is not open fails with `EBADF`.
pub fn borrow(fd: RawFd) -> BorrowedFd<'static> {
    // SAFETY: the numbers passed here are of descriptors no `OwnedFd` of this process
    // closes while the borrow is used (one call), as the doc above says; a closed one
    // makes the call fail with EBADF, no other descriptor is touched.
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// Closes descriptor `fd`, which nothing of this process owns (an inherited one, or one of
/// the parked range, see [`crate::files`]).
pub fn close(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: `fd` is a number no `OwnedFd` of this process holds (the callers' contract,
    // above): closing it invalidates no Rust object.
    Errno::result(unsafe { libc::close(fd) }).map(drop)
}

/// Duplicates `from` to the number `to` (replacing what is there, which nothing of ours
/// owns), close-on-exec if `cloexec`.
pub fn dup_to(from: RawFd, to: RawFd, cloexec: bool) -> Result<(), Errno> {
    let flags = if cloexec { libc::O_CLOEXEC } else { 0 };
    // SAFETY: `to` is a number of the image's table, which no `OwnedFd` of this process
    // holds (the process closed every other descriptor first, see
    // `crate::files::install`).
    Errno::result(unsafe { libc::dup3(from, to, flags) }).map(drop)
}

/// Closes every descriptor of this process (`close_range(0, ~0)`): for a process that uses
/// none from then on and owns none in Rust objects it still uses.
pub fn close_all() -> Result<(), Errno> {
    // SAFETY: the caller (the namespace's init, `crate::supervise`) holds no `OwnedFd` it
    // uses again.
    Errno::result(unsafe { libc::syscall(libc::SYS_close_range, 0, u32::MAX, 0) }).map(drop)
}

/// Ends this process at once with `code`: nothing of its parent's (atexit handlers, stdio
/// buffers inherited by `fork`) runs.
pub fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` ends the process; no Rust state is left to observe.
    unsafe { libc::_exit(code) }
}

/// Gives signal `sig` its default action.
pub fn default_action(sig: i32) -> Result<(), Errno> {
    // SAFETY: SIG_DFL installs no handler: no code of ours runs on a signal.
    let prev = unsafe { libc::signal(sig, libc::SIG_DFL) };
    if prev == libc::SIG_ERR {
        return Err(Errno::last());
    }
    Ok(())
}

/// How a child changed state, as `waitpid` reports it: with real-time signals too, which
/// nix's `WaitStatus` cannot hold (its `waitpid` fails on them, after reaping the child).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    Killed(i32),
    Stopped(i32),
    /// Continued, or nothing yet (`WNOHANG`).
    Other,
}

impl Ended {
    /// Decodes a `waitpid` status.
    pub fn from_status(st: i32) -> Ended {
        if libc::WIFEXITED(st) {
            Ended::Exited(libc::WEXITSTATUS(st))
        } else if libc::WIFSIGNALED(st) {
            Ended::Killed(libc::WTERMSIG(st))
        } else if libc::WIFSTOPPED(st) {
            Ended::Stopped(libc::WSTOPSIG(st))
        } else {
            Ended::Other
        }
    }
}

/// `waitpid(pid, flags)` (`pid` -1: any child): the child, 0 if none changed (`WNOHANG`),
/// and how.
pub fn wait(pid: i32, flags: libc::c_int) -> Result<(i32, Ended), Errno> {
    let mut st = 0;
    // SAFETY: the kernel writes the status to `st`, which outlives the call.
    let p = Errno::result(unsafe { libc::waitpid(pid, &mut st, flags) })?;
    Ok((
        p,
        if p == 0 {
            Ended::Other
        } else {
            Ended::from_status(st)
        },
    ))
}

/// A signal set holding `sig` alone (any number, real-time ones too).
fn set_of(sig: i32) -> Result<libc::sigset_t, Errno> {
    // SAFETY: an empty signal set of our own, then `sig` added (EINVAL if out of range).
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        Errno::result(libc::sigemptyset(&mut set))?;
        Errno::result(libc::sigaddset(&mut set, sig))?;
        Ok(set)
    }
}

/// Unblocks `sig` and sends it to this process.
pub fn raise_unblocked(sig: i32) -> Result<(), Errno> {
    let set = set_of(sig)?;
    // SAFETY: `set` outlives the call; no old mask is asked for.
    Errno::result(unsafe { libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut()) })?;
    // SAFETY: a signal to this process, which ends it if `sig` kills.
    Errno::result(unsafe { libc::kill(std::process::id() as i32, sig) }).map(drop)
}

/// Drops every pending instance of `sig` (blocked) without waiting.
pub fn drop_pending(sig: i32) -> Result<(), Errno> {
    let set = set_of(sig)?;
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    loop {
        // SAFETY: `set` and `zero` outlive the call; the siginfo is not asked for.
        match unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &zero) } {
            n if n > 0 => continue,
            _ if Errno::last() == Errno::EAGAIN => return Ok(()),
            _ if Errno::last() == Errno::EINTR => continue,
            _ => return Err(Errno::last()),
        }
    }
}

/// The image's disposition of signal `sig`: raw `rt_sigaction`, so that the image's
/// `sa_restorer` is installed, not libc's.
pub fn set_handler(sig: i32, a: &abi::image::CkptSigaction) -> Result<(), Errno> {
    let act = [a.handler, a.flags, a.restorer, a.mask];
    // SAFETY: the kernel reads the 32-byte kernel `struct sigaction` from `act`. The handler
    // it names is the image's, called only once the module has put the image's memory in
    // place; until then every signal is blocked (the module sets the mask).
    Errno::result(unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            sig,
            act.as_ptr(),
            std::ptr::null_mut::<u64>(),
            8,
        )
    })
    .map(drop)
}

/// Resource limit `resource` (an index below `RLIM_NLIMITS`, as the image saves them).
pub fn set_rlimit(resource: u32, cur: u64, max: u64) -> Result<(), Errno> {
    let new = libc::rlimit64 {
        rlim_cur: cur,
        rlim_max: max,
    };
    // SAFETY: the kernel reads `new`, which outlives the call; no old value is asked for.
    Errno::result(unsafe { libc::prlimit64(0, resource, &new, std::ptr::null_mut()) }).map(drop)
}

/// `PR_SET_THP_DISABLE` with the image's flags (nix's wrapper takes none).
pub fn set_thp_disable(flags: u32) -> Result<(), Errno> {
    // SAFETY: integer arguments, acting on this process's memory policy.
    Errno::result(unsafe {
        libc::prctl(
            libc::PR_SET_THP_DISABLE,
            1,
            libc::c_ulong::from(flags),
            0,
            0,
        )
    })
    .map(drop)
}

/// The ranges of this process's vDSO and vvar, as [`ckptlib::procfs::vdso_layout`] found them
/// in `/proc/self/maps`, are unmapped, and a vDSO block is mapped at `block` (its vvar
/// pages, then its text). From then on nothing may call into the vDSO.
pub fn remap_vdso(ranges: &[(u64, u64)], block: u64) -> Result<()> {
    /// `ARCH_MAP_VDSO_64`.
    const ARCH_MAP_VDSO_64: libc::c_int = 0x2003;
    for &(a, b) in ranges {
        // SAFETY: the vDSO and vvar of this process: no Rust object lives there, and the
        // code of ours that would call into the vDSO (libc's clock_gettime) is not used
        // from here on (`ckptlib::phase` makes the system call).
        check(
            unsafe { libc::munmap(a as *mut libc::c_void, (b - a) as usize) }.into(),
            format!("munmap of the vDSO range {a:#x}-{b:#x}"),
        )?;
    }
    // SAFETY: maps a fresh vDSO block at `block`, which the unmapping above left free.
    check(
        unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_MAP_VDSO_64, block) },
        format!("mapping the vDSO at {block:#x}"),
    )?;
    Ok(())
}

/// Unregisters glibc's rseq area of the calling thread, if glibc registered one: left
/// registered, the kernel would go on updating it after the restart, at an address that
/// then holds the image's memory.
pub fn unregister_own_rseq() -> Result<()> {
    ckptlib::sys::unregister_own_rseq()
        .map_err(|e| anyhow::Error::new(e).context("cannot unregister rstr's own rseq area"))
}

/// Writes one line, `pid PID: MSG`, to the report pipe in a single `write` (atomic below
/// `PIPE_BUF`), with no allocation and raw system calls only: usable from tasks that share
/// memory with their process. False if the line could not be written whole (the pipe's
/// buffer is allocated at write time, charged to the writer's memory cgroup: a restart that
/// failed for want of memory may not be able to say so): the task's exit status is then all
/// `rstr` learns (see [`crate::task::node_main`]).
pub fn report_line(fd: RawFd, pid: i32, msg: &str) -> bool {
    let mut buf = [0u8; 512];
    let mut w = Cursor {
        buf: &mut buf,
        at: 0,
    };
    let _ = std::fmt::Write::write_fmt(&mut w, format_args!("pid {pid}: {msg}"));
    let n = w.at.min(buf.len() - 1);
    buf[n] = b'\n';
    raw::write(fd, &buf[..n + 1]) == Ok(n + 1)
}

struct Cursor<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl std::fmt::Write for Cursor<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let room = self.buf.len() - 1 - self.at.min(self.buf.len() - 1);
        let n = s.len().min(room);
        self.buf[self.at..self.at + n].copy_from_slice(&s.as_bytes()[..n]);
        self.at += n;
        Ok(())
    }
}

nix::ioctl_write_ptr_bad!(
    ioc_restart_begin,
    abi::CKPT_IOC_RESTART_BEGIN,
    abi::CkptSessionArgs
);
nix::ioctl_none_bad!(ioc_restart_go, abi::CKPT_IOC_RESTART_GO);

/// Makes the open device a restart session of `nr_tasks` tasks.
pub fn session_begin(dev: BorrowedFd, nr_tasks: u32) -> Result<()> {
    use std::os::fd::AsRawFd;
    let args = abi::CkptSessionArgs { nr_tasks, flags: 0 };
    // SAFETY: `args` is a valid struct of the size the ioctl number encodes.
    unsafe { ioc_restart_begin(dev.as_raw_fd(), &args) }
        .map_err(|e| anyhow::anyhow!("CKPT_IOC_RESTART_BEGIN: {}", e.desc()))?;
    Ok(())
}

nix::ioctl_write_ptr_bad!(
    ioc_restart_peers,
    abi::CKPT_IOC_RESTART_PEERS,
    abi::CkptPeersArgs
);

/// Sets the peer credentials of the unix sockets at our descriptors (`peers`), once every
/// task of the session has joined it; the module's reason on a refusal.
pub fn session_peers(dev: BorrowedFd, peers: &[abi::CkptPeerCred]) -> Result<()> {
    use std::os::fd::AsRawFd;
    let mut reason = [0u8; 513];
    let args = abi::CkptPeersArgs {
        nr_peers: u32::try_from(peers.len()).context("too many peer credentials")?,
        flags: 0,
        peers: peers.as_ptr() as u64,
        reason: reason.as_mut_ptr() as u64,
        reason_len: reason.len() as u32,
        __reserved: 0,
    };
    // SAFETY: `args` is a valid struct of the size the ioctl number encodes; `peers` and
    // `reason` outlive the call, with the lengths given.
    unsafe { ioc_restart_peers(dev.as_raw_fd(), &args) }.map_err(|e| {
        anyhow::anyhow!(
            "CKPT_IOC_RESTART_PEERS: {} ({})",
            ckptlib::image::c_str(&reason),
            e.desc()
        )
    })?;
    Ok(())
}

/// Makes a pidfd of our own process and closes it: pidfs then knows our pid, which
/// `SO_PEERPIDFD` of a unix socket naming us needs (the module checks it, as it cannot
/// register a pid itself).
pub fn register_own_pid() -> Result<()> {
    use std::os::fd::FromRawFd;
    // SAFETY: `pidfd_open` of our own pid with no flags; it returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, libc::getpid(), 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("pidfd_open of our own pid");
    }
    // SAFETY: the new descriptor, which nothing else owns; closed at once.
    drop(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as i32) });
    Ok(())
}

/// Lets every restored task of the session run.
pub fn session_go(dev: BorrowedFd) -> Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: an ioctl without argument.
    unsafe { ioc_restart_go(dev.as_raw_fd()) }
        .map_err(|e| anyhow::anyhow!("CKPT_IOC_RESTART_GO: {}", e.desc()))?;
    Ok(())
}

/// `accept4(listener, SOCK_CLOEXEC)`: the connection, owned (`nix` returns a bare number).
pub fn accept(listener: BorrowedFd) -> Result<std::os::fd::OwnedFd, Errno> {
    use std::os::fd::{AsRawFd, FromRawFd};
    let fd = nix::sys::socket::accept4(
        listener.as_raw_fd(),
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )?;
    // SAFETY: `accept4` returned a new descriptor, which nothing else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// A close-on-exec duplicate of `fd` at the lowest free number from `min`, owned.
pub fn dup_above(fd: BorrowedFd, min: RawFd) -> Result<std::os::fd::OwnedFd, Errno> {
    use std::os::fd::FromRawFd;
    let at = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(min))?;
    // SAFETY: `F_DUPFD_CLOEXEC` returned a new descriptor, which nothing else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(at) })
}

/// `listen(s, backlog)` with the backlog as the kernel takes it, capped by
/// `net.core.somaxconn` (`nix`'s `Backlog` refuses more than `SOMAXCONN`).
pub fn listen(s: BorrowedFd, backlog: i32) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    // SAFETY: `listen` takes a descriptor and an integer; `s` is borrowed, open.
    Errno::result(unsafe { libc::listen(s.as_raw_fd(), backlog) }).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_statuses_decode() {
        assert_eq!(Ended::from_status(3 << 8), Ended::Exited(3));
        assert_eq!(Ended::from_status(34), Ended::Killed(34));
        assert_eq!(Ended::from_status(9 | 0x80), Ended::Killed(9));
        assert_eq!(Ended::from_status(19 << 8 | 0x7f), Ended::Stopped(19));
        assert_eq!(Ended::from_status(0xffff), Ended::Other);
    }

    #[test]
    fn report_lines_are_cut_whole() {
        let mut buf = [0u8; 8];
        let mut w = Cursor {
            buf: &mut buf,
            at: 0,
        };
        let _ = std::fmt::Write::write_str(&mut w, "0123456789");
        assert_eq!(w.at, 7);
        assert_eq!(&buf[..7], b"0123456");
    }
}

nix::ioctl_read_bad!(ioc_fionread, libc::FIONREAD, libc::c_int);

/// `ioctl(FIONREAD)`: the bytes buffered in the pipe or FIFO `fd`, unread.
pub fn unread(fd: BorrowedFd) -> Result<usize, Errno> {
    use std::os::fd::AsRawFd;
    let mut n: libc::c_int = 0;
    // SAFETY: `n` is a valid `int` for the kernel to write.
    unsafe { ioc_fionread(fd.as_raw_fd(), &mut n) }?;
    Ok(n as usize)
}

/// `flock(fd, LOCK_SH | LOCK_NB)` or `LOCK_EX | LOCK_NB`: never waits (`EWOULDBLOCK` if
/// another description holds a conflicting lock).
pub fn flock_nb(fd: BorrowedFd, exclusive: bool) -> Result<(), Errno> {
    use std::os::fd::AsRawFd;
    let op = if exclusive {
        libc::LOCK_EX
    } else {
        libc::LOCK_SH
    };
    // SAFETY: `flock` takes a descriptor and flags only; it touches no memory of ours.
    Errno::result(unsafe { libc::flock(fd.as_raw_fd(), op | libc::LOCK_NB) }).map(drop)
}
