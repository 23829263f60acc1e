// SPDX-License-Identifier: GPL-2.0

//! What `nix` does not offer for signalfds and timerfds: a signal set of any of the 64
//! signals (its `SigSet` takes the standard ones only, and glibc's `sigaddset` refuses 32
//! and 33), and `TFD_IOC_SET_TICKS`.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::errno::Errno;
use nix::sys::signal::SigSet;

/// The signal set whose signal `n` is bit `n - 1` of `mask`, as the kernel's `sigset_t`.
pub fn sigset(mask: u64) -> SigSet {
    const _: () = assert!(size_of::<libc::sigset_t>() >= size_of::<u64>());
    let mut set = std::mem::MaybeUninit::<libc::sigset_t>::zeroed();
    // SAFETY: `set` is zeroed, at least 8 bytes and aligned for a u64 (glibc's sigset_t is
    // an array of `unsigned long`); its first word is the kernel's set of signals 1 to 64,
    // which is what glibc hands `signalfd` (`_NSIG / 8` bytes).
    let set = unsafe {
        set.as_mut_ptr().cast::<u64>().write(mask);
        set.assume_init()
    };
    // SAFETY: every bit pattern of the first word is a set of signals 1 to 64, the rest is
    // zero: a valid `sigset_t`.
    unsafe { SigSet::from_sigset_t_unchecked(set) }
}

// `TFD_IOC_SET_TICKS`: `_IOW('T', 0, u64)` (include/uapi/linux/timerfd.h).
nix::ioctl_write_ptr!(tfd_ioc_set_ticks, b'T', 0, u64);

/// Sets the expirations a read of the timerfd `fd` returns (`TFD_IOC_SET_TICKS`, with
/// `CONFIG_CHECKPOINT_RESTORE`); `ticks` is not 0.
pub fn set_ticks(fd: BorrowedFd, ticks: u64) -> Result<(), Errno> {
    // SAFETY: the ioctl reads one u64 from the pointer, which is valid for the call.
    unsafe { tfd_ioc_set_ticks(fd.as_raw_fd(), &ticks) }.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;

    #[test]
    fn masks_become_the_signal_sets_they_name() {
        let s = sigset(1 << (libc::SIGUSR1 - 1) | 1 << (libc::SIGTERM - 1));
        assert!(s.contains(Signal::SIGUSR1) && s.contains(Signal::SIGTERM));
        assert!(!s.contains(Signal::SIGUSR2));
        assert_eq!(sigset(0).iter().count(), 0);
    }
}
