// SPDX-License-Identifier: GPL-2.0

//! System calls made with the `syscall` instruction itself, not through libc: they return
//! `-errno` and write nothing to libc's `errno`, which lives in the calling thread's TLS.
//! A thread started by [`super::clone::spawn_vm`] shares its creator's thread pointer and
//! must not touch that state, nor allocate: it restores itself with these calls only
//! (Documentation/restart.rst, "Threads"). Each wrapper is safe: it passes integers, or
//! pointers to memory it borrows for the duration of the call.

use nix::errno::Errno;

use ckptlib::abi::image as img;

/// The raw system call `nr` with up to six arguments: its non-negative result, or the
/// errno the kernel returned.
///
/// # Safety
///
/// `nr` and its arguments must make a call that is memory-safe for this process: pointers
/// valid for what the call reads or writes, no mapping or descriptor taken from under Rust.
unsafe fn syscall6(
    nr: libc::c_long,
    a: u64,
    b: u64,
    c: u64,
    d: u64,
    e: u64,
    f: u64,
) -> Result<i64, Errno> {
    let ret: i64;
    // SAFETY: a plain `syscall` instruction, which clobbers only rax, rcx and r11; the
    // caller vouches for the call itself.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") nr => ret,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            in("r10") d,
            in("r8") e,
            in("r9") f,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    if (-4095..0).contains(&ret) {
        Err(Errno::from_raw(-ret as i32))
    } else {
        Ok(ret)
    }
}

/// [`syscall6`] with three arguments.
///
/// # Safety
///
/// As for [`syscall6`].
unsafe fn syscall3(nr: libc::c_long, a: u64, b: u64, c: u64) -> Result<i64, Errno> {
    // SAFETY: guaranteed by the caller.
    unsafe { syscall6(nr, a, b, c, 0, 0, 0) }
}

/// The `prctl` options called with integer arguments only (none of them reads or writes
/// memory through an argument), so that [`prctl`] is safe.
#[derive(Clone, Copy, Debug)]
pub enum Prctl {
    SetDumpable,
    SetPdeathsig,
    SetNoNewPrivs,
    SetTimerslack,
    GetKeepcaps,
    SetKeepcaps,
    CapbsetRead,
    CapbsetDrop,
    CapAmbient,
    GetSecurebits,
    SetSecurebits,
}

impl Prctl {
    fn option(self) -> libc::c_int {
        match self {
            Prctl::SetDumpable => libc::PR_SET_DUMPABLE,
            Prctl::SetPdeathsig => libc::PR_SET_PDEATHSIG,
            Prctl::SetNoNewPrivs => libc::PR_SET_NO_NEW_PRIVS,
            Prctl::SetTimerslack => libc::PR_SET_TIMERSLACK,
            Prctl::GetKeepcaps => libc::PR_GET_KEEPCAPS,
            Prctl::SetKeepcaps => libc::PR_SET_KEEPCAPS,
            Prctl::CapbsetRead => libc::PR_CAPBSET_READ,
            Prctl::CapbsetDrop => libc::PR_CAPBSET_DROP,
            Prctl::CapAmbient => libc::PR_CAP_AMBIENT,
            Prctl::GetSecurebits => libc::PR_GET_SECUREBITS,
            Prctl::SetSecurebits => libc::PR_SET_SECUREBITS,
        }
    }
}

/// `prctl(op, a2, a3, 0, 0)`.
pub fn prctl(op: Prctl, a2: u64, a3: u64) -> Result<i64, Errno> {
    // SAFETY: every `Prctl` option takes integers only and acts on the calling thread.
    unsafe { syscall6(libc::SYS_prctl, op.option() as u64, a2, a3, 0, 0, 0) }
}

/// `PR_SET_NAME`: the calling thread's name, the image's `comm` (NUL-terminated within
/// its 16 bytes: the kernel copies at most 16 and terminates it).
pub fn set_name(comm: &[u8; 16]) -> Result<(), Errno> {
    let name = comm.as_ptr() as u64;
    // SAFETY: the kernel reads at most 16 bytes from `comm`, which is borrowed meanwhile.
    unsafe { syscall3(libc::SYS_prctl, libc::PR_SET_NAME as u64, name, 0) }.map(drop)
}

/// `personality(persona)`: the previous persona. Per task.
pub fn personality(persona: u32) -> Result<i64, Errno> {
    // SAFETY: an integer argument; it changes only how later calls of this task behave.
    let r = unsafe { syscall3(libc::SYS_personality, persona.into(), 0, 0) }?;
    // The previous persona, or -1 (not an errno) if the kernel refused it.
    if r as i32 == -1 {
        return Err(Errno::EINVAL);
    }
    Ok(r)
}

/// `setpriority(PRIO_PROCESS, 0, nice)`: the calling thread's nice value.
pub fn set_nice(nice: i32) -> Result<(), Errno> {
    let (which, nice) = (libc::PRIO_PROCESS as u64, nice as i64 as u64);
    // SAFETY: integer arguments; `who` 0 is the calling thread.
    unsafe { syscall3(libc::SYS_setpriority, which, 0, nice) }.map(drop)
}

/// `SS_AUTODISARM`, the one flag of a stack that `sigaltstack` takes back.
const SS_AUTODISARM: u32 = 1 << 31;

/// The image's alternate signal stack for the calling thread, if it had one.
pub fn set_altstack(s: &img::CkptSignalsRec) -> Result<(), Errno> {
    if s.altstack_flags & libc::SS_DISABLE as u32 != 0 || s.altstack_size == 0 {
        return Ok(());
    }
    let ss = libc::stack_t {
        ss_sp: s.altstack_sp as *mut libc::c_void,
        ss_flags: (s.altstack_flags & SS_AUTODISARM) as i32,
        ss_size: s.altstack_size as usize,
    };
    let ss = &raw const ss as u64;
    // SAFETY: the kernel reads `ss` during the call and only records the range: nothing
    // is dereferenced until a handler runs on it, in the restored task.
    unsafe { syscall3(libc::SYS_sigaltstack, ss, 0, 0) }.map(drop)
}

/// The signal number of a saved `siginfo`.
pub fn signo(p: &img::CkptSiginfoRec) -> i32 {
    i32::from_ne_bytes([p.info[0], p.info[1], p.info[2], p.info[3]])
}

/// Queues a saved pending signal again: to the whole process `tgid` if it was shared, else
/// to its thread `tid`.
pub fn requeue_pending(tgid: i32, tid: i32, p: &img::CkptSiginfoRec) -> Result<(), Errno> {
    let (signo, info) = (signo(p) as u64, p.info.as_ptr() as u64);
    // SAFETY: the kernel copies the 128-byte siginfo from `p.info`, borrowed meanwhile.
    unsafe {
        if p.shared != 0 {
            syscall3(libc::SYS_rt_sigqueueinfo, tgid as u64, signo, info)
        } else {
            syscall6(
                libc::SYS_rt_tgsigqueueinfo,
                tgid as u64,
                tid as u64,
                signo,
                info,
                0,
                0,
            )
        }
    }
    .map(drop)
}

/// `set_robust_list(head, len)`: the kernel only records the address, for when the thread
/// exits (in the restored task's memory then).
pub fn set_robust_list(head: u64, len: u64) -> Result<(), Errno> {
    // SAFETY: the kernel records the address; it is read only at exit, in the image's memory.
    unsafe { syscall3(libc::SYS_set_robust_list, head, len, 0) }.map(drop)
}

/// `set_tid_address(addr)`: cannot fail, returns the caller's tid.
pub fn set_tid_address(addr: u64) -> Result<(), Errno> {
    // SAFETY: the kernel records the address; it writes there only when the thread exits,
    // which happens in the restored task's memory, the image's.
    unsafe { syscall3(libc::SYS_set_tid_address, addr, 0, 0) }.map(drop)
}

/// Maps a fresh private page at `page` unless something is there already
/// (`MAP_FIXED_NOREPLACE`): the address it got.
pub fn map_scratch_page(page: u64) -> Result<u64, Errno> {
    let prot = (libc::PROT_READ | libc::PROT_WRITE) as u64;
    let flags = (libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE) as u64;
    // SAFETY: a new anonymous mapping that replaces nothing (NOREPLACE): no memory Rust
    // uses changes.
    let r = unsafe { syscall6(libc::SYS_mmap, page, 4096, prot, flags, u64::MAX, 0) }?;
    Ok(r as u64)
}

/// Registers the rseq area `area` of `len` bytes with signature `sig` for this thread.
pub fn rseq_register(area: u64, len: u32, sig: u32) -> Result<(), Errno> {
    // SAFETY: the area is on a page of its own the caller mapped (`map_scratch_page`),
    // which the module replaces with the image's; nothing of Rust's is written.
    unsafe { syscall6(libc::SYS_rseq, area, len.into(), 0, sig.into(), 0, 0) }.map(drop)
}

/// `setgroups(groups)`.
pub fn setgroups(groups: &[u32]) -> Result<(), Errno> {
    let (n, p) = (groups.len() as u64, groups.as_ptr() as u64);
    // SAFETY: the kernel reads `groups.len()` gids from `groups`, borrowed meanwhile.
    unsafe { syscall3(libc::SYS_setgroups, n, p, 0) }.map(drop)
}

/// Which of the real, effective and saved ids.
#[derive(Clone, Copy)]
pub enum Ids {
    User,
    Group,
}

/// `getresuid`/`getresgid`: real, effective and saved.
pub fn getres(ids: Ids) -> Result<[u32; 3], Errno> {
    let nr = match ids {
        Ids::User => libc::SYS_getresuid,
        Ids::Group => libc::SYS_getresgid,
    };
    let mut v = [0u32; 3];
    let p = v.as_mut_ptr() as u64;
    // SAFETY: the kernel writes three u32 to `v`, borrowed mutably meanwhile.
    unsafe { syscall3(nr, p, p + 4, p + 8) }?;
    Ok(v)
}

/// `setresuid`/`setresgid`.
pub fn setres(ids: Ids, v: [u32; 3]) -> Result<(), Errno> {
    let nr = match ids {
        Ids::User => libc::SYS_setresuid,
        Ids::Group => libc::SYS_setresgid,
    };
    let [r, e, s] = v.map(u64::from);
    // SAFETY: integer arguments, acting on the calling thread's credentials.
    unsafe { syscall3(nr, r, e, s) }.map(drop)
}

/// `setfsuid`/`setfsgid`, checked: these return the previous id whether they took or not,
/// so a second call (which changes nothing) reads the result back.
pub fn set_fs_id(ids: Ids, id: u32) -> Result<(), Errno> {
    let nr = match ids {
        Ids::User => libc::SYS_setfsuid,
        Ids::Group => libc::SYS_setfsgid,
    };
    // SAFETY: an integer argument, acting on the calling thread's credentials.
    unsafe { syscall3(nr, id.into(), 0, 0) }?;
    // SAFETY: as above.
    let now = unsafe { syscall3(nr, id.into(), 0, 0) }?;
    if now as u32 != id {
        return Err(Errno::EPERM);
    }
    Ok(())
}

/// `_LINUX_CAPABILITY_VERSION_3`: capget/capset with two 32-bit halves of each set.
const CAPABILITY_V3: u32 = 0x2008_0522;

/// The calling thread's capability sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    pub effective: u64,
    pub permitted: u64,
    pub inheritable: u64,
}

impl Caps {
    /// As `capget` and `capset` take them (version 3): the low halves, then the high ones.
    pub fn to_words(self) -> [u32; 6] {
        let (lo, hi) = (|v: u64| v as u32, |v: u64| (v >> 32) as u32);
        [
            lo(self.effective),
            lo(self.permitted),
            lo(self.inheritable),
            hi(self.effective),
            hi(self.permitted),
            hi(self.inheritable),
        ]
    }

    pub fn from_words(d: [u32; 6]) -> Caps {
        let join = |lo: u32, hi: u32| u64::from(lo) | u64::from(hi) << 32;
        Caps {
            effective: join(d[0], d[3]),
            permitted: join(d[1], d[4]),
            inheritable: join(d[2], d[5]),
        }
    }
}

/// `capget` of the calling thread.
pub fn capget() -> Result<Caps, Errno> {
    let hdr = [CAPABILITY_V3, 0];
    let mut d = [0u32; 6];
    let (h, p) = (hdr.as_ptr() as u64, d.as_mut_ptr() as u64);
    // SAFETY: the kernel reads the 8-byte header and writes two 12-byte data structs.
    unsafe { syscall3(libc::SYS_capget, h, p, 0) }?;
    Ok(Caps::from_words(d))
}

/// `capset` of the calling thread.
pub fn capset(c: Caps) -> Result<(), Errno> {
    let hdr = [CAPABILITY_V3, 0];
    let d = c.to_words();
    let (h, p) = (hdr.as_ptr() as u64, d.as_ptr() as u64);
    // SAFETY: the kernel reads the 8-byte header and two 12-byte data structs.
    unsafe { syscall3(libc::SYS_capset, h, p, 0) }.map(drop)
}

/// One `write` of `buf` to `fd`: the number of bytes written.
pub fn write(fd: i32, buf: &[u8]) -> Result<usize, Errno> {
    let (p, n) = (buf.as_ptr() as u64, buf.len() as u64);
    // SAFETY: the kernel reads `buf.len()` bytes from `buf`, borrowed meanwhile.
    unsafe { syscall3(libc::SYS_write, fd as u64, p, n) }.map(|n| n as usize)
}

/// Ends the whole process (every thread) with `code`.
pub fn exit_group(code: i32) -> ! {
    // SAFETY: the process ends; nothing runs after it.
    let _ = unsafe { syscall3(libc::SYS_exit_group, code as u64, 0, 0) };
    unreachable!("exit_group returned")
}

/// `SCHED_RESET_ON_FORK`, or'ed into the policy of `sched_setscheduler`.
const SCHED_RESET_ON_FORK: u32 = 0x4000_0000;

/// `sched_setscheduler(0, policy, {prio})` of the calling thread, with
/// `SCHED_RESET_ON_FORK` if `reset_on_fork`; its nice value stays (the legacy call keeps it).
pub fn set_scheduler(policy: u32, prio: u32, reset_on_fork: bool) -> Result<(), Errno> {
    let rof = if reset_on_fork {
        SCHED_RESET_ON_FORK
    } else {
        0
    };
    let policy = policy | rof;
    let param = libc::sched_param {
        sched_priority: prio as i32,
    };
    let p = &raw const param as u64;
    // SAFETY: the kernel reads `param` during the call only; `pid` 0 is the calling thread.
    unsafe { syscall3(libc::SYS_sched_setscheduler, 0, policy.into(), p) }.map(drop)
}

/// `sched_setaffinity(0, ...)` of the calling thread to the CPUs of `words` (bit `n % 64`
/// of word `n / 64` is CPU `n`).
pub fn set_affinity(words: &[u64]) -> Result<(), Errno> {
    let (len, p) = (size_of_val(words) as u64, words.as_ptr() as u64);
    // SAFETY: the kernel reads `len` bytes of `words`, borrowed for the call.
    unsafe { syscall3(libc::SYS_sched_setaffinity, 0, len, p) }.map(drop)
}

/// `IOPRIO_WHO_PROCESS`: `who` is a thread id, 0 the calling thread.
const IOPRIO_WHO_PROCESS: u64 = 1;

/// The calling thread's own I/O priority (`ioprio_get`, raw: 0 for none of its own).
pub fn ioprio_get() -> Result<u32, Errno> {
    // SAFETY: integer arguments.
    unsafe { syscall3(libc::SYS_ioprio_get, IOPRIO_WHO_PROCESS, 0, 0) }.map(|v| v as u32)
}

/// `ioprio_set` of the calling thread.
pub fn ioprio_set(prio: u32) -> Result<(), Errno> {
    // SAFETY: integer arguments.
    unsafe { syscall3(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, prio.into()) }.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_words_round_trip() {
        let c = Caps {
            effective: 0x1_0000_0002,
            permitted: 0xffff_ffff_0000_0001,
            inheritable: 0x8000_0000_8000_0000,
        };
        let w = c.to_words();
        assert_eq!(w, [2, 1, 0x8000_0000, 1, 0xffff_ffff, 0x8000_0000]);
        assert_eq!(Caps::from_words(w), c);
    }

    #[test]
    fn signo_is_the_first_word_of_the_siginfo() {
        use zerocopy::FromZeros;
        let mut p = img::CkptSiginfoRec::new_zeroed();
        p.info[..4].copy_from_slice(&34i32.to_ne_bytes());
        assert_eq!(signo(&p), 34);
    }

    #[test]
    fn scratch_pages_replace_nothing() {
        // An address far from anything a test process maps.
        let page = 0x5a5a_0000_0000;
        assert_eq!(map_scratch_page(page), Ok(page));
        assert_eq!(map_scratch_page(page), Err(Errno::EEXIST));
        // SAFETY: the page mapped above, which nothing uses.
        unsafe { libc::munmap(page as *mut libc::c_void, 4096) };
    }

    #[test]
    fn errno_comes_back_without_libc() {
        // An unknown prctl option: EINVAL, and libc's errno untouched.
        Errno::clear();
        // SAFETY: an option number no kernel knows; integers only.
        let r = unsafe { syscall3(libc::SYS_prctl, 0x7fff_0000, 0, 0) };
        assert_eq!(r, Err(Errno::EINVAL));
        assert_eq!(Errno::last_raw(), 0);
    }
}
