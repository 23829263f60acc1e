// SPDX-License-Identifier: GPL-2.0

//! In-kernel checkpoint/restart, as an out-of-tree module.
//!
//! The module registers `/dev/checkpoint`; userspace (`ckpt`, `rstr`) drives it with the
//! ioctls of `uapi/checkpoint.rs`. See `Documentation/` for the design.
//!
//! Layout: one file per concept; raw kernel calls live only in [`sys`].

// The ABI file is shared with userspace: its items are `pub` for `ckptlib`, and the module
// does not use every one of them.
#[allow(unreachable_pub, dead_code)]
#[path = "../uapi/checkpoint.rs"]
mod uapi;

mod anonfd;
mod attrs;
mod checkpoint;
mod creds;
mod deleted;
mod device;
mod epoll;
mod error;
mod fifo;
mod files;
mod fown;
mod image;
mod inet;
mod inotify;
mod ipc;
mod limits;
mod locks;
mod log;
mod mapped;
mod memfd;
mod memory;
mod ns;
mod objects;
mod regs;
mod restart;
mod session;
mod signal;
mod sys;
mod task;
mod timers;
mod tree;
mod unix;

use kernel::{miscdevice::MiscDeviceRegistration, prelude::*};

module! {
    type: CkptModule,
    name: "ckpt",
    authors: ["The ckpt developers"],
    description: "In-kernel checkpoint/restart of processes (/dev/checkpoint)",
    license: "GPL",
}

#[pin_data]
struct CkptModule {
    #[pin]
    _device: MiscDeviceRegistration<device::CkptDevice>,
}

impl kernel::InPlaceModule for CkptModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _device <- device::register(),
        })
    }
}
