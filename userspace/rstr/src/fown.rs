// SPDX-License-Identifier: GPL-2.0

//! Owners, signals and `O_ASYNC` of open file descriptions (`FOWN` records), set again by
//! the first process of the image that has each description in its table, once every task
//! of the tree exists (its own threads too: a thread may be the owner) and before its
//! credentials change:
//!
//! 1. `F_SETOWN_EX` with the saved type and pid. The kernel records the caller's real and
//!    effective uid with the owner (`f_owner.uid`, `euid`), and signal delivery checks
//!    them against the receiver's: the call is made with the saved ones, taken for this
//!    thread only (raw `setresuid`, the saved uid left as it is, so that `rstr`'s own come
//!    back right after). A restart by an ordinary user can only make the call with its
//!    own: other ones fail the restart with the reason.
//! 2. `F_SETSIG` with the saved signal.
//! 3. `O_ASYNC` with `F_SETFL` on the process's own descriptor: the signal's `si_fd` is
//!    that number (the kernel keeps the number `O_ASYNC` was set through; the image does
//!    not have the original one, which is the same unless the program moved the
//!    descriptor since).
//!
//! Until then every description is made without `O_ASYNC` ([`without_async`]): an `open`
//! with it sets the flag without arming the signal, and an `F_SETFL` at the parked number
//! would arm it for the wrong number.

use std::borrow::Cow;

use anyhow::{ensure, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::prctl;

use ckptlib::abi::image as img;
use ckptlib::fown::type_name;
use ckptlib::restart::{Image, OpenFile};

use crate::sys::{self, raw};

/// `f` without `O_ASYNC`, which [`restore`] sets.
pub fn without_async(f: &OpenFile) -> Cow<'_, OpenFile> {
    let o_async = libc::O_ASYNC as u32;
    if f.rec.flags & o_async == 0 {
        return Cow::Borrowed(f);
    }
    let mut f = f.clone();
    f.rec.flags &= !o_async;
    Cow::Owned(f)
}

/// Whether task `i` is the first of `image` whose descriptor table has description `obj`,
/// and `fd` its lowest descriptor of it.
fn sets(image: &Image, i: usize, obj: u32, fd: i32) -> bool {
    let first = image.tasks.iter().enumerate().find_map(|(ti, t)| {
        let files = t.as_ref()?.files.as_ref()?;
        files
            .iter()
            .find(|f| f.rec.obj == obj)
            .map(|f| (ti, f.rec.fd))
    });
    first == Some((i, fd))
}

/// Runs `call` with the real and effective uid `uid`, `euid` for this thread, then puts
/// back its own.
fn as_ids<T>(uid: u32, euid: u32, call: impl FnOnce() -> Result<T>) -> Result<T> {
    let own = raw::getres(raw::Ids::User).context("getresuid")?;
    if own[0] == uid && own[1] == euid {
        return call();
    }
    raw::setres(raw::Ids::User, [uid, euid, u32::MAX]).with_context(|| {
        format!(
            "taking uid {uid} and euid {euid}, those of the process that set the owner \
             (F_SETOWN records them; needs CAP_SETUID)"
        )
    })?;
    // A change of effective uid makes the memory undumpable (`suid_dumpable`): kept as is.
    let dumpable = prctl::get_dumpable().context("PR_GET_DUMPABLE")?;
    let r = call();
    raw::setres(raw::Ids::User, [own[0], own[1], u32::MAX]).context("setresuid back")?;
    prctl::set_dumpable(dumpable).context("PR_SET_DUMPABLE")?;
    r
}

/// Sets the owners, signals and `O_ASYNC` of the descriptions task `i` of `image` is the
/// first to have (see the module's comment).
pub fn restore(image: &Image, i: usize) -> Result<()> {
    if image.fowns.is_empty() {
        return Ok(());
    }
    let Some(files) = image.tasks[i].as_ref().and_then(|t| t.files.as_ref()) else {
        return Ok(());
    };
    for f in files {
        let fd = f.rec.fd;
        let Some(o) = image.fowns.get(&f.rec.obj) else {
            continue;
        };
        if !sets(image, i, f.rec.obj, fd) {
            continue;
        }
        let r = &o.rec;
        if r.pid != 0 {
            let what = type_name(r.owner_type);
            as_ids(r.uid, r.euid, || {
                sys::fown::set_owner(fd, r.owner_type as i32, r.pid)
                    .with_context(|| format!("fd {fd}: F_SETOWN_EX to {what} {}", r.pid))
            })?;
            let now = sys::fown::owner(fd).with_context(|| format!("fd {fd}: F_GETOWN_EX"))?;
            ensure!(
                now == (r.owner_type as i32, r.pid),
                "fd {fd}: owner is {now:?} after F_SETOWN_EX to {what} {}",
                r.pid
            );
        }
        if r.signum != 0 {
            sys::fown::set_sig(fd, r.signum)
                .with_context(|| format!("fd {fd}: F_SETSIG {}", r.signum))?;
            let now = sys::fown::sig(fd).with_context(|| format!("fd {fd}: F_GETSIG"))?;
            ensure!(
                now == r.signum,
                "fd {fd}: signal {now} after F_SETSIG {}",
                r.signum
            );
        }
        if r.flags & img::CKPT_FOWN_ASYNC != 0 {
            let b = sys::borrow(fd);
            let flags = fcntl(b, FcntlArg::F_GETFL).with_context(|| format!("fd {fd}: F_GETFL"))?;
            let flags = OFlag::from_bits_retain(flags) | OFlag::O_ASYNC;
            fcntl(b, FcntlArg::F_SETFL(flags))
                .with_context(|| format!("fd {fd}: F_SETFL O_ASYNC"))?;
            let now = fcntl(b, FcntlArg::F_GETFL).with_context(|| format!("fd {fd}: F_GETFL"))?;
            ensure!(
                now & libc::O_ASYNC != 0,
                "fd {fd}: this kind of file takes no O_ASYNC ({})",
                Errno::EINVAL.desc()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    #[test]
    fn descriptions_are_made_without_o_async() {
        let mut rec = img::CkptFileRec::new_zeroed();
        rec.flags = (libc::O_RDONLY | libc::O_NONBLOCK | libc::O_ASYNC) as u32;
        let f = OpenFile {
            rec,
            path: String::new(),
        };
        let g = without_async(&f);
        assert_eq!(g.rec.flags, libc::O_NONBLOCK as u32);
        assert!(matches!(g, Cow::Owned(_)));
        assert!(matches!(without_async(&g), Cow::Borrowed(_)));
    }
}
