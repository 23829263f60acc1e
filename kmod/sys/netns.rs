// SPDX-License-Identifier: GPL-2.0

//! The devices and addresses of a task's network namespace (`ckpt_helper_task_netns`).

use core::mem::offset_of;

use kernel::bindings;
use kernel::prelude::*;

use super::check;
use super::task::TaskRef;

/// How many devices and addresses [`NetNsFacts`] describes (`CKPT_H_NET_DEVS`,
/// `CKPT_H_NET_ADDRS`); it counts them all.
pub(crate) const NET_DEVS: usize = 4;
pub(crate) const NET_ADDRS: usize = 8;

/// One device (`struct ckpt_h_netdev`).
#[repr(C)]
#[derive(Default, Clone, Copy)]
pub(crate) struct NetDev {
    /// `dev->name`, NUL-terminated (`IFNAMSIZ`).
    pub(crate) name: [u8; bindings::IFNAMSIZ as usize],
    /// `dev->flags` (`bindings::net_device_flags_IFF_*`).
    pub(crate) flags: u32,
    __pad: u32,
}

/// One address of a device (`struct ckpt_h_netaddr`).
#[repr(C)]
#[derive(Default, Clone, Copy)]
pub(crate) struct NetAddr {
    /// `ifa_local` (the first 4 bytes) or the IPv6 address.
    pub(crate) addr: [u8; 16],
    /// Its device's place among all the namespace's devices.
    pub(crate) dev: u32,
    /// `AF_INET` or `AF_INET6`.
    pub(crate) family: u32,
    pub(crate) prefixlen: u32,
    __pad: u32,
}

/// The devices of a network namespace and their addresses (`struct ckpt_h_netns`): all
/// counted, the first [`NET_DEVS`] and [`NET_ADDRS`] described.
#[repr(C)]
#[derive(Default, Clone, Copy)]
pub(crate) struct NetNsFacts {
    pub(crate) nr_devs: u32,
    pub(crate) nr_addrs: u32,
    pub(crate) devs: [NetDev; NET_DEVS],
    pub(crate) addrs: [NetAddr; NET_ADDRS],
}

const _: () = {
    assert!(size_of::<NetDev>() == 24 && size_of::<NetAddr>() == 32);
    assert!(size_of::<NetNsFacts>() == 360 && offset_of!(NetNsFacts, addrs) == 104);
    assert!(offset_of!(NetAddr, family) == 20);
};

impl NetNsFacts {
    /// The devices described.
    pub(crate) fn devs(&self) -> &[NetDev] {
        &self.devs[..(self.nr_devs as usize).min(NET_DEVS)]
    }

    /// The addresses described.
    pub(crate) fn addrs(&self) -> &[NetAddr] {
        &self.addrs[..(self.nr_addrs as usize).min(NET_ADDRS)]
    }
}

#[allow(
    improper_ctypes,
    reason = "pointers to bindgen structs with empty members"
)]
extern "C" {
    fn ckpt_helper_task_netns(task: *mut bindings::task_struct, out: *mut NetNsFacts) -> i32;
}

impl TaskRef {
    /// The devices and addresses of its network namespace. `ESRCH` once it has exited.
    pub(crate) fn netns(&self) -> Result<NetNsFacts> {
        let mut n = NetNsFacts::default();
        // SAFETY: the task is valid by the type invariant; `n` is writable and has the
        // helper's layout (asserted on both sides).
        let ret = unsafe { ckpt_helper_task_netns(self.raw(), &mut n) };
        check(ret as isize)?;
        Ok(n)
    }
}
