// SPDX-License-Identifier: GPL-2.0

//! The module's error: an errno for the ioctl's return and a reason for people.

use kernel::{fmt, prelude::*, str::CString};

/// A failed checkpoint or restart: the errno the ioctl returns, and why.
pub(crate) struct CkptError {
    pub(crate) errno: Error,
    /// Why, in words; `None` only when formatting the reason itself failed (no memory).
    pub(crate) reason: Option<CString>,
}

pub(crate) type CkptResult<T = ()> = core::result::Result<T, CkptError>;

impl CkptError {
    pub(crate) fn new(errno: Error, reason: fmt::Arguments<'_>) -> Self {
        CkptError {
            errno,
            reason: CString::try_from_fmt(reason).ok(),
        }
    }
}

/// An error from a kernel call: the reason names the errno; callers add what they were
/// doing with [`Context::context`].
impl From<Error> for CkptError {
    fn from(errno: Error) -> Self {
        CkptError::new(errno, fmt!("{errno:?}"))
    }
}

impl From<kernel::alloc::AllocError> for CkptError {
    fn from(_: kernel::alloc::AllocError) -> Self {
        CkptError::from(ENOMEM)
    }
}

/// Prefixes an error's reason with what was being done, as `anyhow`'s `context` does.
pub(crate) trait Context<T> {
    fn context(self, what: fmt::Arguments<'_>) -> CkptResult<T>;
}

impl<T, E: Into<CkptError>> Context<T> for core::result::Result<T, E> {
    fn context(self, what: fmt::Arguments<'_>) -> CkptResult<T> {
        self.map_err(|e| {
            let e: CkptError = e.into();
            let reason = match &e.reason {
                Some(r) => CString::try_from_fmt(fmt!("{what}: {}", r.to_str().unwrap_or("?"))),
                None => CString::try_from_fmt(fmt!("{what}")),
            };
            CkptError {
                errno: e.errno,
                reason: reason.ok(),
            }
        })
    }
}

/// Returns early with a [`CkptError`]: `refuse!(EOPNOTSUPP, "fd {}: socket", fd)`.
macro_rules! refuse {
    ($errno:expr, $($arg:tt)*) => {
        return Err($crate::error::CkptError::new($errno, ::kernel::prelude::fmt!($($arg)*)))
    };
}
pub(crate) use refuse;
