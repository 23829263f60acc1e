// SPDX-License-Identifier: GPL-2.0

//! epoll descriptions of an image (`EPOLL` records): what [`crate::image`] parses and
//! [`crate::restart::scan`] checks before `rstr` makes them again: each item's fields, that
//! each item's target is a file of the table the record is saved with (at the item's own
//! number, or at another one when that number was closed or replaced since
//! `EPOLL_CTL_ADD`), and an order to fill them in (an epoll inside another is filled
//! first).

use std::collections::HashMap;

use anyhow::{bail, ensure, Result};

use crate::abi::image::{self as img, file_kind};
use crate::restart::OpenFile;

/// One `EPOLL` record, with the descriptor table it was saved with.
#[derive(Debug, Clone)]
pub struct EpollImage {
    pub id: u32,
    pub items: Vec<img::CkptEpollItem>,
    /// The `files` id (`TREE` entry) of the task the record came with: item numbers are
    /// that table's.
    pub table: u32,
    /// For each item, a descriptor of `table` that holds its target: its own number if
    /// that holds it still, else the lowest that does. Filled by [`Self::check_targets`].
    pub holders: Vec<i32>,
}

/// `EPOLL*` bits (`<sys/epoll.h>`; `EPOLLNVAL` is `POLLNVAL`) by name, for people.
const NAMES: [(u32, &str); 16] = [
    (libc::EPOLLIN as u32, "IN"),
    (libc::EPOLLPRI as u32, "PRI"),
    (libc::EPOLLOUT as u32, "OUT"),
    (libc::EPOLLERR as u32, "ERR"),
    (libc::EPOLLHUP as u32, "HUP"),
    (libc::POLLNVAL as u32, "NVAL"),
    (libc::EPOLLRDNORM as u32, "RDNORM"),
    (libc::EPOLLRDBAND as u32, "RDBAND"),
    (libc::EPOLLWRNORM as u32, "WRNORM"),
    (libc::EPOLLWRBAND as u32, "WRBAND"),
    (libc::EPOLLMSG as u32, "MSG"),
    (libc::EPOLLRDHUP as u32, "RDHUP"),
    (libc::EPOLLEXCLUSIVE as u32, "EXCLUSIVE"),
    (libc::EPOLLWAKEUP as u32, "WAKEUP"),
    (libc::EPOLLONESHOT as u32, "ONESHOT"),
    (libc::EPOLLET as u32, "ET"),
];

/// Every bit named (`epoll_ctl` keeps any others it is given, as the image does).
const KNOWN: u32 = {
    let mut all = 0;
    let mut i = 0;
    while i < NAMES.len() {
        all |= NAMES[i].0;
        i += 1;
    }
    all
};

/// The bits `EPOLL_CTL_ADD` takes with `EPOLLEXCLUSIVE` (`EPOLLEXCLUSIVE_OK_BITS`).
const EXCLUSIVE_OK: u32 = (libc::EPOLLIN
    | libc::EPOLLOUT
    | libc::EPOLLERR
    | libc::EPOLLHUP
    | libc::EPOLLWAKEUP
    | libc::EPOLLET
    | libc::EPOLLEXCLUSIVE) as u32;

/// `events` by name, `|`-separated (`IN|ERR|HUP|ET`); `-` for none.
pub fn event_names(events: u32) -> String {
    let mut v: Vec<String> = NAMES
        .iter()
        .filter(|(b, _)| events & b != 0)
        .map(|(_, n)| n.to_string())
        .collect();
    if events & !KNOWN != 0 {
        v.push(format!("{:#x}", events & !KNOWN));
    }
    if v.is_empty() {
        "-".into()
    } else {
        v.join("|")
    }
}

/// Whether an item is an `EPOLLONESHOT` one that fired: only its modes are left.
pub fn disarmed(events: u32) -> bool {
    events & libc::EPOLLONESHOT as u32 != 0 && events & !img::CKPT_EPOLL_PRIVATE_BITS == 0
}

/// Checks a `FILE` record against the epolls read so far: one of kind `EPOLL` is of one
/// whose record came first, and no other kind shares an epoll's id.
pub fn check_file(
    epolls: &HashMap<u32, EpollImage>,
    f: &img::CkptFileRec,
    path: &[u8],
) -> Result<()> {
    match epolls.get(&f.obj) {
        Some(e) => e.check_file(f, path),
        None if f.kind == file_kind::EPOLL => bail!(
            "FILE record: fd {} refers to epoll {} before its EPOLL record",
            f.fd,
            f.obj
        ),
        None => Ok(()),
    }
}

impl EpollImage {
    /// Checks every field against what `epoll_ctl(EPOLL_CTL_ADD)` takes.
    pub fn check(&self) -> Result<()> {
        let id = self.id;
        ensure!(id != 0, "EPOLL record: id 0");
        ensure!(
            self.items.len() <= img::CKPT_EPOLL_ITEMS_MAX as usize,
            "EPOLL record {id}: {} items",
            self.items.len()
        );
        // An item is keyed by its number and its file: two of one number watch two files
        // (one closed there since EPOLL_CTL_ADD, the other added at it after).
        let mut keys = std::collections::HashSet::new();
        for it in &self.items {
            let tfd = it.tfd;
            ensure!(
                it.__reserved == 0,
                "EPOLL record {id}: item of fd {tfd}: reserved field set"
            );
            ensure!(
                (0..1 << 20).contains(&tfd),
                "EPOLL record {id}: item of fd {tfd}: out of range"
            );
            ensure!(
                keys.insert((tfd, it.obj)),
                "EPOLL record {id}: two items of fd {tfd} watching description {}",
                it.obj
            );
            ensure!(
                it.events & libc::EPOLLEXCLUSIVE as u32 == 0 || it.events & !EXCLUSIVE_OK == 0,
                "EPOLL record {id}: item of fd {tfd}: EPOLLEXCLUSIVE with {}",
                event_names(it.events & !EXCLUSIVE_OK)
            );
            ensure!(
                it.obj != id,
                "EPOLL record {id}: item of fd {tfd} is the epoll itself"
            );
        }
        Ok(())
    }

    /// Checks a `FILE` record of this description: its kind, no path, no pipe, its flags.
    pub fn check_file(&self, f: &img::CkptFileRec, path: &[u8]) -> Result<()> {
        ensure!(
            f.kind == file_kind::EPOLL,
            "FILE record: fd {} of kind {} refers to EPOLL record {}",
            f.fd,
            f.kind,
            f.obj
        );
        ensure!(
            path.is_empty() && f.pipe == 0 && f.pos == 0,
            "FILE record: fd {} (epoll) has a path, a pipe or an offset",
            f.fd
        );
        ensure!(
            f.flags as i32 & libc::O_ACCMODE == libc::O_RDWR
                && f.flags & !crate::anonfd::FLAGS == 0,
            "FILE record: fd {} (epoll) has flags {:#o}, not restored",
            f.fd,
            f.flags
        );
        Ok(())
    }

    /// Checks, once the table it was saved with is read (`files`), that each item's target
    /// is one of its files, and notes where ([`Self::holders`]).
    pub fn check_targets(&mut self, files: &[OpenFile]) -> Result<()> {
        let mut at: HashMap<i32, u32> = HashMap::with_capacity(files.len());
        let mut lowest: HashMap<u32, i32> = HashMap::with_capacity(files.len());
        for f in files {
            at.insert(f.rec.fd, f.rec.obj);
            lowest
                .entry(f.rec.obj)
                .and_modify(|fd| *fd = (*fd).min(f.rec.fd))
                .or_insert(f.rec.fd);
        }
        self.holders.clear();
        for it in &self.items {
            let holder = if at.get(&it.tfd) == Some(&it.obj) {
                it.tfd
            } else {
                match lowest.get(&it.obj) {
                    Some(&fd) => fd,
                    None => bail!(
                        "EPOLL record {}: item of fd {} watches description {}, which its table does not have",
                        self.id,
                        it.tfd,
                        it.obj
                    ),
                }
            };
            self.holders.push(holder);
        }
        Ok(())
    }
}

/// The epolls' ids in an order to fill them in: one watched by another comes before it, so
/// that an epoll is added to another only with all its own items. Fails on a loop (which
/// the kernel forbids: an image with one is not a checkpoint's).
pub fn fill_order(epolls: &HashMap<u32, EpollImage>) -> Result<Vec<u32>> {
    // Depth-first, each epoll once; `state`: 1 while its targets are visited, 2 when done.
    let mut state: HashMap<u32, u8> = HashMap::new();
    let mut order = Vec::with_capacity(epolls.len());
    let mut ids: Vec<u32> = epolls.keys().copied().collect();
    ids.sort_unstable();
    for root in ids {
        if state.contains_key(&root) {
            continue;
        }
        // (epoll, next item to look at): an explicit stack, no recursion.
        let mut stack = vec![(root, 0usize)];
        state.insert(root, 1);
        while let Some(&mut (id, ref mut next)) = stack.last_mut() {
            let items = &epolls[&id].items;
            if let Some(it) = items.get(*next) {
                *next += 1;
                if epolls.contains_key(&it.obj) {
                    match state.get(&it.obj) {
                        None => {
                            state.insert(it.obj, 1);
                            stack.push((it.obj, 0));
                        }
                        Some(1) => {
                            bail!("EPOLL record {}: epolls watch each other in a loop", it.obj)
                        }
                        _ => {}
                    }
                }
            } else {
                state.insert(id, 2);
                order.push(id);
                stack.pop();
            }
        }
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    fn item(obj: u32, tfd: i32, events: u32) -> img::CkptEpollItem {
        let mut it = img::CkptEpollItem::new_zeroed();
        (it.obj, it.tfd, it.events, it.data) =
            (obj, tfd, events, u64::from(tfd.unsigned_abs()) * 10);
        it
    }

    fn epoll(id: u32, items: Vec<img::CkptEpollItem>) -> EpollImage {
        EpollImage {
            id,
            items,
            table: 1,
            holders: Vec::new(),
        }
    }

    #[test]
    fn items_are_checked_field_by_field() {
        let inout = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLERR | libc::EPOLLHUP) as u32;
        let et = libc::EPOLLET as u32;
        let oneshot = libc::EPOLLONESHOT as u32;
        let excl = libc::EPOLLEXCLUSIVE as u32;
        assert!(epoll(1, vec![item(2, 4, inout | et), item(3, 5, oneshot)])
            .check()
            .is_ok());
        assert!(epoll(1, vec![item(2, 4, inout | excl)]).check().is_ok());
        // EPOLLEXCLUSIVE with EPOLLONESHOT is no item the kernel keeps.
        assert!(epoll(1, vec![item(2, 4, inout | excl | oneshot)])
            .check()
            .is_err());
        // Bits without a name: kept as the kernel keeps them.
        assert!(epoll(1, vec![item(2, 4, 1 << 20)]).check().is_ok());
        // Two items of one number: of two files, as the kernel keeps them; not of one.
        assert!(epoll(1, vec![item(2, 4, inout), item(3, 4, inout)])
            .check()
            .is_ok());
        let err = epoll(1, vec![item(2, 4, inout), item(2, 4, et)])
            .check()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("two items of fd 4 watching description 2"),
            "{err}"
        );
        assert!(epoll(1, vec![item(2, -1, inout)]).check().is_err());
        assert!(epoll(1, vec![item(1, 4, inout)]).check().is_err());
        assert!(epoll(0, vec![]).check().is_err());
        let mut r = item(2, 4, inout);
        r.__reserved = 1;
        assert!(epoll(1, vec![r]).check().is_err());
    }

    #[test]
    fn events_have_names_and_disarmed_items_only_modes() {
        let e = (libc::EPOLLIN | libc::EPOLLERR | libc::EPOLLHUP | libc::EPOLLET) as u32;
        assert_eq!(event_names(e), "IN|ERR|HUP|ET");
        assert_eq!(event_names(0), "-");
        assert!(disarmed(libc::EPOLLONESHOT as u32 | libc::EPOLLET as u32));
        assert!(!disarmed(libc::EPOLLONESHOT as u32 | libc::EPOLLIN as u32));
        assert!(!disarmed(libc::EPOLLET as u32));
    }

    #[test]
    fn targets_are_files_of_the_table_at_their_numbers_or_others() {
        let file = |fd: i32, obj: u32| {
            let mut rec = img::CkptFileRec::new_zeroed();
            (rec.fd, rec.obj) = (fd, obj);
            OpenFile {
                rec,
                path: String::new(),
            }
        };
        let files = [file(3, 1), file(4, 2), file(5, 2), file(9, 3), file(8, 3)];
        // At their numbers.
        let mut e = epoll(1, vec![item(2, 4, 1), item(2, 5, 1)]);
        e.check_targets(&files).unwrap();
        assert_eq!(e.holders, [4, 5]);
        // Number 3 holds description 1 now: description 2 is at 4 and 5, the lowest is
        // taken; number 7 holds nothing: description 3 is at 8 and 9.
        let mut e = epoll(1, vec![item(2, 3, 1), item(3, 7, 1), item(1, 3, 1)]);
        e.check_targets(&files).unwrap();
        assert_eq!(e.holders, [4, 8, 3]);
        // A description the table does not have, at a number or not.
        let mut e = epoll(1, vec![item(7, 3, 1)]);
        let err = e.check_targets(&files).unwrap_err().to_string();
        assert!(
            err.contains("item of fd 3 watches description 7, which its table does not have"),
            "{err}"
        );
        assert!(epoll(1, vec![item(7, 10, 1)])
            .check_targets(&files)
            .is_err());
    }

    #[test]
    fn inner_epolls_are_filled_first_and_loops_refused() {
        // 10 watches 11 (and fd 2), 11 watches 12; 13 alone.
        let m = HashMap::from([
            (10, epoll(10, vec![item(2, 3, 1), item(11, 4, 1)])),
            (11, epoll(11, vec![item(12, 5, 1)])),
            (12, epoll(12, vec![])),
            (13, epoll(13, vec![])),
        ]);
        let o = fill_order(&m).unwrap();
        let pos = |id| o.iter().position(|&x| x == id).unwrap();
        assert_eq!(o.len(), 4);
        assert!(pos(12) < pos(11) && pos(11) < pos(10));
        let m = HashMap::from([
            (10, epoll(10, vec![item(11, 4, 1)])),
            (11, epoll(11, vec![item(10, 5, 1)])),
        ]);
        assert!(fill_order(&m).is_err());
    }
}
