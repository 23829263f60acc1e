// SPDX-License-Identifier: GPL-2.0

//! The FPU state: what this CPU saves, and the final `XRSTOR` + restart ioctl.

use std::os::fd::RawFd;

use anyhow::{ensure, Result};

use ckptlib::abi;

/// XCR0 and the XSAVE area size it needs on this CPU.
pub fn cpu_xsave() -> (u64, usize) {
    // CPUID leaf 0xD, sub-leaf 0: EBX is the XSAVE area size for the features XCR0 enables.
    let size = core::arch::x86_64::__cpuid_count(0xd, 0).ebx as usize;
    (ckptlib::sys::xcr0(), size)
}

#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Chunk([u8; 64]);

/// A copy of an image's XSAVE area, 64-byte aligned as `XRSTOR` wants it.
///
/// # Invariants
///
/// `chunks` starts with the image's area (checked by `ckptlib::restart::check_xstate`
/// against this CPU before any process is created).
pub struct XsaveArea {
    chunks: Vec<Chunk>,
}

impl XsaveArea {
    pub fn new(area: &[u8]) -> Result<XsaveArea> {
        ensure!(area.len() >= 576, "an XSAVE area of {} bytes", area.len());
        let mut chunks = vec![Chunk([0; 64]); area.len().div_ceil(64)];
        for (c, a) in chunks.iter_mut().zip(area.chunks(64)) {
            c.0[..a.len()].copy_from_slice(a);
        }
        Ok(XsaveArea { chunks })
    }
}

/// Loads `area` into the FPU and calls `CKPT_IOC_RESTART` on `dev` with `args`, with nothing
/// between the two that could touch that state: both are in one `asm!` block. On success
/// the ioctl never returns here; on failure it returns the errno (and this code runs on with
/// the image's FPU control state, which only the error path uses).
///
/// Raw system call, no allocation: a task started by [`super::clone::spawn_vm`] calls it.
pub fn restart(area: &XsaveArea, dev: RawFd, args: &abi::CkptRestartArgs) -> nix::errno::Errno {
    let ret: i64;
    // SAFETY: `area` is 64-byte aligned and holds a checked XSAVE image (type invariant),
    // which XRSTOR with an all-ones mask loads, every enabled component; a bad one only
    // faults (SIGSEGV), it writes no memory. `args` is a valid argument struct the kernel
    // reads (and the `reason` buffer it names, which it writes). The clobbers cover every
    // register the ABI lets a call change.
    unsafe {
        core::arch::asm!(
            "mov eax, -1",
            "mov edx, -1",
            "xrstor64 [r8]",
            "mov rdx, r9",
            "mov eax, {nr}",
            "syscall",
            nr = const libc::SYS_ioctl,
            // Fixed registers: generic ones could be rax or rdx, overwritten before use.
            in("r8") area.chunks.as_ptr(),
            in("r9") args as *const abi::CkptRestartArgs,
            in("rdi") dev as u64,
            in("rsi") abi::CKPT_IOC_RESTART as u64,
            out("rax") ret,
            clobber_abi("C"),
        );
    }
    nix::errno::Errno::from_raw(-ret as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xsave_copy_is_aligned_and_whole() {
        let src: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
        let a = XsaveArea::new(&src).unwrap();
        assert_eq!(a.chunks.as_ptr() as usize % 64, 0);
        assert_eq!(a.chunks.len(), 16);
        let flat: Vec<u8> = a.chunks.iter().flat_map(|c| c.0).take(1000).collect();
        assert_eq!(flat, src);
        assert!(XsaveArea::new(&[0; 64]).is_err());
    }
}
