// SPDX-License-Identifier: GPL-2.0

//! What a restoring process sets on itself with system calls before the module takes over:
//! credentials, the vDSO's place, its rseq registration.

use std::io;

use anyhow::{bail, ensure, Context, Result};
use nix::sys::prctl;
use nix::unistd::{
    getgroups, getresgid, getresuid, setfsgid, setfsuid, setgroups, setresgid, setresuid, Gid, Uid,
};

use ckptlib::restart::TaskImage;

use crate::sys::check;

/// `_LINUX_CAPABILITY_VERSION_3`: capget/capset with two 32-bit halves of each set.
const CAPABILITY_V3: u32 = 0x2008_0522;
/// `SECBIT_KEEP_CAPS`, the one securebit `PR_SET_KEEPCAPS` sets without `CAP_SETPCAP`.
const SECBIT_KEEP_CAPS: u32 = 1 << 4;

/// The calling thread's capability sets.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Caps {
    effective: u64,
    permitted: u64,
    inheritable: u64,
}

fn capget() -> Result<Caps> {
    let hdr = [CAPABILITY_V3, 0];
    let mut d = [0u32; 6];
    // SAFETY: a v3 header for this thread and room for the 2 x 3 words the kernel writes.
    check(
        unsafe { libc::syscall(libc::SYS_capget, hdr.as_ptr(), d.as_mut_ptr()) },
        "capget",
    )?;
    let join = |lo: u32, hi: u32| u64::from(lo) | u64::from(hi) << 32;
    Ok(Caps {
        effective: join(d[0], d[3]),
        permitted: join(d[1], d[4]),
        inheritable: join(d[2], d[5]),
    })
}

fn capset(c: Caps, why: &str) -> Result<()> {
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
    // SAFETY: a v3 header for this thread and its 2 x 3 words; the kernel checks the sets.
    check(
        unsafe { libc::syscall(libc::SYS_capset, hdr.as_ptr(), d.as_ptr()) },
        format!(
            "capset effective {:#x} permitted {:#x} inheritable {:#x} ({why})",
            c.effective, c.permitted, c.inheritable
        ),
    )?;
    Ok(())
}

/// `prctl(option, arg2)` for the options nix does not wrap (capability sets, securebits).
fn prctl2(option: libc::c_int, arg2: u64, what: impl std::fmt::Display) -> Result<libc::c_long> {
    // SAFETY: a prctl taking integer arguments only, on this thread.
    check(
        unsafe { libc::prctl(option, arg2 as libc::c_ulong, 0, 0, 0) }.into(),
        what,
    )
}

fn securebits() -> Result<u32> {
    Ok(prctl2(libc::PR_GET_SECUREBITS, 0, "PR_GET_SECUREBITS")? as u32)
}

/// Gives the calling process the image's credentials, in an order that reaches every state
/// the kernel lets a process reach, with the permissions the caller has (the kernel's own
/// checks decide; a failure names the step):
///
/// 1. groups and gids, while the caller still has its capabilities (`CAP_SETGID`);
/// 2. the inheritable set, while the permitted set is still the caller's (raising a bit
///    needs it in permitted or `CAP_SETPCAP`), and before any bounding-set drop (a bit may
///    stay inheritable after it left the bounding set, but cannot be raised then);
/// 3. `PR_SET_KEEPCAPS` (needs no capability), then uids: leaving uid 0 keeps the permitted
///    set, which the next steps need;
/// 4. effective raised to all of permitted, then fsgid and fsuid (each checked by a second
///    call: `setfsuid` returns the previous id, failed or not), the bounding set, the
///    ambient set (raising needs the bit in the inheritable and permitted sets, which still
///    hold it), the securebits (the keep-caps bit alone through `PR_SET_KEEPCAPS`, any other
///    difference with `PR_SET_SECUREBITS`, which needs `CAP_SETPCAP`; after the ambient set,
///    as `SECBIT_NO_CAP_AMBIENT_RAISE` forbids raising);
/// 5. the final effective, permitted and inheritable sets (shrinking the permitted set keeps
///    the ambient bits it still holds), then everything read back and compared.
pub fn set_credentials(u: &TaskImage) -> Result<()> {
    let c = &u.creds;
    let uid = |r, e, s| [r, e, s].map(Uid::from_raw);
    let gid = |r, e, s| [r, e, s].map(Gid::from_raw);
    let (want_uid, want_gid) = (uid(c.uid, c.euid, c.suid), gid(c.gid, c.egid, c.sgid));
    let ids = || -> Result<([Uid; 3], [Gid; 3])> {
        let u = getresuid().context("getresuid")?;
        let g = getresgid().context("getresgid")?;
        Ok((
            [u.real, u.effective, u.saved],
            [g.real, g.effective, g.saved],
        ))
    };
    let sorted_groups = |mut g: Vec<Gid>| {
        g.sort_by_key(|g| g.as_raw());
        g
    };
    let want_groups = sorted_groups(u.groups.iter().copied().map(Gid::from_raw).collect());
    let (have_uid, have_gid) = ids()?;

    // 1. Groups and gids.
    if sorted_groups(getgroups().context("getgroups")?) != want_groups {
        setgroups(&want_groups)
            .with_context(|| format!("setgroups {:?} (needs CAP_SETGID)", u.groups))?;
    }
    if have_gid != want_gid {
        setresgid(want_gid[0], want_gid[1], want_gid[2]).with_context(|| {
            format!(
                "setresgid {} {} {} (from {have_gid:?}: needs CAP_SETGID)",
                c.gid, c.egid, c.sgid
            )
        })?;
    }

    // 2. The inheritable set.
    let mut now = capget()?;
    if now.inheritable != c.cap_inheritable {
        now.inheritable = c.cap_inheritable;
        capset(now, "the image's inheritable set")?;
    }

    // 3. Uids, keeping the permitted set.
    if have_uid != want_uid {
        if !prctl::get_keepcaps().context("PR_GET_KEEPCAPS")? {
            prctl::set_keepcaps(true)
                .context("PR_SET_KEEPCAPS 1 (to keep capabilities across setresuid)")?;
        }
        setresuid(want_uid[0], want_uid[1], want_uid[2]).with_context(|| {
            format!(
                "setresuid {} {} {} (from {have_uid:?}: needs CAP_SETUID)",
                c.uid, c.euid, c.suid
            )
        })?;
    }

    // 4. With every permitted capability effective: fs ids, bounding and ambient sets,
    // securebits.
    let mut now = capget()?;
    if now.effective != now.permitted {
        now.effective = now.permitted;
        capset(now, "raising effective to permitted for the next steps")?;
    }
    setfsgid(Gid::from_raw(c.fsgid));
    let got = setfsgid(Gid::from_raw(c.fsgid)).as_raw();
    ensure!(
        got == c.fsgid,
        "setfsgid {}: the fsgid stayed {got} (needs CAP_SETGID)",
        c.fsgid
    );
    setfsuid(Uid::from_raw(c.fsuid));
    let got = setfsuid(Uid::from_raw(c.fsuid)).as_raw();
    ensure!(
        got == c.fsuid,
        "setfsuid {}: the fsuid stayed {got} (needs CAP_SETUID)",
        c.fsuid
    );
    for cap in 0..64u64 {
        let bit = 1u64 << cap;
        // EINVAL past the last capability this kernel knows.
        let Ok(has) = prctl2(libc::PR_CAPBSET_READ, cap, "") else {
            ensure!(
                c.cap_bset >> cap == 0,
                "bounding set {:#x}: capability {cap} and above are unknown to this kernel",
                c.cap_bset
            );
            break;
        };
        if has == 1 && c.cap_bset & bit == 0 {
            prctl2(
                libc::PR_CAPBSET_DROP,
                cap,
                format!("dropping capability {cap} from the bounding set (needs CAP_SETPCAP)"),
            )?;
        }
        ensure!(
            has == 1 || c.cap_bset & bit == 0,
            "capability {cap} is in the image's bounding set, not in rstr's: it cannot be \
             raised"
        );
    }
    // SAFETY: a prctl with integer arguments only, on this thread.
    check(
        unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL,
                0,
                0,
                0,
            )
        }
        .into(),
        "PR_CAP_AMBIENT_CLEAR_ALL",
    )?;
    for cap in (0..64u64).filter(|cap| c.cap_ambient & 1 << cap != 0) {
        // SAFETY: as above.
        check(
            unsafe {
                libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_RAISE,
                    cap as libc::c_ulong,
                    0,
                    0,
                )
            }
            .into(),
            format!("raising ambient capability {cap}"),
        )?;
    }
    let bits = securebits()?;
    if bits ^ c.securebits == SECBIT_KEEP_CAPS {
        prctl::set_keepcaps(c.securebits & SECBIT_KEEP_CAPS != 0)
            .context("PR_SET_KEEPCAPS (the image's keep-caps securebit)")?;
    } else if bits != c.securebits {
        prctl2(
            libc::PR_SET_SECUREBITS,
            c.securebits.into(),
            format!(
                "securebits {:#x} (from {bits:#x}: needs CAP_SETPCAP, and no locked bit may change)",
                c.securebits
            ),
        )?;
    }

    // 5. The image's sets, then a read-back of all.
    let want = Caps {
        effective: c.cap_effective,
        permitted: c.cap_permitted,
        inheritable: c.cap_inheritable,
    };
    if capget()? != want {
        capset(want, "the image's capabilities")?;
    }
    let (got_uid, got_gid) = ids()?;
    let (got_caps, got_bits) = (capget()?, securebits()?);
    let mut got_ambient = 0u64;
    for cap in 0..64u64 {
        // SAFETY: a prctl with integer arguments only, on this thread.
        let set = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_IS_SET,
                cap as libc::c_ulong,
                0,
                0,
            )
        };
        if set < 0 {
            break;
        }
        got_ambient |= u64::from(set == 1) << cap;
    }
    ensure!(
        got_uid == want_uid
            && got_gid == want_gid
            && got_caps == want
            && got_bits == c.securebits
            && got_ambient == c.cap_ambient,
        "credentials read back differ from the image's: uids {got_uid:?} gids {got_gid:?} \
         effective {:#x} permitted {:#x} inheritable {:#x} ambient {got_ambient:#x} \
         securebits {got_bits:#x}",
        got_caps.effective,
        got_caps.permitted,
        got_caps.inheritable
    );
    Ok(())
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
    // Raw prctl: nix's Signal has no real-time signals, which are valid here.
    prctl2(
        libc::PR_SET_PDEATHSIG,
        sig as u64,
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
