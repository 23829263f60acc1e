// SPDX-License-Identifier: GPL-2.0

//! memfds (`memfd_create`): a shmem file of the kernel-internal mount, which no path
//! reopens. One `MEMFD` record per memfd (its inode: the id its descriptions name in the
//! `FILE`'s `pipe`): its name, seals (`F_GET_SEALS`), mode and size; then its data in
//! `FILE_DATA` records (holes left out, as for a deleted file: [`crate::deleted`], whose
//! limit it shares), then a `FILE` of kind [`file_kind::MEMFD`] per open file description.
//! `rstr` makes it again with `memfd_create`, fills it and seals it last.

use kernel::prelude::*;
use zerocopy::IntoBytes;

use crate::deleted::{original_path, save_data, Named, Place};
use crate::error::{refuse, CkptResult, Context};
use crate::files::show;
use crate::image::ImageWriter;
use crate::objects::Objects;
use crate::sys::file::FileRef;
use crate::sys::task::{OpenFd, TaskRef};
use crate::uapi::image::{self as img, file_kind, rec};

use kernel::bindings::{HUGETLBFS_MAGIC, S_IFMT, S_IFREG};

/// What `d_path` shows of a memfd: `/memfd:NAME (deleted)`.
pub(crate) const PREFIX: &[u8] = b"/memfd:";

/// Whether the descriptor is a memfd (a regular file of a kernel-internal mount, by the
/// name memfds have).
pub(crate) fn is_memfd(o: &OpenFd, path: &[u8]) -> bool {
    o.facts.internal != 0 && o.rec.mode & S_IFMT == S_IFREG && path.starts_with(PREFIX)
}

/// The name `memfd_create` was given.
fn name_of(path: &[u8]) -> &[u8] {
    let p = original_path(path);
    p.strip_prefix(PREFIX).unwrap_or(p)
}

/// The `MEMFD` and `FILE_DATA` records of the memfd at `o` (the first time its inode is
/// met), then the `FILE` record of this description.
pub(crate) fn checkpoint(
    task: &TaskRef,
    objs: &mut Objects,
    w: &mut ImageWriter,
    o: &mut OpenFd,
    path: &[u8],
) -> CkptResult {
    let fd = o.fd;
    let file = task.file(fd).context(fmt!("fd {fd}"))?;
    let id = save(&file, o.facts.fs_magic, Place::Fd(fd), objs, w, path)?;
    crate::deleted::file_of(w, o, file_kind::MEMFD, id, path)
}

/// The `MEMFD` and `FILE_DATA` records of the memfd `file` (of filesystem `fs_magic`,
/// whose path is `path`), met at `at` (a descriptor or a memory area that maps it), the
/// first time its inode is met; returns its id.
pub(crate) fn save(
    file: &FileRef,
    fs_magic: u64,
    at: Place,
    objs: &mut Objects,
    w: &mut ImageWriter,
    path: &[u8],
) -> CkptResult<u32> {
    if fs_magic == u64::from(HUGETLBFS_MAGIC) {
        refuse!(
            EOPNOTSUPP,
            "{at}: hugetlb memfd {} (MFD_HUGETLB): not supported yet",
            show(path)
        );
    }
    let Ok(seals) = file.shmem_seals() else {
        refuse!(
            EOPNOTSUPP,
            "{at}: {}: a file of a kernel-internal mount that is not a memfd; not supported yet",
            show(path)
        );
    };
    let name = name_of(path);
    if name.len() > img::CKPT_MEMFD_NAME_MAX as usize || core::str::from_utf8(name).is_err() {
        refuse!(
            EOPNOTSUPP,
            "{at}: memfd {}: its name is not UTF-8 or longer than {}; not supported yet",
            show(path),
            img::CKPT_MEMFD_NAME_MAX
        );
    }
    let inode = file.inode();
    let id = objs.id(inode.id)?;
    if objs.first_save(inode.id) {
        if !file.readable() {
            refuse!(
                EOPNOTSUPP,
                "{at}: memfd {} is open for writing only: its content cannot be read; not supported yet",
                show(path)
            );
        }
        if inode.size < 0 {
            refuse!(EINVAL, "{at}: memfd {} has a negative size", show(path));
        }
        let r = img::CkptMemfdRec {
            id,
            seals,
            mode: inode.mode,
            name_len: name.len() as u32,
            size: inode.size as u64,
        };
        w.record(rec::MEMFD, &[r.as_bytes(), name])?;
        let named = Named {
            at,
            what: "memfd",
            path,
        };
        save_data(file, id, inode.size, w, &mut objs.deleted, &named)?;
    }
    Ok(id)
}

#[kunit_tests(ckpt_memfd)]
mod tests {
    use super::*;

    #[test]
    fn a_memfd_name_comes_from_its_path() {
        assert_eq!(name_of(b"/memfd:cache (deleted)"), b"cache");
        assert_eq!(name_of(b"/memfd: (deleted)"), b"");
    }
}
