// SPDX-License-Identifier: GPL-2.0

//! The only layer of the module that calls C: `bindings::` and the helpers of `helpers.c`.
//!
//! Each submodule offers safe functions or RAII types; the rest of the module never
//! writes `unsafe` to reach the kernel.

pub(crate) mod uts;
