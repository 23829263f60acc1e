// SPDX-License-Identifier: GPL-2.0

//! The fs context: root, working directory and umask, restored by the process that owns
//! it (the first of the tasks sharing it, see [`crate::plan`]); the others share it with
//! `CLONE_FS`.
//!
//! A working directory that had been removed comes back removed: an empty directory with
//! its mode, owner and group is made where it was, opened, and removed again
//! ([`crate::removed_dir::make`]); the process enters it last.

use std::os::fd::OwnedFd;

use anyhow::{Context, Result};
use nix::sys::stat::{umask, Mode};
use nix::unistd::{chdir, chroot, fchdir};

use ckptlib::restart::TaskImage;

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
            crate::removed_dir::make(&fs.cwd, dir, &[])
                .with_context(|| format!("the removed working directory {}", fs.cwd))?
                .0,
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
