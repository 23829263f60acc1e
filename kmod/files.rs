// SPDX-License-Identifier: GPL-2.0

//! Open files and the filesystem context: the `FILE` records (one per descriptor) and `FS`
//! (root and working directory).
//!
//! Regular files, directories and character devices are saved by path, with their flags,
//! offset and close-on-exec bit; `rstr` reopens them at the same numbers with `open`, `lseek`
//! and `dup2` (`replace_fd` is not exported). Everything else is refused with its reason.

use kernel::prelude::*;
use zerocopy::IntoBytes;

use crate::error::{refuse, CkptResult, Context};
use crate::image::ImageWriter;
use crate::sys::task::{FsPath, TaskRef};
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

pub(crate) fn checkpoint(task: &TaskRef, w: &mut ImageWriter) -> CkptResult {
    let mut path = path_buf()?;
    let mut from = 0;
    while let Some((fd, f)) = task
        .next_fd(from, &mut path)
        .context(fmt!("fd {from} and up"))?
    {
        let p = &path[..f.path_len as usize];
        let kind = match f.mode & S_IFMT {
            S_IFREG => file_kind::REGULAR,
            S_IFDIR => file_kind::DIRECTORY,
            S_IFCHR => file_kind::CHARDEV,
            S_IFIFO => refuse!(
                EOPNOTSUPP,
                "fd {fd}: pipe or FIFO not supported yet ({})",
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
        let rec_ = img::CkptFileRec {
            fd: fd as i32,
            kind,
            flags: f.flags,
            cloexec: f.cloexec,
            pos: f.pos,
            mode: f.mode,
            rdev: f.rdev,
            path_len: f.path_len,
            __reserved: 0,
        };
        w.record(rec::FILE, &[rec_.as_bytes(), p])?;
        from = fd + 1;
    }
    Ok(())
}
