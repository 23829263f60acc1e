// SPDX-License-Identifier: GPL-2.0

//! Counters in memory shared by every process `rstr` creates (an anonymous shared mapping
//! made before the first fork), for barriers across processes.

use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Result;

/// The barriers, by index.
pub const BOARD_CREATED: usize = 0;
pub const BOARD_JOINED: usize = 1;
pub const BOARD_FILES: usize = 2;
const WORDS: usize = 3;

/// The shared counters.
///
/// # Invariants
///
/// `words` points to `WORDS` atomics at the start of a shared anonymous page mapped for the
/// life of the process (never unmapped), which the module does not replace: every process
/// of the tree uses it before its restart ioctl only.
pub struct Board {
    words: *const AtomicU32,
}

// SAFETY: the counters are atomics, meant to be shared (across processes, so across
// threads too); the mapping lives as long as the process (type invariant).
unsafe impl Sync for Board {}

impl Board {
    pub fn new() -> Result<Board> {
        // SAFETY: a fresh anonymous shared mapping, which replaces nothing and is never
        // unmapped by us.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                // Populated now, charged to rstr's memory cgroup while it has room: a page
                // first touched by a task during a restart that filled the cgroup would
                // fail (SIGBUS) and take rstr with it.
                libc::MAP_SHARED | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(super::last_os("mmap of the shared counters"));
        }
        // INVARIANT: a page of our own, zeroed, aligned, mapped for good.
        Ok(Board { words: p.cast() })
    }

    fn word(&self, i: usize) -> &AtomicU32 {
        assert!(i < WORDS);
        // SAFETY: `i` is inside the mapping, alive for good (type invariant).
        unsafe { &*self.words.add(i) }
    }

    /// Arrives at barrier `i` and waits until `n` processes have.
    pub fn barrier(&self, i: usize, n: u32) {
        let w = self.word(i);
        let now = w.fetch_add(1, Ordering::SeqCst) + 1;
        if now >= n {
            // SAFETY: futex wake on a word of the shared mapping. It cannot fail on a
            // valid, aligned word: the number woken is of no use.
            unsafe { libc::syscall(libc::SYS_futex, w.as_ptr(), libc::FUTEX_WAKE, i32::MAX) };
            return;
        }
        loop {
            let v = w.load(Ordering::SeqCst);
            if v >= n {
                return;
            }
            // SAFETY: futex wait on a word of the shared mapping while it holds `v`. Its
            // failures (EAGAIN: the word changed; EINTR) are what the loop handles: the
            // word is read again.
            unsafe {
                libc::syscall(
                    libc::SYS_futex,
                    w.as_ptr(),
                    libc::FUTEX_WAIT,
                    v,
                    std::ptr::null::<libc::timespec>(),
                )
            };
        }
    }
}
