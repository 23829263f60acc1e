// SPDX-License-Identifier: GPL-2.0

//! The log descriptor of an ioctl (`log_fd`, `log_level`, as Linux-CR's `logfd`): lines of
//! text saying what the module saved or restored and why it refused, written to a file,
//! pipe or socket of the caller's instead of the kernel log.
//!
//! A line is written with one `kernel_write`, so that the lines of the tasks of a restart
//! sharing one pipe do not mix. Writing is best effort: a log that fails (a full disk, a
//! pipe whose reader is gone) never fails the checkpoint or restart; a pipe nobody reads
//! blocks the writer until a signal, as a `write(2)` would.

use kernel::{fmt, prelude::*, str::CString};

use crate::error::{refuse, CkptError, CkptResult};
use crate::sys::file::{FileRef, Output};
use crate::sys::task::current::ChargeToRoot;
use crate::uapi::{CKPT_LOG_DEBUG, CKPT_LOG_INFO, CKPT_LOG_NONE};

/// Writes `line` and a newline with one write, best effort.
fn write_line(out: &mut Output, line: fmt::Arguments<'_>) {
    if let Ok(s) = CString::try_from_fmt(fmt!("{line}\n")) {
        // Charged to the root: a task restored into a full memory cgroup still says why.
        let _root = ChargeToRoot::new();
        let _ = out.write(s.to_bytes());
    }
}

/// The report descriptor of a restart (`err_fd`): the lines `rstr` reads to learn that a
/// task is restored (`OK PID COPIED KEPT`), how far its pages are (`P PID COPIED`), or why
/// it failed once it could no longer be told (`pid N: reason`). Written as the log is.
pub(crate) struct Report {
    /// `None` for `err_fd` -1, or once the task is restored.
    out: Option<Output>,
}

impl Report {
    /// The report of `fd`; -1 for none.
    pub(crate) fn open(fd: i32) -> CkptResult<Report> {
        match fd {
            -1 => Ok(Report { out: None }),
            fd => match FileRef::fget(fd) {
                Some(f) if f.writable() => Ok(Report {
                    out: Some(Output::new(f)),
                }),
                _ => refuse!(EBADF, "error fd {fd} is not open for writing"),
            },
        }
    }

    /// Writes `line` and a newline.
    pub(crate) fn line(&mut self, line: fmt::Arguments<'_>) {
        if let Some(out) = self.out.as_mut() {
            write_line(out, line);
        }
    }

    /// Lets the descriptor go: nothing more is written.
    pub(crate) fn close(&mut self) {
        self.out = None;
    }
}

/// Where an ioctl's log lines go, and which.
pub(crate) struct Log {
    /// `None` at [`CKPT_LOG_NONE`].
    out: Option<Output>,
    level: u32,
}

impl Log {
    /// No log.
    pub(crate) fn none() -> Log {
        Log {
            out: None,
            level: CKPT_LOG_NONE,
        }
    }

    /// The log of an ioctl's `log_fd` and `log_level`; `fd` is not looked at when `level` is
    /// [`CKPT_LOG_NONE`].
    pub(crate) fn open(fd: i32, level: u32) -> CkptResult<Log> {
        match level {
            CKPT_LOG_NONE => return Ok(Log::none()),
            CKPT_LOG_INFO | CKPT_LOG_DEBUG => {}
            _ => refuse!(
                EINVAL,
                "log level {level}: CKPT_LOG_NONE, CKPT_LOG_INFO or CKPT_LOG_DEBUG (0 to 2)"
            ),
        }
        match FileRef::fget(fd) {
            Some(f) if f.writable() => Ok(Log {
                out: Some(Output::new(f)),
                level,
            }),
            _ => refuse!(EBADF, "log fd {fd} is not open for writing"),
        }
    }

    /// Whether lines of `level` are written: callers skip the work of making them otherwise.
    pub(crate) fn wants(&self, level: u32) -> bool {
        self.out.is_some() && level <= self.level
    }

    /// Writes `line` and a newline if the log takes lines of `level`.
    pub(crate) fn line(&mut self, level: u32, line: fmt::Arguments<'_>) {
        if !self.wants(level) {
            return;
        }
        if let Some(out) = self.out.as_mut() {
            write_line(out, line);
        }
    }

    /// [`Log::line`] at [`CKPT_LOG_INFO`].
    pub(crate) fn info(&mut self, line: fmt::Arguments<'_>) {
        self.line(CKPT_LOG_INFO, line)
    }

    /// [`Log::line`] at [`CKPT_LOG_DEBUG`].
    pub(crate) fn debug(&mut self, line: fmt::Arguments<'_>) {
        self.line(CKPT_LOG_DEBUG, line)
    }

    /// Logs a failure at [`CKPT_LOG_INFO`]: `what` and its reason.
    pub(crate) fn failure(&mut self, what: fmt::Arguments<'_>, e: &CkptError) {
        let reason = e.reason.as_ref().and_then(|r| r.to_str().ok());
        self.info(fmt!(
            "{what}: {}",
            reason.unwrap_or("(no reason: out of memory)")
        ));
    }
}
