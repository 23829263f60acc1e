// SPDX-License-Identifier: GPL-2.0

//! File locks the tree holds: one `FILE_LOCK` record per lock, after the `FILE` records of
//! the descriptor table it is saved with.
//!
//! For each open file description of a table, the locks of its inode held *through it*
//! (`flc_file`) are read (`FileRef::locks`). A `flock` or OFD lock belongs to the
//! description and is saved once, with the first table that has it. A POSIX record lock
//! belongs to a descriptor table (`flc_owner`): it is saved with the table that owns it;
//! one of another table (a parent's on a description its child inherited, a process
//! outside the tree) is left out here. Locks of descriptions the tree does not have are
//! other processes' and are never met. Leases and delegations are refused. `rstr` takes
//! every lock again, without waiting (`userspace/rstr/src/locks.rs`).

use kernel::bindings::{F_RDLCK, F_WRLCK};
use kernel::prelude::*;
use kernel::rbtree::RBTree;
use zerocopy::IntoBytes;

use crate::error::{refuse, CkptResult, Context};
use crate::files::show;
use crate::image::ImageWriter;
use crate::objects::Objects;
use crate::sys::locks::{
    HeldLock, FL_DELEG, FL_FLOCK, FL_LAYOUT, FL_LEASE, FL_OFDLCK, FL_POSIX, OWNER_FILE, OWNER_TABLE,
};
use crate::sys::task::{OpenFd, TaskRef};
use crate::uapi::image::{self as img, lock_kind, rec};

/// The most locks held through one open file description that a checkpoint saves.
const LOCKS_MAX: usize = 1024;

/// The open file descriptions whose `flock` and OFD locks are saved already.
pub(crate) struct Saved(RBTree<u64, ()>);

impl Saved {
    pub(crate) fn new() -> Self {
        Saved(RBTree::new())
    }

    /// Whether `file`'s description-owned locks are to be saved now: the first time only.
    fn first(&mut self, file: u64) -> CkptResult<bool> {
        if self.0.get(&file).is_some() {
            return Ok(false);
        }
        self.0.try_create_and_insert(file, (), GFP_KERNEL_ACCOUNT)?;
        Ok(true)
    }
}

/// Why a lock cannot be saved.
#[derive(Debug, PartialEq)]
enum Why {
    /// Neither `flock`, OFD nor POSIX: its `flc_flags`.
    Kind(u32),
    /// Neither read nor write: its `flc_type`.
    Type(u32),
    /// A range that does not start at 0 or more and end after it starts.
    Range,
    /// A POSIX lock owned by its description, not over the whole file.
    FileOwned,
}

/// The `FILE_LOCK` record of lock `l` held through the description `obj` (open at `fd` in
/// the table of process `pid`), or `None` if it is not this table's to save: a POSIX lock
/// of another table, or a description-owned lock of a description saved already (`first`
/// is false).
///
/// A POSIX lock owned by the description itself without `FL_OFDLCK` is a `flock` that the
/// filesystem keeps as a whole-file POSIX lock (9p's `v9fs_file_flock_dotl`): saved as the
/// `flock` it is, which `flock` makes again there.
fn record_of(
    l: &HeldLock,
    fd: u32,
    obj: u32,
    pid: i32,
    first: bool,
) -> core::result::Result<Option<img::CkptFileLockRec>, Why> {
    let (kind, pid) = if l.flags & FL_FLOCK != 0 {
        (lock_kind::FLOCK, 0)
    } else if l.flags & FL_OFDLCK != 0 {
        (lock_kind::OFD, 0)
    } else if l.flags & FL_POSIX != 0 && l.owner == OWNER_FILE {
        if l.start != 0 || l.end != img::CKPT_LOCK_EOF {
            return Err(Why::FileOwned);
        }
        (lock_kind::FLOCK, 0)
    } else if l.flags & FL_POSIX != 0 {
        (lock_kind::POSIX, pid)
    } else {
        return Err(Why::Kind(l.flags));
    };
    let lock_type = match l.lock_type {
        F_RDLCK => img::CKPT_LOCK_READ,
        F_WRLCK => img::CKPT_LOCK_WRITE,
        t => return Err(Why::Type(t)),
    };
    if l.start < 0 || l.end < l.start {
        return Err(Why::Range);
    }
    let ours = if kind == lock_kind::POSIX {
        l.owner == OWNER_TABLE
    } else {
        first
    };
    if !ours {
        return Ok(None);
    }
    Ok(Some(img::CkptFileLockRec {
        kind,
        lock_type,
        obj,
        fd: fd as i32,
        pid,
        __reserved: 0,
        start: l.start,
        end: l.end,
    }))
}

/// What a lease's flags are, for a refusal.
fn lease_kind(flags: u32) -> &'static str {
    if flags & FL_LAYOUT != 0 {
        "a pNFS layout"
    } else if flags & FL_DELEG != 0 {
        "a delegation (F_SETDELEG)"
    } else if flags & FL_LEASE != 0 {
        "a lease (F_SETLEASE)"
    } else {
        "a lease of an unknown kind"
    }
}

/// Refuses a lease or delegation held through the descriptor `o` (of path `path`): first
/// of the checks of a descriptor, as a lease sets `O_ASYNC` and an owner on its file.
pub(crate) fn check_leases(task: &TaskRef, o: &OpenFd, path: &[u8]) -> CkptResult {
    let fd = o.fd;
    let leases = task.file(fd).context(fmt!("fd {fd}"))?.leases();
    if leases != 0 {
        refuse!(
            EOPNOTSUPP,
            "fd {fd}: {} on {} (flags {leases:#x}): leases and delegations are not supported yet",
            lease_kind(leases),
            show(path)
        );
    }
    Ok(())
}

/// The `FILE_LOCK` records of the descriptor table at address `files`, saved with the task
/// `task` of process `pid` (the table's first task), after its `FILE` records. `vm_child`:
/// the task shares another's memory (`CLONE_VM`), and its restart (its parent's path in
/// `rstr`) cannot take POSIX locks for its table.
pub(crate) fn checkpoint(
    task: &TaskRef,
    files: u64,
    pid: i32,
    vm_child: bool,
    objs: &mut Objects,
    w: &mut ImageWriter,
) -> CkptResult {
    let mut path = KVec::from_elem(0u8, img::CKPT_PATH_MAX as usize + 1, GFP_KERNEL_ACCOUNT)?;
    let mut held = KVec::with_capacity(LOCKS_MAX, GFP_KERNEL_ACCOUNT)?;
    // The descriptions of this table met so far: a `dup`ed one is read once.
    let mut met: RBTree<u64, ()> = RBTree::new();
    let mut from = 0;
    // Ends: each round moves past one open descriptor.
    while let Some(o) = task
        .next_fd(from, &mut path)
        .context(fmt!("fd {from} and up"))?
    {
        let fd = o.fd;
        from = fd + 1;
        let file_id = o.facts.file_id;
        if met.get(&file_id).is_some() {
            continue;
        }
        met.try_create_and_insert(file_id, (), GFP_KERNEL_ACCOUNT)?;
        let p = show(&path[..o.rec.path_len as usize]);
        let file = task.file(fd).context(fmt!("fd {fd}"))?;
        match file.locks(files, &mut held) {
            Err(e) if e == E2BIG => refuse!(
                EOPNOTSUPP,
                "fd {fd}: more than {LOCKS_MAX} locks held through {p}; not supported yet"
            ),
            r => r.context(fmt!("fd {fd}: its locks"))?,
        }
        if held.is_empty() {
            continue;
        }
        let obj = objs.id(file_id)?;
        let first = objs.locks.first(file_id)?;
        for l in held.iter() {
            match record_of(l, fd, obj, pid, first) {
                Ok(Some(r)) if vm_child && r.kind == lock_kind::POSIX => refuse!(
                    EOPNOTSUPP,
                    "fd {fd}: a POSIX lock on {p} held by process {pid}, which shares its \
                     parent's memory (CLONE_VM) but not its descriptor table; not supported yet"
                ),
                Ok(Some(r)) => w.record(rec::FILE_LOCK, &[r.as_bytes()])?,
                Ok(None) => {}
                Err(Why::Kind(flags)) => refuse!(
                    EOPNOTSUPP,
                    "fd {fd}: a lock on {p} of an unknown kind (flags {flags:#x}); not supported yet"
                ),
                Err(Why::Type(t)) => refuse!(
                    EOPNOTSUPP,
                    "fd {fd}: a lock on {p} of type {t}, neither read nor write"
                ),
                Err(Why::FileOwned) => refuse!(
                    EOPNOTSUPP,
                    "fd {fd}: a POSIX lock on {p} owned by its open file description over bytes {} to {}, neither flock nor OFD; not supported yet",
                    l.start,
                    l.end
                ),
                Err(Why::Range) => refuse!(
                    EINVAL,
                    "fd {fd}: a lock on {p} over bytes {} to {}",
                    l.start,
                    l.end
                ),
            }
        }
    }
    Ok(())
}

#[kunit_tests(ckpt_locks)]
mod tests {
    use super::*;

    /// `OWNER_OTHER`: neither the table nor the file.
    const ANOTHER: u32 = 0;

    fn lock(flags: u32, lock_type: u32, owner: u32) -> HeldLock {
        HeldLock {
            flags,
            lock_type,
            owner,
            _pid: 77,
            start: 10,
            end: 19,
        }
    }

    #[test]
    fn a_posix_lock_is_its_owners() {
        let r = record_of(&lock(FL_POSIX, F_WRLCK, OWNER_TABLE), 3, 5, 100, false);
        let r = r.ok().flatten().unwrap();
        assert_eq!(r.kind, lock_kind::POSIX);
        assert_eq!(r.lock_type, img::CKPT_LOCK_WRITE);
        assert_eq!((r.obj, r.fd, r.pid, r.start, r.end), (5, 3, 100, 10, 19));
        // Another table's (the parent's, through an inherited description): not here.
        assert_eq!(
            record_of(&lock(FL_POSIX, F_RDLCK, ANOTHER), 3, 5, 100, true),
            Ok(None)
        );
    }

    #[test]
    fn description_locks_are_saved_once() {
        let r = record_of(&lock(FL_FLOCK, F_RDLCK, ANOTHER), 4, 6, 100, true);
        let r = r.ok().flatten().unwrap();
        assert_eq!(
            (r.kind, r.lock_type, r.pid),
            (lock_kind::FLOCK, img::CKPT_LOCK_READ, 0)
        );
        let ofd = FL_POSIX | FL_OFDLCK;
        let r = record_of(&lock(ofd, F_WRLCK, ANOTHER), 4, 6, 100, true);
        assert_eq!(r.ok().flatten().map(|r| r.kind), Some(lock_kind::OFD));
        assert_eq!(
            record_of(&lock(ofd, F_WRLCK, ANOTHER), 4, 6, 100, false),
            Ok(None)
        );
    }

    #[test]
    fn a_flock_kept_as_a_posix_lock_is_a_flock() {
        let mut l = lock(FL_POSIX, F_WRLCK, OWNER_FILE);
        l.start = 0;
        l.end = img::CKPT_LOCK_EOF;
        let r = record_of(&l, 4, 6, 100, true).ok().flatten().unwrap();
        assert_eq!(
            (r.kind, r.pid, r.end),
            (lock_kind::FLOCK, 0, img::CKPT_LOCK_EOF)
        );
        assert_eq!(record_of(&l, 4, 6, 100, false), Ok(None));
        // Not the whole file: no flock.
        l.end = 9;
        assert_eq!(record_of(&l, 4, 6, 100, true), Err(Why::FileOwned));
    }

    #[test]
    fn odd_locks_are_refused() {
        assert_eq!(
            record_of(&lock(FL_LEASE, F_RDLCK, ANOTHER), 4, 6, 1, true),
            Err(Why::Kind(FL_LEASE))
        );
        assert_eq!(
            record_of(&lock(FL_FLOCK, 7, ANOTHER), 4, 6, 1, true),
            Err(Why::Type(7))
        );
        let mut l = lock(FL_POSIX, F_RDLCK, OWNER_TABLE);
        l.end = 5;
        assert_eq!(record_of(&l, 4, 6, 1, true), Err(Why::Range));
        assert_eq!(lease_kind(FL_LEASE), "a lease (F_SETLEASE)");
        assert_eq!(lease_kind(FL_DELEG | FL_LEASE), "a delegation (F_SETDELEG)");
    }
}
