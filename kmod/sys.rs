// SPDX-License-Identifier: GPL-2.0

//! The only layer of the module that calls C: `bindings::` and the helpers of `helpers.c`.
//!
//! Each submodule offers safe functions or RAII types; the rest of the module never
//! writes `unsafe` to reach the kernel. Where a helper fills a struct, the struct is the
//! image record of `uapi/image.rs` with the same layout (sizes are asserted on both sides).

pub(crate) mod cpu;
pub(crate) mod file;
pub(crate) mod mm;
pub(crate) mod task;
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
