// SPDX-License-Identifier: GPL-2.0

//! Memory areas that map a memfd or a deleted file: no path reopens their file.
//!
//! At checkpoint such an area names the file object by its id (the `VMA`'s `shm`), the id
//! of its `MEMFD` or `DELETED` record, which with its `FILE_DATA` records is written once,
//! before the `MM` record of the first memory that maps it (or with the first descriptor
//! of it, [`crate::memfd`], [`crate::deleted`]): a memfd mapped after its descriptor was
//! closed is saved too. `rstr` makes every such object before its first fork and hands
//! the restart a table of (id, descriptor) ([`ObjFds`], `CkptRestartArgs::objs`); the
//! module maps the file it finds at the descriptor, checked as a file opened by path is,
//! and closes the table's descriptors after the go.

use kernel::alloc::KVVec;
use kernel::prelude::*;

use crate::deleted::{self, original_path, Place};
use crate::error::{refuse, CkptResult, Context};
use crate::files::show;
use crate::image::ImageWriter;
use crate::memfd;
use crate::memory::needs_write;
use crate::objects::Objects;
use crate::sys::file::FileRef;
use crate::sys::mm::{vm, Vma, PROT_WRITE};
use crate::sys::task::current;
use crate::uapi::image as img;
use crate::uapi::{CkptObjFd, CKPT_RESTART_MAX_OBJS};

/// `F_SEAL_WRITE`, `F_SEAL_FUTURE_WRITE` (`include/uapi/linux/fcntl.h`): seals under which
/// `mmap` refuses a shared writable mapping.
const F_SEAL_WRITE: u32 = 0x0008;
const F_SEAL_FUTURE_WRITE: u32 = 0x0010;

/// The file object a file-backed area maps, once saved: its id, and whether its path is a
/// deleted file's (saved without `" (deleted)"`). `(0, false)`: a file reopened by path.
#[derive(Clone, Copy, Default)]
pub(crate) struct Mapped {
    pub(crate) id: u32,
    pub(crate) deleted: bool,
}

/// Saves the memfd or deleted file area `v` maps, the first time it is met (its records
/// come before the `MM` record), and says which it is; `path` is a scratch buffer.
pub(crate) fn save(
    v: &Vma,
    path: &mut [u8],
    objs: &mut Objects,
    w: &mut ImageWriter,
) -> CkptResult<Mapped> {
    let Some(f) = v.file.as_ref() else {
        return Ok(Mapped::default());
    };
    let (s, e) = (v.rec.start, v.rec.end);
    let o = f
        .open_fd(path)
        .context(fmt!("memory {s:#x}-{e:#x}: its file"))?;
    let len = f
        .path(path)
        .context(fmt!("memory {s:#x}-{e:#x}: file path"))?;
    let p = &path[..len];
    let at = Place::Area(s, e);
    if memfd::is_memfd(&o, p) {
        let shared_write = v.rec.vm_flags & (vm::SHARED | vm::WRITE) == vm::SHARED | vm::WRITE;
        if shared_write && f.shmem_seals().unwrap_or(0) & F_SEAL_FUTURE_WRITE != 0 {
            refuse!(
                EOPNOTSUPP,
                "{at}: shared writable mapping of memfd {} sealed F_SEAL_FUTURE_WRITE: mmap would refuse it at restart; not supported",
                show(p)
            );
        }
        let id = memfd::save(f, o.facts.fs_magic, at, objs, w, p)?;
        return Ok(Mapped { id, deleted: false });
    }
    if deleted::is_deleted(&o) {
        let id = deleted::save(f, at, objs, w, original_path(p))?;
        return Ok(Mapped { id, deleted: true });
    }
    Ok(Mapped::default())
}

// ---- Restart --------------------------------------------------------------------------

/// The objects `rstr` made for the areas that map them, at the caller's descriptors
/// ([`CkptRestartArgs::objs`](crate::uapi::CkptRestartArgs::objs)), read at the start of
/// the restart (the caller's memory is replaced before they are closed).
pub(crate) struct ObjFds(KVVec<CkptObjFd>);

impl ObjFds {
    /// Reads the `nr` entries at `ptr`: each id given once and not 0, each descriptor a
    /// number (not yet looked at: [`Self::file`]).
    pub(crate) fn read(ptr: u64, nr: u32) -> CkptResult<ObjFds> {
        if nr > CKPT_RESTART_MAX_OBJS {
            refuse!(
                EINVAL,
                "{nr} mapped objects, at most {CKPT_RESTART_MAX_OBJS}"
            );
        }
        let table: KVVec<CkptObjFd> = crate::memory::read_array(ptr, nr)?;
        for (i, o) in table.iter().enumerate() {
            if o.id == 0 || o.fd < 0 || table[..i].iter().any(|t| t.id == o.id) {
                refuse!(
                    EINVAL,
                    "mapped object {} at fd {}: id 0, a negative descriptor, or an id given twice",
                    o.id,
                    o.fd
                );
            }
        }
        Ok(ObjFds(table))
    }

    /// Closes every descriptor of the table (after the go, with `close_fds`), keeping the
    /// POSIX locks the caller holds on their files through its own descriptors: `rstr`
    /// took them before the call, and a `close` would drop them.
    pub(crate) fn close_all(&self) {
        for o in self.0.iter() {
            current::put_fd_keeping_locks(o.fd);
        }
    }

    /// The file of area `r`, which names object `r.shm`: the one at its descriptor, which
    /// must be what the area's path says (a memfd, or a deleted regular file on a mount of
    /// its own, unlinked) and open as the mapping needs it (readable; writable for a shared
    /// writable area, and then not sealed against writes).
    pub(crate) fn file(
        &self,
        r: &img::CkptVmaRec,
        path: &[u8],
        buf: &mut [u8],
    ) -> CkptResult<FileRef> {
        let (s, e, id) = (r.start, r.end, r.shm);
        let Some(o) = self.0.iter().find(|o| o.id == id) else {
            refuse!(
                EINVAL,
                "VMA record {s:#x}-{e:#x}: maps object {id}, which the restart's table of mapped objects does not have"
            );
        };
        let fd = o.fd;
        let Some(f) = FileRef::fget(fd) else {
            refuse!(
                EBADF,
                "memory {s:#x}-{e:#x}: mapped object {id}: fd {fd} is not open"
            );
        };
        let facts = f
            .open_fd(buf)
            .context(fmt!("memory {s:#x}-{e:#x}: mapped object {id} at fd {fd}"))?;
        let memfd = path.starts_with(memfd::PREFIX);
        let kind_ok = f.is_regular()
            && if memfd {
                facts.facts.internal != 0 && f.shmem_seals().is_ok()
            } else {
                facts.facts.internal == 0 && f.inode().nlink == 0
            };
        if !kind_ok {
            refuse!(
                EINVAL,
                "memory {s:#x}-{e:#x}: mapped object {id}: fd {fd} is not {}",
                if memfd {
                    "a memfd"
                } else {
                    "an unlinked regular file"
                }
            );
        }
        let write = needs_write(r);
        if !f.readable() || (write && !f.writable()) {
            refuse!(
                EACCES,
                "memory {s:#x}-{e:#x}: mapped object {id}: fd {fd} is not open for {}",
                if write {
                    "reading and writing"
                } else {
                    "reading"
                }
            );
        }
        // Only a writable mapping is refused by the seals: a read-only one of a file that was
        // writable (`VM_MAYWRITE`) is mapped, and the seal takes that right away, as it did.
        if r.prot & PROT_WRITE != 0
            && memfd
            && f.shmem_seals().unwrap_or(0) & (F_SEAL_WRITE | F_SEAL_FUTURE_WRITE) != 0
        {
            refuse!(
                EPERM,
                "memory {s:#x}-{e:#x}: memfd {} is sealed against writes: it cannot be mapped shared and writable",
                show(path)
            );
        }
        Ok(f)
    }
}
