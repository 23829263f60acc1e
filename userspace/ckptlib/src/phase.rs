// SPDX-License-Identifier: GPL-2.0

//! Where the time goes: with `CKPT_PHASES=1` in the environment, `ckpt` and `rstr` print one
//! line on stderr as each phase of their work ends, `phase PID MS what`, MS being
//! `CLOCK_MONOTONIC` in milliseconds (read with the system call, never the vDSO, which `rstr`
//! replaces), so that lines of several processes compare.

use std::sync::OnceLock;

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("CKPT_PHASES").is_some_and(|v| v == "1"))
}

/// Prints that the phase `what` just ended, if `CKPT_PHASES=1`.
pub fn mark(what: &str) {
    if !enabled() {
        return;
    }
    let t = crate::sys::monotonic_syscall();
    let pid = nix::unistd::getpid();
    let ms = t.as_secs_f64() * 1e3;
    eprintln!("phase {pid} {ms:.3} {what}");
}
