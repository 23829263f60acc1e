// SPDX-License-Identifier: GPL-2.0

//! Open files: a reference on a `struct file` and writing to it.

use core::ffi::c_void;
use core::ptr::NonNull;

use kernel::bindings;
use kernel::prelude::*;

use super::check;
use super::mm::PageBatch;

extern "C" {
    fn ckpt_helper_fget(fd: i32) -> *mut c_void;
    fn ckpt_helper_fput(file: *mut c_void);
    fn ckpt_helper_file_writable(file: *mut c_void) -> i32;
    fn ckpt_helper_write(file: *mut c_void, buf: *const u8, len: usize, pos: *mut i64) -> isize;
    fn ckpt_helper_write_pages(
        file: *mut c_void,
        pages: *const *mut c_void,
        n: u32,
        pos: *mut i64,
    ) -> isize;
    fn ckpt_helper_file_pos(file: *mut c_void) -> i64;
    fn ckpt_helper_set_file_pos(file: *mut c_void, pos: i64);
    fn ckpt_helper_file_path(file: *mut c_void, buf: *mut u8, size: u32) -> i32;
    fn ckpt_helper_file_readable(file: *mut c_void) -> i32;
    fn ckpt_helper_file_is_reg(file: *mut c_void) -> i32;
    fn ckpt_helper_open(path: *const u8, flags: i32, err: *mut i32) -> *mut c_void;
    fn ckpt_helper_read(file: *mut c_void, buf: *mut u8, len: usize, pos: *mut i64) -> isize;
    fn ckpt_helper_read_user(file: *mut c_void, uaddr: u64, len: usize, pos: *mut i64) -> isize;
    fn ckpt_helper_shm_create(size: u64, err: *mut i32) -> *mut c_void;
    fn ckpt_helper_get_file(file: *mut c_void);
    fn ckpt_helper_file_is_sysv_shm(file: *mut c_void) -> i32;
}

/// A reference on an open file.
///
/// # Invariants
///
/// `ptr` points to a `struct file` on which this value holds one reference, dropped by `Drop`.
pub(crate) struct FileRef {
    ptr: NonNull<c_void>,
}

// SAFETY: A file reference may be used and dropped from any thread.
unsafe impl Send for FileRef {}

impl FileRef {
    /// The file open at `fd` in the caller's table.
    pub(crate) fn fget(fd: i32) -> Option<FileRef> {
        // SAFETY: `fget` takes any integer and returns a new reference or NULL.
        let ptr = unsafe { ckpt_helper_fget(fd) };
        // INVARIANT: a non-NULL return carries a reference.
        NonNull::new(ptr).map(|ptr| FileRef { ptr })
    }

    /// Takes ownership of a reference the helpers returned.
    ///
    /// # Safety
    ///
    /// `ptr` must be NULL or a `struct file` on which the caller owns one reference.
    pub(crate) unsafe fn from_raw(ptr: *mut c_void) -> Option<FileRef> {
        // INVARIANT: the caller hands over its reference.
        NonNull::new(ptr).map(|ptr| FileRef { ptr })
    }

    /// Opens `path` (NUL-terminated) with the caller's credentials, as `open(2)` would.
    pub(crate) fn open(path: &CStr, flags: i32) -> Result<FileRef> {
        let mut err = 0;
        // SAFETY: `path` is NUL-terminated; `err` is writable.
        let ptr = unsafe { ckpt_helper_open(path.as_char_ptr().cast(), flags, &mut err) };
        match NonNull::new(ptr) {
            // INVARIANT: `filp_open` returned a new reference.
            Some(ptr) => Ok(FileRef { ptr }),
            None => Err(Error::from_errno(err)),
        }
    }

    /// A new shared anonymous memory object of `size` bytes, as
    /// `mmap(MAP_SHARED | MAP_ANONYMOUS)` makes one, to be mapped with [`Self`] as its file.
    pub(crate) fn shm_create(size: u64) -> Result<FileRef> {
        let mut err = 0;
        // SAFETY: `err` is writable; the helper checks the size.
        let ptr = unsafe { ckpt_helper_shm_create(size, &mut err) };
        match NonNull::new(ptr) {
            // INVARIANT: `shmem_kernel_file_setup` returned a new reference.
            Some(ptr) => Ok(FileRef { ptr }),
            None => Err(Error::from_errno(err)),
        }
    }

    /// Another reference on the same file (`get_file`).
    pub(crate) fn clone_ref(&self) -> FileRef {
        // SAFETY: `self.ptr` is a valid file; `get_file` takes a reference.
        unsafe { ckpt_helper_get_file(self.ptr.as_ptr()) };
        // INVARIANT: the reference just taken belongs to the new value.
        FileRef { ptr: self.ptr }
    }

    /// Whether the file was opened for reading.
    pub(crate) fn readable(&self) -> bool {
        // SAFETY: `self.ptr` is a valid file by the type invariant.
        unsafe { ckpt_helper_file_readable(self.ptr.as_ptr()) != 0 }
    }

    /// Whether it is a regular file.
    pub(crate) fn is_regular(&self) -> bool {
        // SAFETY: `self.ptr` is a valid file by the type invariant.
        unsafe { ckpt_helper_file_is_reg(self.ptr.as_ptr()) != 0 }
    }

    /// Whether this is a SysV shared memory segment attached with `shmat`.
    pub(crate) fn is_sysv_shm(&self) -> bool {
        // SAFETY: `self.ptr` is a valid file by the type invariant.
        unsafe { ckpt_helper_file_is_sysv_shm(self.ptr.as_ptr()) != 0 }
    }

    /// Whether the file was opened for writing.
    pub(crate) fn writable(&self) -> bool {
        // SAFETY: `self.ptr` is a valid file by the type invariant.
        unsafe { ckpt_helper_file_writable(self.ptr.as_ptr()) != 0 }
    }

    /// Its path, as `d_path` gives it, into `buf`; returns the length.
    pub(crate) fn raw(&self) -> *mut c_void {
        self.ptr.as_ptr()
    }

    pub(crate) fn path(&self, buf: &mut [u8]) -> Result<usize> {
        // SAFETY: `self.ptr` is a valid file; `buf` is writable for its length.
        let ret =
            unsafe { ckpt_helper_file_path(self.ptr.as_ptr(), buf.as_mut_ptr(), buf.len() as u32) };
        check(ret as isize)
    }
}

impl Drop for FileRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference by the type invariant.
        unsafe { ckpt_helper_fput(self.ptr.as_ptr()) }
    }
}

/// A file being written at a position of our own, as `write(2)` would.
pub(crate) struct Output {
    file: FileRef,
    pos: i64,
}

impl Output {
    /// Starts writing at the file's current position.
    pub(crate) fn new(file: FileRef) -> Output {
        // SAFETY: `file.ptr` is a valid file by the `FileRef` invariant.
        let pos = unsafe { ckpt_helper_file_pos(file.ptr.as_ptr()) };
        Output { file, pos }
    }

    /// Writes all of `buf`.
    pub(crate) fn write(&mut self, buf: &[u8]) -> Result {
        // SAFETY: the file is valid; `buf` is readable for its length; `pos` is ours.
        let ret = unsafe {
            ckpt_helper_write(
                self.file.ptr.as_ptr(),
                buf.as_ptr(),
                buf.len(),
                &mut self.pos,
            )
        };
        check(ret).map(|_| ())
    }

    /// Writes the contents of the pages of `batch` in `range`, straight from the pages.
    pub(crate) fn write_pages(
        &mut self,
        batch: &PageBatch,
        range: core::ops::Range<usize>,
    ) -> Result {
        let pages = &batch.raw()[range];
        // SAFETY: the file is valid; `pages` are pinned by `batch` while this runs.
        let ret = unsafe {
            ckpt_helper_write_pages(
                self.file.ptr.as_ptr(),
                pages.as_ptr(),
                pages.len() as u32,
                &mut self.pos,
            )
        };
        check(ret).map(|_| ())
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        // SAFETY: the file is valid; as `write(2)` does, the position advances.
        unsafe { ckpt_helper_set_file_pos(self.file.ptr.as_ptr(), self.pos) }
    }
}

/// A file being read from a given offset on, strictly in order, without moving the
/// file's own offset (tasks restoring from one shared open file each read their part).
pub(crate) struct Input {
    file: FileRef,
    pos: i64,
}

impl Input {
    /// Reads from offset `pos` on; the file's own offset is left alone.
    pub(crate) fn new_at(file: FileRef, pos: i64) -> Input {
        Input { file, pos }
    }

    /// Fills `buf`, or fails with `ENODATA` if the file ends first.
    pub(crate) fn read_exact(&mut self, buf: &mut [u8]) -> Result {
        // SAFETY: the file is valid; `buf` is writable for its length; `pos` is ours.
        let ret = unsafe {
            ckpt_helper_read(
                self.file.ptr.as_ptr(),
                buf.as_mut_ptr(),
                buf.len(),
                &mut self.pos,
            )
        };
        if check(ret)? != buf.len() {
            return Err(ENODATA);
        }
        Ok(())
    }

    /// Reads `len` bytes into the calling process's memory at `uaddr`, or fails with
    /// `ENODATA` if the file ends first (`EFAULT` if the memory is not writable).
    pub(crate) fn read_to_user(&mut self, uaddr: u64, len: usize) -> Result {
        // SAFETY: the file is valid; the destination is user memory, which the kernel's
        // copy routines check and fault in; `pos` is ours.
        let ret =
            unsafe { ckpt_helper_read_user(self.file.ptr.as_ptr(), uaddr, len, &mut self.pos) };
        if check(ret)? != len {
            return Err(ENODATA);
        }
        Ok(())
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
