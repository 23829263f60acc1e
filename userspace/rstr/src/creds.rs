// SPDX-License-Identifier: GPL-2.0

//! Credentials: uids, gids, supplementary groups, capability sets, securebits, set by each
//! task on itself (a process, and each of its threads, [`crate::thread`]), and the check
//! that `rstr` may choose pids at all.

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::unistd::{getgroups, getresgid, getresuid, Gid};

use ckptlib::abi::image as img;
use ckptlib::procfs;
use ckptlib::restart::TaskImage;

use crate::per_task::{Failed, Step};
use crate::sys::raw::{self, Caps, Ids, Prctl};

/// `SECBIT_KEEP_CAPS`, the one securebit `PR_SET_KEEPCAPS` sets without `CAP_SETPCAP`.
const SECBIT_KEEP_CAPS: u32 = 1 << 4;

fn securebits() -> Result<u32, Failed> {
    Ok(raw::prctl(Prctl::GetSecurebits, 0, 0).step("PR_GET_SECUREBITS")? as u32)
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
/// Raw system calls only ([`crate::sys::raw`]), no allocation: the threads run it too.
pub fn apply(c: &img::CkptCredsRec, groups: &[u32], groups_differ: bool) -> Result<(), Failed> {
    let want_uid = [c.uid, c.euid, c.suid];
    let want_gid = [c.gid, c.egid, c.sgid];

    // 1. Groups and gids.
    if groups_differ {
        raw::setgroups(groups).step("setgroups (needs CAP_SETGID)")?;
    }
    if raw::getres(Ids::Group).step("getresgid")? != want_gid {
        raw::setres(Ids::Group, want_gid).step("setresgid (needs CAP_SETGID)")?;
    }

    // 2. The inheritable set.
    let mut now = raw::capget().step("capget")?;
    if now.inheritable != c.cap_inheritable {
        now.inheritable = c.cap_inheritable;
        raw::capset(now).step("capset of the inheritable set")?;
    }

    // 3. Uids, keeping the permitted set.
    if raw::getres(Ids::User).step("getresuid")? != want_uid {
        if raw::prctl(Prctl::GetKeepcaps, 0, 0).step("PR_GET_KEEPCAPS")? == 0 {
            raw::prctl(Prctl::SetKeepcaps, 1, 0).step("PR_SET_KEEPCAPS 1")?;
        }
        raw::setres(Ids::User, want_uid).step("setresuid (needs CAP_SETUID)")?;
    }

    // 4. With every permitted capability effective: fs ids, bounding and ambient sets,
    // securebits.
    let mut now = raw::capget().step("capget")?;
    if now.effective != now.permitted {
        now.effective = now.permitted;
        raw::capset(now).step("capset raising effective to permitted")?;
    }
    raw::set_fs_id(Ids::Group, c.fsgid).step("setfsgid (needs CAP_SETGID)")?;
    raw::set_fs_id(Ids::User, c.fsuid).step("setfsuid (needs CAP_SETUID)")?;
    for cap in 0..64u64 {
        let bit = 1u64 << cap;
        // EINVAL past the last capability this kernel knows.
        let has = match raw::prctl(Prctl::CapbsetRead, cap, 0) {
            Ok(has) => has,
            Err(Errno::EINVAL) if c.cap_bset >> cap == 0 => break,
            Err(Errno::EINVAL) => {
                return Err(Failed {
                    step: "bounding set: capabilities unknown to this kernel",
                    errno: Errno::EINVAL,
                })
            }
            Err(e) => return Err(e).step("PR_CAPBSET_READ"),
        };
        if has == 1 && c.cap_bset & bit == 0 {
            let step = "PR_CAPBSET_DROP (needs CAP_SETPCAP)";
            raw::prctl(Prctl::CapbsetDrop, cap, 0).step(step)?;
        }
        if has == 0 && c.cap_bset & bit != 0 {
            return Err(Failed {
                step: "bounding set: a capability of the image's is not in rstr's",
                errno: Errno::EPERM,
            });
        }
    }
    let clear = libc::PR_CAP_AMBIENT_CLEAR_ALL as u64;
    raw::prctl(Prctl::CapAmbient, clear, 0).step("PR_CAP_AMBIENT_CLEAR_ALL")?;
    for cap in (0..64u64).filter(|cap| c.cap_ambient & 1 << cap != 0) {
        let raise = libc::PR_CAP_AMBIENT_RAISE as u64;
        raw::prctl(Prctl::CapAmbient, raise, cap).step("PR_CAP_AMBIENT_RAISE")?;
    }
    let bits = securebits()?;
    if bits ^ c.securebits == SECBIT_KEEP_CAPS {
        let keep = u64::from(c.securebits & SECBIT_KEEP_CAPS != 0);
        raw::prctl(Prctl::SetKeepcaps, keep, 0).step("PR_SET_KEEPCAPS")?;
    } else if bits != c.securebits {
        let step = "PR_SET_SECUREBITS (needs CAP_SETPCAP; a locked bit cannot change)";
        raw::prctl(Prctl::SetSecurebits, c.securebits.into(), 0).step(step)?;
    }

    // 5. The image's sets, then a read-back of all.
    let want = Caps {
        effective: c.cap_effective,
        permitted: c.cap_permitted,
        inheritable: c.cap_inheritable,
    };
    if raw::capget().step("capget")? != want {
        raw::capset(want).step("capset of the image's sets")?;
    }
    let mut got_ambient = 0u64;
    for cap in 0..64u64 {
        let is_set = libc::PR_CAP_AMBIENT_IS_SET as u64;
        match raw::prctl(Prctl::CapAmbient, is_set, cap) {
            Ok(set) => got_ambient |= u64::from(set == 1) << cap,
            // Past the last capability this kernel knows.
            Err(Errno::EINVAL) => break,
            Err(e) => return Err(e).step("PR_CAP_AMBIENT_IS_SET"),
        }
    }
    let same = raw::getres(Ids::User).step("getresuid")? == want_uid
        && raw::getres(Ids::Group).step("getresgid")? == want_gid
        && raw::capget().step("capget")? == want
        && securebits()? == c.securebits
        && got_ambient == c.cap_ambient;
    if !same {
        return Err(Failed {
            step: "the credentials read back differ from the image's",
            errno: Errno::UnknownErrno,
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

/// The image's credentials for this process ([`apply`]); a failure names the step, the
/// image's credentials and the ones `rstr` had.
pub fn set_credentials(u: &TaskImage) -> Result<()> {
    let c = &u.creds;
    let had = (
        getresuid().context("getresuid")?,
        getresgid().context("getresgid")?,
    );
    let Err(e) = apply(c, &u.groups, groups_differ(&u.groups)?) else {
        return Ok(());
    };
    bail!(
        "credentials: {e}; the image has uids {} {} {} fsuid {} gids {} {} {} fsgid {} \
         groups {:?}, capabilities effective {:#x} permitted {:#x} inheritable {:#x} \
         bounding {:#x} ambient {:#x}, securebits {:#x}; rstr had uids {:?} gids {:?}",
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

const CAP_SYS_ADMIN: u32 = 21;
const CAP_CHECKPOINT_RESTORE: u32 = 40;

/// Whether an effective set (`CapEff` of `/proc/PID/status`, in hex) lets a task choose
/// the pids of the tasks it creates (`clone3` with `set_tid`).
fn may_choose_pids_with(cap_eff: &str) -> Option<bool> {
    let eff = u64::from_str_radix(cap_eff, 16).ok()?;
    Some(eff & (1 << CAP_SYS_ADMIN | 1 << CAP_CHECKPOINT_RESTORE) != 0)
}

/// Whether this process may give new processes the pids it chooses: asked before anything
/// is opened or created, so that a restart that cannot succeed says why first.
pub fn may_choose_pids() -> Result<bool> {
    let eff = procfs::status_field("self", "CapEff").context("no CapEff in /proc/self/status")?;
    may_choose_pids_with(&eff).with_context(|| format!("CapEff {eff} of /proc/self/status"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choosing_pids_needs_one_of_two_capabilities() {
        assert_eq!(may_choose_pids_with("0000000000000000"), Some(false));
        assert_eq!(may_choose_pids_with("0000000000200000"), Some(true));
        assert_eq!(may_choose_pids_with("0000010000000000"), Some(true));
        assert_eq!(may_choose_pids_with("000001ffffdfffff"), Some(true));
        assert_eq!(may_choose_pids_with("0000000000100000"), Some(false));
        assert_eq!(may_choose_pids_with("zz"), None);
    }
}
