// SPDX-License-Identifier: GPL-2.0

//! An epoll's interest list, as raw facts (`ckpt_helper_task_epoll_items`: its items, read
//! under the epoll's mutex as `ep_show_fdinfo` reads them), and the open files of a task's
//! descriptor table by identity (`ckpt_helper_task_next_file_id`). What they mean is decided
//! in `crate::epoll`.

use core::mem::offset_of;

use kernel::bindings;
use kernel::prelude::*;

use super::check;
use super::task::TaskRef;

/// One item of an epoll (`struct ckpt_h_epoll_item`).
#[repr(C)]
#[derive(Default, Clone, Copy)]
pub(crate) struct EpollItem {
    /// The open file description watched: identity only (as `FdFacts::file_id`).
    pub(crate) file_id: u64,
    /// The descriptor number it was added with (`EPOLL_CTL_ADD`), part of its key.
    pub(crate) tfd: i32,
    /// Its events as the kernel keeps them, and its data.
    pub(crate) events: u32,
    pub(crate) data: u64,
    /// The task's descriptor `tfd` holds that file.
    pub(crate) at_tfd: u32,
    pub(crate) __pad: u32,
}

const _: () = {
    assert!(size_of::<EpollItem>() == 32);
    assert!(offset_of!(EpollItem, data) == 16 && offset_of!(EpollItem, at_tfd) == 24);
};

// Only pointers to these C structs cross (see `super::task`).
#[allow(
    improper_ctypes,
    reason = "pointers to bindgen structs with empty members"
)]
extern "C" {
    fn ckpt_helper_task_epoll_items(
        task: *mut bindings::task_struct,
        epfd: u32,
        out: *mut EpollItem,
        max: u32,
    ) -> core::ffi::c_int;
    fn ckpt_helper_task_next_file_id(task: *mut bindings::task_struct, fd: *mut u32) -> u64;
}

impl TaskRef {
    /// The items of the epoll open at `epfd`, into `out` (grown, doubling, up to `max`
    /// items: `E2BIG` if it has more); `EINVAL` if `epfd` is no epoll.
    pub(crate) fn epoll_items(&self, epfd: u32, out: &mut KVVec<EpollItem>, max: u32) -> Result {
        let mut room = max.min(64);
        loop {
            out.clear();
            out.reserve(room as usize, GFP_KERNEL_ACCOUNT)?;
            // SAFETY: the task is valid (type invariant of `TaskRef`); `out` is empty, with
            // room for `room` entries of the C layout.
            let ret =
                unsafe { ckpt_helper_task_epoll_items(self.raw(), epfd, out.as_mut_ptr(), room) };
            if ret == E2BIG.to_errno() && room < max {
                if super::task::current::fatal_signal_pending() {
                    return Err(EINTR);
                }
                room = room.saturating_mul(2).min(max);
                continue;
            }
            let n = check(ret as isize)?;
            if n > room as usize {
                return Err(EINVAL);
            }
            // SAFETY: the helper initialised the first `n <= room` entries.
            unsafe { out.inc_len(n) };
            return Ok(());
        }
    }

    /// The first open descriptor from `fd` on, and its open file's identity (as
    /// `FdFacts::file_id`); `None` past the last.
    pub(crate) fn next_file_id(&self, fd: u32) -> Option<(u32, u64)> {
        let mut n = fd;
        // SAFETY: the task is valid; `n` is writable.
        let id = unsafe { ckpt_helper_task_next_file_id(self.raw(), &mut n) };
        (id != 0).then_some((n, id))
    }
}
