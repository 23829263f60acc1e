// SPDX-License-Identifier: GPL-2.0

//! The UTS namespace of the current task (`uname`).

extern "C" {
    /// Defined in `kmod/helpers.c`.
    fn ckpt_helper_kernel_release(buf: *mut u8, len: usize) -> isize;
}

/// Copies `uname -r` of the current task's UTS namespace into `buf`, NUL-terminated and
/// truncated to fit; the rest of `buf` is left as it was.
pub(crate) fn kernel_release(buf: &mut [u8]) {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the duration of the call,
    // and the helper writes at most that many bytes (it is `strscpy`).
    unsafe { ckpt_helper_kernel_release(buf.as_mut_ptr(), buf.len()) };
}
