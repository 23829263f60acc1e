// SPDX-License-Identifier: GPL-2.0

//! epoll descriptors: one `EPOLL` record per open file description, before the first
//! `FILE` that refers to it (by its `obj`), with the instance's interest list.
//!
//! The interest list is private to `fs/eventpoll.c`; what an out-of-tree module reaches of
//! it is what `ep_show_fdinfo` prints under the epoll's mutex, one line per item:
//! `tfd: %8d events: %8x data: %16llx  pos:%lli ino:%llx sdev:%x`, read through
//! `ckpt_helper_task_fdinfo` and parsed here strictly (a line not of that form refuses the
//! descriptor). An item is keyed by its file and the descriptor number `tfd` it was added
//! with, in the table of whoever added it; it outlives a `close` of that number while the
//! file lives on elsewhere (a `dup`, another process). Each item's number is looked up in
//! the table of the task the epoll is saved with: the file open there must be the one the
//! item watches (`ckpt_helper_task_epoll_target` looks for this epoll's item with that
//! number on the file's own list of items), or the checkpoint is refused. The record names
//! the target by the object id of its `FILE` and by `tfd`; `rstr` makes the epoll with
//! `epoll_create1` and adds each item with `epoll_ctl(EPOLL_CTL_ADD)` at that number
//! (`userspace/rstr/src/epoll.rs`).

use kernel::prelude::*;
use zerocopy::IntoBytes;

use crate::error::{refuse, CkptResult, Context};
use crate::image::ImageWriter;
use crate::objects::Objects;
use crate::sys::task::{OpenFd, TaskRef};
use crate::uapi::image::{self as img, file_kind, rec};

use kernel::bindings::ANON_INODE_FS_MAGIC;

/// Whether a descriptor is an epoll, by the name of its anonymous inode (`path`, as
/// `/proc/PID/fd` shows it) on the anon_inode filesystem; the helper checks it again on the
/// file itself.
pub(crate) fn is_epoll(fs_magic: u64, path: &[u8]) -> bool {
    fs_magic == u64::from(ANON_INODE_FS_MAGIC) && path == b"anon_inode:[eventpoll]"
}

/// One line of `ep_show_fdinfo`.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct Item {
    tfd: i32,
    events: u32,
    data: u64,
    ino: u64,
    sdev: u32,
}

/// A value printed with a field width (`%8d`, `%16llx`): right-aligned with spaces to
/// `width` characters, or longer without any.
fn padded(s: &str, width: usize) -> Option<&str> {
    let v = s.trim_start_matches(' ');
    (!v.is_empty() && s.len() == width.max(v.len())).then_some(v)
}

/// Lower-case hexadecimal digits (`%x`) of a value of at most `max` digits.
fn hex(s: &str, max: usize) -> Option<u64> {
    if s.is_empty() || s.len() > max || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    u64::from_str_radix(s, 16).ok()
}

/// Decimal digits, with a minus sign where `signed`.
fn dec(s: &str, signed: bool) -> Option<i64> {
    let digits = if signed {
        s.strip_prefix('-').unwrap_or(s)
    } else {
        s
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<i64>().ok()
}

fn parse_line(line: &str) -> Option<Item> {
    let rest = line.strip_prefix("tfd: ")?;
    let (tfd, rest) = rest.split_once(" events: ")?;
    let (events, rest) = rest.split_once(" data: ")?;
    let (data, rest) = rest.split_once("  pos:")?;
    let (pos, rest) = rest.split_once(" ino:")?;
    let (ino, sdev) = rest.split_once(" sdev:")?;
    // A descriptor number is an `int` the kernel looked up: never negative.
    let tfd = i32::try_from(dec(padded(tfd, 8)?, false)?).ok()?;
    let events = u32::try_from(hex(padded(events, 8)?, 8)?).ok()?;
    let data = hex(padded(data, 16)?, 16)?;
    // The target's offset: not saved (the target's own record has it).
    dec(pos, true)?;
    let ino = hex(ino, 16)?;
    let sdev = u32::try_from(hex(sdev, 8)?).ok()?;
    Some(Item {
        tfd,
        events,
        data,
        ino,
        sdev,
    })
}

/// The items of an epoll's `show_fdinfo` text, into `out` (at most
/// [`img::CKPT_EPOLL_ITEMS_MAX`]): `None` if a line is not one, or there are more.
fn parse(text: &[u8], out: &mut KVVec<Item>) -> Option<CkptResult> {
    out.clear();
    let s = core::str::from_utf8(text).ok()?;
    if s.is_empty() {
        return Some(Ok(()));
    }
    // Every line ends with a newline: nothing may follow the last.
    for line in s.strip_suffix('\n')?.split('\n') {
        if out.len() >= img::CKPT_EPOLL_ITEMS_MAX as usize {
            return None;
        }
        let item = parse_line(line)?;
        if let Err(e) = out.push(item, GFP_KERNEL_ACCOUNT) {
            return Some(Err(e.into()));
        }
    }
    Some(Ok(()))
}

/// The most a `show_fdinfo` text of [`img::CKPT_EPOLL_ITEMS_MAX`] items takes: a line is at
/// most 118 bytes (every number at its widest).
const TEXT_MAX: usize = img::CKPT_EPOLL_ITEMS_MAX as usize * 128;

/// The `show_fdinfo` text of the epoll at `fd`, into `buf`, grown (doubling) until it fits.
fn read_text(task: &TaskRef, fd: u32, buf: &mut KVVec<u8>) -> CkptResult<usize> {
    let mut size = 4096;
    loop {
        buf.clear();
        buf.resize(size, 0, GFP_KERNEL_ACCOUNT)?;
        match task.fdinfo(fd, file_kind::EPOLL, buf) {
            Ok((text, _)) => return Ok(text.len()),
            Err(e) if e == E2BIG && size < TEXT_MAX => size *= 2,
            Err(e) if e == E2BIG => refuse!(
                EOPNOTSUPP,
                "fd {fd}: epoll with more than {} items: not supported yet",
                img::CKPT_EPOLL_ITEMS_MAX
            ),
            Err(e) => return Err(e.into()),
        }
    }
}

/// The reason an item is refused for: its number holds another file by now (closed, or
/// `dup2`'ed over, since `EPOLL_CTL_ADD`), or two items have that number (one file was
/// closed there since, the other added after).
fn replaced(fd: u32, tfd: u32) -> CkptResult {
    refuse!(
        EOPNOTSUPP,
        "fd {fd}: epoll watches fd {tfd}, which was closed or replaced since EPOLL_CTL_ADD; not supported yet"
    )
}

/// The items of the epoll at `fd` as `EPOLL` items: each one's target, the file open at
/// its number in `task`, checked to be the item's own and named by its object id.
fn items(
    task: &TaskRef,
    objs: &mut Objects,
    fd: u32,
    items: &[Item],
) -> CkptResult<KVVec<img::CkptEpollItem>> {
    let mut out = KVVec::with_capacity(items.len(), GFP_KERNEL_ACCOUNT)?;
    let mut tfds = KVVec::with_capacity(items.len(), GFP_KERNEL_ACCOUNT)?;
    for it in items {
        let tfd = it.tfd as u32;
        let t = task
            .epoll_target(fd, tfd)
            .context(fmt!("fd {fd}: epoll item of fd {tfd}"))?;
        if t.open == 0 || t.watched == 0 || t.ino != it.ino || t.sdev != it.sdev {
            replaced(fd, tfd)?;
        }
        tfds.push(tfd, GFP_KERNEL_ACCOUNT)?;
        out.push(
            img::CkptEpollItem {
                obj: objs.id(t.file_id)?,
                tfd: it.tfd,
                events: it.events,
                __reserved: 0,
                data: it.data,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
    }
    // Two items of one number: neighbours once sorted.
    tfds.sort_unstable();
    if let Some(w) = tfds.windows(2).find(|w| w[0] == w[1]) {
        replaced(fd, w[0])?;
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
        let mut buf = KVVec::new();
        let len = read_text(task, fd, &mut buf).context(fmt!("fd {fd}: epoll items"))?;
        let mut parsed = KVVec::new();
        match parse(&buf[..len], &mut parsed) {
            Some(r) => r?,
            None => refuse!(
                EOPNOTSUPP,
                "fd {fd}: epoll: its items (fdinfo) are not in the form this version reads, or more than {}: {}",
                img::CKPT_EPOLL_ITEMS_MAX,
                core::str::from_utf8(&buf[..len.min(200)]).unwrap_or("(not UTF-8)")
            ),
        }
        let out = items(task, objs, fd, &parsed)?;
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

    #[test]
    fn fdinfo_lines_parse() {
        // As ep_show_fdinfo prints them: widths 8, 8 and 16, two spaces before pos.
        let l = "tfd:        5 events:       19 data:                7  pos:0 ino:3f sdev:f";
        let it = parse_line(l).unwrap();
        assert_eq!(
            it,
            Item {
                tfd: 5,
                events: 0x19,
                data: 7,
                ino: 0x3f,
                sdev: 0xf
            }
        );
        let l = "tfd: 123456789 events: 80000019 data: ffffffffffffffff  pos:-1 ino:1a2b3c4d5e sdev:800001";
        let it = parse_line(l).unwrap();
        assert_eq!(
            (it.tfd, it.events, it.data),
            (123_456_789, 0x8000_0019, u64::MAX)
        );
        assert_eq!((it.ino, it.sdev), (0x1a_2b3c_4d5e, 0x80_0001));
    }

    #[test]
    fn torn_or_foreign_lines_are_refused() {
        let good = "tfd:        5 events:       19 data:                7  pos:0 ino:3f sdev:f";
        assert!(parse_line(good).is_some());
        for bad in [
            // One space before pos, a padding short by one, upper-case hex, a sign.
            "tfd:        5 events:       19 data:                7 pos:0 ino:3f sdev:f",
            "tfd:       5 events:       19 data:                7  pos:0 ino:3f sdev:f",
            "tfd:        5 events:       1F data:                7  pos:0 ino:3f sdev:f",
            "tfd:       -5 events:       19 data:                7  pos:0 ino:3f sdev:f",
            // 9 hex digits of events, a missing field, something after.
            "tfd:        5 events: 100000019 data:                7  pos:0 ino:3f sdev:f",
            "tfd:        5 events:       19 data:                7  pos:0 ino:3f",
            "tfd:        5 events:       19 data:                7  pos:0 ino:3f sdev:f x",
            "",
        ] {
            assert!(parse_line(bad).is_none());
        }
    }

    #[test]
    fn whole_texts_parse_line_by_line() {
        let mut v = KVVec::new();
        assert!(matches!(parse(b"", &mut v), Some(Ok(()))) && v.is_empty());
        let t = b"tfd:        4 events:       19 data:                4  pos:0 ino:7 sdev:e\n\
                  tfd:        6 events: 40000000 data:        deadbeef0  pos:0 ino:7 sdev:e\n";
        assert!(matches!(parse(t, &mut v), Some(Ok(()))));
        assert_eq!(v.len(), 2);
        assert_eq!(
            (v[1].tfd, v[1].events, v[1].data),
            (6, 0x4000_0000, 0xd_eadb_eef0)
        );
        // No newline at the end: torn.
        let t = b"tfd:        4 events:       19 data:                4  pos:0 ino:7 sdev:e";
        assert!(parse(t, &mut v).is_none());
    }
}
