// SPDX-License-Identifier: GPL-2.0

//! Descriptors and open files. Open files and pipes of the image are made once by `rstr`
//! before the first fork and "parked" at high descriptor numbers, so that every process of
//! the tree inherits them and processes that shared an open file description (one offset,
//! one set of flags) share one again. Each process that owns its table then `dup3`s the ones
//! its table had to their numbers and closes the rest.
//!
//! Files are opened with `rstr`'s credentials, as CRIU does: a restart by root reopens what
//! the image names even if its owner could no longer open it.
//!
//! Some descriptors of the image are given one of `rstr`'s own instead of being reopened:
//! terminals (the shell-job rule, Documentation/restart.rst "Terminals") and whatever
//! `--fd [PID:]FD=RSTRFD` names.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Seek};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;
use std::str::FromStr;

use anyhow::{bail, ensure, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};
use nix::sys::stat::{fstat, major, minor, Mode};
use nix::unistd::{dup, isatty, lseek, pipe2, write, Whence};

use ckptlib::abi::image::{file_kind, CkptFileRec};
use ckptlib::abi::CkptObjFd;
use ckptlib::restart::{decode_dev, Image, OpenFile};
use ckptlib::terminal::terminal_kind;

use crate::sys;

/// The image as a seekable file: a pipe (`-`, standard input) is first copied to an
/// unnamed temporary file.
pub fn open_image(path: &Path) -> Result<File> {
    let mut f = if path.as_os_str() == "-" {
        File::from(dup(io::stdin()).context("dup of standard input")?)
    } else {
        File::open(path).with_context(|| format!("cannot open {}", path.display()))?
    };
    if f.stream_position().is_ok() {
        return Ok(f);
    }
    let mut tmp = memory_file()?;
    io::copy(&mut f, &mut tmp).context("copying the image from its pipe")?;
    tmp.rewind()?;
    Ok(tmp)
}

/// An unnamed memory file for an image read from a pipe or a connection.
pub fn memory_file() -> Result<File> {
    Ok(File::from(
        memfd_create("rstr-image", MFdFlags::MFD_CLOEXEC).context("memfd_create")?,
    ))
}

/// `rstr`'s own descriptors, at the same numbers in every process of the tree, open until
/// each task hands them to its restart ioctl (which closes them), and what the module is to
/// report through them.
#[derive(Clone, Copy, Debug)]
pub struct OwnFds {
    /// The image.
    pub image: RawFd,
    /// The device: the restart session.
    pub dev: RawFd,
    /// The report pipe's write end (`err_fd`).
    pub report: RawFd,
    /// The module's log (`log_fd`) and its level; -1 and `CKPT_LOG_NONE` for none.
    pub log: RawFd,
    pub log_level: u32,
    /// Progress lines wanted on the report pipe (`CKPT_RESTART_PROGRESS`).
    pub progress: bool,
}

impl OwnFds {
    /// The descriptors, to keep open until the restart ioctl and close then.
    pub fn all(&self) -> Vec<RawFd> {
        let mut v = vec![self.image, self.dev, self.report];
        if self.log >= 0 {
            v.push(self.log);
        }
        v
    }

    /// The restart flags they ask for.
    pub fn flags(&self) -> u64 {
        if self.progress {
            ckptlib::abi::CKPT_RESTART_PROGRESS
        } else {
            0
        }
    }
}

/// Moves `rstr`'s own descriptors (the image, the device, the report pipe's write end, the
/// module's log) to the lowest free numbers from `top`, above every descriptor of the
/// image, at the same numbers in every process of the tree.
pub fn move_own(
    [image, dev, report]: [BorrowedFd; 3],
    log: Option<(BorrowedFd, u32)>,
    progress: bool,
    top: RawFd,
) -> Result<OwnFds> {
    let up = |fd: BorrowedFd| {
        fcntl(fd, FcntlArg::F_DUPFD_CLOEXEC(top)).context("moving rstr's descriptors")
    };
    Ok(OwnFds {
        image: up(image)?,
        dev: up(dev)?,
        report: up(report)?,
        log: log.map(|(fd, _)| up(fd)).transpose()?.unwrap_or(-1),
        log_level: log.map_or(ckptlib::abi::CKPT_LOG_NONE, |(_, l)| l),
        progress,
    })
}

/// One `--fd [PID:]FD=RSTRFD`: descriptor `fd` of process `pid` (of every process of the
/// image without a pid) is given `rstr`'s descriptor `from`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdSpec {
    pub pid: Option<i32>,
    pub fd: RawFd,
    pub from: RawFd,
}

impl FromStr for FdSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let num = |w: &str, what: &str| {
            w.parse::<i32>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| format!("{what} `{w}` is not a number (form: [PID:]FD=RSTRFD)"))
        };
        let (left, from) = s
            .split_once('=')
            .ok_or_else(|| format!("`{s}` has no `=` (form: [PID:]FD=RSTRFD, e.g. 1=5)"))?;
        let (pid, fd) = match left.split_once(':') {
            Some((p, f)) => (Some(num(p, "PID")?), num(f, "FD")?),
            None => (None, num(left, "FD")?),
        };
        Ok(FdSpec {
            pid,
            fd,
            from: num(from, "RSTRFD")?,
        })
    }
}

impl fmt::Display for FdSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.pid {
            Some(p) => write!(f, "{p}:{}={}", self.fd, self.from),
            None => write!(f, "{}={}", self.fd, self.from),
        }
    }
}

/// `rstr`'s descriptors as it found them when it started, before it opened anything of its
/// own (which could take a number the user meant).
pub struct Inherited {
    specs: Vec<FdSpec>,
    /// Which of rstr's 0, 1 and 2 are open, and which of them are terminals.
    std_open: [bool; 3],
    pub std_tty: [bool; 3],
}

fn is_open(fd: RawFd) -> bool {
    fcntl(sys::borrow(fd), FcntlArg::F_GETFD).is_ok()
}

/// Looks at rstr's descriptors: call first thing, before opening anything.
pub fn at_start(specs: Vec<FdSpec>) -> Result<Inherited> {
    for (i, s) in specs.iter().enumerate() {
        ensure!(
            is_open(s.from),
            "--fd {s}: rstr has no descriptor {} open (open it in the shell: `{}<FILE`, \
             `{}>FILE`)",
            s.from,
            s.from,
            s.from
        );
        ensure!(
            !specs[..i].iter().any(|o| o.pid == s.pid && o.fd == s.fd),
            "--fd {s}: descriptor {} is given twice",
            s.fd
        );
    }
    let std_open = [0, 1, 2].map(is_open);
    let std_tty =
        [0, 1, 2].map(|fd| std_open[fd as usize] && isatty(sys::borrow(fd)).unwrap_or(false));
    Ok(Inherited {
        specs,
        std_open,
        std_tty,
    })
}

/// For every descriptor of the image given one of rstr's, by (files table id, fd): rstr's
/// descriptor. Fails on a `--fd` that matches no descriptor of the image.
pub fn choose(image: &Image, inh: &Inherited) -> Result<HashMap<(u32, RawFd), RawFd>> {
    let table_of: HashMap<i32, u32> = image.tree.iter().map(|e| (e.pid, e.files)).collect();
    for s in &inh.specs {
        if let Some(p) = s.pid {
            ensure!(
                image.tasks.iter().flatten().any(|t| t.task.pid == p),
                "--fd {s}: process {p} is not a live task of the image"
            );
        }
    }
    let mut used = vec![false; inh.specs.len()];
    let mut given = HashMap::new();
    for (e, t) in image.tree.iter().zip(&image.tasks) {
        let Some(files) = t.as_ref().and_then(|t| t.files.as_ref()) else {
            continue;
        };
        for f in files {
            let fd = f.rec.fd;
            // A spec naming a process of this table first, then one for every process.
            let spec = inh
                .specs
                .iter()
                .position(|s| {
                    s.fd == fd && s.pid.is_some_and(|p| table_of.get(&p) == Some(&e.files))
                })
                .or_else(|| inh.specs.iter().position(|s| s.fd == fd && s.pid.is_none()));
            let from = if let Some(k) = spec {
                used[k] = true;
                Some(inh.specs[k].from)
            } else if terminal_kind(&f.rec, &f.path).is_some() {
                if fd <= 2 {
                    inh.std_open[fd as usize].then_some(fd)
                } else {
                    (0..3).find(|&s| inh.std_tty[s as usize])
                }
            } else {
                None
            };
            if let Some(from) = from {
                given.insert((e.files, fd), from);
            }
        }
    }
    if let Some(k) = used.iter().position(|u| !u) {
        let s = inh.specs[k];
        match s.pid {
            Some(p) => bail!("--fd {s}: process {p} has no descriptor {}", s.fd),
            None => bail!("--fd {s}: no process of the image has descriptor {}", s.fd),
        }
    }
    Ok(given)
}

/// Every file object of the image, by id, at its parked descriptor.
pub struct Parked {
    pub fds: HashMap<u32, RawFd>,
    /// Descriptors given one of rstr's own instead (a terminal, `--fd`), by (files table
    /// id, fd): the parked copy of rstr's descriptor.
    pub given: HashMap<(u32, RawFd), RawFd>,
    /// The memfds and deleted files memory areas map, by id, at parked numbers of their
    /// own that [`unpark`] leaves open: every task hands the table to its restart ioctl
    /// (`CkptRestartArgs::objs`), which maps them and closes them after the go, as `rstr`'s
    /// own descriptors ([`OwnFds`]).
    pub mapped: Vec<CkptObjFd>,
    /// The lowest and one past the highest parked number.
    pub range: (RawFd, RawFd),
}

/// Duplicates `fd` to the lowest free number from `next`, close-on-exec: a descriptor this
/// process keeps open by number until the tree runs (the parked ones, see [`unpark`]).
fn park_at(fd: BorrowedFd, next: RawFd) -> Result<RawFd> {
    fcntl(fd, FcntlArg::F_DUPFD_CLOEXEC(next)).context("parking a descriptor")
}

/// Opens every object of `image` at descriptors from `base` up (closing any descriptor of
/// ours there first), but for the descriptors `given` hands one of rstr's own (by files
/// table id and fd, see [`choose`]): those get a parked copy of it, and an
/// object only they use is not opened at all.
pub fn park(image: &Image, base: RawFd, given: &HashMap<(u32, RawFd), RawFd>) -> Result<Parked> {
    let mut fds = HashMap::new();
    let mut copies: HashMap<RawFd, RawFd> = HashMap::new();
    let mut given_at = HashMap::new();
    let mut next = base;
    let mut pipes: HashMap<u32, (Option<OwnedFd>, Option<OwnedFd>)> = HashMap::new();
    let mut sockets = crate::unix::Made::new();
    // Each FIFO's holder: open until every description of it is.
    let mut fifos = crate::fifo::Holders::new();
    let mut deleted = crate::deleted::Made::new();
    let mut removed_dirs = crate::removed_dir::Made::new();
    let tables = image
        .tree
        .iter()
        .zip(&image.tasks)
        .filter_map(|(e, t)| Some((e, t.as_ref()?.files.as_ref()?)));
    for (e, files) in tables {
        for f in files {
            if let Some(&from) = given.get(&(e.files, f.rec.fd)) {
                let at = match copies.entry(from) {
                    Entry::Occupied(c) => *c.get(),
                    Entry::Vacant(v) => {
                        let at = park_at(sys::borrow(from), next)
                            .with_context(|| format!("rstr's descriptor {from}"))?;
                        next = at + 1;
                        *v.insert(at)
                    }
                };
                given_at.insert((e.files, f.rec.fd), at);
                continue;
            }
            if fds.contains_key(&f.rec.obj) {
                continue;
            }
            // O_ASYNC comes last, at the descriptor's own number (crate::fown).
            let f = &*crate::fown::without_async(f);
            let fd = if f.rec.kind == file_kind::PIPE {
                pipe_end(image, f, &mut pipes)?
            } else if f.rec.kind == file_kind::UNIX_SOCKET {
                crate::unix::socket_end(image, f, &mut sockets)
                    .with_context(|| format!("process {}", e.pid))?
            } else if f.rec.kind == file_kind::INET_SOCKET {
                crate::inet::make(image, f).with_context(|| format!("process {}", e.pid))?
            } else if f.rec.kind == file_kind::FIFO {
                crate::fifo::open(image, f, &mut fifos)
                    .with_context(|| format!("process {}", e.pid))?
            } else if f.rec.kind == file_kind::DELETED {
                crate::deleted::open(image, f, &mut deleted)
                    .with_context(|| format!("process {}", e.pid))?
            } else if f.rec.kind == file_kind::REMOVED_DIR {
                crate::removed_dir::open(image, f, &mut removed_dirs)
                    .with_context(|| format!("process {}", e.pid))?
            } else if f.rec.kind == file_kind::MEMFD {
                crate::memfd::open(image, f, &mut deleted)
                    .with_context(|| format!("process {}", e.pid))?
            } else if let Some(a) = image.anonfds.get(&f.rec.obj) {
                crate::anonfd::make(a, f).with_context(|| format!("process {}", e.pid))?
            } else if f.rec.kind == file_kind::EPOLL {
                crate::epoll::make(f).with_context(|| format!("process {}", e.pid))?
            } else if f.rec.kind == file_kind::INOTIFY {
                crate::inotify::make(image, f).with_context(|| format!("process {}", e.pid))?
            } else if f.rec.kind == file_kind::MQUEUE {
                crate::ipc::open_mq(f).with_context(|| format!("process {}", e.pid))?
            } else {
                open_file(f).map_err(|err| {
                    anyhow::anyhow!(
                        "process {} {err:#} (`rstr --fd {}:{}=N` gives it rstr's \
                         descriptor N instead)",
                        e.pid,
                        e.pid,
                        f.rec.fd
                    )
                })?
            };
            let at = park_at(fd.as_fd(), next)?;
            fds.insert(f.rec.obj, at);
            next = at + 1;
        }
    }
    // The descriptions only messages in flight hold, then the messages that carry them.
    for f in &image.flights {
        if fds.contains_key(&f.rec.obj) {
            continue;
        }
        let what = || format!("description {} in flight", f.rec.obj);
        let fd = if f.rec.kind == file_kind::PIPE {
            pipe_end(image, f, &mut pipes).with_context(what)?
        } else {
            open_file(f).with_context(what)?
        };
        let at = park_at(fd.as_fd(), next)?;
        fds.insert(f.rec.obj, at);
        next = at + 1;
    }
    crate::unix::fill_deferred(image, &mut sockets, &fds)?;
    // The memfds and deleted files memory maps, made if no descriptor made them; each at a
    // descriptor of the parked range that no unpark closes: the restart ioctl maps them
    // and closes them ([`Parked::mapped`]).
    let areas = image.tasks.iter().flatten().flat_map(|t| &t.memory.mapped);
    for (id, path) in areas.clone() {
        deleted.mapped(image, *id, path)?;
    }
    let made = deleted.finish()?;
    let mut mapped = Vec::new();
    for (id, _) in areas {
        if mapped.iter().any(|m: &CkptObjFd| m.id == *id) {
            continue;
        }
        let at = park_at(made[id].as_fd(), next)?;
        next = at + 1;
        mapped.push(CkptObjFd { id: *id, fd: at });
    }
    // Every object exists: the epolls' items can be added.
    crate::epoll::fill(image, &fds, &given_at)?;
    Ok(Parked {
        fds,
        given: given_at,
        mapped,
        range: (base, next),
    })
}

/// Opens a regular file, directory or character device as the image had it.
fn open_file(f: &OpenFile) -> Result<OwnedFd> {
    let r = &f.rec;
    let fd = nix::fcntl::open(f.path.as_str(), open_flags(r), Mode::empty())
        .map_err(std::io::Error::from)
        .with_context(|| format!("fd {}: open {}", r.fd, f.path))?;
    let st = fstat(&fd).with_context(|| format!("fd {}: fstat", r.fd))?;
    if r.kind == file_kind::CHARDEV {
        let (ma, mi) = decode_dev(r.rdev);
        let (now_ma, now_mi) = (major(st.st_rdev) as u32, minor(st.st_rdev) as u32);
        ensure!(
            (now_ma, now_mi) == (ma, mi),
            "fd {}: {} is now device {now_ma}:{now_mi}, not {ma}:{mi}",
            r.fd,
            f.path,
        );
    }
    // An O_PATH descriptor has no offset (lseek: EBADF).
    if r.kind == file_kind::REGULAR && r.flags & libc::O_PATH as u32 == 0 {
        let at = lseek(&fd, r.pos, Whence::SeekSet);
        ensure!(
            at == Ok(r.pos),
            "fd {}: cannot seek {} to {}",
            r.fd,
            f.path,
            r.pos
        );
    }
    Ok(fd)
}

/// The flags to reopen a file with: the image's status flags and access mode, without the
/// ones that only act at creation (`O_CREAT`, `O_EXCL`, `O_TRUNC`; close-on-exec is the
/// descriptor's, set when installed), never taking a controlling terminal.
pub fn open_flags(r: &CkptFileRec) -> OFlag {
    let mut flags = OFlag::from_bits_retain(r.flags as i32)
        - (OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_TRUNC | OFlag::O_CLOEXEC);
    flags |= OFlag::O_NOCTTY;
    if r.kind == file_kind::DIRECTORY {
        flags |= OFlag::O_DIRECTORY;
    }
    flags
}

/// The end of a pipe a file object is: the pipe is made, sized and filled with its saved
/// contents the first time one of its ends is asked for.
fn pipe_end(
    image: &Image,
    f: &OpenFile,
    pipes: &mut HashMap<u32, (Option<OwnedFd>, Option<OwnedFd>)>,
) -> Result<OwnedFd> {
    let r = &f.rec;
    let ends = match pipes.entry(r.pipe) {
        Entry::Occupied(e) => e.into_mut(),
        Entry::Vacant(v) => {
            let p = &image.pipes[&r.pipe];
            let (rd, wr) = pipe2(OFlag::O_CLOEXEC).context("pipe2")?;
            if p.capacity > 0 {
                fcntl(&wr, FcntlArg::F_SETPIPE_SZ(p.capacity as libc::c_int))
                    .with_context(|| format!("pipe {}: capacity {}", r.pipe, p.capacity))?;
            }
            if !p.data.is_empty() {
                // Empty and at least as large as its contents: one write fills it.
                let n = write(&wr, &p.data).with_context(|| {
                    format!("pipe {}: refilling {} bytes", r.pipe, p.data.len())
                })?;
                ensure!(
                    n == p.data.len(),
                    "pipe {}: refilling {} bytes: {n} written",
                    r.pipe,
                    p.data.len(),
                );
            }
            v.insert((Some(rd), Some(wr)))
        }
    };
    let write_end = r.flags as i32 & libc::O_ACCMODE == libc::O_WRONLY;
    let slot = if write_end { &mut ends.1 } else { &mut ends.0 };
    let fd = match slot.take() {
        Some(fd) => fd,
        // A second description of the same end: open it again through /proc.
        None => {
            let other = if write_end { "w" } else { "r" };
            bail_reopen(r.pipe, other)?
        }
    };
    let status = OFlag::from_bits_retain(r.flags as i32) - OFlag::O_ACCMODE;
    fcntl(&fd, FcntlArg::F_SETFL(status)).with_context(|| format!("fd {}: pipe flags", r.fd))?;
    Ok(fd)
}

fn bail_reopen(pipe: u32, end: &str) -> Result<OwnedFd> {
    Err(anyhow::anyhow!(
        "pipe {pipe}: two open file descriptions of its {end} end: not supported yet"
    ))
    .context("pipes")
}

/// In a process that owns its descriptor table (of id `table`): closes every descriptor but
/// `keep` and the parked ones, then installs the image's descriptors from the parked
/// objects, or rstr's own where they were given one.
pub fn install(files: &[OpenFile], table: u32, parked: &Parked, keep: &[RawFd]) -> Result<()> {
    let mut others = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").context("/proc/self/fd")? {
        let name = entry?.file_name();
        if let Ok(fd) = name.to_string_lossy().parse::<RawFd>() {
            let parked_fd = fd >= parked.range.0 && fd < parked.range.1;
            if !keep.contains(&fd) && !parked_fd {
                others.push(fd);
            }
        }
    }
    for fd in others {
        // The directory's own descriptor, listed too, is closed already (EBADF).
        match sys::close(fd) {
            Ok(()) | Err(Errno::EBADF) => {}
            Err(e) => return Err(e).with_context(|| format!("closing rstr's descriptor {fd}")),
        }
    }
    for f in files {
        let r = &f.rec;
        let from = match parked.given.get(&(table, r.fd)) {
            Some(&at) => at,
            None => parked.fds[&r.obj],
        };
        sys::dup_to(from, r.fd, r.cloexec != 0).with_context(|| format!("fd {}: dup3", r.fd))?;
    }
    Ok(())
}

/// Closes the parked descriptors: once every process exists, nobody needs them. Only
/// those: a number of the range that holds none of them (a file opened at the range's first
/// free number is parked above it) may by now hold a descriptor another task sharing this
/// table opened meanwhile (its `/proc/self/maps`).
pub fn unpark(parked: &Parked) -> Result<()> {
    let mut fds: Vec<RawFd> = parked
        .fds
        .values()
        .chain(parked.given.values())
        .copied()
        .collect();
    fds.sort_unstable();
    fds.dedup();
    for fd in fds {
        match sys::close(fd) {
            Ok(()) | Err(Errno::EBADF) => {}
            Err(e) => return Err(e).with_context(|| format!("closing the parked descriptor {fd}")),
        }
    }
    Ok(())
}

/// The highest descriptor number any task of the image uses.
/// Raises rstr's `RLIMIT_NOFILE` so that its three descriptors at `top` and every parked
/// object above them fit (at most one per `FILE` record of the image and per mapped memfd
/// or deleted file, and some spare): up to
/// the hard limit, beyond it where rstr may (`CAP_SYS_RESOURCE`). Each process of the tree
/// sets the image's limits again once its descriptors are in place.
pub fn room_for(image: &Image, top: RawFd) -> Result<()> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let files: usize = image.files().count()
        + image.flights.len()
        + image
            .tasks
            .iter()
            .flatten()
            .map(|t| t.memory.mapped.len())
            .sum::<usize>();
    let need = u64::try_from(top).unwrap_or(0) + 3 + files as u64 + 16;
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).context("getrlimit(RLIMIT_NOFILE)")?;
    if need <= soft {
        return Ok(());
    }
    let raised = if need <= hard {
        setrlimit(Resource::RLIMIT_NOFILE, need, hard)
    } else {
        setrlimit(Resource::RLIMIT_NOFILE, need, need)
    };
    raised.with_context(|| {
        format!(
            "the image's descriptors need {need} open files in rstr, above its RLIMIT_NOFILE \
             ({soft} soft, {hard} hard): raise it (ulimit -n {need})"
        )
    })
}

pub fn highest_fd(image: &Image) -> RawFd {
    image.files().map(|f| f.rec.fd).max().unwrap_or(2).max(2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_specs_parse_with_and_without_a_pid() {
        assert_eq!(
            "1=5".parse(),
            Ok(FdSpec {
                pid: None,
                fd: 1,
                from: 5
            })
        );
        assert_eq!(
            "1234:0=7".parse(),
            Ok(FdSpec {
                pid: Some(1234),
                fd: 0,
                from: 7
            })
        );
        assert_eq!(
            "1234:0=7".parse::<FdSpec>().unwrap().to_string(),
            "1234:0=7"
        );
        for bad in ["1", "a=1", "1=", "-1=2", "1:2:3=4", "fd[1]:5"] {
            assert!(bad.parse::<FdSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn files_reopen_without_creation_flags_nor_a_controlling_terminal() {
        use zerocopy::FromZeros;
        let mut r = CkptFileRec::new_zeroed();
        r.kind = file_kind::REGULAR;
        r.flags = (libc::O_RDWR | libc::O_APPEND | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC)
            as u32;
        let f = open_flags(&r);
        assert_eq!(f, OFlag::O_RDWR | OFlag::O_APPEND | OFlag::O_NOCTTY);
        r.kind = file_kind::DIRECTORY;
        r.flags = (libc::O_RDONLY | libc::O_EXCL | libc::O_NONBLOCK) as u32;
        let f = open_flags(&r);
        assert_eq!(f, OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_DIRECTORY);
    }
}
