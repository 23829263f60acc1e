// SPDX-License-Identifier: GPL-2.0

//! What every task restores on itself, a process ([`crate::task`]) and a thread or
//! `CLONE_VM` process ([`crate::thread`]) alike, in one path: its name, persona, alternate
//! signal stack, pending signals, robust list and clear-child-tid address before its
//! credentials ([`crate::creds::apply`]); its dumpable flag, parent-death signal, timer
//! slack, nice value and no-new-privs after them (a change of credentials resets the first
//! two, and the last is for good). Its rseq area is [`crate::memory::register_rseq`].
//!
//! A thread runs this on its creator's memory and thread pointer: raw system calls only
//! ([`crate::sys::raw`]), no allocation, and a failure is a static step with its errno.

use std::fmt;

use nix::errno::Errno;

use ckptlib::abi::image as img;

use crate::sys::raw::{self, Prctl};

/// A failed step of a restore path run without allocating, and its errno
/// (`UnknownErrno` when nothing failed but a read-back differs from the image).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed {
    pub step: &'static str,
    pub errno: Errno,
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errno {
            Errno::UnknownErrno => write!(f, "{}", self.step),
            e => write!(f, "{}: {}", self.step, e.desc()),
        }
    }
}

impl std::error::Error for Failed {}

/// Names the step of a raw call's failure.
pub trait Step<T> {
    fn step(self, step: &'static str) -> Result<T, Failed>;
}

impl<T> Step<T> for Result<T, Errno> {
    fn step(self, step: &'static str) -> Result<T, Failed> {
        self.map_err(|errno| Failed { step, errno })
    }
}

/// The records of one task this path restores, borrowed from wherever its creator keeps
/// them (the image, or a thread's start block).
#[derive(Clone, Copy)]
pub struct Own<'a> {
    pub tgid: i32,
    pub tid: i32,
    pub task: &'a img::CkptTaskRec,
    pub attrs: &'a ckptlib::attrs::TaskAttrs,
    pub signals: &'a img::CkptSignalsRec,
    pub pending: &'a [img::CkptSiginfoRec],
}

/// Before the credentials change: what is the task's own and needs no privilege.
pub fn before_creds(o: Own) -> Result<(), Failed> {
    let t = o.task;
    raw::set_name(&t.comm).step("PR_SET_NAME")?;
    raw::personality(t.personality).step("personality")?;
    raw::set_altstack(o.signals).step("sigaltstack")?;
    for p in o.pending {
        raw::requeue_pending(o.tgid, o.tid, p).step("queueing a pending signal")?;
    }
    if t.robust_list != 0 {
        raw::set_robust_list(t.robust_list, t.robust_list_len).step("set_robust_list")?;
    }
    raw::set_tid_address(t.clear_child_tid).step("set_tid_address")?;
    Ok(())
}

/// After the credentials changed: what that change resets (dumpable, the parent-death
/// signal), the timer slack, the nice value (raised from the lowest of the process's, which
/// needs no privilege) and no-new-privs, for good. The caller waits, if it must, for its
/// parent to be the image's before (see [`crate::task`]).
pub fn after_creds(o: Own) -> Result<(), Failed> {
    let t = o.task;
    if t.dumpable != u32::MAX {
        raw::prctl(Prctl::SetDumpable, t.dumpable.into(), 0).step("PR_SET_DUMPABLE")?;
    }
    if t.pdeath_signal != 0 {
        let sig = t.pdeath_signal as u64;
        raw::prctl(Prctl::SetPdeathsig, sig, 0).step("PR_SET_PDEATHSIG")?;
    }
    if t.timer_slack_ns != 0 {
        let ns = t.timer_slack_ns;
        raw::prctl(Prctl::SetTimerslack, ns, 0).step("PR_SET_TIMERSLACK")?;
    }
    raw::set_nice(t.nice).step("setpriority (lowering it needs CAP_SYS_NICE or RLIMIT_NICE)")?;
    if t.no_new_privs != 0 {
        raw::prctl(Prctl::SetNoNewPrivs, 1, 0).step("PR_SET_NO_NEW_PRIVS")?;
    }
    Ok(())
}

/// `parts` end to end in `buf` (cut at its end), without allocating.
pub fn join<'a>(buf: &'a mut [u8], parts: &[&str]) -> &'a str {
    let mut n = 0;
    for p in parts {
        // Whole parts only, so that the result stays valid UTF-8.
        if n + p.len() > buf.len() {
            break;
        }
        buf[n..n + p.len()].copy_from_slice(p.as_bytes());
        n += p.len();
    }
    core::str::from_utf8(&buf[..n]).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_keeps_whole_parts() {
        let mut buf = [0u8; 10];
        assert_eq!(join(&mut buf, &["ab", "cd"]), "abcd");
        assert_eq!(join(&mut buf, &["abcdef", "ghijk"]), "abcdef");
    }

    #[test]
    fn failures_name_their_step_and_errno() {
        let f = Failed {
            step: "setresuid",
            errno: Errno::EPERM,
        };
        assert_eq!(f.to_string(), "setresuid: Operation not permitted");
        let f = Failed {
            step: "read back",
            errno: Errno::UnknownErrno,
        };
        assert_eq!(f.to_string(), "read back");
        assert_eq!(
            Err::<(), _>(Errno::EINVAL).step("x"),
            Err(Failed {
                step: "x",
                errno: Errno::EINVAL
            })
        );
    }
}
