// SPDX-License-Identifier: GPL-2.0

//! Named pipes (FIFOs), `FILE` records of kind `FIFO` and their `PIPE` record.
//!
//! The first time a FIFO is met, `rstr` opens a *holder* on it, `O_RDWR | O_NONBLOCK`: with
//! it open, the FIFO has a reader and a writer, so that every description of the image
//! opens at once (an `O_WRONLY` open neither blocks nor fails with `ENXIO`). Through the
//! holder the FIFO is sized (`F_SETPIPE_SZ`) and refilled with its saved bytes, once. Each
//! description is then opened on its own (it has its own flags), non-blocking, and given
//! its saved status flags (`O_NONBLOCK` cleared where it had none). The holders are closed
//! when every file of the image is open ([`crate::files::park`]).
//!
//! A FIFO saved without a path (its path was removed) is made again as a private FIFO: a
//! `mkfifo` in a new directory of `$TMPDIR`, `/dev/shm`, `/run` or `/tmp` (the first that
//! takes it), opened by the holder and removed at once; its
//! descriptions are opened through the holder (`/proc/self/fd/N`), so they share its pipe.
//! A FIFO that already holds bytes when `rstr` opens it (another process, outside the
//! restart, uses it) fails the restart: its bytes and the saved ones would mix.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::PathBuf;

use anyhow::{bail, ensure, Context, Result};
use ckptlib::restart::{Image, OpenFile, PipeImage};
use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::stat::{fstat, Mode, SFlag};
use nix::unistd::{mkdtemp, mkfifo, write};

/// One holder per FIFO of the image, by pipe id, and the path its descriptions open.
pub struct Holders(HashMap<u32, (OwnedFd, String)>);

impl Holders {
    pub fn new() -> Self {
        Holders(HashMap::new())
    }
}

/// Opens `path` as a FIFO, for reading and writing, without blocking. The path is looked
/// up first with `O_PATH`, which opens nothing: a path the image names that is not a FIFO
/// (a device whose open acts, a file) is refused before it is opened.
fn open_holder(path: &str, what: &str) -> Result<OwnedFd> {
    let at = nix::fcntl::open(path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(std::io::Error::from)
        .with_context(|| format!("{what}: open {path}"))?;
    let st = fstat(&at).with_context(|| format!("{what}: fstat {path}"))?;
    ensure!(
        SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFIFO,
        "{what}: {path} is no longer a FIFO"
    );
    let flags = OFlag::O_RDWR | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
    let fd = nix::fcntl::open(
        format!("/proc/self/fd/{}", at.as_raw_fd()).as_str(),
        flags,
        Mode::empty(),
    )
    .map_err(std::io::Error::from)
    .with_context(|| format!("{what}: open {path}"))?;
    Ok(fd)
}

/// Where a private FIFO is made, the first that takes it: `$TMPDIR`, then tmpfs mounts
/// usual everywhere, then `/tmp`.
fn private_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("TMPDIR")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    dirs.extend(["/dev/shm", "/run", "/tmp"].map(PathBuf::from));
    dirs
}

/// A private FIFO of mode `mode`, open by its holder, its path already removed.
fn private_fifo(mode: u32, what: &str) -> Result<OwnedFd> {
    let mut tried = Vec::new();
    for top in private_dirs() {
        let dir = match mkdtemp(&top.join("rstr-fifo-XXXXXX")) {
            Ok(d) => d,
            Err(e) => {
                tried.push(format!("{}: {}", top.display(), e.desc()));
                continue;
            }
        };
        let path: PathBuf = dir.join("fifo");
        let made = mkfifo(&path, Mode::from_bits_truncate(mode & 0o777))
            .map_err(|e| anyhow::anyhow!("mkfifo {}: {}", path.display(), e.desc()))
            .and_then(|()| open_holder(&path.to_string_lossy(), what));
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_dir(&dir);
        match made {
            Ok(fd) => return Ok(fd),
            Err(e) => tried.push(format!("{e:#}")),
        }
    }
    bail!(
        "{what}: no directory takes a private FIFO ({})",
        tried.join("; ")
    )
}

/// Sizes the FIFO held by `holder` and refills it with its saved bytes, once; it must be
/// empty (no other process uses it).
fn refill(holder: &OwnedFd, p: &PipeImage, what: &str) -> Result<()> {
    let there = crate::sys::unread(holder.as_fd()).with_context(|| format!("{what}: FIONREAD"))?;
    ensure!(
        there == 0,
        "{what}: it already holds {there} bytes: a process outside the restart uses it"
    );
    if p.capacity > 0 {
        fcntl(holder, FcntlArg::F_SETPIPE_SZ(p.capacity as libc::c_int))
            .with_context(|| format!("{what}: capacity {}", p.capacity))?;
    }
    if !p.data.is_empty() {
        // Empty and at least as large as its contents: one write fills it.
        let n = write(holder, &p.data)
            .with_context(|| format!("{what}: refilling {} bytes", p.data.len()))?;
        ensure!(
            n == p.data.len(),
            "{what}: refilling {} bytes: {n} written",
            p.data.len()
        );
    }
    Ok(())
}

/// Opens the description `f` of a FIFO, making (or opening) and refilling the FIFO first if
/// it is the first one met.
pub fn open(image: &Image, f: &OpenFile, holders: &mut Holders) -> Result<OwnedFd> {
    let r = &f.rec;
    let what = if f.path.is_empty() {
        format!("fd {}: FIFO {} (its path removed)", r.fd, r.pipe)
    } else {
        format!("fd {}: FIFO {}", r.fd, f.path)
    };
    if let Entry::Vacant(v) = holders.0.entry(r.pipe) {
        let holder = if f.path.is_empty() {
            private_fifo(r.mode, &what)?
        } else {
            open_holder(&f.path, &what)?
        };
        refill(&holder, &image.pipes[&r.pipe], &what)?;
        let at = if f.path.is_empty() {
            format!("/proc/self/fd/{}", holder.as_raw_fd())
        } else {
            f.path.clone()
        };
        v.insert((holder, at));
    }
    let at = &holders.0[&r.pipe].1;
    let status = OFlag::from_bits_retain(r.flags as i32)
        - (OFlag::O_ACCMODE | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_TRUNC | OFlag::O_CLOEXEC);
    let access = OFlag::from_bits_retain(r.flags as i32) & OFlag::O_ACCMODE;
    let fd = nix::fcntl::open(
        at.as_str(),
        access | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC | OFlag::O_NOCTTY,
        Mode::empty(),
    )
    .map_err(std::io::Error::from)
    .with_context(|| format!("{what}: open"))?;
    ensure!(
        fstat(&fd).map(|s| s.st_ino) == fstat(&holders.0[&r.pipe].0).map(|s| s.st_ino),
        "{what}: {at} changed while it was opened"
    );
    fcntl(&fd, FcntlArg::F_SETFL(status)).with_context(|| format!("{what}: flags"))?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_that_is_no_fifo_is_refused_unopened() {
        let e = open_holder("/dev/null", "fd 3: FIFO /dev/null").unwrap_err();
        assert!(
            format!("{e:#}").contains("/dev/null is no longer a FIFO"),
            "{e:#}"
        );
        let dir = mkdtemp(&std::env::temp_dir().join("rstr-test-XXXXXX")).unwrap();
        let path = dir.join("f");
        mkfifo(&path, Mode::from_bits_truncate(0o600)).unwrap();
        let fd = open_holder(path.to_str().unwrap(), "fd 3").unwrap();
        assert_eq!(write(&fd, b"x"), Ok(1));
        assert_eq!(crate::sys::unread(fd.as_fd()).unwrap(), 1);
        std::fs::remove_file(&path).unwrap();
        std::fs::remove_dir(&dir).unwrap();
    }
}
