// SPDX-License-Identifier: GPL-2.0

//! Open files: a reference on a `struct file` (the kernel crate's [`File`]), and reading and
//! writing it at a position of our own.
//!
//! The retry loops of short reads and writes are here, each over one call of an exported
//! function (`kernel_read`, `kernel_write`, `vfs_iter_read`, `vfs_iter_write`).

use core::mem::MaybeUninit;
use core::ptr::NonNull;

use kernel::alloc::VVec;
use kernel::bindings;
use kernel::fs::{File, LocalFile};
use kernel::prelude::*;
use kernel::sync::aref::ARef;
use kernel::uaccess::{UserPtr, UserSlice};

use super::check;
use super::mm::PageBatch;

/// `FMODE_*` bits of `file.f_mode`: `bindgen` drops them from `bindings` (each is a
/// `(__force fmode_t)` cast, not a plain constant). From `include/linux/fs.h`.
const FMODE_READ: u32 = 1 << 0;
const FMODE_WRITE: u32 = 1 << 1;
const FMODE_STREAM: u32 = 1 << 21;
const FMODE_BACKING: u32 = 1 << 24;

// bindgen gives some kernel structs zero-sized opaque members (`its_array`, ...), which the
// lint cannot tell from a struct without fields; only pointers to them cross here.
#[expect(improper_ctypes, reason = "pointers to bindgen's kernel structs")]
extern "C" {
    fn ckpt_helper_shm_create(size: u64) -> *mut bindings::file;
    fn ckpt_helper_copy_pages(pages: *const *mut bindings::page, n: u32, buf: *mut u8);
    fn ckpt_helper_file_is_sysv_shm(file: *mut bindings::file) -> i32;
    fn ckpt_helper_file_noexec(file: *mut bindings::file) -> i32;
    fn ckpt_helper_file_may_exec(file: *mut bindings::file) -> i32;
    fn ckpt_helper_file_inode(file: *mut bindings::file, out: *mut InodeFacts);
    fn ckpt_helper_file_parent_unlinked(file: *mut bindings::file) -> i32;
    fn ckpt_helper_file_shmem_seals(file: *mut bindings::file, seals: *mut u32) -> i32;
    fn ckpt_helper_file_facts(
        file: *mut bindings::file,
        rec: *mut crate::uapi::image::CkptFileRec,
        out: *mut super::task::FdFacts,
        path: *mut u8,
        path_size: u32,
    ) -> i32;
    fn ckpt_helper_file_pipe_data(
        file: *mut bindings::file,
        buf: *mut u8,
        size: u32,
        capacity: *mut u32,
    ) -> i32;
    fn ckpt_helper_file_unix_sock(file: *mut bindings::file) -> u64;
}

/// An open file's inode, as `ckpt_helper_file_inode` reads it (`struct ckpt_h_inode`).
#[repr(C)]
#[derive(Default)]
pub(crate) struct InodeFacts {
    /// The inode's address: its identity while the file is open.
    pub(crate) id: u64,
    pub(crate) size: i64,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    pub(crate) nlink: u32,
    pub(crate) mode: u32,
}
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(offset_of!(InodeFacts, size) == 8 && offset_of!(InodeFacts, mode) == 28);
    assert!(size_of::<InodeFacts>() == 32);
};

/// A reference on an open file.
///
/// # Invariants
///
/// The `ARef` holds one reference on the file; the file is not in an `fdget_pos` region of
/// the thread that made this value (see [`LocalFile::assume_no_fdget_pos`]): the module
/// never opens one.
pub(crate) struct FileRef(ARef<File>);

impl FileRef {
    /// The file open at `fd` in the caller's table.
    pub(crate) fn fget(fd: i32) -> Option<FileRef> {
        let f = LocalFile::fget(u32::try_from(fd).ok()?).ok()?;
        // SAFETY: this runs in an ioctl, which holds no `fdget_pos` region (only calls that
        // use the file position, as read and write, do), so no such region of this thread
        // covers the file.
        Some(FileRef(unsafe { LocalFile::assume_no_fdget_pos(f) }))
    }

    /// Takes ownership of a reference the helpers returned.
    ///
    /// # Safety
    ///
    /// `ptr` must be NULL or a `struct file` on which the caller owns one reference, outside
    /// any `fdget_pos` region of the current thread.
    pub(crate) unsafe fn from_raw(ptr: *mut bindings::file) -> Option<FileRef> {
        // SAFETY: the caller hands over its reference; `File` is `repr(transparent)` over
        // `struct file`.
        NonNull::new(ptr).map(|p| FileRef(unsafe { ARef::from_raw(p.cast()) }))
    }

    /// Takes the reference of a `struct file *` or `ERR_PTR` that a function returned.
    ///
    /// # Safety
    ///
    /// `ptr` must be an `ERR_PTR` or a new reference, as from `filp_open`.
    unsafe fn from_err_ptr(ptr: *mut bindings::file) -> Result<FileRef> {
        let ptr = kernel::error::from_err_ptr(ptr)?;
        // SAFETY: not an error, so a new reference (by the caller's guarantee), on a file no
        // descriptor of ours refers to yet.
        unsafe { FileRef::from_raw(ptr) }.ok_or(ENOMEM)
    }

    /// Opens `path` with the caller's credentials, as `open(2)` would.
    pub(crate) fn open(path: &CStr, flags: u32) -> Result<FileRef> {
        // SAFETY: `path` is NUL-terminated; `filp_open` returns a new reference or an ERR_PTR.
        unsafe { FileRef::from_err_ptr(bindings::filp_open(path.as_char_ptr(), flags as i32, 0)) }
    }

    /// A new shared anonymous memory object of `size` bytes, as
    /// `mmap(MAP_SHARED | MAP_ANONYMOUS)` makes one, to be mapped with [`Self`] as its file.
    pub(crate) fn shm_create(size: u64) -> Result<FileRef> {
        // SAFETY: the helper checks the size; it returns a new reference or an ERR_PTR.
        unsafe { FileRef::from_err_ptr(ckpt_helper_shm_create(size)) }
    }

    /// What a descriptor of it would show (`fd` 0, not close-on-exec): its `FILE` record's
    /// kernel fields and its facts, its path into `path`.
    pub(crate) fn open_fd(&self, path: &mut [u8]) -> Result<super::task::OpenFd> {
        let mut o = super::task::OpenFd {
            fd: 0,
            rec: zerocopy::FromZeros::new_zeroed(),
            facts: super::task::FdFacts::default(),
        };
        let size = u32::try_from(path.len()).map_err(|_| EINVAL)?;
        // SAFETY: the file is valid while `self` holds its reference; the out-pointers are
        // writable, `path` for `size` bytes.
        let ret = unsafe {
            ckpt_helper_file_facts(
                self.raw(),
                &mut o.rec,
                &mut o.facts,
                path.as_mut_ptr(),
                size,
            )
        };
        check(ret as isize)?;
        if o.rec.path_len >= size {
            return Err(EINVAL);
        }
        Ok(o)
    }

    /// What is buffered in this pipe, into `buf` (whose capacity is the most taken: `E2BIG`
    /// beyond); returns the pipe's capacity in bytes. `EINVAL` if it is no pipe.
    pub(crate) fn pipe_data(&self, buf: &mut VVec<u8>) -> Result<u32> {
        let mut capacity = 0;
        buf.clear();
        let room = u32::try_from(buf.capacity()).map_err(|_| EINVAL)?;
        // SAFETY: the file is valid while referenced; `buf` has room for `room` bytes.
        let ret = unsafe {
            ckpt_helper_file_pipe_data(self.raw(), buf.as_mut_ptr(), room, &mut capacity)
        };
        let n = check(ret as isize)?;
        if n > room as usize {
            return Err(EINVAL);
        }
        // SAFETY: the helper initialised `n <= room` bytes.
        unsafe { buf.inc_len(n) };
        Ok(capacity)
    }

    /// The `struct sock` of this unix socket (identity only), 0 if it is no unix socket.
    pub(crate) fn unix_sock(&self) -> u64 {
        // SAFETY: the file is valid while referenced.
        unsafe { ckpt_helper_file_unix_sock(self.raw()) }
    }

    /// Another reference on the same file (`get_file`).
    pub(crate) fn clone_ref(&self) -> FileRef {
        FileRef(self.0.clone())
    }

    /// The `struct file`, valid while `self` lives.
    pub(crate) fn raw(&self) -> *mut bindings::file {
        self.0.as_ptr()
    }

    fn mode(&self) -> u32 {
        // SAFETY: the file is valid while `self` holds its reference; the access bits of
        // `f_mode` are set at open and not changed afterwards.
        unsafe { (*self.raw()).f_mode }
    }

    /// Whether the file was opened for reading.
    pub(crate) fn readable(&self) -> bool {
        self.mode() & FMODE_READ != 0
    }

    /// Whether the file was opened for writing.
    pub(crate) fn writable(&self) -> bool {
        self.mode() & FMODE_WRITE != 0
    }

    /// Whether it is a regular file.
    pub(crate) fn is_regular(&self) -> bool {
        // SAFETY: an open file has an inode (`f_inode`) for its lifetime, and `i_mode`'s type
        // bits never change.
        let mode = unsafe { (*(*self.raw()).f_inode).i_mode };
        u32::from(mode) & bindings::S_IFMT == bindings::S_IFREG
    }

    /// Whether its mount or filesystem forbids executing it (`path_noexec`): `mmap` refuses
    /// `PROT_EXEC` of it.
    pub(crate) fn noexec(&self) -> bool {
        // SAFETY: the file is valid while `self` lives; its path (mount and superblock) too.
        unsafe { ckpt_helper_file_noexec(self.raw()) != 0 }
    }

    /// Whether the caller may execute it (`file_permission(MAY_EXEC)`, with the mount's
    /// idmap): an execute bit it is granted, and no LSM objects. `Err` with the errno
    /// (`EACCES`) if not.
    pub(crate) fn may_exec(&self) -> Result {
        // SAFETY: the file is valid while `self` lives; the helper only reads it and the
        // caller's credentials.
        check(unsafe { ckpt_helper_file_may_exec(self.raw()) } as isize).map(|_| ())
    }

    /// Whether this is a SysV shared memory segment attached with `shmat`.
    pub(crate) fn is_sysv_shm(&self) -> bool {
        // SAFETY: the file is valid while `self` lives.
        unsafe { ckpt_helper_file_is_sysv_shm(self.raw()) != 0 }
    }

    /// The path the user opened or mapped it by, as `file_user_path()` (inline) gives it:
    /// for a file of a stacking filesystem (overlayfs maps its lower or upper file into a
    /// process, `FMODE_BACKING`), the overlay's path, which the restart can open, not the
    /// backing file's, which is on a layer the process never saw.
    fn user_path(&self) -> *const bindings::path {
        if self.mode() & FMODE_BACKING != 0 {
            // SAFETY: the file is valid while `self` lives and is a backing file: its user
            // path is set when it is opened and lives as long as it does.
            unsafe { bindings::backing_file_user_path(self.raw()) }
        } else {
            // SAFETY: the file is valid while `self` lives; `f_path` is set at open.
            unsafe { &raw const (*self.raw()).__bindgen_anon_1.f_path }
        }
    }

    /// Its path, as `d_path` gives it for the [user path](Self::user_path), into the start
    /// of `buf`; returns its length (the NUL after it is in `buf` too).
    pub(crate) fn path(&self, buf: &mut [u8]) -> Result<usize> {
        let size = i32::try_from(buf.len()).map_err(|_| EINVAL)?;
        // SAFETY: the path is stable while the file lives; `d_path` writes at most `size`
        // bytes into `buf` and returns a pointer into it or an ERR_PTR.
        let s = kernel::error::from_err_ptr(unsafe {
            bindings::d_path(self.user_path(), buf.as_mut_ptr().cast(), size)
        })?;
        // `d_path` writes the NUL-terminated path at the end of `buf`: `s` points into it.
        let start = (s as usize)
            .checked_sub(buf.as_ptr() as usize)
            .ok_or(EINVAL)?;
        let tail = buf.get(start..).ok_or(EINVAL)?;
        let len = tail.iter().position(|&b| b == 0).ok_or(ENAMETOOLONG)?;
        buf.copy_within(start..start + len + 1, 0);
        Ok(len)
    }

    /// Its inode's identity, size, owner and link count.
    pub(crate) fn inode(&self) -> InodeFacts {
        let mut out = InodeFacts::default();
        // SAFETY: the file is valid while `self` lives; `out` is writable.
        unsafe { ckpt_helper_file_inode(self.raw(), &mut out) };
        out
    }

    /// Whether the directory the file's dentry was in was removed (for a removed
    /// directory: whether there is still a place to make it again).
    pub(crate) fn parent_removed(&self) -> bool {
        // SAFETY: the file is valid while `self` lives; the helper takes its own reference
        // on the parent.
        unsafe { ckpt_helper_file_parent_unlinked(self.raw()) != 0 }
    }

    /// The seals of a shmem file (a memfd), as `F_GET_SEALS`; `EINVAL` for another file.
    pub(crate) fn shmem_seals(&self) -> Result<u32> {
        let mut seals = 0;
        // SAFETY: the file is valid while `self` lives; `seals` is writable.
        check(unsafe { ckpt_helper_file_shmem_seals(self.raw(), &mut seals) } as isize)?;
        Ok(seals)
    }

    /// `vfs_llseek(SEEK_DATA or SEEK_HOLE)` from `from`: where the next data (or hole)
    /// starts; `ENXIO` past the end. The file's own offset is put back as it was.
    pub(crate) fn seek_data(&self, from: i64, hole: bool) -> Result<i64> {
        let whence = if hole {
            bindings::SEEK_HOLE
        } else {
            bindings::SEEK_DATA
        };
        let was = self.pos();
        // SAFETY: the file is valid while `self` lives; `vfs_llseek` takes no lock of ours.
        let at = unsafe { bindings::vfs_llseek(self.raw(), from, whence as i32) };
        self.set_pos(was);
        check(at as isize).map(|n| n as i64)
    }

    /// The magic number of the file system the file is on (`s_magic`).
    pub(crate) fn fs_magic(&self) -> u64 {
        // SAFETY: the file is valid while `self` lives, and with it its inode and the
        // inode's super block; `s_magic` does not change once the super block is set up.
        unsafe { (*(*(*self.raw()).f_inode).i_sb).s_magic as u64 }
    }

    fn pos(&self) -> i64 {
        // SAFETY: the file is valid while `self` lives; as `write(2)` on a file shared by
        // threads, the position is read without `f_pos_lock`.
        unsafe { (*self.raw()).f_pos }
    }

    fn set_pos(&self, pos: i64) {
        if self.mode() & FMODE_STREAM != 0 {
            // A stream has no position (`FMODE_STREAM`): leave `f_pos` alone.
            return;
        }
        // SAFETY: the file is valid while `self` lives; as `write(2)` does, the new position
        // is stored without `f_pos_lock` (the module does not share it with another writer).
        unsafe { (*self.raw()).f_pos = pos };
    }
}

/// The count of a transfer call (`ssize_t`): bytes moved, or `EIO` for none at all.
fn progress(ret: isize) -> Result<usize> {
    match check(ret)? {
        0 => Err(EIO),
        n => Ok(n),
    }
}

/// A file being written at a position of our own, as `write(2)` would.
pub(crate) struct Output {
    file: FileRef,
    pos: i64,
    /// Where the pages of [`Output::write_pages`] are copied first on a file system that
    /// takes a page array a page per request ([`Output::for_image`]); empty on the others.
    bounce: KVVec<u8>,
}

/// Bytes [`Output::write_pages`] copies into its bounce buffer at a time.
const BOUNCE_SIZE: usize = 1 << 20;

impl Output {
    /// Starts writing at the file's current position.
    pub(crate) fn new(file: FileRef) -> Output {
        let pos = file.pos();
        Output {
            file,
            pos,
            bounce: KVVec::new(),
        }
    }

    /// As [`Output::new`], for an image, whose pages [`Output::write_pages`] writes. On 9p
    /// (the root of a virtme-ng guest), whose virtio transport sends a `bio_vec` array one
    /// page per request but a kernel buffer a whole message at a time, they go through a
    /// bounce buffer: 256 MiB of pages went out in 19 s as pages, in 1.0-1.2 s as 1 MiB buffers.
    pub(crate) fn for_image(file: FileRef) -> Result<Output> {
        let mut out = Output::new(file);
        if out.file.fs_magic() == u64::from(bindings::V9FS_MAGIC) {
            out.bounce = KVVec::from_elem(0u8, BOUNCE_SIZE, GFP_KERNEL_ACCOUNT)?;
        }
        Ok(out)
    }

    /// Writes all of `buf`, calling `kernel_write` again after each short write.
    pub(crate) fn write(&mut self, buf: &[u8]) -> Result {
        let mut done = 0;
        // Ends: every round writes at least one byte or returns.
        while done < buf.len() {
            let rest = &buf[done..];
            // SAFETY: the file is valid; `rest` is readable for its length; `pos` is ours.
            let ret = unsafe {
                bindings::kernel_write(
                    self.file.raw(),
                    rest.as_ptr().cast(),
                    rest.len(),
                    &mut self.pos,
                )
            };
            done += progress(ret)?;
        }
        Ok(())
    }

    /// Writes the contents of the pages of `batch` in `range`, straight from the pages
    /// (`vfs_iter_write` of a `bio_vec` array), calling it again after each short write.
    pub(crate) fn write_pages(
        &mut self,
        batch: &PageBatch,
        range: core::ops::Range<usize>,
    ) -> Result {
        let pages = &batch.raw()[range];
        if !self.bounce.is_empty() {
            let per = self.bounce.len() / bindings::PAGE_SIZE;
            for chunk in pages.chunks(per) {
                let len = chunk.len() * bindings::PAGE_SIZE;
                // SAFETY: `chunk` holds pages pinned by `batch` while this runs; the bounce
                // buffer has room for `per >= chunk.len()` pages.
                unsafe {
                    ckpt_helper_copy_pages(
                        chunk.as_ptr(),
                        chunk.len() as u32,
                        self.bounce.as_mut_ptr(),
                    )
                };
                let bounce = core::mem::take(&mut self.bounce);
                let r = self.write(&bounce[..len]);
                self.bounce = bounce;
                r?;
            }
            return Ok(());
        }
        let mut bv = KVec::with_capacity(pages.len(), GFP_KERNEL_ACCOUNT)?;
        for &page in pages {
            // What the static inline `bvec_set_page` does.
            bv.push(
                bindings::bio_vec {
                    bv_page: page,
                    bv_len: bindings::PAGE_SIZE as u32,
                    bv_offset: 0,
                },
                GFP_KERNEL_ACCOUNT,
            )?;
        }
        let total = pages.len() * bindings::PAGE_SIZE;
        let mut done = 0;
        // Progress is counted here, not read back from the iterator: not every filesystem
        // advances the caller's iterator (9p does not). Ends: every round writes at least
        // one byte or returns.
        while done < total {
            let mut iter = MaybeUninit::<bindings::iov_iter>::uninit();
            // SAFETY: `iov_iter_bvec` initialises all of `iter` to cover `bv`, which holds
            // `bv.len()` entries of pages pinned by `batch` while this runs; advancing by
            // `done < total` stays inside it.
            let ret = unsafe {
                bindings::iov_iter_bvec(
                    iter.as_mut_ptr(),
                    bindings::ITER_SOURCE,
                    bv.as_ptr(),
                    bv.len(),
                    total,
                );
                bindings::iov_iter_advance(iter.as_mut_ptr(), done);
                bindings::vfs_iter_write(self.file.raw(), iter.as_mut_ptr(), &mut self.pos, 0)
            };
            done += progress(ret)?;
        }
        Ok(())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        // As `write(2)` does, the file's position advances past what was written.
        self.file.set_pos(self.pos);
    }
}

/// A file being read from a given offset on, strictly in order, without moving the
/// file's own offset (tasks restoring from one shared open file each read their part).
pub(crate) struct Input {
    file: FileRef,
    pos: i64,
    /// Where [`Input::read_to_user`] reads first on 9p ([`Output::for_image`] says why),
    /// made on its first use there.
    bounce: KVVec<u8>,
}

impl Input {
    /// Reads from offset `pos` on; the file's own offset is left alone.
    pub(crate) fn new_at(file: FileRef, pos: i64) -> Input {
        Input {
            file,
            pos,
            bounce: KVVec::new(),
        }
    }

    /// Calls `read_once(done)` (one read at offset `done` of the transfer, returning the
    /// bytes read or `-errno`) until `len` bytes are read; `ENODATA` if the file ends first.
    fn read_all(len: usize, mut read_once: impl FnMut(usize) -> isize) -> Result {
        let mut done = 0;
        // Ends: every round reads at least one byte or returns.
        while done < len {
            match check(read_once(done))? {
                0 => return Err(ENODATA),
                n => done += n,
            }
        }
        Ok(())
    }

    /// The offset of what is read next.
    pub(crate) fn pos(&self) -> u64 {
        self.pos as u64
    }

    /// A reader of the same file from `pos` on.
    pub(crate) fn at(&self, pos: i64) -> Input {
        Input::new_at(self.file.clone_ref(), pos)
    }

    /// Moves on `len` bytes (at most a payload's length: no overflow).
    pub(crate) fn skip(&mut self, len: usize) {
        self.pos = self.pos.saturating_add(len as i64);
    }

    /// Fills `buf`, or fails with `ENODATA` if the file ends first.
    pub(crate) fn read_exact(&mut self, buf: &mut [u8]) -> Result {
        let (file, pos) = (self.file.raw(), &mut self.pos);
        Self::read_all(buf.len(), |done| {
            let rest = &mut buf[done..];
            // SAFETY: the file is valid; `rest` is writable for its length; `pos` is ours.
            unsafe { bindings::kernel_read(file, rest.as_mut_ptr().cast(), rest.len(), pos) }
        })
    }

    /// Reads `len` bytes into the calling process's memory at `uaddr`, or fails with
    /// `ENODATA` if the file ends first (`EFAULT` if the memory is not writable).
    pub(crate) fn read_to_user(&mut self, uaddr: u64, len: usize) -> Result {
        let uaddr = usize::try_from(uaddr).map_err(|_| EFAULT)?;
        if self.file.fs_magic() == u64::from(bindings::V9FS_MAGIC) {
            return self.read_to_user_bounced(uaddr, len);
        }
        let (file, pos) = (self.file.raw(), &mut self.pos);
        Self::read_all(len, |done| {
            let mut iter = MaybeUninit::<bindings::iov_iter>::uninit();
            let ptr = UserPtr::from_addr(uaddr.wrapping_add(done)).as_mut_ptr();
            // SAFETY: `import_ubuf` checks the user range (`access_ok`) and initialises
            // `iter` when it succeeds; the kernel's copy routines fault the memory in.
            let ret = unsafe {
                bindings::import_ubuf(
                    bindings::ITER_DEST as i32,
                    ptr,
                    len - done,
                    iter.as_mut_ptr(),
                )
            };
            if ret < 0 {
                return ret as isize;
            }
            // SAFETY: the file is valid; `iter` was just initialised; `pos` is ours.
            unsafe { bindings::vfs_iter_read(file, iter.as_mut_ptr(), pos, 0) }
        })
    }

    /// [`Input::read_to_user`] through a kernel buffer of at most [`BOUNCE_SIZE`] bytes: 9p
    /// reads a kernel buffer a whole message at a time: a 256 MiB restart took 2.0-2.4 s so,
    /// 19-20 s reading into the process's memory.
    fn read_to_user_bounced(&mut self, uaddr: usize, len: usize) -> Result {
        let size = len.min(BOUNCE_SIZE);
        if self.bounce.len() < size {
            self.bounce = KVVec::from_elem(0u8, size, GFP_KERNEL_ACCOUNT)?;
        }
        let mut bounce = core::mem::take(&mut self.bounce);
        let mut user = UserSlice::new(UserPtr::from_addr(uaddr), len).writer();
        let mut done = 0;
        // Ends: every round moves `n > 0` bytes on, or returns.
        let r = loop {
            if done == len {
                break Ok(());
            }
            let n = (len - done).min(bounce.len());
            if let Err(e) = self.read_exact(&mut bounce[..n]) {
                break Err(e);
            }
            if let Err(e) = user.write_slice(&bounce[..n]) {
                break Err(e);
            }
            done += n;
        };
        self.bounce = bounce;
        r
    }
}

/// A character device number, as `new_encode_dev` encodes it, of a pseudo-terminal
/// master: `/dev/ptmx` (and `/dev/pts/ptmx`), which every open of a new pty goes through.
pub(crate) fn is_pty_master(rdev: u32) -> bool {
    let major = (rdev & 0xfff00) >> 8;
    let minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
    (major == bindings::TTYAUX_MAJOR && minor == 2)
        || (bindings::UNIX98_PTY_MASTER_MAJOR..bindings::UNIX98_PTY_MASTER_MAJOR + 8)
            .contains(&major)
}
