// SPDX-License-Identifier: GPL-2.0

//! Tasks: a reference on a `task_struct` and what can be read of a stopped one.

use core::ffi::c_void;
use core::mem::size_of;
use core::ptr::NonNull;

use kernel::alloc::VVec;
use kernel::prelude::*;

use super::mm::MmRef;
use super::{check, fill_growing};
use crate::uapi::image as img;

/// Where a task stands, as the checkpoint needs to know.
#[repr(C)]
#[derive(Default)]
pub(crate) struct TaskState {
    pub(crate) traced_by_current: u32,
    pub(crate) stopped: u32,
    pub(crate) kthread: u32,
    pub(crate) nr_threads: u32,
    pub(crate) is_current: u32,
    pub(crate) has_mm: u32,
}

/// State the checkpoint cannot save yet (`ckpt_helper_task_unsupported`).
#[repr(C)]
#[derive(Default)]
pub(crate) struct Unsupported {
    pub(crate) posix_timers: u32,
    pub(crate) itimer_real: u32,
    pub(crate) itimer_cpu: u32,
    pub(crate) sem_undo: u32,
    pub(crate) other_ns: u32,
    pub(crate) sched_policy: u32,
    pub(crate) seccomp: u32,
    pub(crate) mdwe: u32,
    pub(crate) syscall_dispatch: u32,
    pub(crate) speculation: u32,
    pub(crate) mce_kill: u32,
    pub(crate) io_flusher: u32,
    pub(crate) notsc: u32,
    pub(crate) ioprio: u32,
}

/// A task's place in the tree and the identity of what it may share
/// (`ckpt_helper_task_tree`). The `u64` fields are addresses, compared, never followed.
#[repr(C)]
#[derive(Default, Clone, Copy)]
pub(crate) struct TreeInfo {
    pub(crate) pid: i32,
    pub(crate) tgid: i32,
    pub(crate) ppid: i32,
    pub(crate) pgid: i32,
    pub(crate) sid: i32,
    pub(crate) zombie: u32,
    pub(crate) group_stopped: u32,
    pub(crate) subreaper: u32,
    pub(crate) leader: u32,
    pub(crate) exit_code: i32,
    pub(crate) exit_signal: i32,
    pub(crate) in_ns: u32,
    pub(crate) ns_init: u32,
    pub(crate) nr_threads: u32,
    pub(crate) mm: u64,
    pub(crate) files: u64,
    pub(crate) fs: u64,
    pub(crate) sighand: u64,
    pub(crate) files_users: u32,
    pub(crate) fs_users: u32,
    pub(crate) sighand_users: u32,
    _pad: u32,
}

/// One open file descriptor, as `ckpt_helper_task_next_fd` reports it.
#[repr(C)]
#[derive(Default)]
pub(crate) struct FdInfo {
    pub(crate) mode: u32,
    pub(crate) flags: u32,
    pub(crate) pos: i64,
    pub(crate) cloexec: u32,
    pub(crate) rdev: u32,
    pub(crate) unlinked: u32,
    pub(crate) path_len: u32,
    pub(crate) fs_magic: u64,
    /// The open file description's identity.
    pub(crate) file_id: u64,
    /// An anonymous pipe's identity, else 0.
    pub(crate) pipe_id: u64,
}

/// What else the checkpoint must know of a descriptor (`ckpt_helper_task_fd_extra`).
#[repr(C)]
#[derive(Default)]
pub(crate) struct FdExtra {
    /// The file is on a kernel-internal mount (memfd, shared memory): no path reopens it.
    pub(crate) internal: u32,
    /// `F_SETOWN` gave it an owner.
    pub(crate) owned: u32,
    /// The owner's pid or process group, in the caller's pid namespace.
    pub(crate) owner: i32,
    /// `enum pid_type` of the owner.
    pub(crate) owner_type: u32,
    /// `F_SETSIG`'s signal, 0 for `SIGIO`.
    pub(crate) signum: i32,
    _pad: u32,
}

// The helpers fill these image records directly: their C twins in helpers.h must match.
const _: () = assert!(size_of::<img::CkptTaskRec>() == 136);
const _: () = assert!(size_of::<img::CkptRegsRec>() == 27 * 8);
const _: () = assert!(size_of::<img::CkptCredsRec>() == 80);
const _: () = assert!(size_of::<img::CkptSigaction>() == 32);
const _: () = assert!(size_of::<img::CkptSignalsRec>() == 32);
const _: () = assert!(size_of::<img::CkptSiginfoRec>() == 136);
const _: () = assert!(size_of::<FdInfo>() == 56);
const _: () = assert!(size_of::<Unsupported>() == 56);
const _: () = assert!(size_of::<TreeInfo>() == 104);
const _: () = assert!(size_of::<FdExtra>() == 24);

extern "C" {
    fn ckpt_helper_get_task(vpid: i32) -> *mut c_void;
    fn ckpt_helper_put_task(task: *mut c_void);
    fn ckpt_helper_task_state(task: *mut c_void, out: *mut TaskState);
    fn ckpt_helper_task_unsupported(task: *mut c_void, out: *mut Unsupported);
    fn ckpt_helper_task_info(
        task: *mut c_void,
        ns_task: *mut c_void,
        out: *mut img::CkptTaskRec,
    ) -> i32;
    fn ckpt_helper_task_tree(task: *mut c_void, ns_task: *mut c_void, out: *mut TreeInfo) -> i32;
    fn ckpt_helper_task_relatives(
        task: *mut c_void,
        ns_task: *mut c_void,
        out: *mut i32,
        max: u32,
    ) -> i32;
    fn ckpt_helper_task_pipe_data(
        task: *mut c_void,
        fd: u32,
        buf: *mut u8,
        size: u32,
        capacity: *mut u32,
    ) -> i32;
    fn ckpt_helper_get_current() -> *mut c_void;
    fn ckpt_helper_get_task_ref(task: *mut c_void);
    fn ckpt_helper_task_exiting(task: *mut c_void) -> i32;
    fn ckpt_helper_stop_self();
    fn ckpt_helper_fatal_signal_pending() -> i32;
    fn ckpt_helper_sleep_killable_ms(ms: u32);
    fn ckpt_helper_task_creds(
        task: *mut c_void,
        out: *mut img::CkptCredsRec,
        groups: *mut u32,
        max: u32,
    ) -> i32;
    fn ckpt_helper_task_rlimits(task: *mut c_void, cur_max: *mut u64, n: u32);
    fn ckpt_helper_task_fs_path(task: *mut c_void, pwd: i32, buf: *mut u8, len: i32) -> i32;
    fn ckpt_helper_task_sigactions(task: *mut c_void, out: *mut img::CkptSigaction, n: u32);
    fn ckpt_helper_task_signals(
        task: *mut c_void,
        out: *mut img::CkptSignalsRec,
        infos: *mut img::CkptSiginfoRec,
        max: u32,
    ) -> i32;
    fn ckpt_helper_task_next_fd(
        task: *mut c_void,
        fd: *mut u32,
        out: *mut FdInfo,
        path: *mut u8,
        size: u32,
    ) -> i32;
    fn ckpt_helper_task_regset(task: *mut c_void, note: u32, data: *mut *mut c_void) -> i32;
    fn ckpt_helper_kfree(p: *const c_void);
    fn ckpt_helper_set_regs(r: *const img::CkptRegsRec) -> i32;
    fn ckpt_helper_set_blocked(mask: u64) -> i32;
    fn ckpt_helper_rseq_sync() -> i32;
    fn ckpt_helper_close_fd(fd: i32) -> i32;
    fn ckpt_helper_kill_self();
    fn ckpt_helper_task_fd_extra(task: *mut c_void, fd: u32, out: *mut FdExtra) -> i32;
    fn ckpt_helper_task_fs_unlinked(task: *mut c_void, pwd: i32) -> i32;
}

/// The calling task, for restart.
pub(crate) mod current {
    use super::*;

    /// Makes `r` the registers the caller returns to from this system call (checked as
    /// ptrace's `putreg` checks them; `EINVAL` for selectors or bases it would refuse).
    pub(crate) fn set_regs(r: &img::CkptRegsRec) -> Result {
        // SAFETY: `r` is a valid struct of the C layout (`struct user_regs_struct`).
        check(unsafe { ckpt_helper_set_regs(r) } as isize).map(|_| ())
    }

    /// Sets the blocked signal mask (SIGKILL and SIGSTOP cannot be blocked).
    pub(crate) fn set_blocked(mask: u64) -> Result {
        // SAFETY: plain value; `sigprocmask` acts on the caller.
        check(unsafe { ckpt_helper_set_blocked(mask) } as isize).map(|_| ())
    }

    /// After the caller's memory was replaced: makes its rseq area (if it registered one) hold
    /// the ids the kernel last wrote there, as the kernel checks before it writes new ones.
    pub(crate) fn rseq_sync() -> Result {
        // SAFETY: no arguments; writes the caller's own registered rseq area with `put_user`.
        check(unsafe { ckpt_helper_rseq_sync() } as isize).map(|_| ())
    }

    /// Closes one of the caller's descriptors.
    pub(crate) fn close_fd(fd: i32) -> Result {
        // SAFETY: `close_fd` accepts any number.
        check(unsafe { ckpt_helper_close_fd(fd) } as isize).map(|_| ())
    }

    /// Queues SIGKILL to the caller: it dies on its way back to userspace.
    pub(crate) fn kill_self() {
        // SAFETY: no arguments; `force_sig` acts on the caller.
        unsafe { ckpt_helper_kill_self() }
    }

    /// Queues SIGSTOP to the caller: it stops on its way back to userspace.
    pub(crate) fn stop_self() {
        // SAFETY: no arguments; `send_sig` acts on the caller.
        unsafe { ckpt_helper_stop_self() }
    }

    /// The identity (address) of the caller's memory, 0 for none: compared, never followed.
    pub(crate) fn mm_id() -> u64 {
        super::super::mm::current::id()
    }

    /// Sleeps `ms` milliseconds, or less if SIGKILL comes.
    pub(crate) fn sleep_killable(ms: u32) {
        // SAFETY: plain value; sleeps the caller.
        unsafe { ckpt_helper_sleep_killable_ms(ms) }
    }

    /// Whether the caller has been sent SIGKILL.
    /// The caller's `RLIMIT_DATA` soft limit, in bytes (`u64::MAX`: none).
    pub(crate) fn data_limit() -> u64 {
        TaskRef::current().data_limit()
    }

    pub(crate) fn fatal_signal_pending() -> bool {
        // SAFETY: no arguments.
        unsafe { ckpt_helper_fatal_signal_pending() != 0 }
    }
}

/// A reference on a task.
///
/// # Invariants
///
/// `ptr` points to a `task_struct` on which this value holds one reference
/// (`get_task_struct`), dropped by `Drop`.
pub(crate) struct TaskRef {
    ptr: NonNull<c_void>,
}

/// Which path of a task's `fs_struct`.
pub(crate) enum FsPath {
    Root,
    Cwd,
}

/// A buffer `kmalloc`ed by `regset_get_alloc`, freed on drop.
///
/// # Invariants
///
/// `ptr` points to `len` initialised bytes owned by this value.
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
        // SAFETY: the buffer was allocated with kmalloc and is owned by us.
        unsafe { ckpt_helper_kfree(self.ptr.as_ptr().cast()) }
    }
}

/// `NT_PRSTATUS`: the general registers (`struct user_regs_struct`).
pub(crate) const NT_PRSTATUS: u32 = 1;
/// `NT_X86_XSTATE`: the XSAVE area.
pub(crate) const NT_X86_XSTATE: u32 = 0x202;

// SAFETY: a task reference may be taken and dropped (`put_task_struct`) on any thread.
unsafe impl Send for TaskRef {}

impl TaskRef {
    /// The task with this pid in the caller's pid namespace.
    pub(crate) fn lookup(pid: i32) -> Option<TaskRef> {
        // SAFETY: the helper accepts any pid and returns a referenced task or NULL.
        let ptr = unsafe { ckpt_helper_get_task(pid) };
        // INVARIANT: a non-NULL return carries a reference.
        NonNull::new(ptr).map(|ptr| TaskRef { ptr })
    }

    /// The calling task.
    pub(crate) fn current() -> TaskRef {
        // SAFETY: `current` is always valid; the helper takes a reference on it.
        let ptr = unsafe { ckpt_helper_get_current() };
        // INVARIANT: the helper returned `current` with a reference taken.
        TaskRef {
            ptr: NonNull::new(ptr).expect("current is never NULL"),
        }
    }

    /// Another reference on the same task.
    pub(crate) fn clone_ref(&self) -> TaskRef {
        // SAFETY: the task is valid by the type invariant; the helper takes a reference.
        unsafe { ckpt_helper_get_task_ref(self.raw()) };
        // INVARIANT: the reference just taken belongs to the new value.
        TaskRef { ptr: self.ptr }
    }

    fn raw(&self) -> *mut c_void {
        self.ptr.as_ptr()
    }

    fn ns_raw(ns: Option<&TaskRef>) -> *mut c_void {
        ns.map_or(core::ptr::null_mut(), TaskRef::raw)
    }

    /// Whether the task is exiting or dead.
    pub(crate) fn exiting(&self) -> bool {
        // SAFETY: the task is valid by the type invariant.
        unsafe { ckpt_helper_task_exiting(self.raw()) != 0 }
    }

    /// Its place in the tree, pids as seen in the namespace of `ns` (the caller's if `None`).
    /// `ESRCH` once the task of `ns` is reaped.
    pub(crate) fn tree(&self, ns: Option<&TaskRef>) -> Result<TreeInfo> {
        let mut t = TreeInfo::default();
        // SAFETY: both tasks are valid; `t` is writable.
        check(unsafe { ckpt_helper_task_tree(self.raw(), Self::ns_raw(ns), &mut t) } as isize)?;
        Ok(t)
    }

    /// The thread ids of its children and, for a thread-group leader, of its other threads.
    pub(crate) fn relatives(&self, ns: Option<&TaskRef>, out: &mut KVec<i32>) -> Result {
        fill_growing(
            out,
            || 0,
            // SAFETY: both tasks are valid; `buf` has room for `room` entries.
            |buf, room| unsafe {
                ckpt_helper_task_relatives(self.raw(), Self::ns_raw(ns), buf, room)
            },
        )
    }

    /// What is buffered in the anonymous pipe open at `fd`, into `buf` (whose capacity is
    /// the most taken: `E2BIG` beyond); returns the pipe's capacity in bytes.
    pub(crate) fn pipe_data(&self, fd: u32, buf: &mut VVec<u8>) -> Result<u32> {
        let mut capacity = 0;
        buf.clear();
        // SAFETY: the task is valid; `buf` has room for its capacity.
        let ret = unsafe {
            ckpt_helper_task_pipe_data(
                self.raw(),
                fd,
                buf.as_mut_ptr(),
                buf.capacity() as u32,
                &mut capacity,
            )
        };
        let n = check(ret as isize)?;
        // SAFETY: the helper initialised `n <= capacity` bytes.
        unsafe { buf.inc_len(n) };
        Ok(capacity)
    }

    pub(crate) fn state(&self) -> TaskState {
        let mut s = TaskState::default();
        // SAFETY: the task is valid by the type invariant; `s` is writable.
        unsafe { ckpt_helper_task_state(self.raw(), &mut s) };
        s
    }

    /// What this task uses that cannot be saved yet.
    pub(crate) fn unsupported(&self) -> Unsupported {
        let mut u = Unsupported::default();
        // SAFETY: the task is valid; `u` is writable.
        unsafe { ckpt_helper_task_unsupported(self.raw(), &mut u) };
        u
    }

    /// The `TASK` record of this task. `ESRCH` once the task of `ns` is reaped.
    pub(crate) fn info(&self, ns: Option<&TaskRef>, out: &mut img::CkptTaskRec) -> Result {
        // SAFETY: both tasks are valid; `out` is a writable record of the C layout.
        check(unsafe { ckpt_helper_task_info(self.raw(), Self::ns_raw(ns), out) } as isize)?;
        Ok(())
    }

    /// The `CREDS` record; the supplementary groups go to `groups`.
    pub(crate) fn creds(&self, out: &mut img::CkptCredsRec, groups: &mut KVec<u32>) -> Result {
        let ngroups = core::cell::Cell::new(0);
        fill_growing(
            groups,
            || ngroups.get(),
            |buf, room| {
                // SAFETY: the task is valid; `buf` has room for `room` entries.
                let ret = unsafe { ckpt_helper_task_creds(self.raw(), out, buf, room) };
                ngroups.set(out.ngroups as usize);
                ret
            },
        )
    }

    /// Its `RLIMIT_DATA` soft limit, in bytes (`u64::MAX`: none).
    pub(crate) fn data_limit(&self) -> u64 {
        let mut r = <img::CkptRlimitsRec as zerocopy::FromZeros>::new_zeroed();
        self.rlimits(&mut r);
        r.rlim
            .get(kernel::bindings::RLIMIT_DATA as usize)
            .map_or(u64::MAX, |l| l.cur)
    }

    /// Every resource limit as `(cur, max)` pairs.
    pub(crate) fn rlimits(&self, out: &mut img::CkptRlimitsRec) {
        let n = out.rlim.len() as u32;
        // SAFETY: the task is valid; `out.rlim` holds `n` pairs of `u64`.
        unsafe { ckpt_helper_task_rlimits(self.raw(), out.rlim.as_mut_ptr().cast(), n) };
    }

    /// The root or working directory, into `buf`; returns its length.
    pub(crate) fn fs_path(&self, which: FsPath, buf: &mut [u8]) -> Result<usize> {
        let pwd = i32::from(matches!(which, FsPath::Cwd));
        // SAFETY: the task is valid; `buf` is writable for its length.
        let ret = unsafe {
            ckpt_helper_task_fs_path(self.raw(), pwd, buf.as_mut_ptr(), buf.len() as i32)
        };
        check(ret as isize)
    }

    /// The dispositions of signals 1 to 64.
    pub(crate) fn sigactions(&self, out: &mut img::CkptSighandRec) {
        let n = out.action.len() as u32;
        // SAFETY: the task is valid; `out.action` holds `n` entries.
        unsafe { ckpt_helper_task_sigactions(self.raw(), out.action.as_mut_ptr(), n) };
    }

    /// The signal mask, alternate stack and pending signals.
    pub(crate) fn signals(
        &self,
        out: &mut img::CkptSignalsRec,
        infos: &mut KVec<img::CkptSiginfoRec>,
    ) -> Result {
        fill_growing(
            infos,
            || 0,
            // SAFETY: the task is valid; `buf` has room for `room` records.
            |buf, room| unsafe { ckpt_helper_task_signals(self.raw(), out, buf, room) },
        )
    }

    /// The first open descriptor `>= fd`: its number and what it is; its path goes to `path`.
    pub(crate) fn next_fd(&self, fd: u32, path: &mut [u8]) -> Result<Option<(u32, FdInfo)>> {
        let mut n = fd;
        let mut info = FdInfo::default();
        // SAFETY: the task is valid; all out-pointers are writable, `path` for its length.
        let ret = unsafe {
            ckpt_helper_task_next_fd(
                self.raw(),
                &mut n,
                &mut info,
                path.as_mut_ptr(),
                path.len() as u32,
            )
        };
        Ok((check(ret as isize)? == 1).then_some((n, info)))
    }

    /// What [`TaskRef::next_fd`] does not tell of the descriptor `fd`.
    pub(crate) fn fd_extra(&self, fd: u32) -> Result<FdExtra> {
        let mut e = FdExtra::default();
        // SAFETY: the task is valid; `e` is writable.
        check(unsafe { ckpt_helper_task_fd_extra(self.raw(), fd, &mut e) } as isize)?;
        Ok(e)
    }

    /// Whether the root or working directory was removed.
    pub(crate) fn fs_unlinked(&self, which: FsPath) -> Result<bool> {
        let pwd = i32::from(matches!(which, FsPath::Cwd));
        // SAFETY: the task is valid by the type invariant.
        let ret = unsafe { ckpt_helper_task_fs_unlinked(self.raw(), pwd) };
        Ok(check(ret as isize)? != 0)
    }

    /// A register set (`NT_PRSTATUS`, `NT_X86_XSTATE`) of this stopped task.
    pub(crate) fn regset(&self, note: u32) -> Result<RegsetBuf> {
        let mut data: *mut c_void = core::ptr::null_mut();
        // SAFETY: the task is valid and stopped; `data` receives a kmalloc'ed buffer.
        let ret = unsafe { ckpt_helper_task_regset(self.raw(), note, &mut data) };
        let len = check(ret as isize)?;
        let ptr = NonNull::new(data.cast::<u8>()).ok_or(EINVAL)?;
        // INVARIANT: `regset_get_alloc` filled `len` bytes of the buffer it allocated.
        Ok(RegsetBuf { ptr, len })
    }

    /// The task's memory, if it has any.
    pub(crate) fn mm(&self) -> Option<MmRef> {
        // SAFETY: the task is valid by the type invariant.
        unsafe { MmRef::of_task(self.raw().cast()) }
    }
}

impl Drop for TaskRef {
    fn drop(&mut self) {
        // SAFETY: we own one reference by the type invariant.
        unsafe { ckpt_helper_put_task(self.raw()) }
    }
}
