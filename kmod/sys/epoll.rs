// SPDX-License-Identifier: GPL-2.0

//! The target of an epoll item, as raw facts (`ckpt_helper_task_epoll_target`): the file
//! open at the descriptor number the item was added with, and whether that file has an item
//! of this epoll with that number (its `f_ep` list, under its `f_lock`). What they mean is
//! decided in `crate::epoll`; the interest list itself is read from the epoll's
//! `show_fdinfo` (`TaskRef::fdinfo`).

use core::mem::offset_of;

use kernel::bindings;
use kernel::prelude::*;

use super::check;
use super::task::TaskRef;

/// What descriptor `tfd` of a task holds for an item of its epoll (`struct
/// ckpt_h_epoll_target`).
#[repr(C)]
#[derive(Default, Clone, Copy)]
pub(crate) struct EpollTarget {
    /// The open file description's address: identity only (as `FdFacts::file_id`).
    pub(crate) file_id: u64,
    /// Its inode's number and its filesystem's device, as `show_fdinfo` prints them.
    pub(crate) ino: u64,
    pub(crate) sdev: u32,
    /// The descriptor is open (else the other fields are 0).
    pub(crate) open: u32,
    /// The file has an item of this epoll added with this descriptor number.
    pub(crate) watched: u32,
    pub(crate) __pad: u32,
}

const _: () = {
    assert!(size_of::<EpollTarget>() == 32);
    assert!(offset_of!(EpollTarget, sdev) == 16 && offset_of!(EpollTarget, watched) == 24);
};

// Only pointers to these C structs cross (see `super::task`).
#[allow(
    improper_ctypes,
    reason = "pointers to bindgen structs with empty members"
)]
extern "C" {
    fn ckpt_helper_task_epoll_target(
        task: *mut bindings::task_struct,
        epfd: u32,
        tfd: u32,
        out: *mut EpollTarget,
    ) -> core::ffi::c_int;
}

impl TaskRef {
    /// What descriptor `tfd` of this task holds, for an item of the epoll open at `epfd`;
    /// `EINVAL` if `epfd` is no epoll.
    pub(crate) fn epoll_target(&self, epfd: u32, tfd: u32) -> Result<EpollTarget> {
        let mut out = EpollTarget::default();
        // SAFETY: the task is valid (type invariant of `TaskRef`); `out` is writable and of
        // the C layout.
        let ret = unsafe { ckpt_helper_task_epoll_target(self.raw(), epfd, tfd, &mut out) };
        check(ret as isize)?;
        Ok(out)
    }
}
