// SPDX-License-Identifier: GPL-2.0

//! The bounds of what a caller can make the module allocate or create, in one place.
//!
//! Every count, size and offset read from an image or an ioctl argument is bounded where it
//! is first read; `Documentation/security.rst` has the table. The fixed bounds are ABI
//! constants (`uapi/`): `CKPT_MAX_TASKS` (tasks of a checkpoint or of a restart session),
//! `CKPT_MAX_PAYLOAD` (a record), `CKPT_PATH_MAX`, `CKPT_PAGES_PER_RECORD`,
//! `CKPT_AUXV_WORDS`, `CKPT_NGROUPS_MAX`, `CKPT_RESTART_MAX_CLOSE`; the kernel's own are
//! `DEFAULT_MAX_MAP_COUNT` (areas of one memory, [`crate::sys::mm::MAX_MAP_COUNT`]) and the
//! caller's `RLIMIT_DATA`.
//!
//! What the module creates for a caller is charged to the caller: every allocation is
//! `GFP_KERNEL_ACCOUNT` (the caller's memory cgroup). The files one restart call opens
//! for its areas, and the shared memory objects a session makes, are bounded by the
//! caller's `RLIMIT_NOFILE` ([`open_files`]), as many as it could open itself;
//! and they are held only while the restart can still succeed: a session that one of its
//! tasks left with an error frees its objects at once and takes no more tasks
//! (`Session::fail`), so failed calls, however many sessions one process opens, hold
//! nothing. What stays is what restored processes map, one file per shared area as
//! `mmap` makes it: no more than the system calls would let the caller hold. The
//! system-wide file table (`fs.file-max`) is not a per-user quota, and this does not make
//! it one.

use crate::error::{refuse, CkptResult};
use crate::sys::task::current;
use kernel::prelude::*;

/// The open files one restart may hold for its caller: its `RLIMIT_NOFILE` soft limit,
/// what it could hold itself with `open(2)`.
pub(crate) fn open_files() -> u64 {
    current::nofile_limit()
}

/// Refuses one more open file than [`open_files`] allows: `held` are held already, `what`
/// names them for the reason.
pub(crate) fn check_open_files(held: u64, what: core::fmt::Arguments<'_>) -> CkptResult {
    let limit = open_files();
    if held >= limit {
        refuse!(
            EMFILE,
            "{what}: more than {limit} open files, the caller's RLIMIT_NOFILE"
        );
    }
    Ok(())
}

#[kunit_tests(ckpt_limits)]
mod tests {
    use super::*;

    /// One more file than `RLIMIT_NOFILE` is refused with `EMFILE` and names the limit; the
    /// last one within it is not.
    #[test]
    fn open_files_stop_at_rlimit_nofile() {
        let limit = open_files();
        assert!(limit > 0);
        assert!(check_open_files(limit - 1, fmt!("test")).is_ok());
        let e = check_open_files(limit, fmt!("test")).expect_err("refused");
        assert_eq!(e.errno, EMFILE);
        let reason = e
            .reason
            .as_ref()
            .and_then(|r| r.to_str().ok())
            .unwrap_or("");
        assert!(reason.contains("RLIMIT_NOFILE"));
    }
}
