// SPDX-License-Identifier: GPL-2.0

//! inotify descriptors: one `INOTIFY` record per open file description, before the first
//! `FILE` that refers to it (by its `obj`), then one `INOTIFY_WATCH` per watch.
//!
//! A watch is kept by inotify as a mark on an inode, with its descriptor (`wd`) and mask;
//! both are private to `fs/notify/inotify`. `ckpt_helper_task_inotify` reads them as
//! inotify's own `show_fdinfo` does (under the group's lock) and names each inode by its
//! path from the root of its filesystem (`dentry_path_raw` of one of its dentries), which
//! `rstr` turns back into a path through a mount of that filesystem (the one of the image's
//! device, found in `/proc/self/mountinfo`), then adds the watch again
//! (`userspace/rstr/src/inotify.rs`). Refused: a watch on an inode with no path (unlinked,
//! or a file of no filesystem tree), a watch descriptor above [`img::CKPT_INOTIFY_WD_MAX`],
//! more than [`img::CKPT_INOTIFY_WATCHES_MAX`] watches. Events queued and not read yet
//! are not saved: the restarted instance starts with none (Documentation/files.rst).

use kernel::prelude::*;
use zerocopy::{FromBytes, IntoBytes};

use crate::error::{refuse, CkptResult, Context};
use crate::files::show;
use crate::image::ImageWriter;
use crate::objects::Objects;
use crate::sys::inotify::InotifyWatch;
use crate::sys::task::{OpenFd, TaskRef};
use crate::uapi::image::{self as img, file_kind, rec};

use kernel::bindings::{ANON_INODE_FS_MAGIC, O_ACCMODE, O_CLOEXEC, O_NONBLOCK, O_RDONLY};

/// Whether a descriptor is an inotify, by the name of its anonymous inode (`path`, as
/// `/proc/PID/fd` shows it) on the anon_inode filesystem; the helper checks it again on the
/// file itself.
pub(crate) fn is_inotify(fs_magic: u64, path: &[u8]) -> bool {
    fs_magic == u64::from(ANON_INODE_FS_MAGIC) && path == b"anon_inode:inotify"
}

/// The size of one watch's header in the helper's buffer.
const HEADER: usize = core::mem::size_of::<InotifyWatch>();

/// The most the helper's buffer may grow to: every watch with a long path.
const BUF_MAX: usize = 16 << 20;

/// One watch of the helper's buffer, its path borrowed from it.
#[derive(Debug, PartialEq, Eq)]
struct Watch<'a> {
    w: InotifyWatch,
    path: &'a [u8],
}

/// The `count` watches of the helper's buffer, in the order it wrote them: `None` if the
/// buffer is not `count` of them exactly.
fn parse(
    mut buf: &[u8],
    count: u32,
    out: &mut KVVec<(InotifyWatch, usize, usize)>,
) -> Option<CkptResult> {
    out.clear();
    let total = buf.len();
    for _ in 0..count {
        let w = InotifyWatch::read_from_bytes(buf.get(..HEADER)?).ok()?;
        let len = w.path_len as usize;
        let padded = len.checked_next_multiple_of(8)?;
        let start = total - buf.len() + HEADER;
        buf = buf.get(HEADER..)?;
        let path = buf.get(..padded)?;
        if path[len..].iter().any(|&b| b != 0) {
            return None;
        }
        buf = &buf[padded..];
        if let Err(e) = out.push((w, start, len), GFP_KERNEL_ACCOUNT) {
            return Some(Err(e.into()));
        }
    }
    buf.is_empty().then_some(Ok(()))
}

/// Why one watch cannot be saved, if it cannot.
fn check_watch(fd: u32, w: &Watch<'_>) -> CkptResult {
    let wd = w.w.wd;
    if w.w.unlinked != 0 || w.path.is_empty() {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: inotify watch {wd} is on a deleted file or one with no path (inode {}): not supported yet",
            w.w.ino
        );
    }
    if wd < 1 || wd as u32 > img::CKPT_INOTIFY_WD_MAX {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: inotify watch descriptor {wd} is above {}: not supported yet",
            img::CKPT_INOTIFY_WD_MAX
        );
    }
    if w.w.mask & !img::CKPT_INOTIFY_MASK != 0 {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: inotify watch {wd} has mask {:#x}, beyond what this version restores",
            w.w.mask
        );
    }
    if w.path.first() != Some(&b'/')
        || w.path.contains(&0)
        || w.path.len() > img::CKPT_PATH_MAX as usize
    {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: inotify watch {wd}: its path {} cannot be reopened",
            show(w.path)
        );
    }
    Ok(())
}

/// The helper's buffer of the inotify at `fd`, grown (doubling) until it fits.
fn read_watches(task: &TaskRef, fd: u32, buf: &mut KVVec<u8>) -> CkptResult<(usize, u32)> {
    let mut size = 4096;
    loop {
        buf.clear();
        buf.resize(size, 0, GFP_KERNEL_ACCOUNT)?;
        match task.inotify_watches(fd, buf) {
            Ok((used, count)) => return Ok((used.len(), count)),
            Err(e) if e == E2BIG && size < BUF_MAX => size *= 2,
            Err(e) if e == E2BIG => refuse!(
                EOPNOTSUPP,
                "fd {fd}: inotify with more watches than {BUF_MAX} bytes hold: not supported yet"
            ),
            Err(e) => return Err(e.into()),
        }
    }
}

/// The `INOTIFY` record of the inotify open at descriptor `o` and its `INOTIFY_WATCH`
/// records, once per open file description, then its `FILE` record (no path, no offset).
pub(crate) fn checkpoint(
    task: &TaskRef,
    objs: &mut Objects,
    w: &mut ImageWriter,
    o: &mut OpenFd,
) -> CkptResult {
    let fd = o.fd;
    let flags = o.rec.flags;
    if flags & O_ACCMODE != O_RDONLY || flags & !(O_NONBLOCK | O_CLOEXEC) != 0 {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: inotify with flags {flags:#o} (O_ASYNC, ...): not supported yet"
        );
    }
    if objs.first_save(o.facts.file_id) {
        let mut buf = KVVec::new();
        let (len, count) =
            read_watches(task, fd, &mut buf).context(fmt!("fd {fd}: inotify watches"))?;
        if count > img::CKPT_INOTIFY_WATCHES_MAX {
            refuse!(
                EOPNOTSUPP,
                "fd {fd}: inotify with {count} watches, more than {}: not supported yet",
                img::CKPT_INOTIFY_WATCHES_MAX
            );
        }
        let mut parsed = KVVec::new();
        match parse(&buf[..len], count, &mut parsed) {
            Some(r) => r?,
            None => refuse!(
                EINVAL,
                "fd {fd}: inotify watches: the helper's buffer is torn"
            ),
        }
        // Restored in increasing descriptor order: each number is reached from below.
        parsed.sort_unstable_by_key(|(w, _, _)| w.wd);
        if let Some(d) = parsed.windows(2).find(|p| p[0].0.wd == p[1].0.wd) {
            refuse!(EINVAL, "fd {fd}: inotify watch {} appears twice", d[0].0.wd);
        }
        for &(iw, start, len) in parsed.iter() {
            check_watch(
                fd,
                &Watch {
                    w: iw,
                    path: &buf[start..start + len],
                },
            )?;
        }
        let r = img::CkptInotifyRec {
            id: o.rec.obj,
            nr_watches: count,
        };
        w.fixed(rec::INOTIFY, &r)?;
        for &(iw, start, len) in parsed.iter() {
            let rec = img::CkptInotifyWatchRec {
                wd: iw.wd,
                mask: iw.mask,
                ino: iw.ino,
                dev: iw.dev,
                path_len: len as u32,
            };
            w.record(
                rec::INOTIFY_WATCH,
                &[rec.as_bytes(), &buf[start..start + len]],
            )?;
        }
    }
    crate::files::made_again(w, o, file_kind::INOTIFY, 0)
}

#[kunit_tests(ckpt_inotify)]
mod tests {
    use super::*;

    fn put(buf: &mut KVVec<u8>, wd: i32, path: &[u8]) {
        let w = InotifyWatch {
            wd,
            mask: 0x100,
            ino: 7,
            dev: 0x801,
            path_len: path.len() as u32,
            unlinked: 0,
            __pad: 0,
        };
        buf.extend_from_slice(w.as_bytes(), GFP_KERNEL).unwrap();
        buf.extend_from_slice(path, GFP_KERNEL).unwrap();
        for _ in path.len()..path.len().next_multiple_of(8) {
            buf.push(0, GFP_KERNEL).unwrap();
        }
    }

    #[test]
    fn inotifies_are_told_by_name_on_their_filesystem() {
        let anon = u64::from(ANON_INODE_FS_MAGIC);
        assert!(is_inotify(anon, b"anon_inode:inotify"));
        assert!(!is_inotify(anon, b"anon_inode:[fanotify]"));
        assert!(!is_inotify(0xEF53, b"anon_inode:inotify"));
    }

    #[test]
    fn buffers_parse_watch_by_watch() {
        let mut b = KVVec::new();
        put(&mut b, 1, b"/tmp/dir");
        put(&mut b, 5, b"/a-longer/path/file");
        let mut v = KVVec::new();
        assert!(matches!(parse(&b, 2, &mut v), Some(Ok(()))));
        assert_eq!(v.len(), 2);
        assert_eq!(
            (v[0].0.wd, &b[v[0].1..v[0].1 + v[0].2]),
            (1, &b"/tmp/dir"[..])
        );
        assert_eq!(
            (v[1].0.wd, &b[v[1].1..v[1].1 + v[1].2]),
            (5, &b"/a-longer/path/file"[..])
        );
        // One watch fewer or more than the buffer holds, or a cut buffer: torn.
        assert!(parse(&b, 1, &mut v).is_none());
        assert!(parse(&b, 3, &mut v).is_none());
        assert!(parse(&b[..b.len() - 8], 2, &mut v).is_none());
        assert!(matches!(parse(&[], 0, &mut v), Some(Ok(()))) && v.is_empty());
    }

    #[test]
    fn watches_without_a_path_or_beyond_the_limits_are_refused() {
        let mut w = InotifyWatch {
            wd: 3,
            mask: 0x2,
            ..Default::default()
        };
        assert!(check_watch(4, &Watch { w, path: b"/etc" }).is_ok());
        assert!(check_watch(4, &Watch { w, path: b"" }).is_err());
        assert!(check_watch(4, &Watch { w, path: b"etc" }).is_err());
        w.unlinked = 1;
        assert!(check_watch(4, &Watch { w, path: b"/etc" }).is_err());
        w.unlinked = 0;
        w.wd = img::CKPT_INOTIFY_WD_MAX as i32 + 1;
        assert!(check_watch(4, &Watch { w, path: b"/etc" }).is_err());
        w.wd = 3;
        w.mask = 0x0100_0000; // IN_MASK_ADD: never kept in a mark
        assert!(check_watch(4, &Watch { w, path: b"/etc" }).is_err());
    }
}
