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
use crate::sys::task::{FdFacts, FsPath, OpenFd, TaskRef};
use crate::uapi::image::{self as img, file_kind, rec};

use kernel::bindings::{
    O_ACCMODE, O_PATH, O_RDWR, O_WRONLY, PIPEFS_MAGIC, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK,
    S_IFMT, S_IFREG, S_IFSOCK,
};

/// A buffer for one path (`PATH_MAX`).
fn path_buf() -> CkptResult<KVec<u8>> {
    Ok(KVec::from_elem(
        0u8,
        img::CKPT_PATH_MAX as usize + 1,
        GFP_KERNEL_ACCOUNT,
    )?)
}

/// Shows a path from a buffer in a reason.
pub(crate) fn show(path: &[u8]) -> &str {
    core::str::from_utf8(path).unwrap_or("(not UTF-8)")
}

pub(crate) fn checkpoint_fs(task: &TaskRef, w: &mut ImageWriter) -> CkptResult {
    let mut root = path_buf()?;
    let mut cwd = path_buf()?;
    let (rl, root_dir) = task
        .fs_path(FsPath::Root, &mut root)
        .context(fmt!("root directory"))?;
    let (mut cl, cwd_dir) = task
        .fs_path(FsPath::Cwd, &mut cwd)
        .context(fmt!("working directory"))?;
    if root_dir.unlinked != 0 {
        refuse!(
            EOPNOTSUPP,
            "root directory {} was removed: it cannot be entered again at restart",
            show(&root[..rl])
        );
    }
    reopenable(fmt!("root directory"), &root[..rl])?;
    let mut fs = img::CkptFsRec {
        root_len: rl as u32,
        cwd_len: 0,
        flags: 0,
        cwd_mode: 0,
        cwd_uid: 0,
        cwd_gid: 0,
    };
    if cwd_dir.unlinked != 0 {
        // Empty for good (a removed directory takes no new entry): rstr makes an empty one
        // where it was, enters it and removes it. Where it was must still be there.
        let was = crate::deleted::original_path(&cwd[..cl]).len();
        if was == cl {
            refuse!(
                EOPNOTSUPP,
                "working directory {} was removed, but its path does not say so",
                show(&cwd[..cl])
            );
        }
        cl = was;
        if cwd_dir.parent_unlinked != 0 {
            refuse!(
                EOPNOTSUPP,
                "working directory {} was removed, and so was the directory it was in: there is nowhere to make it again at restart",
                show(&cwd[..cl])
            );
        }
        fs.flags = img::CKPT_FS_CWD_REMOVED;
        fs.cwd_mode = cwd_dir.mode & 0o7777;
        fs.cwd_uid = cwd_dir.uid;
        fs.cwd_gid = cwd_dir.gid;
    }
    reopenable(fmt!("working directory"), &cwd[..cl])?;
    fs.cwd_len = cl as u32;
    w.record(rec::FS, &[fs.as_bytes(), &root[..rl], &cwd[..cl]])
}

/// Refuses a path that `rstr` could not take back: not absolute (outside the caller's root)
/// or not UTF-8.
pub(crate) fn reopenable(what: fmt::Arguments<'_>, p: &[u8]) -> CkptResult {
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

/// Refuses what `rstr` would not rebuild of the descriptor `fd`: a number beyond [`FD_MAX`],
/// an `O_PATH` descriptor of anything but a regular file, directory or device reopened by
/// path. (Owners, signals and `O_ASYNC` are [`crate::fown`]'s.)
fn check_fd(o: &OpenFd) -> CkptResult {
    let (fd, e) = (o.fd, &o.facts);
    if fd >= FD_MAX {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: descriptors from {FD_MAX} on are not supported yet"
        );
    }
    // A socket file's is refused by `crate::unix`, a symbolic link's as a file not saved.
    let what = match o.rec.mode & S_IFMT {
        S_IFIFO => "pipe or FIFO",
        S_IFREG | S_IFDIR | S_IFCHR if e.internal != 0 => "memfd or shared memory object",
        // A removed directory (`crate::deleted::checkpoint_dir`), `O_PATH` too.
        S_IFDIR if e.unlinked != 0 => return Ok(()),
        S_IFREG | S_IFDIR | S_IFCHR if e.unlinked != 0 => "deleted file",
        S_IFREG | S_IFDIR | S_IFCHR | S_IFSOCK | S_IFLNK => return Ok(()),
        _ => "anonymous inode or block device",
    };
    if o.rec.flags & O_PATH != 0 {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: O_PATH descriptor of a {what}; not supported yet"
        );
    }
    Ok(())
}

/// Refuses a regular file, directory or device of a kernel-internal mount: a memfd, or a
/// shared memory object opened through `/proc/PID/map_files`. Their paths name no file.
pub(crate) fn check_internal(fd: u32, e: &FdFacts, p: &[u8]) -> CkptResult {
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
pub(crate) fn check_pipe_end(objs: &mut Objects, o: &OpenFd, pipe: u32) -> CkptResult {
    let fd = o.fd;
    let acc = o.rec.flags & O_ACCMODE;
    if acc == O_RDWR {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: pipe {pipe} opened for reading and writing (through /proc/PID/fd); not supported yet"
        );
    }
    let end = if acc == O_WRONLY { "write" } else { "read" };
    if !objs.pipe_end(o.facts.pipe_id, acc == O_WRONLY, o.facts.file_id)? {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: pipe {pipe}: a second open file description of its {end} end (reopened through /proc/PID/fd); not supported yet"
        );
    }
    Ok(())
}

/// The `FILE` record of a descriptor `rstr` makes again from the object's own record
/// (a pipe, a socket, an eventfd...) rather than opens by path: `kind`, and `pipe` the
/// object's id where the kind has one (0 if not); no path, no offset.
pub(crate) fn made_again(w: &mut ImageWriter, o: &mut OpenFd, kind: u32, pipe: u32) -> CkptResult {
    o.rec.kind = kind;
    o.rec.pipe = pipe;
    o.rec.pos = 0;
    o.rec.path_len = 0;
    w.record(rec::FILE, &[o.rec.as_bytes()])
}

/// The largest pipe `rstr` takes (its check of the `PIPE` record).
const PIPE_CAPACITY_MAX: u32 = 1 << 30;

/// The most a pipe's saved contents may hold (a pipe of `/proc/sys/fs/pipe-max-size`).
pub(crate) const PIPE_MAX: usize = 1 << 20;

/// Writes the `PIPE` record of the pipe or FIFO `pipe_id` open at `fd` (or carried in
/// flight by the socket at `fd`) the first time it is met (its contents and capacity, read
/// by `read` into `buf`); returns the pipe's id.
pub(crate) fn save_pipe(
    objs: &mut Objects,
    w: &mut ImageWriter,
    fd: u32,
    pipe_id: u64,
    buf: &mut VVec<u8>,
    read: impl FnOnce(&mut VVec<u8>) -> kernel::error::Result<u32>,
) -> CkptResult<u32> {
    let pipe = objs.id(pipe_id)?;
    if !objs.first_save(pipe_id) {
        return Ok(pipe);
    }
    let capacity = read(buf).context(fmt!("fd {fd}: pipe contents"))?;
    if capacity > PIPE_CAPACITY_MAX {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: pipe {pipe} of {capacity} bytes, more than the {PIPE_CAPACITY_MAX} a restart makes"
        );
    }
    let r = img::CkptPipeRec {
        id: pipe,
        capacity,
        len: buf.len() as u32,
        __reserved: 0,
    };
    w.record(rec::PIPE, &[r.as_bytes(), buf])?;
    Ok(pipe)
}

/// A file this version does not save, by type.
#[derive(Debug, PartialEq)]
enum Unsaved {
    Fifo,
    Socket,
    BlockDevice,
    /// No file type: an anonymous inode not saved (inotify, fanotify, userfaultfd, ...).
    Other,
}

/// What a descriptor is, by the file type of its inode (`mode`), as a `FILE` record's kind.
fn kind_of(mode: u32) -> core::result::Result<u32, Unsaved> {
    match mode & S_IFMT {
        S_IFREG => Ok(file_kind::REGULAR),
        S_IFDIR => Ok(file_kind::DIRECTORY),
        S_IFCHR => Ok(file_kind::CHARDEV),
        S_IFIFO => Err(Unsaved::Fifo),
        S_IFSOCK => Err(Unsaved::Socket),
        S_IFBLK => Err(Unsaved::BlockDevice),
        _ => Err(Unsaved::Other),
    }
}

/// `FILE` records of every descriptor; each pipe's `PIPE` record before its first `FILE`;
/// a description's `FOWN` right after its first `FILE` (`ns`: the tree's pid namespace).
pub(crate) fn checkpoint(
    task: &TaskRef,
    ns: Option<&TaskRef>,
    objs: &mut Objects,
    w: &mut ImageWriter,
) -> CkptResult {
    let mut path = path_buf()?;
    let mut pipe_buf = VVec::with_capacity(PIPE_MAX, GFP_KERNEL_ACCOUNT)?;
    let mut unix_saver = None;
    // The IPC namespace whose POSIX message queues are saved: a container's own.
    let ipc = match ns {
        Some(init) if crate::ns::own_ipc(init) => {
            Some(crate::sys::ipc::IpcNs::of(init).context(fmt!("the container's init"))?)
        }
        _ => None,
    };
    let mut from = 0;
    let mut fown = None;
    while let Some(mut o) = task
        .next_fd(from, &mut path)
        .context(fmt!("fd {from} and up"))?
    {
        // The previous descriptor's records all written: its FOWN follows its FILE.
        crate::fown::write(&mut fown, w)?;
        let fd = o.fd;
        from = fd + 1;
        o.rec.fd = fd as i32;
        o.rec.obj = objs.id(o.facts.file_id)?;
        objs.unix.held(o.facts.file_id)?;
        let saved = save_fd(
            task,
            ns,
            ipc.as_ref(),
            objs,
            w,
            &mut o,
            &path,
            &mut pipe_buf,
            &mut unix_saver,
            &mut fown,
        );
        if saved.is_err() {
            fown = None;
        }
        w.go_on(saved)?;
        if w.log.wants(crate::uapi::CKPT_LOG_DEBUG) {
            let p = show(&path[..o.rec.path_len as usize]);
            w.log.debug(fmt!(
                "task {}: fd {fd}: kind {} file {} {p}",
                w.task(),
                o.rec.kind,
                o.rec.obj
            ));
        }
    }
    crate::fown::write(&mut fown, w)
}

/// One descriptor's records (`FILE` and those of its kind), its owner in `fown`.
#[allow(clippy::too_many_arguments)]
fn save_fd(
    task: &TaskRef,
    ns: Option<&TaskRef>,
    ipc: Option<&crate::sys::ipc::IpcNs>,
    objs: &mut Objects,
    w: &mut ImageWriter,
    o: &mut OpenFd,
    path: &[u8],
    pipe_buf: &mut VVec<u8>,
    unix_saver: &mut Option<crate::unix::Saver>,
    fown: &mut Option<img::CkptFownRec>,
) -> CkptResult {
    let fd = o.fd;
    crate::locks::check_leases(task, o, &path[..o.rec.path_len as usize])?;
    check_fd(o)?;
    *fown = crate::fown::checkpoint(task, ns, &mut objs.fown, o)?;
    let name = &path[..o.rec.path_len as usize];
    if let Some(kind) = crate::anonfd::kind_of(o.facts.fs_magic, name) {
        crate::anonfd::checkpoint(task, objs, w, o, kind)?;
        return Ok(());
    }
    if crate::epoll::is_epoll(o.facts.fs_magic, name) {
        crate::epoll::checkpoint(task, objs, w, o)?;
        return Ok(());
    }
    if crate::inotify::is_inotify(o.facts.fs_magic, name) {
        crate::inotify::checkpoint(task, objs, w, o)?;
        return Ok(());
    }
    if o.facts.fs_magic == crate::sys::ipc::mq_magic() {
        crate::ipc::checkpoint_fd(task, ipc, w, o)?;
        return Ok(());
    }
    if o.rec.mode & S_IFMT == S_IFIFO && o.facts.fs_magic != u64::from(PIPEFS_MAGIC) {
        crate::fifo::checkpoint(task, objs, w, o, name, pipe_buf)?;
        return Ok(());
    }
    if o.rec.mode & S_IFMT == S_IFIFO && o.facts.pipe_id != 0 {
        let pipe = objs.id(o.facts.pipe_id)?;
        check_pipe_end(objs, o, pipe)?;
        save_pipe(objs, w, fd, o.facts.pipe_id, pipe_buf, |b| {
            task.pipe_data(fd, b)
        })?;
        // A pipe is made again by `pipe()`.
        made_again(w, o, file_kind::PIPE, pipe)?;
        return Ok(());
    }
    if o.rec.mode & S_IFMT == S_IFSOCK {
        let saver = match unix_saver {
            Some(s) => s,
            None => unix_saver.insert(crate::unix::Saver::new()?),
        };
        crate::unix::checkpoint(task, ns, objs, w, saver, o)?;
        return Ok(());
    }
    let p = &path[..o.rec.path_len as usize];
    let kind = match kind_of(o.rec.mode) {
        Ok(kind) => kind,
        Err(Unsaved::Fifo) => refuse!(
            EOPNOTSUPP,
            "fd {fd}: named pipe (FIFO) not supported yet ({})",
            show(p)
        ),
        Err(Unsaved::Socket) => refuse!(EOPNOTSUPP, "fd {fd}: socket not supported yet"),
        Err(Unsaved::BlockDevice) => refuse!(
            EOPNOTSUPP,
            "fd {fd}: block device not supported yet ({})",
            show(p)
        ),
        Err(Unsaved::Other) => refuse!(EOPNOTSUPP, "fd {fd}: {} not supported yet", show(p)),
    };
    if crate::deleted::is_deleted(o) {
        crate::deleted::checkpoint(task, objs, w, o, p)?;
        return Ok(());
    }
    if crate::deleted::is_removed_dir(o) {
        crate::deleted::checkpoint_dir(task, objs, w, o, p)?;
        return Ok(());
    }
    if crate::memfd::is_memfd(o, p) {
        crate::memfd::checkpoint(task, objs, w, o, p)?;
        return Ok(());
    }
    if o.facts.unlinked != 0 {
        // Regular files and directories are saved above: a device node.
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: {} is deleted; deleted files other than regular files and directories are not supported yet",
            show(p)
        );
    }
    if kind == file_kind::CHARDEV && crate::sys::file::is_pty_master(o.rec.rdev) {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: pseudo-terminal master ({}): not supported yet (reopened, it would be a new terminal)",
            show(p)
        );
    }
    // Anonymous inodes not saved (inotify, ...) and files outside our root.
    reopenable(fmt!("fd {fd}"), p)?;
    check_internal(fd, &o.facts, p)?;
    o.rec.kind = kind;
    w.record(rec::FILE, &[o.rec.as_bytes(), p])
}

#[kunit_tests(ckpt_files)]
mod tests {
    use super::*;

    #[test]
    fn file_types_are_classified() {
        assert_eq!(kind_of(S_IFREG | 0o644), Ok(file_kind::REGULAR));
        assert_eq!(kind_of(S_IFDIR | 0o755), Ok(file_kind::DIRECTORY));
        assert_eq!(kind_of(S_IFCHR | 0o620), Ok(file_kind::CHARDEV));
        assert_eq!(kind_of(S_IFIFO | 0o600), Err(Unsaved::Fifo));
        assert_eq!(kind_of(S_IFSOCK | 0o777), Err(Unsaved::Socket));
        assert_eq!(kind_of(S_IFBLK | 0o660), Err(Unsaved::BlockDevice));
        // An anonymous inode has no file type.
        assert_eq!(kind_of(0o600), Err(Unsaved::Other));
    }

    #[test]
    fn a_removed_directory_is_saved_o_path_too() {
        use zerocopy::FromZeros;
        let fd = |mode, flags, unlinked, internal| OpenFd {
            fd: 3,
            rec: img::CkptFileRec {
                mode,
                flags,
                ..img::CkptFileRec::new_zeroed()
            },
            facts: FdFacts {
                unlinked,
                internal,
                ..FdFacts::default()
            },
        };
        let dir = fd(S_IFDIR | 0o751, O_PATH, 1, 0);
        assert!(crate::deleted::is_removed_dir(&dir) && !crate::deleted::is_deleted(&dir));
        assert!(check_fd(&dir).is_ok());
        assert!(check_fd(&fd(S_IFDIR | 0o751, 0, 1, 0)).is_ok());
        // A directory still there, and a removed regular file, are not removed directories.
        assert!(!crate::deleted::is_removed_dir(&fd(
            S_IFDIR | 0o755,
            0,
            0,
            0
        )));
        let file = fd(S_IFREG | 0o600, O_PATH, 1, 0);
        assert!(!crate::deleted::is_removed_dir(&file) && crate::deleted::is_deleted(&file));
        // O_PATH of a deleted regular file stays refused; of a kernel-internal one too.
        assert!(check_fd(&file).is_err());
        assert!(check_fd(&fd(S_IFDIR | 0o700, O_PATH, 1, 1)).is_err());
    }
}
