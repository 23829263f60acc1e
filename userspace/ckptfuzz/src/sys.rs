// SPDX-License-Identifier: GPL-2.0

//! The only part of `ckpt-fuzz` that writes `unsafe`: the module's ioctls with argument
//! structs exactly as the harness made them (the numbers and structs are `uapi`'s, through
//! `ckptlib::abi`), and the system calls std and nix do not wrap.
//!
//! The argument structs carry addresses (`reason`, `tasks`) that the harness sets to
//! hostile values on purpose: the kernel must refuse them or fail to copy. The only
//! addresses of the harness's own memory it passes for the kernel to write are buffers it
//! owns for that, of at least [`REASON_ROOM`] bytes: see [`crate::ioctl`].

use std::ffi::CStr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;

use ckptlib::abi;

/// Room the kernel may write a reason into, whatever `reason_len` says: longer than any
/// reason the module writes (they are cut at `CKPT_REASON_MAX`).
pub const REASON_ROOM: usize = 4096;

nix::ioctl_write_ptr_bad!(ioc_restart, abi::CKPT_IOC_RESTART, abi::CkptRestartArgs);
nix::ioctl_write_ptr_bad!(ioc_begin, abi::CKPT_IOC_RESTART_BEGIN, abi::CkptSessionArgs);
nix::ioctl_none_bad!(ioc_go, abi::CKPT_IOC_RESTART_GO);
nix::ioctl_write_ptr_bad!(
    ioc_checkpoint,
    abi::CKPT_IOC_CHECKPOINT,
    abi::CkptCheckpointArgs
);

/// `CKPT_IOC_RESTART` on `dev`. Does not return if the restart passes its point of no
/// return (the task then waits for its session's go, or is killed).
///
/// # Safety
///
/// `args.reason` must be an address the kernel may write `args.reason_len` bytes at (or
/// [`REASON_ROOM`] bytes of a buffer the caller owns for it), or one that belongs to no
/// memory of this process (null, kernel, unmapped, read-only): the kernel writes the
/// reason of a refusal there.
pub unsafe fn restart(dev: RawFd, args: &abi::CkptRestartArgs) -> Result<i32, Errno> {
    // SAFETY: `args` is a valid struct of the size the ioctl number encodes; what the
    // kernel writes at `args.reason` is the caller's contract.
    unsafe { ioc_restart(dev, args) }
}

/// `CKPT_IOC_CHECKPOINT` on `dev`.
///
/// # Safety
///
/// As [`restart`], for `args.reason`; the kernel only reads at `args.tasks`.
pub unsafe fn checkpoint(dev: RawFd, args: &abi::CkptCheckpointArgs) -> Result<i32, Errno> {
    // SAFETY: as for `restart`.
    unsafe { ioc_checkpoint(dev, args) }
}

/// `CKPT_IOC_RESTART_BEGIN` on `dev`.
pub fn begin(dev: RawFd, args: &abi::CkptSessionArgs) -> Result<i32, Errno> {
    // SAFETY: `args` is a valid struct of the size the ioctl number encodes; the kernel
    // only reads it.
    unsafe { ioc_begin(dev, args) }
}

/// `CKPT_IOC_RESTART_GO` on `dev`.
pub fn go(dev: RawFd) -> Result<i32, Errno> {
    // SAFETY: the ioctl takes no argument.
    unsafe { ioc_go(dev) }
}

/// A new memfd, for images written and read again without touching a filesystem.
pub fn memfd(name: &CStr) -> Result<OwnedFd, Errno> {
    // SAFETY: `name` is NUL-terminated and outlives the call.
    let fd = Errno::result(unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) })?;
    // SAFETY: the descriptor was just created and is owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Forks; the child runs `child` and exits with its value, never returning here.
pub fn fork(child: impl FnOnce() -> i32) -> Result<nix::unistd::Pid, Errno> {
    // SAFETY: the harness is single-threaded when it forks (the parent never starts a
    // thread), so the child may run any code; it leaves with `_exit`, running no atexit
    // handler or destructor of the parent's objects.
    match unsafe { nix::unistd::fork() }? {
        nix::unistd::ForkResult::Parent { child } => Ok(child),
        nix::unistd::ForkResult::Child => {
            let code = child();
            // SAFETY: `_exit` ends the process at once; nothing runs after it.
            unsafe { libc::_exit(code) }
        }
    }
}

/// Unmaps this process's vDSO and vvar (`ranges`) and maps a vDSO block at `block`, as
/// `rstr` does before its restart. From then on nothing may call into the vDSO: the
/// harness's worker does not read clocks.
pub fn remap_vdso(ranges: &[(u64, u64)], block: u64) -> Result<(), Errno> {
    const ARCH_MAP_VDSO_64: libc::c_int = 0x2003;
    for &(a, b) in ranges {
        // SAFETY: the vDSO and vvar of this process: no Rust object lives there, and the
        // worker calls nothing that uses them (no clock is read from here on).
        Errno::result(unsafe { libc::munmap(a as *mut libc::c_void, (b - a) as usize) })?;
    }
    // SAFETY: maps a fresh vDSO block at `block`; the kernel refuses an address in use.
    Errno::result(unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_MAP_VDSO_64, block) }).map(drop)
}

/// A page of this process mapped read-only, and an address just after an unmapped gap: a
/// reason buffer the kernel cannot write, and one it cannot reach.
pub fn read_only_page() -> Result<u64, Errno> {
    // SAFETY: a new anonymous mapping at an address the kernel chooses; no Rust object
    // lives there. It is never unmapped, and only the kernel is asked to write it.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(Errno::last());
    }
    Ok(p as u64)
}

/// `PR_SET_CHILD_SUBREAPER`: orphans of the processes `rstr` restores become ours, to be
/// found and killed after each case.
pub fn become_subreaper() -> Result<(), Errno> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// An ioctl of any number on `fd`, with `buf` as its argument.
pub fn any_ioctl(fd: RawFd, cmd: u32, buf: &mut [u8; 1 << 14]) -> Result<i32, Errno> {
    // SAFETY: whatever `cmd` encodes, its size is below 1 << 14 (`_IOC_SIZEBITS`), so a
    // kernel that reads or writes the size the number encodes stays in `buf`.
    Errno::result(unsafe { libc::ioctl(fd, cmd as libc::c_ulong, buf.as_mut_ptr()) })
}

/// The first address above user space for this process: 0x7fff_ffff_f000 with 4-level page
/// tables, 0x00ff_ffff_ffff_f000 with 5-level ones (LA57), where a mapping may be placed
/// above 2^47 when asked for there.
pub fn task_size() -> u64 {
    const HIGH: u64 = 1 << 48;
    // SAFETY: a new inaccessible anonymous mapping at an address no Rust object uses (above
    // 2^47, where nothing is mapped unless asked for), unmapped at once.
    let p = unsafe {
        libc::mmap(
            HIGH as *mut libc::c_void,
            4096,
            libc::PROT_NONE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED || p as u64 != HIGH {
        return crate::mutate::TASK_SIZE;
    }
    // SAFETY: the page just mapped above, which nothing else uses.
    unsafe { libc::munmap(p, 4096) };
    0x00ff_ffff_ffff_f000
}
