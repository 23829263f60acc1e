// SPDX-License-Identifier: GPL-2.0

//! A thread's scheduling and I/O attributes and the memory-locking state of an mm: what
//! `crate::attrs` and `crate::memory` decide on (`ckpt_helper_task_sched`, read under the
//! task's `pi_lock` and `task_lock`; `mm->def_flags` under the mmap lock), and
//! `mlockall(MCL_FUTURE)` of the caller at restart.

use kernel::bindings;
use kernel::prelude::*;

use super::check;
use super::mm::MmRef;
use super::task::TaskRef;

/// Words of affinity mask read at the most: [`crate::uapi::image::CKPT_MAX_CPUS`] CPUs.
pub(crate) const MASK_WORDS: usize = crate::uapi::image::CKPT_MAX_CPUS as usize / 64;

/// `struct ckpt_h_sched` of helpers.h: the raw facts.
#[repr(C)]
#[derive(Default, Clone, Copy)]
pub(crate) struct SchedFacts {
    /// `task->policy` (`bindings::SCHED_*`).
    pub(crate) policy: u32,
    pub(crate) rt_priority: u32,
    pub(crate) reset_on_fork: u32,
    /// The io_context's own priority, 0 for none.
    pub(crate) ioprio: u32,
    /// `sched_setaffinity` was called on it or an ancestor (`user_cpus_ptr`).
    pub(crate) user_cpus: u32,
    /// Its `cpus_mask` holds every possible CPU.
    pub(crate) all_cpus: u32,
    /// A utilisation clamp of its own (`sched_setattr` with `SCHED_FLAG_UTIL_CLAMP`).
    pub(crate) uclamp: u32,
    /// `nr_cpu_ids`.
    pub(crate) nr_cpus: u32,
}

const _: () = assert!(
    core::mem::offset_of!(SchedFacts, ioprio) == 12
        && core::mem::offset_of!(SchedFacts, nr_cpus) == 28
        && size_of::<SchedFacts>() == 32
);

// Only pointers to these C structs cross (see `sys::task`).
#[allow(
    improper_ctypes,
    reason = "pointers to bindgen structs with empty members"
)]
extern "C" {
    fn ckpt_helper_task_sched(
        task: *mut bindings::task_struct,
        out: *mut SchedFacts,
        mask: *mut u64,
        words: u32,
    ) -> i32;
    fn ckpt_helper_mm_def_flags(mm: *mut bindings::mm_struct) -> u64;
    fn ckpt_helper_mm_lock_future() -> i32;
}

impl TaskRef {
    /// The task's scheduling facts; its `cpus_mask` into `mask` (CPU `n` is bit `n % 64` of
    /// word `n / 64`), whose first `nr_cpus.div_ceil(64)` words are then meaningful.
    pub(crate) fn sched(&self, mask: &mut [u64; MASK_WORDS]) -> Result<SchedFacts> {
        let mut f = SchedFacts::default();
        // SAFETY: the task is valid while `self` lives; `f` is writable; `mask` holds
        // `MASK_WORDS` words, the helper writes no more.
        let r = unsafe {
            ckpt_helper_task_sched(self.raw(), &mut f, mask.as_mut_ptr(), MASK_WORDS as u32)
        };
        check(r as isize)?;
        Ok(f)
    }
}

impl MmRef {
    /// `mm->def_flags`: `VM_*` bits every new area gets (`VM_LOCKED` after
    /// `mlockall(MCL_FUTURE)`, with `VM_LOCKONFAULT` for `MCL_ONFAULT`).
    pub(crate) fn def_flags(&self) -> u64 {
        // SAFETY: the mm is valid while `self` lives; the helper takes its mmap lock.
        unsafe { ckpt_helper_mm_def_flags(self.raw()) }
    }
}

/// The caller's side.
pub(crate) mod current {
    use super::*;

    /// The caller has `CAP_IPC_LOCK`: it may lock beyond `RLIMIT_MEMLOCK`.
    pub(crate) fn ipc_lock_capable() -> bool {
        // SAFETY: asks of the caller's own credentials.
        unsafe { bindings::capable(bindings::CAP_IPC_LOCK as i32) }
    }

    /// `mlockall(MCL_FUTURE)`: every area the caller maps from now on is locked.
    pub(crate) fn lock_future() -> Result {
        // SAFETY: no arguments; changes the caller's own mm.
        check(unsafe { ckpt_helper_mm_lock_future() } as isize).map(|_| ())
    }
}
