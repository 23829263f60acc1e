// SPDX-License-Identifier: GPL-2.0

//! epoll descriptors: one `EPOLL` record per open file description, before the first
//! `FILE` that refers to it (by its `obj`), with the instance's interest list.
//!
//! The interest list is private to `fs/eventpoll.c`: `ckpt_helper_task_epoll_items` walks
//! it as `ep_show_fdinfo` does for `/proc/PID/fdinfo` (the epoll's tree of items under its
//! mutex; `struct eventpoll` and `struct epitem` come from the kernel's source at build
//! time, Kbuild) and gives each item's file (by identity), the descriptor number `tfd` it
//! was added with, its events and data. An item is keyed by its file and that number, in
//! the table of whoever added it; it outlives a `close` (or a `dup2` over it) of that
//! number while the file lives on elsewhere, and the number may hold another file or
//! nothing by now. Each item's file is looked for in the table of the task the epoll is
//! saved with: at `tfd` first (the helper tells), else at any descriptor of that table
//! ([`Table`]); a file open at none of them (another process's only, in a message in
//! flight, only mapped) refuses the checkpoint. The record names the target by the object
//! id of its `FILE` and by `tfd`: two items of one number (the file closed there and
//! another added at it since) are told apart by their targets. `rstr` makes the epoll with
//! `epoll_create1` and adds each item with `epoll_ctl(EPOLL_CTL_ADD)` with its target put
//! at `tfd` for the call (`userspace/rstr/src/epoll.rs`).

use kernel::prelude::*;
use zerocopy::IntoBytes;

use crate::error::{refuse, CkptResult, Context};
use crate::image::ImageWriter;
use crate::objects::Objects;
use crate::sys::epoll::EpollItem;
use crate::sys::task::{OpenFd, TaskRef};
use crate::uapi::image::{self as img, file_kind, rec};

use kernel::bindings::ANON_INODE_FS_MAGIC;

/// Whether a descriptor is an epoll, by the name of its anonymous inode (`path`, as
/// `/proc/PID/fd` shows it) on the anon_inode filesystem; the helper checks it again on the
/// file itself.
pub(crate) fn is_epoll(fs_magic: u64, path: &[u8]) -> bool {
    fs_magic == u64::from(ANON_INODE_FS_MAGIC) && path == b"anon_inode:[eventpoll]"
}

/// The open files of a task's descriptor table, by identity: `(file, fd)` pairs sorted,
/// read once for the first item whose number no longer holds its file.
struct Table(KVVec<(u64, u32)>);

impl Table {
    fn read(task: &TaskRef) -> CkptResult<Table> {
        let mut v = KVVec::new();
        let mut from = 0;
        while let Some((fd, id)) = task.next_file_id(from) {
            v.push((id, fd), GFP_KERNEL_ACCOUNT)?;
            from = fd + 1;
        }
        Ok(Table::of(v))
    }

    /// The table of these `(file, fd)` pairs.
    fn of(mut v: KVVec<(u64, u32)>) -> Table {
        // By file, then number: the first of a file is its lowest.
        v.sort_unstable();
        Table(v)
    }

    /// The lowest descriptor holding `file`.
    fn find(&self, file: u64) -> Option<u32> {
        let i = self.0.partition_point(|e| e.0 < file);
        self.0.get(i).filter(|e| e.0 == file).map(|e| e.1)
    }
}

/// Where an item's file is in the table: `Ok(fd)` for the descriptor that holds it (its own
/// number if that holds it still), or the refusal that names the epoll, the number and why.
fn place(fd: u32, it: &EpollItem, table: Option<&Table>) -> CkptResult<u32> {
    let tfd = it.tfd as u32;
    if it.at_tfd != 0 {
        return Ok(tfd);
    }
    match table.and_then(|t| t.find(it.file_id)) {
        Some(at) => Ok(at),
        None => refuse!(
            EOPNOTSUPP,
            "fd {fd}: epoll watches fd {tfd}, which was closed or replaced since EPOLL_CTL_ADD, \
             and its file is open at no other descriptor of this process (only in another \
             process, in a message in flight or a memory mapping): not supported"
        ),
    }
}

/// The items of the epoll at `fd` as `EPOLL` items: each one's target found in `task`'s
/// table ([`place`]) and named by its object id.
fn items(
    task: &TaskRef,
    objs: &mut Objects,
    w: &mut ImageWriter,
    fd: u32,
    items: &[EpollItem],
) -> CkptResult<KVVec<img::CkptEpollItem>> {
    let mut out = KVVec::with_capacity(items.len(), GFP_KERNEL_ACCOUNT)?;
    let mut table = None;
    for it in items {
        let tfd = it.tfd;
        // The kernel took the number from a descriptor table: never negative.
        if tfd < 0 {
            return Err(EINVAL.into());
        }
        if it.at_tfd == 0 && table.is_none() {
            table = Some(Table::read(task).context(fmt!("fd {fd}: epoll item of fd {tfd}"))?);
        }
        let at = place(fd, it, table.as_ref())?;
        if at != tfd as u32 && w.log.wants(crate::uapi::CKPT_LOG_DEBUG) {
            w.log.debug(fmt!(
                "task {}: fd {fd}: epoll item of fd {tfd}: its file is at fd {at}",
                w.task()
            ));
        }
        out.push(
            img::CkptEpollItem {
                obj: objs.id(it.file_id)?,
                tfd,
                events: it.events,
                __reserved: 0,
                data: it.data,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
    }
    Ok(out)
}
/// The `EPOLL` record of the epoll open at descriptor `o`, once per open file description,
/// then its `FILE` record (no path, no offset).
pub(crate) fn checkpoint(
    task: &TaskRef,
    objs: &mut Objects,
    w: &mut ImageWriter,
    o: &mut OpenFd,
) -> CkptResult {
    let fd = o.fd;
    crate::anonfd::check_flags(fd, "epoll", o.rec.flags)?;
    if objs.first_save(o.facts.file_id) {
        let mut raw = KVVec::new();
        match task.epoll_items(fd, &mut raw, img::CKPT_EPOLL_ITEMS_MAX) {
            Err(e) if e == E2BIG => refuse!(
                EOPNOTSUPP,
                "fd {fd}: epoll with more than {} items: not supported yet",
                img::CKPT_EPOLL_ITEMS_MAX
            ),
            r => r.context(fmt!("fd {fd}: epoll items"))?,
        }
        let out = items(task, objs, w, fd, &raw)?;
        let r = img::CkptEpollRec {
            id: o.rec.obj,
            nr_items: out.len() as u32,
        };
        w.record(rec::EPOLL, &[r.as_bytes(), out.as_bytes()])?;
    }
    crate::files::made_again(w, o, file_kind::EPOLL, 0)
}

#[kunit_tests(ckpt_epoll)]
mod tests {
    use super::*;

    #[test]
    fn epolls_are_told_by_name_on_their_filesystem() {
        let anon = u64::from(ANON_INODE_FS_MAGIC);
        assert!(is_epoll(anon, b"anon_inode:[eventpoll]"));
        assert!(!is_epoll(anon, b"anon_inode:[eventfd]"));
        assert!(!is_epoll(0xEF53, b"anon_inode:[eventpoll]"));
    }

    fn item(file_id: u64, tfd: i32, at_tfd: bool) -> EpollItem {
        EpollItem {
            file_id,
            tfd,
            at_tfd: at_tfd.into(),
            ..Default::default()
        }
    }

    #[test]
    fn an_items_file_is_found_at_its_number_or_any_other() {
        // Files 0x100 at 3 and 7, 0x200 at 5.
        let mut v = KVVec::new();
        for e in [(0x200, 5), (0x100, 7), (0x100, 3)] {
            v.push(e, GFP_KERNEL).unwrap();
        }
        let t = Table::of(v);
        assert_eq!(t.find(0x100), Some(3));
        assert_eq!(t.find(0x200), Some(5));
        assert_eq!(t.find(0x300), None);
        // At its number: no table needed.
        assert_eq!(place(4, &item(0x100, 9, true), None).ok(), Some(9));
        // Closed at 9, dup'ed to 3 and 7 before: the lowest.
        assert_eq!(place(4, &item(0x100, 9, false), Some(&t)).ok(), Some(3));
        // Open nowhere in this table: refused.
        assert!(place(4, &item(0x300, 9, false), Some(&t)).is_err());
        assert!(place(4, &item(0x300, 9, false), None).is_err());
    }
}
