// SPDX-License-Identifier: GPL-2.0

//! Open files and the filesystem context: the `FILE` records (one per descriptor) and `FS`
//! (root and working directory).
//!
//! Regular files, directories and character devices are saved by path, with their flags,
//! offset and close-on-exec bit; anonymous pipes with what is buffered in them. Each open
//! file description and each pipe has an object id, so that descriptors sharing one
//! (`dup`, `fork`) share it again after restart; `rstr` reopens them at the same numbers with `open`, `lseek`
//! and `dup2` (`replace_fd` is not exported). Everything else is refused with its reason.

use kernel::alloc::VVec;
use kernel::prelude::*;
use zerocopy::IntoBytes;

use crate::error::{refuse, CkptResult, Context};
use crate::image::ImageWriter;
use crate::objects::Objects;
use crate::sys::task::{FdInfo, FsPath, TaskRef};
use crate::uapi::image::{self as img, file_kind, rec};

const S_IFMT: u32 = 0o170000;
const S_IFSOCK: u32 = 0o140000;
const S_IFREG: u32 = 0o100000;
const S_IFBLK: u32 = 0o060000;
const S_IFDIR: u32 = 0o040000;
const S_IFCHR: u32 = 0o020000;
const S_IFIFO: u32 = 0o010000;

/// A buffer for one path (`PATH_MAX`).
fn path_buf() -> CkptResult<KVec<u8>> {
    Ok(KVec::from_elem(
        0u8,
        img::CKPT_PATH_MAX as usize + 1,
        GFP_KERNEL,
    )?)
}

/// Shows a path from a buffer in a reason.
fn show(path: &[u8]) -> &str {
    core::str::from_utf8(path).unwrap_or("(not UTF-8)")
}

pub(crate) fn checkpoint_fs(task: &TaskRef, w: &mut ImageWriter) -> CkptResult {
    let mut root = path_buf()?;
    let mut cwd = path_buf()?;
    let rl = task
        .fs_path(FsPath::Root, &mut root)
        .context(fmt!("root directory"))?;
    let cl = task
        .fs_path(FsPath::Cwd, &mut cwd)
        .context(fmt!("working directory"))?;
    let fs = img::CkptFsRec {
        root_len: rl as u32,
        cwd_len: cl as u32,
    };
    w.record(rec::FS, &[fs.as_bytes(), &root[..rl], &cwd[..cl]])
}

/// The most a pipe's saved contents may hold (a pipe of `/proc/sys/fs/pipe-max-size`).
const PIPE_MAX: usize = 1 << 20;

/// `FILE` records of every descriptor; each pipe's `PIPE` record before its first `FILE`.
pub(crate) fn checkpoint(task: &TaskRef, objs: &mut Objects, w: &mut ImageWriter) -> CkptResult {
    let mut path = path_buf()?;
    let mut pipe_buf = VVec::with_capacity(PIPE_MAX, GFP_KERNEL)?;
    let mut from = 0;
    while let Some((fd, f)) = task
        .next_fd(from, &mut path)
        .context(fmt!("fd {from} and up"))?
    {
        let obj = objs.id(f.file_id)?;
        if f.mode & S_IFMT == S_IFIFO && f.pipe_id != 0 {
            let pipe = objs.id(f.pipe_id)?;
            if objs.first_save(f.pipe_id) {
                let capacity = task
                    .pipe_data(fd, &mut pipe_buf)
                    .context(fmt!("fd {fd}: pipe contents"))?;
                let r = img::CkptPipeRec {
                    id: pipe,
                    capacity,
                    len: pipe_buf.len() as u32,
                    __reserved: 0,
                };
                w.record(rec::PIPE, &[r.as_bytes(), &pipe_buf])?;
            }
            let r = file_rec(fd, file_kind::PIPE, &f, 0, obj, pipe);
            w.record(rec::FILE, &[r.as_bytes()])?;
            from = fd + 1;
            continue;
        }
        let p = &path[..f.path_len as usize];
        let kind = match f.mode & S_IFMT {
            S_IFREG => file_kind::REGULAR,
            S_IFDIR => file_kind::DIRECTORY,
            S_IFCHR => file_kind::CHARDEV,
            S_IFIFO => refuse!(
                EOPNOTSUPP,
                "fd {fd}: named pipe (FIFO) not supported yet ({})",
                show(p)
            ),
            S_IFSOCK => refuse!(EOPNOTSUPP, "fd {fd}: socket not supported yet"),
            S_IFBLK => refuse!(
                EOPNOTSUPP,
                "fd {fd}: block device not supported yet ({})",
                show(p)
            ),
            _ => refuse!(EOPNOTSUPP, "fd {fd}: {} not supported yet", show(p)),
        };
        if f.unlinked != 0 {
            refuse!(
                EOPNOTSUPP,
                "fd {fd}: {} is deleted; deleted files are not supported yet",
                show(p)
            );
        }
        if p.first() != Some(&b'/') {
            // Anonymous inodes (eventfd, epoll, ...) and files outside our root.
            refuse!(
                EOPNOTSUPP,
                "fd {fd}: {} cannot be reopened by path; not supported yet",
                show(p)
            );
        }
        let r = file_rec(fd, kind, &f, f.path_len, obj, 0);
        w.record(rec::FILE, &[r.as_bytes(), p])?;
        from = fd + 1;
    }
    Ok(())
}

fn file_rec(
    fd: u32,
    kind: u32,
    f: &FdInfo,
    path_len: u32,
    obj: u32,
    pipe: u32,
) -> img::CkptFileRec {
    img::CkptFileRec {
        fd: fd as i32,
        kind,
        flags: f.flags,
        cloexec: f.cloexec,
        pos: if kind == file_kind::PIPE { 0 } else { f.pos },
        mode: f.mode,
        rdev: f.rdev,
        path_len,
        obj,
        pipe,
        __reserved: 0,
    }
}
