// SPDX-License-Identifier: GPL-2.0

//! The watches of an inotify instance, as raw facts (`ckpt_helper_task_inotify`): each
//! watch's descriptor, mask, inode and the inode's path from the root of its filesystem,
//! read as inotify's own `show_fdinfo` reads them. What they mean is decided in
//! `crate::inotify`.

use core::mem::offset_of;

use kernel::bindings;
use kernel::prelude::*;
use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::check;
use super::task::TaskRef;

/// One watch (`struct ckpt_h_inotify_watch`), followed in the buffer by `path_len` bytes
/// of path padded to 8.
#[repr(C)]
#[derive(
    Default, Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub(crate) struct InotifyWatch {
    pub(crate) wd: i32,
    /// The mask inotify reports for it (`IN_*`, `IN_ONESHOT`, `IN_EXCL_UNLINK`).
    pub(crate) mask: u32,
    pub(crate) ino: u64,
    /// Its filesystem's device, as `st_dev` encodes it.
    pub(crate) dev: u32,
    /// 0 if it has no path.
    pub(crate) path_len: u32,
    /// The inode has no dentry, or an unlinked one.
    pub(crate) unlinked: u32,
    pub(crate) __pad: u32,
}

const _: () = {
    assert!(size_of::<InotifyWatch>() == 32);
    assert!(offset_of!(InotifyWatch, dev) == 16 && offset_of!(InotifyWatch, unlinked) == 24);
};

// Only pointers to these C structs cross (see `super::task`).
#[allow(
    improper_ctypes,
    reason = "pointers to bindgen structs with empty members"
)]
extern "C" {
    fn ckpt_helper_task_inotify(
        task: *mut bindings::task_struct,
        fd: u32,
        buf: *mut u8,
        size: u32,
        count: *mut u32,
    ) -> core::ffi::c_int;
}

impl TaskRef {
    /// The watches of the inotify open at `fd`, into `buf`: the bytes used and how many
    /// watches they hold. `EINVAL` if `fd` is no inotify, `E2BIG` if they do not fit.
    pub(crate) fn inotify_watches<'a>(
        &self,
        fd: u32,
        buf: &'a mut [u8],
    ) -> Result<(&'a [u8], u32)> {
        let size = u32::try_from(buf.len()).map_err(|_| EINVAL)?;
        let mut count = 0;
        // SAFETY: the task is valid (type invariant of `TaskRef`); `buf` has room for
        // `size` bytes and `count` is writable.
        let ret =
            unsafe { ckpt_helper_task_inotify(self.raw(), fd, buf.as_mut_ptr(), size, &mut count) };
        let n = check(ret as isize)?;
        Ok((buf.get(..n).ok_or(EINVAL)?, count))
    }
}
