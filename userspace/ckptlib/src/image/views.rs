// SPDX-License-Identifier: GPL-2.0

//! The views of `ckpt show` beyond the record dump, in the manner of CRIU's `crit x`: the
//! process tree ([`Ps`], `--ps`), each memory's areas and the pages saved of them
//! ([`Mems`], `--mems`), each descriptor table ([`Fds`], `--fds`), the records by kind
//! ([`Summary`], `--summary`) and what ended a failed or broken image ([`Errors`],
//! `--errors`).
//!
//! [`Contents::read`] reads the image once with [`ImageReader`] (every check is the
//! reader's; nothing is parsed here) and keeps what the views need, each task's records
//! attributed to it by the order the module writes them in: `HEADER TREE`, then each live
//! task's records from its `TASK` on (Documentation/image.rst). A record the reader
//! refuses, or an `ERROR` record, ends the reading and is kept as a [`Problem`]: the views
//! show what came before it. Each view is a plain structure, serialized as it is for
//! `--json` (its field names are documented in image.rst, "Views"), with a `text()` for
//! people.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Read;

use serde::Serialize;

use super::show::{file_kind_name, prot_str, vma_kind_name};
use super::{c_str, Decoded, ImageReader, Rec, RecordReader};
use crate::abi::image::{self as img, file_kind, rec};

/// What a view needs of one live task, from its records.
#[derive(Default)]
struct TaskRecs {
    pid: i32,
    comm: String,
    creds: Option<img::CkptCredsRec>,
    files: Vec<(img::CkptFileRec, String)>,
    vmas: Vec<(img::CkptVmaRec, String)>,
    /// Runs of pages saved: address and count.
    pages: Vec<(u64, u32)>,
    /// Its `XSTATE` was read (its descriptor table is whole), its `REGS` (its memory is).
    xstate: bool,
    regs: bool,
}

/// Something that makes the image not a complete one: its `ERROR` record, or what the
/// reader refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// `"record"`: the image's `ERROR` record, written by the module when the checkpoint
    /// failed; `"reader"`: the image is truncated or corrupt there.
    pub source: &'static str,
    /// The `ERROR` record's errno.
    pub errno: Option<i32>,
    /// Its name (`EOPNOTSUPP`).
    pub errno_name: Option<String>,
    pub reason: String,
    /// The index of the record (from 0) and its offset in the image.
    pub record: u64,
    pub offset: u64,
    /// The task whose records it interrupted; `None` before the first task's.
    pub task: Option<i32>,
}

/// An image, read for the views.
#[derive(Default)]
pub struct Contents {
    header: Option<img::CkptHeaderRec>,
    container: bool,
    tree: Vec<img::CkptTreeEntry>,
    /// In the order of their `TASK` records.
    tasks: Vec<TaskRecs>,
    /// The records of descriptions and pipes, by (record type, id).
    objects: HashMap<(u32, u32), Rec>,
    /// Messages and bytes queued for each unix socket (its `SKB` records).
    queued: HashMap<u32, (u32, u64)>,
    last_unix: Option<u32>,
    /// Bytes saved of each deleted file or memfd (its `FILE_DATA` records).
    file_data: HashMap<u32, u64>,
    /// Count and bytes (headers and padding included) per record type.
    kinds: BTreeMap<u32, (u64, u64)>,
    records: u64,
    bytes: u64,
    tail: bool,
    problems: Vec<Problem>,
}

/// The name of an errno (`EOPNOTSUPP`), if it is one.
fn errno_name(e: i32) -> Option<String> {
    let n = nix::errno::Errno::from_raw(e);
    (n != nix::errno::Errno::UnknownErrno).then(|| format!("{n:?}"))
}

/// The id of the description or pipe a record describes, if it is one.
fn object_id(r: &Rec) -> Option<u32> {
    Some(match r {
        Rec::Pipe { pipe, .. } => pipe.id,
        Rec::UnixSock { sock, .. } => sock.id,
        Rec::Anonfd(a) => a.id(),
        Rec::InetSock(s) => s.id,
        Rec::Epoll { epoll, .. } => epoll.id,
        Rec::Inotify(i) => i.id,
        Rec::Deleted(d) => d.id,
        Rec::RemovedDir(d) => d.id,
        Rec::Memfd { memfd, .. } => memfd.id,
        _ => return None,
    })
}

/// The (record type, id) of what a descriptor is, if a record of its own describes it.
fn object_key(f: &img::CkptFileRec) -> Option<(u32, u32)> {
    Some(match f.kind {
        file_kind::PIPE | file_kind::FIFO => (rec::PIPE, f.pipe),
        file_kind::UNIX_SOCKET => (rec::UNIX_SOCK, f.pipe),
        file_kind::DELETED => (rec::DELETED, f.pipe),
        file_kind::REMOVED_DIR => (rec::REMOVED_DIR, f.pipe),
        file_kind::MEMFD => (rec::MEMFD, f.pipe),
        file_kind::EVENTFD => (rec::EVENTFD, f.obj),
        file_kind::TIMERFD => (rec::TIMERFD, f.obj),
        file_kind::SIGNALFD => (rec::SIGNALFD, f.obj),
        file_kind::INET_SOCKET => (rec::INET_SOCK, f.obj),
        file_kind::EPOLL => (rec::EPOLL, f.obj),
        file_kind::INOTIFY => (rec::INOTIFY, f.obj),
        _ => return None,
    })
}

fn access(flags: u32) -> &'static str {
    match flags & libc::O_ACCMODE as u32 {
        0 => "r",
        1 => "w",
        _ => "rw",
    }
}

fn lossy(p: &[u8]) -> String {
    String::from_utf8_lossy(p).into_owned()
}

fn is_zombie(e: &img::CkptTreeEntry) -> bool {
    e.flags & img::CKPT_TASK_ZOMBIE != 0
}

impl Contents {
    /// Reads a whole image. Never fails: what ends it early is one of [`Self::problems`].
    pub fn read(input: impl Read) -> Contents {
        let mut records = RecordReader::new(input);
        let mut rd = ImageReader::new(&mut records);
        let mut c = Contents::default();
        loop {
            let (index, at) = (rd.count(), rd.offset());
            match rd.next_record() {
                Ok(None) => break,
                Ok(Some(r)) => {
                    let len = rd.offset() - at;
                    c.add(r, index, at, len);
                }
                Err(e) => {
                    let task = c.current();
                    c.problems.push(Problem {
                        source: "reader",
                        errno: None,
                        errno_name: None,
                        reason: format!("{e:#}"),
                        record: index,
                        offset: at,
                        task,
                    });
                    break;
                }
            }
        }
        c
    }

    /// The task whose records are being read.
    fn current(&self) -> Option<i32> {
        self.tasks.last().map(|t| t.pid)
    }

    fn add(&mut self, r: Rec, index: u64, at: u64, len: u64) {
        let k = self.kinds.entry(r.kind()).or_default();
        k.0 += 1;
        k.1 += len;
        self.records += 1;
        self.bytes += len;
        if let Some(id) = object_id(&r) {
            self.objects.insert((r.kind(), id), r.clone());
        }
        let task = self.current();
        let last = self.tasks.last_mut();
        match r {
            Rec::Header(h) => self.header = Some(h),
            Rec::Tree { tree, entries } => {
                self.container = tree.flags & img::CKPT_TREE_CONTAINER != 0;
                self.tree = entries;
            }
            Rec::Tail(_) => self.tail = true,
            Rec::Error { error, reason } => self.problems.push(Problem {
                source: "record",
                errno: Some(error.error),
                errno_name: errno_name(error.error),
                reason,
                record: index,
                offset: at,
                task,
            }),
            Rec::Task(t) => self.tasks.push(TaskRecs {
                pid: t.pid,
                comm: c_str(&t.comm),
                ..TaskRecs::default()
            }),
            Rec::UnixSock { sock, .. } => {
                self.last_unix = Some(sock.id);
                self.queued.insert(sock.id, (0, 0));
            }
            Rec::Skb { skb, .. } => {
                if let Some(q) = self.last_unix.and_then(|id| self.queued.get_mut(&id)) {
                    q.0 += 1;
                    q.1 += u64::from(skb.len);
                }
            }
            Rec::FileData { data, .. } => {
                *self.file_data.entry(data.id).or_default() += u64::from(data.len)
            }
            r => {
                // The rest is a task's; the reader lets none come before the first TASK
                // but HEADER, TREE and ERROR.
                let Some(t) = last else { return };
                match r {
                    Rec::Creds { creds, .. } => t.creds = Some(creds),
                    Rec::File { file, path } => t.files.push((file, lossy(&path))),
                    Rec::Vma { vma, path } => t.vmas.push((vma, lossy(&path))),
                    Rec::Pages { pages, .. } => t.pages.push((pages.addr, pages.nr_pages)),
                    // Its contents saved with another memory's, but its own page.
                    Rec::PagesRef(r) => t.pages.push((r.addr, r.nr_pages)),
                    Rec::Xstate { .. } => t.xstate = true,
                    Rec::Regs(_) => t.regs = true,
                    _ => {}
                }
            }
        }
    }

    /// What ends the image other than its `TAIL`: its `ERROR` record, or the reader's
    /// refusal; empty for a complete image.
    pub fn problems(&self) -> &[Problem] {
        &self.problems
    }

    /// Fails as the record dump does for an image that is not complete: on its `ERROR`
    /// record, or on what the reader refused.
    pub fn check(&self) -> anyhow::Result<()> {
        match self.problems.first() {
            None => Ok(()),
            Some(p) if p.source == "record" => anyhow::bail!(
                "the image ends with an ERROR record: the checkpoint failed (errno {}): {}",
                p.errno.unwrap_or(0),
                p.reason
            ),
            Some(p) => anyhow::bail!("{}", p.reason),
        }
    }

    fn task(&self, pid: i32) -> Option<&TaskRecs> {
        self.tasks.iter().find(|t| t.pid == pid)
    }

    /// The process entries (a thread group's leader, or a zombie), in `TREE` order.
    fn leaders(&self) -> impl Iterator<Item = &img::CkptTreeEntry> {
        self.tree.iter().filter(|e| e.pid == e.tgid)
    }

    /// The first live task of the `TREE` whose object `id` (by `field`) is that of `e`:
    /// the one whose records hold it.
    fn owner<'a>(
        &'a self,
        e: &'a img::CkptTreeEntry,
        field: fn(&img::CkptTreeEntry) -> u32,
    ) -> &'a img::CkptTreeEntry {
        self.tree
            .iter()
            .find(|o| !is_zombie(o) && field(o) == field(e))
            .unwrap_or(e)
    }

    /// The process tree.
    pub fn ps(&self) -> Ps {
        let leaders: Vec<&img::CkptTreeEntry> = self.leaders().collect();
        let mut children: HashMap<i32, Vec<&img::CkptTreeEntry>> = HashMap::new();
        let mut roots = Vec::new();
        for e in &leaders {
            if e.ppid != e.pid && leaders.iter().any(|p| p.pid == e.ppid) {
                children.entry(e.ppid).or_default().push(e);
            } else {
                roots.push(*e);
            }
        }
        let mut processes = Vec::new();
        // Depth first, children in TREE order; a stack of (entry, depth), in reverse.
        let mut stack: Vec<(&img::CkptTreeEntry, u32)> =
            roots.iter().rev().map(|e| (*e, 0)).collect();
        while let Some((e, depth)) = stack.pop() {
            if processes.iter().any(|p: &Process| p.pid == e.pid) {
                continue;
            }
            processes.push(self.process(e, depth));
            if let Some(c) = children.get(&e.pid) {
                stack.extend(c.iter().rev().map(|c| (*c, depth + 1)));
            }
        }
        Ps {
            container: self.container,
            tasks: self.tree.len(),
            processes,
        }
    }

    fn process(&self, e: &img::CkptTreeEntry, depth: u32) -> Process {
        let zombie = is_zombie(e);
        let t = self.task(e.pid);
        let creds = t.and_then(|t| t.creds);
        Process {
            pid: e.pid,
            ppid: e.ppid,
            pgid: e.pgid,
            sid: e.sid,
            state: if zombie {
                "zombie"
            } else if e.flags & img::CKPT_TASK_STOPPED != 0 {
                "stopped"
            } else {
                "running"
            },
            exit_status: zombie.then_some(e.exit_code),
            subreaper: e.flags & img::CKPT_TASK_SUBREAPER != 0,
            threads: self
                .tree
                .iter()
                .filter(|t| t.tgid == e.pid)
                .map(|t| t.pid)
                .collect(),
            comm: t.map(|t| t.comm.clone()),
            uids: creds.map(|c| [c.uid, c.euid, c.suid, c.fsuid]),
            gids: creds.map(|c| [c.gid, c.egid, c.sgid, c.fsgid]),
            depth,
        }
    }

    /// Each process's memory areas.
    pub fn mems(&self) -> Mems {
        let processes = self
            .leaders()
            .filter(|e| !is_zombie(e))
            .map(|e| {
                let owner = self.owner(e, |e| e.mm);
                let areas: Vec<Area> = match self.task(owner.pid) {
                    Some(t) if owner.pid == e.pid => t
                        .vmas
                        .iter()
                        .map(|(v, path)| Area {
                            start: format!("{:#x}", v.start),
                            end: format!("{:#x}", v.end),
                            size: v.end.saturating_sub(v.start),
                            prot: prot_str(v.prot),
                            kind: vma_kind_name(v.kind),
                            path: path.clone(),
                            pgoff: v.pgoff,
                            shm: v.shm,
                            pages_saved: pages_in(&t.pages, v.start, v.end),
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                ProcessMem {
                    pid: e.pid,
                    comm: self.task(e.pid).map(|t| t.comm.clone()),
                    saved: self.task(owner.pid).is_some_and(|t| t.regs),
                    mm: e.mm,
                    shared_with: (owner.pid != e.pid).then_some(owner.tgid),
                    size: areas.iter().map(|a| a.size).sum(),
                    pages_saved: areas.iter().map(|a| a.pages_saved).sum(),
                    areas,
                }
            })
            .collect();
        Mems { processes }
    }

    /// Every descriptor saved, as (pid of the table's owner, record).
    fn all_fds(&self) -> impl Iterator<Item = (i32, &img::CkptFileRec)> {
        self.tasks
            .iter()
            .flat_map(|t| t.files.iter().map(move |(f, _)| (t.pid, f)))
    }

    /// Each process's descriptors.
    pub fn fds(&self) -> Fds {
        let processes = self
            .leaders()
            .filter(|e| !is_zombie(e))
            .map(|e| {
                let owner = self.owner(e, |e| e.files);
                let fds = match self.task(owner.pid) {
                    Some(t) if owner.pid == e.pid => {
                        t.files.iter().map(|(f, p)| self.fd(e.pid, f, p)).collect()
                    }
                    _ => Vec::new(),
                };
                ProcessFds {
                    pid: e.pid,
                    comm: self.task(e.pid).map(|t| t.comm.clone()),
                    saved: self.task(owner.pid).is_some_and(|t| t.xstate),
                    table: e.files,
                    shared_with: (owner.pid != e.pid).then_some(owner.tgid),
                    fds,
                }
            })
            .collect();
        Fds { processes }
    }

    fn fd(&self, pid: i32, f: &img::CkptFileRec, path: &str) -> Fd {
        let me = |p: i32, g: &img::CkptFileRec| p == pid && g.fd == f.fd;
        let refs = |keep: &dyn Fn(&img::CkptFileRec) -> bool| -> Vec<FdRef> {
            self.all_fds()
                .filter(|(p, g)| !me(*p, g) && keep(g))
                .map(|(p, g)| FdRef {
                    pid: p,
                    fd: g.fd,
                    access: access(g.flags),
                })
                .collect()
        };
        let key = object_key(f);
        let object = key.and_then(|k| self.objects.get(&k));
        let (peers, queued_bytes) = match object {
            Some(Rec::Pipe { pipe, .. }) => (
                refs(&|g| matches!(g.kind, file_kind::PIPE | file_kind::FIFO) && g.pipe == pipe.id),
                Some(u64::from(pipe.len)),
            ),
            Some(Rec::UnixSock { sock, .. }) => (
                refs(&|g| {
                    g.kind == file_kind::UNIX_SOCKET && sock.peer != 0 && g.pipe == sock.peer
                }),
                self.queued.get(&sock.id).map(|q| q.1),
            ),
            _ => (Vec::new(), None),
        };
        Fd {
            fd: f.fd,
            kind: file_kind_name(f.kind),
            path: path.to_owned(),
            access: access(f.flags),
            flags: format!("{:#o}", f.flags),
            cloexec: f.cloexec != 0,
            offset: f.pos,
            object: f.obj,
            shared_with: refs(&|g| g.obj == f.obj),
            peers,
            queued_bytes,
            saved_bytes: match f.kind {
                file_kind::DELETED | file_kind::MEMFD => {
                    Some(self.file_data.get(&f.pipe).copied().unwrap_or(0))
                }
                _ => None,
            },
            terminal: crate::terminal::terminal_kind(f, path),
            object_record: object.map(Decoded::from),
        }
    }

    /// The records by kind.
    pub fn summary(&self) -> Summary {
        let h = self.header.as_ref();
        Summary {
            image_version: h.map(|h| h.image_version),
            kernel_release: h.map(|h| c_str(&h.kernel_release)),
            time_ns: h.map(|h| h.time_ns),
            tasks: self.tree.len(),
            processes: self.leaders().count(),
            container: self.container,
            end: if self.problems.iter().any(|p| p.source == "record") {
                "ERROR"
            } else if !self.problems.is_empty() {
                "unreadable"
            } else if self.tail {
                "TAIL"
            } else {
                "empty"
            },
            records: self.records,
            bytes: self.bytes,
            pages_saved: self
                .tasks
                .iter()
                .flat_map(|t| t.pages.iter())
                .map(|&(_, n)| u64::from(n))
                .sum(),
            kinds: self
                .kinds
                .iter()
                .map(|(&k, &(count, bytes))| KindSummary {
                    kind: rec::name(k),
                    type_: k,
                    count,
                    bytes,
                })
                .collect(),
        }
    }

    /// What ended the image, if not its `TAIL`.
    pub fn errors(&self) -> Errors {
        Errors {
            complete: self.problems.is_empty() && self.tail,
            records: self.records,
            errors: self.problems.clone(),
        }
    }
}

/// Pages of the runs inside `[start, end)`.
fn pages_in(runs: &[(u64, u32)], start: u64, end: u64) -> u64 {
    let page = u64::from(img::CKPT_PAGE_SIZE);
    runs.iter()
        .map(|&(addr, n)| {
            let run_end = addr.saturating_add(u64::from(n) * page);
            run_end.min(end).saturating_sub(addr.max(start)) / page
        })
        .sum()
}

/// A size for people: bytes below 1 KiB, else KiB, MiB or GiB with one decimal at most.
fn size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let (mut v, mut u) = (bytes as f64, 0);
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 || v.fract() == 0.0 {
        format!("{v} {}", UNITS[u])
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// `n` things, `one` or `many` as `n` says.
fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// What a view says of a process whose records the image does not hold.
const CUT: &str = "not in the image, which ends before its records (see --errors)";

fn name(comm: &Option<String>) -> String {
    comm.as_deref()
        .map_or_else(String::new, |c| format!(" ({c})"))
}

/// `--ps`: the tree of processes.
#[derive(Debug, Serialize)]
pub struct Ps {
    /// The image is of a pid namespace: pids as seen inside it.
    pub container: bool,
    /// Tasks (threads included, zombies too) in the image.
    pub tasks: usize,
    /// Depth first from the root, children in the image's order.
    pub processes: Vec<Process>,
}

/// One process of [`Ps`].
#[derive(Debug, Serialize)]
pub struct Process {
    pub pid: i32,
    pub ppid: i32,
    pub pgid: i32,
    pub sid: i32,
    /// `running` (alive and not stopped: whether it slept is not saved), `stopped` (by a
    /// signal, before the checkpoint) or `zombie`.
    pub state: &'static str,
    /// A zombie's wait status.
    pub exit_status: Option<i32>,
    /// `PR_SET_CHILD_SUBREAPER`.
    pub subreaper: bool,
    /// Its threads' ids, its own first.
    pub threads: Vec<i32>,
    /// `None` for a zombie (only its `TREE` entry is saved) or records cut short.
    pub comm: Option<String>,
    /// Real, effective, saved and filesystem uid; gids the same.
    pub uids: Option<[u32; 4]>,
    pub gids: Option<[u32; 4]>,
    /// 0 for the root (or a process whose parent is not in the image), 1 for its children...
    pub depth: u32,
}

impl Ps {
    pub fn text(&self) -> String {
        let mut s = format!(
            "{} in {}{}\n",
            plural(self.tasks as u64, "task", "tasks"),
            plural(self.processes.len() as u64, "process", "processes"),
            if self.container {
                ", a container: pids as seen in its namespace"
            } else {
                ""
            }
        );
        let _ = writeln!(
            s,
            "{:>7} {:>7} {:>7} {:>7} {:>4} {:<8} {:>6}  COMMAND",
            "PID", "PPID", "PGID", "SID", "THR", "STATE", "UID"
        );
        for p in &self.processes {
            let indent = if p.depth == 0 {
                String::new()
            } else {
                format!("{}\\_ ", "   ".repeat(p.depth as usize - 1))
            };
            let comm = match (&p.comm, p.exit_status) {
                (Some(c), _) => c.clone(),
                (None, Some(st)) => format!("<defunct, status {st:#x}>"),
                (None, None) => "-".into(),
            };
            let _ = writeln!(
                s,
                "{:>7} {:>7} {:>7} {:>7} {:>4} {:<8} {:>6}  {indent}{comm}{}",
                p.pid,
                p.ppid,
                p.pgid,
                p.sid,
                p.threads.len(),
                p.state,
                p.uids.map_or_else(|| "-".to_string(), |u| u[0].to_string()),
                if p.subreaper { " (subreaper)" } else { "" },
            );
        }
        s
    }
}

/// `--mems`: each process's memory.
#[derive(Debug, Serialize)]
pub struct Mems {
    /// Live processes, in the image's order.
    pub processes: Vec<ProcessMem>,
}

/// One process of [`Mems`].
#[derive(Debug, Serialize)]
pub struct ProcessMem {
    pub pid: i32,
    pub comm: Option<String>,
    /// Its memory's records are whole; `false` when the image ends before or among them
    /// (an `ERROR`, a truncation): `areas` are those read.
    pub saved: bool,
    /// The memory's id in the image: processes with the same share one (`CLONE_VM`).
    pub mm: u32,
    /// The process whose records hold this memory when it is another one (a `CLONE_VM`
    /// child): its areas are listed there, and `areas` is empty here.
    pub shared_with: Option<i32>,
    pub areas: Vec<Area>,
    /// Bytes mapped, and pages saved in the image, of all the areas.
    pub size: u64,
    pub pages_saved: u64,
}

/// One area of [`ProcessMem`].
#[derive(Debug, Serialize)]
pub struct Area {
    pub start: String,
    pub end: String,
    /// Bytes: `end - start`.
    pub size: u64,
    /// `rwx`, `-` for what is not allowed.
    pub prot: String,
    /// `anon-private`, `anon-shared`, `file-private`, `file-shared`, `heap`, `stack`,
    /// `vdso`, `vvar`, `vvar_vclock`, `vsyscall`.
    pub kind: &'static str,
    pub path: String,
    /// Offset in the file, in pages.
    pub pgoff: u64,
    /// The shared anonymous memory object it maps, or for a file area the memfd or deleted
    /// file (its `MEMFD` or `DELETED` record's id), else 0.
    pub shm: u32,
    /// Pages of its contents in the image (pages that exist nowhere else: image.rst,
    /// "What is stored of memory").
    pub pages_saved: u64,
}

impl Mems {
    pub fn text(&self) -> String {
        let mut s = String::new();
        for p in &self.processes {
            if let Some(o) = p.shared_with {
                let _ = writeln!(s, "pid {}{}: the memory of pid {o}", p.pid, name(&p.comm));
                continue;
            }
            if !p.saved && p.areas.is_empty() {
                let _ = writeln!(s, "pid {}{}: {CUT}", p.pid, name(&p.comm));
                continue;
            }
            let _ = writeln!(
                s,
                "pid {}{}: {}, {}, {} saved{}",
                p.pid,
                name(&p.comm),
                plural(p.areas.len() as u64, "area", "areas"),
                size(p.size),
                plural(p.pages_saved, "page", "pages"),
                if p.saved { "" } else { " (cut short)" }
            );
            let _ = writeln!(
                s,
                "  {:<18} {:<18} {:>10} {:<4} {:<12} {:>6}  PATH",
                "START", "END", "SIZE", "PROT", "KIND", "PAGES"
            );
            for a in &p.areas {
                let row = format!(
                    "  {:<18} {:<18} {:>10} {:<4} {:<12} {:>6}  {}",
                    a.start,
                    a.end,
                    size(a.size),
                    a.prot,
                    a.kind,
                    a.pages_saved,
                    a.path
                );
                let _ = writeln!(s, "{}", row.trim_end());
            }
        }
        s
    }
}

/// `--fds`: each process's descriptors.
#[derive(Debug, Serialize)]
pub struct Fds {
    /// Live processes, in the image's order.
    pub processes: Vec<ProcessFds>,
}

/// One process of [`Fds`].
#[derive(Debug, Serialize)]
pub struct ProcessFds {
    pub pid: i32,
    pub comm: Option<String>,
    /// Its table's records are whole; `false` when the image ends before or among them
    /// (an `ERROR`, a truncation): `fds` are those read.
    pub saved: bool,
    /// The descriptor table's id in the image: processes with the same share one
    /// (`CLONE_FILES`).
    pub table: u32,
    /// The process whose records hold this table when it is another one: its descriptors
    /// are listed there, and `fds` is empty here.
    pub shared_with: Option<i32>,
    pub fds: Vec<Fd>,
}

/// Another descriptor, of this or another process.
#[derive(Debug, Serialize)]
pub struct FdRef {
    /// The process whose table holds it.
    pub pid: i32,
    pub fd: i32,
    /// `r`, `w` or `rw`.
    pub access: &'static str,
}

/// One descriptor of [`ProcessFds`].
#[derive(Debug, Serialize)]
pub struct Fd {
    pub fd: i32,
    /// `regular`, `directory`, `chardev`, `pipe`, `fifo`, `unix-socket`, `inet-socket`,
    /// `eventfd`, `timerfd`, `signalfd`, `epoll`, `inotify`, `deleted`, `memfd`.
    pub kind: &'static str,
    /// Its path; empty for what has none (a pipe, a socket...).
    pub path: String,
    /// `r`, `w` or `rw`: the access mode.
    pub access: &'static str,
    /// `f_flags` (`O_*`), in octal.
    pub flags: String,
    pub cloexec: bool,
    /// The file offset.
    pub offset: i64,
    /// The open file description's id: descriptors with the same (`dup`, `fork`) share
    /// its offset and flags.
    pub object: u32,
    /// The other descriptors of the same description.
    pub shared_with: Vec<FdRef>,
    /// For a pipe or FIFO: the other descriptors on the same pipe (its other end, or
    /// copies of this one); for a unix socket: the descriptors of its peer.
    pub peers: Vec<FdRef>,
    /// Bytes waiting in a pipe or FIFO, or queued for a unix socket to read.
    pub queued_bytes: Option<u64>,
    /// Bytes of a deleted file or memfd saved in the image.
    pub saved_bytes: Option<u64>,
    /// `tty`, `pty` or `console` for a terminal.
    pub terminal: Option<&'static str>,
    /// The record of what it is (`PIPE`, `UNIX_SOCK`, `EVENTFD`, `TIMERFD`, `SIGNALFD`,
    /// `INET_SOCK`, `EPOLL`, `INOTIFY`, `DELETED`, `MEMFD`), as the record dump decodes it.
    pub object_record: Option<Decoded>,
}

fn refs(v: &[FdRef]) -> String {
    v.iter()
        .map(|r| format!("{}:{} {}", r.pid, r.fd, r.access))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Fd {
    /// What the descriptor is, in a few words.
    fn what(&self) -> String {
        let mut s = match &self.object_record {
            Some(Decoded::Pipe { id, capacity, len }) => {
                let p = if self.path.is_empty() {
                    format!("pipe {id}")
                } else {
                    format!("{} (pipe {id})", self.path)
                };
                format!("{p}: {len} of {capacity} bytes queued")
            }
            Some(Decoded::UnixSock {
                id,
                sock_type,
                state,
                peer,
                name,
                nr_skbs,
                ..
            }) => {
                let mut s = format!("{sock_type} socket {id} {state}");
                if !name.is_empty() {
                    s.push_str(&format!(" {name}"));
                }
                if *peer != 0 {
                    s.push_str(&format!(" to socket {peer}"));
                }
                format!(
                    "{s}: {} ({} bytes) queued",
                    plural(u64::from(*nr_skbs), "message", "messages"),
                    self.queued_bytes.unwrap_or(0)
                )
            }
            Some(Decoded::Eventfd {
                count, semaphore, ..
            }) => format!(
                "count {count}{}",
                if *semaphore { ", semaphore" } else { "" }
            ),
            Some(Decoded::Timerfd {
                clock,
                ticks,
                value,
                interval,
                ..
            }) => format!("{clock}, next in {value} s, every {interval} s, {ticks} unread"),
            Some(Decoded::Signalfd { mask, .. }) => format!("signals {mask}"),
            Some(Decoded::InetSock(i)) => {
                let peer = i
                    .peer
                    .as_ref()
                    .map_or(String::new(), |p| format!(" to {p}"));
                format!("{} {} {}{peer}", i.protocol, i.state, i.addr)
            }
            Some(Decoded::Epoll { items, .. }) => format!(
                "watches {}",
                items
                    .iter()
                    .map(|i| format!("fd {} ({})", i.tfd, i.names))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(Decoded::Inotify { nr_watches, .. }) => {
                plural(u64::from(*nr_watches), "watch", "watches")
            }
            Some(Decoded::Deleted { size: sz, .. }) | Some(Decoded::Memfd { size: sz, .. }) => {
                format!(
                    "{}, {} of {} saved",
                    self.path,
                    size(self.saved_bytes.unwrap_or(0)),
                    size(*sz)
                )
            }
            _ => self.path.clone(),
        };
        if let Some(t) = self.terminal {
            s.push_str(&format!(" (terminal: {t})"));
        }
        if !self.peers.is_empty() {
            s.push_str(&format!("; peers {}", refs(&self.peers)));
        }
        if !self.shared_with.is_empty() {
            s.push_str(&format!("; shared with {}", refs(&self.shared_with)));
        }
        s
    }
}

impl Fds {
    pub fn text(&self) -> String {
        let mut s = String::new();
        for p in &self.processes {
            if let Some(o) = p.shared_with {
                let _ = writeln!(
                    s,
                    "pid {}{}: the descriptor table of pid {o}",
                    p.pid,
                    name(&p.comm)
                );
                continue;
            }
            if !p.saved && p.fds.is_empty() {
                let _ = writeln!(s, "pid {}{}: {CUT}", p.pid, name(&p.comm));
                continue;
            }
            let _ = writeln!(
                s,
                "pid {}{}: {}{}",
                p.pid,
                name(&p.comm),
                plural(p.fds.len() as u64, "descriptor", "descriptors"),
                if p.saved { "" } else { " (cut short)" }
            );
            let _ = writeln!(
                s,
                "  {:>4} {:<11} {:<3} {:>10} {:>6}  WHAT",
                "FD", "KIND", "RW", "OFFSET", "OBJECT"
            );
            for f in &p.fds {
                let _ = writeln!(
                    s,
                    "  {:>4} {:<11} {:<3} {:>10} {:>6}  {}{}",
                    f.fd,
                    f.kind,
                    f.access,
                    f.offset,
                    f.object,
                    f.what(),
                    if f.cloexec { " [cloexec]" } else { "" }
                );
            }
        }
        s
    }
}

/// `--summary`: the image's records by kind.
#[derive(Debug, Serialize)]
pub struct Summary {
    pub image_version: Option<u32>,
    pub kernel_release: Option<String>,
    /// When the checkpoint was taken (`CLOCK_REALTIME`, ns).
    pub time_ns: Option<u64>,
    pub tasks: usize,
    pub processes: usize,
    pub container: bool,
    /// `TAIL` (a complete image), `ERROR` (a failed checkpoint), `unreadable` (truncated
    /// or corrupt: see `--errors`).
    pub end: &'static str,
    /// Records and bytes read, headers and padding included.
    pub records: u64,
    pub bytes: u64,
    /// Pages of memory in the image.
    pub pages_saved: u64,
    /// Per record type, in the order of their numbers.
    pub kinds: Vec<KindSummary>,
}

/// One record type of [`Summary`].
#[derive(Debug, Serialize)]
pub struct KindSummary {
    /// Its name (`PAGES`).
    pub kind: &'static str,
    /// Its number (uapi/image.rs `rec`).
    #[serde(rename = "type")]
    pub type_: u32,
    pub count: u64,
    pub bytes: u64,
}

impl Summary {
    pub fn text(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "image version {}, kernel {}, {} in {}{}",
            self.image_version
                .map_or_else(|| "?".to_string(), |v| v.to_string()),
            self.kernel_release
                .as_deref()
                .filter(|k| !k.is_empty())
                .unwrap_or("?"),
            plural(self.tasks as u64, "task", "tasks"),
            plural(self.processes as u64, "process", "processes"),
            if self.container { " (container)" } else { "" }
        );
        let _ = writeln!(
            s,
            "ends with: {}",
            match self.end {
                "TAIL" => "its TAIL: complete",
                "ERROR" => "an ERROR record: the checkpoint failed (see --errors)",
                "unreadable" => "a record that cannot be read (see --errors)",
                other => other,
            }
        );
        let _ = writeln!(s, "{:<14} {:>8} {:>12}", "RECORD", "COUNT", "BYTES");
        for k in &self.kinds {
            let _ = writeln!(s, "{:<14} {:>8} {:>12}", k.kind, k.count, k.bytes);
        }
        let _ = writeln!(s, "{:<14} {:>8} {:>12}", "total", self.records, self.bytes);
        let _ = writeln!(
            s,
            "memory: {} saved ({})",
            plural(self.pages_saved, "page", "pages"),
            size(self.pages_saved * u64::from(img::CKPT_PAGE_SIZE))
        );
        s
    }
}

/// `--errors`: what ended the image, if not its `TAIL`.
#[derive(Debug, Serialize)]
pub struct Errors {
    /// It ends with its `TAIL`, and was read whole.
    pub complete: bool,
    /// Records read.
    pub records: u64,
    /// Its `ERROR` record, then what the reader refused after it; empty when complete.
    pub errors: Vec<Problem>,
}

impl Errors {
    pub fn text(&self) -> String {
        let mut s = String::new();
        if self.errors.is_empty() {
            let _ = writeln!(
                s,
                "no error: the image is complete ({}, then its TAIL)",
                plural(self.records.saturating_sub(1), "record", "records")
            );
        }
        for p in &self.errors {
            let whose = p
                .task
                .map_or_else(String::new, |t| format!(", among the records of task {t}"));
            let _ = match p.source {
                "record" => writeln!(
                    s,
                    "ERROR record {} at offset {}{whose}: the checkpoint failed: errno {}{}: {}",
                    p.record,
                    p.offset,
                    p.errno.unwrap_or(0),
                    p.errno_name
                        .as_deref()
                        .map_or_else(String::new, |n| format!(" ({n})")),
                    p.reason
                ),
                _ => writeln!(
                    s,
                    "unreadable after {}{whose}: {}",
                    plural(p.record, "record", "records"),
                    p.reason
                ),
            };
        }
        s
    }
}
