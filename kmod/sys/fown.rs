// SPDX-License-Identifier: GPL-2.0

//! The owner of an open file description (`struct fown_struct`: `F_SETOWN`, `F_SETOWN_EX`,
//! `F_SETSIG`) as raw facts (`ckpt_helper_task_fown`, read under the owner's lock as
//! `f_getown_ex` reads it). What they mean is decided in `crate::fown`.

use core::mem::offset_of;

use kernel::bindings;
use kernel::prelude::*;

use super::check;
use super::task::TaskRef;

/// What `struct ckpt_h_fown` holds.
#[repr(C)]
#[derive(Default, Clone, Copy)]
pub(crate) struct FownFacts {
    /// An owner is set (`f_owner->pid`).
    pub(crate) owned: u32,
    /// Its number in the image's pid namespace; 0 when that namespace does not see it.
    pub(crate) pid: i32,
    /// `enum pid_type` (`bindings::pid_type_PIDTYPE_*`).
    pub(crate) pid_type: u32,
    /// Real and effective uid of the process that set the owner, in the caller's user
    /// namespace.
    pub(crate) uid: u32,
    pub(crate) euid: u32,
    /// `F_SETSIG`'s signal, 0 for `SIGIO`.
    pub(crate) signum: i32,
}

const _: () = {
    assert!(size_of::<FownFacts>() == 24);
    assert!(offset_of!(FownFacts, pid_type) == 8 && offset_of!(FownFacts, signum) == 20);
};

// Only pointers to these C structs cross (see `super::task`).
#[allow(
    improper_ctypes,
    reason = "pointers to bindgen structs with empty members"
)]
extern "C" {
    fn ckpt_helper_task_fown(
        task: *mut bindings::task_struct,
        fd: u32,
        ns: *mut bindings::pid_namespace,
        out: *mut FownFacts,
    ) -> core::ffi::c_int;
}

impl TaskRef {
    /// The owner of descriptor `fd` of this stopped task, its pid numbered in `ns`'s pid
    /// namespace (the caller's if `None`).
    pub(crate) fn fown(&self, fd: u32, ns: Option<&TaskRef>) -> Result<FownFacts> {
        let mut out = FownFacts::default();
        Self::with_ns(ns, |ns| {
            // SAFETY: the task and the namespace are valid (type invariant of `TaskRef`,
            // `with_ns` holds the namespace); `out` is writable and of the C layout.
            check(unsafe { ckpt_helper_task_fown(self.raw(), fd, ns, &mut out) } as isize)
        })??;
        Ok(out)
    }
}
