// SPDX-License-Identifier: GPL-2.0

//! What a restoring process sets on itself with system calls before the module takes over:
//! credentials (also in its threads), nice value, parent-death signal, the vDSO's place, its
//! rseq registration.

use std::io;

use anyhow::{bail, ensure, Context, Result};
use nix::unistd::{getgroups, getresgid, getresuid, Gid};

use ckptlib::abi::image as img;
use ckptlib::restart::TaskImage;

use crate::sys::check;

/// `_LINUX_CAPABILITY_VERSION_3`: capget/capset with two 32-bit halves of each set.
const CAPABILITY_V3: u32 = 0x2008_0522;
/// `SECBIT_KEEP_CAPS`, the one securebit `PR_SET_KEEPCAPS` sets without `CAP_SETPCAP`.
const SECBIT_KEEP_CAPS: u32 = 1 << 4;

/// A failed step of [`apply_credentials`] and its errno (0 when nothing failed but the
/// result differs from the image).
#[derive(Debug)]
pub struct CredsError {
    pub step: &'static str,
    pub errno: i32,
}

/// A system call without libc: `-errno` on failure, nothing written to `errno`, so that
/// [`apply_credentials`] runs in the threads ([`crate::thread`]), which share the leader's
/// thread pointer and must not touch libc's per-thread state.
///
/// # Safety
///
/// `nr` and its arguments must make a call that is safe for this process.
unsafe fn raw(nr: libc::c_long, a: u64, b: u64, c: u64) -> i64 {
    let ret: i64;
    // SAFETY: a plain `syscall` instruction; the caller vouches for the call.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") nr => ret,
            in("rdi") a,
            in("rsi") b,
            in("rdx") c,
            in("r10") 0u64,
            in("r8") 0u64,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

/// [`raw`] of a call taking integers only (or pointers to locals of the caller).
fn sys(nr: libc::c_long, a: u64, b: u64, c: u64, step: &'static str) -> Result<i64, CredsError> {
    // SAFETY: every call below acts on the calling thread's credentials only, with integer
    // arguments or pointers to live buffers of the sizes the kernel expects.
    let ret = unsafe { raw(nr, a, b, c) };
    if (-4095..0).contains(&ret) {
        return Err(CredsError {
            step,
            errno: -ret as i32,
        });
    }
    Ok(ret)
}

fn prctl(option: libc::c_int, arg2: u64, arg3: u64, step: &'static str) -> Result<i64, CredsError> {
    sys(libc::SYS_prctl, option as u64, arg2, arg3, step)
}

/// The calling thread's capability sets.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Caps {
    effective: u64,
    permitted: u64,
    inheritable: u64,
}

fn capget() -> Result<Caps, CredsError> {
    let hdr = [CAPABILITY_V3, 0];
    let mut d = [0u32; 6];
    let (h, p) = (hdr.as_ptr() as u64, d.as_mut_ptr() as u64);
    sys(libc::SYS_capget, h, p, 0, "capget")?;
    let join = |lo: u32, hi: u32| u64::from(lo) | u64::from(hi) << 32;
    Ok(Caps {
        effective: join(d[0], d[3]),
        permitted: join(d[1], d[4]),
        inheritable: join(d[2], d[5]),
    })
}

fn capset(c: Caps, step: &'static str) -> Result<(), CredsError> {
    let hdr = [CAPABILITY_V3, 0];
    let (lo, hi) = (|v: u64| v as u32, |v: u64| (v >> 32) as u32);
    let d = [
        lo(c.effective),
        lo(c.permitted),
        lo(c.inheritable),
        hi(c.effective),
        hi(c.permitted),
        hi(c.inheritable),
    ];
    sys(
        libc::SYS_capset,
        hdr.as_ptr() as u64,
        d.as_ptr() as u64,
        0,
        step,
    )?;
    Ok(())
}

fn getres(nr: libc::c_long, step: &'static str) -> Result<[u32; 3], CredsError> {
    let mut v = [0u32; 3];
    let p = v.as_mut_ptr() as u64;
    sys(nr, p, p + 4, p + 8, step)?;
    Ok(v)
}

/// setfsuid/setfsgid return the previous id, failed or not: a second call tells whether the
/// first took.
fn set_fs_id(nr: libc::c_long, id: u32, step: &'static str) -> Result<(), CredsError> {
    sys(nr, id.into(), 0, 0, step)?;
    if sys(nr, id.into(), 0, 0, step)? as u32 != id {
        return Err(CredsError {
            step,
            errno: libc::EPERM,
        });
    }
    Ok(())
}

/// Gives the calling thread the credentials `c` (with supplementary groups `groups`, set only
/// if `groups_differ` from the thread's), in an order that reaches every state the kernel
/// lets a task reach, with the permissions the caller has (the kernel's own checks decide):
///
/// 1. groups and gids, while the caller still has its capabilities (`CAP_SETGID`);
/// 2. the inheritable set, while the permitted set is still the caller's (raising a bit
///    needs it in permitted or `CAP_SETPCAP`), and before any bounding-set drop (a bit may
///    stay inheritable after it left the bounding set, but cannot be raised then);
/// 3. `PR_SET_KEEPCAPS` (needs no capability), then uids: leaving uid 0 keeps the permitted
///    set, which the next steps need;
/// 4. effective raised to all of permitted, then fsgid and fsuid, the bounding set, the
///    ambient set (raising needs the bit in the inheritable and permitted sets, which still
///    hold it), the securebits (the keep-caps bit alone through `PR_SET_KEEPCAPS`, any other
///    difference with `PR_SET_SECUREBITS`, which needs `CAP_SETPCAP`; after the ambient set,
///    as `SECBIT_NO_CAP_AMBIENT_RAISE` forbids raising);
/// 5. the final effective, permitted and inheritable sets (shrinking the permitted set keeps
///    the ambient bits it still holds), then everything read back and compared.
///
/// Raw system calls only, no allocation: the threads run it too.
pub fn apply_credentials(
    c: &img::CkptCredsRec,
    groups: &[u32],
    groups_differ: bool,
) -> Result<(), CredsError> {
    let want_uid = [c.uid, c.euid, c.suid];
    let want_gid = [c.gid, c.egid, c.sgid];

    // 1. Groups and gids.
    if groups_differ {
        let (n, p) = (groups.len() as u64, groups.as_ptr() as u64);
        sys(libc::SYS_setgroups, n, p, 0, "setgroups (needs CAP_SETGID)")?;
    }
    if getres(libc::SYS_getresgid, "getresgid")? != want_gid {
        let [r, e, s] = want_gid.map(u64::from);
        sys(libc::SYS_setresgid, r, e, s, "setresgid (needs CAP_SETGID)")?;
    }

    // 2. The inheritable set.
    let mut now = capget()?;
    if now.inheritable != c.cap_inheritable {
        now.inheritable = c.cap_inheritable;
        capset(now, "capset of the inheritable set")?;
    }

    // 3. Uids, keeping the permitted set.
    if getres(libc::SYS_getresuid, "getresuid")? != want_uid {
        if prctl(libc::PR_GET_KEEPCAPS, 0, 0, "PR_GET_KEEPCAPS")? == 0 {
            prctl(libc::PR_SET_KEEPCAPS, 1, 0, "PR_SET_KEEPCAPS 1")?;
        }
        let [r, e, s] = want_uid.map(u64::from);
        sys(libc::SYS_setresuid, r, e, s, "setresuid (needs CAP_SETUID)")?;
    }

    // 4. With every permitted capability effective: fs ids, bounding and ambient sets,
    // securebits.
    let mut now = capget()?;
    if now.effective != now.permitted {
        now.effective = now.permitted;
        capset(now, "capset raising effective to permitted")?;
    }
    set_fs_id(libc::SYS_setfsgid, c.fsgid, "setfsgid (needs CAP_SETGID)")?;
    set_fs_id(libc::SYS_setfsuid, c.fsuid, "setfsuid (needs CAP_SETUID)")?;
    for cap in 0..64u64 {
        let bit = 1u64 << cap;
        // EINVAL past the last capability this kernel knows.
        let Ok(has) = prctl(libc::PR_CAPBSET_READ, cap, 0, "PR_CAPBSET_READ") else {
            if c.cap_bset >> cap != 0 {
                return Err(CredsError {
                    step: "bounding set: capabilities unknown to this kernel",
                    errno: libc::EINVAL,
                });
            }
            break;
        };
        if has == 1 && c.cap_bset & bit == 0 {
            let step = "PR_CAPBSET_DROP (needs CAP_SETPCAP)";
            prctl(libc::PR_CAPBSET_DROP, cap, 0, step)?;
        }
        if has == 0 && c.cap_bset & bit != 0 {
            return Err(CredsError {
                step: "bounding set: a capability of the image's is not in rstr's",
                errno: libc::EPERM,
            });
        }
    }
    let ambient = libc::PR_CAP_AMBIENT;
    let clear = libc::PR_CAP_AMBIENT_CLEAR_ALL as u64;
    prctl(ambient, clear, 0, "PR_CAP_AMBIENT_CLEAR_ALL")?;
    for cap in (0..64u64).filter(|cap| c.cap_ambient & 1 << cap != 0) {
        let raise = libc::PR_CAP_AMBIENT_RAISE as u64;
        prctl(ambient, raise, cap, "PR_CAP_AMBIENT_RAISE")?;
    }
    let bits = prctl(libc::PR_GET_SECUREBITS, 0, 0, "PR_GET_SECUREBITS")? as u32;
    if bits ^ c.securebits == SECBIT_KEEP_CAPS {
        let keep = u64::from(c.securebits & SECBIT_KEEP_CAPS != 0);
        prctl(libc::PR_SET_KEEPCAPS, keep, 0, "PR_SET_KEEPCAPS")?;
    } else if bits != c.securebits {
        let step = "PR_SET_SECUREBITS (needs CAP_SETPCAP; a locked bit cannot change)";
        prctl(libc::PR_SET_SECUREBITS, c.securebits.into(), 0, step)?;
    }

    // 5. The image's sets, then a read-back of all.
    let want = Caps {
        effective: c.cap_effective,
        permitted: c.cap_permitted,
        inheritable: c.cap_inheritable,
    };
    if capget()? != want {
        capset(want, "capset of the image's sets")?;
    }
    let mut got_ambient = 0u64;
    for cap in 0..64u64 {
        let is_set = libc::PR_CAP_AMBIENT_IS_SET as u64;
        match prctl(ambient, is_set, cap, "PR_CAP_AMBIENT_IS_SET") {
            Ok(set) => got_ambient |= u64::from(set == 1) << cap,
            Err(_) => break,
        }
    }
    let same = getres(libc::SYS_getresuid, "getresuid")? == want_uid
        && getres(libc::SYS_getresgid, "getresgid")? == want_gid
        && capget()? == want
        && prctl(libc::PR_GET_SECUREBITS, 0, 0, "PR_GET_SECUREBITS")? as u32 == c.securebits
        && got_ambient == c.cap_ambient;
    if !same {
        return Err(CredsError {
            step: "the credentials read back differ from the image's",
            errno: 0,
        });
    }
    Ok(())
}

/// Whether the image's supplementary groups differ from the caller's (set apart: reading
/// them allocates, which the threads cannot).
pub fn groups_differ(groups: &[u32]) -> Result<bool> {
    let sorted = |mut g: Vec<u32>| {
        g.sort_unstable();
        g
    };
    let mine = getgroups().context("getgroups")?;
    Ok(sorted(mine.into_iter().map(Gid::as_raw).collect()) != sorted(groups.to_vec()))
}

/// The image's credentials for this process ([`apply_credentials`]); a failure names the
/// step, the image's credentials and the ones `rstr` had.
pub fn set_credentials(u: &TaskImage) -> Result<()> {
    let c = &u.creds;
    let had = (
        getresuid().context("getresuid")?,
        getresgid().context("getresgid")?,
    );
    let Err(e) = apply_credentials(c, &u.groups, groups_differ(&u.groups)?) else {
        return Ok(());
    };
    let why = match e.errno {
        0 => String::new(),
        n => format!(": {}", io::Error::from_raw_os_error(n)),
    };
    bail!(
        "credentials: {}{why}; the image has uids {} {} {} fsuid {} gids {} {} {} fsgid {} \
         groups {:?}, capabilities effective {:#x} permitted {:#x} inheritable {:#x} \
         bounding {:#x} ambient {:#x}, securebits {:#x}; rstr had uids {:?} gids {:?}",
        e.step,
        c.uid,
        c.euid,
        c.suid,
        c.fsuid,
        c.gid,
        c.egid,
        c.sgid,
        c.fsgid,
        u.groups,
        c.cap_effective,
        c.cap_permitted,
        c.cap_inheritable,
        c.cap_bset,
        c.cap_ambient,
        c.securebits,
        had.0,
        had.1
    )
}

/// This thread's nice value.
pub fn set_nice(nice: i32) -> Result<()> {
    // SAFETY: integer arguments; `who` 0 is the calling thread.
    check(
        unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) }.into(),
        format!("nice {nice} (lowering it needs CAP_SYS_NICE or RLIMIT_NICE)"),
    )?;
    Ok(())
}

/// The parent-death signal, once the parent is the image's: a process created by a
/// placeholder is its child until the placeholder exits and the process is reparented to the
/// image's parent (a subreaper); with the signal set before, that exit would send it. The
/// root's parent is `rstr` (outside the image), its parent from the start.
pub fn set_pdeathsig(u: &TaskImage, parent_in_tree: bool) -> Result<()> {
    let (sig, ppid) = (u.task.pdeath_signal, u.task.ppid);
    if sig == 0 {
        return Ok(()); // as fork left it
    }
    if parent_in_tree {
        let mut waited = 0;
        while nix::unistd::getppid().as_raw() != ppid {
            ensure!(
                waited < 10_000,
                "the parent is still {} instead of {ppid} after 10 s",
                nix::unistd::getppid()
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
            waited += 1;
        }
    }
    // Not nix's set_pdeathsig: its Signal has no real-time signals, which are valid here.
    // SAFETY: a prctl with integer arguments, on this thread.
    check(
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, sig as libc::c_ulong, 0, 0, 0) }.into(),
        format!("PR_SET_PDEATHSIG {sig}"),
    )?;
    Ok(())
}

extern "C" {
    /// glibc (2.35 and later): where its rseq area is, relative to the thread pointer, and
    /// its registered size (0 if glibc did not register one).
    static __rseq_offset: isize;
    static __rseq_size: u32;
}

const RSEQ_FLAG_UNREGISTER: libc::c_int = 1;
/// glibc's rseq signature on x86.
const RSEQ_SIG: u32 = 0x5305_3053;

/// Unregisters this process's own rseq area (glibc's): left registered, the kernel would go
/// on updating it after the restart, at an address that then holds the image's memory.
/// Then registers the image's area, at its address: a scratch page is mapped there first,
/// because the kernel writes the area as soon as it is registered; the module replaces that
/// page with the image's own, and the kernel keeps updating the restored area from then on.
pub fn swap_rseq(u: &TaskImage) -> Result<()> {
    // SAFETY: reading glibc's exported rseq variables and the thread pointer; the system
    // calls only concern this process.
    unsafe {
        let size = core::ptr::read_volatile(&raw const __rseq_size);
        if size > 0 {
            let tp: u64;
            core::arch::asm!("mov {}, fs:0", out(reg) tp, options(nostack, readonly));
            let area = tp.wrapping_add(core::ptr::read_volatile(&raw const __rseq_offset) as u64);
            let mut done = false;
            for len in [size.max(32), 32] {
                if libc::syscall(libc::SYS_rseq, area, len, RSEQ_FLAG_UNREGISTER, RSEQ_SIG) == 0 {
                    done = true;
                    break;
                }
            }
            ensure!(
                done,
                "cannot unregister rstr's own rseq area: {}",
                io::Error::last_os_error()
            );
        }
        let t = &u.task;
        if t.rseq == 0 {
            return Ok(());
        }
        ensure!(
            t.rseq.is_multiple_of(32) && t.rseq_len >= 32 && t.rseq_len <= 4096,
            "TASK record: bad rseq area {:#x} of {} bytes",
            t.rseq,
            t.rseq_len
        );
        let page = t.rseq & !4095;
        let got = libc::mmap(
            page as *mut libc::c_void,
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE,
            -1,
            0,
        );
        ensure!(
            got as u64 == page,
            "the image's rseq area {:#x} collides with rstr's own memory: try again",
            t.rseq
        );
        check(
            libc::syscall(libc::SYS_rseq, t.rseq, t.rseq_len, 0, t.rseq_sig),
            format!("registering the image's rseq area {:#x}", t.rseq),
        )?;
    }
    Ok(())
}

/// `ARCH_MAP_VDSO_64`.
const ARCH_MAP_VDSO_64: libc::c_int = 0x2003;

/// Unmaps our vDSO and vvar and maps them again so that the vDSO text is at the image's
/// address. `arch_prctl(ARCH_MAP_VDSO_64, addr)` places the vvar pages at `addr` and the
/// text after them: the distance is read off our own layout, which the same kernel made.
/// From here on this process must not call into the vDSO (no clock_gettime through libc).
pub fn move_vdso(u: &TaskImage) -> Result<()> {
    let want = u.task.vdso_base;
    if want == 0 {
        bail!("the image has no vDSO: not supported yet");
    }
    let maps = std::fs::read_to_string("/proc/self/maps").context("/proc/self/maps")?;
    let mut lowest = u64::MAX;
    let mut text = None;
    let mut ranges = Vec::new();
    for line in maps.lines() {
        let is_text = line.ends_with("[vdso]");
        if !(is_text || line.ends_with("[vvar]") || line.ends_with("[vvar_vclock]")) {
            continue;
        }
        let range = line.split_whitespace().next().unwrap_or("");
        let (a, b) = range.split_once('-').context("bad /proc/self/maps line")?;
        let (a, b) = (u64::from_str_radix(a, 16)?, u64::from_str_radix(b, 16)?);
        lowest = lowest.min(a);
        if is_text {
            text = Some(a);
        }
        ranges.push((a, b));
    }
    let Some(text) = text else {
        bail!("rstr itself has no vDSO: cannot place the image's")
    };
    let block = want
        .checked_sub(text - lowest)
        .context("the image's vDSO address is too low")?;
    for (a, b) in ranges {
        // SAFETY: unmapping the vDSO/vvar of this process, which nothing here uses.
        check(
            unsafe { libc::munmap(a as *mut libc::c_void, (b - a) as usize) }.into(),
            "munmap vdso",
        )?;
    }
    // SAFETY: maps a fresh vDSO block at `block`; a plain system call.
    check(
        unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_MAP_VDSO_64, block) },
        format!("moving the vDSO to {want:#x}"),
    )?;
    Ok(())
}
