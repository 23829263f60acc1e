// SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note

//! The userspace ABI of `/dev/checkpoint`: ioctl numbers and argument structs.
//!
//! This one file is compiled into the kernel module (`kmod/main.rs`) and into the userspace
//! library (`userspace/ckptlib`). It must stay `no_std` and depend on nothing but `zerocopy`.
//! `uapi/linux/checkpoint.h` mirrors it for C programs; `userspace/ckptlib/tests/c_header.rs`
//! fails when the two disagree.
//!
//! Layout rules: every struct is `#[repr(C)]`, made of fixed-size integers and byte arrays,
//! with explicit padding fields (`__reserved`), so that it has the same layout on every
//! 64-bit architecture and no uninitialised bytes cross the user/kernel boundary. Reserved
//! fields must be zero on input; the kernel refuses non-zero ones with `EINVAL` so that
//! they can be given a meaning later.

use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

pub mod image;

/// Version of this ABI (ioctl numbers and structs). Bumped on any incompatible change.
pub const CKPT_ABI_VERSION: u32 = 9;

/// Version of the image format the module writes and reads.
pub const CKPT_IMAGE_VERSION: u32 = 13;

/// The ioctl "type" byte of `/dev/checkpoint`.
pub const CKPT_IOC_MAGIC: u32 = 0xCB;

/// Name of the misc device, under `/dev`.
pub const CKPT_DEVICE_NAME: &str = "checkpoint";

/// Answer of [`CKPT_IOC_VERSION`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptVersion {
    /// [`CKPT_ABI_VERSION`] of the running module.
    pub abi_version: u32,
    /// [`CKPT_IMAGE_VERSION`] of the running module.
    pub image_version: u32,
    /// Bit mask of `CKPT_FEATURE_*`: what this module can do.
    pub features: u64,
    /// `uname -r` of the kernel the module runs on, NUL-terminated.
    pub kernel_release: [u8; 64],
}

/// The module writes images (`CKPT_IOC_CHECKPOINT`).
pub const CKPT_FEATURE_CHECKPOINT: u64 = 1 << 0;

/// Argument of [`CKPT_IOC_CHECKPOINT`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptCheckpointArgs {
    /// The root of the tree to checkpoint, in the caller's pid namespace.
    pub pid: i32,
    /// Where the image goes: a file descriptor open for writing (a file, a pipe, a socket).
    pub fd: i32,
    /// `CKPT_CHECKPOINT_*`.
    pub flags: u64,
    /// Address of a buffer that receives, on failure, the reason as a NUL-terminated string.
    pub reason: u64,
    /// Size of that buffer (0: no reason wanted).
    pub reason_len: u32,
    /// Entries of `tasks`: between 1 and [`CKPT_MAX_TASKS`].
    pub nr_tasks: u32,
    /// Address of an array of `nr_tasks` thread ids (`i32`, caller's pid namespace): `pid`
    /// first, then every thread and every descendant of it, each after its parent and
    /// after its thread-group leader. The caller must be the ptrace tracer of each, and
    /// each must be in a ptrace stop, except zombies (whose parent must be in the list).
    /// The module checks that the list is the whole tree: no thread, child or sharer of
    /// an object (fd table, fs, signal handlers) is left out.
    pub tasks: u64,
    /// Where the module writes its log, lines of text (what it saved, why it refused); read
    /// only when `log_level` is not 0. A file, pipe or socket open for writing.
    pub log_fd: i32,
    /// [`CKPT_LOG_NONE`], [`CKPT_LOG_INFO`] or [`CKPT_LOG_DEBUG`].
    pub log_level: u32,
    /// Address of a [`CkptStats`] the module updates as it goes (after each record), so that
    /// another thread of the caller can show progress; 0 for none.
    pub stats: u64,
}

/// [`CkptCheckpointArgs::log_level`], [`CkptRestartArgs::log_level`]: no log.
pub const CKPT_LOG_NONE: u32 = 0;
/// One line per task (what was saved or restored: records, areas, pages, descriptors) and
/// one per refusal.
pub const CKPT_LOG_INFO: u32 = 1;
/// Also one line per descriptor and per memory area.
pub const CKPT_LOG_DEBUG: u32 = 2;

/// Figures of a checkpoint, updated by the module while it writes the image
/// ([`CkptCheckpointArgs::stats`]).
#[repr(C)]
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout,
)]
pub struct CkptStats {
    /// Live tasks whose records are all written.
    pub tasks: u64,
    /// Descriptors saved (`FILE` records of a descriptor).
    pub files: u64,
    /// Memory areas saved (`VMA` records).
    pub vmas: u64,
    /// Pages looked at: every page of the areas whose contents are saved.
    pub pages_scanned: u64,
    /// Pages whose contents the image holds (`PAGES`).
    pub pages_written: u64,
    /// Pages written as a reference to contents saved earlier (`PAGES_REF`).
    pub pages_shared: u64,
    /// Records written.
    pub records: u64,
    /// Bytes of image written.
    pub bytes: u64,
}

/// [`CkptCheckpointArgs::flags`]: `pid` is the init of a pid namespace; pids are saved as
/// seen inside that namespace, which the whole tree must live in (a container).
pub const CKPT_CHECKPOINT_CONTAINER: u64 = 1 << 0;

/// [`CkptCheckpointArgs::flags`]: the caller found state of the tree that cannot be saved and
/// that only it can see (SysV IPC used by id, read from `/proc/sysvipc`); `reason` holds,
/// NUL-terminated, why. The module checks the tree as for a checkpoint, writes the `HEADER`
/// and `TREE` records and ends the image with an `ERROR` record of that reason, then fails
/// with `EOPNOTSUPP`, the reason copied back to `reason` as for its own refusals.
pub const CKPT_CHECKPOINT_REFUSE: u64 = 1 << 1;

/// [`CkptCheckpointArgs::flags`]: check the tree and write only its `HEADER` and `TREE`
/// records, then succeed (no `TAIL`: this is not an image). `ckpt` runs `rstr`'s plan of the
/// tree on them first, to refuse at checkpoint a tree that restart could not build.
pub const CKPT_CHECKPOINT_TREE_ONLY: u64 = 1 << 2;

/// [`CkptCheckpointArgs::flags`]: a dry run. The module checks the tree as for a checkpoint
/// and walks all of its state, but writes nothing (`fd` must be -1) and reads no page, and
/// does not stop at the first thing it cannot save: every reason found goes to `reason`,
/// one per line (the last line says how many more did not fit). Succeeds when a
/// checkpoint would; fails with `EOPNOTSUPP` otherwise. Not with `CKPT_CHECKPOINT_REFUSE`
/// or `CKPT_CHECKPOINT_TREE_ONLY`.
pub const CKPT_CHECKPOINT_CHECK: u64 = 1 << 3;

/// [`CkptCheckpointArgs::flags`] bits 32 to 63: the most bytes, in MiB, of content of
/// deleted files (and memfds) one image may hold, data only (holes are not counted); 0 for
/// [`CKPT_DELETED_MAX_DEFAULT`]. (The argument has no reserved field; these bits were free.)
pub const CKPT_CHECKPOINT_DELETED_MAX_SHIFT: u32 = 32;
/// The limit of [`CKPT_CHECKPOINT_DELETED_MAX_SHIFT`] when none is given: 64 MiB.
pub const CKPT_DELETED_MAX_DEFAULT: u64 = 64 << 20;

/// The most tasks (threads included) one checkpoint or restart takes.
pub const CKPT_MAX_TASKS: u32 = 1 << 16;

/// The module restarts images (`CKPT_IOC_RESTART`).
pub const CKPT_FEATURE_RESTART: u64 = 1 << 1;

/// Descriptors `rstr` may ask the restart to close.
pub const CKPT_RESTART_MAX_CLOSE: usize = 16;

/// Argument of [`CKPT_IOC_RESTART`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptRestartArgs {
    /// The image, open for reading.
    pub fd: i32,
    /// Receives `OK PID COPIED KEPT` when the task is restored (and waits for the go of
    /// the session), `P PID COPIED` while its pages are read with
    /// [`CKPT_RESTART_PROGRESS`], or the reason of a late failure (the caller is then
    /// killed); -1 for none. One line per write, each shorter than `PIPE_BUF`.
    pub err_fd: i32,
    /// `CKPT_RESTART_*`.
    pub flags: u64,
    /// Buffer for the reason of a failure before anything was changed (NUL-terminated).
    pub reason: u64,
    pub reason_len: u32,
    /// Entries of `close_fds` in use.
    pub nr_close: u32,
    /// The caller's own descriptors (image, device, `err_fd`), closed on success.
    pub close_fds: [i32; CKPT_RESTART_MAX_CLOSE],
    /// The signal mask the restored task starts with.
    pub blocked: u64,
    /// Offset in the image of this task's records read by the module: `MM` (or `REGS`
    /// for a task that shares its memory with one restoring it, see
    /// [`CKPT_RESTART_SHARED_MM`]). The descriptor's own offset is not used.
    pub pos: u64,
    /// How many other tasks of the session share the caller's memory and restart with
    /// [`CKPT_RESTART_SHARED_MM`]: the caller replaces the memory once they all wait.
    pub mm_sharers: u32,
    /// Entries of `kept` (at most [`CKPT_RESTART_MAX_KEPT`]); 0 with
    /// [`CKPT_RESTART_SHARED_MM`].
    pub nr_kept: u32,
    /// User pointer to `nr_kept` [`CkptArea`]s, in address order: private anonymous areas of
    /// the image (`VMA` records of kind `ANON_PRIVATE` or `HEAP`, not locked) that the caller
    /// has already mapped at their place, with the image's contents and protection. The
    /// module keeps them as they are and skips their `PAGES`: `rstr` maps them before it
    /// creates the children, which inherit them copy-on-write, so that the pages a parent
    /// and its children share stay shared.
    pub kept: u64,
    /// As [`CkptCheckpointArgs::log_fd`]: what the module restored, and why it failed.
    pub log_fd: i32,
    /// As [`CkptCheckpointArgs::log_level`].
    pub log_level: u32,
    /// Entries of `objs` (at most [`CKPT_RESTART_MAX_OBJS`]).
    pub nr_objs: u32,
    /// Entries of `shm_at` (at most [`CKPT_RESTART_MAX_SHM_AT`]).
    pub nr_shm_at: u32,
    /// User pointer to `nr_objs` [`CkptObjFd`]s: the file objects of the image (memfds,
    /// deleted files) that `rstr` made again, each at one of the caller's descriptors. A
    /// `VMA` record that names an object (`shm` of a file area) maps the file open at its
    /// descriptor; the module takes it with `fget` and closes every descriptor of the
    /// table after the go, as `close_fds`. Also given with [`CKPT_RESTART_SHARED_MM`]
    /// (only closed then).
    pub objs: u64,
    /// User pointer to `nr_shm_at` [`CkptShmAt`]s: the caller's own attaches (`shmat`) of
    /// the SysV segments its image's areas of kind `SYSV_SHM` map, one read-only and one
    /// writable at most per segment. The module attaches the segment at each such area
    /// through the caller's attach of the same access (as `fork` copies an attach), before
    /// the caller's own memory goes. Also given with [`CKPT_RESTART_SHARED_MM`] (unused).
    pub shm_at: u64,
}

/// One entry of [`CkptRestartArgs::shm_at`]: the caller attached the segment of the image's
/// `SYSV_SHM` object `id` at `addr`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptShmAt {
    pub id: u32,
    /// Must be 0.
    pub __reserved: u32,
    pub addr: u64,
}

/// The most entries of [`CkptRestartArgs::shm_at`].
pub const CKPT_RESTART_MAX_SHM_AT: u32 = 4096;

/// One entry of [`CkptRestartArgs::objs`]: the image's object `id` is open at `fd`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptObjFd {
    pub id: u32,
    pub fd: i32,
}

/// The most entries of [`CkptRestartArgs::objs`].
pub const CKPT_RESTART_MAX_OBJS: u32 = 4096;

/// One area of [`CkptRestartArgs::kept`]: `[start, end)`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptArea {
    pub start: u64,
    pub end: u64,
}

/// The most entries of [`CkptRestartArgs::kept`]: the kernel's default `vm.max_map_count`.
pub const CKPT_RESTART_MAX_KEPT: u32 = 65530;

/// [`CkptRestartArgs::flags`]: the caller shares its memory (`CLONE_VM`) with another task
/// of the session, which restores it; the image has only this task's `REGS` at `pos`.
pub const CKPT_RESTART_SHARED_MM: u64 = 1 << 0;
/// [`CkptRestartArgs::flags`]: the task was stopped (group stop): it stops again (`SIGSTOP`)
/// when the session goes.
pub const CKPT_RESTART_STOPPED: u64 = 1 << 1;
/// [`CkptRestartArgs::flags`]: while it reads the task's pages, the module writes
/// `P PID COPIED\n` to `err_fd` every [`CKPT_RESTART_PROGRESS_PAGES`] pages copied in (the
/// count so far), for a progress bar.
pub const CKPT_RESTART_PROGRESS: u64 = 1 << 2;
/// Pages between two progress lines of [`CKPT_RESTART_PROGRESS`] (1 MiB).
pub const CKPT_RESTART_PROGRESS_PAGES: u64 = 256;

/// Argument of [`CKPT_IOC_RESTART_BEGIN`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptSessionArgs {
    /// Tasks that will call [`CKPT_IOC_RESTART`] on this open file (1..=[`CKPT_MAX_TASKS`]).
    pub nr_tasks: u32,
    /// Must be 0.
    pub flags: u32,
}

/// Argument of [`CKPT_IOC_RESTART_PEERS`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptPeersArgs {
    /// Entries of `peers` (at most [`CKPT_RESTART_MAX_PEERS`]).
    pub nr_peers: u32,
    /// Must be 0.
    pub flags: u32,
    /// User pointer to `nr_peers` [`CkptPeerCred`]s.
    pub peers: u64,
    /// Buffer for the reason of a refusal (NUL-terminated), which names the descriptor.
    pub reason: u64,
    pub reason_len: u32,
    /// Must be 0.
    pub __reserved: u32,
}

/// One entry of [`CkptPeersArgs::peers`]: the peer credentials (`SO_PEERCRED`) the unix
/// socket open at the caller's `fd` gets (or, with `embryo` not 0, its connection
/// `embryo - 1` not accepted yet).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptPeerCred {
    pub fd: i32,
    /// 0 for the socket at `fd`; else 1 + the place of a connection in the backlog of the
    /// listening socket at `fd` (0 first).
    pub embryo: u32,
    /// A process of the session (its pid in the session's tasks' pid namespace), 0 for none.
    pub pid: i32,
    /// [`CKPT_PEER_CRED`]: `uid` and `gid` are the credentials; else 0, and the socket has
    /// none (nor a pid).
    pub flags: u32,
    /// Effective uid and gid, in the caller's user namespace: one of the caller's real,
    /// effective or saved ids unless it has `CAP_SETUID` (`CAP_SETGID`) there.
    pub uid: u32,
    pub gid: u32,
}

/// [`CkptPeerCred::flags`]: the entry has credentials.
pub const CKPT_PEER_CRED: u32 = 1;

/// Argument of [`CKPT_IOC_RESTART_TIMER`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptTimerArgs {
    /// A `timer_create` timer of the caller's process.
    pub id: i32,
    /// What `timer_getoverrun` is to return for it until its next signal's delivery,
    /// `0..=INT_MAX`.
    pub overrun: i32,
    /// Must be 0.
    pub flags: u32,
    /// Must be 0.
    pub __reserved: u32,
}

/// The most entries of [`CkptPeersArgs::peers`].
pub const CKPT_RESTART_MAX_PEERS: u32 = 1 << 20;

/// Direction bits of an ioctl number, as `<asm-generic/ioctl.h>` defines them.
pub const IOC_NONE: u32 = 0;
/// Userspace writes, the kernel reads.
pub const IOC_WRITE: u32 = 1;
/// The kernel writes, userspace reads.
pub const IOC_READ: u32 = 2;

/// Encodes an ioctl number like the `_IOC()` macro of `<asm-generic/ioctl.h>`.
pub const fn ioc(dir: u32, ty: u32, nr: u32, size: usize) -> u32 {
    (dir << 30) | ((size as u32) << 16) | (ty << 8) | nr
}

/// `_IOR(CKPT_IOC_MAGIC, 0x00, struct ckpt_version)`: query the ABI and image versions.
pub const CKPT_IOC_VERSION: u32 = ioc(
    IOC_READ,
    CKPT_IOC_MAGIC,
    0x00,
    core::mem::size_of::<CkptVersion>(),
);

/// `_IOW(CKPT_IOC_MAGIC, 0x01, struct ckpt_checkpoint_args)`: write the image of a process.
pub const CKPT_IOC_CHECKPOINT: u32 = ioc(
    IOC_WRITE,
    CKPT_IOC_MAGIC,
    0x01,
    core::mem::size_of::<CkptCheckpointArgs>(),
);

/// `_IOW(CKPT_IOC_MAGIC, 0x02, struct ckpt_restart_args)`: become the process of an image.
/// Does not return to the caller's code on success: it returns into the restored registers.
pub const CKPT_IOC_RESTART: u32 = ioc(
    IOC_WRITE,
    CKPT_IOC_MAGIC,
    0x02,
    core::mem::size_of::<CkptRestartArgs>(),
);

/// `_IOW(CKPT_IOC_MAGIC, 0x03, struct ckpt_session_args)`: make this open file of
/// `/dev/checkpoint` a restart session of `nr_tasks` tasks. Each task that calls
/// [`CKPT_IOC_RESTART`] on it (on the same open file, inherited across `fork`) waits in the
/// kernel once restored, until [`CKPT_IOC_RESTART_GO`]; no restored task runs before all
/// are restored. The caller of `BEGIN` is the coordinator: if it exits before `GO`, every
/// waiting task dies.
pub const CKPT_IOC_RESTART_BEGIN: u32 = ioc(
    IOC_WRITE,
    CKPT_IOC_MAGIC,
    0x03,
    core::mem::size_of::<CkptSessionArgs>(),
);

/// `_IOW(CKPT_IOC_MAGIC, 0x05, struct ckpt_peers_args)`: the coordinator of a session
/// whose tasks have all joined, before the go, sets the peer credentials of the unix
/// sockets it holds to those of the image (`rstr` made them itself, so they name it).
pub const CKPT_IOC_RESTART_PEERS: u32 = ioc(
    IOC_WRITE,
    CKPT_IOC_MAGIC,
    0x05,
    core::mem::size_of::<CkptPeersArgs>(),
);

/// `_IOW(CKPT_IOC_MAGIC, 0x06, struct ckpt_timer_args)`: a task being restored in a
/// session that has begun and not gone sets the overrun (`timer_getoverrun`) of one of its
/// process's POSIX timers, which no system call sets. `ENOENT`: no such timer.
pub const CKPT_IOC_RESTART_TIMER: u32 = ioc(
    IOC_WRITE,
    CKPT_IOC_MAGIC,
    0x06,
    core::mem::size_of::<CkptTimerArgs>(),
);

/// `_IO(CKPT_IOC_MAGIC, 0x04)`: let every task of the session return into its restored
/// context. Fails with `EBUSY` unless all `nr_tasks` tasks are restored and waiting.
pub const CKPT_IOC_RESTART_GO: u32 = ioc(IOC_NONE, CKPT_IOC_MAGIC, 0x04, 0);
