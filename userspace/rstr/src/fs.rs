// SPDX-License-Identifier: GPL-2.0

//! The fs context: root, working directory and umask, restored by the process that owns
//! it (the first of the tasks sharing it, see [`crate::plan`]); the others share it with
//! `CLONE_FS`.

use anyhow::{Context, Result};
use nix::sys::stat::{umask, Mode};
use nix::unistd::{chdir, chroot};

use ckptlib::restart::TaskImage;

/// The root (`chroot`, unless it is `/`) and the umask, first thing: every path opened
/// afterwards by this process is the image's.
pub fn enter_root(t: &TaskImage) -> Result<()> {
    let Some((root, _)) = &t.fs else {
        return Ok(());
    };
    if root != "/" {
        chroot(root.as_str()).with_context(|| format!("chroot {root}"))?;
    }
    // Cannot fail; returns the previous mask.
    umask(Mode::from_bits_retain(t.task.umask));
    Ok(())
}

/// The working directory, last, with the image's credentials: the image's user must be
/// able to reach it.
pub fn enter_cwd(t: &TaskImage) -> Result<()> {
    if let Some((_, cwd)) = &t.fs {
        chdir(cwd.as_str()).with_context(|| format!("chdir {cwd}"))?;
    }
    Ok(())
}
