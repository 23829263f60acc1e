// SPDX-License-Identifier: GPL-2.0

//! inotify descriptions, made again from their `INOTIFY` records: `inotify_init1`, then
//! each watch added again, in increasing watch descriptor, at the path its inode has here
//! ([`ckptlib::inotify::candidates`]: a mount of the image's filesystem, the one whose
//! inode is the image's first). inotify hands out watch descriptors in increasing order:
//! a watch is added and removed again until the kernel gives it the image's number.
//! Removing a watch queues an `IN_IGNORED` event: the queue is emptied before the
//! descriptor is handed over, as the image's queue was not saved either.

use std::collections::HashSet;
use std::ffi::CString;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use anyhow::{bail, Context, Result};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, OFlag};

use ckptlib::inotify::{candidates, InotifyImage, Watch};
use ckptlib::restart::{Image, OpenFile};

use crate::sys::inotify as sys;

/// Where the watch's file is here: the first path found through a mount of its
/// filesystem that has the image's inode, else the first that exists (a file replaced at
/// its path since is watched there, as a file reopened by path is).
fn locate(w: &Watch, mountinfo: &str) -> Result<String> {
    let mut paths = candidates(mountinfo, w.dev, &w.path);
    if paths.is_empty() {
        // No mount of that filesystem here (another machine): the path as it was from the
        // root of its own.
        paths.push(w.path.clone());
    }
    let found: Vec<(String, std::fs::Metadata)> = paths
        .into_iter()
        .filter_map(|p| std::fs::symlink_metadata(&p).ok().map(|m| (p, m)))
        .collect();
    let same = found
        .iter()
        .find(|(_, m)| m.ino() == w.ino && m.dev() == u64::from(w.dev));
    match same.or(found.first()) {
        Some((p, _)) => Ok(p.clone()),
        None => bail!(
            "watch {} on {} (inode {} of device {}:{}): no such file here",
            w.wd,
            w.path,
            w.ino,
            libc::major(w.dev.into()),
            libc::minor(w.dev.into())
        ),
    }
}

/// Adds watch `w` at `path`, removing and adding it again until its descriptor is the
/// image's (at most `w.wd` rounds: descriptors only grow).
fn add(ino: &OwnedFd, w: &Watch, path: &str, made: &HashSet<i32>) -> Result<()> {
    let c = CString::new(path).context("NUL in the path")?;
    // The path's last component is the watched inode itself (never a link to it); a
    // second watch on one inode would merge with the first: refused.
    let mask = w.mask | libc::IN_DONT_FOLLOW | libc::IN_MASK_CREATE;
    let what = || format!("watch {} on {path}", w.wd);
    loop {
        let wd = match sys::add_watch(ino.as_fd(), &c, mask) {
            Ok(wd) => wd,
            Err(Errno::EEXIST) => bail!(
                "{}: another watch of this inotify is on that file here",
                what()
            ),
            Err(e) => return Err(e).with_context(what),
        };
        if wd == w.wd {
            return Ok(());
        }
        if wd > w.wd || made.contains(&wd) {
            bail!("{}: the kernel gave watch descriptor {wd}", what());
        }
        sys::rm_watch(ino.as_fd(), wd).with_context(what)?;
    }
}

/// Reads every queued event, until none is left (`IN_IGNORED` of the watches removed).
fn drain(ino: &OwnedFd) -> Result<()> {
    let mut buf = [0u8; 4096];
    loop {
        match nix::unistd::read(ino, &mut buf) {
            Ok(0) | Err(Errno::EAGAIN) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(e).context("emptying the queue"),
        }
    }
}

/// Makes the inotify whose descriptor `f` is (the first of its description), with its
/// watches and the status flags of its `FILE` record.
pub fn make(image: &Image, f: &OpenFile) -> Result<OwnedFd> {
    let r = &f.rec;
    let i: &InotifyImage = image
        .inotify
        .get(&r.obj)
        .with_context(|| format!("fd {}: no INOTIFY record {}", r.fd, r.obj))?;
    let ino = sys::init(libc::IN_NONBLOCK | libc::IN_CLOEXEC)
        .with_context(|| format!("fd {}: inotify_init1", r.fd))?;
    let mountinfo =
        std::fs::read_to_string("/proc/self/mountinfo").context("/proc/self/mountinfo")?;
    let mut made = HashSet::new();
    for w in &i.watches {
        let path = locate(w, &mountinfo).with_context(|| format!("fd {}: inotify", r.fd))?;
        add(&ino, w, &path, &made).with_context(|| format!("fd {}: inotify", r.fd))?;
        made.insert(w.wd);
    }
    drain(&ino).with_context(|| format!("fd {}: inotify", r.fd))?;
    // `O_NONBLOCK` as the image had it (the record's flags are checked to be it and
    // `O_RDONLY`, `O_CLOEXEC`).
    let status = OFlag::from_bits_retain(r.flags as i32) & OFlag::O_NONBLOCK;
    fcntl(&ino, FcntlArg::F_SETFL(status)).with_context(|| format!("fd {}: flags", r.fd))?;
    Ok(ino)
}
