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
use kernel::fmt;
use kernel::prelude::*;
use zerocopy::IntoBytes;

use crate::error::{refuse, CkptResult, Context};
use crate::image::ImageWriter;
use crate::objects::Objects;
use crate::sys::task::{FdExtra, FdInfo, FsPath, TaskRef};
use crate::uapi::image::{self as img, file_kind, rec};

use kernel::bindings::{
    pid_type_PIDTYPE_PGID, pid_type_PIDTYPE_PID, pid_type_PIDTYPE_TGID, FASYNC as O_ASYNC,
    O_ACCMODE, O_RDWR, O_WRONLY, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK,
};

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
    for (which, what, p) in [
        (FsPath::Root, "root directory", &root[..rl]),
        (FsPath::Cwd, "working directory", &cwd[..cl]),
    ] {
        if task.fs_unlinked(which).context(fmt!("{what}"))? {
            refuse!(
                EOPNOTSUPP,
                "{what} {} was removed: it cannot be entered again at restart",
                show(p)
            );
        }
        reopenable(fmt!("{what}"), p)?;
    }
    let fs = img::CkptFsRec {
        root_len: rl as u32,
        cwd_len: cl as u32,
    };
    w.record(rec::FS, &[fs.as_bytes(), &root[..rl], &cwd[..cl]])
}

/// Refuses a path that `rstr` could not take back: not absolute (outside the caller's root)
/// or not UTF-8.
fn reopenable(what: fmt::Arguments<'_>, p: &[u8]) -> CkptResult {
    if p.first() != Some(&b'/') {
        refuse!(
            EOPNOTSUPP,
            "{what}: {} cannot be reopened by path; not supported yet",
            show(p)
        );
    }
    if core::str::from_utf8(p).is_err() {
        refuse!(EOPNOTSUPP, "{what}: path is not UTF-8; not supported yet");
    }
    Ok(())
}

/// The highest descriptor number `rstr` takes (`FILE` records are checked against it).
const FD_MAX: u32 = 1 << 20;
/// `enum pid_type`: what an `F_SETOWN` owner is.
fn owner_kind(t: u32) -> &'static str {
    if t == pid_type_PIDTYPE_PID {
        "thread"
    } else if t == pid_type_PIDTYPE_TGID {
        "process"
    } else if t == pid_type_PIDTYPE_PGID {
        "process group"
    } else {
        "session"
    }
}

/// Refuses what `rstr` would not rebuild of the descriptor `fd`: an `O_ASYNC` or owned
/// (`F_SETOWN`, `F_SETSIG`) one, a number beyond [`FD_MAX`].
fn check_fd(task: &TaskRef, fd: u32, f: &FdInfo) -> CkptResult<FdExtra> {
    if fd >= FD_MAX {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: descriptors from {FD_MAX} on are not supported yet"
        );
    }
    let e = task.fd_extra(fd).context(fmt!("fd {fd}"))?;
    if f.flags & O_ASYNC != 0 || e.owned != 0 || e.signum != 0 {
        let o_async = if f.flags & O_ASYNC != 0 { "on" } else { "off" };
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: signal-driven I/O (O_ASYNC {o_async}, F_SETOWN {} {}, F_SETSIG {}) is not saved yet",
            owner_kind(e.owner_type),
            e.owner,
            e.signum
        );
    }
    Ok(e)
}

/// Refuses a regular file, directory or device of a kernel-internal mount: a memfd, or a
/// shared memory object opened through `/proc/PID/map_files`. Their paths name no file.
fn check_internal(fd: u32, e: &FdExtra, p: &[u8]) -> CkptResult {
    if e.internal != 0 {
        let kind = if p.starts_with(b"/memfd:") {
            "memfd"
        } else if p.starts_with(b"/SYSV") || p.starts_with(b"/dev/zero") {
            "shared memory object"
        } else {
            "file of a kernel-internal mount"
        };
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: {kind} {} cannot be reopened by path; not supported yet",
            show(p)
        );
    }
    Ok(())
}

/// Refuses a second open file description of one end of a pipe (a pipe end reopened
/// through `/proc/PID/fd`), and a pipe opened for reading and writing: `rstr` makes each
/// pipe with `pipe()`, one description per end.
fn check_pipe_end(objs: &mut Objects, fd: u32, f: &FdInfo, pipe: u32) -> CkptResult {
    let acc = f.flags & O_ACCMODE;
    if acc == O_RDWR {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: pipe {pipe} opened for reading and writing (through /proc/PID/fd); not supported yet"
        );
    }
    let end = if acc == O_WRONLY { "write" } else { "read" };
    if !objs.pipe_end(f.pipe_id, acc == O_WRONLY, f.file_id)? {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: pipe {pipe}: a second open file description of its {end} end (reopened through /proc/PID/fd); not supported yet"
        );
    }
    Ok(())
}

/// The largest pipe `rstr` takes (its check of the `PIPE` record).
const PIPE_CAPACITY_MAX: u32 = 1 << 30;

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
        let extra = check_fd(task, fd, &f)?;
        if f.mode & S_IFMT == S_IFIFO && f.pipe_id != 0 {
            let pipe = objs.id(f.pipe_id)?;
            check_pipe_end(objs, fd, &f, pipe)?;
            if objs.first_save(f.pipe_id) {
                let capacity = task
                    .pipe_data(fd, &mut pipe_buf)
                    .context(fmt!("fd {fd}: pipe contents"))?;
                if capacity > PIPE_CAPACITY_MAX {
                    refuse!(
                        EOPNOTSUPP,
                        "fd {fd}: pipe {pipe} of {capacity} bytes, more than the {PIPE_CAPACITY_MAX} a restart makes"
                    );
                }
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
        if kind == file_kind::CHARDEV && crate::sys::file::is_pty_master(f.rdev) {
            refuse!(
                EOPNOTSUPP,
                "fd {fd}: pseudo-terminal master ({}): not supported yet (reopened, it would be a new terminal)",
                show(p)
            );
        }
        // Anonymous inodes (eventfd, epoll, ...) and files outside our root.
        reopenable(fmt!("fd {fd}"), p)?;
        check_internal(fd, &extra, p)?;
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
