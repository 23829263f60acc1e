// SPDX-License-Identifier: GPL-2.0

//! Signals: dispositions (`SIGHAND`), mask and alternate stack (`SIGNALS`), and every
//! pending signal with its `siginfo` (`SIGINFO`), per-task and shared.
//!
//! On restart, `rstr` installs dispositions with `rt_sigaction` and queues pending signals
//! to itself with `rt_tgsigqueueinfo` while all signals are blocked (`do_sigaction` is not
//! exported); the module sets the final blocked mask as its last step.

use kernel::prelude::*;
use zerocopy::FromZeros;

use crate::error::{refuse, CkptResult, Context};
use crate::image::ImageWriter;
use crate::sys::task::TaskRef;
use crate::uapi::image::{self as img, rec};

/// The most pending signals of one task `rstr` takes (its check of the `SIGNALS` record).
const MAX_PENDING: u32 = 4096;

/// `SIGHAND` if `handlers` (the first task of its handler table), then `SIGNALS` and
/// `SIGINFO`s: signals pending for the task itself, and, for a thread-group `leader`, those
/// pending for the whole process.
pub(crate) fn checkpoint(
    task: &TaskRef,
    handlers: bool,
    leader: bool,
    w: &mut ImageWriter,
) -> CkptResult {
    if handlers {
        let mut h = img::CkptSighandRec::new_zeroed();
        task.sigactions(&mut h);
        w.fixed(rec::SIGHAND, &h)?;
    }

    let mut s = img::CkptSignalsRec::new_zeroed();
    let mut pending = KVec::new();
    task.signals(&mut s, &mut pending)
        .context(fmt!("pending signals"))?;
    if !leader {
        pending.retain(|p| p.shared == 0);
        s.nr_pending = pending.len() as u32;
    }
    if s.nr_pending > MAX_PENDING {
        refuse!(
            EOPNOTSUPP,
            "{} pending signals, more than the {MAX_PENDING} a restart queues again",
            s.nr_pending
        );
    }
    w.fixed(rec::SIGNALS, &s)?;
    for info in pending.iter() {
        w.fixed(rec::SIGINFO, info)?;
    }
    Ok(())
}
