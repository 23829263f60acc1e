// SPDX-License-Identifier: GPL-2.0

//! What `ckpt show` prints of a record ([`Decoded`], as text or JSON): a presentation of a
//! [`Rec`] that [`super::ImageReader`] parsed and checked; nothing is checked here.

use serde::Serialize;
use zerocopy::{FromBytes, IntoBytes};

use super::{c_str, fnv1a64, Rec};
use crate::abi::image::{self as img, file_kind, vma_kind};

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

pub(super) fn vma_kind_name(k: u32) -> &'static str {
    match k {
        vma_kind::ANON_PRIVATE => "anon-private",
        vma_kind::ANON_SHARED => "anon-shared",
        vma_kind::FILE_PRIVATE => "file-private",
        vma_kind::FILE_SHARED => "file-shared",
        vma_kind::HEAP => "heap",
        vma_kind::STACK => "stack",
        vma_kind::VDSO => "vdso",
        vma_kind::VVAR => "vvar",
        vma_kind::VVAR_VCLOCK => "vvar_vclock",
        vma_kind::VSYSCALL => "vsyscall",
        vma_kind::SYSV_SHM => "sysv-shm",
        _ => "unknown",
    }
}

pub(super) fn file_kind_name(k: u32) -> &'static str {
    match k {
        file_kind::REGULAR => "regular",
        file_kind::CHARDEV => "chardev",
        file_kind::DIRECTORY => "directory",
        file_kind::PIPE => "pipe",
        file_kind::UNIX_SOCKET => "unix-socket",
        file_kind::EVENTFD => "eventfd",
        file_kind::TIMERFD => "timerfd",
        file_kind::SIGNALFD => "signalfd",
        file_kind::INET_SOCKET => "inet-socket",
        file_kind::EPOLL => "epoll",
        file_kind::FIFO => "fifo",
        file_kind::DELETED => "deleted",
        file_kind::REMOVED_DIR => "removed-dir",
        file_kind::MQUEUE => "mqueue",
        file_kind::MEMFD => "memfd",
        file_kind::INOTIFY => "inotify",
        _ => "unknown",
    }
}

/// One signal's disposition, decoded.
#[derive(Debug, Serialize)]
pub struct Sigaction {
    pub signo: u32,
    pub handler: String,
    pub flags: String,
    pub restorer: String,
    pub mask: String,
}

/// One `TREE` entry, decoded.
#[derive(Debug, Serialize)]
pub struct TreeTask {
    pub pid: i32,
    pub tgid: i32,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    pub zombie: bool,
    pub stopped: bool,
    pub subreaper: bool,
    pub exit_code: i32,
    pub exit_signal: i32,
    pub mm: u32,
    pub files: u32,
    pub fs: u32,
    pub sighand: u32,
}

/// One item of an `EPOLL` record, decoded.
#[derive(Debug, Serialize)]
pub struct EpollItem {
    pub obj: u32,
    pub tfd: i32,
    pub events: String,
    pub names: String,
    pub disarmed: bool,
    pub data: String,
}

/// The peer credentials of a `UNIX_SOCK` record, decoded.
#[derive(Debug, Serialize)]
pub struct PeerCred {
    pub pid: i32,
    pub uid: u32,
    pub gid: u32,
}

/// A decoded record, for `ckpt show`.
/// What every SysV object has, as `ckpt show` prints it.
#[derive(Debug, Serialize)]
pub struct IpcPerm {
    pub key: String,
    pub id: i32,
    pub uid: u32,
    pub gid: u32,
    pub cuid: u32,
    pub cgid: u32,
    /// The permission bits, octal.
    pub mode: String,
}

impl IpcPerm {
    fn of(p: &img::CkptIpcPerm) -> Self {
        IpcPerm {
            key: format!("{:#x}", p.key),
            id: p.id,
            uid: p.uid,
            gid: p.gid,
            cuid: p.cuid,
            cgid: p.cgid,
            mode: format!("{:04o}", p.mode & 0o777),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Decoded {
    Header {
        image_version: u32,
        arch: String,
        page_size: u32,
        xsave_size: u32,
        xfeatures: String,
        time_ns: u64,
        nr_tasks: u32,
        kernel_release: String,
        /// The instruction sets of `compat::FEATURES` the CPU had.
        cpu_features: Vec<&'static str>,
        vdso_size: u32,
        vvar_size: u32,
        vdso_hash: String,
    },
    Tail {
        nr_records: u64,
    },
    Error {
        errno: i32,
        reason: String,
    },
    Tree {
        container: bool,
        tasks: Vec<TreeTask>,
    },
    IpcNs {
        shmmax: u64,
        shmall: u64,
        shmmni: u32,
        shm_rmid_forced: u32,
        msgmax: u32,
        msgmnb: u32,
        msgmni: u32,
        sem: [u32; 4],
        mqueue: [u32; 5],
        nr_shm: u32,
        nr_msq: u32,
        nr_sem: u32,
        nr_mq: u32,
    },
    SysvShm {
        #[serde(flatten)]
        perm: IpcPerm,
        size: u64,
        obj: u32,
        nattch: u32,
        removed: bool,
        locked: bool,
    },
    SysvMsq {
        #[serde(flatten)]
        perm: IpcPerm,
        qbytes: u64,
        nr_msgs: u32,
    },
    SysvMsg {
        mtype: i64,
        len: u32,
    },
    SysvSem {
        #[serde(flatten)]
        perm: IpcPerm,
        values: Vec<i32>,
    },
    Mqueue {
        name: String,
        maxmsg: u64,
        msgsize: u64,
        uid: u32,
        gid: u32,
        mode: String,
        nr_msgs: u32,
    },
    MqMsg {
        prio: u32,
        len: u32,
    },
    SemUndo {
        pid: i32,
        adj: Vec<i32>,
    },
    UtsNs {
        /// A UTS namespace of its own, and its names.
        uts: bool,
        nodename: String,
        domainname: String,
        /// An IPC namespace of its own.
        ipc: bool,
        /// A network namespace of its own (lo only), and whether its lo was up.
        net: bool,
        lo_up: bool,
        /// A time namespace of its own (its offsets in the `TIME_NS` after).
        time: bool,
    },
    TimeNs {
        /// The offsets of its clocks from the host's (`sec + nsec / 1e9`, as
        /// `/proc/PID/timens_offsets` shows them).
        monotonic_sec: i64,
        monotonic_nsec: u32,
        boottime_sec: i64,
        boottime_nsec: u32,
        /// The host's clocks when they were read, in nanoseconds.
        host_monotonic_ns: u64,
        host_boottime_ns: u64,
    },
    Pipe {
        id: u32,
        capacity: u32,
        len: u32,
    },
    UnixSock {
        id: u32,
        sock_type: &'static str,
        state: &'static str,
        peer: u32,
        shutdown: String,
        backlog: u32,
        sndbuf: u32,
        rcvbuf: u32,
        listener: u32,
        /// The name, an abstract one shown with `@` for its NUL.
        name: String,
        nr_skbs: u32,
        /// `SO_PASSCRED` on.
        passcred: bool,
        rcvtimeo_ms: u32,
        sndtimeo_ms: u32,
        /// The peer credentials (`SO_PEERCRED`): none, or pid (0: none, or not in the
        /// tree's pid namespace), uid and gid.
        peer_cred: Option<PeerCred>,
    },
    Skb {
        len: u32,
        fnv1a64: String,
    },
    SkbFds {
        sock: u32,
        skb: u32,
        objs: Vec<u32>,
    },
    Eventfd {
        id: u32,
        count: u64,
        semaphore: bool,
    },
    Timerfd {
        id: u32,
        clock: String,
        abstime: bool,
        ticks: u64,
        /// Seconds to the next expiration, as `sec.nsec`.
        value: String,
        interval: String,
        /// `CLOCK_REALTIME` when `value` was read.
        now: String,
    },
    Signalfd {
        id: u32,
        mask: String,
    },
    Task {
        pid: i32,
        tgid: i32,
        ppid: i32,
        pgid: i32,
        sid: i32,
        comm: String,
        personality: String,
        umask: String,
        exit_signal: i32,
        dumpable: Option<u32>,
        no_new_privs: u32,
        robust_list: String,
        robust_list_len: u64,
        set_child_tid: String,
        clear_child_tid: String,
        vdso_base: String,
        rseq: String,
        rseq_len: u32,
        pdeath_signal: i32,
        nice: i32,
        timer_slack_ns: u64,
        thp_disable: u32,
    },
    Creds {
        uid: [u32; 4],
        gid: [u32; 4],
        groups: Vec<u32>,
        securebits: String,
        cap_inheritable: String,
        cap_permitted: String,
        cap_effective: String,
        cap_bset: String,
        cap_ambient: String,
    },
    Rlimits {
        /// `(cur, max)` per resource; `u64::MAX` is `RLIM_INFINITY`.
        rlim: Vec<(u64, u64)>,
    },
    Fs {
        root: String,
        cwd: String,
        /// The working directory had been removed: its mode, owner and group, as
        /// `0755 1000:1000`.
        #[serde(skip_serializing_if = "Option::is_none")]
        cwd_removed: Option<String>,
    },
    Sighand {
        /// Only the signals whose disposition is not the default.
        actions: Vec<Sigaction>,
    },
    Itimers {
        real_value_ns: u64,
        real_interval_ns: u64,
        virt_value_ns: u64,
        virt_interval_ns: u64,
        prof_value_ns: u64,
        prof_interval_ns: u64,
        nr_posix: u32,
    },
    PosixTimer {
        id: i32,
        clock: i32,
        clock_name: &'static str,
        /// The thread whose CPU clock it is on.
        #[serde(skip_serializing_if = "Option::is_none")]
        clock_tid: Option<i32>,
        notify: &'static str,
        signo: i32,
        tid: i32,
        overrun: i32,
        value: String,
        value_ns: u64,
        interval_ns: u64,
        /// It fired and its signal is pending.
        pending: bool,
    },
    Signals {
        blocked: String,
        altstack_sp: String,
        altstack_size: u64,
        altstack_flags: u32,
        nr_pending: u32,
    },
    Siginfo {
        shared: bool,
        signo: i32,
        errno: i32,
        code: i32,
    },
    File {
        fd: i32,
        kind: &'static str,
        path: String,
        flags: String,
        cloexec: bool,
        pos: i64,
        mode: String,
        rdev: u32,
        obj: u32,
        pipe: u32,
        /// `tty`, `pty` or `console` for a terminal ([`crate::terminal`]), which `rstr`
        /// gives its own descriptor instead of reopening.
        terminal: Option<&'static str>,
    },
    Xstate {
        xstate_bv: String,
        size: u32,
    },
    Mm {
        start_code: String,
        end_code: String,
        start_data: String,
        end_data: String,
        start_brk: String,
        brk: String,
        start_stack: String,
        arg_start: String,
        arg_end: String,
        env_start: String,
        env_end: String,
        nr_vmas: u32,
        /// The area mapping the executable file (`/proc/PID/exe`), if any.
        exe_vma: Option<u32>,
        /// `mlockall(MCL_FUTURE)`.
        lock_future: bool,
        auxv: Vec<(u64, String)>,
    },
    Vma {
        start: String,
        end: String,
        kind: &'static str,
        prot: String,
        pgoff: u64,
        vm_flags: String,
        path: String,
        shm: u32,
        shm_size: u64,
    },
    Pages {
        addr: String,
        nr_pages: u32,
        fnv1a64: String,
    },
    PagesRef {
        addr: String,
        nr_pages: u32,
        /// Offset in the image of the contents, saved with another memory.
        src: u64,
    },
    Regs {
        ip: String,
        sp: String,
        ax: String,
        orig_ax: String,
        flags: String,
        fs_base: String,
        gs_base: String,
        cs: String,
        ss: String,
        all: Vec<(String, String)>,
    },
    Epoll {
        id: u32,
        items: Vec<EpollItem>,
    },
    Deleted {
        id: u32,
        mode: String,
        uid: u32,
        gid: u32,
        size: u64,
    },
    RemovedDir {
        id: u32,
        mode: String,
        uid: u32,
        gid: u32,
    },
    Memfd {
        id: u32,
        name: String,
        seals: String,
        mode: String,
        size: u64,
    },
    FileData {
        id: u32,
        offset: u64,
        len: u32,
        fnv1a64: String,
    },
    Inotify {
        id: u32,
        nr_watches: u32,
    },
    InotifyWatch {
        wd: i32,
        mask: String,
        names: String,
        ino: u64,
        dev: String,
        path: String,
    },
    Unknown {
        kind: u32,
        len: usize,
    },
    InetSock(crate::inet::Shown),
    TaskAttrs(crate::attrs::Shown),
    FileLock(crate::locks::Shown),
    Fown(crate::fown::Shown),
}

pub(super) fn prot_str(p: u32) -> String {
    let mut s = String::new();
    s.push(if p & 1 != 0 { 'r' } else { '-' });
    s.push(if p & 2 != 0 { 'w' } else { '-' });
    s.push(if p & 4 != 0 { 'x' } else { '-' });
    s
}

/// A path for people.
fn lossy(p: &[u8]) -> String {
    String::from_utf8_lossy(p).into_owned()
}

impl From<&Rec> for Decoded {
    fn from(r: &Rec) -> Self {
        match r {
            Rec::Header(h) => Decoded::Header {
                image_version: h.image_version,
                arch: if h.arch == img::CKPT_ARCH_X86_64 {
                    "x86_64".into()
                } else {
                    hex(h.arch.into())
                },
                page_size: h.page_size,
                xsave_size: h.xsave_size,
                xfeatures: hex(h.xfeatures),
                time_ns: h.time_ns,
                nr_tasks: h.nr_tasks,
                kernel_release: c_str(&h.kernel_release),
                cpu_features: crate::compat::features(&h.cpuid),
                vdso_size: h.vdso_size,
                vvar_size: h.vvar_size,
                vdso_hash: hex(h.vdso_hash),
            },
            Rec::Tail(t) => Decoded::Tail {
                nr_records: t.nr_records,
            },
            Rec::Error { error, reason } => Decoded::Error {
                errno: error.error,
                reason: reason.clone(),
            },
            Rec::IpcNs(n) => Decoded::IpcNs {
                shmmax: n.shm_ctlmax,
                shmall: n.shm_ctlall,
                shmmni: n.shm_ctlmni,
                shm_rmid_forced: n.shm_rmid_forced,
                msgmax: n.msg_ctlmax,
                msgmnb: n.msg_ctlmnb,
                msgmni: n.msg_ctlmni,
                sem: n.sem_ctls,
                mqueue: [
                    n.mq_queues_max,
                    n.mq_msg_max,
                    n.mq_msgsize_max,
                    n.mq_msg_default,
                    n.mq_msgsize_default,
                ],
                nr_shm: n.nr_shm,
                nr_msq: n.nr_msq,
                nr_sem: n.nr_sem,
                nr_mq: n.nr_mq,
            },
            Rec::SysvShm(s) => Decoded::SysvShm {
                perm: IpcPerm::of(&s.perm),
                size: s.size,
                obj: s.obj,
                nattch: s.nattch,
                removed: s.perm.mode & img::CKPT_SHM_DEST != 0,
                locked: s.perm.mode & img::CKPT_SHM_LOCKED != 0,
            },
            Rec::SysvMsq(q) => Decoded::SysvMsq {
                perm: IpcPerm::of(&q.perm),
                qbytes: q.qbytes,
                nr_msgs: q.nr_msgs,
            },
            Rec::SysvMsg { msg, .. } => Decoded::SysvMsg {
                mtype: msg.mtype,
                len: msg.len,
            },
            Rec::SysvSem { sem, values } => Decoded::SysvSem {
                perm: IpcPerm::of(&sem.perm),
                values: values.clone(),
            },
            Rec::Mqueue { mq, name } => Decoded::Mqueue {
                name: lossy(name),
                maxmsg: mq.maxmsg,
                msgsize: mq.msgsize,
                uid: mq.uid,
                gid: mq.gid,
                mode: format!("{:04o}", mq.mode),
                nr_msgs: mq.nr_msgs,
            },
            Rec::SemUndo { undo, adj } => Decoded::SemUndo {
                pid: undo.pid,
                adj: adj.clone(),
            },
            Rec::MqMsg { msg, .. } => Decoded::MqMsg {
                prio: msg.prio,
                len: msg.len,
            },
            Rec::UtsNs(u) => Decoded::UtsNs {
                uts: u.flags & img::CKPT_NS_UTS != 0,
                nodename: lossy(crate::image::uts_name(&u.nodename).unwrap_or(b"")),
                domainname: lossy(crate::image::uts_name(&u.domainname).unwrap_or(b"")),
                ipc: u.flags & img::CKPT_NS_IPC != 0,
                net: u.flags & img::CKPT_NS_NET != 0,
                lo_up: u.flags & img::CKPT_NS_LO_UP != 0,
                time: u.flags & img::CKPT_NS_TIME != 0,
            },
            Rec::TimeNs(t) => Decoded::TimeNs {
                monotonic_sec: t.monotonic_sec,
                monotonic_nsec: t.monotonic_nsec,
                boottime_sec: t.boottime_sec,
                boottime_nsec: t.boottime_nsec,
                host_monotonic_ns: t.host_monotonic,
                host_boottime_ns: t.host_boottime,
            },
            Rec::Tree { tree, entries } => Decoded::Tree {
                container: tree.flags & img::CKPT_TREE_CONTAINER != 0,
                tasks: entries
                    .iter()
                    .map(|e| TreeTask {
                        pid: e.pid,
                        tgid: e.tgid,
                        ppid: e.ppid,
                        pgid: e.pgid,
                        sid: e.sid,
                        zombie: e.flags & img::CKPT_TASK_ZOMBIE != 0,
                        stopped: e.flags & img::CKPT_TASK_STOPPED != 0,
                        subreaper: e.flags & img::CKPT_TASK_SUBREAPER != 0,
                        exit_code: e.exit_code,
                        exit_signal: e.exit_signal,
                        mm: e.mm,
                        files: e.files,
                        fs: e.fs,
                        sighand: e.sighand,
                    })
                    .collect(),
            },
            Rec::Anonfd(crate::anonfd::AnonFd::Eventfd(e)) => Decoded::Eventfd {
                id: e.id,
                count: e.count,
                semaphore: e.flags & img::CKPT_EFD_SEMAPHORE != 0,
            },
            Rec::Anonfd(crate::anonfd::AnonFd::Timerfd(t)) => Decoded::Timerfd {
                id: t.id,
                clock: crate::anonfd::clock_name(t.clockid)
                    .map_or_else(|| t.clockid.to_string(), str::to_string),
                abstime: t.settime_flags & img::CKPT_TFD_TIMER_ABSTIME != 0,
                ticks: t.ticks,
                value: format!("{}.{:09}", t.value_sec, t.value_nsec),
                interval: format!("{}.{:09}", t.interval_sec, t.interval_nsec),
                now: format!("{}.{:09}", t.now_sec, t.now_nsec),
            },
            Rec::Anonfd(crate::anonfd::AnonFd::Signalfd(s)) => Decoded::Signalfd {
                id: s.id,
                mask: hex(s.mask),
            },
            Rec::Pipe { pipe, .. } => Decoded::Pipe {
                id: pipe.id,
                capacity: pipe.capacity,
                len: pipe.len,
            },
            Rec::UnixSock { sock: u, name } => Decoded::UnixSock {
                id: u.id,
                sock_type: match u.sock_type as i32 {
                    libc::SOCK_STREAM => "stream",
                    libc::SOCK_DGRAM => "dgram",
                    libc::SOCK_SEQPACKET => "seqpacket",
                    _ => "unknown",
                },
                state: match u.state {
                    img::unix_state::UNCONNECTED => "unconnected",
                    img::unix_state::CONNECTED => "connected",
                    img::unix_state::LISTENING => "listening",
                    // `backlog`: its place in its listener's backlog.
                    img::unix_state::EMBRYO => "not-accepted",
                    _ => "unknown",
                },
                peer: u.peer,
                shutdown: match u.shutdown {
                    0 => "none",
                    img::CKPT_UNIX_RCV_SHUTDOWN => "rd",
                    img::CKPT_UNIX_SEND_SHUTDOWN => "wr",
                    _ => "rdwr",
                }
                .into(),
                backlog: u.backlog,
                sndbuf: u.sndbuf,
                rcvbuf: u.rcvbuf,
                listener: u.listener,
                name: match name.split_first() {
                    Some((0, rest)) => format!("@{}", lossy(rest)),
                    _ => lossy(name),
                },
                nr_skbs: u.nr_skbs,
                passcred: u.flags & img::CKPT_UNIX_PASSCRED != 0,
                rcvtimeo_ms: u.rcvtimeo_ms,
                sndtimeo_ms: u.sndtimeo_ms,
                peer_cred: (u.flags & img::CKPT_UNIX_PEERCRED != 0).then_some(PeerCred {
                    pid: u.peer_pid,
                    uid: u.peer_uid,
                    gid: u.peer_gid,
                }),
            },
            Rec::Skb { skb, data } => Decoded::Skb {
                len: skb.len,
                fnv1a64: hex(fnv1a64(data)),
            },
            Rec::SkbFds { fds, objs } => Decoded::SkbFds {
                sock: fds.sock,
                skb: fds.skb,
                objs: objs.clone(),
            },
            Rec::Task(t) => Decoded::Task {
                pid: t.pid,
                tgid: t.tgid,
                ppid: t.ppid,
                pgid: t.pgid,
                sid: t.sid,
                comm: c_str(&t.comm),
                personality: hex(t.personality.into()),
                umask: format!("{:04o}", t.umask),
                exit_signal: t.exit_signal,
                dumpable: (t.dumpable != u32::MAX).then_some(t.dumpable),
                no_new_privs: t.no_new_privs,
                robust_list: hex(t.robust_list),
                robust_list_len: t.robust_list_len,
                set_child_tid: hex(t.set_child_tid),
                clear_child_tid: hex(t.clear_child_tid),
                vdso_base: hex(t.vdso_base),
                rseq: hex(t.rseq),
                rseq_len: t.rseq_len,
                pdeath_signal: t.pdeath_signal,
                nice: t.nice,
                timer_slack_ns: t.timer_slack_ns,
                thp_disable: t.thp_disable,
            },
            Rec::Creds { creds: c, groups } => Decoded::Creds {
                uid: [c.uid, c.euid, c.suid, c.fsuid],
                gid: [c.gid, c.egid, c.sgid, c.fsgid],
                groups: groups.clone(),
                securebits: hex(c.securebits.into()),
                cap_inheritable: hex(c.cap_inheritable),
                cap_permitted: hex(c.cap_permitted),
                cap_effective: hex(c.cap_effective),
                cap_bset: hex(c.cap_bset),
                cap_ambient: hex(c.cap_ambient),
            },
            Rec::Rlimits(r) => Decoded::Rlimits {
                rlim: r.rlim.iter().map(|l| (l.cur, l.max)).collect(),
            },
            Rec::Fs { fs, root, cwd } => Decoded::Fs {
                root: lossy(root),
                cwd: lossy(cwd),
                cwd_removed: (fs.flags & img::CKPT_FS_CWD_REMOVED != 0)
                    .then(|| format!("{:04o} {}:{}", fs.cwd_mode, fs.cwd_uid, fs.cwd_gid)),
            },
            Rec::Sighand(h) => Decoded::Sighand {
                actions: h
                    .action
                    .iter()
                    .enumerate()
                    .filter(|(_, a)| a.handler != 0 || a.flags != 0 || a.mask != 0)
                    .map(|(i, a)| Sigaction {
                        signo: i as u32 + 1,
                        handler: match a.handler {
                            0 => "SIG_DFL".into(),
                            1 => "SIG_IGN".into(),
                            h => hex(h),
                        },
                        flags: hex(a.flags),
                        restorer: hex(a.restorer),
                        mask: hex(a.mask),
                    })
                    .collect(),
            },
            Rec::Itimers(i) => Decoded::Itimers {
                real_value_ns: i.real_value_ns,
                real_interval_ns: i.real_interval_ns,
                virt_value_ns: i.virt_value_ns,
                virt_interval_ns: i.virt_interval_ns,
                prof_value_ns: i.prof_value_ns,
                prof_interval_ns: i.prof_interval_ns,
                nr_posix: i.nr_posix,
            },
            Rec::PosixTimer(t) => Decoded::PosixTimer {
                id: t.id,
                clock: t.clock,
                clock_name: crate::timers::clock_name(t.clock),
                clock_tid: crate::timers::cpu_clock(t.clock)
                    .ok()
                    .flatten()
                    .and_then(|c| c.thread),
                notify: match t.notify {
                    libc::SIGEV_SIGNAL => "signal",
                    libc::SIGEV_NONE => "none",
                    libc::SIGEV_THREAD => "thread",
                    libc::SIGEV_THREAD_ID => "thread-id",
                    _ => "unknown",
                },
                signo: t.signo,
                tid: t.tid,
                overrun: t.overrun,
                value: hex(t.value),
                value_ns: t.value_ns,
                interval_ns: t.interval_ns,
                pending: t.flags & img::CKPT_POSIX_TIMER_PENDING != 0,
            },
            Rec::Signals(s) => Decoded::Signals {
                blocked: hex(s.blocked),
                altstack_sp: hex(s.altstack_sp),
                altstack_size: s.altstack_size,
                altstack_flags: s.altstack_flags,
                nr_pending: s.nr_pending,
            },
            Rec::Siginfo(s) => {
                let word = |i: usize| {
                    i32::from_ne_bytes(s.info[i * 4..i * 4 + 4].try_into().expect("4 bytes"))
                };
                Decoded::Siginfo {
                    shared: s.shared != 0,
                    signo: word(0),
                    errno: word(1),
                    code: word(2),
                }
            }
            Rec::File { file: f, path } => {
                let path = lossy(path);
                Decoded::File {
                    fd: f.fd,
                    kind: file_kind_name(f.kind),
                    terminal: crate::terminal::terminal_kind(f, &path),
                    path,
                    flags: format!("{:#o}", f.flags),
                    cloexec: f.cloexec != 0,
                    pos: f.pos,
                    mode: format!("{:#o}", f.mode),
                    rdev: f.rdev,
                    obj: f.obj,
                    pipe: f.pipe,
                }
            }
            Rec::Xstate { xstate, .. } => Decoded::Xstate {
                xstate_bv: hex(xstate.xstate_bv),
                size: xstate.size,
            },
            Rec::Mm(m) => Decoded::Mm {
                start_code: hex(m.start_code),
                end_code: hex(m.end_code),
                start_data: hex(m.start_data),
                end_data: hex(m.end_data),
                start_brk: hex(m.start_brk),
                brk: hex(m.brk),
                start_stack: hex(m.start_stack),
                arg_start: hex(m.arg_start),
                arg_end: hex(m.arg_end),
                env_start: hex(m.env_start),
                env_end: hex(m.env_end),
                nr_vmas: m.nr_vmas,
                exe_vma: (m.exe_vma != img::CKPT_NO_EXE).then_some(m.exe_vma),
                lock_future: m.flags & img::CKPT_MM_LOCK_FUTURE != 0,
                auxv: m.auxv[..m.auxv_words as usize]
                    .chunks_exact(2)
                    .map(|w| (w[0], hex(w[1])))
                    .collect(),
            },
            Rec::Vma { vma: v, path } => Decoded::Vma {
                start: hex(v.start),
                end: hex(v.end),
                kind: vma_kind_name(v.kind),
                prot: prot_str(v.prot),
                pgoff: v.pgoff,
                vm_flags: hex(v.vm_flags),
                path: lossy(path),
                shm: v.shm,
                shm_size: v.shm_size,
            },
            Rec::Pages { pages, data } => Decoded::Pages {
                addr: hex(pages.addr),
                nr_pages: pages.nr_pages,
                fnv1a64: hex(fnv1a64(data)),
            },
            Rec::PagesRef(r) => Decoded::PagesRef {
                addr: hex(r.addr),
                nr_pages: r.nr_pages,
                src: r.src,
            },
            Rec::Regs(g) => {
                let names = [
                    "r15", "r14", "r13", "r12", "bp", "bx", "r11", "r10", "r9", "r8", "ax", "cx",
                    "dx", "si", "di", "orig_ax", "ip", "cs", "flags", "sp", "ss", "fs_base",
                    "gs_base", "ds", "es", "fs", "gs",
                ];
                let words = <[u64; 27]>::read_from_bytes(g.as_bytes()).expect("27 words");
                Decoded::Regs {
                    ip: hex(g.ip),
                    sp: hex(g.sp),
                    ax: hex(g.ax),
                    orig_ax: hex(g.orig_ax),
                    flags: hex(g.flags),
                    fs_base: hex(g.fs_base),
                    gs_base: hex(g.gs_base),
                    cs: hex(g.cs),
                    ss: hex(g.ss),
                    all: names
                        .iter()
                        .zip(words.iter())
                        .map(|(n, w)| (n.to_string(), hex(*w)))
                        .collect(),
                }
            }
            Rec::InetSock(r) => Decoded::InetSock(crate::inet::show(r)),
            Rec::TaskAttrs(a) => Decoded::TaskAttrs(crate::attrs::show(a)),
            Rec::FileLock(l) => Decoded::FileLock(crate::locks::show(l)),
            Rec::Fown(r) => Decoded::Fown(crate::fown::show(r)),
            Rec::Deleted(d) => Decoded::Deleted {
                id: d.id,
                mode: format!("{:#o}", d.mode),
                uid: d.uid,
                gid: d.gid,
                size: d.size,
            },
            Rec::RemovedDir(d) => Decoded::RemovedDir {
                id: d.id,
                mode: format!("{:04o}", d.mode),
                uid: d.uid,
                gid: d.gid,
            },
            Rec::Memfd { memfd, name } => Decoded::Memfd {
                id: memfd.id,
                name: lossy(name),
                seals: format!("{:#x}", memfd.seals),
                mode: format!("{:#o}", memfd.mode),
                size: memfd.size,
            },
            Rec::FileData { data, bytes } => Decoded::FileData {
                id: data.id,
                offset: data.offset,
                len: data.len,
                fnv1a64: hex(fnv1a64(bytes)),
            },
            Rec::Inotify(i) => Decoded::Inotify {
                id: i.id,
                nr_watches: i.nr_watches,
            },
            Rec::InotifyWatch { watch, path } => Decoded::InotifyWatch {
                wd: watch.wd,
                mask: hex(u64::from(watch.mask)),
                names: crate::inotify::event_names(watch.mask).join("|"),
                ino: watch.ino,
                dev: format!(
                    "{}:{}",
                    libc::major(watch.dev.into()),
                    libc::minor(watch.dev.into())
                ),
                path: lossy(path),
            },
            Rec::Skipped(kind) => Decoded::Unknown {
                kind: *kind,
                len: 0,
            },
            Rec::Epoll { epoll, items } => Decoded::Epoll {
                id: epoll.id,
                items: items
                    .iter()
                    .map(|it| EpollItem {
                        obj: it.obj,
                        tfd: it.tfd,
                        events: hex(u64::from(it.events)),
                        names: crate::epoll::event_names(it.events),
                        disarmed: crate::epoll::disarmed(it.events),
                        data: hex(it.data),
                    })
                    .collect(),
            },
            Rec::Unknown { kind, len } => Decoded::Unknown {
                kind: *kind,
                len: *len,
            },
        }
    }
}
