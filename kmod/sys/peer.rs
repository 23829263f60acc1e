// SPDX-License-Identifier: GPL-2.0

//! The peer credentials of unix sockets at restart (`CKPT_IOC_RESTART_PEERS`): the pids of
//! the session's processes, the credentials made for a peer, and setting both on a socket
//! (helpers of `kmod/helpers.c`). What may be set is decided in `crate::session`.

use core::ptr::NonNull;

use kernel::bindings;
use kernel::prelude::*;

use super::check;
use super::file::FileRef;

/// What `ckpt_helper_ids_may` says of a uid and a gid (`struct ckpt_h_ids_may`).
#[repr(C)]
#[derive(Default)]
pub(crate) struct IdsMay {
    /// The ids map in the caller's user namespace.
    pub(crate) uid_valid: u32,
    pub(crate) gid_valid: u32,
    /// Each is one of the caller's real, effective or saved ids.
    pub(crate) uid_own: u32,
    pub(crate) gid_own: u32,
    /// The caller has `CAP_SETUID`, `CAP_SETGID` in its user namespace.
    pub(crate) setuid: u32,
    pub(crate) setgid: u32,
}

// Only pointers to these C structs cross (as in `super::task`): they have members that are
// empty structs in this configuration, which the lint flags although no value is passed.
#[allow(
    improper_ctypes,
    reason = "pointers to bindgen structs with empty members"
)]
extern "C" {
    fn ckpt_helper_ids_may(uid: u32, gid: u32, out: *mut IdsMay);
    fn ckpt_helper_peer_cred(uid: u32, gid: u32) -> *const bindings::cred;
    fn ckpt_helper_put_cred(cred: *const bindings::cred);
    fn ckpt_helper_current_tgid(nr: *mut i32) -> *mut bindings::pid;
    fn ckpt_helper_pid_registered(pid: *mut bindings::pid) -> i32;
    fn ckpt_helper_unix_set_peer(
        file: *mut bindings::file,
        embryo: u32,
        pid: *mut bindings::pid,
        cred: *const bindings::cred,
    ) -> i32;
}

/// Whether the caller may name `uid` and `gid` (in its user namespace) as credentials.
pub(crate) fn ids_may(uid: u32, gid: u32) -> IdsMay {
    let mut out = IdsMay::default();
    // SAFETY: `out` is writable and of the C layout; the helper reads only the caller's
    // credentials.
    unsafe { ckpt_helper_ids_may(uid, gid, &mut out) };
    out
}

/// A counted `struct pid`.
///
/// # Invariants
///
/// The pointer is a `struct pid` this value holds a reference on.
pub(crate) struct PidRef(NonNull<bindings::pid>);

// SAFETY: a counted `struct pid` may be used and put from any task (`put_pid` frees it
// through RCU when it is the last reference).
unsafe impl Send for PidRef {}
// SAFETY: the shared uses (`pid_registered`, handing it to a helper that takes its own
// reference) read it under the kernel's own locks.
unsafe impl Sync for PidRef {}

impl PidRef {
    /// The caller's thread-group pid, and its number in the caller's pid namespace.
    pub(crate) fn current_tgid() -> Result<(i32, PidRef)> {
        let mut nr = 0;
        // SAFETY: `nr` is writable; the helper returns `get_pid(task_tgid(current))`, which
        // a running task has (NULL would be refused).
        let pid = unsafe { ckpt_helper_current_tgid(&mut nr) };
        Ok((nr, PidRef(NonNull::new(pid).ok_or(ESRCH)?)))
    }

    /// Whether a pidfd of it was ever made (pidfs holds its attributes): `SO_PEERPIDFD`
    /// of a unix socket needs it.
    pub(crate) fn registered(&self) -> bool {
        // SAFETY: the pid is counted (type invariant); the helper reads one field.
        unsafe { ckpt_helper_pid_registered(self.0.as_ptr()) != 0 }
    }
}

impl Drop for PidRef {
    fn drop(&mut self) {
        // SAFETY: the reference this value holds (type invariant), put once.
        unsafe { bindings::put_pid(self.0.as_ptr()) };
    }
}

/// Credentials made for a socket's peer, counted.
///
/// # Invariants
///
/// The pointer is a `struct cred` this value holds a reference on.
pub(crate) struct PeerCred(NonNull<bindings::cred>);

impl PeerCred {
    /// The caller's credentials with every uid `uid` and every gid `gid`, no supplementary
    /// group and no capability. The caller checked that it may name them ([`ids_may`]).
    pub(crate) fn new(uid: u32, gid: u32) -> Result<PeerCred> {
        // SAFETY: the helper copies the caller's credentials (`prepare_creds`), returns them
        // counted, or NULL without memory.
        let cred = unsafe { ckpt_helper_peer_cred(uid, gid) };
        NonNull::new(cred.cast_mut()).map(PeerCred).ok_or(ENOMEM)
    }
}

impl Drop for PeerCred {
    fn drop(&mut self) {
        // SAFETY: the reference this value holds (type invariant), put once.
        unsafe { ckpt_helper_put_cred(self.0.as_ptr()) };
    }
}

/// Sets the peer credentials (`sk_peer_pid`, `sk_peer_cred`) of the unix socket `file`, or
/// with `embryo` not 0 of its connection `embryo - 1` not accepted yet: `pid` and `cred`,
/// either `None`. The socket takes references of its own. `ENOTSOCK` for another file,
/// `ENOENT` past the backlog's end, `EINVAL` for a connection of a socket not listening.
pub(crate) fn set_unix_peer(
    file: &FileRef,
    embryo: u32,
    pid: Option<&PidRef>,
    cred: Option<&PeerCred>,
) -> Result {
    let pid = pid.map_or(core::ptr::null_mut(), |p| p.0.as_ptr());
    let cred = cred.map_or(core::ptr::null(), |c| c.0.as_ptr().cast_const());
    // SAFETY: the file is referenced; `pid` and `cred` are NULL or counted for the whole
    // call (borrowed from their owners), and the helper takes its own references.
    let ret = unsafe { ckpt_helper_unix_set_peer(file.raw(), embryo, pid, cred) };
    check(ret as isize).map(|_| ())
}
