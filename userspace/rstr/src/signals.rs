// SPDX-License-Identifier: GPL-2.0

//! Signals: the masks `rstr` and its tree run with, the handlers a process installs, the
//! SIGCHLD its creation leaves, and a zombie's death by its signal. What each task restores
//! of its own (alternate stack, pending signals) is [`crate::per_task`]; the blocked mask is
//! the module's, set with the registers (kmod/signal.rs).

use anyhow::{Context, Result};
use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow};

use ckptlib::abi::image as img;

use crate::sys;

/// Blocks every signal: the new processes inherit the mask, and keep it until the module
/// sets theirs.
pub fn block_all() -> Result<()> {
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::all()), None).context("sigprocmask")
}

/// Blocks no signal (the namespace's init, which reaps).
pub fn unblock_all() -> Result<()> {
    sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None).context("sigprocmask")
}

/// The image's signal dispositions (raw `rt_sigaction`: the image's restorer, not libc's);
/// SIGKILL's and SIGSTOP's cannot change.
pub fn set_handlers(h: &img::CkptSighandRec) -> Result<()> {
    for (n, a) in h.action.iter().enumerate() {
        let sig = n as i32 + 1;
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        sys::set_handler(sig, a).with_context(|| format!("signal {sig}: rt_sigaction"))?;
    }
    Ok(())
}

/// Drops a pending SIGCHLD (blocked, as all are while restoring): the children that exited
/// during the creation are not the image's.
pub fn drain_sigchld() -> Result<()> {
    sys::drop_pending(libc::SIGCHLD).context("dropping the creation's SIGCHLD")
}

/// Ends this process killed by `sig`, as a zombie of the image was, with no core dump; if
/// the signal does not kill (a number the kernel does not act on), it exits with `code`.
pub fn die_by(sig: i32, code: i32) -> ! {
    // Every step is tried: a failed one leaves the exit below, the best that is left.
    let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
    let _ = sys::default_action(sig);
    // Real-time signals too, which nix's `Signal` has not.
    let _ = sys::raise_unblocked(sig);
    sys::exit_now(code)
}
