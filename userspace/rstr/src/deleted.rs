// SPDX-License-Identifier: GPL-2.0

//! Deleted files (`FILE`s of kind `DELETED`, with their `DELETED` and `FILE_DATA`
//! records): each file is made again once, before the first fork, with `O_TMPFILE` in the
//! directory its path had (so on the same filesystem, and never linked: its link count
//! stays 0), filled with its data at its offsets (what no record covers stays a hole), cut
//! to its size and given its owner when `rstr` may (`fchown`; else it is `rstr`'s user's).
//! Each open file description is then opened again through `/proc/self/fd/N` with its
//! own flags and offset. The mode is set last ([`Made::finish`]), once every description
//! is open: a read-only file's `O_RDWR` descriptions open before it is read-only again.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use anyhow::{ensure, Context, Result};
use ckptlib::deleted::DeletedImage;
use ckptlib::restart::{Image, OpenFile};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::{fchmod, Mode};
use nix::sys::uio::pwrite;
use nix::unistd::{fchown, ftruncate, lseek, Gid, Uid, Whence};

/// The files (and memfds) made so far, by id, with what each takes at the end: its mode,
/// and a memfd its seals.
pub struct Made(HashMap<u32, (OwnedFd, u32, u32)>);

impl Made {
    pub fn new() -> Self {
        Made(HashMap::new())
    }

    /// The file `id`, made with `make` from its record the first time it is asked for.
    fn get_or_make(
        &mut self,
        image: &Image,
        id: u32,
        make: impl FnOnce(&DeletedImage) -> Result<OwnedFd>,
    ) -> Result<&OwnedFd> {
        Ok(match self.0.entry(id) {
            Entry::Occupied(e) => &e.into_mut().0,
            Entry::Vacant(v) => {
                let d = &image.deleted[&id];
                let seals = d.memfd.as_ref().map_or(0, |m| m.seals);
                &v.insert((make(d)?, d.rec.mode, seals)).0
            }
        })
    }

    /// Makes the file `id` that memory areas map (the first of them at `path`), if no
    /// descriptor made it: a memfd by its name, a deleted file in the directory of `path`.
    pub fn mapped(&mut self, image: &Image, id: u32, path: &str) -> Result<()> {
        let what = format!("mapped {path}");
        let dir = Path::new(path).parent().unwrap_or(Path::new("/"));
        self.get_or_make(image, id, |d| match &d.memfd {
            Some(m) => crate::memfd::make(&m.name, d, &what),
            None => make(d, dir, &what),
        })?;
        Ok(())
    }

    /// Gives each file its mode, then each memfd its seals, once every description of it
    /// is open (a write seal comes after the writes, an exec seal after the mode); returns
    /// the files by id.
    pub fn finish(self) -> Result<HashMap<u32, OwnedFd>> {
        let mut fds = HashMap::new();
        for (id, (fd, mode, seals)) in self.0 {
            fchmod(&fd, Mode::from_bits_truncate(mode & 0o7777))
                .with_context(|| format!("file {id}: mode {:#o}", mode & 0o7777))?;
            if seals != 0 {
                crate::memfd::seal(&fd, seals).with_context(|| format!("memfd {id}"))?;
            }
            fds.insert(id, fd);
        }
        Ok(fds)
    }
}

/// Writes all of `data` at `offset`.
fn write_at(fd: &OwnedFd, mut data: &[u8], mut offset: u64) -> Result<(), Errno> {
    // Ends: every round writes at least one byte or returns.
    while !data.is_empty() {
        match pwrite(fd, data, offset as i64)? {
            0 => return Err(Errno::ENOSPC),
            n => {
                data = &data[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}

/// Writes the data of `d` into the new file `fd` and cuts it to its size.
pub fn fill(fd: &OwnedFd, d: &DeletedImage, what: &str) -> Result<()> {
    for (offset, bytes) in &d.data {
        write_at(fd, bytes, *offset)
            .with_context(|| format!("{what}: writing {} bytes at {offset}", bytes.len()))?;
    }
    ftruncate(fd, d.rec.size as i64).with_context(|| format!("{what}: size {}", d.rec.size))?;
    Ok(())
}

/// Makes the file again in `dir`, unnamed, with its data, size and owner.
fn make(d: &DeletedImage, dir: &Path, what: &str) -> Result<OwnedFd> {
    let fd = nix::fcntl::open(
        dir,
        OFlag::O_TMPFILE | OFlag::O_RDWR | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(std::io::Error::from)
    .with_context(|| format!("{what}: making it again in {} (O_TMPFILE)", dir.display()))?;
    fill(&fd, d, what)?;
    // Its owner if rstr may give it (root, or the owner itself); else it stays rstr's user's.
    match fchown(
        &fd,
        Some(Uid::from_raw(d.rec.uid)),
        Some(Gid::from_raw(d.rec.gid)),
    ) {
        Ok(()) | Err(Errno::EPERM) => {}
        Err(e) => return Err(e).with_context(|| format!("{what}: owner")),
    }
    Ok(fd)
}

/// Opens the description `f` of a deleted file or memfd, making it first (with `make`)
/// if it is the first description of it met.
pub fn open_with(
    image: &Image,
    f: &OpenFile,
    made: &mut Made,
    what: &str,
    make: impl FnOnce(&DeletedImage) -> Result<OwnedFd>,
) -> Result<OwnedFd> {
    let r = &f.rec;
    let file = made.get_or_make(image, r.pipe, make)?;
    let saved = OFlag::from_bits_retain(r.flags as i32)
        - (OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_TRUNC | OFlag::O_CLOEXEC);
    let flags = saved | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
    let fd = nix::fcntl::open(
        format!("/proc/self/fd/{}", file.as_raw_fd()).as_str(),
        flags,
        Mode::empty(),
    )
    .map_err(std::io::Error::from)
    .with_context(|| format!("{what}: opening it again"))?;
    let at = lseek(&fd, r.pos, Whence::SeekSet);
    ensure!(at == Ok(r.pos), "{what}: cannot seek to {}", r.pos);
    Ok(fd)
}

/// Opens the description `f` of a deleted file, making the file first in the directory
/// its path had.
pub fn open(image: &Image, f: &OpenFile, made: &mut Made) -> Result<OwnedFd> {
    let what = format!("fd {}: deleted file {}", f.rec.fd, f.path);
    let dir = Path::new(&f.path).parent().unwrap_or(Path::new("/"));
    open_with(image, f, made, &what, |d| make(d, dir, &what))
}
