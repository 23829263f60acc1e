// SPDX-License-Identifier: GPL-2.0

//! The only layer of the module that calls C: `bindings::` and the helpers of `helpers.c`.
//!
//! Each submodule offers safe functions or RAII types; the rest of the module never
//! writes `unsafe` to reach the kernel. Kernel objects are the kernel crate's types
//! (`ARef<Task>`, `Credential`, `PidNamespace`) or typed `bindings::` pointers, never
//! `c_void`. Where a helper fills a struct, it is the image record of `uapi/image.rs`
//! (declared for C in `uapi/linux/checkpoint_image.h`), or, for the few facts that are not
//! a record, a struct whose field offsets are asserted on both sides.

pub(crate) mod attrs;
pub(crate) mod cpu;
pub(crate) mod epoll;
pub(crate) mod file;
pub(crate) mod fown;
pub(crate) mod inet;
pub(crate) mod inotify;
pub(crate) mod ipc;
pub(crate) mod locks;
pub(crate) mod mm;
pub(crate) mod netns;
pub(crate) mod peer;
pub(crate) mod task;
pub(crate) mod timers;
pub(crate) mod uts;

use kernel::prelude::*;

/// Turns a helper's `0..` or `-errno` return into a `Result`.
fn check(ret: isize) -> Result<usize> {
    if ret < 0 {
        // `ret` is a negative errno from a kernel function, in `-4095..0`.
        Err(Error::from_errno(ret as i32))
    } else {
        Ok(ret as usize)
    }
}

/// Calls `fill(buf, room)`, a helper that writes at most `room` entries into `buf` and
/// returns how many, or `-E2BIG` when there are more; grows `v` (at least doubling it, or
/// to `want()` entries if that is more) and tries again until the entries fit. Ends: every retry
/// grows `v`, so the loop stops when the entries fit, when memory runs out, or when the
/// caller is killed (the entries can keep growing while it runs: queued signals).
fn fill_growing<T>(
    v: &mut KVec<T>,
    want: impl Fn() -> usize,
    mut fill: impl FnMut(*mut T, u32) -> core::ffi::c_int,
) -> Result {
    v.clear();
    loop {
        let cap = u32::try_from(v.capacity()).map_err(|_| E2BIG)?;
        let ret = fill(v.as_mut_ptr(), cap);
        if ret != E2BIG.to_errno() {
            let n = check(ret as isize)?;
            if n > cap as usize {
                return Err(EINVAL);
            }
            // SAFETY: `v` is empty; the helper initialised the first `n <= cap` entries of
            // its buffer.
            unsafe { v.inc_len(n) };
            return Ok(());
        }
        if task::current::fatal_signal_pending() {
            return Err(EINTR);
        }
        // `v` is empty: `reserve` counts from its length, so ask for more than it holds.
        let cap = cap as usize;
        v.reserve(want().max(cap.max(8) * 2), GFP_KERNEL_ACCOUNT)?;
    }
}
