// SPDX-License-Identifier: GPL-2.0

//! Credentials: the `CREDS` record.
//!
//! Read from the task's `ARef<Credential>` at checkpoint. Restart is `rstr`'s
//! (`userspace/rstr/src/creds.rs`): `setresuid`, `setgroups`, `capset` and `prctl` with the
//! caller's own rights, so that the kernel's permission checks decide what an image may get
//! back; the module takes no part in it.

use kernel::prelude::*;
use zerocopy::{FromZeros, IntoBytes};

use crate::error::{CkptResult, Context};
use crate::image::ImageWriter;
use crate::sys::task::TaskRef;
use crate::uapi::image::{self as img, rec};

/// Writes the `CREDS` record of `task`: its ids, capabilities and supplementary groups.
pub(crate) fn checkpoint(task: &TaskRef, w: &mut ImageWriter) -> CkptResult {
    let mut c = img::CkptCredsRec::new_zeroed();
    let mut groups = KVec::new();
    task.creds(&mut c, &mut groups)
        .context(fmt!("credentials"))?;
    w.record(rec::CREDS, &[c.as_bytes(), groups.as_slice().as_bytes()])
}
