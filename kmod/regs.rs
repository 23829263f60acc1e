// SPDX-License-Identifier: GPL-2.0

//! Registers: the general registers with fs/gs base (`REGS`, as `struct user_regs_struct`)
//! and the FPU/vector state (`XSTATE`, the XSAVE area in standard format).
//!
//! Both are read from the stopped task with the regsets ptrace and core dumps use.

use kernel::prelude::*;
use zerocopy::{FromBytes, IntoBytes};

use crate::error::{refuse, CkptError, CkptResult, Context};
use crate::image::{ImageReader, ImageWriter};
use crate::sys::task::{current, RegsetBuf, TaskRef, NT_PRSTATUS, NT_X86_XSTATE};
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
    restorable(&regs)?;
    w.fixed(rec::REGS, &regs)
}

const USER_CS: u64 = 0x33;
const USER_DS: u64 = 0x2b;

/// Refuses at checkpoint the registers the restart would refuse (`ckpt_helper_set_regs`
/// checks them as ptrace's `putreg` does, and a gs base cannot be restored): a 32-bit or
/// otherwise foreign code or stack segment, a data selector other than the user one, an
/// fs or gs selector (`set_thread_area`), a gs base. The fs base is below `TASK_SIZE_MAX` of
/// the checkpointing machine; only a restart on one with a smaller address space can fail.
fn restorable(r: &img::CkptRegsRec) -> CkptResult {
    let data_ok = |sel: u64| sel == 0 || sel == USER_DS;
    if r.cs != USER_CS || r.ss != USER_DS || !data_ok(r.ds) || !data_ok(r.es) {
        refuse!(
            EOPNOTSUPP,
            "registers: segments cs {:#x} ss {:#x} ds {:#x} es {:#x} (32-bit or foreign code) not supported",
            r.cs,
            r.ss,
            r.ds,
            r.es
        );
    }
    if r.fs != 0 || r.gs != 0 {
        refuse!(
            EOPNOTSUPP,
            "registers: fs selector {:#x} gs selector {:#x} (set_thread_area) not supported yet",
            r.fs,
            r.gs
        );
    }
    if r.gs_base != 0 {
        refuse!(
            EOPNOTSUPP,
            "registers: gs base {:#x} (arch_prctl ARCH_SET_GS) cannot be restored yet",
            r.gs_base
        );
    }
    Ok(())
}

// ---- Restart --------------------------------------------------------------------------

const ERESTARTSYS: i64 = 512;
const ERESTARTNOINTR: i64 = 513;
const ERESTARTNOHAND: i64 = 514;
const ERESTART_RESTARTBLOCK: i64 = 516;
const EINTR: i64 = 4;
/// Length of the `syscall` instruction.
const SYSCALL_INSN_LEN: u64 = 2;

/// A task stopped inside an interrupted system call has `ax` = `-ERESTART*` and `orig_ax` =
/// the system call number. Resumes it as the kernel's signal code would for a signal with no
/// handler (`arch_do_signal_or_restart`): the call is made again. `-ERESTART_RESTARTBLOCK`
/// (nanosleep, poll with a timeout...) needs the task's `restart_block`, which the module
/// cannot install: the call returns `-EINTR` instead, as it would for a handled signal.
pub(crate) fn resume_syscall(r: &mut img::CkptRegsRec) {
    if (r.orig_ax as i64) < 0 {
        return;
    }
    match -(r.ax as i64) {
        ERESTARTSYS | ERESTARTNOINTR | ERESTARTNOHAND => {
            r.ax = r.orig_ax;
            r.ip = r.ip.wrapping_sub(SYSCALL_INSN_LEN);
        }
        ERESTART_RESTARTBLOCK => r.ax = (-EINTR) as u64,
        _ => {}
    }
}

/// Reads the payload of the `REGS` record whose header `h` was just read.
pub(crate) fn read(rd: &mut ImageReader, h: &img::CkptHdr) -> CkptResult<img::CkptRegsRec> {
    if h.kind != rec::REGS {
        refuse!(
            EINVAL,
            "expected the REGS record, found {}",
            rec::name(h.kind)
        );
    }
    rd.fixed(h)
}

/// Makes `r` the state the caller returns to; returns the value for `ax`.
pub(crate) fn install(mut r: img::CkptRegsRec) -> CkptResult<u64> {
    resume_syscall(&mut r);
    if r.gs_base != 0 {
        refuse!(
            EOPNOTSUPP,
            "registers: a non-zero gs base cannot be restored yet"
        );
    }
    current::set_regs(&r).map_err(|e| {
        CkptError::new(e, fmt!("registers: selectors cs {:#x} ss {:#x} ds {:#x} es {:#x} fs {:#x} gs {:#x} or fs base {:#x} refused", r.cs, r.ss, r.ds, r.es, r.fs, r.gs, r.fs_base))
    })?;
    Ok(r.ax)
}

#[kunit_tests(ckpt_regs)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    fn stopped_in(nr: u64, ax: i64) -> img::CkptRegsRec {
        let mut r = img::CkptRegsRec::new_zeroed();
        r.orig_ax = nr;
        r.ax = ax as u64;
        r.ip = 0x401000;
        r
    }

    #[test]
    fn restartable_calls_are_made_again() {
        for code in [ERESTARTSYS, ERESTARTNOINTR, ERESTARTNOHAND] {
            let mut r = stopped_in(0, -code); // read(2)
            resume_syscall(&mut r);
            assert_eq!(r.ax, 0);
            assert_eq!(r.ip, 0x401000 - 2);
        }
    }

    #[test]
    fn restart_block_calls_return_eintr() {
        let mut r = stopped_in(35, -ERESTART_RESTARTBLOCK); // nanosleep(2)
        resume_syscall(&mut r);
        assert_eq!(r.ax as i64, -EINTR);
        assert_eq!(r.ip, 0x401000);
    }

    #[test]
    fn other_states_are_left_alone() {
        // A finished system call, and user code (orig_ax = -1) whose ax happens to look like
        // a restart code.
        let mut r = stopped_in(1, 5);
        resume_syscall(&mut r);
        assert_eq!((r.ax, r.ip), (5, 0x401000));
        let mut r = stopped_in(u64::MAX, -ERESTARTSYS);
        resume_syscall(&mut r);
        assert_eq!((r.ax as i64, r.ip), (-ERESTARTSYS, 0x401000));
    }
}
