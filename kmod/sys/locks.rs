// SPDX-License-Identifier: GPL-2.0

//! The locks held through an open file, as raw facts (`ckpt_helper_file_locks`): the
//! `flock`, OFD and POSIX locks of its inode whose file is this one, read under the inode's
//! `flc_lock` as `/proc/locks` reads them, and the flags of its leases. What they mean and
//! which are the tree's is decided in `crate::locks`.

use core::mem::offset_of;

use kernel::bindings;
use kernel::prelude::*;

use super::check;
use super::file::FileRef;

/// `flc_flags` bits (`include/linux/filelock.h`, each a `BIT()` that `bindgen` does not
/// evaluate); `helpers.c` asserts each against the kernel's.
pub(crate) const FL_POSIX: u32 = 1 << 0;
pub(crate) const FL_FLOCK: u32 = 1 << 1;
pub(crate) const FL_DELEG: u32 = 1 << 2;
pub(crate) const FL_LEASE: u32 = 1 << 5;
pub(crate) const FL_OFDLCK: u32 = 1 << 10;
pub(crate) const FL_LAYOUT: u32 = 1 << 11;

/// `ckpt_h_lock.owner` (`CKPT_H_LOCK_OWNER_*` of `helpers.h`): the descriptor table asked
/// about, the open file description itself (`flock`, OFD); 0 for another owner.
pub(crate) const OWNER_TABLE: u32 = 1;
pub(crate) const OWNER_FILE: u32 = 2;

/// One lock held through a file (`struct ckpt_h_lock`).
#[repr(C)]
#[derive(Default, Clone, Copy)]
pub(crate) struct HeldLock {
    /// `flc_flags`: [`FL_FLOCK`], [`FL_POSIX`], [`FL_OFDLCK`]...
    pub(crate) flags: u32,
    /// `flc_type`: `F_RDLCK` or `F_WRLCK`.
    pub(crate) lock_type: u32,
    /// Who its `flc_owner` is: [`OWNER_TABLE`], [`OWNER_FILE`] or 0 (another).
    pub(crate) owner: u32,
    /// `flc_pid`, in the initial pid namespace (not used: the image names the owner by
    /// the process it is saved with).
    pub(crate) _pid: i32,
    pub(crate) start: i64,
    /// Inclusive; `OFFSET_MAX` to the end of the file.
    pub(crate) end: i64,
}

const _: () = {
    assert!(size_of::<HeldLock>() == 32);
    assert!(offset_of!(HeldLock, start) == 16 && offset_of!(HeldLock, _pid) == 12);
};

// Only pointers to these C structs cross (see `super::task`).
#[allow(
    improper_ctypes,
    reason = "pointers to bindgen structs with empty members"
)]
extern "C" {
    fn ckpt_helper_file_locks(
        file: *mut bindings::file,
        files: u64,
        out: *mut HeldLock,
        room: u32,
        leases: *mut u32,
    ) -> core::ffi::c_int;
}

impl FileRef {
    /// The locks held through this file into `out` (at most its capacity: `E2BIG` if there
    /// are more), each with its owner: the descriptor table at address `files`, this
    /// file, or another.
    pub(crate) fn locks(&self, files: u64, out: &mut KVec<HeldLock>) -> Result {
        out.clear();
        let room = u32::try_from(out.capacity()).map_err(|_| EINVAL)?;
        let mut leases = 0;
        // SAFETY: the file is valid while `self` lives; `out` has room for `room` entries
        // of the C layout; `leases` is writable. `files` is only compared with owners.
        let ret = unsafe {
            ckpt_helper_file_locks(self.raw(), files, out.as_mut_ptr(), room, &mut leases)
        };
        let n = check(ret as isize)?;
        if n > room as usize {
            return Err(EINVAL);
        }
        // SAFETY: `out` is empty; the helper initialised its first `n <= room` entries.
        unsafe { out.inc_len(n) };
        Ok(())
    }

    /// OR of the `flc_flags` of the leases and delegations held through this file
    /// ([`FL_LEASE`], [`FL_DELEG`], [`FL_LAYOUT`]); 0 if none.
    pub(crate) fn leases(&self) -> u32 {
        let mut leases = 0;
        // SAFETY: the file is valid while `self` lives; with no room, the helper writes
        // no lock (it returns 0 or `-E2BIG`, both ignored here) and fills `leases` first.
        unsafe { ckpt_helper_file_locks(self.raw(), 0, core::ptr::null_mut(), 0, &mut leases) };
        leases
    }
}
