// SPDX-License-Identifier: GPL-2.0

//! The only part of `ckptlib` that writes `unsafe`: the module's ioctls and the system calls
//! neither std nor nix wraps, each behind a safe function whose arguments make it sound.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

use nix::sys::signal::SigSet;
use zerocopy::FromZeros;

use crate::abi;

nix::ioctl_read_bad!(ioc_version, abi::CKPT_IOC_VERSION, abi::CkptVersion);
nix::ioctl_write_ptr_bad!(
    ioc_checkpoint,
    abi::CKPT_IOC_CHECKPOINT,
    abi::CkptCheckpointArgs
);

/// XCR0: the state components the kernel enabled for XSAVE (0 without OSXSAVE).
pub fn xcr0() -> u64 {
    // CPUID 1, ECX bit 27: the kernel set CR4.OSXSAVE, without which XGETBV faults.
    if std::arch::x86_64::__cpuid_count(1, 0).ecx & (1 << 27) == 0 {
        return 0;
    }
    let (lo, hi): (u32, u32);
    // SAFETY: XGETBV(0) only reads XCR0, available with CR4.OSXSAVE (checked above); it
    // touches no memory.
    unsafe {
        std::arch::asm!("xgetbv", in("ecx") 0, out("eax") lo, out("edx") hi, options(nomem, nostack));
    }
    (u64::from(hi) << 32) | u64::from(lo)
}

/// The CPUID words a `HEADER` records (`abi::image::cpuid_word`), as this process reads
/// them; a word of a leaf beyond the CPU's highest basic or extended leaf is 0.
pub fn cpuid_words() -> [u32; abi::image::CKPT_CPUID_WORDS] {
    use std::arch::x86_64::__cpuid_count;
    let max_basic = __cpuid_count(0, 0).eax;
    let max_ext = __cpuid_count(0x8000_0000, 0).eax;
    std::array::from_fn(|i| {
        let (leaf, sub, reg) = abi::image::cpuid_word(i);
        let max = if leaf >= 0x8000_0000 {
            max_ext
        } else {
            max_basic
        };
        if leaf > max {
            return 0;
        }
        let r = __cpuid_count(leaf, sub);
        [r.eax, r.ebx, r.ecx, r.edx][reg as usize]
    })
}

/// `CKPT_IOC_VERSION` on the device open at `dev`.
pub fn version(dev: BorrowedFd<'_>) -> nix::Result<abi::CkptVersion> {
    let mut raw = abi::CkptVersion::new_zeroed();
    // SAFETY: `raw` is a valid, writable `CkptVersion`, the size the ioctl number encodes.
    unsafe { ioc_version(dev.as_raw_fd(), &mut raw) }?;
    Ok(raw)
}

/// The figures the module updates while a checkpoint runs (`struct ckpt_stats`), readable
/// by other threads meanwhile: the kernel stores into it from the ioctl's thread.
#[repr(C)]
#[derive(Debug, Default)]
pub struct LiveStats([std::sync::atomic::AtomicU64; 8]);

const _: () = assert!(size_of::<LiveStats>() == size_of::<abi::CkptStats>());

impl LiveStats {
    /// The figures as they are now.
    pub fn get(&self) -> abi::CkptStats {
        let v: [u64; 8] =
            std::array::from_fn(|i| self.0[i].load(std::sync::atomic::Ordering::Relaxed));
        abi::CkptStats {
            tasks: v[0],
            files: v[1],
            vmas: v[2],
            pages_scanned: v[3],
            pages_written: v[4],
            pages_shared: v[5],
            records: v[6],
            bytes: v[7],
        }
    }
}

/// `CKPT_IOC_CHECKPOINT` of the tasks `tids` (the root first) into `out` (none for
/// `CKPT_CHECKPOINT_CHECK`); on failure the module writes its reason (reasons, one per line,
/// for a check), NUL-terminated, into `reason`. With `log`, it writes its log lines to that
/// descriptor, of the level given; with `stats`, it keeps them up to date.
pub fn checkpoint(
    dev: BorrowedFd<'_>,
    tids: &[i32],
    out: Option<BorrowedFd<'_>>,
    flags: u64,
    reason: &mut [u8],
    log: Option<(BorrowedFd<'_>, u32)>,
    stats: Option<&LiveStats>,
) -> nix::Result<()> {
    let args = abi::CkptCheckpointArgs {
        pid: tids.first().copied().unwrap_or(0),
        fd: out.map_or(-1, |f| f.as_raw_fd()),
        flags,
        reason: reason.as_mut_ptr() as u64,
        reason_len: u32::try_from(reason.len()).map_err(|_| nix::Error::EINVAL)?,
        nr_tasks: u32::try_from(tids.len()).map_err(|_| nix::Error::EINVAL)?,
        tasks: tids.as_ptr() as u64,
        log_fd: log.map_or(-1, |(f, _)| f.as_raw_fd()),
        log_level: log.map_or(abi::CKPT_LOG_NONE, |(_, l)| l),
        stats: stats.map_or(0, |s| s as *const LiveStats as u64),
    };
    // SAFETY: `args` is a valid struct of the size the ioctl number encodes; the module writes
    // at most `reason_len` bytes at `reason`, reads `nr_tasks` pids at `tasks` and stores
    // into the `LiveStats` (atomics: shared writes are sound), all borrowed for the length of
    // the call.
    unsafe { ioc_checkpoint(dev.as_raw_fd(), &args) }.map(|_| ())
}

/// `semctl(id, n, GETPID)`: the last process that changed semaphore `n` of set `id`.
pub fn sem_getpid(id: i32, n: i32) -> nix::Result<i32> {
    // SAFETY: GETPID takes no fourth argument and only reads the kernel's set.
    let pid = unsafe { libc::semctl(id, n, libc::GETPID) };
    nix::errno::Errno::result(pid)
}

/// `CLOCK_MONOTONIC`, read with the system call, never the vDSO (which `rstr` replaces).
pub fn monotonic_syscall() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: the system call writes the struct we pass, which outlives it; it cannot fail
    // for CLOCK_MONOTONIC and a valid pointer.
    unsafe { libc::syscall(libc::SYS_clock_gettime, libc::CLOCK_MONOTONIC, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `sigtimedwait` for one of `set` (blocked by the caller), at most `timeout`; the signal
/// taken, if one came.
pub fn sigtimedwait(set: &SigSet, timeout: Duration) -> Option<i32> {
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos().into(),
    };
    // SAFETY: `set` is a valid signal set and `ts` a valid timeout, both outliving the call;
    // the signal's information is not asked for.
    let sig = unsafe { libc::sigtimedwait(set.as_ref(), std::ptr::null_mut(), &ts) };
    (sig > 0).then_some(sig)
}

/// `kcmp(a, b, KCMP_VM)`: whether two tasks share their memory (`false` if either is gone).
pub fn same_memory(a: i32, b: i32) -> bool {
    const KCMP_VM: libc::c_long = 1;
    // SAFETY: kcmp compares two tasks' memory; no pointer is passed.
    unsafe { libc::syscall(libc::SYS_kcmp, a, b, KCMP_VM, 0, 0) == 0 }
}

extern "C" {
    /// glibc (2.35 and later): where its rseq area is, relative to the thread pointer, and
    /// its registered size (0 if glibc did not register one).
    static __rseq_offset: isize;
    static __rseq_size: u32;
}

/// Unregisters glibc's rseq area of the calling thread, if glibc registered one, before a
/// restart replaces the memory it is in (as `rstr` does; `ckpt-fuzz`'s ioctl workers too).
pub fn unregister_own_rseq() -> nix::Result<()> {
    const RSEQ_FLAG_UNREGISTER: libc::c_int = 1;
    const RSEQ_SIG: u32 = 0x5305_3053;
    // SAFETY: reading glibc's exported, constant rseq variables.
    let (size, offset) = unsafe {
        (
            core::ptr::read_volatile(&raw const __rseq_size),
            core::ptr::read_volatile(&raw const __rseq_offset),
        )
    };
    if size == 0 {
        return Ok(());
    }
    let tp: u64;
    // SAFETY: reads the thread pointer (the TCB's self pointer at fs:0).
    unsafe { core::arch::asm!("mov {}, fs:0", out(reg) tp, options(nostack, readonly)) };
    let area = tp.wrapping_add(offset as u64);
    let mut last = nix::errno::Errno::UnknownErrno;
    for len in [size.max(32), 32] {
        // SAFETY: unregistering only stops the kernel's updates of glibc's area; glibc
        // treats an unregistered area as "no rseq" (its fallbacks make system calls).
        let r = unsafe { libc::syscall(libc::SYS_rseq, area, len, RSEQ_FLAG_UNREGISTER, RSEQ_SIG) };
        if r == 0 {
            return Ok(());
        }
        last = nix::errno::Errno::last();
    }
    Err(last)
}
