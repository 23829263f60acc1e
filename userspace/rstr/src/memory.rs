// SPDX-License-Identifier: GPL-2.0

//! What a process does around the module's restore of its memory (the module replaces
//! every mapping, kmod/memory.rs): what stays its own, which the module does not touch
//! (the THP policy), and what must be in place before (the vDSO at the image's address,
//! the rseq area registered, glibc's own unregistered).

use anyhow::{bail, Context, Result};

use ckptlib::abi::image as img;
use ckptlib::restart::TaskImage;

use crate::per_task::{Failed, Step};
use crate::sys::{self, raw};

/// The THP policy of the memory (`PR_SET_THP_DISABLE`), which stays the process's when the
/// module replaces its mappings.
pub fn set_thp(t: &TaskImage) -> Result<()> {
    if t.task.thp_disable != 0 {
        let flags = t.task.thp_disable & !1;
        sys::set_thp_disable(flags).with_context(|| format!("PR_SET_THP_DISABLE 1 {flags:#x}"))?;
    }
    Ok(())
}

/// Unmaps our vDSO and vvar and maps them again so that the vDSO text is at the image's
/// address. `arch_prctl(ARCH_MAP_VDSO_64, addr)` places the vvar pages at `addr` and the
/// text after them: the distance is read off our own layout, which the same kernel made.
/// From here on this process must not call into the vDSO (no clock_gettime through libc).
pub fn move_vdso(t: &TaskImage) -> Result<()> {
    let want = t.task.vdso_base;
    if want == 0 {
        bail!("the image has no vDSO: not supported yet");
    }
    let maps = std::fs::read_to_string("/proc/self/maps").context("/proc/self/maps")?;
    let (ranges, to_text) = ckptlib::procfs::vdso_layout(&maps)?;
    let block = want
        .checked_sub(to_text)
        .context("the image's vDSO address is too low")?;
    sys::remap_vdso(&ranges, block).with_context(|| format!("moving the vDSO to {want:#x}"))
}

/// Whether the image's rseq registration is one the kernel takes: 32-byte aligned, 32 bytes
/// to a page long.
pub fn rseq_ok(t: &img::CkptTaskRec) -> bool {
    t.rseq.is_multiple_of(32) && t.rseq_len >= 32 && t.rseq_len <= 4096
}

/// Registers the task's rseq area at the image's address: a scratch page is mapped there
/// first, because the kernel writes the area as soon as it is registered; the module
/// replaces that page with the image's own, and the kernel keeps updating the restored area
/// from then on. A page `rstr` has already mapped with the image's contents (`held`,
/// [`crate::cow`]) is used as it is. A process unregisters glibc's own area first
/// ([`crate::task`]); a thread started by its process has none. Raw system calls only:
/// threads run it.
pub fn register_rseq(t: &img::CkptTaskRec, held: bool) -> Result<(), Failed> {
    if t.rseq == 0 {
        return Ok(());
    }
    if !rseq_ok(t) {
        return Err(Failed {
            step: "bad rseq area in the TASK record",
            errno: nix::errno::Errno::EINVAL,
        });
    }
    let page = t.rseq & !4095;
    let collides = "the image's rseq area collides with rstr's own memory: try again";
    if !held && raw::map_scratch_page(page).step(collides)? != page {
        return Err(Failed {
            step: collides,
            errno: nix::errno::Errno::EEXIST,
        });
    }
    raw::rseq_register(t.rseq, t.rseq_len, t.rseq_sig).step("registering the image's rseq area")
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    #[test]
    fn rseq_areas_the_kernel_takes() {
        let mut t = img::CkptTaskRec::new_zeroed();
        (t.rseq, t.rseq_len) = (0x7f00_0020, 32);
        assert!(rseq_ok(&t));
        t.rseq += 8;
        assert!(!rseq_ok(&t));
        (t.rseq, t.rseq_len) = (0x7f00_0020, 8192);
        assert!(!rseq_ok(&t));
    }
}
