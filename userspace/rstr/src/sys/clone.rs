// SPDX-License-Identifier: GPL-2.0

//! `clone3` with chosen pids: a process that is a fork of its creator, and a task that
//! shares its creator's memory (a thread, or a `CLONE_VM` process), started on a stack of
//! its own.

use std::io;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use ckptlib::procfs;

/// `struct clone_args`, up to `set_tid_size` (CLONE_ARGS_SIZE_VER1).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
}

pub const CLONE_VM: u64 = libc::CLONE_VM as u64;
pub const CLONE_FS: u64 = libc::CLONE_FS as u64;
pub const CLONE_FILES: u64 = libc::CLONE_FILES as u64;
pub const CLONE_SIGHAND: u64 = libc::CLONE_SIGHAND as u64;
pub const CLONE_THREAD: u64 = libc::CLONE_THREAD as u64;
pub const CLONE_SYSVSEM: u64 = libc::CLONE_SYSVSEM as u64;
pub const CLONE_NEWPID: u64 = libc::CLONE_NEWPID as u64;
pub const CLONE_NEWUTS: u64 = libc::CLONE_NEWUTS as u64;

/// Forks a child with pid `pid` in the caller's pid namespace (or, with `CLONE_NEWPID` in
/// `flags` and `pid` 0, as the init of a new one, with `CLONE_NEWUTS` in a new UTS
/// namespace too; new network and IPC namespaces are made before, see [`super::netns`]);
/// returns 0 in the child, its pid (as the
/// caller sees it) in the parent. `flags` may add `CLONE_FILES`, `CLONE_FS`, never
/// `CLONE_VM` (see [`spawn_vm`]).
pub fn clone_process(pid: i32, flags: u64, exit_signal: i32) -> Result<i32> {
    assert_eq!(flags & (CLONE_VM | CLONE_THREAD), 0, "clone_process forks");
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
    let deadline = Instant::now() + Duration::from_secs(10);
    let ret = loop {
        // SAFETY: clone3 without CLONE_VM (asserted above) is a fork; `args` and `tids`
        // outlive the call. The caller is single-threaded, so the child may go on running
        // ordinary Rust code.
        let ret = unsafe { libc::syscall(libc::SYS_clone3, &args, size_of::<CloneArgs>()) };
        let e = io::Error::last_os_error();
        if ret >= 0 {
            break Ok(ret);
        }
        if e.raw_os_error() != Some(libc::EEXIST)
            || !holder_is_dead(pid)
            || Instant::now() >= deadline
        {
            break Err(e);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    match ret {
        Ok(ret) => Ok(ret as i32),
        Err(e) => match e.raw_os_error() {
            Some(libc::EEXIST) => bail!("pid {pid} is taken: {}", holder_of(pid)),
            Some(libc::EPERM) => {
                bail!("choosing pid {pid} needs CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN)")
            }
            _ => Err(anyhow::Error::new(e).context(format!("clone3 with pid {pid}"))),
        },
    }
}

/// Whether the task holding `pid` is dead (a zombie, or being released) or already gone.
fn holder_is_dead(pid: i32) -> bool {
    procfs::stat(pid).is_none_or(|s| s.state == 'Z' || s.state == 'X')
}

/// Who holds `pid`, for the error that says it is taken.
fn holder_of(pid: i32) -> String {
    let comm = procfs::comm(pid).unwrap_or_default();
    match procfs::stat(pid) {
        Some(s) if s.state == 'Z' => format!(
            "process {pid} ({comm}) is a zombie its parent {} has not reaped",
            s.ppid
        ),
        Some(_) => format!("process {pid} ({comm}) has it"),
        None => "a task had it (a thread, or one gone since)".into(),
    }
}

/// The stack of a task started by [`spawn_vm`]: 64 KiB, 64-byte aligned, never freed.
pub struct Stack(&'static mut [Chunk]);

#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Chunk([u8; 64]);

impl Stack {
    const SIZE: usize = 64 << 10;

    pub fn new() -> Stack {
        Stack(Vec::leak(vec![Chunk([0; 64]); Self::SIZE / 64]))
    }
}

/// Starts a task that shares the caller's memory (`CLONE_VM` in `flags`: a thread with
/// `CLONE_THREAD`, else a process), with tid `tid`, on `stack`, running `entry(data)`,
/// which never returns. `data` and `stack` are the task's for good (leaked by the caller),
/// since the caller may return, and free whatever else it owns, before the task ends.
///
/// The task has the caller's thread pointer and no TLS of its own: `entry` must make raw
/// system calls only ([`super::raw`]), allocate nothing and not unwind.
pub fn spawn_vm<T: Sync + 'static>(
    flags: u64,
    exit_signal: i32,
    tid: i32,
    stack: Stack,
    data: &'static T,
    entry: fn(&'static T) -> !,
) -> Result<()> {
    assert!(flags & CLONE_VM != 0, "spawn_vm shares the memory");
    let tids = [tid];
    let stack = stack.0;
    let args = CloneArgs {
        flags,
        exit_signal: exit_signal as u64,
        stack: stack.as_mut_ptr() as u64,
        stack_size: Stack::SIZE as u64,
        set_tid: tids.as_ptr() as u64,
        set_tid_size: 1,
        ..Default::default()
    };
    let ret: i64;
    // SAFETY: clone3 with CLONE_VM starts the child on `stack`, which nothing else uses
    // (leaked, given to this call); the child calls only `trampoline::<T>(data, entry)`,
    // which never returns, with `data` alive for good. The parent's registers but rax, rcx
    // and r11 (syscall's) are preserved; the child never comes back to this code.
    unsafe {
        core::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            "and rsp, -16",
            "mov rdi, r12",
            "mov rsi, r13",
            "call {entry}",
            "ud2",
            "2:",
            entry = sym trampoline::<T>,
            inlateout("rax") libc::SYS_clone3 => ret,
            in("rdi") &args as *const CloneArgs,
            in("rsi") size_of::<CloneArgs>(),
            in("r12") data as *const T,
            in("r13") entry as *const (),
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    if ret < 0 {
        bail!(
            "creating task {tid}: {}",
            io::Error::from_raw_os_error(-ret as i32)
        );
    }
    Ok(())
}

/// The first Rust code of a task started by [`spawn_vm`].
extern "C" fn trampoline<T: 'static>(data: *const T, entry: *const ()) -> ! {
    // SAFETY: `entry` is the `fn(&'static T) -> !` that `spawn_vm` put in r13, cast back
    // to its own type.
    let entry: fn(&'static T) -> ! = unsafe { core::mem::transmute(entry) };
    // SAFETY: `data` is the `&'static T` that `spawn_vm` put in r12.
    entry(unsafe { &*data })
}
