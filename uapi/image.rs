// SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note

//! The checkpoint image format: a stream of records.
//!
//! Compiled into the module and into `ckptlib` like `checkpoint.rs`. Every record starts with
//! a [`CkptHdr`] (type and payload length) and is padded with zeros to a multiple of 8 bytes,
//! so the next header is 8-byte aligned. The image is written and read strictly in order,
//! never seeking, so it can go through a pipe or a socket.
//!
//! Order of an image of `n` tasks (processes and threads):
//!
//! ```text
//! HEADER TREE
//! then for each live task, in TREE order:
//!   TASK TASK_ATTRS CREDS RLIMITS [FS] [SIGHAND] SIGNALS SIGINFO* [ITIMERS POSIX_TIMER*]
//!   [PIPE* FILE*] XSTATE                                                      <- rstr
//!   [MM VMA* PAGES*] REGS                                                     <- the module
//! TAIL
//! ```
//!
//! Objects shared by several tasks are written once, with the first task that has them, and
//! named by id everywhere (the `TREE` entry's `mm`, `files`, `fs`, `sighand`; `FILE.obj`,
//! `FILE.pipe`, `VMA.shm`): `FS` appears with the first task of its `fs` id, `SIGHAND` with
//! the first of its `sighand` id, the `FILE`s with the first of its `files` id, `MM` with the
//! first of its `mm` id. Zombies have a `TREE` entry and nothing else. A process's timers
//! (`ITIMERS` and its `POSIX_TIMER`s) come with its thread-group leader, only if it has one.
//!
//! All `VMA` records of a memory come before its `PAGES`, so that a restart can check the
//! whole address space before it replaces its own. A checkpoint that fails after it started
//! writing ends the stream with an `ERROR` record carrying the errno and the reason, instead
//! of a `TAIL`; an image without a `TAIL` is incomplete and is refused.

use zerocopy_derive::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// First bytes of the `HEADER` payload.
pub const CKPT_IMAGE_MAGIC: [u8; 8] = *b"LinuxCR\0";
/// First bytes of the `TAIL` payload.
pub const CKPT_TAIL_MAGIC: [u8; 8] = *b"CRdone\0\0";
/// `AUDIT_ARCH_X86_64`, the only architecture supported.
pub const CKPT_ARCH_X86_64: u32 = 0xC000_003E;
/// Records are padded to this alignment.
pub const CKPT_RECORD_ALIGN: usize = 8;
/// The largest payload of one record (a `PAGES` record of 1024 pages plus its header fits).
pub const CKPT_MAX_PAYLOAD: u32 = 8 << 20;
/// Longest path stored in an image, as `PATH_MAX`, NUL excluded.
pub const CKPT_PATH_MAX: u32 = 4095;
/// Longest reason in an `ERROR` record.
pub const CKPT_REASON_MAX: u32 = 512;
/// The size of a page, the unit of `PAGES` records.
pub const CKPT_PAGE_SIZE: u32 = 4096;
/// Pages in one `PAGES` record at the most.
pub const CKPT_PAGES_PER_RECORD: u32 = 1024;
/// Words of `saved_auxv` kept (the kernel's `AT_VECTOR_SIZE` is smaller on x86-64).
pub const CKPT_AUXV_WORDS: usize = 64;
/// Signals (1..=64) of a sigaction table.
pub const CKPT_NSIG: usize = 64;
/// `RLIM_NLIMITS`.
pub const CKPT_RLIM_NLIMITS: usize = 16;
/// Size of a `siginfo_t`.
pub const CKPT_SIGINFO_SIZE: usize = 128;
/// Supplementary groups kept at the most (`NGROUPS_MAX`).
pub const CKPT_NGROUPS_MAX: u32 = 65536;
/// `timer_create` timers of one process kept at the most.
pub const CKPT_MAX_POSIX_TIMERS: u32 = 4096;

/// Record types.
pub mod rec {
    pub const HEADER: u32 = 1;
    pub const TAIL: u32 = 2;
    pub const ERROR: u32 = 3;
    pub const TREE: u32 = 5;
    pub const TASK: u32 = 10;
    pub const CREDS: u32 = 11;
    pub const RLIMITS: u32 = 12;
    pub const FS: u32 = 13;
    pub const ITIMERS: u32 = 14;
    pub const POSIX_TIMER: u32 = 15;
    pub const SIGHAND: u32 = 20;
    pub const SIGNALS: u32 = 21;
    pub const SIGINFO: u32 = 22;
    pub const FILE: u32 = 30;
    pub const PIPE: u32 = 31;
    pub const UNIX_SOCK: u32 = 35;
    pub const SKB: u32 = 36;
    pub const EVENTFD: u32 = 32;
    pub const TIMERFD: u32 = 33;
    pub const SIGNALFD: u32 = 34;
    pub const EPOLL: u32 = 37;
    pub const XSTATE: u32 = 40;
    pub const MM: u32 = 50;
    pub const VMA: u32 = 51;
    pub const PAGES: u32 = 52;
    pub const PAGES_REF: u32 = 53;
    pub const REGS: u32 = 60;
    pub const INET_SOCK: u32 = 38;
    pub const FILE_DATA: u32 = 43;
    pub const DELETED: u32 = 45;
    pub const MEMFD: u32 = 44;
    pub const TASK_ATTRS: u32 = 16;
    pub const INOTIFY: u32 = 47;
    pub const INOTIFY_WATCH: u32 = 48;
    pub const FILE_LOCK: u32 = 39;
    pub const FOWN: u32 = 46;
    pub const SKB_FDS: u32 = 49;
    pub const UTS_NS: u32 = 55;
    pub const REMOVED_DIR: u32 = 42;
    pub const IPC_NS: u32 = 56;
    pub const SYSV_SHM: u32 = 57;
    pub const SYSV_MSQ: u32 = 58;
    pub const SYSV_MSG: u32 = 59;
    pub const SYSV_SEM: u32 = 61;
    pub const MQUEUE: u32 = 62;
    pub const MQ_MSG: u32 = 63;
    pub const SEM_UNDO: u32 = 64;
    pub const TIME_NS: u32 = 65;

    /// A name for people (`ckpt show`).
    pub const fn name(kind: u32) -> &'static str {
        match kind {
            HEADER => "HEADER",
            TAIL => "TAIL",
            ERROR => "ERROR",
            TREE => "TREE",
            TASK => "TASK",
            CREDS => "CREDS",
            RLIMITS => "RLIMITS",
            FS => "FS",
            ITIMERS => "ITIMERS",
            POSIX_TIMER => "POSIX_TIMER",
            SIGHAND => "SIGHAND",
            SIGNALS => "SIGNALS",
            SIGINFO => "SIGINFO",
            FILE => "FILE",
            PIPE => "PIPE",
            UNIX_SOCK => "UNIX_SOCK",
            SKB => "SKB",
            EVENTFD => "EVENTFD",
            TIMERFD => "TIMERFD",
            SIGNALFD => "SIGNALFD",
            EPOLL => "EPOLL",
            XSTATE => "XSTATE",
            MM => "MM",
            VMA => "VMA",
            PAGES => "PAGES",
            PAGES_REF => "PAGES_REF",
            REGS => "REGS",
            INET_SOCK => "INET_SOCK",
            FILE_DATA => "FILE_DATA",
            DELETED => "DELETED",
            MEMFD => "MEMFD",
            TASK_ATTRS => "TASK_ATTRS",
            INOTIFY => "INOTIFY",
            INOTIFY_WATCH => "INOTIFY_WATCH",
            FILE_LOCK => "FILE_LOCK",
            FOWN => "FOWN",
            SKB_FDS => "SKB_FDS",
            UTS_NS => "UTS_NS",
            REMOVED_DIR => "REMOVED_DIR",
            IPC_NS => "IPC_NS",
            SYSV_SHM => "SYSV_SHM",
            SYSV_MSQ => "SYSV_MSQ",
            SYSV_MSG => "SYSV_MSG",
            SYSV_SEM => "SYSV_SEM",
            MQUEUE => "MQUEUE",
            MQ_MSG => "MQ_MSG",
            SEM_UNDO => "SEM_UNDO",
            TIME_NS => "TIME_NS",
            _ => "UNKNOWN",
        }
    }
}

/// Rounds a record's size up to [`CKPT_RECORD_ALIGN`].
pub const fn record_pad(len: usize) -> usize {
    (CKPT_RECORD_ALIGN - len % CKPT_RECORD_ALIGN) % CKPT_RECORD_ALIGN
}

/// The header of every record.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptHdr {
    /// One of [`rec`].
    pub kind: u32,
    /// Payload bytes after this header, padding excluded; at most [`CKPT_MAX_PAYLOAD`].
    pub len: u32,
}

/// `HEADER`: what wrote the image, and for which machine.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptHeaderRec {
    pub magic: [u8; 8],
    /// `CKPT_IMAGE_VERSION` of the writer.
    pub image_version: u32,
    /// [`CKPT_ARCH_X86_64`].
    pub arch: u32,
    pub page_size: u32,
    /// Size of the `XSTATE` area (the CPU's XSAVE size for `xfeatures`).
    pub xsave_size: u32,
    /// XCR0 of the checkpointing CPU: the xsave features the image may use.
    pub xfeatures: u64,
    /// `CLOCK_REALTIME` when the checkpoint started, in ns.
    pub time_ns: u64,
    /// Tasks in the image (1 for a single process).
    pub nr_tasks: u32,
    pub __reserved: u32,
    /// `uname -r` of the checkpointing kernel, NUL-padded.
    pub kernel_release: [u8; 64],
    /// The CPUID words of the checkpointing CPU that tell which instructions a program may
    /// use: word `i` is the register [`cpuid_word`]`(i)` names. A program chooses its code
    /// by them once (glibc's `ifunc`s at start-up), so the restarting CPU must have them all.
    pub cpuid: [u32; CKPT_CPUID_WORDS],
    /// Bytes of the vDSO's text (`[vdso]`) of the first task with a memory; 0 if none.
    pub vdso_size: u32,
    /// Bytes of the vvar areas (`[vvar]`, `[vvar_vclock]`) beside it.
    pub vvar_size: u32,
    /// [`fnv1a64`] of the vDSO's text: programs keep pointers into it, so the restarting
    /// kernel's must be the same code.
    pub vdso_hash: u64,
}

/// Words in [`CkptHeaderRec::cpuid`].
pub const CKPT_CPUID_WORDS: usize = 10;

/// The CPUID word `cpuid[i]` of the `HEADER` holds: (leaf, sub-leaf, register: 0 EAX, 1 EBX,
/// 2 ECX, 3 EDX). Words of a leaf beyond the CPU's highest are 0.
pub const fn cpuid_word(i: usize) -> (u32, u32, u32) {
    match i {
        0 => (0x1, 0, 2),
        1 => (0x1, 0, 3),
        2 => (0x7, 0, 1),
        3 => (0x7, 0, 2),
        4 => (0x7, 0, 3),
        5 => (0x7, 1, 0),
        6 => (0xd, 1, 0),
        7 => (0x8000_0001, 0, 2),
        8 => (0x8000_0001, 0, 3),
        9 => (0x8000_0008, 0, 1),
        _ => (0, 0, 0),
    }
}

/// 64-bit FNV-1a of the bytes: the hash `HEADER.vdso_hash` holds.
pub const fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

/// The most vDSO text `HEADER.vdso_hash` covers; a larger one is refused at checkpoint.
pub const CKPT_VDSO_MAX: u32 = 64 << 10;

/// `TAIL`: the image is complete.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptTailRec {
    pub magic: [u8; 8],
    /// Records before this one, `HEADER` included.
    pub nr_records: u64,
}

/// `ERROR`: the checkpoint failed; followed by `len` bytes of reason (UTF-8, no NUL).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptErrorRec {
    /// Positive errno.
    pub error: i32,
    /// Bytes of reason that follow, at most [`CKPT_REASON_MAX`].
    pub len: u32,
}

/// `TREE`: header of the task table; followed by `nr` [`CkptTreeEntry`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptTreeRec {
    pub nr: u32,
    /// [`CKPT_TREE_CONTAINER`] or 0.
    pub flags: u32,
}

/// [`CkptTreeRec::flags`]: the image is a whole pid namespace; the first task is its init.
pub const CKPT_TREE_CONTAINER: u32 = 1;

/// Bytes of a UTS name with its NUL (`__NEW_UTS_LEN + 1`).
pub const CKPT_UTS_LEN: usize = 65;

/// `UTS_NS`: the namespaces other than pid a container has of its own, and the names of its
/// UTS namespace. In a container image only (one, right after the `TREE`); the module
/// refuses every other kind of namespace that differs from the checkpointer's.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptUtsNsRec {
    /// [`CKPT_NS_UTS`], [`CKPT_NS_IPC`], [`CKPT_NS_NET`] (with [`CKPT_NS_LO_UP`]),
    /// [`CKPT_NS_TIME`], or 0.
    pub flags: u32,
    pub __reserved: u32,
    /// `uname -n` of the container's UTS namespace, NUL-terminated and NUL-padded; all
    /// zero without [`CKPT_NS_UTS`].
    pub nodename: [u8; 65],
    /// `domainname` of it, likewise.
    pub domainname: [u8; 65],
    pub __pad: [u8; 6],
}

/// [`CkptUtsNsRec::flags`]: the container has a UTS namespace of its own (rstr makes its
/// init with `CLONE_NEWUTS` and sets the names).
pub const CKPT_NS_UTS: u32 = 1;
/// [`CkptUtsNsRec::flags`]: the container has an IPC namespace of its own, which held no
/// POSIX message queue (rstr makes its init with `CLONE_NEWIPC`); its limits and SysV
/// objects follow in an `IPC_NS` record.
pub const CKPT_NS_IPC: u32 = 2;
/// [`CkptUtsNsRec::flags`]: the container has a network namespace of its own, which had no
/// device but `lo` and no address but lo's default ones (`127.0.0.1/8`, `::1`); rstr makes
/// its init with `CLONE_NEWNET`.
pub const CKPT_NS_NET: u32 = 4;
/// [`CkptUtsNsRec::flags`], only with [`CKPT_NS_NET`]: its `lo` was up (rstr brings it up
/// before any task of the tree runs).
pub const CKPT_NS_LO_UP: u32 = 8;
/// [`CkptUtsNsRec::flags`]: the container has a time namespace of its own, whose offsets
/// follow in a `TIME_NS` record right after this one (rstr makes it with `unshare`, writes
/// the offsets and clones the init into it).
pub const CKPT_NS_TIME: u32 = 16;

/// The largest magnitude of a time namespace offset's seconds (`KTIME_SEC_MAX`, which the
/// kernel's `/proc/PID/timens_offsets` accepts at the most).
pub const CKPT_TIMENS_SEC_MAX: u64 = i64::MAX as u64 / 1_000_000_000;

/// `TIME_NS`: a container's own time namespace, right after its `UTS_NS` (with
/// [`CKPT_NS_TIME`]): the offsets its `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME` have from the
/// host's (what `/proc/PID/timens_offsets` shows), and the host's clocks when they were
/// read, with which a restart keeps the container's clocks from going back.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptTimeNsRec {
    /// The offsets' seconds, at most [`CKPT_TIMENS_SEC_MAX`] either way.
    pub monotonic_sec: i64,
    pub boottime_sec: i64,
    /// Their nanoseconds, below 1e9 (an offset is `sec + nsec / 1e9`).
    pub monotonic_nsec: u32,
    pub boottime_nsec: u32,
    /// The host's `CLOCK_MONOTONIC` and `CLOCK_BOOTTIME`, in nanoseconds, when the offsets
    /// were read (the tree stopped).
    pub host_monotonic: u64,
    pub host_boottime: u64,
}

/// `IPC_NS`: the limits of a container's IPC namespace (its `kernel.*` and `fs.mqueue.*`
/// sysctls) and how many objects of each kind follow: right after the `UTS_NS` of a
/// container with [`CKPT_NS_IPC`], then `nr_shm` `SYSV_SHM` (each with its `FILE_DATA`),
/// `nr_msq` `SYSV_MSQ` (each with its `SYSV_MSG`s) and `nr_sem` `SYSV_SEM` records, in the
/// order of their ids, then `nr_mq` `MQUEUE` records (each with its `MQ_MSG`s), before the
/// first `TASK`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptIpcNsRec {
    /// `kernel.shmmax`, `kernel.shmall`.
    pub shm_ctlmax: u64,
    pub shm_ctlall: u64,
    /// `kernel.shmmni`, `kernel.shm_rmid_forced`.
    pub shm_ctlmni: u32,
    pub shm_rmid_forced: u32,
    /// `kernel.msgmax`, `kernel.msgmnb`, `kernel.msgmni`.
    pub msg_ctlmax: u32,
    pub msg_ctlmnb: u32,
    pub msg_ctlmni: u32,
    /// `kernel.sem`: SEMMSL, SEMMNS, SEMOPM, SEMMNI.
    pub sem_ctls: [u32; 4],
    /// `fs.mqueue.queues_max`, `msg_max`, `msgsize_max`, `msg_default`, `msgsize_default`.
    pub mq_queues_max: u32,
    pub mq_msg_max: u32,
    pub mq_msgsize_max: u32,
    pub mq_msg_default: u32,
    pub mq_msgsize_default: u32,
    pub nr_shm: u32,
    pub nr_msq: u32,
    pub nr_sem: u32,
    /// POSIX message queues, each an `MQUEUE` record after the SysV objects.
    pub nr_mq: u32,
}

/// The most SysV objects of one kind an IPC namespace holds (`IPCMNI_EXTEND`, the most
/// `kernel.{shm,msg,sem}mni` allow).
pub const CKPT_IPC_OBJS_MAX: u32 = 1 << 24;

/// What every SysV object has (`struct ipc64_perm` as `IPC_STAT` shows it).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptIpcPerm {
    /// The key it was made with (`IPC_PRIVATE`, 0, for a private or removed one).
    pub key: i32,
    /// Its identifier, as `shmget`, `msgget` and `semget` return it (index and sequence
    /// number): `rstr` makes it again with that identifier (`kernel.*_next_id`).
    pub id: i32,
    /// Owner and group, creator and its group, in the checkpointer's user namespace.
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    /// The permission bits (`0777`); for a segment also [`CKPT_SHM_DEST`] and
    /// [`CKPT_SHM_LOCKED`].
    pub mode: u32,
    pub __reserved: u32,
}

/// [`CkptIpcPerm::mode`] of a segment removed (`IPC_RMID`) while still attached: it lives
/// until its last detach.
pub const CKPT_SHM_DEST: u32 = 0o1000;
/// [`CkptIpcPerm::mode`] of a segment locked in memory (`SHM_LOCK`).
pub const CKPT_SHM_LOCKED: u32 = 0o2000;

/// `SYSV_SHM`: a shared memory segment, followed by the `FILE_DATA` records of its contents
/// (holes left out), which name it by `obj`, as its attaches do (`VMA` records of kind
/// [`vma_kind::SYSV_SHM`] in `shm`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptSysvShmRec {
    pub perm: CkptIpcPerm,
    /// `shm_segsz`: bytes.
    pub size: u64,
    pub obj: u32,
    /// `shm_nattch`: the attaches, each a memory area of a task of the tree (a checkpoint
    /// refuses a segment attached outside the tree).
    pub nattch: u32,
}

/// `SYSV_MSQ`: a message queue, followed by its `nr_msgs` messages (`SYSV_MSG`), first to
/// be received first.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptSysvMsqRec {
    pub perm: CkptIpcPerm,
    /// `msg_qbytes`: the most bytes it holds.
    pub qbytes: u64,
    pub nr_msgs: u32,
    pub __reserved: u32,
}

/// The most messages one queue holds in an image.
pub const CKPT_SYSV_MSGS_MAX: u32 = 1 << 24;
/// The longest message an image holds (`kernel.msgmax` may be larger: a longer message is
/// refused at checkpoint).
pub const CKPT_SYSV_MSG_MAX: u32 = 4 << 20;

/// `SYSV_MSG`: one message, followed by its `len` bytes of text.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptSysvMsgRec {
    /// Its type, positive.
    pub mtype: i64,
    pub len: u32,
    pub __reserved: u32,
}

/// `SYSV_SEM`: a semaphore set, followed by `nsems` values (`i32`, each in `0..=32767`,
/// `SEMVMX`), then by its `nr_undo` `SEM_UNDO` records.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptSysvSemRec {
    pub perm: CkptIpcPerm,
    pub nsems: u32,
    /// The processes of the tree with undo adjustments (`SEM_UNDO`) for it.
    pub nr_undo: u32,
}

/// `SEM_UNDO`: the undo adjustments (`semadj`) a process of the tree (`pid`, a thread
/// group leader) has for the set of the `SYSV_SEM` before it, applied when it exits;
/// followed by `nsems` (the set's) adjustments (`i32`, each in `-32767..=32767`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptSemUndoRec {
    pub pid: i32,
    pub nsems: u32,
}

/// The most semaphores of one set in an image.
pub const CKPT_SYSV_SEMS_MAX: u32 = 1 << 20;
/// The largest value of a semaphore (`SEMVMX`).
pub const CKPT_SEMVMX: i32 = 32767;

/// `MQUEUE`: a POSIX message queue of a container's IPC namespace, followed by `name_len`
/// bytes of its name (with its leading `/`, as `mq_open` takes it), then by its `nr_msgs`
/// messages (`MQ_MSG`), first received first (highest priority first, each priority in the
/// order sent).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptMqueueRec {
    /// `mq_maxmsg` and `mq_msgsize` of its `mq_attr`.
    pub maxmsg: u64,
    pub msgsize: u64,
    /// Its owner and group (its creator's, or as `fchown` set them) in the checkpointer's
    /// user namespace, and its permission bits (`0777`).
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub name_len: u32,
    pub nr_msgs: u32,
    pub __reserved: u32,
}

/// The longest name of a POSIX message queue, its `/` included (`NAME_MAX` after it).
pub const CKPT_MQ_NAME_MAX: u32 = 256;
/// The largest `mq_maxmsg` and `mq_msgsize` (the kernel's `HARD_MSGMAX`, `HARD_MSGSIZEMAX`).
pub const CKPT_MQ_MAXMSG_MAX: u32 = 65536;
pub const CKPT_MQ_MSGSIZE_MAX: u32 = 16 << 20;
/// The most POSIX message queues of an IPC namespace (`HARD_QUEUESMAX`).
pub const CKPT_MQ_QUEUES_MAX: u32 = 1024;

/// `MQ_MSG`: one message of a POSIX queue: its priority (below `MQ_PRIO_MAX`, 32768), then
/// `len` bytes of text (at most the queue's `msgsize`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptMqMsgRec {
    pub prio: u32,
    pub len: u32,
}

/// The priorities of `MQ_MSG` are below this (`MQ_PRIO_MAX`).
pub const CKPT_MQ_PRIO_MAX: u32 = 32768;

/// One task of the tree. Pids are as seen in the image's pid namespace (the checkpointer's,
/// or the container's); a parent, group or session outside the tree keeps its number,
/// which the restart does not recreate.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptTreeEntry {
    pub pid: i32,
    pub tgid: i32,
    /// The parent process's tgid; the root's parent is outside the tree.
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    /// `CKPT_TASK_*`.
    pub flags: u32,
    /// A zombie's wait status (`WEXITSTATUS`/`WTERMSIG` encoding), else 0.
    pub exit_code: i32,
    /// Signal sent to the parent when the task dies (`SIGCHLD`, usually).
    pub exit_signal: i32,
    /// Object ids (0 for a zombie): memory, descriptor table, root/cwd/umask, handlers.
    pub mm: u32,
    pub files: u32,
    pub fs: u32,
    pub sighand: u32,
}

/// A zombie: dead, not yet reaped by its parent.
pub const CKPT_TASK_ZOMBIE: u32 = 1 << 0;
/// Stopped by a signal (group stop), not only by the checkpoint.
pub const CKPT_TASK_STOPPED: u32 = 1 << 1;
/// A child subreaper (`PR_SET_CHILD_SUBREAPER`).
pub const CKPT_TASK_SUBREAPER: u32 = 1 << 2;

/// `TASK`: identity and per-task settings.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptTaskRec {
    pub pid: i32,
    pub tgid: i32,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    pub personality: u32,
    pub umask: u32,
    pub exit_signal: i32,
    /// `PR_GET_DUMPABLE` (0 or 1; a checkpoint refuses 2, which no `prctl` can set), or
    /// `u32::MAX` when the writer could not read it; `rstr` then leaves what the kernel gives.
    pub dumpable: u32,
    /// `PR_GET_NO_NEW_PRIVS`.
    pub no_new_privs: u32,
    pub comm: [u8; 16],
    pub robust_list: u64,
    pub robust_list_len: u64,
    pub set_child_tid: u64,
    pub clear_child_tid: u64,
    /// Start of the vDSO's text (`mm->context.vdso`), 0 if none: `rstr` moves its own vDSO
    /// there before the module reads the memory records.
    pub vdso_base: u64,
    /// The registered rseq area (`rseq(2)`), 0 if none, with its length and signature:
    /// `rstr` registers it again.
    pub rseq: u64,
    pub rseq_len: u32,
    pub rseq_sig: u32,
    /// `PR_GET_PDEATHSIG`: the signal the task gets when its parent dies, 0 for none.
    pub pdeath_signal: i32,
    /// The nice value, -20 to 19 (`getpriority(PRIO_PROCESS)` of this thread).
    pub nice: i32,
    /// `PR_GET_TIMERSLACK`: this thread's timer slack in ns.
    pub timer_slack_ns: u64,
    /// `PR_GET_THP_DISABLE` of its memory: 0, or 1 with `PR_THP_DISABLE_EXCEPT_ADVISED` (2).
    pub thp_disable: u32,
    pub __reserved: u32,
}

/// `CREDS`: followed by `ngroups` `u32` supplementary group ids.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptCredsRec {
    pub uid: u32,
    pub euid: u32,
    pub suid: u32,
    pub fsuid: u32,
    pub gid: u32,
    pub egid: u32,
    pub sgid: u32,
    pub fsgid: u32,
    pub securebits: u32,
    pub ngroups: u32,
    pub cap_inheritable: u64,
    pub cap_permitted: u64,
    pub cap_effective: u64,
    pub cap_bset: u64,
    pub cap_ambient: u64,
}

/// One resource limit.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptRlimit {
    pub cur: u64,
    pub max: u64,
}

/// `RLIMITS`: every `RLIMIT_*`, indexed by resource number.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptRlimitsRec {
    pub rlim: [CkptRlimit; CKPT_RLIM_NLIMITS],
}

/// `FS`: followed by `root_len` bytes of root path, then `cwd_len` bytes of cwd path.
/// With `CKPT_FS_CWD_REMOVED` in `flags`, the working directory had been removed (the path is
/// where it was, without `" (deleted)"`): `rstr` makes an empty directory there with
/// `cwd_mode`, `cwd_uid` and `cwd_gid`, enters it and removes it again.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptFsRec {
    pub root_len: u32,
    pub cwd_len: u32,
    pub flags: u32,
    /// The permission bits of a removed working directory (0 otherwise).
    pub cwd_mode: u32,
    pub cwd_uid: u32,
    pub cwd_gid: u32,
}

/// `CkptFsRec::flags`: the working directory had been removed.
pub const CKPT_FS_CWD_REMOVED: u32 = 1;

/// One signal's disposition, as `struct k_sigaction` (x86-64 layout).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptSigaction {
    /// `SIG_DFL` (0), `SIG_IGN` (1) or a handler address.
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

/// `SIGHAND`: the dispositions of signals 1 to 64 (index 0 is signal 1).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptSighandRec {
    pub action: [CkptSigaction; CKPT_NSIG],
}

/// `SIGNALS`: the mask and alternate stack; `nr_pending` `SIGINFO` records follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptSignalsRec {
    /// Blocked signals: bit `n - 1` is signal `n`.
    pub blocked: u64,
    pub altstack_sp: u64,
    pub altstack_size: u64,
    pub altstack_flags: u32,
    pub nr_pending: u32,
}

/// `SIGINFO`: one pending signal.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptSiginfoRec {
    /// 1 if pending for the whole thread group, 0 if for the task.
    pub shared: u32,
    pub __reserved: u32,
    /// The `siginfo_t` as `rt_sigqueueinfo` takes it.
    pub info: [u8; CKPT_SIGINFO_SIZE],
}

/// `ITIMERS`: a process's timers, with the records of its thread-group leader (after its
/// `SIGINFO`s), only if it has an interval timer (`ITIMER_REAL`, `_VIRTUAL`, `_PROF`) armed
/// or with an interval, or `timer_create` timers; `nr_posix` `POSIX_TIMER` records follow,
/// in increasing `id`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptItimersRec {
    /// `ITIMER_REAL`: nanoseconds to its next expiry, 0 if disarmed.
    pub real_value_ns: u64,
    /// `ITIMER_REAL`'s interval (`it_real_incr`), 0 for none.
    pub real_interval_ns: u64,
    /// `ITIMER_VIRTUAL`: nanoseconds of the process's user CPU time to its next expiry, 0
    /// if disarmed.
    pub virt_value_ns: u64,
    /// `ITIMER_VIRTUAL`'s interval, 0 for none.
    pub virt_interval_ns: u64,
    /// `ITIMER_PROF`: nanoseconds of the process's user and system CPU time to its next
    /// expiry, 0 if disarmed.
    pub prof_value_ns: u64,
    /// `ITIMER_PROF`'s interval, 0 for none.
    pub prof_interval_ns: u64,
    pub nr_posix: u32,
    pub __reserved: u32,
}

/// `POSIX_TIMER`: one `timer_create` timer of the process.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptPosixTimerRec {
    /// The timer's id (`timer_t`), `0..=INT_MAX`.
    pub id: i32,
    /// `CLOCK_REALTIME`, `CLOCK_MONOTONIC`, `CLOCK_BOOTTIME` or `CLOCK_TAI`; or a CPU
    /// clock in the kernel's encoding (negative: `(~pid << 3) | which`, `which` 0 for
    /// `CPUCLOCK_PROF`, 1 `_VIRT`, 2 `_SCHED`, plus 4 for a thread's): the process's own
    /// with pid 0 (`CLOCK_PROCESS_CPUTIME_ID` is `_SCHED`), or one of its threads' by tid.
    pub clock: i32,
    /// `sigev_notify`: `SIGEV_SIGNAL`, `SIGEV_NONE`, `SIGEV_THREAD` or
    /// `SIGEV_SIGNAL | SIGEV_THREAD_ID`.
    pub notify: i32,
    /// `sigev_signo`, 1 to 64; 0 for `SIGEV_NONE`.
    pub signo: i32,
    /// For `SIGEV_THREAD_ID`: the thread signalled (a task of the image), else 0.
    pub tid: i32,
    /// What `timer_getoverrun` returned, `0..=INT_MAX`; restored (`CKPT_IOC_RESTART_TIMER`).
    pub overrun: i32,
    /// `sigev_value`.
    pub value: u64,
    /// Nanoseconds to the next expiry, 0 if disarmed.
    pub value_ns: u64,
    /// The interval in nanoseconds, 0 for a one-shot.
    pub interval_ns: u64,
    /// `CKPT_POSIX_TIMER_*` bits.
    pub flags: u32,
    pub __reserved: u32,
}

/// `CkptPosixTimerRec::flags`: the timer fired and its signal is pending (queued, not yet
/// delivered); restart makes it fire at once, so that its own signal is pending again.
/// Its `value_ns` is then the time from that expiry's re-arm to the next one (periodic),
/// or 0 (one-shot).
pub const CKPT_POSIX_TIMER_PENDING: u32 = 1;

/// Kinds of open files.
pub mod file_kind {
    /// A regular file, reopened by path.
    pub const REGULAR: u32 = 1;
    /// A character device, reopened by path.
    pub const CHARDEV: u32 = 2;
    /// A directory, reopened by path.
    pub const DIRECTORY: u32 = 3;
    /// One end of a pipe (`pipe(2)`), recreated with its contents.
    pub const PIPE: u32 = 4;
    /// A unix domain socket, recreated with its queued data (its `UNIX_SOCK` record).
    pub const UNIX_SOCKET: u32 = 8;
    /// An eventfd (`eventfd2(2)`), recreated from its `EVENTFD` record.
    pub const EVENTFD: u32 = 5;
    /// A timerfd (`timerfd_create(2)`), recreated and armed from its `TIMERFD` record.
    pub const TIMERFD: u32 = 6;
    /// A signalfd (`signalfd4(2)`), recreated from its `SIGNALFD` record.
    pub const SIGNALFD: u32 = 7;
    /// A TCP or UDP socket of IPv4 or IPv6, recreated from its `INET_SOCK` record.
    pub const INET_SOCKET: u32 = 10;
    /// An epoll instance (`epoll_create1(2)`), recreated with its interest list from its
    /// `EPOLL` record.
    pub const EPOLL: u32 = 9;
    /// A named pipe (FIFO), reopened by its path (or, its path gone, a private FIFO made
    /// again); `pipe` names its `PIPE` record, shared by all its descriptions.
    pub const FIFO: u32 = 11;
    /// A regular file unlinked (or replaced at its path) while open: made again by `rstr`
    /// with `O_TMPFILE` from its `DELETED` and `FILE_DATA` records (`pipe` is its id).
    pub const DELETED: u32 = 13;
    /// A memfd (`memfd_create`): made again by `rstr` from its `MEMFD` and `FILE_DATA`
    /// records (`pipe` is its id).
    pub const MEMFD: u32 = 12;
    /// An inotify instance (`inotify_init1(2)`), recreated with its watches from its
    /// `INOTIFY` and `INOTIFY_WATCH` records; events queued at checkpoint are dropped.
    pub const INOTIFY: u32 = 14;
    /// A descriptor of a POSIX message queue (`mq_open`) of a container's IPC namespace:
    /// opened again by its name (`path`, its `MQUEUE` record's) with its flags.
    pub const MQUEUE: u32 = 16;
    /// A directory removed (`rmdir`) while open, whose parent is still there: made again
    /// empty by `rstr` at its path from its `REMOVED_DIR` record (`pipe` is its id),
    /// opened with the saved flags and removed again.
    pub const REMOVED_DIR: u32 = 15;
}

/// `FILE`: one file descriptor; followed by `path_len` bytes of path.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptFileRec {
    /// The descriptor; [`CKPT_FD_IN_FLIGHT`] for an open file description that only
    /// messages of a unix socket's receive queue hold (`SCM_RIGHTS`, see [`CkptSkbFdsRec`]).
    pub fd: i32,
    /// One of [`file_kind`].
    pub kind: u32,
    /// `f_flags` (`O_*`), as `fcntl(F_GETFL)` shows them plus the access mode.
    pub flags: u32,
    /// 1 if close-on-exec.
    pub cloexec: u32,
    pub pos: i64,
    /// `i_mode` of the inode.
    pub mode: u32,
    /// Device number of a character device (`new_encode_dev`), else 0.
    pub rdev: u32,
    pub path_len: u32,
    /// The open file description: one id per description in the image, so that
    /// descriptors sharing one (`dup`, `fork`) share it again after restart.
    pub obj: u32,
    /// For [`file_kind::PIPE`] and [`file_kind::FIFO`]: the pipe's id (its `PIPE` record
    /// comes first); for [`file_kind::DELETED`]: the file's id (its `DELETED` record); for
    /// [`file_kind::UNIX_SOCKET`]: the socket's id (its `UNIX_SOCK` record comes first); for
    /// [`file_kind::REMOVED_DIR`]: the directory's id (its `REMOVED_DIR` record); else 0.
    pub pipe: u32,
    pub __reserved: u32,
}

/// `PIPE`: a pipe (or FIFO) some descriptor of the image has open, written before the
/// first `FILE` that refers to it; followed by `len` bytes: what was buffered in it, unread.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptPipeRec {
    pub id: u32,
    /// Capacity in bytes (`F_GETPIPE_SZ`).
    pub capacity: u32,
    pub len: u32,
    pub __reserved: u32,
}

/// The most a unix socket's saved receive queue may hold, in bytes.
pub const CKPT_UNIX_QUEUE_MAX: u32 = 1 << 20;
/// The most messages a datagram or seqpacket socket's saved receive queue may hold.
pub const CKPT_UNIX_MSGS_MAX: u32 = 1024;
/// The longest name of a unix socket (`sun_path`).
pub const CKPT_UNIX_NAME_MAX: u32 = 108;

/// [`CkptUnixSockRec::state`]: what a unix socket is.
pub mod unix_state {
    /// Neither connected nor listening (made by `socket()`, maybe bound).
    pub const UNCONNECTED: u32 = 0;
    /// Connected to `peer` (`socketpair`, `connect`, `accept`).
    pub const CONNECTED: u32 = 1;
    /// Listening (`listen`), with `backlog`; bound to `name`.
    pub const LISTENING: u32 = 2;
    /// A connection not accepted yet, in the backlog of the listening socket of name id
    /// `listener` (whose name it has), at place `backlog` (0 first, as `accept` returns
    /// them); connected to `peer`, the socket that connected. No descriptor has it: its
    /// record follows its listener's (image version 7).
    pub const EMBRYO: u32 = 3;
}

/// [`CkptUnixSockRec::shutdown`] bits, as the kernel's `sk_shutdown`.
pub const CKPT_UNIX_RCV_SHUTDOWN: u32 = 1;
pub const CKPT_UNIX_SEND_SHUTDOWN: u32 = 2;
/// `CkptUnixSockRec.flags`: `SO_PASSCRED` is on (its receive queue is empty: the
/// credentials of queued messages are not saved).
pub const CKPT_UNIX_PASSCRED: u32 = 1;
/// `CkptUnixSockRec.flags`: the socket holds peer credentials (`sk_peer_cred`, what
/// `SO_PEERCRED` shows): `peer_uid` and `peer_gid` are theirs. Without it the socket has
/// none (made by `socket()`, or a datagram socket connected with `connect`: `SO_PEERCRED`
/// shows uid and gid -1) and `peer_pid` is 0 (image version 10).
pub const CKPT_UNIX_PEERCRED: u32 = 2;

/// The shutdown bits a connected stream or seqpacket peer has when the socket has `bits`:
/// `shutdown()` on either end sets the mirrored bits on the other.
pub const fn unix_mirrored_shutdown(bits: u32) -> u32 {
    let rcv = if bits & CKPT_UNIX_RCV_SHUTDOWN != 0 {
        CKPT_UNIX_SEND_SHUTDOWN
    } else {
        0
    };
    let send = if bits & CKPT_UNIX_SEND_SHUTDOWN != 0 {
        CKPT_UNIX_RCV_SHUTDOWN
    } else {
        0
    };
    rcv | send
}

/// `UNIX_SOCK`: a unix domain socket some descriptor of the image has open, written before
/// the first `FILE` that refers to it (or a connection not accepted yet in the backlog of
/// one, [`unix_state::EMBRYO`], after its listener's records); followed by `name_len` bytes of the name it is bound
/// to (`sun_path`: an absolute path without its NUL, or an abstract name starting with a
/// NUL), then by `nr_skbs` `SKB` records: what is queued in its receive queue, unread,
/// oldest first (one per message of a datagram or seqpacket socket; a stream's bytes in one).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptUnixSockRec {
    pub id: u32,
    /// `SOCK_STREAM`, `SOCK_DGRAM` or `SOCK_SEQPACKET`.
    pub sock_type: u32,
    /// One of [`unix_state`].
    pub state: u32,
    /// The connected peer's id (its `UNIX_SOCK` record is in the image too); 0 for none.
    pub peer: u32,
    /// [`CKPT_UNIX_RCV_SHUTDOWN`] and [`CKPT_UNIX_SEND_SHUTDOWN`].
    pub shutdown: u32,
    /// `listen`'s backlog, for a listening socket; for a connection not accepted yet
    /// ([`unix_state::EMBRYO`]), its place in its listener's backlog (0 first); else 0.
    pub backlog: u32,
    /// `sk_sndbuf` when the program set it (`SO_SNDBUF`), else 0.
    pub sndbuf: u32,
    /// `sk_rcvbuf` when the program set it (`SO_RCVBUF`), else 0.
    pub rcvbuf: u32,
    /// For a listening socket, and for each connection accepted from it (which has its
    /// name): the id of the name they share, one per `bind`; else 0.
    pub listener: u32,
    pub name_len: u32,
    pub nr_skbs: u32,
    /// [`CKPT_UNIX_PASSCRED`], [`CKPT_UNIX_PEERCRED`]; other bits 0.
    pub flags: u32,
    /// `SO_RCVTIMEO` and `SO_SNDTIMEO` in milliseconds (rounded up), 0 for none (appended:
    /// the record had no free field for them).
    pub rcvtimeo_ms: u32,
    pub sndtimeo_ms: u32,
    /// The peer's process as `SO_PEERCRED` names it (`sk_peer_pid`: who made the pair,
    /// connected, or listened), as a pid of the checkpointed tree's pid namespace; 0 for
    /// none or not visible there (image version 10, as the next two).
    pub peer_pid: i32,
    /// With [`CKPT_UNIX_PEERCRED`]: the effective uid and gid of `sk_peer_cred`, in the
    /// checkpointer's user namespace (what `SO_PEERCRED` shows it); else 0.
    pub peer_uid: u32,
    pub peer_gid: u32,
    pub __reserved: u32,
}

/// `SKB`: one message queued in the receive queue of the `UNIX_SOCK` before it; followed
/// by `len` bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptSkbRec {
    pub len: u32,
    pub __reserved: u32,
}

/// [`CkptFileRec::fd`] of a description no descriptor of the tree has, that messages in
/// flight carry: written with the descriptors of the table being saved, before the
/// `UNIX_SOCK` whose messages carry it; of kind [`file_kind::REGULAR`],
/// [`file_kind::DIRECTORY`], [`file_kind::CHARDEV`] or [`file_kind::PIPE`] only, never
/// close-on-exec.
pub const CKPT_FD_IN_FLIGHT: i32 = -1;
/// The most descriptors one message carries (`SCM_MAX_FD`).
pub const CKPT_SKB_FDS_MAX: u32 = 253;

/// `SKB_FDS`: the open file descriptions that message `skb` (an index into the `SKB`
/// records of socket `sock`) carries in flight (`SCM_RIGHTS`), in the order they were
/// sent; followed by `nr_fds` `u32`s, each the `obj` of a `FILE` record of the image
/// (a descriptor's, or one of fd [`CKPT_FD_IN_FLIGHT`]). Right after the `SKB` records of
/// its socket (or its other `SKB_FDS`), in increasing `skb`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptSkbFdsRec {
    /// The `UNIX_SOCK`'s id.
    pub sock: u32,
    pub skb: u32,
    /// At most [`CKPT_SKB_FDS_MAX`], at least 1.
    pub nr_fds: u32,
    pub __reserved: u32,
}

/// `EVENTFD`: the counter of an eventfd, one record per open file description, written
/// before the first `FILE` (of kind [`file_kind::EVENTFD`]) whose `obj` is `id`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptEventfdRec {
    /// The `obj` of the `FILE` records of this description.
    pub id: u32,
    /// [`CKPT_EFD_SEMAPHORE`] or 0 (`O_NONBLOCK` and close-on-exec are the `FILE`'s).
    pub flags: u32,
    /// The counter, at most [`CKPT_EVENTFD_MAX`].
    pub count: u64,
}

/// `EFD_SEMAPHORE` (`<linux/eventfd.h>`).
pub const CKPT_EFD_SEMAPHORE: u32 = 1;
/// The largest count an eventfd holds (`ULLONG_MAX - 1`: a write that would reach
/// `ULLONG_MAX` blocks).
pub const CKPT_EVENTFD_MAX: u64 = u64::MAX - 1;
/// `TFD_TIMER_ABSTIME` (`<linux/timerfd.h>`).
pub const CKPT_TFD_TIMER_ABSTIME: u32 = 1;
/// `TFD_TIMER_CANCEL_ON_SET` (`<linux/timerfd.h>`).
pub const CKPT_TFD_TIMER_CANCEL_ON_SET: u32 = 2;

/// `TIMERFD`: a timerfd, one record per open file description, written before the first
/// `FILE` (of kind [`file_kind::TIMERFD`]) whose `obj` is `id`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptTimerfdRec {
    pub id: u32,
    /// `CLOCK_REALTIME`, `CLOCK_MONOTONIC` or `CLOCK_BOOTTIME`.
    pub clockid: u32,
    /// The flags of its last `timerfd_settime`: [`CKPT_TFD_TIMER_ABSTIME`] or 0.
    pub settime_flags: u32,
    pub __reserved: u32,
    /// Expirations not yet read.
    pub ticks: u64,
    /// Time until the next expiration (`timerfd_gettime`'s `it_value`); 0 if disarmed or
    /// expired and not re-armed yet (a periodic timer re-arms when it is read).
    pub value_sec: u64,
    pub value_nsec: u64,
    /// The period (`it_interval`); 0 for a one-shot timer.
    pub interval_sec: u64,
    pub interval_nsec: u64,
    /// `CLOCK_REALTIME` when `value` was read: with it, the absolute expiration of a
    /// timer armed with [`CKPT_TFD_TIMER_ABSTIME`] on the wall clock.
    pub now_sec: u64,
    pub now_nsec: u64,
}

/// `SIGNALFD`: a signalfd, one record per open file description, written before the first
/// `FILE` (of kind [`file_kind::SIGNALFD`]) whose `obj` is `id`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptSignalfdRec {
    pub id: u32,
    pub __reserved: u32,
    /// The signals it reads: bit `n - 1` is signal `n` (never `SIGKILL` nor `SIGSTOP`).
    pub mask: u64,
}

/// [`CkptInetSockRec::state`]: what a TCP or UDP socket is.
pub mod inet_state {
    /// Made by `socket()`, bound to `port` or not (`port` 0), neither listening nor connected.
    pub const CLOSED: u32 = 0;
    /// A TCP socket listening (`listen`), with `backlog`.
    pub const LISTENING: u32 = 1;
    /// A UDP socket connected (`connect`) to `peer_addr`, `peer_port`.
    pub const CONNECTED: u32 = 2;
}

/// [`CkptInetSockRec::flags`]: `SO_REUSEADDR` (`sk_reuse`).
pub const CKPT_INET_REUSEADDR: u32 = 1 << 0;
/// `SO_REUSEPORT` (`sk_reuseport`).
pub const CKPT_INET_REUSEPORT: u32 = 1 << 1;
/// `SO_KEEPALIVE`.
pub const CKPT_INET_KEEPALIVE: u32 = 1 << 2;
/// `SO_BROADCAST`.
pub const CKPT_INET_BROADCAST: u32 = 1 << 3;
/// `SO_LINGER` on, for `linger` seconds.
pub const CKPT_INET_LINGER: u32 = 1 << 4;
/// `IPV6_V6ONLY` (an IPv6 socket only).
pub const CKPT_INET_V6ONLY: u32 = 1 << 5;
/// `TCP_NODELAY` (a TCP socket only).
pub const CKPT_INET_NODELAY: u32 = 1 << 6;
/// `IP_FREEBIND`.
pub const CKPT_INET_FREEBIND: u32 = 1 << 7;
/// `IP_TRANSPARENT`.
pub const CKPT_INET_TRANSPARENT: u32 = 1 << 8;
/// The port was chosen by the program (`bind` with a port: `SOCK_BINDPORT_LOCK`), not by
/// the kernel; a restart binds the same port either way.
pub const CKPT_INET_USER_PORT: u32 = 1 << 9;
/// The local address was chosen by the program (`bind` to an address:
/// `SOCK_BINDADDR_LOCK`); else a restart binds the wildcard address (a connected UDP
/// socket's own address comes from its `connect`).
pub const CKPT_INET_USER_ADDR: u32 = 1 << 10;
/// Every [`CkptInetSockRec::flags`] bit.
pub const CKPT_INET_FLAGS: u32 = (1 << 11) - 1;

/// `INET_SOCK`: a TCP or UDP socket of IPv4 or IPv6 some descriptor of the image has open,
/// one record per socket (one open file description), written before the first `FILE` (of
/// kind [`file_kind::INET_SOCKET`]) whose `obj` is `id`. Addresses are in network byte
/// order (an IPv4 one in the first 4 bytes, the rest zero), ports in host byte order.
/// Options the program did not set are 0 (`ttl`: -1).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptInetSockRec {
    pub id: u32,
    /// `AF_INET` or `AF_INET6`.
    pub family: u32,
    /// `SOCK_STREAM` or `SOCK_DGRAM`.
    pub sock_type: u32,
    /// `IPPROTO_TCP` or `IPPROTO_UDP`.
    pub protocol: u32,
    /// One of [`inet_state`].
    pub state: u32,
    /// `CKPT_INET_*` bits.
    pub flags: u32,
    /// The local port, 0 for an unbound socket.
    pub port: u32,
    /// The peer's port, for [`inet_state::CONNECTED`]; else 0.
    pub peer_port: u32,
    pub addr: [u8; 16],
    pub peer_addr: [u8; 16],
    /// `listen`'s backlog (`sk_max_ack_backlog`), for [`inet_state::LISTENING`]; else 0.
    pub backlog: u32,
    /// `SO_SNDBUF` as `getsockopt` reads it (twice what was asked), when the program set
    /// it; else 0. The same for `SO_RCVBUF`.
    pub sndbuf: u32,
    pub rcvbuf: u32,
    /// `SO_PRIORITY`.
    pub priority: u32,
    /// `SO_MARK`.
    pub mark: u32,
    /// `SO_RCVLOWAT` (1 by default).
    pub rcvlowat: u32,
    /// `SO_LINGER`'s seconds, with [`CKPT_INET_LINGER`]; else 0.
    pub linger: u32,
    /// `IP_TOS`.
    pub tos: u32,
    /// `IP_TTL` set by the program, -1 if not.
    pub ttl: i32,
    /// `TCP_KEEPIDLE`, `TCP_KEEPINTVL` (seconds) and `TCP_KEEPCNT` set by the program; 0 if not.
    pub keepidle: u32,
    pub keepintvl: u32,
    pub keepcnt: u32,
    /// `TCP_DEFER_ACCEPT` as `getsockopt` reads it, in seconds; 0 if off.
    pub defer_accept: u32,
    /// `TCP_FASTOPEN`: the queue length of a listening socket; 0 if off.
    pub fastopen: u32,
    /// `SO_RCVTIMEO` and `SO_SNDTIMEO` in milliseconds (rounded up), 0 for none.
    pub rcvtimeo_ms: u32,
    pub sndtimeo_ms: u32,
}

/// `EPOLL`: the interest list of an epoll instance, one record per open file description,
/// written before the first `FILE` (of kind [`file_kind::EPOLL`]) whose `obj` is `id`;
/// followed by `nr_items` [`CkptEpollItem`].
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptEpollRec {
    /// The `obj` of the `FILE` records of this description.
    pub id: u32,
    /// Items of its interest list, at most [`CKPT_EPOLL_ITEMS_MAX`].
    pub nr_items: u32,
}

/// One item of an epoll's interest list: the file it watches and the number it was added
/// with (its key, with the file), in the descriptor table of the task the `EPOLL` record
/// is saved with.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptEpollItem {
    /// The `obj` of the watched file's `FILE` record: of a descriptor of that table, `tfd`
    /// or (`tfd` closed or replaced since `EPOLL_CTL_ADD`) another.
    pub obj: u32,
    /// The descriptor number of `EPOLL_CTL_ADD`, part of the item's key; it may hold
    /// another file of the table, or none.
    pub tfd: i32,
    /// `EPOLL*` events as the kernel keeps them: with `EPOLLERR | EPOLLHUP` it adds, and
    /// only [`CKPT_EPOLL_PRIVATE_BITS`] for an `EPOLLONESHOT` item that fired (disarmed).
    pub events: u32,
    pub __reserved: u32,
    /// `epoll_event.data`, as `epoll_wait` returns it.
    pub data: u64,
}

/// Items of one epoll's interest list an image holds at the most.
pub const CKPT_EPOLL_ITEMS_MAX: u32 = 65536;
/// `EPOLLEXCLUSIVE | EPOLLWAKEUP | EPOLLONESHOT | EPOLLET` (`EP_PRIVATE_BITS` of
/// `fs/eventpoll.c`): the bits of an item's events that are modes, not events.
pub const CKPT_EPOLL_PRIVATE_BITS: u32 = 0xf000_0000;

/// `INOTIFY`: an inotify instance, one record per open file description, written before
/// the first `FILE` (of kind [`file_kind::INOTIFY`]) whose `obj` is `id`; followed by
/// `nr_watches` `INOTIFY_WATCH` records, in increasing `wd`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptInotifyRec {
    /// The `obj` of the `FILE` records of this description.
    pub id: u32,
    /// Watches, at most [`CKPT_INOTIFY_WATCHES_MAX`].
    pub nr_watches: u32,
}

/// `INOTIFY_WATCH`: one watch of the `INOTIFY` record before it; followed by `path_len`
/// bytes: the watched inode's path from the root of its filesystem (the mount that shows
/// it is found again at restart by `dev`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptInotifyWatchRec {
    /// The watch descriptor `inotify_add_watch` returned: 1 to [`CKPT_INOTIFY_WD_MAX`].
    pub wd: i32,
    /// `IN_*` events and `IN_ONESHOT`, `IN_EXCL_UNLINK`: within [`CKPT_INOTIFY_MASK`].
    pub mask: u32,
    /// The inode's number, and its filesystem's device as `stat`'s `st_dev` encodes it.
    pub ino: u64,
    pub dev: u32,
    pub path_len: u32,
}

/// Watches of one inotify instance an image holds at the most.
pub const CKPT_INOTIFY_WATCHES_MAX: u32 = 65536;
/// The highest watch descriptor an image holds: `rstr` reaches each one by adding and
/// removing the watch until the kernel hands out that number.
pub const CKPT_INOTIFY_WD_MAX: u32 = 1 << 20;
/// `IN_ALL_EVENTS | IN_EXCL_UNLINK | IN_ONESHOT`: what a watch's mask may hold.
pub const CKPT_INOTIFY_MASK: u32 = 0x8400_0fff;

/// `XSTATE`: followed by `size` bytes of XSAVE area (standard format, as `XSAVE` writes it).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptXstateRec {
    /// `XSTATE_BV` of the area: features whose state is not in their init state.
    pub xstate_bv: u64,
    pub size: u32,
    pub __reserved: u32,
}

/// `MM`: the layout fields of the memory descriptor; `nr_vmas` `VMA` records follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptMmRec {
    pub start_code: u64,
    pub end_code: u64,
    pub start_data: u64,
    pub end_data: u64,
    pub start_brk: u64,
    pub brk: u64,
    pub start_stack: u64,
    pub arg_start: u64,
    pub arg_end: u64,
    pub env_start: u64,
    pub env_end: u64,
    pub nr_vmas: u32,
    /// Words of `auxv` in use (pairs of type and value, ending with `AT_NULL`).
    pub auxv_words: u32,
    pub auxv: [u64; CKPT_AUXV_WORDS],
    /// The area (index among the `VMA` records that follow) mapping the executable
    /// file, `/proc/PID/exe`; [`CKPT_NO_EXE`] for a memory without one.
    pub exe_vma: u32,
    /// [`CKPT_MM_LOCK_FUTURE`] or 0.
    pub flags: u32,
}

/// [`CkptMmRec::flags`]: `mlockall(MCL_FUTURE)` (`mm->def_flags` has `VM_LOCKED`): every
/// area mapped from now on is locked. The areas locked already say so in their `vm_flags`.
pub const CKPT_MM_LOCK_FUTURE: u32 = 1;

/// [`CkptMmRec::exe_vma`] of a memory with no executable file.
pub const CKPT_NO_EXE: u32 = u32::MAX;

/// The bit of [`CkptVmaRec::vm_flags`] of a locked area (the kernel's `VM_LOCKED`).
pub const CKPT_VM_LOCKED: u64 = 0x2000;
/// The bit of [`CkptVmaRec::vm_flags`] of an area that may be made writable (the kernel's
/// `VM_MAYWRITE`): a SysV attach without `SHM_RDONLY`.
pub const CKPT_VM_MAYWRITE: u64 = 0x20;

/// Kinds of memory areas.
pub mod vma_kind {
    pub const ANON_PRIVATE: u32 = 1;
    pub const ANON_SHARED: u32 = 2;
    pub const FILE_PRIVATE: u32 = 3;
    pub const FILE_SHARED: u32 = 4;
    /// The brk heap (anonymous, private).
    pub const HEAP: u32 = 5;
    /// The main stack (anonymous, private, grows down).
    pub const STACK: u32 = 6;
    pub const VDSO: u32 = 7;
    pub const VVAR: u32 = 8;
    pub const VVAR_VCLOCK: u32 = 9;
    pub const VSYSCALL: u32 = 10;
    /// An attach of a SysV shared memory segment (`shmat`): `shm` is the segment's
    /// `SYSV_SHM` `obj`, `shm_size` its size, `pgoff` the page of it where the area starts;
    /// no path, no pages (the segment's `FILE_DATA` has them).
    pub const SYSV_SHM: u32 = 11;
}

/// `VMA`: one memory area; followed by `path_len` bytes of path (file mappings only).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptVmaRec {
    pub start: u64,
    pub end: u64,
    /// Offset in the file, in pages.
    pub pgoff: u64,
    /// The kernel's `vm_flags` (`VM_*`), for `ckpt show` and for checks.
    pub vm_flags: u64,
    /// `PROT_*`.
    pub prot: u32,
    /// One of [`vma_kind`].
    pub kind: u32,
    pub path_len: u32,
    /// For [`vma_kind::ANON_SHARED`]: the id of the shared memory object, the same in
    /// every area (of every process) that maps it. For [`vma_kind::FILE_SHARED`] and
    /// [`vma_kind::FILE_PRIVATE`]: 0 for a file reopened by its path, or the id of the
    /// memfd or deleted file mapped (its `MEMFD` or `DELETED` record, before the `MM`
    /// record at the latest), which `rstr` makes and hands to the module
    /// ([`super::CkptRestartArgs::objs`]); `path` is then what `d_path` showed (for a
    /// deleted file, the path it had, without `" (deleted)"`). Else 0.
    pub shm: u32,
    /// For [`vma_kind::ANON_SHARED`]: the object's size in bytes; else 0.
    pub shm_size: u64,
}

/// `PAGES`: `nr_pages` pages starting at `addr`, their contents follow.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptPagesRec {
    pub addr: u64,
    pub nr_pages: u32,
    pub __reserved: u32,
}

/// `PAGES_REF`: `nr_pages` pages starting at `addr` whose contents are those saved earlier
/// in the image at offset `src` (from the image's first byte, inside the payload of an
/// earlier `PAGES` record): pages a process shares copy-on-write with one saved before it
/// (its parent, since a `fork`) are written once.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptPagesRefRec {
    pub addr: u64,
    pub nr_pages: u32,
    pub __reserved: u32,
    pub src: u64,
}

/// `REGS`: the general registers, as `struct user_regs_struct` (x86-64), and how the task
/// stood with respect to a system call.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptRegsRec {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub bp: u64,
    pub bx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub ax: u64,
    pub cx: u64,
    pub dx: u64,
    pub si: u64,
    pub di: u64,
    pub orig_ax: u64,
    pub ip: u64,
    pub cs: u64,
    pub flags: u64,
    pub sp: u64,
    pub ss: u64,
    pub fs_base: u64,
    pub gs_base: u64,
    pub ds: u64,
    pub es: u64,
    pub fs: u64,
    pub gs: u64,
}

/// Why a record's fields do not hold together (see [`Record::trailer_len`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldError {
    /// The field is above the maximum.
    Above {
        field: &'static str,
        value: u64,
        max: u64,
    },
    /// The field is below the minimum.
    Below {
        field: &'static str,
        value: u64,
        min: u64,
    },
    /// The field is an index among `count` things and is not below it.
    Index {
        field: &'static str,
        value: u64,
        count_field: &'static str,
        count: u64,
    },
    /// The field counts pairs of words and must be even.
    Odd { field: &'static str, value: u64 },
    /// A reserved field is not zero.
    Reserved { field: &'static str, value: u64 },
}

impl core::fmt::Display for FieldError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            FieldError::Above { field, value, max } => {
                write!(f, "{field} {value} is above its maximum {max}")
            }
            FieldError::Below { field, value, min } => {
                write!(f, "{field} {value} is below its minimum {min}")
            }
            FieldError::Index {
                field,
                value,
                count_field,
                count,
            } => write!(f, "{field} {value} is not below {count_field} {count}"),
            FieldError::Odd { field, value } => write!(f, "{field} {value} is odd"),
            FieldError::Reserved { field, value } => {
                write!(f, "reserved field {field} is {value:#x}, not 0")
            }
        }
    }
}

/// `value` if it is in `min..=max`.
const fn bounded(field: &'static str, value: u32, min: u32, max: u32) -> Result<usize, FieldError> {
    if value < min {
        Err(FieldError::Below {
            field,
            value: value as u64,
            min: min as u64,
        })
    } else if value > max {
        Err(FieldError::Above {
            field,
            value: value as u64,
            max: max as u64,
        })
    } else {
        Ok(value as usize)
    }
}

/// A record's `__reserved` field, which must be 0.
const fn reserved_zero(value: u32) -> Result<(), FieldError> {
    if value != 0 {
        return Err(FieldError::Reserved {
            field: "__reserved",
            value: value as u64,
        });
    }
    Ok(())
}

/// The fixed part of a record of type [`Record::KIND`], and the rule of its length: the
/// payload is the struct, then exactly [`Record::trailer_len`] bytes (paths, groups,
/// contents, pages) that its fields announce, each count within its bound.
///
/// The one statement of these rules: the module's reader (`kmod/image.rs`) and the tools'
/// (`ckptlib::image`) both check every record with it.
pub trait Record:
    zerocopy::FromBytes + zerocopy::IntoBytes + zerocopy::Immutable + zerocopy::KnownLayout + Sized
{
    /// The record type ([`rec`]) whose payload starts with this struct.
    const KIND: u32;

    /// Bytes that follow the struct in the payload, as its fields announce them, once
    /// every count, length and index field is checked against its bound.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        Ok(0)
    }

    /// The whole payload's length: the struct and [`Record::trailer_len`].
    fn payload_len(&self) -> Result<usize, FieldError> {
        Ok(size_of::<Self>() + self.trailer_len()?)
    }

    /// The records of another type that must come right after this one, and how many:
    /// `SIGINFO`s after `SIGNALS`, `VMA`s after `MM`.
    fn followed_by(&self) -> Option<(u32, u32)> {
        None
    }
}

impl Record for CkptHeaderRec {
    const KIND: u32 = rec::HEADER;
}

impl Record for CkptTailRec {
    const KIND: u32 = rec::TAIL;
}

impl Record for CkptErrorRec {
    const KIND: u32 = rec::ERROR;

    /// The reason.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        bounded("len", self.len, 0, CKPT_REASON_MAX)
    }
}

impl Record for CkptTreeRec {
    const KIND: u32 = rec::TREE;

    /// The entries, one per task.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        Ok(bounded("nr", self.nr, 1, super::CKPT_MAX_TASKS)? * size_of::<CkptTreeEntry>())
    }
}

impl Record for CkptUtsNsRec {
    const KIND: u32 = rec::UTS_NS;

    /// Nothing follows; checks the flags and the padding.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        reserved_zero(self.__reserved)?;
        let known = CKPT_NS_UTS | CKPT_NS_IPC | CKPT_NS_NET | CKPT_NS_LO_UP | CKPT_NS_TIME;
        // lo's state means nothing without a network namespace of its own.
        let lo_alone = self.flags & (CKPT_NS_NET | CKPT_NS_LO_UP) == CKPT_NS_LO_UP;
        if self.flags & !known != 0 || lo_alone {
            return Err(FieldError::Reserved {
                field: "flags",
                value: u64::from(self.flags),
            });
        }
        if self.__pad != [0; 6] {
            return Err(FieldError::Reserved {
                field: "__pad",
                value: 0,
            });
        }
        Ok(0)
    }

    /// With [`CKPT_NS_TIME`], the `TIME_NS` record of the offsets.
    fn followed_by(&self) -> Option<(u32, u32)> {
        Some((rec::TIME_NS, u32::from(self.flags & CKPT_NS_TIME != 0)))
    }
}

impl Record for CkptTaskRec {
    const KIND: u32 = rec::TASK;
}

impl Record for CkptCredsRec {
    const KIND: u32 = rec::CREDS;

    /// The supplementary groups.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        Ok(bounded("ngroups", self.ngroups, 0, CKPT_NGROUPS_MAX)? * size_of::<u32>())
    }
}

impl Record for CkptRlimitsRec {
    const KIND: u32 = rec::RLIMITS;
}

impl Record for CkptItimersRec {
    const KIND: u32 = rec::ITIMERS;

    /// Nothing follows; checks the count of `POSIX_TIMER`s.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        bounded("nr_posix", self.nr_posix, 0, CKPT_MAX_POSIX_TIMERS)?;
        reserved_zero(self.__reserved)?;
        Ok(0)
    }

    fn followed_by(&self) -> Option<(u32, u32)> {
        Some((rec::POSIX_TIMER, self.nr_posix))
    }
}

impl Record for CkptPosixTimerRec {
    const KIND: u32 = rec::POSIX_TIMER;
}

impl Record for CkptFsRec {
    const KIND: u32 = rec::FS;

    /// The root, then the working directory.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        Ok(bounded("root_len", self.root_len, 0, CKPT_PATH_MAX)?
            + bounded("cwd_len", self.cwd_len, 0, CKPT_PATH_MAX)?)
    }
}

impl Record for CkptSighandRec {
    const KIND: u32 = rec::SIGHAND;
}

impl Record for CkptSignalsRec {
    const KIND: u32 = rec::SIGNALS;

    fn followed_by(&self) -> Option<(u32, u32)> {
        Some((rec::SIGINFO, self.nr_pending))
    }
}

impl Record for CkptSiginfoRec {
    const KIND: u32 = rec::SIGINFO;
}

impl Record for CkptFileRec {
    const KIND: u32 = rec::FILE;

    /// The path.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        reserved_zero(self.__reserved)?;
        bounded("path_len", self.path_len, 0, CKPT_PATH_MAX)
    }
}

impl Record for CkptPipeRec {
    const KIND: u32 = rec::PIPE;

    /// What was buffered, at most the pipe's capacity.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        reserved_zero(self.__reserved)?;
        bounded("len", self.len, 0, self.capacity)
    }
}

impl Record for CkptUnixSockRec {
    const KIND: u32 = rec::UNIX_SOCK;

    /// The name.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        if self.flags & !(CKPT_UNIX_PASSCRED | CKPT_UNIX_PEERCRED) != 0 {
            return Err(FieldError::Reserved {
                field: "flags",
                value: u64::from(self.flags),
            });
        }
        reserved_zero(self.__reserved)?;
        // No credentials: no pid, no ids.
        if self.flags & CKPT_UNIX_PEERCRED == 0
            && (self.peer_pid, self.peer_uid, self.peer_gid) != (0, 0, 0)
        {
            return Err(FieldError::Reserved {
                field: "peer_pid",
                value: u64::from(self.peer_pid as u32),
            });
        }
        if self.peer_pid < 0 {
            return Err(FieldError::Below {
                field: "peer_pid",
                value: u64::from(self.peer_pid as u32),
                min: 0,
            });
        }
        bounded("nr_skbs", self.nr_skbs, 0, CKPT_UNIX_MSGS_MAX)?;
        bounded("name_len", self.name_len, 0, CKPT_UNIX_NAME_MAX)
    }

    fn followed_by(&self) -> Option<(u32, u32)> {
        Some((rec::SKB, self.nr_skbs))
    }
}

impl Record for CkptSkbRec {
    const KIND: u32 = rec::SKB;

    /// The message.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        reserved_zero(self.__reserved)?;
        bounded("len", self.len, 0, CKPT_UNIX_QUEUE_MAX)
    }
}

impl Record for CkptSkbFdsRec {
    const KIND: u32 = rec::SKB_FDS;

    /// The descriptions' ids.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        reserved_zero(self.__reserved)?;
        Ok(bounded("nr_fds", self.nr_fds, 1, CKPT_SKB_FDS_MAX)? * 4)
    }
}

impl Record for CkptEventfdRec {
    const KIND: u32 = rec::EVENTFD;
}

impl Record for CkptTimerfdRec {
    const KIND: u32 = rec::TIMERFD;

    fn trailer_len(&self) -> Result<usize, FieldError> {
        reserved_zero(self.__reserved).map(|()| 0)
    }
}

impl Record for CkptSignalfdRec {
    const KIND: u32 = rec::SIGNALFD;

    fn trailer_len(&self) -> Result<usize, FieldError> {
        reserved_zero(self.__reserved).map(|()| 0)
    }
}

impl Record for CkptEpollRec {
    const KIND: u32 = rec::EPOLL;

    /// The items.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        Ok(bounded("nr_items", self.nr_items, 0, CKPT_EPOLL_ITEMS_MAX)?
            * size_of::<CkptEpollItem>())
    }
}

impl Record for CkptInotifyRec {
    const KIND: u32 = rec::INOTIFY;

    fn trailer_len(&self) -> Result<usize, FieldError> {
        bounded("nr_watches", self.nr_watches, 0, CKPT_INOTIFY_WATCHES_MAX)?;
        Ok(0)
    }

    fn followed_by(&self) -> Option<(u32, u32)> {
        Some((rec::INOTIFY_WATCH, self.nr_watches))
    }
}

impl Record for CkptInotifyWatchRec {
    const KIND: u32 = rec::INOTIFY_WATCH;

    /// The path.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        bounded("path_len", self.path_len, 1, CKPT_PATH_MAX)
    }
}

impl Record for CkptXstateRec {
    const KIND: u32 = rec::XSTATE;

    /// The XSAVE area.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        bounded("size", self.size, 0, CKPT_MAX_PAYLOAD)
    }
}

impl Record for CkptMmRec {
    const KIND: u32 = rec::MM;

    /// Nothing follows; checks the words of `auxv` in use and the executable's area.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        let words = bounded("auxv_words", self.auxv_words, 0, CKPT_AUXV_WORDS as u32)?;
        if words % 2 != 0 {
            return Err(FieldError::Odd {
                field: "auxv_words",
                value: u64::from(self.auxv_words),
            });
        }
        if self.exe_vma != CKPT_NO_EXE && self.exe_vma >= self.nr_vmas {
            return Err(FieldError::Index {
                field: "exe_vma",
                value: u64::from(self.exe_vma),
                count_field: "nr_vmas",
                count: u64::from(self.nr_vmas),
            });
        }
        if self.flags & !CKPT_MM_LOCK_FUTURE != 0 {
            return Err(FieldError::Reserved {
                field: "flags",
                value: u64::from(self.flags),
            });
        }
        Ok(0)
    }

    fn followed_by(&self) -> Option<(u32, u32)> {
        Some((rec::VMA, self.nr_vmas))
    }
}

impl Record for CkptVmaRec {
    const KIND: u32 = rec::VMA;

    /// The path of a file mapping.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        bounded("path_len", self.path_len, 0, CKPT_PATH_MAX)
    }
}

impl Record for CkptPagesRec {
    const KIND: u32 = rec::PAGES;

    /// The pages' contents.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        reserved_zero(self.__reserved)?;
        Ok(bounded("nr_pages", self.nr_pages, 1, CKPT_PAGES_PER_RECORD)? * CKPT_PAGE_SIZE as usize)
    }
}

impl Record for CkptPagesRefRec {
    const KIND: u32 = rec::PAGES_REF;

    fn trailer_len(&self) -> Result<usize, FieldError> {
        reserved_zero(self.__reserved)?;
        bounded("nr_pages", self.nr_pages, 1, CKPT_PAGES_PER_RECORD)?;
        Ok(0)
    }
}

impl Record for CkptRegsRec {
    const KIND: u32 = rec::REGS;
}

impl Record for CkptInetSockRec {
    const KIND: u32 = rec::INET_SOCK;

    fn trailer_len(&self) -> Result<usize, FieldError> {
        Ok(0)
    }
}

/// `DELETED`: an unlinked regular file (its inode) some descriptor has open or some memory
/// area maps, before its `FILE_DATA` records and the first `FILE` (kind
/// [`file_kind::DELETED`]) or `VMA` naming it (a mapped one's records come right before
/// the `MM` record of the first memory that maps it, unless a `FILE` came first).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptDeletedRec {
    pub id: u32,
    /// `i_mode` (type and permission bits).
    pub mode: u32,
    /// Owner, in the checkpointer's user namespace.
    pub uid: u32,
    pub gid: u32,
    /// `i_size`.
    pub size: u64,
}

/// `FILE_DATA`: `len` bytes of the content of the file `id` at `offset`, followed by them.
/// A file's records come in increasing, non-overlapping order, within its size; what no
/// record covers is a hole.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptFileDataRec {
    pub id: u32,
    pub len: u32,
    pub offset: u64,
}

/// `MEMFD`: a memfd some descriptor has open or some memory area maps, before its
/// `FILE_DATA` records and the first `FILE` (kind [`file_kind::MEMFD`]) or `VMA` naming
/// it (placed as a mapped [`CkptDeletedRec`]'s); followed by `name_len` bytes of name
/// (what `memfd_create` was given).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptMemfdRec {
    pub id: u32,
    /// `F_GET_SEALS`.
    pub seals: u32,
    /// `i_mode`.
    pub mode: u32,
    pub name_len: u32,
    /// `i_size`.
    pub size: u64,
}

/// The longest memfd name (`MFD_NAME_MAX_LEN` of `mm/memfd.c`).
pub const CKPT_MEMFD_NAME_MAX: u32 = 249;

/// The most bytes one `FILE_DATA` record holds.
pub const CKPT_FILE_DATA_CHUNK: u32 = 1 << 20;

/// `REMOVED_DIR`: a directory removed while some descriptor has it open (its inode: the id
/// all its descriptions name), before the first `FILE` (kind [`file_kind::REMOVED_DIR`])
/// naming it. Empty for good (a removed directory takes no new entry).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptRemovedDirRec {
    pub id: u32,
    /// Its permission bits (`i_mode & 07777`).
    pub mode: u32,
    /// Owner and group, in the checkpointer's user namespace.
    pub uid: u32,
    pub gid: u32,
}

impl Record for CkptIpcNsRec {
    const KIND: u32 = rec::IPC_NS;

    /// Nothing follows; checks the counts of objects.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        bounded("nr_shm", self.nr_shm, 0, CKPT_IPC_OBJS_MAX)?;
        bounded("nr_msq", self.nr_msq, 0, CKPT_IPC_OBJS_MAX)?;
        bounded("nr_sem", self.nr_sem, 0, CKPT_IPC_OBJS_MAX)?;
        bounded("nr_mq", self.nr_mq, 0, CKPT_MQ_QUEUES_MAX)?;
        Ok(0)
    }
}

impl Record for CkptSysvShmRec {
    const KIND: u32 = rec::SYSV_SHM;

    fn trailer_len(&self) -> Result<usize, FieldError> {
        reserved_zero(self.perm.__reserved)?;
        Ok(0)
    }
}

impl Record for CkptSysvMsqRec {
    const KIND: u32 = rec::SYSV_MSQ;

    /// Nothing follows; checks the count of messages.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        bounded("nr_msgs", self.nr_msgs, 0, CKPT_SYSV_MSGS_MAX)?;
        reserved_zero(self.perm.__reserved)?;
        reserved_zero(self.__reserved)?;
        Ok(0)
    }

    fn followed_by(&self) -> Option<(u32, u32)> {
        Some((rec::SYSV_MSG, self.nr_msgs))
    }
}

impl Record for CkptSysvMsgRec {
    const KIND: u32 = rec::SYSV_MSG;

    /// The text.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        reserved_zero(self.__reserved)?;
        bounded("len", self.len, 0, CKPT_SYSV_MSG_MAX)
    }
}

impl Record for CkptMqueueRec {
    const KIND: u32 = rec::MQUEUE;

    /// The name; checks the attributes and the count of messages.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        reserved_zero(self.__reserved)?;
        // Both bounds fit in 32 bits: a larger value is above them.
        let maxmsg = u32::try_from(self.maxmsg).unwrap_or(u32::MAX);
        let size = u32::try_from(self.msgsize).unwrap_or(u32::MAX);
        bounded("maxmsg", maxmsg, 1, CKPT_MQ_MAXMSG_MAX)?;
        bounded("msgsize", size, 1, CKPT_MQ_MSGSIZE_MAX)?;
        bounded("nr_msgs", self.nr_msgs, 0, maxmsg)?;
        bounded("mode", self.mode, 0, 0o777)?;
        bounded("name_len", self.name_len, 2, CKPT_MQ_NAME_MAX)
    }
}

impl Record for CkptMqMsgRec {
    const KIND: u32 = rec::MQ_MSG;

    /// The text.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        bounded("prio", self.prio, 0, CKPT_MQ_PRIO_MAX - 1)?;
        bounded("len", self.len, 0, CKPT_MQ_MSGSIZE_MAX)
    }
}

impl Record for CkptTimeNsRec {
    const KIND: u32 = rec::TIME_NS;

    /// Nothing follows; checks that the offsets are ones the kernel takes and the host's
    /// clocks are times it can have.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        for (field, sec) in [
            ("monotonic_sec (its magnitude)", self.monotonic_sec),
            ("boottime_sec (its magnitude)", self.boottime_sec),
        ] {
            if sec.unsigned_abs() > CKPT_TIMENS_SEC_MAX {
                return Err(FieldError::Above {
                    field,
                    value: sec.unsigned_abs(),
                    max: CKPT_TIMENS_SEC_MAX,
                });
            }
        }
        bounded("monotonic_nsec", self.monotonic_nsec, 0, 999_999_999)?;
        bounded("boottime_nsec", self.boottime_nsec, 0, 999_999_999)?;
        for (field, value) in [
            ("host_monotonic", self.host_monotonic),
            ("host_boottime", self.host_boottime),
        ] {
            if value > i64::MAX as u64 {
                return Err(FieldError::Above {
                    field,
                    value,
                    max: i64::MAX as u64,
                });
            }
        }
        Ok(0)
    }
}

impl Record for CkptSysvSemRec {
    const KIND: u32 = rec::SYSV_SEM;

    /// The values.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        reserved_zero(self.perm.__reserved)?;
        bounded("nr_undo", self.nr_undo, 0, super::CKPT_MAX_TASKS)?;
        Ok(bounded("nsems", self.nsems, 1, CKPT_SYSV_SEMS_MAX)? * size_of::<i32>())
    }
}

impl Record for CkptSemUndoRec {
    const KIND: u32 = rec::SEM_UNDO;

    /// The adjustments.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        Ok(bounded("nsems", self.nsems, 1, CKPT_SYSV_SEMS_MAX)? * size_of::<i32>())
    }
}

impl Record for CkptRemovedDirRec {
    const KIND: u32 = rec::REMOVED_DIR;
}

impl Record for CkptDeletedRec {
    const KIND: u32 = rec::DELETED;
}

impl Record for CkptFileDataRec {
    const KIND: u32 = rec::FILE_DATA;

    /// The data, at most [`CKPT_FILE_DATA_CHUNK`] bytes, at least one.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        bounded("len", self.len, 1, CKPT_FILE_DATA_CHUNK)
    }
}

impl Record for CkptMemfdRec {
    const KIND: u32 = rec::MEMFD;

    /// The name.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        bounded("name_len", self.name_len, 0, CKPT_MEMFD_NAME_MAX)
    }
}

/// The most CPUs an affinity mask of a `TASK_ATTRS` record holds (the kernel's largest
/// `CONFIG_NR_CPUS`).
pub const CKPT_MAX_CPUS: u32 = 8192;
/// [`CkptTaskAttrsRec::flags`]: `SCHED_RESET_ON_FORK`.
pub const CKPT_ATTRS_RESET_ON_FORK: u32 = 1 << 0;
/// [`CkptTaskAttrsRec::flags`]: the affinity is the thread's own (set by `sched_setaffinity`,
/// by it or an ancestor, or narrower than every CPU): restart sets it. Without it the thread
/// could run on every CPU and takes those of the machine it is restarted on.
pub const CKPT_ATTRS_AFFINITY: u32 = 1 << 1;
/// Every [`CkptTaskAttrsRec::flags`] bit.
pub const CKPT_ATTRS_FLAGS: u32 = (1 << 2) - 1;

/// `TASK_ATTRS`: a thread's scheduling and I/O attributes, right after its `TASK` record;
/// followed by `cpus_words` `u64` of CPU affinity (`cpus_mask`: bit `n % 64` of word `n / 64`
/// is CPU `n`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptTaskAttrsRec {
    /// `SCHED_OTHER` (0), `SCHED_FIFO` (1), `SCHED_RR` (2), `SCHED_BATCH` (3) or
    /// `SCHED_IDLE` (5); never `SCHED_DEADLINE`, refused at checkpoint.
    pub policy: u32,
    /// `sched_priority`: 1 to 99 for `SCHED_FIFO` and `SCHED_RR`, else 0.
    pub rt_priority: u32,
    /// `CKPT_ATTRS_*` bits.
    pub flags: u32,
    /// The I/O priority of its own (`ioprio_set`; class, hint and level as
    /// `ioprio_get(IOPRIO_WHO_PROCESS)` returns them), 0 for none (it follows the nice value).
    pub ioprio: u32,
    /// CPU ids of the checkpointing kernel (`nr_cpu_ids`), 1 to [`CKPT_MAX_CPUS`].
    pub nr_cpus: u32,
    /// Words of mask that follow: `nr_cpus` bits, rounded up.
    pub cpus_words: u32,
}

impl Record for CkptTaskAttrsRec {
    const KIND: u32 = rec::TASK_ATTRS;

    /// The affinity mask.
    fn trailer_len(&self) -> Result<usize, FieldError> {
        let n = bounded("nr_cpus", self.nr_cpus, 1, CKPT_MAX_CPUS)?;
        let words = n.div_ceil(64) as u32;
        bounded("cpus_words", self.cpus_words, words, words)?;
        if self.flags & !CKPT_ATTRS_FLAGS != 0 {
            return Err(FieldError::Reserved {
                field: "flags",
                value: u64::from(self.flags),
            });
        }
        Ok(words as usize * size_of::<u64>())
    }
}

/// What a `FILE_LOCK` record's lock is.
pub mod lock_kind {
    /// `flock`: owned by the open file description.
    pub const FLOCK: u32 = 1;
    /// An open file description lock (`F_OFD_SETLK`): owned by the description.
    pub const OFD: u32 = 2;
    /// A POSIX record lock (`F_SETLK`): owned by the process's descriptor table.
    pub const POSIX: u32 = 3;
}

/// A shared (read) lock: `LOCK_SH`, `F_RDLCK`.
pub const CKPT_LOCK_READ: u32 = 1;
/// An exclusive (write) lock: `LOCK_EX`, `F_WRLCK`.
pub const CKPT_LOCK_WRITE: u32 = 2;
/// The `end` of a lock to the end of the file, however it grows (`OFFSET_MAX`).
pub const CKPT_LOCK_EOF: i64 = i64::MAX;

/// `FILE_LOCK`: a lock the tree holds, after the `FILE` records of the descriptor table
/// it is saved with (the first task that has the table). A `flock` or OFD lock is saved
/// once per open file description, with the first table that has it; a POSIX lock with the
/// table that owns it.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptFileLockRec {
    /// [`lock_kind`].
    pub kind: u32,
    /// [`CKPT_LOCK_READ`] or [`CKPT_LOCK_WRITE`].
    pub lock_type: u32,
    /// The open file description (`FILE.obj`) it is held through.
    pub obj: u32,
    /// A descriptor of this table open on that description (the lowest).
    pub fd: i32,
    /// A POSIX lock's process (its pid in the image), 0 for the others.
    pub pid: i32,
    pub __reserved: u32,
    /// First byte locked (0 for `flock`).
    pub start: i64,
    /// Last byte locked, inclusive; [`CKPT_LOCK_EOF`] to the end of the file (and always
    /// for `flock`).
    pub end: i64,
}

impl Record for CkptFileLockRec {
    const KIND: u32 = rec::FILE_LOCK;
}

/// [`CkptFownRec::owner_type`]: what the owner is, as `F_SETOWN_EX` names it (`F_OWNER_*`).
pub mod fown_type {
    /// A thread (`F_OWNER_TID`).
    pub const TID: u32 = 0;
    /// A process (`F_OWNER_PID`; `F_SETOWN` with a positive pid).
    pub const PID: u32 = 1;
    /// A process group (`F_OWNER_PGRP`; `F_SETOWN` with a negative pid).
    pub const PGRP: u32 = 2;
}

/// [`CkptFownRec::flags`]: the description is `O_ASYNC` (signal-driven I/O on).
pub const CKPT_FOWN_ASYNC: u32 = 1 << 0;

/// `FOWN`: the owner and signal of an open file description (`F_SETOWN`, `F_SETOWN_EX`,
/// `F_SETSIG`) and its `O_ASYNC`, written right after the first `FILE` record of a
/// description that has an owner, a signal or `O_ASYNC` (once per description, not per
/// descriptor).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, Immutable, KnownLayout)]
pub struct CkptFownRec {
    /// The `obj` of the `FILE` record it follows.
    pub obj: u32,
    /// One of [`fown_type`] (with `pid` 0: [`fown_type::PID`]).
    pub owner_type: u32,
    /// The owner's pid (or process group id), in the tree's pid namespace; 0 for none.
    pub pid: i32,
    /// The real and effective uid of the process that set the owner (what signal delivery
    /// checks), in the checkpointer's user namespace.
    pub uid: u32,
    pub euid: u32,
    /// `F_SETSIG`'s signal; 0 for `SIGIO`.
    pub signum: i32,
    /// [`CKPT_FOWN_ASYNC`].
    pub flags: u32,
    pub __reserved: u32,
}

impl Record for CkptFownRec {
    const KIND: u32 = rec::FOWN;

    fn trailer_len(&self) -> Result<usize, FieldError> {
        reserved_zero(self.__reserved).map(|()| 0)
    }
}
