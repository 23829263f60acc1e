// SPDX-License-Identifier: GPL-2.0

//! System calls `rstr` needs that `libc`/`nix` do not wrap as used here: `clone3` with
//! chosen pids, a futex barrier shared by every process of the tree, and the final
//! `XRSTOR` + restart ioctl.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{bail, Result};

use ckptlib::abi;

/// Installs the image's alternate signal stack for the calling thread, if it had one. Raw
/// system call, no allocation: a thread started by `clone3` calls it too. `false` if the
/// kernel refused it (`errno` tells why).
pub fn set_altstack(s: &abi::image::CkptSignalsRec) -> bool {
    if s.altstack_flags & libc::SS_DISABLE as u32 != 0 || s.altstack_size == 0 {
        return true;
    }
    let ss = libc::stack_t {
        ss_sp: s.altstack_sp as *mut libc::c_void,
        ss_flags: (s.altstack_flags & (1 << 31)) as i32,
        ss_size: s.altstack_size as usize,
    };
    // SAFETY: `sigaltstack` only records the range for this thread; nothing is dereferenced.
    unsafe { libc::syscall(libc::SYS_sigaltstack, &ss, 0) == 0 }
}

/// Queues a saved pending signal again: to the whole process `tgid` if `shared`, else to
/// its thread `tid`. Raw system call, no allocation. The signal number, or `Err` with it.
pub fn requeue_pending(
    tgid: i32,
    tid: i32,
    shared: bool,
    p: &abi::image::CkptSiginfoRec,
) -> Result<i32, i32> {
    let signo = i32::from_ne_bytes([p.info[0], p.info[1], p.info[2], p.info[3]]);
    // SAFETY: the kernel copies the siginfo from `p.info`, which outlives the call.
    let r = unsafe {
        if shared {
            libc::syscall(libc::SYS_rt_sigqueueinfo, tgid, signo, p.info.as_ptr())
        } else {
            libc::syscall(
                libc::SYS_rt_tgsigqueueinfo,
                tgid,
                tid,
                signo,
                p.info.as_ptr(),
            )
        }
    };
    if r == 0 {
        Ok(signo)
    } else {
        Err(signo)
    }
}

/// `errno` of the last failed call, as an error with context.
pub fn last_os(what: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(io::Error::last_os_error()).context(what.to_string())
}

/// A system call's `-1`-on-error return, as a `Result`.
pub fn check(ret: libc::c_long, what: impl std::fmt::Display) -> Result<libc::c_long> {
    if ret < 0 {
        Err(last_os(what))
    } else {
        Ok(ret)
    }
}

pub fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(last_os("pipe2"));
    }
    // SAFETY: both are fresh descriptors we own.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `struct clone_args`, up to `set_tid_size` (CLONE_ARGS_SIZE_VER1).
#[repr(C)]
#[derive(Default)]
pub struct CloneArgs {
    pub flags: u64,
    pub pidfd: u64,
    pub child_tid: u64,
    pub parent_tid: u64,
    pub exit_signal: u64,
    pub stack: u64,
    pub stack_size: u64,
    pub tls: u64,
    pub set_tid: u64,
    pub set_tid_size: u64,
}

pub const CLONE_NEWPID: u64 = 0x2000_0000;

/// Forks a child with pid `pid` in the caller's pid namespace (or, with `CLONE_NEWPID` in
/// `flags` and `pid` 0, as the init of a new one); returns 0 in the child, its pid (as the
/// caller sees it) in the parent. `flags` may add `CLONE_FILES`, `CLONE_FS`.
pub fn clone_process(pid: i32, flags: u64, exit_signal: i32) -> Result<i32> {
    let tids = [pid];
    let args = CloneArgs {
        flags,
        exit_signal: exit_signal as u64,
        set_tid: if pid > 0 { tids.as_ptr() as u64 } else { 0 },
        set_tid_size: u64::from(pid > 0),
        ..Default::default()
    };
    // A pid held by a zombie its parent is about to reap (the image's process killed by
    // `ckpt --kill` a moment ago, waiting for init) is free soon: waited for, a while.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let ret = loop {
        // SAFETY: clone3 without CLONE_VM is a fork; `args` and `tids` outlive the call.
        // The caller is single-threaded, so the child may go on running ordinary Rust code.
        let ret = unsafe { libc::syscall(libc::SYS_clone3, &args, size_of::<CloneArgs>()) };
        let e = io::Error::last_os_error();
        if ret >= 0 {
            break Ok(ret);
        }
        if e.raw_os_error() != Some(libc::EEXIST)
            || !holder_is_dead(pid)
            || std::time::Instant::now() >= deadline
        {
            break Err(e);
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    };
    let ret = match ret {
        Ok(ret) => ret,
        Err(e) => match e.raw_os_error() {
            Some(libc::EEXIST) => bail!("pid {pid} is taken: {}", holder_of(pid)),
            Some(libc::EPERM) => {
                bail!("choosing pid {pid} needs CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN)")
            }
            _ => return Err(anyhow::Error::new(e).context(format!("clone3 with pid {pid}"))),
        },
    };
    Ok(ret as i32)
}

/// `/proc/PID/stat`'s state and parent.
fn state_and_parent(pid: i32) -> Option<(char, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut f = stat.rsplit_once(')')?.1.split_whitespace();
    let state = f.next()?.chars().next()?;
    Some((state, f.next()?.parse().ok()?))
}

/// Whether the task holding `pid` is dead (a zombie, or being released) or already gone.
fn holder_is_dead(pid: i32) -> bool {
    state_and_parent(pid).is_none_or(|(s, _)| s == 'Z' || s == 'X')
}

/// Who holds `pid`, for the error that says it is taken.
fn holder_of(pid: i32) -> String {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    match state_and_parent(pid) {
        Some(('Z', ppid)) => format!(
            "process {pid} ({}) is a zombie its parent {ppid} has not reaped",
            comm.trim_end()
        ),
        Some(_) => format!("process {pid} ({}) has it", comm.trim_end()),
        None => "a task had it (a thread, or one gone since)".into(),
    }
}

/// Counters in memory shared by every process `rstr` creates (an anonymous shared mapping
/// made before the first fork), for barriers across processes.
pub struct Board {
    words: *const AtomicU32,
}

// SAFETY: the mapping lives as long as the process; atomics are shared by design.
unsafe impl Sync for Board {}

pub const BOARD_CREATED: usize = 0;
pub const BOARD_JOINED: usize = 1;

impl Board {
    pub fn new() -> Result<Board> {
        // SAFETY: a fresh anonymous shared mapping, never unmapped by us.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(last_os("mmap of the shared counters"));
        }
        Ok(Board { words: p.cast() })
    }

    fn word(&self, i: usize) -> &AtomicU32 {
        // SAFETY: `i` is one of the BOARD_* indices, inside the page.
        unsafe { &*self.words.add(i) }
    }

    /// Arrives at barrier `i` and waits until `n` processes have.
    pub fn barrier(&self, i: usize, n: u32) {
        let w = self.word(i);
        let now = w.fetch_add(1, Ordering::SeqCst) + 1;
        if now >= n {
            // SAFETY: futex wake on a word of the shared mapping.
            unsafe { libc::syscall(libc::SYS_futex, w.as_ptr(), libc::FUTEX_WAKE, i32::MAX) };
            return;
        }
        loop {
            let v = w.load(Ordering::SeqCst);
            if v >= n {
                return;
            }
            // SAFETY: futex wait on a word of the shared mapping while it holds `v`.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    w.as_ptr(),
                    libc::FUTEX_WAIT,
                    v,
                    std::ptr::null::<libc::timespec>(),
                )
            };
        }
    }
}

/// Writes one line to the report pipe in a single `write` (atomic below `PIPE_BUF`), with no
/// allocation: usable from threads that share memory with their process.
pub fn report_line(fd: RawFd, pid: i32, msg: &str) {
    let mut buf = [0u8; 512];
    let mut w = Cursor {
        buf: &mut buf,
        at: 0,
    };
    let _ = std::fmt::Write::write_fmt(&mut w, format_args!("pid {pid}: {msg}"));
    let n = w.at.min(buf.len() - 1);
    buf[n] = b'\n';
    // SAFETY: writing a buffer we own.
    unsafe { libc::write(fd, buf.as_ptr().cast(), n + 1) };
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

/// XCR0 and the XSAVE area size it needs on this CPU.
pub fn cpu_xsave() -> (u64, usize) {
    let (lo, hi): (u32, u32);
    // SAFETY: XGETBV(0) is available wherever the kernel enabled XSAVE, which the image's
    // XSTATE record implies (the module refuses to checkpoint without it).
    unsafe {
        core::arch::asm!("xgetbv", in("ecx") 0, out("eax") lo, out("edx") hi, options(nomem, nostack));
    }
    // CPUID leaf 0xD, sub-leaf 0: EBX is the XSAVE area size for the features XCR0 enables.
    let size = core::arch::x86_64::__cpuid_count(0xd, 0).ebx as usize;
    ((u64::from(hi) << 32) | u64::from(lo), size)
}

/// Loads the image's FPU/vector state and calls `CKPT_IOC_RESTART` with nothing between the
/// two that could touch that state: both are in one `asm!` block. On success the ioctl never
/// returns here; on failure it returns `-errno` (and this code runs on with the image's
/// FPU control state, which only the error path below uses).
///
/// # Safety
///
/// `area` must be a 64-byte aligned, checked XSAVE area; `args` a valid argument struct.
pub unsafe fn xrstor_and_restart(area: *const u8, dev: RawFd, args: &abi::CkptRestartArgs) -> i64 {
    let ret: i64;
    // SAFETY: guaranteed by the caller; the clobbers cover every register the ABI lets a
    // call change, and XRSTOR with an all-ones mask loads every enabled component.
    unsafe {
        core::arch::asm!(
            "mov eax, -1",
            "mov edx, -1",
            "xrstor64 [r8]",
            "mov rdx, r9",
            "mov eax, {nr}",
            "syscall",
            nr = const libc::SYS_ioctl,
            // Fixed registers: generic ones could be rax or rdx, overwritten before use.
            in("r8") area,
            in("r9") args as *const abi::CkptRestartArgs,
            in("rdi") dev as u64,
            in("rsi") abi::CKPT_IOC_RESTART as u64,
            out("rax") ret,
            clobber_abi("C"),
        );
    }
    ret
}

nix::ioctl_write_ptr_bad!(
    ioc_restart_begin,
    abi::CKPT_IOC_RESTART_BEGIN,
    abi::CkptSessionArgs
);
nix::ioctl_none_bad!(ioc_restart_go, abi::CKPT_IOC_RESTART_GO);

/// Makes the open device a restart session of `nr_tasks` tasks.
pub fn session_begin(dev: RawFd, nr_tasks: u32) -> Result<()> {
    let args = abi::CkptSessionArgs { nr_tasks, flags: 0 };
    // SAFETY: `args` is a valid struct of the size the ioctl number encodes.
    unsafe { ioc_restart_begin(dev, &args) }
        .map_err(|e| anyhow::anyhow!("CKPT_IOC_RESTART_BEGIN: {}", e.desc()))?;
    Ok(())
}

/// Lets every restored task of the session run.
pub fn session_go(dev: RawFd) -> Result<()> {
    // SAFETY: an ioctl without argument.
    unsafe { ioc_restart_go(dev) }
        .map_err(|e| anyhow::anyhow!("CKPT_IOC_RESTART_GO: {}", e.desc()))?;
    Ok(())
}
