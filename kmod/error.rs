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
        match errno_name(errno) {
            Some(name) => CkptError::new(errno, fmt!("{name}")),
            None => CkptError::new(errno, fmt!("{errno:?}")),
        }
    }
}

/// The names of the errnos the kernel calls the module makes can return.
const ERRNO_NAMES: &[(Error, &str)] = {
    use kernel::error::code::*;
    &[
        (EPERM, "EPERM"),
        (ENOENT, "ENOENT"),
        (ESRCH, "ESRCH"),
        (EINTR, "EINTR"),
        (EIO, "EIO"),
        (ENXIO, "ENXIO"),
        (E2BIG, "E2BIG"),
        (ENOEXEC, "ENOEXEC"),
        (EBADF, "EBADF"),
        (ECHILD, "ECHILD"),
        (EAGAIN, "EAGAIN"),
        (ENOMEM, "ENOMEM"),
        (EACCES, "EACCES"),
        (EFAULT, "EFAULT"),
        (EBUSY, "EBUSY"),
        (EEXIST, "EEXIST"),
        (EXDEV, "EXDEV"),
        (ENODEV, "ENODEV"),
        (ENOTDIR, "ENOTDIR"),
        (EISDIR, "EISDIR"),
        (EINVAL, "EINVAL"),
        (ENFILE, "ENFILE"),
        (EMFILE, "EMFILE"),
        (ETXTBSY, "ETXTBSY"),
        (EFBIG, "EFBIG"),
        (ENOSPC, "ENOSPC"),
        (ESPIPE, "ESPIPE"),
        (EROFS, "EROFS"),
        (EPIPE, "EPIPE"),
        (ERANGE, "ERANGE"),
        (ENAMETOOLONG, "ENAMETOOLONG"),
        (ENOSYS, "ENOSYS"),
        (ELOOP, "ELOOP"),
        (EOVERFLOW, "EOVERFLOW"),
        (EOPNOTSUPP, "EOPNOTSUPP"),
        (ETIMEDOUT, "ETIMEDOUT"),
        (ECANCELED, "ECANCELED"),
        (ERESTARTSYS, "ERESTARTSYS"),
    ]
};

/// The errno's name, as `errname()` gives it only with `CONFIG_SYMBOLIC_ERRNAME` (unset in
/// many kernels, the test kernel's among them, where `{:?}` prints `Error(13)`).
fn errno_name(errno: Error) -> Option<&'static str> {
    ERRNO_NAMES
        .iter()
        .find(|(e, _)| *e == errno)
        .map(|&(_, name)| name)
}

#[kunit_tests(ckpt_error)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_the_errno() {
        let r = |e: Error| CkptError::from(e).reason.unwrap();
        assert_eq!(r(EACCES).to_bytes(), b"EACCES");
        assert_eq!(r(ENOMEM).to_bytes(), b"ENOMEM");
        // Each errno once, each name its own.
        for (i, (e, name)) in ERRNO_NAMES.iter().enumerate() {
            assert_eq!(errno_name(*e), Some(*name));
            assert!(ERRNO_NAMES[..i].iter().all(|(f, _)| f != e));
        }
    }

    #[test]
    fn context_prefixes_the_reason() {
        let e: CkptResult = Err(EFAULT).context(fmt!("pages {:#x}", 0x1000));
        assert_eq!(
            e.err().unwrap().reason.unwrap().to_bytes(),
            b"pages 0x1000: EFAULT"
        );
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
