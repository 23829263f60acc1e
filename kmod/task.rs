// SPDX-License-Identifier: GPL-2.0

//! Task identity, credentials and resource limits: the `TASK`, `CREDS` and `RLIMITS` records.
//!
//! Restart of these is done by `rstr` with system calls (`prctl`, `setresuid`, `capset`,
//! `setrlimit`): the kernel's own permission checks then decide what a caller may get back.

use kernel::prelude::*;
use zerocopy::{FromZeros, IntoBytes};

use crate::error::{CkptResult, Context};
use crate::image::ImageWriter;
use crate::sys::task::TaskRef;
use crate::uapi::image::{self as img, rec};

pub(crate) fn checkpoint(task: &TaskRef, w: &mut ImageWriter) -> CkptResult {
    let mut t = img::CkptTaskRec::new_zeroed();
    task.info(&mut t);
    w.fixed(rec::TASK, &t)?;

    let mut c = img::CkptCredsRec::new_zeroed();
    let mut groups = KVec::new();
    task.creds(&mut c, &mut groups)
        .context(fmt!("credentials"))?;
    w.record(rec::CREDS, &[c.as_bytes(), groups.as_slice().as_bytes()])?;

    let mut r = img::CkptRlimitsRec::new_zeroed();
    task.rlimits(&mut r);
    w.fixed(rec::RLIMITS, &r)
}
