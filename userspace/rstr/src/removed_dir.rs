// SPDX-License-Identifier: GPL-2.0

//! Removed directories: a working directory ([`crate::fs`]) or a directory held open
//! (`FILE`s of kind `REMOVED_DIR`, with their `REMOVED_DIR` record). A removed directory
//! takes no new entry, so it was empty for good: an empty directory is made again at the
//! path it had (or, if something took that name since, beside it), every description of it
//! is opened (through `openat(dir, ".")`: no path is followed twice), then it is given its
//! mode, owner and group and removed. Opening every description first, while the
//! directory is still `rstr`'s own and `0700`, takes whatever flags they had (`O_NOATIME`,
//! or reading a directory its owner could not read) with `rstr`'s credentials, as every
//! other file.
//!
//! A removed directory held by several descriptions (open twice before it was removed) is
//! one directory again: all its descriptions are opened when the first is asked for. The
//! same removed directory as a working directory and at a descriptor comes back as two
//! directories (the `FS` record names no object).

use std::collections::HashMap;
use std::os::fd::OwnedFd;

use anyhow::{ensure, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{openat, OFlag};
use nix::sys::stat::{fchmod, Mode};
use nix::unistd::{fchown, getpid, lseek, mkdir, Gid, Uid, Whence};

use ckptlib::abi::image::file_kind;
use ckptlib::restart::{Image, OpenFile, RemovedDir};

/// An empty directory at `path` (or beside it), with `dir`'s mode and owner, removed: the
/// descriptor it was made with (`O_RDONLY | O_DIRECTORY`, close-on-exec) and one more
/// opened with each of `opens` (no `O_DIRECTORY` needed: `"."` is the directory itself, and
/// the flags stay as they were), before it was removed.
pub fn make(path: &str, dir: RemovedDir, opens: &[OFlag]) -> Result<(OwnedFd, Vec<OwnedFd>)> {
    let (parent, _) = path.rsplit_once('/').context("a path without a parent")?;
    let parent = if parent.is_empty() { "/" } else { parent };
    let mode = Mode::from_bits_truncate(0o700);
    let made = match mkdir(path, mode) {
        Ok(()) => path.to_owned(),
        Err(Errno::EEXIST) => {
            let aside = format!(
                "{}/.rstr-removed-{}",
                parent.trim_end_matches('/'),
                getpid()
            );
            mkdir(aside.as_str(), mode).with_context(|| format!("mkdir {aside}"))?;
            aside
        }
        Err(e) => {
            return Err(e).with_context(|| format!("mkdir {path} (in {parent}, which must exist)"))
        }
    };
    let opened = nix::fcntl::open(
        made.as_str(),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("opening {made}"));
    let owned = opened.and_then(|fd| {
        let descs = opens
            .iter()
            .map(|&flags| {
                openat(&fd, ".", flags, Mode::empty())
                    .with_context(|| format!("opening {made} with flags {:#o}", flags.bits()))
            })
            .collect::<Result<Vec<_>>>()?;
        fchown(
            &fd,
            Some(Uid::from_raw(dir.uid)),
            Some(Gid::from_raw(dir.gid)),
        )
        .with_context(|| format!("chown {made} to {}:{}", dir.uid, dir.gid))?;
        fchmod(&fd, Mode::from_bits_retain(dir.mode))
            .with_context(|| format!("chmod {made} to {:04o}", dir.mode))?;
        Ok((fd, descs))
    });
    let removed = std::fs::remove_dir(&made).with_context(|| format!("rmdir {made}"));
    let fds = owned?;
    removed?;
    Ok(fds)
}

/// The descriptions of removed directories opened so far and not asked for yet, by
/// description.
pub struct Made(HashMap<u32, OwnedFd>);

impl Made {
    pub fn new() -> Self {
        Made(HashMap::new())
    }
}

/// The description `f` of a removed directory: the first time one of its directory's is
/// asked for, the directory is made again and every description the image has of it is
/// opened (each with its flags, without `O_ASYNC`, which comes last; at its offset but
/// an `O_PATH` one).
pub fn open(image: &Image, f: &OpenFile, made: &mut Made) -> Result<OwnedFd> {
    if let Some(fd) = made.0.remove(&f.rec.obj) {
        return Ok(fd);
    }
    let id = f.rec.pipe;
    let dir = image.removed_dirs[&id];
    let mut descs: Vec<&OpenFile> = vec![f];
    for g in image.files() {
        if g.rec.kind == file_kind::REMOVED_DIR
            && g.rec.pipe == id
            && !descs.iter().any(|d| d.rec.obj == g.rec.obj)
        {
            descs.push(g);
        }
    }
    let descs: Vec<_> = descs.into_iter().map(crate::fown::without_async).collect();
    let flags: Vec<OFlag> = descs
        .iter()
        .map(|d| crate::files::open_flags(&d.rec))
        .collect();
    let (_, fds) = make(&f.path, dir, &flags)
        .with_context(|| format!("fd {}: the removed directory {}", f.rec.fd, f.path))?;
    let mut first = None;
    for (d, fd) in descs.iter().zip(fds) {
        let r = &d.rec;
        if r.flags & libc::O_PATH as u32 == 0 {
            // A directory's offset is its filesystem's (getdents); this one is empty.
            let at = lseek(&fd, r.pos, Whence::SeekSet);
            ensure!(
                at == Ok(r.pos),
                "fd {}: cannot seek the removed directory {} to {} ({at:?})",
                r.fd,
                d.path,
                r.pos
            );
        }
        if first.is_none() {
            first = Some(fd);
        } else {
            made.0.insert(r.obj, fd);
        }
    }
    Ok(first.expect("the first description"))
}
