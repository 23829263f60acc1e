// SPDX-License-Identifier: GPL-2.0

//! Tasks: a reference on a [`Task`] and what can be read of a stopped one.
//!
//! Built on the kernel crate's [`Task`] (`ARef<Task>`), [`Credential`] and [`PidNamespace`];
//! fields of `bindings::task_struct` that are stable on a stopped, referenced task are read
//! here. `helpers.c` is called only for what needs a lock or an iteration macro Rust cannot
//! take (`siglock`, `task_lock`, the fd table under RCU, the pipe ring, the thread list).

use core::ffi::c_void;
use core::mem::offset_of;
use core::ptr::{self, NonNull};

use kernel::alloc::VVec;
use kernel::bindings;
use kernel::cred::Credential;
use kernel::pid_namespace::PidNamespace;
use kernel::prelude::*;
use kernel::sync::aref::ARef;
use kernel::task::Task;
use zerocopy::FromZeros;

use super::file::FileRef;
use super::mm::MmRef;
use super::{check, fill_growing};
use crate::uapi::image as img;

/// Where a task stands, as the checkpoint needs to know.
pub(crate) struct TaskState {
    /// Ptrace-attached by the caller.
    pub(crate) traced_by_current: bool,
    /// In a ptrace stop.
    pub(crate) stopped: bool,
    pub(crate) kthread: bool,
    pub(crate) is_current: bool,
    pub(crate) has_mm: bool,
}

/// What only a lock held in C can tell of a task's use of state the checkpoint cannot save
/// (`ckpt_helper_task_unsupported`); the rest of [`Unsupported`] is read here.
#[repr(C)]
#[derive(Default)]
struct LockedFacts {
    sem_undo: u32,
    mdwe: u32,
    seccomp_mode: u32,
}

/// The raw facts of a task's state that this version cannot save; `crate::task` decides.
pub(crate) struct Unsupported {
    /// A SysV semaphore undo list in use.
    pub(crate) sem_undo: bool,
    /// `PR_SET_MDWE`.
    pub(crate) mdwe: bool,
    /// `task->seccomp.mode` (`bindings::SECCOMP_MODE_*`).
    pub(crate) seccomp_mode: u32,
    /// `task->flags` (`bindings::PF_*`), `task->atomic_flags` (`bindings::PFA_*` bits),
    /// `thread_info.flags` (`bindings::TIF_*` bits) and `thread_info.syscall_work`.
    pub(crate) flags: u32,
    pub(crate) atomic_flags: usize,
    pub(crate) tif: usize,
    pub(crate) syscall_work: usize,
}

/// A task's namespaces but pid (`ckpt_helper_task_ns`), by the addresses of their structs,
/// compared, never followed; indexed by [`NsIds::KINDS`], all 0 once the task has exited.
#[repr(C)]
#[derive(Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NsIds(pub(crate) [u64; 7]);

impl NsIds {
    /// The kinds, in the order of `CKPT_H_NS_*` (`helpers.h`), as refusals name them.
    pub(crate) const KINDS: [&'static str; 7] =
        ["UTS", "IPC", "mount", "network", "cgroup", "time", "user"];
    pub(crate) const UTS: usize = 0;
    pub(crate) const IPC: usize = 1;
    pub(crate) const NET: usize = 3;
    pub(crate) const TIME: usize = 5;

    /// The caller's.
    pub(crate) fn current() -> Self {
        let mut n = Self::default();
        // SAFETY: a NULL task is the caller; `n` is a writable `struct ckpt_h_ns`.
        unsafe { ckpt_helper_task_ns(ptr::null_mut(), &mut n) };
        n
    }
}

/// What the tree's consistency is decided on, besides a task's `TREE` entry
/// (`ckpt_helper_task_tree`). The `u64` fields are addresses, compared, never followed.
#[repr(C)]
#[derive(Default, Clone, Copy)]
pub(crate) struct TreeFacts {
    pub(crate) zombie: u32,
    /// In a group stop (`SIGNAL_STOP_STOPPED`).
    pub(crate) group_stopped: u32,
    pub(crate) subreaper: u32,
    /// The thread-group leader.
    pub(crate) leader: u32,
    /// Its pid namespace and its children's are the tree's.
    pub(crate) in_ns: u32,
    /// The init (child reaper) of that namespace.
    pub(crate) ns_init: u32,
    pub(crate) nr_threads: u32,
    pub(crate) files_users: u32,
    pub(crate) fs_users: u32,
    pub(crate) sighand_users: u32,
    /// `mm_users`: the tasks using its memory, and whoever holds it for a moment (`mmget`:
    /// a reader of `/proc/PID/status`...).
    pub(crate) mm_users: u32,
    pub(crate) reserved: u32,
    pub(crate) mm: u64,
    pub(crate) files: u64,
    pub(crate) fs: u64,
    pub(crate) sighand: u64,
}

/// What the checkpoint must know of a descriptor besides the fields of its `FILE` record
/// (`ckpt_helper_task_next_fd`).
#[repr(C)]
#[derive(Default)]
pub(crate) struct FdFacts {
    /// The open file description's identity.
    pub(crate) file_id: u64,
    /// A pipe's or FIFO's identity (its `pipe_inode_info`), else 0.
    pub(crate) pipe_id: u64,
    /// `s_magic` of its filesystem.
    pub(crate) fs_magic: u64,
    /// The file was deleted.
    pub(crate) unlinked: u32,
    /// The file is on a kernel-internal mount (memfd, shared memory): no path reopens it.
    pub(crate) internal: u32,
    /// `F_SETOWN` gave it an owner.
    pub(crate) owned: u32,
    /// The owner's pid or process group, in the caller's pid namespace.
    pub(crate) owner: i32,
    /// `enum pid_type` of the owner (`bindings::pid_type_PIDTYPE_*`).
    pub(crate) owner_type: u32,
    /// `F_SETSIG`'s signal, 0 for `SIGIO`.
    pub(crate) signum: i32,
}

/// An open descriptor: its number, its `FILE` record with the fields the kernel holds
/// filled in (`mode`, `flags`, `pos`, `cloexec`, `rdev`, `path_len`), and what else is known.
pub(crate) struct OpenFd {
    pub(crate) fd: u32,
    pub(crate) rec: img::CkptFileRec,
    pub(crate) facts: FdFacts,
}

/// What ptrace's rules grant the caller over a task (`ckpt_helper_task_access`): the facts of
/// `__ptrace_may_access` and `ptracer_access_allowed`, which are not exported.
#[repr(C)]
#[derive(Default)]
pub(crate) struct Access {
    /// The caller's real uid and gid are the task's real, effective and saved ones.
    pub(crate) same_creds: u32,
    /// The caller has `CAP_SYS_PTRACE` in the user namespace of the task's credentials.
    pub(crate) creds_capable: u32,
    /// The task is dumpable by its owner (`TASK_DUMPABLE_OWNER`): not after a setuid or
    /// setgid exec, an exec of an unreadable file, or `prctl(PR_SET_DUMPABLE, 0)`.
    pub(crate) dumpable: u32,
    /// The caller has `CAP_SYS_PTRACE` in the user namespace of the task's exec.
    pub(crate) exec_capable: u32,
}

/// A task's root or working directory (`ckpt_helper_task_fs_path`), besides its path.
#[repr(C)]
#[derive(Default)]
pub(crate) struct FsDir {
    /// The directory was removed (its path ends with `" (deleted)"`).
    pub(crate) unlinked: u32,
    /// So was the directory it was in.
    pub(crate) parent_unlinked: u32,
    /// Its inode's `i_mode`.
    pub(crate) mode: u32,
    /// Its owner and group, in the caller's user namespace.
    pub(crate) uid: u32,
    pub(crate) gid: u32,
}

/// What `ckpt_helper_task_signals` read under the task's `siglock`: the task's pending sets.
#[repr(C)]
#[derive(Default)]
pub(crate) struct PendingSets {
    /// Signals pending for the task itself (`task->pending.signal`).
    pub(crate) private: u64,
    /// Signals pending for the whole process (`task->signal->shared_pending.signal`).
    pub(crate) shared: u64,
}

// Structs filled by helpers.c that are not image records: their C twins in helpers.h
// assert the same offsets, so that two swapped fields of one size cannot pass.
const _: () = {
    assert!(size_of::<TreeFacts>() == 80);
    assert!(offset_of!(TreeFacts, leader) == 12 && offset_of!(TreeFacts, in_ns) == 16);
    assert!(offset_of!(TreeFacts, files_users) == 28 && offset_of!(TreeFacts, sighand_users) == 36);
    assert!(offset_of!(TreeFacts, mm_users) == 40 && offset_of!(TreeFacts, mm) == 48);
    assert!(offset_of!(TreeFacts, sighand) == 72);
    assert!(size_of::<Access>() == 16 && offset_of!(Access, dumpable) == 8);
    assert!(size_of::<FdFacts>() == 48);
    assert!(offset_of!(FdFacts, pipe_id) == 8 && offset_of!(FdFacts, fs_magic) == 16);
    assert!(offset_of!(FdFacts, unlinked) == 24 && offset_of!(FdFacts, owner) == 36);
    assert!(offset_of!(FdFacts, signum) == 44);
    assert!(size_of::<LockedFacts>() == 12);
    assert!(offset_of!(LockedFacts, mdwe) == 4 && offset_of!(LockedFacts, seccomp_mode) == 8);
    assert!(size_of::<NsIds>() == 56);
    assert!(size_of::<PendingSets>() == 16);
};

type TaskPtr = *mut bindings::task_struct;
type NsPtr = *mut bindings::pid_namespace;

// Only pointers to these C structs cross: `task_struct` has members that are empty structs
// in this configuration (as in C), which the lint flags although no such value is passed.
#[allow(
    improper_ctypes,
    reason = "pointers to bindgen structs with empty members"
)]
extern "C" {
    fn ckpt_helper_task_unsupported(task: TaskPtr, out: *mut LockedFacts);
    fn ckpt_helper_task_info(task: TaskPtr, ns: NsPtr, out: *mut img::CkptTaskRec);
    fn ckpt_helper_task_ns(task: TaskPtr, out: *mut NsIds);
    fn ckpt_helper_task_uts(task: TaskPtr, uts: *mut img::CkptUtsNsRec) -> i32;
    fn ckpt_helper_task_timens(
        task: TaskPtr,
        out: *mut img::CkptTimeNsRec,
        pending: *mut bool,
    ) -> i32;
    fn ckpt_helper_task_tree(
        task: TaskPtr,
        ns: NsPtr,
        entry: *mut img::CkptTreeEntry,
        out: *mut TreeFacts,
    );
    fn ckpt_helper_task_relatives(task: TaskPtr, ns: NsPtr, out: *mut i32, max: u32) -> i32;
    fn ckpt_helper_task_file(task: TaskPtr, fd: u32) -> *mut bindings::file;
    fn ckpt_helper_task_pipe_data(
        task: TaskPtr,
        fd: u32,
        buf: *mut u8,
        size: u32,
        capacity: *mut u32,
    ) -> i32;
    fn ckpt_helper_task_rlimits(task: TaskPtr, out: *mut img::CkptRlimitsRec);
    fn ckpt_helper_task_access(task: TaskPtr, out: *mut Access);
    fn ckpt_helper_checkpoint_restore_capable(granted: *mut bindings::user_namespace) -> i32;
    fn ckpt_helper_exe_grant() -> *mut bindings::user_namespace;
    fn ckpt_helper_put_user_ns(ns: *mut bindings::user_namespace);
    fn ckpt_helper_nofile_limit() -> u64;
    fn ckpt_helper_task_fs_path(
        task: TaskPtr,
        pwd: i32,
        buf: *mut u8,
        len: i32,
        out: *mut FsDir,
    ) -> i32;
    fn ckpt_helper_task_sigactions(task: TaskPtr, out: *mut img::CkptSighandRec);
    fn ckpt_helper_task_signals(
        task: TaskPtr,
        out: *mut img::CkptSignalsRec,
        pending: *mut PendingSets,
        infos: *mut img::CkptSiginfoRec,
        max: u32,
    ) -> i32;
    fn ckpt_helper_task_next_fd(
        task: TaskPtr,
        fd: *mut u32,
        rec: *mut img::CkptFileRec,
        out: *mut FdFacts,
        path: *mut u8,
        size: u32,
    ) -> i32;
    fn ckpt_helper_task_regset(task: TaskPtr, note: u32, data: *mut *mut u8) -> i32;
    fn ckpt_helper_charge_to_root() -> *mut c_void;
    fn ckpt_helper_charge_restore(old: *mut c_void);
    fn ckpt_helper_current_pt_regs() -> *mut bindings::pt_regs;
    fn ckpt_helper_set_fsbase(base: u64);
    fn ckpt_helper_task_size_max() -> u64;
    fn ckpt_helper_rseq_sync() -> i32;
}

/// Reads `*p` once, as C's `READ_ONCE`: a field other CPUs may write concurrently.
///
/// # Safety
///
/// `p` must be valid for reads and aligned.
unsafe fn read_once<T: Copy>(p: *const T) -> T {
    // SAFETY: by the function's safety requirements. A volatile read is the kernel's
    // `READ_ONCE` (the Linux kernel memory model's marked access).
    unsafe { ptr::read_volatile(p) }
}

/// The calling task, for restart.
pub(crate) mod current {
    use super::*;

    /// `TASK_SIZE_MAX`: where user addresses end. It depends on the paging mode found at
    /// boot (`task_size_max()`, a static inline), so `bindings` has no constant for it.
    pub(crate) fn task_size_max() -> u64 {
        // SAFETY: no arguments; evaluates `TASK_SIZE_MAX`.
        unsafe { ckpt_helper_task_size_max() }
    }

    /// Writes `r` into the registers the caller returns to from this system call. The
    /// values are the caller's to check (`crate::regs`): this installs them as they are.
    /// `flags` replaces the bits of `flags_mask` only; `orig_ax` becomes -1 (no system call
    /// to restart), fs selector 0 with base `r.fs_base`.
    pub(crate) fn write_regs(r: &img::CkptRegsRec, flags_mask: usize) {
        // SAFETY: `task_pt_regs(current)` is the caller's own saved user state, on its kernel
        // stack; only the caller reads or writes it while it is in this system call.
        unsafe {
            let p = &mut *ckpt_helper_current_pt_regs();
            // `c_ulong` is `usize`; this module is built for x86-64 only, where it is `u64`.
            macro_rules! copy {
                ($($f:ident),*) => { $(p.$f = r.$f as usize;)* };
            }
            copy!(r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, ip, sp);
            p.orig_ax = usize::MAX;
            p.flags = (p.flags & !flags_mask) | (r.flags as usize & flags_mask);
        }
        // SAFETY: plain value, which the caller checked is below `TASK_SIZE_MAX`.
        unsafe { ckpt_helper_set_fsbase(r.fs_base) };
    }

    /// Sets the blocked signal mask to `mask` (which the caller cleared of what cannot be
    /// blocked).
    pub(crate) fn set_blocked(mask: u64) -> Result {
        // `c_ulong` is `usize`, 64 bits on x86-64, the only target of this module.
        let mut set = bindings::sigset_t {
            sig: [mask as usize],
        };
        // SAFETY: `set` is a valid `sigset_t`; `sigprocmask` acts on the caller and accepts
        // a NULL old set.
        let ret = unsafe {
            bindings::sigprocmask(bindings::SIG_SETMASK as i32, &mut set, ptr::null_mut())
        };
        check(ret as isize).map(|_| ())
    }

    /// After the caller's memory was replaced: makes its rseq area (if it registered one) hold
    /// the ids the kernel last wrote there, as the kernel checks before it writes new ones.
    pub(crate) fn rseq_sync() -> Result {
        // SAFETY: no arguments; writes the caller's own registered rseq area with `put_user`.
        check(unsafe { ckpt_helper_rseq_sync() } as isize).map(|_| ())
    }

    /// Closes one of the caller's descriptors (`EBADF` for a negative number).
    pub(crate) fn close_fd(fd: i32) -> Result {
        let fd = u32::try_from(fd).map_err(|_| EBADF)?;
        // SAFETY: `close_fd` accepts any number.
        check(unsafe { bindings::close_fd(fd) } as isize).map(|_| ())
    }

    /// Takes descriptor `fd` out of the caller's table and puts its file
    /// (`file_close_fd`), without what `close` does on the way (`filp_close`): it keeps the
    /// POSIX locks the caller's table holds on the file through other descriptors, which a
    /// `close` of any descriptor of it drops. Nothing if `fd` is not open.
    pub(crate) fn put_fd_keeping_locks(fd: i32) {
        let Ok(fd) = u32::try_from(fd) else {
            return;
        };
        // SAFETY: `file_close_fd` accepts any number; it returns NULL or the file it took
        // out of the table, with the table's reference, now the caller's.
        let f = unsafe { bindings::file_close_fd(fd) };
        // SAFETY: NULL or a reference this thread owns; an ioctl holds no `fdget_pos` region.
        drop(unsafe { FileRef::from_raw(f) });
    }

    /// While it lives, the caller's `__GFP_ACCOUNT` allocations are charged to the root
    /// memory cgroup (no limit): for the one line a restarting task reports, whose pipe page
    /// its own full cgroup would refuse, losing the reason of the failure.
    ///
    /// # Invariants
    ///
    /// `old` is the caller's active memory cgroup before; the guard is dropped by the task
    /// that made it (`!Send`, through the raw pointer), which puts `old` back.
    pub(crate) struct ChargeToRoot {
        old: *mut c_void,
    }

    impl ChargeToRoot {
        pub(crate) fn new() -> Self {
            // SAFETY: sets the caller's own active memcg to the root's, which lives for good.
            let old = unsafe { ckpt_helper_charge_to_root() };
            // INVARIANT: `old` is what the caller had.
            Self { old }
        }
    }

    impl Drop for ChargeToRoot {
        fn drop(&mut self) {
            // SAFETY: the caller is the task that made the guard (type invariant); `old` is
            // its previous active memcg, still referenced by whoever set it.
            unsafe { ckpt_helper_charge_restore(self.old) }
        }
    }

    /// Queues SIGKILL to the caller: it dies on its way back to userspace.
    pub(crate) fn kill_self() {
        // SAFETY: `force_sig` acts on the caller.
        unsafe { bindings::force_sig(bindings::SIGKILL as i32) }
    }

    /// Queues SIGSTOP to the caller: it stops on its way back to userspace.
    pub(crate) fn stop_self() {
        // SAFETY: `current` is a valid task; `send_sig` takes its siglock itself.
        unsafe { bindings::send_sig(bindings::SIGSTOP as i32, Task::current_raw(), 1) };
    }

    /// The identity (address) of the caller's memory, 0 for none: compared, never followed.
    pub(crate) fn mm_id() -> u64 {
        super::super::mm::current::id()
    }

    /// Sleeps `ms` milliseconds, or less if SIGKILL comes.
    pub(crate) fn sleep_killable(ms: u32) {
        // SAFETY: sleeps the caller; any timeout is accepted.
        unsafe { bindings::schedule_timeout_killable(kernel::time::msecs_to_jiffies(ms) as isize) };
    }

    /// The caller's `RLIMIT_DATA` soft limit, in bytes (`u64::MAX`: none).
    pub(crate) fn data_limit() -> u64 {
        TaskRef::current().data_limit()
    }

    /// The caller's `RLIMIT_MEMLOCK` soft limit: the bytes it may lock.
    pub(crate) fn memlock_limit() -> u64 {
        let mut r = <img::CkptRlimitsRec as zerocopy::FromZeros>::new_zeroed();
        TaskRef::current().rlimits(&mut r);
        r.rlim
            .get(bindings::RLIMIT_MEMLOCK as usize)
            .map_or(u64::MAX, |l| l.cur)
    }

    /// The caller's `RLIMIT_NOFILE` soft limit: the open files it may hold.
    pub(crate) fn nofile_limit() -> u64 {
        // SAFETY: no arguments; reads the caller's own limit.
        unsafe { ckpt_helper_nofile_limit() }
    }

    /// Whether the caller has `CAP_CHECKPOINT_RESTORE` (or `CAP_SYS_ADMIN`) in its user
    /// namespace, what `prctl(PR_SET_MM_MAP)` asks to set the executable file, or `granted`
    /// gives it there: the session's coordinator had it, at `CKPT_IOC_RESTART_BEGIN`, in
    /// that namespace or an ancestor. The coordinator counts because `rstr` begins the
    /// session, then sets each task's image credentials before its restart ioctl: a
    /// process restored by root as nobody has no capability left by then.
    pub(crate) fn checkpoint_restore_capable(granted: Option<&super::ExeGrant>) -> bool {
        let ns = granted.map_or(ptr::null_mut(), |g| g.0.as_ptr());
        // SAFETY: `ns` is NULL or a namespace `granted` holds a reference on; the helper
        // only reads it and the caller's credentials.
        unsafe { ckpt_helper_checkpoint_restore_capable(ns) != 0 }
    }

    /// Whether the caller has been sent SIGKILL (`fatal_signal_pending`, a static inline).
    pub(crate) fn fatal_signal_pending() -> bool {
        let cur = kernel::current!();
        let p = cur.as_ptr();
        // SAFETY: `current` is valid; its pending set is read without its siglock, as
        // `__fatal_signal_pending` reads it: a set SIGKILL bit is never cleared under us.
        let set = unsafe { read_once(&raw const (*p).pending.signal.sig[0]) };
        cur.signal_pending() && set & (1 << (bindings::SIGKILL - 1)) != 0
    }
}

/// A user namespace in which the coordinator of a restart session held
/// `CAP_CHECKPOINT_RESTORE` (or `CAP_SYS_ADMIN`) when it began the session
/// ([`current::checkpoint_restore_capable`]).
///
/// # Invariants
///
/// The pointer is a valid `struct user_namespace` on which this value holds a reference.
pub(crate) struct ExeGrant(NonNull<bindings::user_namespace>);

// SAFETY: a reference on a user namespace may be put from any thread.
unsafe impl Send for ExeGrant {}
// SAFETY: a shared `ExeGrant` only lends its pointer to `current_in_userns`, which reads it.
unsafe impl Sync for ExeGrant {}

impl ExeGrant {
    /// The caller's user namespace, if the caller has the capability there now.
    pub(crate) fn current() -> Option<Self> {
        // SAFETY: no arguments; the helper returns a namespace with a new reference, or NULL.
        NonNull::new(unsafe { ckpt_helper_exe_grant() }).map(ExeGrant)
    }
}

impl Drop for ExeGrant {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we hold a reference on the namespace; this puts it.
        unsafe { ckpt_helper_put_user_ns(self.0.as_ptr()) }
    }
}

/// A reference on a task; `clone` takes another.
#[derive(Clone)]
pub(crate) struct TaskRef(ARef<Task>);

/// Which path of a task's `fs_struct`.
pub(crate) enum FsPath {
    Root,
    Cwd,
}

/// A buffer `kmalloc`ed by `regset_get_alloc`, freed on drop.
///
/// # Invariants
///
/// `ptr` points to `len` initialised bytes allocated with `kmalloc` and owned by this value.
pub(crate) struct RegsetBuf {
    ptr: NonNull<u8>,
    len: usize,
}

impl RegsetBuf {
    pub(crate) fn as_slice(&self) -> &[u8] {
        // SAFETY: by the type invariant, `ptr` is valid for reads of `len` bytes.
        unsafe { core::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for RegsetBuf {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the buffer came from kmalloc and is ours.
        unsafe { bindings::kfree(self.ptr.as_ptr().cast()) }
    }
}

/// `NT_PRSTATUS`: the general registers (`struct user_regs_struct`).
pub(crate) const NT_PRSTATUS: u32 = bindings::NT_PRSTATUS;
/// `NT_X86_XSTATE`: the XSAVE area.
pub(crate) const NT_X86_XSTATE: u32 = bindings::NT_X86_XSTATE;

/// The pid namespace that numbers pids for `ns`: that task's, or the caller's.
enum Ns {
    Counted(ARef<PidNamespace>),
    Current,
}

impl TaskRef {
    /// The task with this pid in the caller's pid namespace.
    pub(crate) fn lookup(vpid: i32) -> Option<TaskRef> {
        // SAFETY: `find_get_pid` accepts any number; it returns a counted pid or NULL.
        let pid = unsafe { bindings::find_get_pid(vpid) };
        if pid.is_null() {
            return None;
        }
        // SAFETY: `pid` is a counted pid; `get_pid_task` returns a counted task or NULL.
        let task = unsafe { bindings::get_pid_task(pid, bindings::pid_type_PIDTYPE_PID) };
        // SAFETY: drops the reference `find_get_pid` took.
        unsafe { bindings::put_pid(pid) };
        let task = NonNull::new(task)?;
        // SAFETY: `get_pid_task` took the reference the `ARef` now owns; `Task` is a
        // transparent wrapper of `task_struct`.
        Some(TaskRef(unsafe { ARef::from_raw(task.cast()) }))
    }

    /// The calling task.
    pub(crate) fn current() -> TaskRef {
        TaskRef(ARef::from(&**kernel::current!()))
    }

    pub(super) fn raw(&self) -> TaskPtr {
        self.0.as_ptr()
    }

    /// Whether this is the calling task.
    pub(crate) fn is_current(&self) -> bool {
        core::ptr::eq(self.raw(), Self::current().raw())
    }

    /// Runs `f` with the pid namespace that numbers pids: the one of `ns`, the caller's if
    /// `None`. `ESRCH` once the task of `ns` is reaped (its pid, and with it its namespace,
    /// detached).
    pub(super) fn with_ns<R>(ns: Option<&TaskRef>, f: impl FnOnce(NsPtr) -> R) -> Result<R> {
        let ns = match ns {
            Some(t) => Ns::Counted(t.0.get_pid_ns().ok_or(ESRCH)?),
            None => Ns::Current,
        };
        match &ns {
            Ns::Counted(ns) => Ok(f(ns.as_ptr())),
            Ns::Current => {
                let cur = kernel::current!();
                let ns = cur.active_pid_ns().ok_or(ESRCH)?;
                Ok(f(ns.as_ptr()))
            }
        }
    }

    /// Whether the task is exiting or dead.
    pub(crate) fn exiting(&self) -> bool {
        let t = self.raw();
        // SAFETY: the task is valid while referenced; the fields are written by the task
        // itself or at its exit, read once.
        let (flags, exit_state) = unsafe {
            (
                read_once(&raw const (*t).flags),
                read_once(&raw const (*t).exit_state),
            )
        };
        flags & bindings::PF_EXITING != 0 || exit_state != 0
    }

    /// Where the task stands: traced and stopped by the caller, a kernel thread, ...
    pub(crate) fn state(&self) -> TaskState {
        let t = self.raw();
        let cur = Task::current_raw();
        let rcu = kernel::sync::rcu::read_lock();
        // SAFETY: the task is valid while referenced. As `ptrace_parent()`: `parent` is
        // RCU-protected and only compared here, never followed.
        let tracer = unsafe {
            if read_once(&raw const (*t).ptrace) != 0 {
                read_once(&raw const (*t).parent)
            } else {
                ptr::null_mut()
            }
        };
        drop(rcu);
        // SAFETY: the task is valid while referenced; each field is read once, as
        // `task_is_traced()` and `READ_ONCE(task->mm)` read them.
        let (jobctl, flags, mm) = unsafe {
            (
                read_once(&raw const (*t).jobctl),
                read_once(&raw const (*t).flags),
                read_once(&raw const (*t).mm),
            )
        };
        TaskState {
            traced_by_current: tracer == cur,
            stopped: jobctl & bindings::JOBCTL_TRACED as usize != 0,
            kthread: flags & bindings::PF_KTHREAD != 0,
            is_current: t == cur,
            has_mm: !mm.is_null(),
        }
    }

    /// Its place in the tree: its `TREE` entry with pids as seen in the namespace of `ns`
    /// (the caller's if `None`), exit code and signal (flags and object ids are left 0),
    /// and the facts the tree is checked on. `ESRCH` once the task of `ns` is reaped.
    pub(crate) fn tree(
        &self,
        ns: Option<&TaskRef>,
        entry: &mut img::CkptTreeEntry,
    ) -> Result<TreeFacts> {
        let mut t = TreeFacts::default();
        // SAFETY: the task and the namespace are valid; `entry` is a writable record of the
        // C layout, `t` is writable.
        Self::with_ns(ns, |ns| unsafe {
            ckpt_helper_task_tree(self.raw(), ns, entry, &mut t)
        })?;
        Ok(t)
    }

    /// The thread ids of its children and, for a thread-group leader, of its other threads.
    pub(crate) fn relatives(&self, ns: Option<&TaskRef>, out: &mut KVec<i32>) -> Result {
        Self::with_ns(ns, |ns| {
            fill_growing(
                out,
                || 0,
                // SAFETY: the task and the namespace are valid; `buf` has room for `room`
                // entries.
                |buf, room| unsafe { ckpt_helper_task_relatives(self.raw(), ns, buf, room) },
            )
        })?
    }

    /// The file open at `fd`, referenced.
    pub(crate) fn file(&self, fd: u32) -> Result<crate::sys::file::FileRef> {
        // SAFETY: the task is valid; the helper returns NULL or a new reference, taken in
        // an ioctl, outside any `fdget_pos` region.
        unsafe { crate::sys::file::FileRef::from_raw(ckpt_helper_task_file(self.raw(), fd)) }
            .ok_or(EBADF)
    }

    /// What is buffered in the anonymous pipe open at `fd`, into `buf` (whose capacity is
    /// the most taken: `E2BIG` beyond); returns the pipe's capacity in bytes.
    pub(crate) fn pipe_data(&self, fd: u32, buf: &mut VVec<u8>) -> Result<u32> {
        let mut capacity = 0;
        buf.clear();
        let room = u32::try_from(buf.capacity()).map_err(|_| EINVAL)?;
        // SAFETY: the task is valid; `buf` has room for `room` bytes.
        let ret = unsafe {
            ckpt_helper_task_pipe_data(self.raw(), fd, buf.as_mut_ptr(), room, &mut capacity)
        };
        let n = check(ret as isize)?;
        if n > room as usize {
            return Err(EINVAL);
        }
        // SAFETY: the helper initialised `n <= room` bytes.
        unsafe { buf.inc_len(n) };
        Ok(capacity)
    }

    /// What this task uses that cannot be saved yet, as raw facts.
    pub(crate) fn unsupported(&self) -> Unsupported {
        let mut l = LockedFacts::default();
        // SAFETY: the task is valid; `l` is writable.
        unsafe { ckpt_helper_task_unsupported(self.raw(), &mut l) };
        let t = self.raw();
        // SAFETY: the task is valid and stopped: its flags and thread flags are changed only
        // by itself or by system calls naming it, read once here.
        let (flags, atomic_flags, tif, syscall_work) = unsafe {
            (
                read_once(&raw const (*t).flags),
                read_once(&raw const (*t).atomic_flags),
                read_once(&raw const (*t).thread_info.flags),
                read_once(&raw const (*t).thread_info.syscall_work),
            )
        };
        Unsupported {
            sem_undo: l.sem_undo != 0,
            mdwe: l.mdwe != 0,
            seccomp_mode: l.seccomp_mode,
            flags,
            atomic_flags,
            tif,
            syscall_work,
        }
    }

    /// Its namespaces but pid.
    pub(crate) fn namespaces(&self) -> NsIds {
        let mut n = NsIds::default();
        // SAFETY: the task is valid while referenced; `n` is a writable `struct ckpt_h_ns`.
        unsafe { ckpt_helper_task_ns(self.raw(), &mut n) };
        n
    }

    /// The names of its UTS namespace into `uts` (its flags 0). `ESRCH` once it has
    /// exited.
    pub(crate) fn uts(&self, uts: &mut img::CkptUtsNsRec) -> Result {
        // SAFETY: the task is valid while referenced; `uts` is a writable record of the C
        // layout.
        let ret = unsafe { ckpt_helper_task_uts(self.raw(), uts) };
        check(ret as isize)?;
        Ok(())
    }

    /// The offsets of its time namespace with the host's clocks now (a `TIME_NS` record),
    /// and whether its children would get another time namespace than its own (it called
    /// `unshare(CLONE_NEWTIME)` and has not forked since). `ESRCH` once it has exited.
    pub(crate) fn timens(&self) -> Result<(img::CkptTimeNsRec, bool)> {
        let mut r = img::CkptTimeNsRec::new_zeroed();
        let mut pending = false;
        // SAFETY: the task is valid while referenced; `r` is a writable record of the C
        // layout and `pending` a writable bool.
        let ret = unsafe { ckpt_helper_task_timens(self.raw(), &mut r, &mut pending) };
        check(ret as isize)?;
        Ok((r, pending))
    }

    /// The `TASK` record of this task. `ESRCH` once the task of `ns` is reaped.
    pub(crate) fn info(&self, ns: Option<&TaskRef>, out: &mut img::CkptTaskRec) -> Result {
        // SAFETY: the task and the namespace are valid; `out` is a writable record of the C
        // layout (`struct ckpt_task_rec`).
        Self::with_ns(ns, |ns| unsafe {
            ckpt_helper_task_info(self.raw(), ns, out)
        })
    }

    /// The `CREDS` record; the supplementary groups go to `groups`. Ids as seen in the
    /// caller's user namespace.
    pub(crate) fn creds(&self, out: &mut img::CkptCredsRec, groups: &mut KVec<u32>) -> Result {
        // SAFETY: the task is valid; `get_task_cred` returns its credentials, counted.
        let c = unsafe { bindings::get_task_cred(self.raw()) };
        let c = NonNull::new(c.cast_mut()).ok_or(ESRCH)?;
        // SAFETY: the reference `get_task_cred` took is the `ARef`'s; `Credential` is a
        // transparent wrapper of `cred`.
        let cred: ARef<Credential> = unsafe { ARef::from_raw(c.cast()) };
        let c = cred.as_ptr();
        // SAFETY: no arguments; the caller's user namespace lives as long as the caller.
        let ns = unsafe { bindings::current_user_ns() };
        // SAFETY: `from_k*id_munged` take any id and a valid namespace.
        let uid = |k: bindings::kuid_t| unsafe { bindings::from_kuid_munged(ns, k) };
        // SAFETY: as above.
        let gid = |k: bindings::kgid_t| unsafe { bindings::from_kgid_munged(ns, k) };
        // SAFETY: `c` is valid while `cred` is held, and credentials never change once
        // committed; `group_info` holds `ngroups` ids.
        let gi = unsafe {
            let c = &*c;
            out.uid = uid(c.uid);
            out.euid = uid(c.euid);
            out.suid = uid(c.suid);
            out.fsuid = uid(c.fsuid);
            out.gid = gid(c.gid);
            out.egid = gid(c.egid);
            out.sgid = gid(c.sgid);
            out.fsgid = gid(c.fsgid);
            out.securebits = c.securebits;
            out.cap_inheritable = c.cap_inheritable.val;
            out.cap_permitted = c.cap_permitted.val;
            out.cap_effective = c.cap_effective.val;
            out.cap_bset = c.cap_bset.val;
            out.cap_ambient = c.cap_ambient.val;
            let gi = &*c.group_info;
            core::slice::from_raw_parts(gi.gid.as_ptr(), gi.ngroups as usize)
        };
        out.ngroups = gi.len() as u32;
        groups.clear();
        groups.reserve(gi.len(), GFP_KERNEL_ACCOUNT)?;
        for &g in gi {
            groups.push(gid(g), GFP_KERNEL_ACCOUNT)?;
        }
        Ok(())
    }

    /// Its `RLIMIT_DATA` soft limit, in bytes (`u64::MAX`: none).
    pub(crate) fn data_limit(&self) -> u64 {
        let mut r = <img::CkptRlimitsRec as zerocopy::FromZeros>::new_zeroed();
        self.rlimits(&mut r);
        r.rlim
            .get(bindings::RLIMIT_DATA as usize)
            .map_or(u64::MAX, |l| l.cur)
    }

    /// What ptrace's rules grant the caller over the task now.
    pub(crate) fn access(&self) -> Access {
        let mut a = Access::default();
        // SAFETY: the task is valid while referenced; `a` is a writable struct of the C
        // layout (asserted above).
        unsafe { ckpt_helper_task_access(self.raw(), &mut a) };
        a
    }

    /// Every resource limit, indexed by `RLIMIT_*`.
    pub(crate) fn rlimits(&self, out: &mut img::CkptRlimitsRec) {
        const _: () = assert!(img::CKPT_RLIM_NLIMITS == bindings::RLIM_NLIMITS as usize);
        // SAFETY: the task is valid; `out` is a writable record of the C layout.
        unsafe { ckpt_helper_task_rlimits(self.raw(), out) };
    }

    /// The root or working directory, into `buf`: its length, whether it was removed, its
    /// mode and owner.
    pub(crate) fn fs_path(&self, which: FsPath, buf: &mut [u8]) -> Result<(usize, FsDir)> {
        let pwd = i32::from(matches!(which, FsPath::Cwd));
        let len = i32::try_from(buf.len()).map_err(|_| EINVAL)?;
        let mut dir = FsDir::default();
        // SAFETY: the task is valid; `buf` is writable for `len` bytes; `dir` is a writable
        // struct of the C layout.
        let ret =
            unsafe { ckpt_helper_task_fs_path(self.raw(), pwd, buf.as_mut_ptr(), len, &mut dir) };
        Ok((check(ret as isize)?, dir))
    }

    /// The dispositions of signals 1 to 64.
    pub(crate) fn sigactions(&self, out: &mut img::CkptSighandRec) {
        const _: () = assert!(img::CKPT_NSIG == bindings::_NSIG as usize);
        // SAFETY: the task is valid; `out` is a writable record of the C layout.
        unsafe { ckpt_helper_task_sigactions(self.raw(), out) };
    }

    /// The signal mask and alternate stack into `out` (`nr_pending` counts the queued
    /// signals), the queued signals with their `siginfo` into `queued` (the task's own,
    /// then the process's), and the sets of pending signals.
    pub(crate) fn signals(
        &self,
        out: &mut img::CkptSignalsRec,
        queued: &mut KVec<img::CkptSiginfoRec>,
    ) -> Result<PendingSets> {
        let mut sets = PendingSets::default();
        fill_growing(
            queued,
            || 0,
            // SAFETY: the task is valid; `out` and `sets` are writable; `buf` has room for
            // `room` records.
            |buf, room| unsafe { ckpt_helper_task_signals(self.raw(), out, &mut sets, buf, room) },
        )?;
        Ok(sets)
    }

    /// The first open descriptor `>= fd`; its path goes to `path`.
    pub(crate) fn next_fd(&self, fd: u32, path: &mut [u8]) -> Result<Option<OpenFd>> {
        let mut o = OpenFd {
            fd,
            rec: zerocopy::FromZeros::new_zeroed(),
            facts: FdFacts::default(),
        };
        let size = u32::try_from(path.len()).map_err(|_| EINVAL)?;
        // SAFETY: the task is valid; all out-pointers are writable, `path` for `size` bytes.
        let ret = unsafe {
            ckpt_helper_task_next_fd(
                self.raw(),
                &mut o.fd,
                &mut o.rec,
                &mut o.facts,
                path.as_mut_ptr(),
                size,
            )
        };
        if check(ret as isize)? == 0 {
            return Ok(None);
        }
        if o.rec.path_len >= size {
            return Err(EINVAL);
        }
        Ok(Some(o))
    }

    /// A register set (`NT_PRSTATUS`, `NT_X86_XSTATE`) of this stopped task; `ESRCH` if it
    /// has left its ptrace stop (a SIGKILL wakes it).
    pub(crate) fn regset(&self, note: u32) -> Result<RegsetBuf> {
        let mut data: *mut u8 = ptr::null_mut();
        // SAFETY: the task is valid by the type invariant; the helper reads its registers
        // only while it is in its ptrace stop, under its siglock; `data` receives a
        // kmalloc'ed buffer.
        let ret = unsafe { ckpt_helper_task_regset(self.raw(), note, &mut data) };
        let len = check(ret as isize)?;
        let ptr = NonNull::new(data).ok_or(EINVAL)?;
        // INVARIANT: `regset_get_alloc` filled `len` bytes of the buffer it kmalloc'ed.
        Ok(RegsetBuf { ptr, len })
    }

    /// Reads `buf.len()` bytes at `addr` of this task's memory even where it is not
    /// readable, as ptrace's peek does (`access_process_vm` with `FOLL_FORCE`); `EFAULT`
    /// if not all of it is mapped.
    pub(crate) fn peek(&self, addr: u64, buf: &mut [u8]) -> Result {
        let len = i32::try_from(buf.len()).map_err(|_| EINVAL)?;
        // SAFETY: the task is valid by the type invariant; without `FOLL_WRITE` the call
        // writes at most `len` bytes into `buf`, which is writable for that many.
        let n = unsafe {
            bindings::access_process_vm(
                self.raw().cast(),
                addr as usize,
                buf.as_mut_ptr().cast(),
                len,
                bindings::FOLL_FORCE,
            )
        };
        if n != len {
            return Err(EFAULT);
        }
        Ok(())
    }

    /// The task's memory, if it has any.
    pub(crate) fn mm(&self) -> Option<MmRef> {
        // SAFETY: the task is valid by the type invariant.
        unsafe { MmRef::of_task(self.raw().cast()) }
    }
}

/// What the descriptor of a unix socket shows (`ckpt_helper_task_unix`), read under the
/// socket's locks; `family` and `sock_type` alone for a socket of another family.
#[repr(C)]
pub(crate) struct UnixFacts {
    /// The `struct sock`'s address: identity only.
    pub(crate) sock: u64,
    /// The peer's (`unix_peer`), else 0.
    pub(crate) peer: u64,
    /// The `struct unix_address` it is bound to (an accepted socket shares its listener's).
    pub(crate) addr: u64,
    pub(crate) family: u32,
    pub(crate) sock_type: u32,
    /// One of `img::unix_state`.
    pub(crate) state: u32,
    /// `sk_shutdown` (`img::CKPT_UNIX_*_SHUTDOWN`).
    pub(crate) shutdown: u32,
    /// The peer was closed.
    pub(crate) peer_dead: u32,
    /// The peer is a connection not accepted yet (no socket).
    pub(crate) peer_embryo: u32,
    pub(crate) peer_shutdown: u32,
    /// The peer's peer is this socket.
    pub(crate) peer_back: u32,
    pub(crate) backlog: u32,
    pub(crate) sndbuf: u32,
    pub(crate) rcvbuf: u32,
    /// `sk_userlocks` (`SOCK_SNDBUF_LOCK`, `SOCK_RCVBUF_LOCK`).
    pub(crate) userlocks: u32,
    /// `sk_scm_recv_flags`: bit 0 `SO_PASSCRED`, 1 `SO_PASSSEC`, 2 `SO_PASSPIDFD`, 3
    /// `SO_PASSRIGHTS`.
    pub(crate) scm_flags: u32,
    /// Descriptors in flight to it (`SCM_RIGHTS`).
    pub(crate) fds_in_flight: u32,
    /// An out-of-band byte is queued (`MSG_OOB`).
    pub(crate) oob: u32,
    /// `SO_PEEK_OFF`, -1 when off.
    pub(crate) peek_off: i32,
    /// Bit 0: `SO_RCVTIMEO` set, bit 1: `SO_SNDTIMEO` set.
    pub(crate) timeo: u32,
    pub(crate) rcvlowat: i32,
    /// A socket filter is attached.
    pub(crate) filter: u32,
    /// Queued messages sent by another socket than the peer.
    pub(crate) foreign: u32,
    /// Queued messages carrying descriptors.
    pub(crate) with_fds: u32,
    /// Messages queued; a listening socket's: connections not accepted yet.
    pub(crate) queued: u32,
    /// Bytes queued, unread, copied into the buffer.
    pub(crate) bytes: u32,
    pub(crate) name_len: u32,
    /// 0 (unbound, or an abstract name), [`UNIX_PATH_BOUND`] or [`UNIX_PATH_GONE`].
    pub(crate) path_state: u32,
    /// Of the bound file's path, in the path buffer.
    pub(crate) path_len: u32,
    /// `sun_path` as bound (`name_len` bytes).
    pub(crate) name: [u8; 108],
    /// The options that change what is read: `UNIX_OPT_*` bits.
    pub(crate) read_opts: u32,
    /// `sk_rcvtimeo` and `sk_sndtimeo` in jiffies (`MAX_SCHEDULE_TIMEOUT` for none).
    pub(crate) rcvtimeo: u64,
    pub(crate) sndtimeo: u64,
    /// `HZ`: the unit of the jiffies fields.
    pub(crate) hz: u32,
    /// `sk_peer_pid` in the pid namespace asked, 0 for none or not visible there.
    pub(crate) cred_pid: i32,
    /// `sk_peer_cred` is set: `cred_uid` and `cred_gid` are its effective ids in the
    /// caller's user namespace (what `SO_PEERCRED` shows).
    pub(crate) has_cred: u32,
    pub(crate) cred_uid: u32,
    pub(crate) cred_gid: u32,
    pub(crate) __reserved2: u32,
}

/// [`UnixFacts::read_opts`]: `SO_TIMESTAMP` (`SOCK_RCVTSTAMP`).
pub(crate) const UNIX_OPT_TIMESTAMP: u32 = 1 << 0;
/// [`UnixFacts::read_opts`]: `SO_TIMESTAMPNS` (`SOCK_RCVTSTAMPNS`).
pub(crate) const UNIX_OPT_TIMESTAMPNS: u32 = 1 << 1;
/// [`UnixFacts::read_opts`]: `SO_TIMESTAMPING` (`sk_tsflags`).
pub(crate) const UNIX_OPT_TIMESTAMPING: u32 = 1 << 2;
/// [`UnixFacts::read_opts`]: `SO_INQ`.
pub(crate) const UNIX_OPT_INQ: u32 = 1 << 3;
/// [`UnixFacts::read_opts`]: `SO_RIGHTS_NOTRUNC`.
pub(crate) const UNIX_OPT_RIGHTS_NOTRUNC: u32 = 1 << 4;
/// [`UnixFacts::read_opts`]: `SO_OOBINLINE` (`SOCK_URGINLINE`).
pub(crate) const UNIX_OPT_OOBINLINE: u32 = 1 << 5;

/// [`UnixFacts::path_state`]: bound to a file, whose path is in the buffer.
pub(crate) const UNIX_PATH_BOUND: u32 = 1;
/// [`UnixFacts::path_state`]: bound to a file that was unlinked since.
pub(crate) const UNIX_PATH_GONE: u32 = 2;

const _: () = {
    assert!(size_of::<UnixFacts>() == 280);
    assert!(offset_of!(UnixFacts, family) == 24 && offset_of!(UnixFacts, backlog) == 56);
    assert!(offset_of!(UnixFacts, scm_flags) == 72 && offset_of!(UnixFacts, foreign) == 100);
    assert!(offset_of!(UnixFacts, name_len) == 116 && offset_of!(UnixFacts, name) == 128);
    assert!(offset_of!(UnixFacts, read_opts) == 236);
};

impl Default for UnixFacts {
    fn default() -> Self {
        // SAFETY: all fields are integers, for which zero is a valid value.
        unsafe { core::mem::zeroed() }
    }
}

#[allow(
    improper_ctypes,
    reason = "pointers to bindgen structs with empty members"
)]
extern "C" {
    fn ckpt_helper_task_unix(
        task: TaskPtr,
        fd: u32,
        embryo: u32,
        ns: NsPtr,
        out: *mut UnixFacts,
        buf: *mut u8,
        size: u32,
        lens: *mut u32,
        max_msgs: u32,
        path: *mut u8,
        path_size: u32,
        fds: *mut UnixFdsRaw,
    ) -> i32;

    fn ckpt_helper_task_fdinfo(
        task: TaskPtr,
        fd: u32,
        kind: u32,
        buf: *mut u8,
        size: u32,
        real_ns: *mut i64,
    ) -> i32;
}

/// `struct ckpt_h_unix_fds`: where the helper puts the files a queue has in flight.
#[repr(C)]
struct UnixFdsRaw {
    files: *mut *mut bindings::file,
    counts: *mut u32,
    max_files: u32,
    nr_files: u32,
}

/// The descriptors in flight in a unix socket's receive queue, as
/// [`TaskRef::unix_socket`] reads them.
pub(crate) struct UnixFds {
    /// Room for the helper's pointers.
    raw: KVec<*mut bindings::file>,
    /// The files, referenced, in queue order.
    pub(crate) files: KVec<FileRef>,
    /// How many files each message carries, as the lengths of [`TaskRef::unix_socket`].
    pub(crate) counts: KVec<u32>,
}

impl UnixFds {
    /// Room for `max_files` files in flight and `max_msgs` messages.
    pub(crate) fn new(max_files: usize, max_msgs: usize) -> Result<Self> {
        Ok(UnixFds {
            raw: KVec::with_capacity(max_files, GFP_KERNEL_ACCOUNT)?,
            files: KVec::with_capacity(max_files, GFP_KERNEL_ACCOUNT)?,
            counts: KVec::with_capacity(max_msgs, GFP_KERNEL_ACCOUNT)?,
        })
    }
}

impl TaskRef {
    /// The unix socket open at `fd`: its facts into `out`, its receive queue into `buf`
    /// (whose capacity is the most taken: `E2BIG` beyond), the lengths of its messages
    /// (a stream's skbs) into `lens` (as many as its capacity: `E2BIG` beyond for a datagram
    /// or seqpacket socket), the path of the file it is bound to into `path`, the files in
    /// flight into `fds` (`EMFILE` beyond their room, or for a stream with fds in an skb past
    /// the room of `lens`). `ENOTSOCK` if `fd` is no socket.
    ///
    /// With `embryo` `Some(i)`, the same of the connection not accepted yet at place `i`
    /// (0 first) in the backlog of the listening socket at `fd`: `ENOENT` past its end,
    /// `EINVAL` if `fd` is no listening unix socket.
    #[allow(
        clippy::too_many_arguments,
        reason = "the helper's buffers, each reused across sockets by the caller"
    )]
    pub(crate) fn unix_socket(
        &self,
        fd: u32,
        embryo: Option<u32>,
        ns: Option<&TaskRef>,
        out: &mut UnixFacts,
        buf: &mut VVec<u8>,
        lens: &mut KVec<u32>,
        path: &mut [u8],
        fds: &mut UnixFds,
    ) -> Result {
        buf.clear();
        lens.clear();
        fds.files.clear();
        fds.counts.clear();
        let room = u32::try_from(buf.capacity()).map_err(|_| EINVAL)?;
        let max_msgs =
            u32::try_from(lens.capacity().min(fds.counts.capacity())).map_err(|_| EINVAL)?;
        let path_size = u32::try_from(path.len()).map_err(|_| EINVAL)?;
        let max_files = fds.raw.capacity().min(fds.files.capacity());
        let embryo = match embryo {
            Some(i) => i.checked_add(1).ok_or(EINVAL)?,
            None => 0,
        };
        let mut raw = UnixFdsRaw {
            files: fds.raw.as_mut_ptr(),
            counts: fds.counts.as_mut_ptr(),
            max_files: u32::try_from(max_files).map_err(|_| EINVAL)?,
            nr_files: 0,
        };
        // SAFETY: the task and the namespace are valid; `out` is writable; `buf` has room
        // for `room` bytes, `lens` and `counts` for `max_msgs` entries, `path` for
        // `path_size` bytes, `raw` for `max_files` pointers.
        let ret = Self::with_ns(ns, |ns| unsafe {
            ckpt_helper_task_unix(
                self.raw(),
                fd,
                embryo,
                ns,
                out,
                buf.as_mut_ptr(),
                room,
                lens.as_mut_ptr(),
                max_msgs,
                path.as_mut_ptr(),
                path_size,
                &mut raw,
            )
        })?;
        // The references taken, whatever the result: released with `fds.files`.
        for i in 0..(raw.nr_files as usize).min(max_files) {
            // SAFETY: the helper wrote `nr_files` pointers, each a reference taken for us,
            // in an ioctl (outside any `fdget_pos` region).
            if let Some(f) = unsafe { FileRef::from_raw(*fds.raw.as_ptr().add(i)) } {
                // Within the capacity reserved: no allocation.
                let _ = fds.files.push(f, GFP_KERNEL_ACCOUNT);
            }
        }
        check(ret as isize)?;
        let listening = out.state == img::unix_state::LISTENING;
        if out.bytes > room
            || out.path_len >= path_size
            || out.name_len as usize > out.name.len()
            || raw.nr_files as usize > max_files
            || (out.sock != 0
                && out.sock_type != bindings::sock_type_SOCK_STREAM
                && !listening
                && out.queued > max_msgs)
        {
            return Err(EINVAL);
        }
        let msgs = if out.sock != 0 && !listening {
            out.queued.min(max_msgs) as usize
        } else {
            0
        };
        // SAFETY: the helper initialised `bytes <= room` bytes of `buf` and the first
        // `min(queued, max_msgs)` entries of `lens` and `counts` of a socket not listening.
        unsafe {
            buf.inc_len(out.bytes as usize);
            lens.inc_len(msgs);
            fds.counts.inc_len(msgs);
        }
        Ok(())
    }

    /// The `show_fdinfo` text of the eventfd, timerfd or signalfd (`kind`, one of
    /// `file_kind::EVENTFD`, `TIMERFD`, `SIGNALFD`) open at `fd`, into `buf`; with
    /// `CLOCK_REALTIME` in nanoseconds right after it was read. `EINVAL` if the file is not
    /// of that kind, `E2BIG` if the text does not fit.
    pub(crate) fn fdinfo<'a>(
        &self,
        fd: u32,
        kind: u32,
        buf: &'a mut [u8],
    ) -> Result<(&'a [u8], i64)> {
        let size = u32::try_from(buf.len()).map_err(|_| EINVAL)?;
        let mut real_ns = 0;
        // SAFETY: the task is valid by the type invariant; `buf` has room for `size` bytes,
        // `real_ns` is writable.
        let ret = unsafe {
            ckpt_helper_task_fdinfo(self.raw(), fd, kind, buf.as_mut_ptr(), size, &mut real_ns)
        };
        let n = check(ret as isize)?;
        let text = buf.get(..n).ok_or(EINVAL)?;
        Ok((text, real_ns))
    }
}
