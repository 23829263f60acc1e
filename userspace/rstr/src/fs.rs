// SPDX-License-Identifier: GPL-2.0

//! The fs context: root, working directory and umask, restored by the process that owns
//! it (the first of the tasks sharing it, see [`crate::plan`]); the others share it with
//! `CLONE_FS`.
//!
//! A working directory that had been removed comes back removed: an empty directory with
//! its mode, owner and group is made where it was (a removed directory takes no new entry,
//! so it was empty for good), opened, and removed again; the process enters it last.

use std::os::fd::OwnedFd;

use anyhow::{Context, Result};
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::{fchmod, umask, Mode};
use nix::unistd::{chdir, chroot, fchdir, fchown, getpid, mkdir, Gid, Uid};

use ckptlib::restart::{RemovedDir, TaskImage};

/// The working directory to enter last: by path, or a removed one already made.
pub enum Cwd {
    None,
    Path(String),
    Removed(OwnedFd),
}

/// The root (`chroot`, unless it is `/`) and the umask, first thing: every path opened
/// afterwards by this process is the image's. A removed working directory is made now,
/// while the process still has `rstr`'s credentials (to give it the image's owner).
pub fn enter_root(t: &TaskImage) -> Result<Cwd> {
    let Some(fs) = &t.fs else {
        return Ok(Cwd::None);
    };
    if fs.root != "/" {
        chroot(fs.root.as_str()).with_context(|| format!("chroot {}", fs.root))?;
    }
    let cwd = match fs.cwd_removed {
        Some(dir) => Cwd::Removed(
            make_removed(&fs.cwd, dir)
                .with_context(|| format!("the removed working directory {}", fs.cwd))?,
        ),
        None => Cwd::Path(fs.cwd.clone()),
    };
    // Cannot fail; returns the previous mask.
    umask(Mode::from_bits_retain(t.task.umask));
    Ok(cwd)
}

/// The working directory, last, with the image's credentials: the image's user must be
/// able to reach it.
pub fn enter_cwd(cwd: Cwd) -> Result<()> {
    match cwd {
        Cwd::None => Ok(()),
        Cwd::Path(p) => chdir(p.as_str()).with_context(|| format!("chdir {p}")),
        Cwd::Removed(fd) => fchdir(&fd).context("entering the removed working directory"),
    }
}

/// An empty directory at `path` (or, if something took that name since, beside it), with
/// the removed one's mode and owner, opened and removed.
fn make_removed(path: &str, dir: RemovedDir) -> Result<OwnedFd> {
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
    let opened = open(
        made.as_str(),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .with_context(|| format!("opening {made}"));
    let owned = opened.and_then(|fd| {
        fchown(
            &fd,
            Some(Uid::from_raw(dir.uid)),
            Some(Gid::from_raw(dir.gid)),
        )
        .with_context(|| format!("chown {made} to {}:{}", dir.uid, dir.gid))?;
        fchmod(&fd, Mode::from_bits_retain(dir.mode))
            .with_context(|| format!("chmod {made} to {:04o}", dir.mode))?;
        Ok(fd)
    });
    let removed = std::fs::remove_dir(&made).with_context(|| format!("rmdir {made}"));
    let fd = owned?;
    removed?;
    Ok(fd)
}
