// SPDX-License-Identifier: GPL-2.0

//! The SysV IPC objects of an IPC namespace, as `ipc/` keeps them (`helpers.c`, through the
//! private structs `scripts/ipc_private.sh` copies from the kernel's source).
//!
//! [`IpcNs`] holds a namespace; [`Ids`] holds the objects of one kind still (their ids'
//! rwsem, for reading) and hands them out in the order of their index; an [`Object`] is
//! valid while its [`Ids`] is held. [`Mqueues`] holds the POSIX message queues still (the
//! lock of their mount's root directory) and hands out each [`Mq`], counted.

use core::marker::PhantomData;
use core::ptr::NonNull;

use kernel::bindings;
use kernel::prelude::*;
use zerocopy::FromZeros;

use super::check;
use super::file::FileRef;
use super::task::TaskRef;
use crate::uapi::image as img;

/// Facts of a segment ([`Object::shm`]); the layout is `struct ckpt_h_shm`.
#[repr(C)]
#[derive(Default)]
pub(crate) struct ShmFacts {
    pub(crate) size: u64,
    pub(crate) nattch: u32,
    pub(crate) hugetlb: u32,
}

/// Facts of a message queue ([`Object::msq`]); the layout is `struct ckpt_h_msq`.
#[repr(C)]
#[derive(Default)]
pub(crate) struct MsqFacts {
    pub(crate) qbytes: u64,
    pub(crate) qnum: u64,
    pub(crate) cbytes: u64,
    /// The longest message's bytes.
    pub(crate) longest: u64,
}

/// Facts of a POSIX message queue ([`Mq::facts`]); the layout is `struct ckpt_h_mq`.
#[repr(C)]
#[derive(Default)]
pub(crate) struct MqFacts {
    pub(crate) maxmsg: u64,
    pub(crate) msgsize: u64,
    pub(crate) curmsgs: u64,
    /// Its messages' bytes, and the longest one's.
    pub(crate) bytes: u64,
    pub(crate) longest: u64,
    pub(crate) uid: u32,
    pub(crate) gid: u32,
    /// The inode's mode (`S_IFREG` and the permission bits).
    pub(crate) mode: u32,
    /// Whether a process is registered for notification (`mq_notify`).
    pub(crate) notify: u32,
}

/// The room for a queue's name: `/`, at most `NAME_MAX` bytes, a NUL.
pub(crate) type MqName = [u8; img::CKPT_MQ_NAME_MAX as usize + 1];

const _: () = {
    assert!(size_of::<ShmFacts>() == 16 && size_of::<MsqFacts>() == 32);
    assert!(size_of::<MqFacts>() == 56 && size_of::<img::CkptMqMsgRec>() == 8);
    assert!(size_of::<img::CkptIpcPerm>() == 32 && size_of::<img::CkptSysvMsgRec>() == 16);
};

#[expect(improper_ctypes, reason = "pointers to bindgen's kernel structs")]
extern "C" {
    fn ckpt_helper_task_ipc_ns(task: *mut bindings::task_struct) -> *mut bindings::ipc_namespace;
    fn ckpt_helper_put_ipc_ns(ns: *mut bindings::ipc_namespace);
    fn ckpt_helper_ipc_limits(ns: *mut bindings::ipc_namespace, out: *mut img::CkptIpcNsRec);
    fn ckpt_helper_ipc_ids_lock(ns: *mut bindings::ipc_namespace, kind: i32) -> i32;
    fn ckpt_helper_ipc_ids_unlock(ns: *mut bindings::ipc_namespace, kind: i32);
    fn ckpt_helper_ipc_next(
        ns: *mut bindings::ipc_namespace,
        kind: i32,
        idx: *mut i32,
    ) -> *mut bindings::kern_ipc_perm;
    fn ckpt_helper_ipc_perm(p: *mut bindings::kern_ipc_perm, out: *mut img::CkptIpcPerm);
    fn ckpt_helper_shm(p: *mut bindings::kern_ipc_perm, out: *mut ShmFacts) -> *mut bindings::file;
    fn ckpt_helper_shm_attach_segment(
        file: *mut bindings::file,
        id: *mut i32,
    ) -> *mut bindings::file;
    fn ckpt_helper_msq(p: *mut bindings::kern_ipc_perm, out: *mut MsqFacts);
    fn ckpt_helper_msq_copy(
        p: *mut bindings::kern_ipc_perm,
        buf: *mut u8,
        len: usize,
        qnum: u64,
    ) -> isize;
    fn ckpt_helper_sem_nsems(p: *mut bindings::kern_ipc_perm, undo: *mut u32) -> u32;
    fn ckpt_helper_sem_values(p: *mut bindings::kern_ipc_perm, vals: *mut i32, n: u32) -> i32;
    fn ckpt_helper_mq_lock(ns: *mut bindings::ipc_namespace) -> i32;
    fn ckpt_helper_mq_unlock(ns: *mut bindings::ipc_namespace);
    fn ckpt_helper_mq_nth(ns: *mut bindings::ipc_namespace, n: u32) -> *mut bindings::dentry;
    fn ckpt_helper_dput(d: *mut bindings::dentry);
    fn ckpt_helper_mq(d: *mut bindings::dentry, out: *mut MqFacts, name: *mut u8);
    fn ckpt_helper_mq_copy(d: *mut bindings::dentry, buf: *mut u8, len: usize, n: u64) -> isize;
    fn ckpt_helper_file_mq(
        file: *mut bindings::file,
        ns: *mut bindings::ipc_namespace,
        name: *mut u8,
    ) -> i32;
    fn ckpt_helper_mq_magic() -> u64;
    fn ckpt_helper_task_undo_list(task: *mut bindings::task_struct) -> u64;
    fn ckpt_helper_sem_undo(
        p: *mut bindings::kern_ipc_perm,
        idx: u32,
        ulp: *mut u64,
        adj: *mut i32,
        n: u32,
    ) -> i32;
}

/// The identity of `task`'s list of SysV undo adjustments (shared by the tasks that
/// `clone(CLONE_SYSVSEM)` made), compared, never followed; 0 if it has none that holds any.
pub(crate) fn undo_list(task: &TaskRef) -> u64 {
    // SAFETY: the task is valid while referenced.
    unsafe { ckpt_helper_task_undo_list(task.raw()) }
}

/// The `s_magic` of the file system of POSIX message queues' files.
pub(crate) fn mq_magic() -> u64 {
    // SAFETY: a constant.
    unsafe { ckpt_helper_mq_magic() }
}

/// The kinds of SysV objects, as `ipc/util.h` numbers their ids.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Sem = 0,
    Msg = 1,
    Shm = 2,
}

/// A counted reference to an IPC namespace.
///
/// # Invariants
///
/// The pointer is a valid `struct ipc_namespace` on which this value holds one reference.
pub(crate) struct IpcNs(NonNull<bindings::ipc_namespace>);

impl IpcNs {
    /// The IPC namespace of `task`; `ESRCH` once it exited.
    pub(crate) fn of(task: &TaskRef) -> Result<IpcNs> {
        // SAFETY: the task is valid while referenced; the helper returns a counted
        // reference or NULL.
        let ns = unsafe { ckpt_helper_task_ipc_ns(task.raw()) };
        // INVARIANT: the reference the helper took is ours.
        NonNull::new(ns).map(IpcNs).ok_or(ESRCH)
    }

    /// Its sysctls, in an `IPC_NS` record whose counts are zero.
    pub(crate) fn limits(&self) -> img::CkptIpcNsRec {
        let mut r = img::CkptIpcNsRec::new_zeroed();
        // SAFETY: the namespace is valid (type invariant); `r` is a writable record of the
        // C layout.
        unsafe { ckpt_helper_ipc_limits(self.0.as_ptr(), &mut r) };
        r
    }

    /// The objects of `kind`, held still until the value is dropped; `EINTR` if the caller
    /// is killed while it waits for them.
    pub(crate) fn ids(&self, kind: Kind) -> Result<Ids<'_>> {
        // SAFETY: the namespace is valid (type invariant); `kind` is one of its three.
        check(unsafe { ckpt_helper_ipc_ids_lock(self.0.as_ptr(), kind as i32) } as isize)?;
        // INVARIANT: the rwsem is held for reading.
        Ok(Ids {
            ns: self,
            kind,
            next: 0,
        })
    }
}

impl IpcNs {
    /// Its POSIX message queues, held still (none made or unlinked) until the value is
    /// dropped; `EINTR` if the caller is killed while it waits for them.
    pub(crate) fn mqueues(&self) -> Result<Mqueues<'_>> {
        // SAFETY: the namespace is valid (type invariant).
        check(unsafe { ckpt_helper_mq_lock(self.0.as_ptr()) } as isize)?;
        // INVARIANT: the lock of its mqueue root is held, shared.
        Ok(Mqueues { ns: self, next: 0 })
    }

    /// Whether `file` is a POSIX message queue: `None` if not; else `Ok(name)` for a queue
    /// of this namespace still linked, `Err(EXDEV)` for one of another namespace,
    /// `Err(ENOENT)` for one unlinked.
    pub(crate) fn file_mq(ns: Option<&IpcNs>, file: &FileRef) -> Option<Result<MqName>> {
        let mut name = [0u8; img::CKPT_MQ_NAME_MAX as usize + 1];
        let ns = ns.map_or(core::ptr::null_mut(), |n| n.0.as_ptr());
        // SAFETY: the file is valid while `file` lives; `ns` is NULL or valid (type
        // invariant); `name` has the room the helper writes.
        let r = unsafe { ckpt_helper_file_mq(file.raw(), ns, name.as_mut_ptr()) };
        match r {
            0 => None,
            1 => Some(Ok(name)),
            e => Some(Err(Error::from_errno(e))),
        }
    }
}

/// The POSIX message queues of a namespace, held still.
///
/// # Invariants
///
/// The inode lock of `ns`'s mqueue root is held, shared, by this value.
pub(crate) struct Mqueues<'a> {
    ns: &'a IpcNs,
    next: u32,
}

impl Mqueues<'_> {
    /// Starts again from the first queue.
    pub(crate) fn rewind(&mut self) {
        self.next = 0;
    }

    /// The next queue, in the order of the root's children; `None` after the last.
    pub(crate) fn next_queue(&mut self) -> Option<Mq> {
        // SAFETY: the namespace is valid and the root's lock held (type invariants).
        let d = unsafe { ckpt_helper_mq_nth(self.ns.0.as_ptr(), self.next) };
        let d = NonNull::new(d)?;
        self.next += 1;
        // INVARIANT: the helper counted the dentry for us.
        Some(Mq(d))
    }
}

impl Drop for Mqueues<'_> {
    fn drop(&mut self) {
        // SAFETY: the lock is held by this value (type invariant).
        unsafe { ckpt_helper_mq_unlock(self.ns.0.as_ptr()) };
    }
}

/// A POSIX message queue: the dentry of its file in its namespace's mqueue mount.
///
/// # Invariants
///
/// The pointer is a positive dentry of an mqueue mount on which this value holds one
/// reference.
pub(crate) struct Mq(NonNull<bindings::dentry>);

impl Mq {
    /// Its attributes, owner, mode and name.
    pub(crate) fn facts(&self) -> (MqFacts, MqName) {
        let mut f = MqFacts::default();
        let mut name = [0u8; img::CKPT_MQ_NAME_MAX as usize + 1];
        // SAFETY: the dentry is a queue's and valid (type invariant); `f` and `name` have
        // the layout and room the helper writes.
        unsafe { ckpt_helper_mq(self.0.as_ptr(), &mut f, name.as_mut_ptr()) };
        (f, name)
    }

    /// Of a queue of `n` messages: the payloads of their `MQ_MSG` records, each text padded
    /// to 8 bytes, into `buf`; the bytes written, or `EAGAIN` if the queue changed.
    pub(crate) fn copy(&self, buf: &mut [u8], n: u64) -> Result<usize> {
        // SAFETY: the dentry is a queue's and valid (type invariant); `buf` is writable for
        // its length.
        check(unsafe { ckpt_helper_mq_copy(self.0.as_ptr(), buf.as_mut_ptr(), buf.len(), n) })
    }
}

impl Drop for Mq {
    fn drop(&mut self) {
        // SAFETY: the reference is ours (type invariant).
        unsafe { ckpt_helper_dput(self.0.as_ptr()) };
    }
}

impl Drop for IpcNs {
    fn drop(&mut self) {
        // SAFETY: the reference is ours (type invariant).
        unsafe { ckpt_helper_put_ipc_ns(self.0.as_ptr()) };
    }
}

/// The objects of one kind of a namespace, held still.
///
/// # Invariants
///
/// The ids' rwsem of `kind` in `ns` is held for reading by this value.
pub(crate) struct Ids<'a> {
    ns: &'a IpcNs,
    kind: Kind,
    next: i32,
}

impl Ids<'_> {
    /// Starts again from the first object.
    pub(crate) fn rewind(&mut self) {
        self.next = 0;
    }

    /// The next object, in the order of the index of its id; `None` after the last.
    pub(crate) fn next_object(&mut self) -> Option<Object<'_>> {
        if self.next < 0 {
            return None;
        }
        let mut idx = self.next;
        // SAFETY: the namespace is valid and the rwsem held (type invariants), as
        // `idr_get_next` needs.
        let p = unsafe { ckpt_helper_ipc_next(self.ns.0.as_ptr(), self.kind as i32, &mut idx) };
        let p = NonNull::new(p)?;
        self.next = idx.checked_add(1).unwrap_or(-1);
        // INVARIANT: an object of the held ids lives while they are held.
        Some(Object(p, PhantomData))
    }
}

impl Drop for Ids<'_> {
    fn drop(&mut self) {
        // SAFETY: the rwsem is held by this value (type invariant).
        unsafe { ckpt_helper_ipc_ids_unlock(self.ns.0.as_ptr(), self.kind as i32) };
    }
}

/// One SysV object, of the kind of the [`Ids`] it came from.
///
/// # Invariants
///
/// The pointer is the `kern_ipc_perm` of a live object of the held ids of lifetime `'a`.
pub(crate) struct Object<'a>(NonNull<bindings::kern_ipc_perm>, PhantomData<&'a ()>);

impl Object<'_> {
    fn raw(&self) -> *mut bindings::kern_ipc_perm {
        self.0.as_ptr()
    }

    /// Its key, id, owners and mode, owners in the caller's user namespace.
    pub(crate) fn perm(&self) -> img::CkptIpcPerm {
        let mut p = img::CkptIpcPerm::new_zeroed();
        // SAFETY: the object is valid (type invariant); `p` is writable, of the C layout.
        unsafe { ckpt_helper_ipc_perm(self.raw(), &mut p) };
        p
    }

    /// Of a segment ([`Kind::Shm`] only): its facts and its file.
    pub(crate) fn shm(&self) -> Result<(ShmFacts, FileRef)> {
        let mut f = ShmFacts::default();
        // SAFETY: the object is a segment (the caller's kind) and valid (type invariant);
        // the helper returns a counted reference to its file, never NULL.
        let file = unsafe { ckpt_helper_shm(self.raw(), &mut f) };
        // SAFETY: the reference is handed over.
        let file = unsafe { FileRef::from_raw(file) }.ok_or(EINVAL)?;
        Ok((f, file))
    }

    /// Of a message queue ([`Kind::Msg`] only).
    pub(crate) fn msq(&self) -> MsqFacts {
        let mut f = MsqFacts::default();
        // SAFETY: the object is a queue (the caller's kind) and valid (type invariant).
        unsafe { ckpt_helper_msq(self.raw(), &mut f) };
        f
    }

    /// Of a message queue of `qnum` messages: the payloads of their `SYSV_MSG` records into
    /// `buf`; the bytes written, or `EAGAIN` if the queue changed.
    pub(crate) fn msq_copy(&self, buf: &mut [u8], qnum: u64) -> Result<usize> {
        // SAFETY: the object is a queue and valid (type invariant); `buf` is writable for
        // its length.
        check(unsafe { ckpt_helper_msq_copy(self.raw(), buf.as_mut_ptr(), buf.len(), qnum) })
    }

    /// Of a semaphore set ([`Kind::Sem`] only): its semaphores, and whether a process has
    /// undo adjustments (`SEM_UNDO`) for it.
    pub(crate) fn sem_nsems(&self) -> (u32, bool) {
        let mut undo = 0;
        // SAFETY: the object is a set and valid (type invariant).
        let n = unsafe { ckpt_helper_sem_nsems(self.raw(), &mut undo) };
        (n, undo != 0)
    }

    /// Of a semaphore set of `adj.len()` semaphores: its `idx`-th undo entry, its
    /// adjustments into `adj`; the identity of the undo list it is of ([`undo_list`]), or
    /// `None` after the last.
    pub(crate) fn sem_undo(&self, idx: u32, adj: &mut [i32]) -> Result<Option<u64>> {
        let n = u32::try_from(adj.len()).map_err(|_| EINVAL)?;
        let mut ulp = 0;
        // SAFETY: the object is a set and valid (type invariant); `adj` is writable for `n`
        // values.
        let r = unsafe { ckpt_helper_sem_undo(self.raw(), idx, &mut ulp, adj.as_mut_ptr(), n) };
        check(r as isize)?;
        Ok((r == 1).then_some(ulp))
    }

    /// Of a semaphore set of `vals.len()` semaphores: their values.
    pub(crate) fn sem_values(&self, vals: &mut [i32]) -> Result {
        let n = u32::try_from(vals.len()).map_err(|_| EINVAL)?;
        // SAFETY: the object is a set and valid (type invariant); `vals` is writable for
        // `n` values.
        check(unsafe { ckpt_helper_sem_values(self.raw(), vals.as_mut_ptr(), n) } as isize)?;
        Ok(())
    }
}

/// The segment an attach (`f`, a memory area's file that [`FileRef::is_sysv_shm`]) maps:
/// the address of the segment's own file (identity only) and its id.
pub(crate) fn attach_segment(f: &FileRef) -> (u64, i32) {
    let mut id = 0;
    // SAFETY: the file is valid while `f` lives and is an attach's, whose private data is
    // the attach's `shm_file_data`.
    let seg = unsafe { ckpt_helper_shm_attach_segment(f.raw(), &mut id) };
    (seg as u64, id)
}
