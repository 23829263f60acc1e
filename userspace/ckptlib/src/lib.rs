// SPDX-License-Identifier: GPL-2.0

//! Shared library of the `ckpt` and `rstr` tools: the ABI of `/dev/checkpoint` (compiled from
//! the same `uapi/checkpoint.rs` as the kernel module) and a handle on the device.

#[path = "../../../uapi/checkpoint.rs"]
pub mod abi;

pub mod anonfd;
pub mod attrs;
pub mod check;
pub mod checkpoint;
pub mod cli;
pub mod compat;
pub mod deleted;
pub mod device;
pub mod epoll;
pub mod fown;
pub mod image;
pub mod inet;
pub mod inotify;
pub mod ipc;
pub mod layout;
pub mod locks;
pub mod logging;
pub mod netns;
pub mod phase;
pub mod procfs;
pub mod progress;
pub mod refs;
pub mod restart;
pub mod stream;
pub mod sys;
pub mod sysvipc;
pub mod terminal;
pub mod timers;
pub mod unix;
