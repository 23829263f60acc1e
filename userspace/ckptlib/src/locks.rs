// SPDX-License-Identifier: GPL-2.0

//! File locks (`FILE_LOCK` records): their checks before a restart and their words for
//! people (`ckpt show`, `rstr`'s reasons).
//!
//! A `flock` or OFD lock belongs to an open file description and comes once, with the
//! first descriptor table that has it; a POSIX lock belongs to the table it comes with.

use std::collections::{HashMap, HashSet};

use anyhow::{bail, ensure, Result};
use serde::Serialize;

use crate::abi::image::{self as img, lock_kind, CkptFileLockRec};
use crate::restart::OpenFile;

/// `flock`, `ofd` or `posix`.
pub fn kind_name(kind: u32) -> &'static str {
    match kind {
        lock_kind::FLOCK => "flock",
        lock_kind::OFD => "ofd",
        lock_kind::POSIX => "posix",
        _ => "unknown",
    }
}

/// `read` or `write`.
pub fn type_name(t: u32) -> &'static str {
    match t {
        img::CKPT_LOCK_READ => "read",
        img::CKPT_LOCK_WRITE => "write",
        _ => "unknown",
    }
}

/// `0-99`, `100-eof`.
pub fn range(l: &CkptFileLockRec) -> String {
    if l.end == img::CKPT_LOCK_EOF {
        format!("{}-eof", l.start)
    } else {
        format!("{}-{}", l.start, l.end)
    }
}

/// `POSIX write lock on bytes 0-99`, `flock read lock`.
pub fn describe(l: &CkptFileLockRec) -> String {
    let (k, t) = (kind_name(l.kind), type_name(l.lock_type));
    match l.kind {
        lock_kind::FLOCK => format!("flock {t} lock"),
        lock_kind::OFD => format!("OFD {t} lock on bytes {}", range(l)),
        _ => format!("{} {t} lock on bytes {}", k.to_uppercase(), range(l)),
    }
}

/// A `FILE_LOCK` record for people.
#[derive(Debug, Serialize)]
pub struct Shown {
    pub kind: &'static str,
    pub lock: &'static str,
    pub fd: i32,
    pub obj: u32,
    pub pid: i32,
    pub start: i64,
    pub end: i64,
    pub range: String,
}

pub fn show(l: &CkptFileLockRec) -> Shown {
    Shown {
        kind: kind_name(l.kind),
        lock: type_name(l.lock_type),
        fd: l.fd,
        obj: l.obj,
        pid: l.pid,
        start: l.start,
        end: l.end,
        range: range(l),
    }
}

/// What the image's locks seen so far hold, to check that none appears twice or overlaps
/// another of its owner.
#[derive(Default)]
pub struct Seen {
    /// Descriptions whose `flock` and OFD locks came already (with an earlier table).
    descs: HashSet<u32>,
}

/// Checks the `FILE_LOCK` records `locks` of one descriptor table (of process `pid`, whose
/// `FILE` records are `files`): kinds, types, ranges, a descriptor of the table open on the
/// lock's description, the access the lock needs (a read lock a description open for
/// reading, a write lock one open for writing; `flock` needs neither), one `flock` per
/// description, no two overlapping locks of one owner, each description's locks with one
/// table only.
pub fn check(
    locks: &[CkptFileLockRec],
    files: &[OpenFile],
    pid: i32,
    seen: &mut Seen,
) -> Result<()> {
    let mut flocks = HashSet::new();
    let mut ranges: HashMap<(u32, u32), Vec<(i64, i64)>> = HashMap::new();
    let mut descs_here = HashSet::new();
    for l in locks {
        let what = format!("FILE_LOCK record (fd {})", l.fd);
        ensure!(
            matches!(l.kind, lock_kind::FLOCK | lock_kind::OFD | lock_kind::POSIX),
            "{what}: kind {}",
            l.kind
        );
        ensure!(
            matches!(l.lock_type, img::CKPT_LOCK_READ | img::CKPT_LOCK_WRITE),
            "{what}: type {}",
            l.lock_type
        );
        ensure!(
            l.start >= 0 && l.end >= l.start,
            "{what}: bytes {} to {}",
            l.start,
            l.end
        );
        ensure!(l.__reserved == 0, "{what}: reserved field set");
        let Some(f) = files.iter().find(|f| f.rec.fd == l.fd) else {
            bail!("{what}: no such descriptor in the table");
        };
        ensure!(
            f.rec.obj == l.obj,
            "{what}: description {} is not the descriptor's ({})",
            l.obj,
            f.rec.obj
        );
        if l.kind == lock_kind::POSIX {
            ensure!(
                l.pid == pid,
                "{what}: POSIX lock of process {}, saved with {pid}",
                l.pid
            );
        } else {
            ensure!(
                l.pid == 0,
                "{what}: a {} lock with a pid",
                kind_name(l.kind)
            );
            ensure!(
                !seen.descs.contains(&l.obj),
                "{what}: the locks of description {} come with two tables",
                l.obj
            );
            descs_here.insert(l.obj);
        }
        if l.kind == lock_kind::FLOCK {
            ensure!(
                l.start == 0 && l.end == img::CKPT_LOCK_EOF,
                "{what}: a flock lock on a range"
            );
            ensure!(
                flocks.insert(l.obj),
                "{what}: two flock locks on one description"
            );
            continue;
        }
        let acc = f.rec.flags as i32 & libc::O_ACCMODE;
        let needs = if l.lock_type == img::CKPT_LOCK_READ {
            acc == libc::O_RDONLY || acc == libc::O_RDWR
        } else {
            acc == libc::O_WRONLY || acc == libc::O_RDWR
        };
        ensure!(
            needs,
            "{what}: a {} lock through a description not open for it",
            type_name(l.lock_type)
        );
        // A POSIX lock's owner is the table, an OFD lock's the description. POSIX locks
        // are per inode, which the image does not name: only the locks of one table
        // through one description are checked against each other.
        let owner = (l.kind, l.obj);
        ranges.entry(owner).or_default().push((l.start, l.end));
    }
    for ((_, obj), mut v) in ranges {
        v.sort_unstable();
        for w in v.windows(2) {
            ensure!(
                w[1].0 > w[0].1,
                "FILE_LOCK records: two locks of one owner overlap on description {obj} \
                 ({}-{} and {}-{})",
                w[0].0,
                w[0].1,
                w[1].0,
                w[1].1
            );
        }
    }
    seen.descs.extend(descs_here);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::abi::image::file_kind;

    fn file(fd: i32, obj: u32, flags: i32) -> OpenFile {
        let mut rec: img::CkptFileRec = zerocopy::FromZeros::new_zeroed();
        rec.fd = fd;
        rec.obj = obj;
        rec.flags = flags as u32;
        rec.kind = file_kind::REGULAR;
        OpenFile {
            rec,
            path: "/tmp/x".into(),
        }
    }

    fn lock(kind: u32, t: u32, fd: i32, obj: u32, start: i64, end: i64) -> CkptFileLockRec {
        CkptFileLockRec {
            kind,
            lock_type: t,
            obj,
            fd,
            pid: if kind == lock_kind::POSIX { 10 } else { 0 },
            __reserved: 0,
            start,
            end,
        }
    }

    const W: u32 = img::CKPT_LOCK_WRITE;
    const R: u32 = img::CKPT_LOCK_READ;
    const EOF: i64 = img::CKPT_LOCK_EOF;

    #[test]
    fn a_table_of_every_kind_passes() {
        let files = [file(3, 1, libc::O_RDWR), file(4, 2, libc::O_RDONLY)];
        let locks = [
            lock(lock_kind::FLOCK, W, 3, 1, 0, EOF),
            lock(lock_kind::POSIX, R, 4, 2, 0, 9),
            lock(lock_kind::POSIX, R, 4, 2, 20, EOF),
            lock(lock_kind::OFD, W, 3, 1, 100, 199),
        ];
        check(&locks, &files, 10, &mut Seen::default()).unwrap();
        assert_eq!(describe(&locks[2]), "POSIX read lock on bytes 20-eof");
        assert_eq!(describe(&locks[0]), "flock write lock");
    }

    #[test]
    fn bad_locks_are_refused() {
        let files = [file(3, 1, libc::O_RDWR), file(4, 2, libc::O_RDONLY)];
        let bad = [
            lock(9, W, 3, 1, 0, 9),
            lock(lock_kind::POSIX, 0, 3, 1, 0, 9),
            lock(lock_kind::POSIX, W, 3, 1, 10, 9),
            lock(lock_kind::POSIX, W, 5, 1, 0, 9),
            lock(lock_kind::POSIX, W, 3, 2, 0, 9),
            // A write lock through a read-only description.
            lock(lock_kind::POSIX, W, 4, 2, 0, 9),
            lock(lock_kind::FLOCK, W, 3, 1, 5, EOF),
        ];
        for l in bad {
            assert!(
                check(&[l], &files, 10, &mut Seen::default()).is_err(),
                "{l:?}"
            );
        }
        let mut wrong_pid = lock(lock_kind::POSIX, R, 3, 1, 0, 9);
        wrong_pid.pid = 11;
        assert!(check(&[wrong_pid], &files, 10, &mut Seen::default()).is_err());
        let overlap = [
            lock(lock_kind::POSIX, R, 3, 1, 0, 9),
            lock(lock_kind::POSIX, R, 3, 1, 9, 20),
        ];
        assert!(check(&overlap, &files, 10, &mut Seen::default()).is_err());
        let two = [
            lock(lock_kind::FLOCK, R, 3, 1, 0, EOF),
            lock(lock_kind::FLOCK, W, 3, 1, 0, EOF),
        ];
        assert!(check(&two, &files, 10, &mut Seen::default()).is_err());
    }

    #[test]
    fn a_description_lock_comes_with_one_table() {
        let files = [file(3, 1, libc::O_RDWR)];
        let l = [lock(lock_kind::FLOCK, R, 3, 1, 0, EOF)];
        let mut seen = Seen::default();
        check(&l, &files, 10, &mut seen).unwrap();
        assert!(check(&l, &files, 11, &mut seen).is_err());
    }
}
