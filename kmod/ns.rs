// SPDX-License-Identifier: GPL-2.0

//! Namespaces other than pid (which [`crate::tree`] checks): which a tree may have, and the
//! `UTS_NS` record of a container.
//!
//! A plain tree must share every namespace with the caller. A container (`ckpt --container`,
//! its init the root of the tree) may have a UTS and an IPC namespace of its own, shared by
//! every task of the tree: the names of the UTS namespace are saved; the IPC namespace is
//! accepted only empty (no SysV shared memory, message queue or semaphore set, no POSIX
//! message queue), since the module cannot reach what `ipc/` keeps. `rstr` creates both
//! with `clone` flags and sets the names before any task of the tree runs.

use kernel::fmt;

use kernel::prelude::*;
use zerocopy::FromZeros;

use crate::error::{refuse, CkptResult, Context};
use crate::image::ImageWriter;
use crate::sys::task::{IpcCounts, NsIds};
use crate::tree::{Member, Tree};
use crate::uapi::image::{self as img, rec};

/// The kinds (bits, by [`NsIds::KINDS`] index) a container may have of its own.
const OWN: u32 = (1 << NsIds::UTS) | (1 << NsIds::IPC);

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
    let caller = NsIds::current();
    let init = tree.ns().map(|t| t.namespaces());
    match refusal(&task.namespaces(), &caller, init.as_ref()) {
        None => Ok(()),
        Some(Refusal::Other(kinds)) if init.is_none() && kinds & !OWN == 0 => refuse!(
            EOPNOTSUPP,
            "pid {pid} uses namespaces other than the caller's ({}): not supported yet (a \
             container, ckpt --container, may have a UTS and an IPC namespace of its own)",
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

/// What an IPC namespace holds, as words ("1 SysV shared memory segment, 2 SysV message
/// queues"); empty if nothing.
struct Held(IpcCounts);

impl Held {
    fn is_empty(&self) -> bool {
        let c = &self.0;
        c.shm == 0 && c.msg == 0 && c.sem == 0 && c.mqueues == 0
    }
}

impl fmt::Display for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.0;
        let kinds = [
            (c.shm, "SysV shared memory segment"),
            (c.msg, "SysV message queue"),
            (c.sem, "SysV semaphore set"),
            (c.mqueues, "POSIX message queue"),
        ];
        let mut first = true;
        for (n, what) in kinds.into_iter().filter(|(n, _)| *n != 0) {
            let s = if n == 1 { "" } else { "s" };
            write!(f, "{}{n} {what}{s}", if first { "" } else { ", " })?;
            first = false;
        }
        Ok(())
    }
}

/// The `UTS_NS` record of a container (nothing for a plain tree): which namespaces it has
/// of its own, and the names of its UTS namespace. Refuses an IPC namespace of its own
/// that holds anything.
pub(crate) fn checkpoint(tree: &Tree, w: &mut ImageWriter) -> CkptResult {
    let Some(init) = tree.ns() else {
        return Ok(());
    };
    let own = differ(&init.namespaces(), &NsIds::current()) & OWN;
    let mut r = img::CkptUtsNsRec::new_zeroed();
    let held = Held(init.uts_ipc(&mut r).context(fmt!("the container's init"))?);
    if own & (1 << NsIds::IPC) != 0 && !held.is_empty() {
        refuse!(
            EOPNOTSUPP,
            "the container's IPC namespace holds {held}: saving SysV IPC objects and POSIX \
             message queues is not supported yet"
        );
    }
    if own & (1 << NsIds::UTS) != 0 {
        r.flags |= img::CKPT_NS_UTS;
    } else {
        r.nodename = [0; img::CKPT_UTS_LEN];
        r.domainname = [0; img::CKPT_UTS_LEN];
    }
    if own & (1 << NsIds::IPC) != 0 {
        r.flags |= img::CKPT_NS_IPC;
    }
    w.fixed(rec::UTS_NS, &r)
}

#[kunit_tests(ckpt_ns)]
mod tests {
    use super::*;

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
    fn a_container_may_own_uts_and_ipc() {
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
        // A mount namespace of its own stays refused, named alone.
        t = init;
        t.0[2] = 9;
        assert_eq!(
            refusal(&t, &caller, Some(&init)),
            Some(Refusal::Other(1 << 2))
        );
    }
}
