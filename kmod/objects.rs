// SPDX-License-Identifier: GPL-2.0

//! The object table of a checkpoint, as Linux-CR's objhash: every kernel object that tasks
//! may share (a memory, a descriptor table, an fs context, signal handlers, an open file,
//! a pipe, a shared memory object) gets one id, in the order first met, and is saved once,
//! with the first task that has it; every other user names it by id.
//!
//! Objects are keyed by their address, which stays valid because every task of the tree is
//! stopped while the image is written. A red-black tree keeps lookups logarithmic, so a
//! checkpoint of `n` tasks costs `O(n log n)` here, not `O(n^2)`.

use kernel::prelude::*;
use kernel::rbtree::RBTree;

use crate::error::CkptResult;

struct Obj {
    id: u32,
    /// Tasks of the tree that use it.
    users: u32,
    /// Whether its contents are in the image already.
    saved: bool,
}

pub(crate) struct Objects {
    map: RBTree<u64, Obj>,
    next: u32,
    /// The open file description of each pipe end met so far: the pipe's address (aligned)
    /// plus 1 for the write end, to the file's.
    pipe_ends: RBTree<u64, u64>,
    /// The unix sockets met and the peers they name.
    pub(crate) unix: crate::unix::Peers,
    /// What deleted files' data may still take of the image.
    pub(crate) deleted: crate::deleted::Budget,
    /// The descriptions whose `flock` and OFD locks are saved.
    pub(crate) locks: crate::locks::Saved,
    /// The owners of open file descriptions (`F_SETOWN`) met.
    pub(crate) fown: crate::fown::Owners,
    /// Pages shared copy-on-write between the memories saved ([`crate::memory`]).
    pub(crate) shared_pages: crate::memory::SharedPages,
    /// The SysV segments of a container's IPC namespace and their attaches.
    pub(crate) segments: crate::ipc::Attaches,
}

impl Objects {
    pub(crate) fn new() -> Self {
        Objects {
            map: RBTree::new(),
            next: 1,
            pipe_ends: RBTree::new(),
            unix: crate::unix::Peers::new(),
            deleted: crate::deleted::Budget::from_flags(0),
            locks: crate::locks::Saved::new(),
            fown: crate::fown::Owners::new(),
            shared_pages: crate::memory::SharedPages::new(),
            segments: crate::ipc::Attaches::new(),
        }
    }

    /// The id of the object at `addr` (0 for none), counting one more user of it.
    pub(crate) fn add_user(&mut self, addr: u64) -> CkptResult<u32> {
        if addr == 0 {
            return Ok(0);
        }
        if let Some(o) = self.map.get_mut(&addr) {
            o.users += 1;
            return Ok(o.id);
        }
        let id = self.next;
        self.next += 1;
        self.map.try_create_and_insert(
            addr,
            Obj {
                id,
                users: 1,
                saved: false,
            },
            GFP_KERNEL_ACCOUNT,
        )?;
        Ok(id)
    }

    /// The id of the object at `addr` (0 for none), registering it if it is new.
    pub(crate) fn id(&mut self, addr: u64) -> CkptResult<u32> {
        if let Some(o) = self.map.get_mut(&addr) {
            return Ok(o.id);
        }
        let id = self.add_user(addr)?;
        if let Some(o) = self.map.get_mut(&addr) {
            o.users = 0;
        }
        Ok(id)
    }

    /// Tasks of the tree counted as users of the object at `addr`.
    pub(crate) fn users(&self, addr: u64) -> u32 {
        self.map.get(&addr).map_or(0, |o| o.users)
    }

    /// Whether the object at `addr` is to be saved now: true the first time only.
    pub(crate) fn first_save(&mut self, addr: u64) -> bool {
        match self.map.get_mut(&addr) {
            Some(o) if !o.saved => {
                o.saved = true;
                true
            }
            _ => false,
        }
    }

    /// Whether `file` is the only open file description met so far of this end of the
    /// pipe at `pipe`: true the first time, and again for the same file.
    pub(crate) fn pipe_end(&mut self, pipe: u64, write: bool, file: u64) -> CkptResult<bool> {
        let key = pipe | u64::from(write);
        if let Some(&f) = self.pipe_ends.get(&key) {
            return Ok(f == file);
        }
        self.pipe_ends
            .try_create_and_insert(key, file, GFP_KERNEL_ACCOUNT)?;
        Ok(true)
    }
}
