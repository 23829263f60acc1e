// SPDX-License-Identifier: GPL-2.0

//! Registers: the general registers with fs/gs base (`REGS`, as `struct user_regs_struct`)
//! and the FPU/vector state (`XSTATE`, the XSAVE area in standard format).
//!
//! Both are read from the stopped task with the regsets ptrace and core dumps use.

use kernel::prelude::*;
use zerocopy::{FromBytes, IntoBytes};

use crate::error::{refuse, CkptResult, Context};
use crate::image::ImageWriter;
use crate::sys::task::{RegsetBuf, TaskRef, NT_PRSTATUS, NT_X86_XSTATE};
use crate::uapi::image::{self as img, rec};

/// Offset of `XSTATE_BV` in an XSAVE area (the XSAVE header follows the 512-byte legacy area).
const XSTATE_BV_OFFSET: usize = 512;

/// Reads the XSAVE area of a stopped task.
pub(crate) fn xstate(task: &TaskRef) -> CkptResult<RegsetBuf> {
    match task.regset(NT_X86_XSTATE) {
        Ok(b) if b.as_slice().len() >= XSTATE_BV_OFFSET + 64 => Ok(b),
        Ok(b) => refuse!(
            EINVAL,
            "XSAVE area of {} bytes is too small",
            b.as_slice().len()
        ),
        Err(e) if e == ENODEV => refuse!(EOPNOTSUPP, "this CPU has no XSAVE: not supported"),
        Err(e) => Err(e).context(fmt!("FPU state")),
    }
}

pub(crate) fn checkpoint_xstate(area: &RegsetBuf, w: &mut ImageWriter) -> CkptResult {
    let bytes = area.as_slice();
    let bv = u64::read_from_bytes(&bytes[XSTATE_BV_OFFSET..XSTATE_BV_OFFSET + 8]).unwrap_or(0);
    let x = img::CkptXstateRec {
        xstate_bv: bv,
        size: bytes.len() as u32,
        __reserved: 0,
    };
    w.record(rec::XSTATE, &[x.as_bytes(), bytes])
}

pub(crate) fn checkpoint_regs(task: &TaskRef, w: &mut ImageWriter) -> CkptResult {
    let buf = task
        .regset(NT_PRSTATUS)
        .context(fmt!("general registers"))?;
    let Ok(regs) = img::CkptRegsRec::read_from_bytes(buf.as_slice()) else {
        refuse!(
            EINVAL,
            "general registers: {} bytes, expected {}",
            buf.as_slice().len(),
            size_of::<img::CkptRegsRec>()
        );
    };
    w.fixed(rec::REGS, &regs)
}
