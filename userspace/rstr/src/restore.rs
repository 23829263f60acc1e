// SPDX-License-Identifier: GPL-2.0

//! What a restoring process sets on itself with system calls before the module takes over:
//! credentials, the vDSO's place, its rseq registration.

use std::io;

use anyhow::{bail, ensure, Context, Result};

use ckptlib::restart::TaskImage;

use crate::sys::check;

pub fn set_credentials(u: &TaskImage) -> Result<()> {
    let c = &u.creds;
    // SAFETY: plain system calls with values from the image; the kernel checks permissions.
    unsafe {
        let (mut r, mut e, mut s) = (0, 0, 0);
        libc::getresuid(&mut r, &mut e, &mut s);
        let same_uid = [r, e, s] == [c.uid, c.euid, c.suid];
        libc::getresgid(&mut r, &mut e, &mut s);
        let same_gid = [r, e, s] == [c.gid, c.egid, c.sgid];
        let n = libc::getgroups(0, std::ptr::null_mut());
        let mut mine = vec![0; n.max(0) as usize];
        libc::getgroups(n, mine.as_mut_ptr());
        if mine != u.groups {
            check(
                libc::setgroups(u.groups.len(), u.groups.as_ptr()).into(),
                format!("setgroups {:?} (not permitted to this user?)", u.groups),
            )?;
        }
        if !same_gid {
            check(
                libc::setresgid(c.gid, c.egid, c.sgid).into(),
                format!("setresgid {} {} {}", c.gid, c.egid, c.sgid),
            )?;
        }
        if !same_uid {
            libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0);
            check(
                libc::setresuid(c.uid, c.euid, c.suid).into(),
                format!("setresuid {} {} {}", c.uid, c.euid, c.suid),
            )?;
        }
        libc::setfsgid(c.fsgid);
        libc::setfsuid(c.fsuid);
        // Bounding set: drop what the image lacks (needs CAP_SETPCAP to drop).
        for cap in 0..64 {
            let has = libc::prctl(libc::PR_CAPBSET_READ, cap, 0, 0, 0);
            if has < 0 {
                break;
            }
            if has == 1 && c.cap_bset & (1 << cap) == 0 {
                check(
                    libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0).into(),
                    format!("dropping capability {cap} from the bounding set"),
                )?;
            }
        }
        // Permitted, effective, inheritable (capset v3: two 32-bit halves).
        let hdr = [0x2008_0522u32, 0];
        let lo = |v: u64| v as u32;
        let hi = |v: u64| (v >> 32) as u32;
        let data = [
            lo(c.cap_effective),
            lo(c.cap_permitted),
            lo(c.cap_inheritable),
            hi(c.cap_effective),
            hi(c.cap_permitted),
            hi(c.cap_inheritable),
        ];
        check(
            libc::syscall(libc::SYS_capset, hdr.as_ptr(), data.as_ptr()),
            format!(
                "capabilities: permitted {:#x} effective {:#x} (not permitted to this user?)",
                c.cap_permitted, c.cap_effective
            ),
        )?;
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        );
        for cap in 0..64 {
            if c.cap_ambient & (1 << cap) != 0 {
                check(
                    libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE, cap, 0, 0).into(),
                    format!("ambient capability {cap}"),
                )?;
            }
        }
        let bits = libc::prctl(libc::PR_GET_SECUREBITS, 0, 0, 0, 0);
        if bits >= 0 && bits as u32 != c.securebits {
            check(
                libc::prctl(
                    libc::PR_SET_SECUREBITS,
                    c.securebits as libc::c_ulong,
                    0,
                    0,
                    0,
                )
                .into(),
                "securebits",
            )?;
        }
    }
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
