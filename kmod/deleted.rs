// SPDX-License-Identifier: GPL-2.0

//! Regular files unlinked while open (or replaced at their path by a `rename`): their
//! content goes into the image, since no path reaches it any more. One `DELETED` record
//! per inode (mode, owner, size) and its `FILE_DATA` records (the data, holes left out:
//! `SEEK_DATA`/`SEEK_HOLE`), before the first `FILE` of kind [`file_kind::DELETED`] naming
//! it; each open file description of it is a `FILE` with its flags, offset and the path it
//! had (without `" (deleted)"`), whose directory `rstr` makes the file again in
//! (`O_TMPFILE`). The data of all deleted files of one image is limited
//! ([`Budget`], `ckpt --deleted-max`).
//!
//! A directory removed while open has no content to save (a removed directory takes no
//! new entry): one `REMOVED_DIR` record per inode (its permission bits and owner), and
//! each open file description a `FILE` of kind [`file_kind::REMOVED_DIR`] with the path it
//! had, where `rstr` makes an empty directory again, opens it and removes it. The directory
//! it was in must still be there.

use kernel::alloc::KVVec;
use kernel::prelude::*;
use zerocopy::IntoBytes;

use crate::error::{refuse, CkptResult, Context};
use crate::files::{reopenable, show};
use crate::image::ImageWriter;
use crate::objects::Objects;
use crate::sys::file::{FileRef, Input};
use crate::sys::task::{current, OpenFd, TaskRef};
use crate::uapi::image::{self as img, file_kind, rec};
use crate::uapi::{CKPT_CHECKPOINT_DELETED_MAX_SHIFT, CKPT_DELETED_MAX_DEFAULT};

use kernel::bindings::{S_IFDIR, S_IFMT, S_IFREG};

/// How many bytes of deleted files' data the image may still take.
pub(crate) struct Budget {
    limit: u64,
    used: u64,
}

impl Budget {
    /// The limit `CkptCheckpointArgs::flags` asks for (in MiB in its high bits), or the
    /// default.
    pub(crate) fn from_flags(flags: u64) -> Budget {
        let mib = flags >> CKPT_CHECKPOINT_DELETED_MAX_SHIFT;
        let limit = if mib == 0 {
            CKPT_DELETED_MAX_DEFAULT
        } else {
            mib << 20
        };
        Budget { limit, used: 0 }
    }

    /// No limit: for the contents of SysV segments, memory as a process's own is.
    pub(crate) fn unlimited() -> Budget {
        Budget {
            limit: u64::MAX,
            used: 0,
        }
    }

    /// Counts `n` more bytes of the file `f`, or refuses them past the limit.
    fn take(&mut self, f: &Named<'_>, n: u64) -> CkptResult {
        let total = self.used.saturating_add(n);
        if total > self.limit {
            refuse!(
                EFBIG,
                "{}: {} {}: its data takes the deleted files of the image to more than {} bytes, the limit for deleted files and memfds (raise it with ckpt --deleted-max SIZE)",
                f.at,
                f.what,
                show(f.path),
                self.limit
            );
        }
        self.used = total;
        Ok(())
    }
}

/// Where a file whose data is saved was met: at a descriptor, or mapped by a memory area.
#[derive(Clone, Copy)]
pub(crate) enum Place {
    Fd(u32),
    Area(u64, u64),
    /// A SysV shared memory segment, by its id.
    Segment(i32),
}

impl kernel::fmt::Display for Place {
    fn fmt(&self, f: &mut kernel::fmt::Formatter<'_>) -> kernel::fmt::Result {
        match *self {
            Place::Fd(fd) => write!(f, "fd {fd}"),
            Place::Area(s, e) => write!(f, "memory {s:#x}-{e:#x}"),
            Place::Segment(id) => write!(f, "SysV shared memory segment {id}"),
        }
    }
}

/// A file whose data is saved, as refusals name it.
pub(crate) struct Named<'a> {
    pub(crate) at: Place,
    /// "deleted file", "memfd".
    pub(crate) what: &'static str,
    pub(crate) path: &'a [u8],
}

/// `d_path`'s mark of an unlinked dentry.
const DELETED_MARK: &[u8] = b" (deleted)";

/// The path a deleted file had: `d_path`'s, without its mark.
pub(crate) fn original_path(p: &[u8]) -> &[u8] {
    p.strip_suffix(DELETED_MARK).unwrap_or(p)
}

/// Whether a descriptor is one this file saves: a regular file, unlinked.
pub(crate) fn is_deleted(o: &OpenFd) -> bool {
    o.facts.unlinked != 0 && o.rec.mode & S_IFMT == S_IFREG && o.facts.internal == 0
}

/// Whether a descriptor is one of a removed directory.
pub(crate) fn is_removed_dir(o: &OpenFd) -> bool {
    o.facts.unlinked != 0 && o.rec.mode & S_IFMT == S_IFDIR && o.facts.internal == 0
}

/// The `REMOVED_DIR` record of the removed directory open at `o` (the first time its inode
/// is met), then the `FILE` record of this description, with the path it had (`path`, as
/// `d_path` shows it). Refused if the directory it was in was removed too.
pub(crate) fn checkpoint_dir(
    task: &TaskRef,
    objs: &mut Objects,
    w: &mut ImageWriter,
    o: &mut OpenFd,
    path: &[u8],
) -> CkptResult {
    let fd = o.fd;
    let p = original_path(path);
    if p.len() == path.len() {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: directory {} was removed, but its path does not say so",
            show(path)
        );
    }
    reopenable(fmt!("fd {fd}: removed directory"), p)?;
    let file = task.file(fd).context(fmt!("fd {fd}"))?;
    if file.parent_removed() {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: directory {} was removed, and so was the directory it was in: there is nowhere to make it again at restart",
            show(p)
        );
    }
    let inode = file.inode();
    let id = objs.id(inode.id)?;
    if objs.first_save(inode.id) {
        let r = img::CkptRemovedDirRec {
            id,
            mode: inode.mode & 0o7777,
            uid: inode.uid,
            gid: inode.gid,
        };
        w.record(rec::REMOVED_DIR, &[r.as_bytes()])?;
    }
    file_of(w, o, file_kind::REMOVED_DIR, id, p)
}

/// Writes the `FILE_DATA` records of `file` (of `size` bytes): every data extent, in
/// chunks of [`img::CKPT_FILE_DATA_CHUNK`].
pub(crate) fn save_data(
    file: &FileRef,
    id: u32,
    size: i64,
    w: &mut ImageWriter,
    budget: &mut Budget,
    f: &Named<'_>,
) -> CkptResult {
    let fd = f.at;
    let chunk = img::CKPT_FILE_DATA_CHUNK as usize;
    let mut buf = KVVec::from_elem(0u8, chunk, GFP_KERNEL_ACCOUNT)?;
    let mut at = 0i64;
    // Ends: each round moves `at` past one data extent (`hole > data >= at`) or returns.
    while at < size {
        let data = match file.seek_data(at, false) {
            Ok(d) => d,
            Err(e) if e == ENXIO => break,
            Err(e) => return Err(e).context(fmt!("{fd}: SEEK_DATA at {at}")),
        };
        let hole = file
            .seek_data(data, true)
            .context(fmt!("{fd}: SEEK_HOLE at {data}"))?
            .min(size);
        if data >= size || hole <= data {
            break;
        }
        budget.take(f, (hole - data) as u64)?;
        let mut off = data;
        let mut input = Input::new_at(file.clone_ref(), data);
        while off < hole {
            // A large file (up to `ckpt --deleted-max`) is read here: the caller may be
            // killed meanwhile.
            if current::fatal_signal_pending() {
                refuse!(EINTR, "{fd}: killed while its data was saved");
            }
            let n = ((hole - off) as usize).min(chunk);
            input
                .read_exact(&mut buf[..n])
                .context(fmt!("{fd}: reading {n} bytes at {off}"))?;
            let r = img::CkptFileDataRec {
                id,
                len: n as u32,
                offset: off as u64,
            };
            w.record(rec::FILE_DATA, &[r.as_bytes(), &buf[..n]])?;
            off += n as i64;
        }
        at = hole;
    }
    Ok(())
}

/// The `DELETED` and `FILE_DATA` records of the deleted file open at `o` (the first time
/// its inode is met), then the `FILE` record of this description.
pub(crate) fn checkpoint(
    task: &TaskRef,
    objs: &mut Objects,
    w: &mut ImageWriter,
    o: &mut OpenFd,
    path: &[u8],
) -> CkptResult {
    let fd = o.fd;
    let p = original_path(path);
    let file = task.file(fd).context(fmt!("fd {fd}"))?;
    let id = save(&file, Place::Fd(fd), objs, w, p)?;
    file_of(w, o, file_kind::DELETED, id, p)
}

/// The `FILE` record of the description `o` of the object `id` of its own record (a
/// deleted file, a memfd, a removed directory), of `kind`, with the path `p`.
pub(crate) fn file_of(
    w: &mut ImageWriter,
    o: &mut OpenFd,
    kind: u32,
    id: u32,
    p: &[u8],
) -> CkptResult {
    o.rec.kind = kind;
    o.rec.pipe = id;
    o.rec.path_len = p.len() as u32;
    w.record(rec::FILE, &[o.rec.as_bytes(), p])
}

/// The `DELETED` and `FILE_DATA` records of the deleted file `file`, whose path was `p`,
/// met at `at` (a descriptor or a memory area that maps it), the first time its inode is
/// met; returns its id.
pub(crate) fn save(
    file: &FileRef,
    at: Place,
    objs: &mut Objects,
    w: &mut ImageWriter,
    p: &[u8],
) -> CkptResult<u32> {
    reopenable(fmt!("{at}: deleted file"), p)?;
    let inode = file.inode();
    if inode.nlink != 0 {
        refuse!(
            EOPNOTSUPP,
            "{at}: {} was removed but its file has {} other links: a copy would be another file; not supported yet",
            show(p),
            inode.nlink
        );
    }
    let id = objs.id(inode.id)?;
    if objs.first_save(inode.id) {
        if !file.readable() {
            refuse!(
                EOPNOTSUPP,
                "{at}: deleted file {} is open for writing only: its content cannot be read; not supported yet",
                show(p)
            );
        }
        if inode.size < 0 {
            refuse!(EINVAL, "{at}: deleted file {} has a negative size", show(p));
        }
        let r = img::CkptDeletedRec {
            id,
            mode: inode.mode,
            uid: inode.uid,
            gid: inode.gid,
            size: inode.size as u64,
        };
        w.record(rec::DELETED, &[r.as_bytes()])?;
        let named = Named {
            at,
            what: "deleted file",
            path: p,
        };
        save_data(file, id, inode.size, w, &mut objs.deleted, &named)?;
    }
    Ok(id)
}

#[kunit_tests(ckpt_deleted)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_of_a_deleted_path_goes() {
        assert_eq!(original_path(b"/tmp/a (deleted)"), b"/tmp/a");
        assert_eq!(original_path(b"/tmp/a"), b"/tmp/a");
    }

    #[test]
    fn the_limit_is_in_mib_from_bit_32() {
        assert_eq!(Budget::from_flags(0).limit, 64 << 20);
        assert_eq!(Budget::from_flags(3 << 32 | 1).limit, 3 << 20);
    }
}
