// SPDX-License-Identifier: GPL-2.0

//! Facts about this CPU and the clock.

use core::arch::x86_64::__cpuid_count;

use crate::uapi::image as img;

extern "C" {
    fn ckpt_helper_xfeatures() -> u64;
}

/// XCR0: the xsave features the kernel enabled (0 without XSAVE).
pub(crate) fn xfeatures() -> u64 {
    // SAFETY: The helper takes no arguments and only executes XGETBV.
    unsafe { ckpt_helper_xfeatures() }
}

/// The CPUID words `HEADER.cpuid` holds (`img::cpuid_word`), as a program on this CPU reads
/// them; a word of a leaf beyond the CPU's highest basic or extended leaf is 0.
pub(crate) fn cpuid_words() -> [u32; img::CKPT_CPUID_WORDS] {
    let max_basic = __cpuid_count(0, 0).eax;
    let max_ext = __cpuid_count(0x8000_0000, 0).eax;
    let mut words = [0; img::CKPT_CPUID_WORDS];
    for (i, w) in words.iter_mut().enumerate() {
        let (leaf, sub, reg) = img::cpuid_word(i);
        let max = if leaf >= 0x8000_0000 {
            max_ext
        } else {
            max_basic
        };
        if leaf > max {
            continue;
        }
        let r = __cpuid_count(leaf, sub);
        *w = match reg {
            0 => r.eax,
            1 => r.ebx,
            2 => r.ecx,
            _ => r.edx,
        };
    }
    words
}

/// `CLOCK_REALTIME` in nanoseconds.
pub(crate) fn time_ns() -> u64 {
    // SAFETY: `ktime_get_real` may be called from any context but NMI; it returns a value
    // in `0..=KTIME_MAX`.
    let t = unsafe { kernel::bindings::ktime_get_real() };
    t as u64
}
