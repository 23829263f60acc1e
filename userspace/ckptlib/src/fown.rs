// SPDX-License-Identifier: GPL-2.0

//! Owners of open file descriptions (`FOWN` records: `F_SETOWN`, `F_SETOWN_EX`,
//! `F_SETSIG`, `O_ASYNC`): checked field by field, then against the tree, for `rstr` to set
//! them again once every task exists.

use std::collections::HashMap;

use anyhow::{ensure, Result};
use serde::Serialize;

use crate::abi::image::{self as img, fown_type, CkptFileRec, CkptFownRec};
use crate::restart::OpenFile;

/// One description's owner, with the thread group of the task whose table it was saved
/// with (the first of the image to have the description: its process sets it at restart).
#[derive(Debug, Clone, Copy)]
pub struct Fown {
    pub rec: CkptFownRec,
    pub tgid: i32,
}

/// `F_OWNER_*` by name.
pub fn type_name(t: u32) -> &'static str {
    match t {
        fown_type::TID => "thread",
        fown_type::PID => "process",
        fown_type::PGRP => "process group",
        _ => "unknown",
    }
}

/// `ckpt show`'s view of a `FOWN` record.
#[derive(Debug, Serialize)]
pub struct Shown {
    pub obj: u32,
    /// `thread`, `process`, `process group`; `none` without an owner.
    pub owner: &'static str,
    pub pid: i32,
    pub uid: u32,
    pub euid: u32,
    /// `F_SETSIG`'s signal; 0 is `SIGIO`.
    pub signal: i32,
    pub o_async: bool,
}

/// The record for people (nothing is checked here).
pub fn show(r: &CkptFownRec) -> Shown {
    Shown {
        obj: r.obj,
        owner: if r.pid == 0 {
            "none"
        } else {
            type_name(r.owner_type)
        },
        pid: r.pid,
        uid: r.uid,
        euid: r.euid,
        signal: r.signum,
        o_async: r.flags & img::CKPT_FOWN_ASYNC != 0,
    }
}

/// A `FOWN` record read after `last`, the `FILE` before it, of the task `tgid`: added to
/// `fowns` if it is that description's and the first for it.
pub fn add(
    fowns: &mut HashMap<u32, Fown>,
    r: CkptFownRec,
    last: Option<&OpenFile>,
    tgid: i32,
) -> Result<()> {
    let Some(f) = last.map(|f| &f.rec).filter(|f| f.obj == r.obj) else {
        anyhow::bail!(
            "FOWN record of description {} does not follow a FILE record of it",
            r.obj
        );
    };
    check(&r, f)?;
    ensure!(
        fowns.insert(r.obj, Fown { rec: r, tgid }).is_none(),
        "FOWN record of description {} appears twice",
        r.obj
    );
    Ok(())
}

/// Every field, against the `FILE` record `f` it follows.
pub fn check(r: &CkptFownRec, f: &CkptFileRec) -> Result<()> {
    let fd = f.fd;
    ensure!(
        r.flags & !img::CKPT_FOWN_ASYNC == 0 && r.__reserved == 0,
        "FOWN record of fd {fd}: unknown flags {:#x}",
        r.flags
    );
    let o_async = f.flags & libc::O_ASYNC as u32 != 0;
    ensure!(
        o_async == (r.flags & img::CKPT_FOWN_ASYNC != 0),
        "FOWN record of fd {fd}: O_ASYNC differs from its FILE record's"
    );
    ensure!(
        matches!(
            r.owner_type,
            fown_type::TID | fown_type::PID | fown_type::PGRP
        ),
        "FOWN record of fd {fd}: owner type {}",
        r.owner_type
    );
    ensure!(r.pid >= 0, "FOWN record of fd {fd}: owner pid {}", r.pid);
    ensure!(
        r.pid != 0 || (r.owner_type == fown_type::PID && r.uid == 0 && r.euid == 0),
        "FOWN record of fd {fd}: no owner, but an owner type or uids"
    );
    ensure!(
        (0..=img::CKPT_NSIG as i32).contains(&r.signum),
        "FOWN record of fd {fd}: signal {}",
        r.signum
    );
    ensure!(
        r.pid != 0 || r.signum != 0 || o_async,
        "FOWN record of fd {fd}: neither an owner, a signal nor O_ASYNC"
    );
    Ok(())
}

/// Every owner is a task, a process or a process group of `tree`; a thread owner is one of
/// the process that sets it (its threads exist when it does).
pub fn check_owners(tree: &[img::CkptTreeEntry], fowns: &HashMap<u32, Fown>) -> Result<()> {
    for f in fowns.values().filter(|f| f.rec.pid != 0) {
        let (pid, obj) = (f.rec.pid, f.rec.obj);
        let found = match f.rec.owner_type {
            fown_type::TID => tree.iter().any(|e| e.pid == pid),
            fown_type::PID => tree.iter().any(|e| e.pid == pid && e.tgid == pid),
            _ => tree.iter().any(|e| e.pgid == pid),
        };
        ensure!(
            found,
            "FOWN record of description {obj}: owner {} {pid} is not in the image",
            type_name(f.rec.owner_type)
        );
        let saver = tree.iter().find(|e| e.pid == f.tgid);
        ensure!(
            !saver.is_some_and(|s| tree
                .iter()
                .any(|e| e.pid == e.tgid && e.pid != s.pid && e.mm == s.mm)),
            "FOWN record of description {obj}: first held by a process that shares its \
             parent's memory (CLONE_VM), whose restart sets no owners"
        );
        if f.rec.owner_type == fown_type::TID {
            let tgid = tree.iter().find(|e| e.pid == pid).map_or(0, |e| e.tgid);
            ensure!(
                tgid == pid || tgid == f.tgid,
                "FOWN record of description {obj}: owner thread {pid} is another process's"
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    fn file() -> CkptFileRec {
        let mut f = CkptFileRec::new_zeroed();
        (f.fd, f.obj, f.flags) = (4, 7, libc::O_ASYNC as u32);
        f
    }

    fn owned() -> CkptFownRec {
        let mut r = CkptFownRec::new_zeroed();
        (r.obj, r.owner_type, r.pid, r.signum) = (7, fown_type::PID, 100, 35);
        (r.uid, r.euid, r.flags) = (1000, 1000, img::CKPT_FOWN_ASYNC);
        r
    }

    #[test]
    fn records_are_checked_against_their_file() {
        assert!(check(&owned(), &file()).is_ok());
        let changes: [fn(&mut CkptFownRec); 6] = [
            |r| r.flags = 0,
            |r| r.owner_type = 3,
            |r| r.pid = -1,
            |r| r.signum = 65,
            |r| r.__reserved = 1,
            |r| (r.pid, r.owner_type) = (0, fown_type::PGRP),
        ];
        for change in changes {
            let mut r = owned();
            change(&mut r);
            assert!(check(&r, &file()).is_err(), "{r:?}");
        }
    }

    #[test]
    fn owners_must_be_in_the_tree() {
        let mut e = img::CkptTreeEntry::new_zeroed();
        (e.pid, e.tgid, e.pgid, e.mm) = (100, 100, 90, 1);
        let mut t = e;
        (t.pid, t.tgid) = (101, 100);
        let tree = [e, t];
        let mut fowns = HashMap::new();
        fowns.insert(
            7,
            Fown {
                rec: owned(),
                tgid: 100,
            },
        );
        assert!(check_owners(&tree, &fowns).is_ok());
        let with = |f: fn(&mut Fown)| {
            let mut m = fowns.clone();
            f(m.get_mut(&7).unwrap());
            check_owners(&tree, &m)
        };
        assert!(with(|f| f.rec.pid = 101).is_err());
        assert!(with(|f| (f.rec.pid, f.rec.owner_type) = (101, fown_type::TID)).is_ok());
        assert!(
            with(|f| (f.rec.pid, f.rec.owner_type, f.tgid) = (101, fown_type::TID, 5)).is_err()
        );
        assert!(with(|f| (f.rec.pid, f.rec.owner_type) = (90, fown_type::PGRP)).is_ok());
        assert!(with(|f| (f.rec.pid, f.rec.owner_type) = (91, fown_type::PGRP)).is_err());
        // Saved with a process on another's memory (CLONE_VM).
        let mut v = e;
        (v.pid, v.tgid, v.mm) = (102, 102, e.mm);
        let tree = [e, t, v];
        let mut m = fowns.clone();
        m.get_mut(&7).unwrap().tgid = 102;
        assert!(check_owners(&tree, &m).is_err());
    }
}
