// SPDX-License-Identifier: GPL-2.0

//! The memory calls of [`crate::cow`]: on the areas of the image that `rstr` maps at their
//! places for the restored process. No Rust object of `rstr` ever lives in them: they are
//! mapped with `MAP_FIXED_NOREPLACE`, so they never replace memory of `rstr`'s, and only
//! these functions read or write them.

use std::os::fd::BorrowedFd;

use nix::errno::Errno;

/// Maps `[start, start + len)` private and anonymous with protection `prot` (`PROT_*`),
/// where nothing is mapped yet: `EEXIST` if anything is.
pub fn map_fixed(start: u64, len: u64, prot: u32) -> Result<(), Errno> {
    let prot = prot as i32;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED_NOREPLACE;
    // SAFETY: a new anonymous mapping that replaces nothing (NOREPLACE): no memory Rust
    // uses changes.
    let got = unsafe { libc::mmap(start as *mut _, len as usize, prot, flags, -1, 0) };
    if got == libc::MAP_FAILED {
        return Err(Errno::last());
    }
    if got as u64 != start {
        // A kernel that ignores NOREPLACE (older than 4.17) places it elsewhere: undo.
        unmap(got as u64, len)?;
        return Err(Errno::EEXIST);
    }
    Ok(())
}

/// Unmaps `[start, start + len)`, an area [`map_fixed`] mapped here or in a parent.
pub fn unmap(start: u64, len: u64) -> Result<(), Errno> {
    // SAFETY: the range is one of the image's areas mapped by `map_fixed` (here or in the
    // parent, inherited across fork): no Rust object lives there.
    Errno::result(unsafe { libc::munmap(start as *mut _, len as usize) }).map(drop)
}

/// Drops the pages of `[start, start + len)`: reads give zeros again (`MADV_DONTNEED`).
pub fn discard(start: u64, len: u64) -> Result<(), Errno> {
    // SAFETY: as `unmap`: an area of the image's, holding no Rust object.
    Errno::result(unsafe { libc::madvise(start as *mut _, len as usize, libc::MADV_DONTNEED) })
        .map(drop)
}

/// Sets the protection of `[start, start + len)` to `prot` (`PROT_*`).
pub fn protect(start: u64, len: u64, prot: u32) -> Result<(), Errno> {
    // SAFETY: as `unmap`: an area of the image's, holding no Rust object.
    Errno::result(unsafe { libc::mprotect(start as *mut _, len as usize, prot as i32) }).map(drop)
}

/// Reads `len` bytes of `fd` at offset `at` into the memory at `addr`, in the kernel: a
/// page that cannot be had fails the read (`EFAULT`) instead of waiting for memory. On
/// failure, the errno and the bytes read before it; `EIO` if the file ends first.
pub fn read_in(fd: BorrowedFd, at: u64, addr: u64, len: usize) -> Result<(), (Errno, usize)> {
    // SAFETY: `[addr, addr + len)` lies in a writable area mapped by `map_fixed`, which no
    // Rust object uses, so this slice aliases nothing; only the kernel writes it.
    let buf = unsafe { std::slice::from_raw_parts_mut(addr as *mut u8, len) };
    read_exact_at(fd, at, buf)
}

/// Fills `buf` from `fd` at offset `at`; on failure, the errno and the bytes read before
/// it (`EIO` if the file ends first).
pub fn read_exact_at(fd: BorrowedFd, at: u64, buf: &mut [u8]) -> Result<(), (Errno, usize)> {
    let mut done = 0;
    while done < buf.len() {
        match nix::sys::uio::pread(fd, &mut buf[done..], (at + done as u64) as i64) {
            Ok(0) => return Err((Errno::EIO, done)),
            Ok(n) => done += n,
            Err(Errno::EINTR) => {}
            Err(e) => return Err((e, done)),
        }
    }
    Ok(())
}

/// Whether the memory at `addr` holds `data` already. Only reads: a page not there reads
/// as the shared zero page, and no memory is allocated.
pub fn holds(addr: u64, data: &[u8]) -> bool {
    // SAFETY: `data.len()` bytes from `addr` lie in an area of the image's mapped by
    // `map_fixed` (readable while it is filled), holding no Rust object; nothing writes
    // it meanwhile (one thread).
    let mem = unsafe { std::slice::from_raw_parts(addr as *const u8, data.len()) };
    mem == data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_update_discard() {
        let rw = (libc::PROT_READ | libc::PROT_WRITE) as u32;
        // A place nothing uses: mapped by the kernel's choice, then freed. Another test's
        // thread may map something there in between: then another place.
        let probe = (0..100)
            .find_map(|_| {
                // SAFETY: a new mapping where the kernel chooses: it replaces nothing.
                let probe = unsafe {
                    libc::mmap(
                        std::ptr::null_mut(),
                        3 * 4096,
                        libc::PROT_NONE,
                        libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                        -1,
                        0,
                    )
                } as u64;
                unmap(probe, 3 * 4096).unwrap();
                map_fixed(probe, 2 * 4096, rw).ok().map(|()| probe)
            })
            .expect("a free place for two pages");
        assert_eq!(map_fixed(probe + 4096, 2 * 4096, rw), Err(Errno::EEXIST));
        let page = [7u8; 4096];
        assert!(holds(probe, &[0u8; 4096]));
        let f = std::fs::File::open("/proc/self/exe").unwrap();
        use std::os::fd::AsFd;
        read_in(f.as_fd(), 0, probe, 4096).unwrap();
        assert!(holds(
            probe,
            &std::fs::read("/proc/self/exe").unwrap()[..4096]
        ));
        assert!(!holds(probe, &page));
        discard(probe, 4096).unwrap();
        assert!(holds(probe, &[0u8; 4096]));
        assert_eq!(
            read_in(f.as_fd(), f.metadata().unwrap().len(), probe, 4096),
            Err((Errno::EIO, 0))
        );
        protect(probe, 2 * 4096, libc::PROT_READ as u32).unwrap();
        unmap(probe, 2 * 4096).unwrap();
    }
}
