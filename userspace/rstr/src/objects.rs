// SPDX-License-Identifier: GPL-2.0

//! Open files and pipes of the image, made once by `rstr` before the first fork and
//! "parked" at high descriptor numbers, so that every process of the tree inherits them and
//! processes that shared an open file description (one offset, one set of flags) share one
//! again. Each process then `dup2`s the ones its table had to their numbers and closes the
//! rest.
//!
//! Files are opened with `rstr`'s credentials, as CRIU does: a restart by root reopens what
//! the image names even if its owner could no longer open it.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::ffi::CString;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use anyhow::{ensure, Context, Result};

use ckptlib::abi::image::file_kind;
use ckptlib::restart::{decode_dev, Image, OpenFile};

use crate::sys::{check, pipe};

/// Every file object of the image, by id, at its parked descriptor.
pub struct Parked {
    pub fds: HashMap<u32, RawFd>,
    /// Descriptors given one of rstr's own instead (a terminal, `--fd`), by (files table
    /// id, fd): the parked copy of rstr's descriptor.
    pub given: HashMap<(u32, RawFd), RawFd>,
    /// The lowest and one past the highest parked number.
    pub range: (RawFd, RawFd),
}

const F_SETPIPE_SZ: libc::c_int = 1031;

/// Duplicates `fd` to the lowest free number from `next`, close-on-exec.
fn park_at(fd: RawFd, next: RawFd) -> Result<RawFd> {
    // SAFETY: duplicating a descriptor we own to the lowest free number from `next`
    // (above every descriptor rstr keeps, so the parked ones follow each other).
    Ok(check(
        unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, next) }.into(),
        "parking a descriptor",
    )? as RawFd)
}

/// Opens every object of `image` at descriptors from `base` up (closing any descriptor of
/// ours there first), but for the descriptors `given` hands one of rstr's own (by files
/// table id and fd, see [`crate::inherit::choose`]): those get a parked copy of it, and an
/// object only they use is not opened at all.
pub fn park(image: &Image, base: RawFd, given: &HashMap<(u32, RawFd), RawFd>) -> Result<Parked> {
    let mut fds = HashMap::new();
    let mut copies: HashMap<RawFd, RawFd> = HashMap::new();
    let mut given_at = HashMap::new();
    let mut next = base;
    let mut pipes: HashMap<u32, (Option<OwnedFd>, Option<OwnedFd>)> = HashMap::new();
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
                        let at = park_at(from, next)
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
            let fd = if f.rec.kind == file_kind::PIPE {
                pipe_end(image, f, &mut pipes)?
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
            let at = park_at(fd.as_raw_fd(), next)?;
            fds.insert(f.rec.obj, at);
            next = at + 1;
        }
    }
    Ok(Parked {
        fds,
        given: given_at,
        range: (base, next),
    })
}

/// Opens a regular file, directory or character device as the image had it.
fn open_file(f: &OpenFile) -> Result<OwnedFd> {
    let r = &f.rec;
    let path = CString::new(f.path.as_str())?;
    let mut flags =
        r.flags as i32 & !(libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC | libc::O_CLOEXEC);
    flags |= libc::O_NOCTTY;
    if r.kind == file_kind::DIRECTORY {
        flags |= libc::O_DIRECTORY;
    }
    // SAFETY: plain system calls on a descriptor this function owns.
    unsafe {
        let fd = check(
            libc::open(path.as_ptr(), flags).into(),
            format!("fd {}: open {}", r.fd, f.path),
        )? as RawFd;
        let fd = <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd);
        let mut st: libc::stat = std::mem::zeroed();
        check(
            libc::fstat(fd.as_raw_fd(), &mut st).into(),
            format!("fd {}: fstat", r.fd),
        )?;
        if r.kind == file_kind::CHARDEV {
            let (ma, mi) = decode_dev(r.rdev);
            ensure!(
                libc::major(st.st_rdev) == ma && libc::minor(st.st_rdev) == mi,
                "fd {}: {} is now device {}:{}, not {ma}:{mi}",
                r.fd,
                f.path,
                libc::major(st.st_rdev),
                libc::minor(st.st_rdev)
            );
        }
        if r.kind == file_kind::REGULAR {
            let at = libc::lseek(fd.as_raw_fd(), r.pos, libc::SEEK_SET);
            ensure!(
                at == r.pos,
                "fd {}: cannot seek {} to {}",
                r.fd,
                f.path,
                r.pos
            );
        }
        Ok(fd)
    }
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
            let (rd, wr) = pipe()?;
            // SAFETY: plain system calls on descriptors we own; `p.data` is readable.
            unsafe {
                if p.capacity > 0 {
                    check(
                        libc::fcntl(wr.as_raw_fd(), F_SETPIPE_SZ, p.capacity as libc::c_int).into(),
                        format!("pipe {}: capacity {}", r.pipe, p.capacity),
                    )?;
                }
                if !p.data.is_empty() {
                    let n = libc::write(wr.as_raw_fd(), p.data.as_ptr().cast(), p.data.len());
                    ensure!(
                        n == p.data.len() as isize,
                        "pipe {}: refilling {} bytes: {}",
                        r.pipe,
                        p.data.len(),
                        std::io::Error::last_os_error()
                    );
                }
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
    // SAFETY: setting status flags (O_NONBLOCK...) on our own descriptor.
    check(
        unsafe {
            libc::fcntl(
                fd.as_raw_fd(),
                libc::F_SETFL,
                r.flags as i32 & !libc::O_ACCMODE,
            )
        }
        .into(),
        format!("fd {}: pipe flags", r.fd),
    )?;
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
        // SAFETY: closing a descriptor of this process that nothing here uses.
        unsafe { libc::close(fd) };
    }
    for f in files {
        let r = &f.rec;
        let from = match parked.given.get(&(table, r.fd)) {
            Some(&at) => at,
            None => parked.fds[&r.obj],
        };
        // SAFETY: plain system calls on descriptors of this process.
        unsafe {
            check(
                libc::dup3(from, r.fd, if r.cloexec != 0 { libc::O_CLOEXEC } else { 0 }).into(),
                format!("fd {}: dup3", r.fd),
            )?;
        }
    }
    Ok(())
}

/// Closes the parked range: once every process exists, nobody needs it.
pub fn unpark(parked: &Parked) {
    for fd in parked.range.0..parked.range.1 {
        // SAFETY: closing descriptors of the parked range, which this process no longer uses.
        unsafe { libc::close(fd) };
    }
}

/// The highest descriptor number any task of the image uses.
pub fn highest_fd(image: &Image) -> RawFd {
    image
        .tasks
        .iter()
        .flatten()
        .filter_map(|t| t.files.as_ref())
        .flatten()
        .map(|f| f.rec.fd)
        .max()
        .unwrap_or(2)
        .max(2)
}
