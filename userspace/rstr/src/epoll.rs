// SPDX-License-Identifier: GPL-2.0

//! epolls, made again from their `EPOLL` records (checked by `ckptlib::restart::scan`),
//! once per open file description, before the first fork: [`crate::files::park`] makes
//! each with `epoll_create1` ([`make`]) and parks it as it does any file, then, once every
//! object is parked, [`fill`]s their interest lists, an epoll watched by another before
//! that other.
//!
//! An item is keyed by its file and the descriptor number it was added with: each is added
//! with `epoll_ctl(EPOLL_CTL_ADD)` at its number `tfd`, where `rstr` puts the target for
//! the call (setting aside, and then putting back, what `rstr` itself has there; `tfd` is
//! below every parked and moved descriptor). The processes of the tree then inherit the
//! epoll with its items. Their tables may hold the target at `tfd`, or (the number closed
//! or `dup2`'ed over since `EPOLL_CTL_ADD`) at other numbers only, with another file or
//! nothing at `tfd`: the item is the kernel's own, keyed by the file and the old number, as
//! it was (`EPOLL_CTL_DEL` of the number the file is at now fails with `ENOENT`, closing
//! its last descriptor removes it).
//!
//! An `EPOLLONESHOT` item that fired before the checkpoint is disarmed: it has its modes
//! only, and `EPOLL_CTL_ADD` and `EPOLL_CTL_MOD` always add `EPOLLERR | EPOLLHUP`. It is
//! disarmed again the way it was: added alone, armed for every event, and reported by one
//! `epoll_wait` that does not wait. A target ready for nothing at all is not reported: that
//! item is left armed for `EPOLLERR` and `EPOLLHUP` only (`Documentation/files.rst`).

use std::collections::HashMap;
use std::os::fd::{OwnedFd, RawFd};

use anyhow::{ensure, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};

use ckptlib::abi::image::CkptEpollItem;
use ckptlib::epoll::{disarmed, fill_order, EpollImage};
use ckptlib::restart::{Image, OpenFile};

use crate::sys;

/// Every event an item may be armed for (not its modes): what disarms a disarmed item.
const EVERY_EVENT: i32 = libc::EPOLLIN
    | libc::EPOLLPRI
    | libc::EPOLLOUT
    | libc::EPOLLERR
    | libc::EPOLLHUP
    | libc::EPOLLRDNORM
    | libc::EPOLLRDBAND
    | libc::EPOLLWRNORM
    | libc::EPOLLWRBAND
    | libc::EPOLLMSG
    | libc::EPOLLRDHUP;

/// Makes the epoll whose descriptor `f` is (the first of its description), empty, with the
/// status flags of its `FILE` record.
pub fn make(f: &OpenFile) -> Result<OwnedFd> {
    let r = &f.rec;
    let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)
        .with_context(|| format!("fd {}: epoll_create1", r.fd))?;
    // `O_NONBLOCK` and `O_APPEND`, set by `F_SETFL` (the record's flags are checked to be
    // these and `O_RDWR`, `O_CLOEXEC`).
    let status = OFlag::from_bits_retain(r.flags as i32) & (OFlag::O_NONBLOCK | OFlag::O_APPEND);
    fcntl(&ep.0, FcntlArg::F_SETFL(status)).with_context(|| format!("fd {}: flags", r.fd))?;
    Ok(ep.0)
}

/// Fills the interest list of every epoll of `image` made at its parked descriptor (`fds`,
/// by object id), inner ones first; an item's target is the parked object, or `given`
/// (by files table id and fd) where the descriptor of the table that holds it
/// ([`EpollImage::holders`]: its own number, or another where that was closed or replaced)
/// was given one of `rstr`'s own.
pub fn fill(
    image: &Image,
    fds: &HashMap<u32, RawFd>,
    given: &HashMap<(u32, RawFd), RawFd>,
) -> Result<()> {
    for id in fill_order(&image.epolls)? {
        let e = &image.epolls[&id];
        // An epoll that only descriptors given one of rstr's had is not made.
        let Some(&at) = fds.get(&id) else { continue };
        // Above every number an item is added at (all below the parked range).
        let ep = Epoll(sys::dup_above(sys::borrow(at), at).context("dup of a parked epoll")?);
        let target = |i: usize, it: &CkptEpollItem| -> Result<RawFd> {
            e.holders
                .get(i)
                .and_then(|&at| given.get(&(e.table, at)))
                .or_else(|| fds.get(&it.obj))
                .copied()
                .with_context(|| {
                    format!("item of fd {}: description {} was not made", it.tfd, it.obj)
                })
        };
        fill_one(e, &ep, target).with_context(|| format!("epoll {id}"))?;
    }
    Ok(())
}

/// Adds `e`'s items to `ep`: the disarmed ones first, each disarmed again, then the others.
fn fill_one(
    e: &EpollImage,
    ep: &Epoll,
    target: impl Fn(usize, &CkptEpollItem) -> Result<RawFd>,
) -> Result<()> {
    // Each with its index, for `target`.
    type Items<'a> = Vec<(usize, &'a CkptEpollItem)>;
    let (off, on): (Items, Items) = e
        .items
        .iter()
        .enumerate()
        .partition(|(_, it)| disarmed(it.events));
    for (i, it) in off.into_iter().chain(on) {
        let tfd = it.tfd;
        let event = |events: i32| EpollEvent::new(EpollFlags::from_bits_retain(events), it.data);
        with_at(tfd, target(i, it)?, || {
            if !disarmed(it.events) {
                return ep.add(sys::borrow(tfd), event(it.events as i32));
            }
            // Only disarmed items are in `ep` yet, none armed: the one reported is this.
            ep.add(sys::borrow(tfd), event(it.events as i32 | EVERY_EVENT))?;
            let mut ev = [EpollEvent::empty()];
            if ep.wait(&mut ev, EpollTimeout::ZERO)? == 0 {
                // Ready for nothing: armed for EPOLLERR | EPOLLHUP only, which it is not.
                ep.modify(sys::borrow(tfd), &mut event(it.events as i32))?;
            }
            Ok(())
        })
        .with_context(|| {
            format!(
                "item of fd {tfd} (events {:#x}, data {:#x}): epoll_ctl",
                it.events, it.data
            )
        })?;
    }
    Ok(())
}

/// Runs `f` with `target` at descriptor number `tfd` of `rstr`, and puts back what was
/// there (its file, at the same number, with its close-on-exec flag), or closes `tfd`.
///
/// `rstr` runs alone (before any fork, on one thread): nothing uses `tfd` meanwhile. It may
/// be one of `rstr`'s own open files (a descriptor of its standard input, the image's file
/// before it was moved): the same file comes back at the same number.
fn with_at(tfd: RawFd, target: RawFd, f: impl FnOnce() -> nix::Result<()>) -> Result<()> {
    let aside = match fcntl(sys::borrow(tfd), FcntlArg::F_GETFD) {
        Ok(fl) => {
            let cloexec = FdFlag::from_bits_retain(fl).contains(FdFlag::FD_CLOEXEC);
            let at = fcntl(sys::borrow(tfd), FcntlArg::F_DUPFD_CLOEXEC(target))
                .with_context(|| format!("setting rstr's descriptor {tfd} aside"))?;
            Some((at, cloexec))
        }
        Err(Errno::EBADF) => None,
        Err(e) => return Err(e).with_context(|| format!("rstr's descriptor {tfd}")),
    };
    ensure!(target != tfd, "a parked descriptor at {tfd}");
    let done = sys::dup_to(target, tfd, true)
        .with_context(|| format!("dup3 to {tfd}"))
        .and_then(|()| f().map_err(anyhow::Error::from));
    let back = match aside {
        Some((at, cloexec)) => sys::dup_to(at, tfd, cloexec).and_then(|()| sys::close(at)),
        None => sys::close(tfd),
    };
    back.with_context(|| format!("putting rstr's descriptor {tfd} back"))?;
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::eventfd::{EfdFlags, EventFd};
    use nix::unistd::pipe2;
    use std::os::fd::{AsFd, AsRawFd};
    use zerocopy::FromZeros;

    fn item(tfd: RawFd, events: i32, data: u64) -> CkptEpollItem {
        let mut it = CkptEpollItem::new_zeroed();
        (it.tfd, it.events, it.data) = (tfd, events as u32, data);
        it
    }

    /// The events `/proc/self/fdinfo` shows for `ep`'s item of `tfd`.
    fn shown(ep: &Epoll, tfd: RawFd) -> Option<u32> {
        let text =
            std::fs::read_to_string(format!("/proc/self/fdinfo/{}", ep.0.as_raw_fd())).ok()?;
        text.lines().find_map(|l| {
            let rest = l.strip_prefix("tfd:")?.trim_start();
            let (n, rest) = rest.split_once(' ')?;
            let ev = rest
                .trim_start()
                .strip_prefix("events:")?
                .split_whitespace()
                .next()?;
            (n.parse::<RawFd>().ok()? == tfd).then(|| u32::from_str_radix(ev, 16).ok())?
        })
    }

    #[test]
    fn items_come_back_at_their_numbers_disarmed_ones_disarmed() {
        // Numbers far above what the other tests of this process open meanwhile.
        let (a, b, c) = (901, 902, 903);
        let ready = EventFd::from_value_and_flags(1, EfdFlags::EFD_NONBLOCK).unwrap();
        let idle = EventFd::from_value_and_flags(0, EfdFlags::EFD_NONBLOCK).unwrap();
        let (rd, _wr) = pipe2(OFlag::O_NONBLOCK).unwrap();
        let oneshot = libc::EPOLLONESHOT;
        let e = EpollImage {
            id: 1,
            items: vec![
                item(b, libc::EPOLLIN | libc::EPOLLERR | libc::EPOLLHUP, 6),
                // Disarmed: on a ready eventfd, and on an empty pipe (ready for nothing).
                item(a, oneshot, 5),
                item(c, oneshot | libc::EPOLLET, 7),
            ],
            table: 1,
            holders: Vec::new(),
        };
        let targets = HashMap::from([
            (a, ready.as_fd().as_raw_fd()),
            (b, idle.as_fd().as_raw_fd()),
            (c, rd.as_raw_fd()),
        ]);
        let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).unwrap();
        fill_one(&e, &ep, |_, it| Ok(targets[&it.tfd])).unwrap();
        assert_eq!(shown(&ep, a), Some(oneshot as u32));
        assert_eq!(shown(&ep, b), Some(0x19));
        assert_eq!(
            shown(&ep, c),
            Some((oneshot | libc::EPOLLET | libc::EPOLLERR | libc::EPOLLHUP) as u32)
        );
        // The disarmed item's eventfd is readable, the other is not yet: nothing reported.
        let mut ev = [EpollEvent::empty(); 4];
        assert_eq!(ep.wait(&mut ev, EpollTimeout::ZERO).unwrap(), 0);
        idle.write(1).unwrap();
        assert_eq!(ep.wait(&mut ev, EpollTimeout::ZERO).unwrap(), 1);
        assert_eq!(ev[0].data(), 6);
        // Nothing is left at the numbers the items were added with.
        for n in [a, b, c] {
            assert_eq!(fcntl(sys::borrow(n), FcntlArg::F_GETFD), Err(Errno::EBADF));
        }
    }

    #[test]
    fn two_items_of_one_number_watch_two_files() {
        // The file added at 921 was closed there and another added at 921 after: both
        // items are added at 921, each with its own file there for the call.
        let n = 921;
        let first = EventFd::from_value_and_flags(0, EfdFlags::EFD_NONBLOCK).unwrap();
        let second = EventFd::from_value_and_flags(0, EfdFlags::EFD_NONBLOCK).unwrap();
        let e = EpollImage {
            id: 1,
            items: vec![item(n, libc::EPOLLIN, 1), item(n, libc::EPOLLIN, 2)],
            table: 1,
            holders: Vec::new(),
        };
        let at = [first.as_fd().as_raw_fd(), second.as_fd().as_raw_fd()];
        let ep = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).unwrap();
        fill_one(&e, &ep, |i, _| Ok(at[i])).unwrap();
        assert_eq!(fcntl(sys::borrow(n), FcntlArg::F_GETFD), Err(Errno::EBADF));
        let text =
            std::fs::read_to_string(format!("/proc/self/fdinfo/{}", ep.0.as_raw_fd())).unwrap();
        let of_n = text
            .lines()
            .filter(|l| {
                l.strip_prefix("tfd:")
                    .is_some_and(|r| r.trim_start().starts_with("921 "))
            })
            .count();
        assert_eq!(of_n, 2, "{text}");
        // Each reports its own data.
        let mut ev = [EpollEvent::empty(); 4];
        second.write(1).unwrap();
        assert_eq!(ep.wait(&mut ev, EpollTimeout::ZERO).unwrap(), 1);
        assert_eq!(ev[0].data(), 2);
        first.write(1).unwrap();
        assert_eq!(ep.wait(&mut ev, EpollTimeout::ZERO).unwrap(), 2);
        // The number is no descriptor of either now: EPOLL_CTL_DEL of the number that
        // holds the first file fails, its item is not keyed by it.
        assert_eq!(ep.delete(first.as_fd()), Err(Errno::ENOENT));
    }

    #[test]
    fn what_was_at_the_number_is_put_back() {
        let n = 911;
        let (rd, _wr) = pipe2(OFlag::O_CLOEXEC).unwrap();
        let mine = EventFd::from_value_and_flags(0, EfdFlags::empty()).unwrap();
        sys::dup_to(mine.as_fd().as_raw_fd(), n, false).unwrap();
        let ino = |fd: RawFd| nix::sys::stat::fstat(sys::borrow(fd)).map(|s| s.st_ino);
        let before = ino(n).unwrap();
        with_at(n, rd.as_raw_fd(), || {
            assert_eq!(ino(n), ino(rd.as_raw_fd()));
            Ok(())
        })
        .unwrap();
        assert_eq!(ino(n).unwrap(), before);
        assert_eq!(
            fcntl(sys::borrow(n), FcntlArg::F_GETFD),
            Ok(0),
            "not close-on-exec"
        );
        sys::close(n).unwrap();
    }
}
