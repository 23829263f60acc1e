// SPDX-License-Identifier: GPL-2.0

//! Namespaces other than pid (which [`crate::tree`] checks): which a tree may have, and the
//! `UTS_NS` record of a container.
//!
//! A plain tree must share every namespace with the caller. A container (`ckpt --container`,
//! its init the root of the tree) may have a UTS, an IPC, a network and a time namespace of
//! its own, shared by every task of the tree: the names of the UTS namespace are saved; the
//! IPC namespace's SysV objects and POSIX message queues are saved by [`crate::ipc`]; the
//! network namespace is accepted only with `lo` as its one device, with no address but its
//! default ones, and whether `lo` is up is saved; the time namespace's clock offsets are
//! saved (`TIME_NS`). `rstr` creates them with `clone` flags and `unshare`, sets the names
//! and the offsets, makes the IPC objects and brings `lo` up before any task of the tree
//! runs. No task may have called `unshare(CLONE_NEWTIME)` without forking since: the time
//! namespace its children would get is not saved.

use kernel::fmt;

use crate::files::show;
use kernel::bindings;
use kernel::prelude::*;
use zerocopy::FromZeros;

use crate::error::{refuse, CkptResult, Context};
use crate::image::ImageWriter;
use crate::inet::IpAddr;
use crate::sys::netns::{NetDev, NetNsFacts};
use crate::sys::task::{NsIds, TaskRef};
use crate::tree::{Member, Tree};
use crate::uapi::image::{self as img, rec};

/// The kinds (bits, by [`NsIds::KINDS`] index) a container may have of its own.
const OWN: u32 = (1 << NsIds::UTS) | (1 << NsIds::IPC) | (1 << NsIds::NET) | (1 << NsIds::TIME);

/// The kinds where `a` and `b` differ, as bits.
fn differ(a: &NsIds, b: &NsIds) -> u32 {
    a.0.iter()
        .zip(b.0.iter())
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .fold(0, |m, (i, _)| m | (1 << i))
}

/// Kinds of namespaces, as words: "UTS, mount".
struct Kinds(u32);

impl fmt::Display for Kinds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (i, name) in NsIds::KINDS.iter().enumerate() {
            if self.0 & (1 << i) != 0 {
                f.write_str(if first { "" } else { ", " })?;
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// Why a task's namespaces cannot be saved.
#[derive(Debug, PartialEq, Eq)]
enum Refusal {
    /// These kinds differ from the caller's, and this version saves none of them here.
    Other(u32),
    /// Its namespace of this kind is neither the caller's nor the container's init's.
    Nested(usize),
}

/// What of namespaces `t` cannot be saved, the caller's being `caller` and, in a container,
/// the init's `init` (which the init itself passes as its own).
fn refusal(t: &NsIds, caller: &NsIds, init: Option<&NsIds>) -> Option<Refusal> {
    let from_caller = differ(t, caller);
    let Some(init) = init else {
        return (from_caller != 0).then_some(Refusal::Other(from_caller));
    };
    if from_caller & !OWN != 0 {
        return Some(Refusal::Other(from_caller & !OWN));
    }
    let from_init = differ(t, init) & OWN;
    (from_init != 0).then(|| Refusal::Nested(from_init.trailing_zeros() as usize))
}

/// Refuses a live task of `tree` whose namespaces cannot be saved, or, in a container,
/// whose process group or session is outside it.
pub(crate) fn check_task(tree: &Tree, m: &Member) -> CkptResult {
    let (task, pid) = (&m.task, m.entry.pid);
    // Pids outside the container read 0 in its namespace: a group or session there cannot
    // be joined from inside the new namespace the restart makes.
    if tree.container && (m.entry.pgid == 0 || m.entry.sid == 0) {
        refuse!(
            EOPNOTSUPP,
            "process {pid}: its process group or session is outside the container, which a \
             restart cannot join (start the container's init in a session of its own, setsid)"
        );
    }
    // The time namespace its children would get is the one kind a task can hold apart
    // from its own (the pid one, which is also such, is the tree's to check).
    let (_, pending) = task.timens().context(fmt!("pid {pid}"))?;
    if pending {
        refuse!(
            EOPNOTSUPP,
            "pid {pid} called unshare(CLONE_NEWTIME) and has not forked since: the time \
             namespace its children would get is not saved (a container's own one is, once \
             its init is in it)"
        );
    }
    let caller = NsIds::current();
    let init = tree.ns().map(|t| t.namespaces());
    match refusal(&task.namespaces(), &caller, init.as_ref()) {
        None => Ok(()),
        Some(Refusal::Other(kinds)) if init.is_none() && kinds & !OWN == 0 => refuse!(
            EOPNOTSUPP,
            "pid {pid} uses namespaces other than the caller's ({}): not supported yet (a \
             container, ckpt --container, may have a UTS, an IPC, a network and a time \
             namespace of its own)",
            Kinds(kinds)
        ),
        Some(Refusal::Other(kinds)) => refuse!(
            EOPNOTSUPP,
            "pid {pid} uses namespaces other than the caller's ({}): not supported yet",
            Kinds(kinds)
        ),
        Some(Refusal::Nested(kind)) => refuse!(
            EOPNOTSUPP,
            "pid {pid} is in another {} namespace than the container's init: nested {} \
             namespaces are not supported yet",
            NsIds::KINDS[kind],
            NsIds::KINDS[kind]
        ),
    }
}

const IFF_UP: u32 = bindings::net_device_flags_IFF_UP;
const IFF_LOOPBACK: u32 = bindings::net_device_flags_IFF_LOOPBACK;
const AF_INET6: u32 = bindings::AF_INET6;

/// A device's name, the bytes before its NUL.
fn dev_name(d: &NetDev) -> &[u8] {
    let len = d.name.iter().position(|&b| b == 0).unwrap_or(d.name.len());
    &d.name[..len]
}

/// Whether an address is one the kernel gives `lo` itself when it comes up, which the
/// restored namespace's `lo` gets again: `127.0.0.1/8`, `::1/128`.
fn lo_default(family: u32, addr: &[u8; 16], prefixlen: u32) -> bool {
    let mut one = [0u8; 16];
    if family == AF_INET6 {
        one[15] = 1;
        return *addr == one && prefixlen == 128;
    }
    one[..4].copy_from_slice(&[127, 0, 0, 1]);
    *addr == one && prefixlen == 8
}

/// Why a container's own network namespace cannot be saved.
#[derive(Debug, PartialEq, Eq)]
enum NetRefusal {
    /// A device other than `lo` (its place among those described).
    Device(usize),
    /// More devices than described, none of them named (never with `lo` described).
    Devices(u32),
    /// An address that is not one of `lo`'s defaults (its place among those described).
    Address(usize),
    /// `lo` is down and has a default address, which a new `lo` that is down has not.
    DownWithAddress(usize),
}

/// Whether the network namespace `n` holds only `lo` with its default addresses: then
/// whether `lo` is up.
fn net_saved(n: &NetNsFacts) -> Result<bool, NetRefusal> {
    let devs = n.devs();
    let lo = |d: &NetDev| dev_name(d) == b"lo" && d.flags & IFF_LOOPBACK != 0;
    if let Some(k) = devs.iter().position(|d| !lo(d)) {
        return Err(NetRefusal::Device(k));
    }
    // Names are unique: a second device, if any, is described and not lo.
    if n.nr_devs as usize > devs.len() {
        return Err(NetRefusal::Devices(n.nr_devs));
    }
    let up = devs.first().is_some_and(|d| d.flags & IFF_UP != 0);
    let addrs = n.addrs();
    if let Some(k) = addrs
        .iter()
        .position(|a| !lo_default(a.family, &a.addr, a.prefixlen))
    {
        return Err(NetRefusal::Address(k));
    }
    // Default addresses are two at most, both described.
    if !up && !addrs.is_empty() {
        return Err(NetRefusal::DownWithAddress(0));
    }
    Ok(up)
}

/// An address and its prefix, with its device: `10.0.0.1/24 on lo`.
struct AddrOn<'a>(&'a NetNsFacts, usize);

impl fmt::Display for AddrOn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = &self.0.addrs[self.1];
        let ip = IpAddr {
            v6: a.family == AF_INET6,
            addr: &a.addr,
        };
        fmt::Display::fmt(&ip, f)?;
        write!(f, "/{}", a.prefixlen)?;
        match self.0.devs().get(a.dev as usize) {
            Some(d) => write!(f, " on {}", show(dev_name(d))),
            None => Ok(()),
        }
    }
}

/// Refuses a container's own network namespace `n` that holds more than [`net_saved`]
/// accepts; else whether its `lo` is up.
fn net_check(n: &NetNsFacts) -> CkptResult<bool> {
    let prefix = "the container's network namespace";
    match net_saved(n) {
        Ok(up) => Ok(up),
        Err(NetRefusal::Device(k)) => refuse!(
            EOPNOTSUPP,
            "{prefix} has device {}: only a network namespace whose one device is lo is \
             saved yet (veth pairs and other devices are not supported yet)",
            show(dev_name(&n.devs[k]))
        ),
        Err(NetRefusal::Devices(nr)) => refuse!(
            EOPNOTSUPP,
            "{prefix} has {nr} devices: only a network namespace whose one device is lo is \
             saved yet"
        ),
        Err(NetRefusal::Address(k)) => refuse!(
            EOPNOTSUPP,
            "{prefix} has address {}: only lo's default addresses (127.0.0.1/8, ::1/128) \
             are saved yet",
            AddrOn(n, k)
        ),
        Err(NetRefusal::DownWithAddress(k)) => refuse!(
            EOPNOTSUPP,
            "{prefix}: lo is down but has address {}, which a restored lo that is down \
             would not have: not supported yet (bring lo up, or leave it down from the start)",
            AddrOn(n, k)
        ),
    }
}

/// Whether the container whose init is `init` has an IPC namespace of its own, whose
/// objects the image keeps ([`crate::ipc`]).
pub(crate) fn own_ipc(init: &TaskRef) -> bool {
    differ(&init.namespaces(), &NsIds::current()) & OWN & (1 << NsIds::IPC) != 0
}

/// The `UTS_NS` record of a container (nothing for a plain tree): which namespaces it has
/// of its own, the names of its UTS namespace and whether the `lo` of its network
/// namespace is up; then, with a time namespace of its own, the `TIME_NS` record of its
/// offsets. Refuses a network namespace of its own that holds more than `lo` and its
/// default addresses.
pub(crate) fn checkpoint(tree: &Tree, w: &mut ImageWriter) -> CkptResult {
    let Some(init) = tree.ns() else {
        return Ok(());
    };
    let own = differ(&init.namespaces(), &NsIds::current()) & OWN;
    let mut r = img::CkptUtsNsRec::new_zeroed();
    init.uts(&mut r).context(fmt!("the container's init"))?;
    if own & (1 << NsIds::UTS) != 0 {
        r.flags |= img::CKPT_NS_UTS;
    } else {
        r.nodename = [0; img::CKPT_UTS_LEN];
        r.domainname = [0; img::CKPT_UTS_LEN];
    }
    if own & (1 << NsIds::IPC) != 0 {
        r.flags |= img::CKPT_NS_IPC;
    }
    if own & (1 << NsIds::NET) != 0 {
        let facts = init.netns().context(fmt!("the container's init"))?;
        r.flags |= img::CKPT_NS_NET;
        if net_check(&facts)? {
            r.flags |= img::CKPT_NS_LO_UP;
        }
    }
    let time = if own & (1 << NsIds::TIME) != 0 {
        r.flags |= img::CKPT_NS_TIME;
        Some(init.timens().context(fmt!("the container's init"))?.0)
    } else {
        None
    };
    w.fixed(rec::UTS_NS, &r)?;
    match time {
        Some(t) => w.fixed(rec::TIME_NS, &t),
        None => Ok(()),
    }
}

#[kunit_tests(ckpt_ns)]
mod tests {
    use super::*;
    use kernel::str::CString;

    fn ids(base: u64) -> NsIds {
        NsIds([
            base,
            base + 1,
            base + 2,
            base + 3,
            base + 4,
            base + 5,
            base + 6,
        ])
    }

    #[test]
    fn a_plain_tree_shares_every_namespace() {
        let caller = ids(100);
        assert_eq!(refusal(&caller, &caller, None), None);
        let mut t = caller;
        t.0[NsIds::UTS] = 1;
        assert_eq!(refusal(&t, &caller, None), Some(Refusal::Other(1)));
        t.0[6] = 7;
        assert_eq!(refusal(&t, &caller, None), Some(Refusal::Other(1 | 1 << 6)));
    }

    #[test]
    fn a_container_may_own_uts_ipc_net_and_time() {
        let caller = ids(100);
        let mut init = caller;
        (init.0[NsIds::UTS], init.0[NsIds::IPC]) = (1, 2);
        assert_eq!(refusal(&init, &caller, Some(&init)), None);
        // A task in the caller's UTS namespace, another IPC one: not the init's.
        let mut t = init;
        t.0[NsIds::UTS] = caller.0[NsIds::UTS];
        assert_eq!(
            refusal(&t, &caller, Some(&init)),
            Some(Refusal::Nested(NsIds::UTS))
        );
        t = init;
        t.0[NsIds::IPC] = 9;
        assert_eq!(
            refusal(&t, &caller, Some(&init)),
            Some(Refusal::Nested(NsIds::IPC))
        );
        // A network namespace of its own too, shared by every task.
        let mut net = init;
        net.0[NsIds::NET] = 3;
        assert_eq!(refusal(&net, &caller, Some(&net)), None);
        t = net;
        t.0[NsIds::NET] = caller.0[NsIds::NET];
        assert_eq!(
            refusal(&t, &caller, Some(&net)),
            Some(Refusal::Nested(NsIds::NET))
        );
        // A time namespace of its own too; a task in the caller's is nested.
        let mut time = init;
        time.0[NsIds::TIME] = 5;
        assert_eq!(refusal(&time, &caller, Some(&time)), None);
        t = time;
        t.0[NsIds::TIME] = caller.0[NsIds::TIME];
        assert_eq!(
            refusal(&t, &caller, Some(&time)),
            Some(Refusal::Nested(NsIds::TIME))
        );
        // A mount namespace of its own stays refused, named alone.
        t = init;
        t.0[2] = 9;
        assert_eq!(
            refusal(&t, &caller, Some(&init)),
            Some(Refusal::Other(1 << 2))
        );
    }

    fn lo(flags: u32) -> NetNsFacts {
        let mut n = NetNsFacts {
            nr_devs: 1,
            ..Default::default()
        };
        n.devs[0].name[..2].copy_from_slice(b"lo");
        n.devs[0].flags = IFF_LOOPBACK | flags;
        n
    }

    fn add(n: &mut NetNsFacts, dev: u32, family: u32, addr: &[u8], prefixlen: u32) {
        let a = &mut n.addrs[n.nr_addrs as usize];
        a.addr[..addr.len()].copy_from_slice(addr);
        (a.dev, a.family, a.prefixlen) = (dev, family, prefixlen);
        n.nr_addrs += 1;
    }

    fn why(n: &NetNsFacts) -> CString {
        net_check(n).err().and_then(|e| e.reason).unwrap()
    }

    #[test]
    fn a_network_namespace_with_lo_alone_is_saved() {
        // New: lo down, no address.
        assert_eq!(net_saved(&lo(0)), Ok(false));
        let mut n = lo(IFF_UP);
        add(&mut n, 0, bindings::AF_INET, &[127, 0, 0, 1], 8);
        let mut one = [0u8; 16];
        one[15] = 1;
        add(&mut n, 0, AF_INET6, &one, 128);
        assert_eq!(net_saved(&n), Ok(true));
        // Another address on lo is named with its device.
        add(&mut n, 0, bindings::AF_INET, &[10, 9, 9, 9], 32);
        assert_eq!(net_saved(&n), Err(NetRefusal::Address(2)));
        assert_eq!(
            why(&n).to_bytes(),
            b"the container's network namespace has address 10.9.9.9/32 on lo: only lo's \
              default addresses (127.0.0.1/8, ::1/128) are saved yet"
        );
        // 127.0.0.1 with another prefix is not the default.
        let mut n = lo(IFF_UP);
        add(&mut n, 0, bindings::AF_INET, &[127, 0, 0, 1], 16);
        assert_eq!(net_saved(&n), Err(NetRefusal::Address(0)));
        // Down, with the address an earlier up left.
        let mut n = lo(0);
        add(&mut n, 0, bindings::AF_INET, &[127, 0, 0, 1], 8);
        assert_eq!(net_saved(&n), Err(NetRefusal::DownWithAddress(0)));
    }

    #[test]
    fn another_device_is_named() {
        let mut n = lo(IFF_UP);
        n.nr_devs = 2;
        n.devs[1].name[..5].copy_from_slice(b"veth0");
        assert_eq!(net_saved(&n), Err(NetRefusal::Device(1)));
        assert!(why(&n)
            .to_bytes()
            .starts_with(b"the container's network namespace has device veth0: "));
        // A device called lo that is no loopback is not lo.
        let mut n = lo(0);
        n.devs[0].flags = 0;
        assert_eq!(net_saved(&n), Err(NetRefusal::Device(0)));
    }
}
