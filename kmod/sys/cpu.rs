// SPDX-License-Identifier: GPL-2.0

//! Facts about this CPU and the clock.

extern "C" {
    fn ckpt_helper_xfeatures() -> u64;
}

/// XCR0: the xsave features the kernel enabled (0 without XSAVE).
pub(crate) fn xfeatures() -> u64 {
    // SAFETY: The helper takes no arguments and only executes XGETBV.
    unsafe { ckpt_helper_xfeatures() }
}

/// `CLOCK_REALTIME` in nanoseconds.
pub(crate) fn time_ns() -> u64 {
    // SAFETY: `ktime_get_real` may be called from any context but NMI; it returns a value
    // in `0..=KTIME_MAX`.
    let t = unsafe { kernel::bindings::ktime_get_real() };
    t as u64
}
