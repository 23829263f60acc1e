// SPDX-License-Identifier: GPL-2.0

//! Threads of a restored process: each is created by the process (its leader) with
//! `clone3(CLONE_THREAD | ..., set_tid)` on a small stack of its own, sets what is its own
//! (alternate stack, pending signals, robust list, clear-child-tid, rseq, name), loads its
//! FPU state and calls the restart ioctl with `CKPT_RESTART_SHARED_MM`: the module waits
//! until the leader has restored the memory they share, then installs the thread's
//! registers.
//!
//! The thread shares the leader's memory and, having no TLS of its own, its thread pointer:
//! it must not allocate or touch anything of libc's per-thread state. Everything it needs
//! is prepared by the leader in a [`ThreadStart`] before any thread starts, and it only
//! makes raw system calls.

use std::os::fd::RawFd;

use anyhow::{ensure, Result};

use ckptlib::abi::{self, image as img};
use ckptlib::restart::TaskImage;

use crate::restore;
use crate::sys::{self, report_line, xrstor_and_restart, CloneArgs};

const CLONE_VM: u64 = 0x100;
const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
const CLONE_SIGHAND: u64 = 0x800;
const CLONE_THREAD: u64 = 0x10000;
const CLONE_SYSVSEM: u64 = 0x40000;
const STACK_SIZE: usize = 64 << 10;

/// Everything one thread needs, in memory it does not own.
pub struct ThreadStart {
    tid: i32,
    tgid: i32,
    task: img::CkptTaskRec,
    creds: img::CkptCredsRec,
    groups: Vec<u32>,
    /// Whether `groups` differ from the leader's when it starts the thread (and so the
    /// thread's): reading them allocates.
    groups_differ: bool,
    signals: img::CkptSignalsRec,
    pending: Vec<img::CkptSiginfoRec>,
    /// 64-byte aligned copy of the XSAVE area.
    xsave: *mut u8,
    args: abi::CkptRestartArgs,
    dev: RawFd,
    report: RawFd,
    stack: *mut u8,
    reason: [u8; 513],
    /// Clone flags and exit signal: a thread, or a process sharing our memory.
    clone_flags: u64,
    exit_signal: u64,
}

/// What to start.
pub enum Kind {
    Thread,
    /// A process sharing the caller's memory (`CLONE_VM`), and what else it shares
    /// (`CLONE_SIGHAND`, `CLONE_FILES`, `CLONE_FS`); it stops once restored if `stopped`.
    Process {
        shares: u64,
        exit_signal: i32,
        stopped: bool,
    },
}

pub const SHARE_SIGHAND: u64 = CLONE_SIGHAND;
pub const SHARE_FILES: u64 = CLONE_FILES;
pub const SHARE_FS: u64 = CLONE_FS;

impl ThreadStart {
    /// Prepares the start of task `t`, a thread of the caller or a process sharing its
    /// memory.
    pub fn new(
        t: &TaskImage,
        kind: Kind,
        own: [RawFd; 3],
        close: &[RawFd],
    ) -> Result<Box<ThreadStart>> {
        let (clone_flags, exit_signal, stopped) = match kind {
            Kind::Thread => (
                CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM,
                0,
                false,
            ),
            Kind::Process {
                shares,
                exit_signal,
                stopped,
            } => (CLONE_VM | shares, exit_signal as u64, stopped),
        };
        let layout = std::alloc::Layout::from_size_align(t.xsave.len(), 64)?;
        // SAFETY: a non-zero size (an XSAVE area is at least 576 bytes).
        let xsave = unsafe { std::alloc::alloc(layout) };
        ensure!(!xsave.is_null(), "out of memory");
        // SAFETY: both buffers hold `t.xsave.len()` bytes.
        unsafe { std::ptr::copy_nonoverlapping(t.xsave.as_ptr(), xsave, t.xsave.len()) };
        // SAFETY: a fresh private anonymous mapping for the thread's stack.
        let stack = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                STACK_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        ensure!(stack != libc::MAP_FAILED, "no memory for a thread stack");
        let [image, dev, report] = own;
        let mut args = abi::CkptRestartArgs {
            fd: image,
            err_fd: report,
            flags: abi::CKPT_RESTART_SHARED_MM
                | if stopped {
                    abi::CKPT_RESTART_STOPPED
                } else {
                    0
                },
            reason: 0,
            reason_len: 0,
            nr_close: close.len() as u32,
            close_fds: [0; abi::CKPT_RESTART_MAX_CLOSE],
            blocked: t.signals.blocked,
            pos: t.kernel_pos,
            mm_sharers: 0,
            __reserved: 0,
        };
        args.close_fds[..close.len()].copy_from_slice(close);
        Ok(Box::new(ThreadStart {
            tid: t.task.pid,
            tgid: t.task.tgid,
            task: t.task,
            creds: t.creds,
            groups: t.groups.clone(),
            groups_differ: restore::groups_differ(&t.groups)?,
            signals: t.signals,
            pending: t.pending.clone(),
            xsave,
            args,
            dev,
            report,
            stack: stack.cast(),
            reason: [0; 513],
            clone_flags,
            exit_signal,
        }))
    }

    /// Starts the thread; it never comes back to this code.
    pub fn spawn(self: &mut Box<ThreadStart>) -> Result<()> {
        let tids = [self.tid];
        let args = CloneArgs {
            flags: self.clone_flags,
            exit_signal: self.exit_signal,
            stack: self.stack as u64,
            stack_size: STACK_SIZE as u64,
            set_tid: tids.as_ptr() as u64,
            set_tid_size: 1,
            ..Default::default()
        };
        let start: *mut ThreadStart = &mut **self;
        let ret: i64;
        // SAFETY: clone3 with CLONE_VM starts the child on its own stack; the child only
        // runs `thread_entry`, which never returns, with `start` (kept alive by the leader,
        // which never frees it: it becomes the image or dies).
        unsafe {
            core::arch::asm!(
                "syscall",
                "test rax, rax",
                "jnz 2f",
                "and rsp, -16",
                "mov rdi, r12",
                "call {entry}",
                "ud2",
                "2:",
                entry = sym thread_entry,
                inlateout("rax") libc::SYS_clone3 => ret,
                in("rdi") &args as *const CloneArgs,
                in("rsi") size_of::<CloneArgs>(),
                in("r12") start,
                lateout("rcx") _,
                lateout("r11") _,
            );
        }
        ensure!(
            ret > 0,
            "creating thread {}: {}",
            self.tid,
            std::io::Error::from_raw_os_error(-ret as i32)
        );
        Ok(())
    }
}

/// The new thread. Raw system calls only; a failure is reported in one line and kills the
/// whole process.
extern "C" fn thread_entry(start: *mut ThreadStart) -> ! {
    // SAFETY: `start` is the leader's prepared struct, alive for as long as we run.
    let s = unsafe { &mut *start };
    let fail = |what: &str| -> ! {
        report_line(s.report, s.tid, what);
        // SAFETY: ends the whole process: a thread that cannot be restored fails it all.
        unsafe { libc::syscall(libc::SYS_exit_group, 1) };
        unreachable!()
    };
    // SAFETY: plain system calls on this thread, with values from the image.
    unsafe {
        if !sys::set_altstack(&s.signals) {
            fail("thread: sigaltstack failed");
        }
        for p in &s.pending {
            if sys::requeue_pending(s.tgid, s.tid, false, p).is_err() {
                fail("thread: queueing a pending signal failed");
            }
        }
        let t = &s.task;
        if t.robust_list != 0
            && libc::syscall(libc::SYS_set_robust_list, t.robust_list, t.robust_list_len) != 0
        {
            fail("thread: set_robust_list failed");
        }
        libc::syscall(libc::SYS_set_tid_address, t.clear_child_tid);
        libc::syscall(libc::SYS_prctl, libc::PR_SET_NAME, t.comm.as_ptr());
        // Per task; returns the previous persona, -1 on failure.
        if libc::syscall(libc::SYS_personality, t.personality as libc::c_ulong) == -1 {
            fail("thread: personality failed");
        }
        // Started with the leader's credentials before they changed, as the leader's own
        // started: the same steps (raw system calls only).
        if let Err(e) = restore::apply_credentials(&s.creds, &s.groups, s.groups_differ) {
            let mut buf = [0u8; 160];
            fail(join(&mut buf, &["thread: credentials: ", e.step]));
        }
        // Shared with the leader, which sets it after its own credentials; a change of ours
        // resets it too, so we set it again after ours.
        if t.dumpable != u32::MAX
            && libc::syscall(libc::SYS_prctl, libc::PR_SET_DUMPABLE, t.dumpable) != 0
        {
            fail("thread: PR_SET_DUMPABLE failed");
        }
        // Per task, after the credentials (which clear it); its parent is the leader's (a
        // thread) or the leader (a process).
        if t.pdeath_signal != 0
            && libc::syscall(libc::SYS_prctl, libc::PR_SET_PDEATHSIG, t.pdeath_signal) != 0
        {
            fail("thread: PR_SET_PDEATHSIG failed");
        }
        if t.no_new_privs != 0 && libc::syscall(libc::SYS_prctl, libc::PR_SET_NO_NEW_PRIVS, 1) != 0
        {
            fail("thread: PR_SET_NO_NEW_PRIVS failed");
        }
        // Started with its leader's nice, the lowest of the process's: raising needs nothing.
        if libc::syscall(libc::SYS_setpriority, libc::PRIO_PROCESS, 0, t.nice) != 0 {
            fail("thread: setpriority failed");
        }
        if t.timer_slack_ns != 0
            && libc::syscall(libc::SYS_prctl, libc::PR_SET_TIMERSLACK, t.timer_slack_ns) != 0
        {
            fail("thread: PR_SET_TIMERSLACK failed");
        }
        if t.rseq != 0 {
            if t.rseq % 32 != 0 || t.rseq_len < 32 || t.rseq_len > 4096 {
                fail("thread: bad rseq area in the image");
            }
            // As for the process (restore::swap_rseq): a scratch page where the area will be,
            // which the module replaces with the image's.
            let page = t.rseq & !4095;
            let got = libc::syscall(
                libc::SYS_mmap,
                page,
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
                -1,
                0,
            );
            if got as u64 != page {
                fail("thread: the image's rseq area collides with rstr's own memory: try again");
            }
            if libc::syscall(libc::SYS_rseq, t.rseq, t.rseq_len, 0, t.rseq_sig) != 0 {
                fail("thread: registering the rseq area failed");
            }
        }
        s.args.reason = s.reason.as_mut_ptr() as u64;
        s.args.reason_len = s.reason.len() as u32;
        let ret = xrstor_and_restart(s.xsave, s.dev, &s.args);
        let _ = ret;
        fail("thread: the restart ioctl failed (see the leader's reason)");
    }
}

/// `parts` end to end in `buf` (cut at its end), without allocating.
fn join<'a>(buf: &'a mut [u8], parts: &[&str]) -> &'a str {
    let mut n = 0;
    for p in parts {
        // Whole parts only, so that the result stays valid UTF-8.
        if n + p.len() > buf.len() {
            break;
        }
        buf[n..n + p.len()].copy_from_slice(p.as_bytes());
        n += p.len();
    }
    core::str::from_utf8(&buf[..n]).unwrap_or("thread: credentials")
}
