// SPDX-License-Identifier: GPL-2.0

//! memfds (`FILE`s of kind `MEMFD`, with their `MEMFD` and `FILE_DATA` records): each is
//! made once, before the first fork, with `memfd_create` on its name, sealable
//! (`MFD_ALLOW_SEALING`) and executable (`MFD_EXEC`, where the `vm.memfd_noexec` sysctl
//! allows it) so that its saved mode and seals can be given back; filled like a deleted
//! file ([`crate::deleted`]), then each description is opened again through
//! `/proc/self/fd/N` with its flags and offset. Last, once every description is open, its
//! mode and then its seals (`F_ADD_SEALS`): with `F_SEAL_SEAL` among them, no more seals
//! can be added, as for a memfd made without `MFD_ALLOW_SEALING`.

use std::os::fd::{AsFd, OwnedFd};

use anyhow::{Context, Result};
use ckptlib::deleted::DeletedImage;
use ckptlib::restart::{Image, OpenFile};
use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, SealFlag};
use nix::sys::memfd::{memfd_create, MFdFlags};

use crate::deleted::{fill, open_with, Made};

/// A new memfd named `name`, sealable, executable if the system lets it be.
fn create(name: &str) -> Result<OwnedFd, Errno> {
    let base = MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING;
    let exec = MFdFlags::from_bits_retain(libc::MFD_EXEC);
    let cname = std::ffi::CString::new(name).map_err(|_| Errno::EINVAL)?;
    match memfd_create(cname.as_c_str(), base | exec) {
        // vm.memfd_noexec 2 refuses MFD_EXEC (EACCES), older kernels do not know it.
        Err(Errno::EACCES | Errno::EINVAL) => memfd_create(cname.as_c_str(), base),
        r => r,
    }
}

/// Adds `seals` to the memfd `fd`.
pub fn seal(fd: &OwnedFd, seals: u32) -> Result<()> {
    let s = SealFlag::from_bits_retain(seals as libc::c_int);
    fcntl(fd.as_fd(), FcntlArg::F_ADD_SEALS(s)).with_context(|| format!("seals {seals:#x}"))?;
    Ok(())
}

/// Opens the description `f` of a memfd, making the memfd first.
pub fn open(image: &Image, f: &OpenFile, made: &mut Made) -> Result<OwnedFd> {
    let what = format!("fd {}: memfd {}", f.rec.fd, f.path);
    open_with(image, f, made, &what, |d| {
        let name = d.memfd.as_ref().map_or("", |m| m.name.as_str());
        make(name, d, &what)
    })
}

/// A new memfd named `name` with the data of `d`.
pub fn make(name: &str, d: &DeletedImage, what: &str) -> Result<OwnedFd> {
    let fd = create(name).with_context(|| format!("{what}: memfd_create"))?;
    fill(&fd, d, what)?;
    Ok(fd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ckptlib::abi::image::CkptDeletedRec;
    use nix::sys::uio::{pread, pwrite};

    #[test]
    fn seals_that_forbid_writes_come_after_the_data() {
        // Sealed against writes, growing and shrinking, and sealed: as the image says,
        // with its data written first and its size set.
        let seals =
            (libc::F_SEAL_WRITE | libc::F_SEAL_GROW | libc::F_SEAL_SHRINK | libc::F_SEAL_SEAL)
                as u32;
        let d = DeletedImage {
            rec: CkptDeletedRec {
                id: 1,
                mode: libc::S_IFREG | 0o600,
                uid: 0,
                gid: 0,
                size: 8192,
            },
            memfd: None,
            data: vec![(0, b"head".to_vec()), (4096, b"tail".to_vec())],
        };
        let fd = create("rstr-test").unwrap();
        fill(&fd, &d, "memfd").unwrap();
        seal(&fd, seals).unwrap();
        let got = fcntl(fd.as_fd(), FcntlArg::F_GET_SEALS).unwrap() as u32;
        assert_eq!(got, seals);
        let mut b = [0u8; 4];
        assert_eq!(pread(&fd, &mut b, 4096), Ok(4));
        assert_eq!(&b, b"tail");
        assert_eq!(pwrite(&fd, b"x", 0), Err(Errno::EPERM));
        assert_eq!(nix::sys::stat::fstat(&fd).unwrap().st_size, 8192);
    }
}
