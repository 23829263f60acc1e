// SPDX-License-Identifier: GPL-2.0

//! The parts of an image `rstr` restores itself, with system calls: the tree, and each task's
//! records from `TASK` to `XSTATE`, read and checked before anything is done.
//!
//! Records are read with [`crate::image::ImageReader`], which checks each record's length,
//! the counts of the stream and its end; what is checked here is what a restart needs of
//! them: the order of each task's records, the tree's shape, values `rstr` must be able to
//! set again.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek};

use anyhow::{anyhow, bail, ensure, Context, Result};

use crate::abi::image::{self as img, file_kind, rec};
use crate::abi::CKPT_IMAGE_VERSION;
use crate::anonfd::AnonFd;
use crate::epoll::EpollImage;
use crate::image::{ImageReader, PageRun, Rec, RecordReader};
use crate::inotify::InotifyImage;

/// One open file to reopen.
#[derive(Debug, Clone)]
pub struct OpenFile {
    pub rec: img::CkptFileRec,
    pub path: String,
}

/// A pipe to recreate, with what was buffered in it.
#[derive(Debug, Clone)]
pub struct PipeImage {
    pub capacity: u32,
    pub data: Vec<u8>,
}

/// A unix socket to recreate, with what was queued for it to read.
#[derive(Debug, Clone)]
pub struct UnixImage {
    pub sock: img::CkptUnixSockRec,
    /// The name to bind: a path, or an abstract name starting with a NUL; empty for none.
    pub name: Vec<u8>,
    /// Its receive queue, oldest first: one entry per message (a stream's bytes in runs,
    /// each skb that carries descriptors alone).
    pub queue: Vec<Vec<u8>>,
    /// The descriptions each message of `queue` carries in flight (`SCM_RIGHTS`), by
    /// `FILE.obj`, in the order sent; empty for most.
    pub fds: Vec<Vec<u32>>,
    /// The id of the open file description (`FILE.obj`) that is this socket, once a `FILE`
    /// record names it; 0 before. One description only: `rstr` makes the socket once.
    pub obj: u32,
}

/// A process's root and working directory (the `FS` record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsImage {
    pub root: String,
    pub cwd: String,
    /// The working directory had been removed: `rstr` makes an empty directory at `cwd`
    /// with this mode, owner and group, enters it and removes it.
    pub cwd_removed: Option<RemovedDir>,
}

/// The mode, owner and group of a removed directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemovedDir {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Whether an absolute path names something in a directory (where a removed directory is
/// made again): not `/`, not ending with `/`.
fn has_parent(p: &str) -> bool {
    p.len() > 1 && !p.ends_with('/')
}

/// Adds a `REMOVED_DIR` record: a new id, permission bits only.
fn add_removed_dir(dirs: &mut HashMap<u32, RemovedDir>, r: &img::CkptRemovedDirRec) -> Result<()> {
    ensure!(
        r.mode & !0o7777 == 0,
        "REMOVED_DIR record {}: mode {:#o} has more than permission bits",
        r.id,
        r.mode
    );
    let dir = RemovedDir {
        mode: r.mode,
        uid: r.uid,
        gid: r.gid,
    };
    ensure!(
        dirs.insert(r.id, dir).is_none(),
        "REMOVED_DIR record {} appears twice",
        r.id
    );
    Ok(())
}

/// Checks a `FILE` of kind `REMOVED_DIR`: its directory's record came first; a directory's
/// mode, opened for reading (or `O_PATH`), a path with a parent (where it is made again),
/// an offset within reason.
fn check_removed_dir_file(
    f: &img::CkptFileRec,
    path: &[u8],
    dirs: &HashMap<u32, RemovedDir>,
) -> Result<()> {
    if f.kind != file_kind::REMOVED_DIR {
        return Ok(());
    }
    let fd = f.fd;
    ensure!(
        dirs.contains_key(&f.pipe),
        "FILE record: fd {fd} refers to removed directory {} before its REMOVED_DIR record",
        f.pipe
    );
    ensure!(
        f.mode & libc::S_IFMT == libc::S_IFDIR,
        "FILE record: fd {fd}: a removed directory of mode {:#o}",
        f.mode
    );
    ensure!(
        f.flags & libc::O_ACCMODE as u32 == libc::O_RDONLY as u32,
        "FILE record: fd {fd}: a removed directory open for writing (flags {:#o})",
        f.flags
    );
    let p = utf8_path(path, &format!("fd {fd}"))?;
    ensure!(
        has_parent(&p),
        "FILE record: fd {fd}: removed directory {p:?} has no parent"
    );
    ensure!(f.pos >= 0, "FILE record: fd {fd}: offset {}", f.pos);
    Ok(())
}

impl FsImage {
    fn checked(fs: &img::CkptFsRec, root: &[u8], cwd: &[u8]) -> Result<Self> {
        ensure!(
            fs.flags & !img::CKPT_FS_CWD_REMOVED == 0,
            "FS record: unknown flags {:#x}",
            fs.flags
        );
        let cwd = utf8_path(cwd, "FS cwd")?;
        let cwd_removed = if fs.flags & img::CKPT_FS_CWD_REMOVED != 0 {
            ensure!(
                fs.cwd_mode & !0o7777 == 0,
                "FS record: removed working directory's mode {:#o} has more than permission bits",
                fs.cwd_mode
            );
            ensure!(
                has_parent(&cwd),
                "FS record: removed working directory {cwd:?} has no parent"
            );
            Some(RemovedDir {
                mode: fs.cwd_mode,
                uid: fs.cwd_uid,
                gid: fs.cwd_gid,
            })
        } else {
            ensure!(
                fs.cwd_mode == 0 && fs.cwd_uid == 0 && fs.cwd_gid == 0,
                "FS record: a removed directory's mode and owner for a working directory that is there"
            );
            None
        };
        Ok(FsImage {
            root: utf8_path(root, "FS root")?,
            cwd,
            cwd_removed,
        })
    }
}

/// What `rstr` restores of one live task itself, checked; `None` fields are objects saved
/// with an earlier task that shares them.
#[derive(Debug, Clone)]
pub struct TaskImage {
    pub task: img::CkptTaskRec,
    /// Its scheduling and I/O attributes ([`crate::attrs`]).
    pub attrs: crate::attrs::TaskAttrs,
    pub creds: img::CkptCredsRec,
    pub groups: Vec<u32>,
    pub rlimits: img::CkptRlimitsRec,
    /// Root and working directory.
    pub fs: Option<FsImage>,
    pub sighand: Option<img::CkptSighandRec>,
    pub signals: img::CkptSignalsRec,
    pub pending: Vec<img::CkptSiginfoRec>,
    /// The process's timers, with its leader, if it has any ([`crate::timers`]).
    pub timers: Option<crate::timers::Timers>,
    pub files: Option<Vec<OpenFile>>,
    /// The locks saved with its descriptor table ([`crate::locks`]), checked.
    pub locks: Vec<img::CkptFileLockRec>,
    pub xstate: img::CkptXstateRec,
    pub xsave: Vec<u8>,
    /// Offset of the records the module reads for this task (`MM`, or `REGS`).
    pub kernel_pos: u64,
    /// Whether they start with `MM`: this task restores the memory its threads share.
    pub owns_mm: bool,
    /// That memory (empty unless `owns_mm`).
    pub memory: Memory,
}

/// A whole image, scanned: every record checked for framing, the records `rstr` needs
/// decoded and checked, the module's records skipped (the module checks them).
#[derive(Debug, Clone)]
pub struct Image {
    pub header: img::CkptHeaderRec,
    pub container: bool,
    /// A container's namespaces of its own besides pid (its `UTS_NS`); `None` for a plain
    /// tree.
    pub namespaces: Option<Namespaces>,
    /// The SysV objects of a container's own IPC namespace (its `IPC_NS` and what follows).
    pub ipc: Option<crate::ipc::IpcImage>,
    pub tree: Vec<img::CkptTreeEntry>,
    /// One per `tree` entry; `None` for a zombie.
    pub tasks: Vec<Option<TaskImage>>,
    pub pipes: HashMap<u32, PipeImage>,
    /// Unix sockets, by id.
    pub unix: HashMap<u32, UnixImage>,
    /// eventfd, timerfd and signalfd descriptions, by id (their `FILE` records' `obj`).
    pub anonfds: HashMap<u32, AnonFd>,
    /// TCP and UDP sockets, by id (their `FILE` records' `obj`).
    pub inet: HashMap<u32, img::CkptInetSockRec>,
    /// epoll descriptions, by id (their `FILE` records' `obj`).
    pub epolls: HashMap<u32, EpollImage>,
    /// Deleted files, by id (their `FILE` records' `pipe`).
    pub deleted: HashMap<u32, crate::deleted::DeletedImage>,
    /// Directories removed while open, by id (their `FILE` records' `pipe`).
    pub removed_dirs: HashMap<u32, RemovedDir>,
    /// inotify descriptions, by id (their `FILE` records' `obj`).
    pub inotify: HashMap<u32, InotifyImage>,
    /// Owners and signals of descriptions (`FOWN`), by description (`FILE.obj`).
    pub fowns: HashMap<u32, crate::fown::Fown>,
    /// The descriptions that only messages in flight hold (`FILE` records of fd
    /// [`img::CKPT_FD_IN_FLIGHT`]), in image order.
    pub flights: Vec<OpenFile>,
}

impl Image {
    /// Every `FILE` record of the descriptor tables, each table once (with the first task
    /// that has it), in image order; the descriptions only in flight are not among them.
    pub fn files(&self) -> impl Iterator<Item = &OpenFile> {
        self.tasks
            .iter()
            .flatten()
            .filter_map(|t| t.files.as_ref())
            .flatten()
    }
}

/// The next record; the image's end or an `ERROR` record is an error here, where a record
/// of the image is expected.
fn next<R: Read + Seek>(rd: &mut ImageReader<R>) -> Result<Rec> {
    failed(rd.next_skipping_module_records()?)
}

/// The record read, where one of the image is expected.
fn failed(r: Option<Rec>) -> Result<Rec> {
    let r = r.context("truncated image: it ends early")?;
    if let Rec::Error { error, reason } = &r {
        bail!(
            "the image records a failed checkpoint (errno {}): {reason}",
            error.error
        );
    }
    Ok(r)
}

/// As [`next`], with the memory records as [`ImageReader::next_memory_record`] reads them.
fn next_memory<R: Read + Seek>(rd: &mut ImageReader<R>) -> Result<(Rec, Option<PageRun>)> {
    match rd.next_memory_record()? {
        Some((r, run)) => Ok((failed(Some(r))?, run)),
        None => failed(None).map(|r| (r, None)),
    }
}

fn unexpected(want: u32, r: &Rec) -> anyhow::Error {
    anyhow!(
        "expected a {} record, found {}",
        rec::name(want),
        rec::name(r.kind())
    )
}

/// The next record, which must match `$pat` (a record of type `$kind`); `$v` of it.
macro_rules! expect {
    ($rd:expr, $kind:expr, $pat:pat => $v:expr) => {
        match next($rd)? {
            $pat => $v,
            r => return Err(unexpected($kind, &r)),
        }
    };
}

fn utf8_path(bytes: &[u8], what: &str) -> Result<String> {
    ensure!(!bytes.contains(&0), "{what}: NUL inside a path");
    ensure!(bytes.first() == Some(&b'/'), "{what}: path is not absolute");
    Ok(std::str::from_utf8(bytes)
        .with_context(|| format!("{what}: path is not UTF-8"))?
        .to_owned())
}

/// The namespaces besides pid a container has of its own, from its `UTS_NS` record.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Namespaces {
    /// A UTS namespace of its own, with these names (`sethostname`, `setdomainname`).
    pub uts: Option<UtsNames>,
    /// An IPC namespace of its own (empty when saved).
    pub ipc: bool,
    /// A network namespace of its own (only `lo`, with its default addresses, when saved).
    pub net: Option<NetNs>,
    /// A time namespace of its own: its offsets, and the host's clocks when they were read.
    pub time: Option<img::CkptTimeNsRec>,
}

/// A clock offset of a time namespace: seconds and nanoseconds, as
/// `/proc/PID/timens_offsets` reads and writes them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockOffset {
    pub sec: i64,
    pub nsec: u32,
}

const NSEC: i128 = 1_000_000_000;

impl ClockOffset {
    fn ns(self) -> i128 {
        i128::from(self.sec) * NSEC + i128::from(self.nsec)
    }

    fn from_ns(ns: i128) -> Self {
        ClockOffset {
            sec: ns.div_euclid(NSEC) as i64,
            nsec: ns.rem_euclid(NSEC) as u32,
        }
    }

    /// The offset a restored container's clock gets, where it had `self` when the host's
    /// clock read `host_then` and the host's now reads `host_now`: the same, so that the
    /// container's clock reads what it would have without the checkpoint, unless the
    /// host's clock is behind where it was (another boot, another machine); then the one
    /// that makes the container's clock go on from where it stood, never back.
    pub fn restored(self, host_then: u64, host_now: u64) -> Self {
        if host_now >= host_then {
            return self;
        }
        Self::from_ns(self.ns() + i128::from(host_then - host_now))
    }
}

/// The offsets of a saved time namespace: (`CLOCK_MONOTONIC`, `CLOCK_BOOTTIME`).
pub fn time_offsets(t: &img::CkptTimeNsRec) -> (ClockOffset, ClockOffset) {
    (
        ClockOffset {
            sec: t.monotonic_sec,
            nsec: t.monotonic_nsec,
        },
        ClockOffset {
            sec: t.boottime_sec,
            nsec: t.boottime_nsec,
        },
    )
}

/// What a container's own network namespace held besides `lo` and its default addresses:
/// nothing (the module refused any more), so only whether `lo` was up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NetNs {
    pub lo_up: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UtsNames {
    pub nodename: Vec<u8>,
    pub domainname: Vec<u8>,
}

impl Namespaces {
    /// From a `UTS_NS` record, which [`crate::image::parse`] checked.
    pub fn from_rec(u: &img::CkptUtsNsRec) -> Result<Self> {
        let uts = if u.flags & img::CKPT_NS_UTS != 0 {
            Some(UtsNames {
                nodename: crate::image::uts_name(&u.nodename)?.to_vec(),
                domainname: crate::image::uts_name(&u.domainname)?.to_vec(),
            })
        } else {
            None
        };
        Ok(Self {
            uts,
            ipc: u.flags & img::CKPT_NS_IPC != 0,
            net: (u.flags & img::CKPT_NS_NET != 0).then_some(NetNs {
                lo_up: u.flags & img::CKPT_NS_LO_UP != 0,
            }),
            time: None,
        })
    }
}

/// Reads and checks a whole image from a seekable file.
pub fn scan<R: Read + Seek>(records: &mut RecordReader<R>) -> Result<Image> {
    let rd = &mut ImageReader::new(records);
    let header = expect!(rd, rec::HEADER, Rec::Header(h) => h);
    ensure!(
        header.image_version == CKPT_IMAGE_VERSION,
        "image format version {} (these tools read version {})",
        header.image_version,
        CKPT_IMAGE_VERSION
    );
    ensure!(
        header.arch == img::CKPT_ARCH_X86_64,
        "image of architecture {:#x}, not x86_64",
        header.arch
    );
    ensure!(
        header.page_size == img::CKPT_PAGE_SIZE,
        "page size {}",
        header.page_size
    );
    let (t, tree) = expect!(rd, rec::TREE, Rec::Tree { tree, entries } => (tree, entries));
    check_tree(&tree)?;
    let container = t.flags & img::CKPT_TREE_CONTAINER != 0;
    // A container's other namespaces come right after the TREE.
    let namespaces = if container {
        let u = expect!(rd, rec::UTS_NS, Rec::UtsNs(u) => u);
        let mut ns = Namespaces::from_rec(&u).context("UTS_NS record")?;
        if u.flags & img::CKPT_NS_TIME != 0 {
            ns.time = Some(expect!(rd, rec::TIME_NS, Rec::TimeNs(t) => t));
        }
        Some(ns)
    } else {
        None
    };
    let ipc = if namespaces.as_ref().is_some_and(|n| n.ipc) {
        let mut held = None;
        let i = crate::ipc::read(|| next(rd), |r| held = Some(r))?;
        rd.unread(held.expect("handed back"));
        Some(i)
    } else {
        None
    };

    let mut seen = HashSet::new();
    let mut objs = Objects::default();
    let mut tasks = Vec::with_capacity(tree.len());
    for e in &tree {
        if e.flags & img::CKPT_TASK_ZOMBIE != 0 {
            tasks.push(None);
            continue;
        }
        let t = read_task(rd, &header, e, &mut seen, &mut objs)
            .with_context(|| format!("task {}", e.pid))?;
        tasks.push(Some(t));
    }
    let attaches: Vec<(u32, u64, u64)> = tasks
        .iter()
        .flatten()
        .flat_map(|t| t.memory.areas.iter())
        .filter(|v| v.kind == img::vma_kind::SYSV_SHM)
        .map(|v| {
            let from = v.pgoff.saturating_mul(u64::from(img::CKPT_PAGE_SIZE));
            (v.shm, from, from.saturating_add(v.end - v.start))
        })
        .collect();
    crate::ipc::check_attaches(ipc.as_ref(), &attaches)?;
    crate::ipc::check_undo(ipc.as_ref(), &tree)?;
    crate::ipc::check_mq_files(
        ipc.as_ref(),
        tasks
            .iter()
            .flatten()
            .flat_map(|t| t.files.iter().flatten())
            .filter(|f| f.rec.kind == file_kind::MQUEUE)
            .map(|f| (f.rec.fd, f.path.as_str())),
    )?;
    crate::timers::check_targets(
        &tree,
        tasks
            .iter()
            .map(|t| t.as_ref().and_then(|t| t.timers.as_ref())),
    )?;
    // The reader checks the TAIL's count, and that nothing follows it.
    expect!(rd, rec::TAIL, Rec::Tail(_) => ());
    ensure!(
        rd.next_skipping_module_records()?.is_none(),
        "data after the TAIL record"
    );
    let Objects {
        pipes,
        unix,
        anonfds,
        inet,
        epolls,
        deleted,
        removed_dirs,
        inotify,
        refs,
        locks: _,
        fowns,
        flights,
    } = objs;
    crate::unix::check_pairs(&unix)?;
    crate::unix::check_in_flight(&unix, &refs)?;
    crate::fown::check_owners(&tree, &fowns)?;
    crate::epoll::fill_order(&epolls)?;
    Ok(Image {
        header,
        container,
        namespaces,
        ipc,
        tree,
        tasks,
        pipes,
        unix,
        anonfds,
        inet,
        epolls,
        deleted,
        removed_dirs,
        inotify,
        fowns,
        flights,
    })
}

/// The tree's shape: unique positive pids, the root a live process first, every thread
/// after its leader and sharing its memory and handlers, every process after its parent.
pub fn check_tree(tree: &[img::CkptTreeEntry]) -> Result<()> {
    let mut index: HashMap<i32, usize> = HashMap::new();
    for (i, e) in tree.iter().enumerate() {
        let zombie = e.flags & img::CKPT_TASK_ZOMBIE != 0;
        ensure!(
            e.pid > 0 && e.tgid > 0,
            "TREE entry {i}: pid {} tgid {}",
            e.pid,
            e.tgid
        );
        ensure!(
            index.insert(e.pid, i).is_none(),
            "TREE: pid {} appears twice",
            e.pid
        );
        ensure!(
            (1..=64).contains(&e.exit_signal) || e.exit_signal == 0 || e.pid != e.tgid,
            "TREE entry {}: exit signal {}",
            e.pid,
            e.exit_signal
        );
        ensure!(
            zombie == (e.mm == 0),
            "TREE entry {}: a zombie has no memory, a live task has one",
            e.pid
        );
        if i == 0 {
            ensure!(
                e.pid == e.tgid && !zombie,
                "TREE: the root {} must be a live process",
                e.pid
            );
            continue;
        }
        if e.pid != e.tgid {
            let Some(&l) = index.get(&e.tgid) else {
                bail!("TREE: thread {} comes before its leader {}", e.pid, e.tgid)
            };
            let leader = &tree[l];
            ensure!(
                leader.pid == leader.tgid && !zombie,
                "TREE: thread {} of {} is not a live thread of a process",
                e.pid,
                e.tgid
            );
            ensure!(
                e.mm == leader.mm && e.sighand == leader.sighand,
                "TREE: thread {} does not share its process's memory and handlers",
                e.pid
            );
        } else {
            ensure!(
                index.contains_key(&e.ppid)
                    && tree[index[&e.ppid]].pid == tree[index[&e.ppid]].tgid,
                "TREE: process {} comes before its parent {}, or its parent is not in the image",
                e.pid,
                e.ppid
            );
        }
    }
    Ok(())
}

/// The objects of the image's descriptor tables, by id, as [`read_task`] collects them.
#[derive(Default)]
struct Objects {
    pipes: HashMap<u32, PipeImage>,
    unix: HashMap<u32, UnixImage>,
    anonfds: HashMap<u32, AnonFd>,
    inet: HashMap<u32, img::CkptInetSockRec>,
    epolls: HashMap<u32, EpollImage>,
    deleted: HashMap<u32, crate::deleted::DeletedImage>,
    removed_dirs: HashMap<u32, RemovedDir>,
    inotify: HashMap<u32, InotifyImage>,
    /// What the records say of one another ([`crate::refs`]).
    refs: crate::refs::Refs,
    locks: crate::locks::Seen,
    fowns: HashMap<u32, crate::fown::Fown>,
    flights: Vec<OpenFile>,
}

fn read_task<R: Read + Seek>(
    rd: &mut ImageReader<R>,
    header: &img::CkptHeaderRec,
    e: &img::CkptTreeEntry,
    seen: &mut HashSet<(u32, u32)>,
    objs: &mut Objects,
) -> Result<TaskImage> {
    let Objects {
        pipes,
        unix,
        anonfds,
        inet,
        epolls,
        deleted,
        removed_dirs,
        inotify,
        refs,
        locks: seen_locks,
        fowns,
        flights,
    } = objs;
    // An object's records come with the first task that has it.
    let mut first = |kind: u32, id: u32| seen.insert((kind, id));

    let task = expect!(rd, rec::TASK, Rec::Task(t) => t);
    ensure!(
        task.pid == e.pid && task.tgid == e.tgid,
        "TASK record: pid {} tgid {}, the TREE says {} {}",
        task.pid,
        task.tgid,
        e.pid,
        e.tgid
    );
    ensure!(
        (0..=img::CKPT_NSIG as i32).contains(&task.pdeath_signal),
        "TASK record of {}: parent-death signal {} is not a signal",
        task.pid,
        task.pdeath_signal
    );
    ensure!(
        matches!(task.thp_disable, 0 | 1 | 3),
        "TASK record of {}: THP-disable mode {} is unknown",
        task.pid,
        task.thp_disable
    );
    ensure!(
        (-20..=19).contains(&task.nice),
        "TASK record of {}: nice {} is out of range",
        task.pid,
        task.nice
    );
    ensure!(
        matches!(task.dumpable, 0 | 1 | u32::MAX),
        "TASK record of {}: dumpable {} cannot be set",
        task.pid,
        task.dumpable
    );

    let attrs = expect!(rd, rec::TASK_ATTRS, Rec::TaskAttrs(a) => a);
    attrs.check(task.pid)?;

    let (creds, groups) = expect!(rd, rec::CREDS, Rec::Creds { creds, groups } => (creds, groups));

    let rlimits = *expect!(rd, rec::RLIMITS, Rec::Rlimits(r) => r);
    for (i, l) in rlimits.rlim.iter().enumerate() {
        ensure!(
            l.cur <= l.max,
            "RLIMITS record: limit {i} has cur above max"
        );
    }

    let fs = if first(rec::FS, e.fs) {
        let (fs, root, cwd) = expect!(rd, rec::FS, Rec::Fs { fs, root, cwd } => (fs, root, cwd));
        Some(FsImage::checked(&fs, &root, &cwd)?)
    } else {
        None
    };

    let sighand = if first(rec::SIGHAND, e.sighand) {
        Some(*expect!(rd, rec::SIGHAND, Rec::Sighand(h) => h))
    } else {
        None
    };

    let signals = expect!(rd, rec::SIGNALS, Rec::Signals(s) => s);
    ensure!(
        signals.nr_pending <= 4096,
        "SIGNALS record: {} pending signals",
        signals.nr_pending
    );
    let mut pending = Vec::new();
    // As many as SIGNALS announces: the reader checks that they are there.
    for _ in 0..signals.nr_pending {
        let s = *expect!(rd, rec::SIGINFO, Rec::Siginfo(s) => s);
        let signo = i32::from_ne_bytes(s.info[..4].try_into().expect("4 bytes"));
        ensure!((1..=64).contains(&signo), "SIGINFO record: signal {signo}");
        ensure!(
            s.shared == 0 || e.pid == e.tgid,
            "SIGINFO record: a process-wide signal saved with a thread"
        );
        pending.push(s);
    }

    let mut r = next(rd)?;
    let mut timers = None;
    if let Rec::Itimers(i) = r {
        let mut posix = Vec::new();
        // As many as ITIMERS announces: the reader checks that they are there.
        for _ in 0..i.nr_posix {
            posix.push(expect!(rd, rec::POSIX_TIMER, Rec::PosixTimer(t) => t));
        }
        timers = Some(crate::timers::Timers::check(e, i, posix)?);
        r = next(rd)?;
    }

    let table = first(rec::FILE, e.files);
    let mut files = Vec::new();
    let mut saved_epolls = Vec::new();
    let mut locks = Vec::new();
    // The socket whose SKB_FDS may come next, and the message after its last one.
    let mut fds_for: Option<(u32, u32)> = None;
    while table
        && matches!(
            r,
            Rec::File { .. }
                | Rec::Pipe { .. }
                | Rec::UnixSock { .. }
                | Rec::SkbFds { .. }
                | Rec::Anonfd(_)
                | Rec::InetSock(_)
                | Rec::Epoll { .. }
                | Rec::Deleted(_)
                | Rec::RemovedDir(_)
                | Rec::Memfd { .. }
                | Rec::FileData { .. }
                | Rec::Inotify(_)
                | Rec::FileLock(_)
                | Rec::Fown(_)
        )
    {
        refs.record(&r)?;
        let after_skbs = fds_for.take();
        match r {
            Rec::SkbFds { fds, objs } => {
                let (sock, from) = after_skbs.filter(|&(sock, _)| sock == fds.sock).with_context(
                    || {
                        format!(
                            "SKB_FDS record of unix socket {}: not right after its UNIX_SOCK and SKB records",
                            fds.sock
                        )
                    },
                )?;
                let u = unix.get_mut(&sock).expect("read just before");
                ensure!(
                    fds.skb >= from && (fds.skb as usize) < u.queue.len(),
                    "SKB_FDS record of unix socket {sock}: message {} out of order or beyond its {} messages",
                    fds.skb,
                    u.queue.len()
                );
                ensure!(
                    objs.iter().all(|&o| o != 0),
                    "SKB_FDS record of unix socket {sock}: description 0"
                );
                u.fds[fds.skb as usize] = objs;
                fds_for = Some((sock, fds.skb + 1));
            }
            Rec::Pipe { pipe: p, data } => {
                ensure!(
                    p.capacity <= 1 << 30,
                    "PIPE record {}: capacity {} is too large",
                    p.id,
                    p.capacity
                );
                ensure!(first(rec::PIPE, p.id), "PIPE record {} appears twice", p.id);
                pipes.insert(
                    p.id,
                    PipeImage {
                        capacity: p.capacity,
                        data,
                    },
                );
            }
            Rec::UnixSock { sock, name } => {
                ensure!(
                    first(rec::UNIX_SOCK, sock.id),
                    "UNIX_SOCK record {} appears twice",
                    sock.id
                );
                ensure!(
                    sock.nr_skbs <= img::CKPT_UNIX_MSGS_MAX,
                    "unix socket {}: {} messages queued, more than {}",
                    sock.id,
                    sock.nr_skbs,
                    img::CKPT_UNIX_MSGS_MAX
                );
                let mut queue = Vec::with_capacity(sock.nr_skbs as usize);
                let mut total = 0usize;
                // As many as UNIX_SOCK announces: the reader checks that they are there.
                for _ in 0..sock.nr_skbs {
                    let data = expect!(rd, rec::SKB, Rec::Skb { data, .. } => data);
                    // The running total, before the next SKB is read.
                    total += data.len();
                    ensure!(
                        total <= img::CKPT_UNIX_QUEUE_MAX as usize,
                        "unix socket {}: more than {} bytes queued",
                        sock.id,
                        img::CKPT_UNIX_QUEUE_MAX
                    );
                    queue.push(data);
                }
                let u = UnixImage {
                    sock,
                    name,
                    fds: vec![Vec::new(); queue.len()],
                    queue,
                    obj: 0,
                };
                crate::unix::check_socket(&u)?;
                unix.insert(sock.id, u);
                fds_for = Some((sock.id, 0));
            }
            Rec::Anonfd(a) => {
                a.check()?;
                ensure!(
                    anonfds.insert(a.id(), a).is_none(),
                    "{} record {} appears twice",
                    rec::name(a.kind()),
                    a.id()
                );
            }
            Rec::InetSock(s) => {
                crate::inet::check(&s)?;
                ensure!(
                    inet.insert(s.id, s).is_none(),
                    "INET_SOCK record {} appears twice",
                    s.id
                );
            }
            Rec::Epoll { epoll, items } => {
                let e = EpollImage {
                    id: epoll.id,
                    items,
                    table: e.files,
                    holders: Vec::new(),
                };
                e.check()?;
                ensure!(
                    !epolls.contains_key(&e.id) && !anonfds.contains_key(&e.id),
                    "EPOLL record {} appears twice",
                    e.id
                );
                saved_epolls.push(e.id);
                epolls.insert(e.id, e);
            }
            Rec::File { file, path } => {
                ensure!(
                    (file.kind == file_kind::INET_SOCKET) == inet.contains_key(&file.obj),
                    "FILE record: fd {} of kind {} and INET_SOCK record {} disagree",
                    file.fd,
                    file.kind,
                    file.obj
                );
                refs.file(&file)?;
                crate::epoll::check_file(epolls, &file, &path)?;
                ensure!(
                    (file.kind == file_kind::INOTIFY) == inotify.contains_key(&file.obj),
                    "FILE record: fd {} of kind {} and INOTIFY record {} disagree",
                    file.fd,
                    file.kind,
                    file.obj
                );
                crate::deleted::check_file(&file, deleted)?;
                check_removed_dir_file(&file, &path, removed_dirs)?;
                if file.fd == img::CKPT_FD_IN_FLIGHT {
                    flights.push(crate::unix::read_flight(file, &path, pipes)?);
                } else {
                    files.push(read_file(file, &path, pipes, unix, anonfds, files.last())?)
                }
            }
            Rec::Deleted(d) => crate::deleted::add_file(deleted, d)?,
            Rec::RemovedDir(d) => add_removed_dir(removed_dirs, &d)?,
            Rec::Memfd { memfd, name } => crate::deleted::add_memfd(deleted, memfd, &name)?,
            Rec::FileData { data, bytes } => crate::deleted::add_data(deleted, data, bytes)?,
            Rec::Inotify(i) => {
                let mut watches = Vec::new();
                // As many as INOTIFY announces: the reader checks that they are there.
                for _ in 0..i.nr_watches {
                    watches.push(expect!(rd, rec::INOTIFY_WATCH,
                        Rec::InotifyWatch { watch, path } => (watch, path)));
                }
                let n = InotifyImage::new(&i, watches)?;
                ensure!(
                    i.id != 0
                        && !inotify.contains_key(&i.id)
                        && !epolls.contains_key(&i.id)
                        && !anonfds.contains_key(&i.id),
                    "INOTIFY record {} appears twice, or has id 0",
                    i.id
                );
                inotify.insert(i.id, n);
            }
            Rec::FileLock(l) => locks.push(l),
            Rec::Fown(f) => crate::fown::add(fowns, f, files.last(), e.tgid)?,
            _ => unreachable!("matched above"),
        }
        r = next(rd)?;
    }
    // The table's end: no FILE_DATA of it may come after.
    refs.record(&r)?;
    for id in saved_epolls {
        epolls
            .get_mut(&id)
            .expect("inserted above")
            .check_targets(&files)?;
    }
    crate::locks::check(&locks, &files, e.pid, seen_locks)?;
    let (xstate, xsave) = match r {
        Rec::Xstate { xstate, area } => (xstate, area),
        r => return Err(unexpected(rec::XSTATE, &r)),
    };
    ensure!(
        xstate.size >= 576 && xstate.size <= 1 << 16,
        "XSTATE record: size {} is not an XSAVE area's",
        xstate.size
    );
    ensure!(
        xstate.xstate_bv & !header.xfeatures == 0,
        "XSTATE record: state {:#x} beyond the image's features {:#x}",
        xstate.xstate_bv,
        header.xfeatures
    );

    // The memfds and deleted files that this memory maps and no descriptor saved before
    // (rstr makes them with the others); then the module's part: MM VMA* PAGES* REGS, or
    // REGS alone.
    let owns_mm = first(rec::MM, e.mm);
    let mut kernel_pos = rd.offset();
    let (mut r, mut run) = next_memory(rd)?;
    while matches!(
        r,
        Rec::Deleted(_) | Rec::Memfd { .. } | Rec::FileData { .. }
    ) {
        ensure!(
            owns_mm,
            "{} record of task {}, whose memory is saved with another task",
            rec::name(r.kind()),
            e.pid
        );
        refs.record(&r)?;
        match r {
            Rec::Deleted(d) => crate::deleted::add_file(deleted, d)?,
            Rec::Memfd { memfd, name } => crate::deleted::add_memfd(deleted, memfd, &name)?,
            Rec::FileData { data, bytes } => crate::deleted::add_data(deleted, data, bytes)?,
            _ => unreachable!("matched above"),
        }
        kernel_pos = rd.offset();
        (r, run) = next_memory(rd)?;
    }
    refs.record(&r)?;
    // The module refuses it too: a CLONE_VM child is restored by its parent's path
    // (rstr's thread.rs), which creates no timers.
    ensure!(
        owns_mm || timers.is_none(),
        "ITIMERS record with process {}, which shares its parent's memory (CLONE_VM): \
         its restart does not restore timers",
        e.pid
    );
    let mut kind = r.kind();
    let mut memory = Memory::default();
    if owns_mm {
        ensure!(kind == rec::MM, "expected MM, found {}", rec::name(kind));
        while kind != rec::REGS {
            ensure!(
                matches!(kind, rec::MM | rec::VMA | rec::PAGES | rec::PAGES_REF),
                "unexpected {} among the memory records",
                rec::name(kind)
            );
            memory.add(&r, run, deleted)?;
            (r, run) = next_memory(rd)?;
            kind = r.kind();
        }
    }
    ensure!(
        kind == rec::REGS,
        "expected REGS, found {}",
        rec::name(kind)
    );

    Ok(TaskImage {
        task,
        attrs,
        creds,
        groups,
        rlimits,
        fs,
        sighand,
        signals,
        pending,
        timers,
        files: table.then_some(files),
        locks,
        xstate,
        xsave,
        kernel_pos,
        owns_mm,
        memory,
    })
}

/// A process's memory as `rstr` maps part of it itself (rstr's `cow.rs`): its areas and
/// where the contents of its saved pages are in the image. The module checks the rest.
#[derive(Debug, Clone, Default)]
pub struct Memory {
    /// The `VMA` records, in address order.
    pub areas: Vec<img::CkptVmaRec>,
    /// The `PAGES` records, in address order (checked), disjoint.
    pub pages: Vec<PageRun>,
    /// The memfds and deleted files its areas map (a `VMA`'s `shm`), each once, with the
    /// path of the first area: a deleted file is made again in its directory.
    pub mapped: Vec<(u32, String)>,
}

impl Memory {
    fn add(
        &mut self,
        r: &Rec,
        run: Option<PageRun>,
        files: &HashMap<u32, crate::deleted::DeletedImage>,
    ) -> Result<()> {
        if let Rec::Vma { vma, path } = r {
            let file_area = matches!(
                vma.kind,
                img::vma_kind::FILE_SHARED | img::vma_kind::FILE_PRIVATE
            );
            if file_area && vma.shm != 0 {
                let memfd = path.starts_with(b"/memfd:");
                let who = format!("VMA record {:#x}-{:#x}", vma.start, vma.end);
                crate::deleted::known(files, vma.shm, memfd, &who)?;
                if !self.mapped.iter().any(|(id, _)| *id == vma.shm) {
                    let p = utf8_path(path, &format!("VMA record {:#x}", vma.start))?;
                    self.mapped.push((vma.shm, p));
                }
            }
            let page = img::CKPT_PAGE_SIZE as u64;
            let prev_end = self.areas.last().map_or(0, |a| a.end);
            ensure!(
                vma.start < vma.end
                    && vma.start % page == 0
                    && vma.end % page == 0
                    && vma.start >= prev_end,
                "VMA record {:#x}-{:#x}: empty, misaligned, or not after the one before",
                vma.start,
                vma.end
            );
            self.areas.push(*vma);
        }
        if let Some(run) = run {
            let prev_end = self.pages.last().map_or(0, |p| {
                p.addr
                    .saturating_add(u64::from(p.nr_pages) * img::CKPT_PAGE_SIZE as u64)
            });
            ensure!(
                run.addr >= prev_end,
                "PAGES record {:#x}: not after the one before",
                run.addr
            );
            self.pages.push(run);
        }
        Ok(())
    }
}

pub(crate) fn read_file(
    f: img::CkptFileRec,
    path: &[u8],
    pipes: &HashMap<u32, PipeImage>,
    unix: &mut HashMap<u32, UnixImage>,
    anonfds: &HashMap<u32, AnonFd>,
    prev: Option<&OpenFile>,
) -> Result<OpenFile> {
    ensure!(
        f.fd >= 0 && f.fd < (1 << 20),
        "FILE record: descriptor {} out of range",
        f.fd
    );
    ensure!(f.obj != 0, "FILE record: fd {} has no object id", f.fd);
    ensure!(
        prev.is_none_or(|p| p.rec.fd < f.fd),
        "FILE record: fd {} out of order",
        f.fd
    );
    ensure!(
        matches!(
            f.kind,
            file_kind::EVENTFD | file_kind::TIMERFD | file_kind::SIGNALFD
        ) || !anonfds.contains_key(&f.obj),
        "FILE record: fd {} of kind {} shares the id {} of an eventfd, timerfd or signalfd",
        f.fd,
        f.kind,
        f.obj
    );
    let path = match f.kind {
        file_kind::EVENTFD | file_kind::TIMERFD | file_kind::SIGNALFD => {
            let a = anonfds.get(&f.obj).with_context(|| {
                format!(
                    "FILE record: fd {} refers to description {} before its record",
                    f.fd, f.obj
                )
            })?;
            a.check_file(&f, path)?;
            String::new()
        }
        // Checked against its EPOLL record by the caller (`crate::epoll::check_file`).
        file_kind::EPOLL => String::new(),
        // Its INOTIFY record (of id `obj`) is checked by the caller.
        file_kind::INOTIFY => {
            ensure!(
                f.pipe == 0 && path.is_empty(),
                "FILE record: fd {} of an inotify names a path or an object",
                f.fd
            );
            let known = (libc::O_NONBLOCK | libc::O_CLOEXEC) as u32;
            ensure!(
                f.flags & libc::O_ACCMODE as u32 == libc::O_RDONLY as u32 && f.flags & !known == 0,
                "FILE record: fd {} of an inotify has flags {:#o}",
                f.fd,
                f.flags
            );
            String::new()
        }
        // Checked against the image's queues once all is read (`crate::ipc::check_mq_files`).
        file_kind::MQUEUE => {
            let known =
                (libc::O_ACCMODE | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_LARGEFILE) as u32;
            ensure!(
                f.pipe == 0 && f.flags & !known == 0 && f.flags & libc::O_ACCMODE as u32 != 3,
                "FILE record: fd {} of a POSIX message queue has flags {:#o} or names an object",
                f.fd,
                f.flags
            );
            utf8_path(path, &format!("fd {}", f.fd))?
        }
        // A deleted file's or memfd's id is checked against its record by the caller.
        // A removed directory's is checked by the caller (`check_removed_dir_file`).
        file_kind::DELETED | file_kind::MEMFD | file_kind::REMOVED_DIR => {
            utf8_path(path, &format!("fd {}", f.fd))?
        }
        file_kind::REGULAR | file_kind::CHARDEV | file_kind::DIRECTORY => {
            ensure!(f.pipe == 0, "FILE record: fd {} names a pipe", f.fd);
            utf8_path(path, &format!("fd {}", f.fd))?
        }
        file_kind::PIPE => {
            ensure!(
                pipes.contains_key(&f.pipe) && path.is_empty(),
                "FILE record: fd {} refers to pipe {} before its PIPE record",
                f.fd,
                f.pipe
            );
            String::new()
        }
        file_kind::FIFO => {
            ensure!(
                pipes.contains_key(&f.pipe),
                "FILE record: fd {} refers to FIFO {} before its PIPE record",
                f.fd,
                f.pipe
            );
            // No path: the FIFO's path was removed (rstr makes a private one).
            if path.is_empty() {
                String::new()
            } else {
                utf8_path(path, &format!("fd {}", f.fd))?
            }
        }
        file_kind::UNIX_SOCKET => {
            let u = unix.get_mut(&f.pipe).filter(|_| path.is_empty());
            let u = u.with_context(|| {
                format!(
                    "FILE record: fd {} refers to unix socket {} before its UNIX_SOCK record",
                    f.fd, f.pipe
                )
            })?;
            ensure!(
                u.obj == 0 || u.obj == f.obj,
                "FILE record: fd {} (description {}) is unix socket {}, which description {} already is",
                f.fd,
                f.obj,
                f.pipe,
                u.obj
            );
            u.obj = f.obj;
            String::new()
        }
        file_kind::INET_SOCKET => {
            // Its INET_SOCK record (of id `obj`) is checked by the caller.
            ensure!(
                f.pipe == 0 && path.is_empty(),
                "FILE record: fd {} of a TCP or UDP socket names a path or an object",
                f.fd
            );
            String::new()
        }
        k => bail!("FILE record: fd {} of unknown kind {k}", f.fd),
    };
    Ok(OpenFile { rec: f, path })
}

/// Checks that this CPU can load the image's FPU state: `xcr0` is this CPU's XCR0 and
/// `xsave_size` its XSAVE area size for it.
pub fn check_xstate(u: &TaskImage, xcr0: u64, xsave_size: usize) -> Result<()> {
    ensure!(
        u.xstate.xstate_bv & !xcr0 == 0,
        "the image uses FPU/vector state {:#x} this CPU does not enable (XCR0 {:#x})",
        u.xstate.xstate_bv,
        xcr0
    );
    ensure!(
        u.xsave.len() >= xsave_size.min(u.xsave.len()) && u.xsave.len() >= 576,
        "XSAVE area of {} bytes is too small",
        u.xsave.len()
    );
    // The XSAVE header's XCOMP_BV must be 0 (standard format) and the reserved bytes zero,
    // or XRSTOR faults.
    let hdr = &u.xsave[512..576];
    ensure!(
        hdr[8..].iter().all(|&b| b == 0),
        "XSAVE header has non-zero reserved bytes"
    );
    let mxcsr = u32::from_ne_bytes(u.xsave[24..28].try_into().unwrap());
    let mask = match u32::from_ne_bytes(u.xsave[28..32].try_into().unwrap()) {
        0 => 0xffbf,
        m => m,
    };
    ensure!(mxcsr & !mask == 0, "MXCSR {mxcsr:#x} has reserved bits set");
    Ok(())
}

/// `new_encode_dev` decoded: (major, minor).
pub fn decode_dev(rdev: u32) -> (u32, u32) {
    (
        (rdev & 0xfff00) >> 8,
        (rdev & 0xff) | ((rdev >> 12) & 0xfff00),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_offset_is_kept_unless_the_host_clock_is_behind() {
        let off = |sec, nsec| ClockOffset { sec, nsec };
        // The same boot: the host's clock went on, the offset stays.
        assert_eq!(off(86400, 5).restored(1_000, 9_000), off(86400, 5));
        assert_eq!(off(-3, 0).restored(1_000, 1_000), off(-3, 0));
        // The host's clock is 2.5 s behind: the container's goes on from where it stood.
        let then = 10_000_000_000u64;
        let now = then - 2_500_000_000;
        assert_eq!(
            off(86400, 600_000_000).restored(then, now),
            off(86403, 100_000_000)
        );
        // A negative offset moves up through zero, its nanoseconds kept in 0..1e9.
        assert_eq!(off(-2, 0).restored(then, now), off(0, 500_000_000));
        assert_eq!(off(-5, 999_999_999).restored(then, then - 1), off(-4, 0));
        // The container's clock reads the same at checkpoint and right after restart.
        for (o, now) in [(off(7, 1), 3u64), (off(-1, 2), 999_999_999)] {
            let r = o.restored(1_000_000_000, now);
            assert_eq!(
                i128::from(1_000_000_000u64) + o.ns(),
                i128::from(now) + r.ns(),
                "{o:?} from {now}"
            );
        }
    }

    #[test]
    fn a_removed_directory_held_open_is_checked() {
        use zerocopy::FromZeros;
        let mut dirs = HashMap::new();
        let r = |id, mode| img::CkptRemovedDirRec {
            id,
            mode,
            uid: 65534,
            gid: 7,
        };
        let err = |r: Result<()>| format!("{:#}", r.unwrap_err());
        add_removed_dir(&mut dirs, &r(4, 0o751)).unwrap();
        assert_eq!(
            dirs[&4],
            RemovedDir {
                mode: 0o751,
                uid: 65534,
                gid: 7
            }
        );
        assert!(err(add_removed_dir(&mut dirs, &r(4, 0o751))).contains("appears twice"));
        assert!(err(add_removed_dir(&mut dirs, &r(5, 0o40751))).contains("permission bits"));
        let mut f = img::CkptFileRec::new_zeroed();
        (f.fd, f.kind, f.pipe, f.mode) = (3, file_kind::REMOVED_DIR, 4, libc::S_IFDIR | 0o751);
        f.flags = (libc::O_RDONLY | libc::O_DIRECTORY | libc::O_PATH) as u32;
        f.pos = 2;
        check_removed_dir_file(&f, b"/tmp/gone", &dirs).unwrap();
        // Another kind is not this check's.
        let mut other = f;
        other.kind = file_kind::DIRECTORY;
        check_removed_dir_file(&other, b"", &dirs).unwrap();
        let with = |edit: fn(&mut img::CkptFileRec), path: &[u8]| {
            let mut g = f;
            edit(&mut g);
            err(check_removed_dir_file(&g, path, &dirs))
        };
        assert!(with(|g| g.pipe = 9, b"/tmp/gone").contains("before its REMOVED_DIR record"));
        assert!(with(|g| g.mode = libc::S_IFREG | 0o600, b"/tmp/gone").contains("of mode"));
        assert!(with(|g| g.flags = libc::O_RDWR as u32, b"/tmp/gone").contains("for writing"));
        assert!(with(|g| g.pos = -1, b"/tmp/gone").contains("offset -1"));
        assert!(with(|_| (), b"/").contains("no parent"));
        assert!(with(|_| (), b"/tmp/").contains("no parent"));
        assert!(with(|_| (), b"tmp/gone").contains("not absolute"));
    }

    #[test]
    fn a_removed_working_directory_is_checked() {
        let rec = |flags, cwd_mode, cwd_uid| img::CkptFsRec {
            root_len: 1,
            cwd_len: 0,
            flags,
            cwd_mode,
            cwd_uid,
            cwd_gid: 7,
        };
        let removed = FsImage::checked(
            &rec(img::CKPT_FS_CWD_REMOVED, 0o751, 65534),
            b"/",
            b"/tmp/gone",
        );
        assert_eq!(
            removed.unwrap().cwd_removed,
            Some(RemovedDir {
                mode: 0o751,
                uid: 65534,
                gid: 7
            })
        );
        let err = |r: Result<FsImage>| format!("{:#}", r.unwrap_err());
        assert!(err(FsImage::checked(&rec(2, 0, 0), b"/", b"/tmp")).contains("unknown flags 0x2"));
        assert!(
            err(FsImage::checked(&rec(1, 0o40751, 0), b"/", b"/tmp/gone"))
                .contains("permission bits")
        );
        assert!(err(FsImage::checked(&rec(1, 0o751, 0), b"/", b"/")).contains("no parent"));
        // Mode and owner only with the flag.
        assert!(err(FsImage::checked(&rec(0, 0o751, 0), b"/", b"/tmp")).contains("is there"));
    }

    #[test]
    fn dev_numbers_decode_like_the_kernel() {
        // /dev/null is 1:3, /dev/pts/300 is 136:300.
        assert_eq!(decode_dev(0x103), (1, 3));
        let enc = |ma: u32, mi: u32| (mi & 0xff) | (ma << 8) | ((mi & !0xff) << 12);
        assert_eq!(decode_dev(enc(136, 300)), (136, 300));
    }

    #[test]
    fn a_unix_socket_is_one_description() {
        use zerocopy::FromZeros;
        let mut sock = img::CkptUnixSockRec::new_zeroed();
        sock.id = 7;
        let u = UnixImage {
            sock,
            name: Vec::new(),
            queue: Vec::new(),
            fds: Vec::new(),
            obj: 0,
        };
        let mut unix = HashMap::from([(7, u)]);
        let (pipes, anonfds) = (HashMap::new(), HashMap::new());
        let file = |fd: i32, obj: u32| {
            let mut f = img::CkptFileRec::new_zeroed();
            (f.fd, f.kind, f.obj, f.pipe) = (fd, file_kind::UNIX_SOCKET, obj, 7);
            f
        };
        let mut read = |f| read_file(f, b"", &pipes, &mut unix, &anonfds, None);
        assert!(read(file(3, 10)).is_ok());
        // The same description again (a dup, a child's copy).
        assert!(read(file(4, 10)).is_ok());
        let e = read(file(5, 11)).unwrap_err().to_string();
        assert!(
            e.contains("fd 5 (description 11) is unix socket 7, which description 10 already is"),
            "{e}"
        );
        assert!(read(file(6, 12)).is_err() && unix[&7].obj == 10);
    }

    #[test]
    fn a_fifo_needs_its_pipe_and_an_absolute_path_or_none() {
        use zerocopy::FromZeros;
        let p = PipeImage {
            capacity: 65536,
            data: b"x".to_vec(),
        };
        let pipes = HashMap::from([(2, p)]);
        let (mut unix, anonfds) = (HashMap::new(), HashMap::new());
        let mut f = img::CkptFileRec::new_zeroed();
        (f.fd, f.kind, f.obj, f.pipe) = (3, file_kind::FIFO, 1, 2);
        let mut read = |f, path: &[u8]| read_file(f, path, &pipes, &mut unix, &anonfds, None);
        assert_eq!(read(f, b"/tmp/f").unwrap().path, "/tmp/f");
        // Its path removed: a private FIFO at restart.
        assert_eq!(read(f, b"").unwrap().path, "");
        assert!(read(f, b"f").is_err());
        f.pipe = 3;
        let e = read(f, b"/tmp/f").unwrap_err().to_string();
        assert!(
            e.contains("fd 3 refers to FIFO 3 before its PIPE record"),
            "{e}"
        );
    }
}
