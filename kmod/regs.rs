// SPDX-License-Identifier: GPL-2.0

//! Registers: the general registers with fs/gs base (`REGS`, as `struct user_regs_struct`)
//! and the FPU/vector state (`XSTATE`, the XSAVE area in standard format).
//!
//! Both are read from the stopped task with the regsets ptrace and core dumps use.

use kernel::bindings;
use kernel::prelude::*;
use zerocopy::{FromBytes, IntoBytes};

use crate::error::{refuse, CkptError, CkptResult, Context};
use crate::image::{ImageReader, ImageWriter};
use crate::sys::task::{current, RegsetBuf, TaskRef, NT_PRSTATUS, NT_X86_XSTATE};
use crate::uapi::image::{self as img, rec};

/// Offset of `XSTATE_BV` in an XSAVE area: the XSAVE header (`struct xstate_header`, whose
/// first field it is) follows the legacy area (`struct fxregs_state`).
const XSTATE_BV_OFFSET: usize = size_of::<bindings::fxregs_state>();
const _: () = assert!(XSTATE_BV_OFFSET == 512);
/// The size of the XSAVE header.
const XSAVE_HDR_SIZE: usize = size_of::<bindings::xstate_header>();

/// Why a task's registers could not be read: it was woken from its ptrace stop (by a
/// SIGKILL: nothing else wakes it while the caller holds it) during the checkpoint.
const LEFT_ITS_STOP: &str = "left its ptrace stop during the checkpoint (killed?)";

/// Reads the XSAVE area of a stopped task.
pub(crate) fn xstate(task: &TaskRef) -> CkptResult<RegsetBuf> {
    match task.regset(NT_X86_XSTATE) {
        Ok(b) if b.as_slice().len() >= XSTATE_BV_OFFSET + XSAVE_HDR_SIZE => Ok(b),
        Ok(b) => refuse!(
            EINVAL,
            "XSAVE area of {} bytes is too small",
            b.as_slice().len()
        ),
        Err(e) if e == ENODEV => refuse!(EOPNOTSUPP, "this CPU has no XSAVE: not supported"),
        Err(e) if e == ESRCH => refuse!(ESRCH, "{LEFT_ITS_STOP}"),
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
    let buf = match task.regset(NT_PRSTATUS) {
        Err(e) if e == ESRCH => refuse!(ESRCH, "{LEFT_ITS_STOP}"),
        r => r.context(fmt!("general registers"))?,
    };
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

const USER_CS: u64 = bindings::__USER_CS as u64;
const USER_DS: u64 = bindings::__USER_DS as u64;

/// The flags a user may change, as ptrace's `putreg` allows them (`FLAG_MASK` in
/// `arch/x86/kernel/ptrace.c`, private to it).
const FLAG_MASK: usize = {
    let bits = [
        bindings::X86_EFLAGS_CF_BIT,
        bindings::X86_EFLAGS_PF_BIT,
        bindings::X86_EFLAGS_AF_BIT,
        bindings::X86_EFLAGS_ZF_BIT,
        bindings::X86_EFLAGS_SF_BIT,
        bindings::X86_EFLAGS_TF_BIT,
        bindings::X86_EFLAGS_DF_BIT,
        bindings::X86_EFLAGS_OF_BIT,
        bindings::X86_EFLAGS_RF_BIT,
        bindings::X86_EFLAGS_AC_BIT,
        bindings::X86_EFLAGS_NT_BIT,
    ];
    let mut mask = 0;
    let mut i = 0;
    while i < bits.len() {
        mask |= 1 << bits[i];
        i += 1;
    }
    mask
};

/// Why the registers `r` cannot be installed in a 64-bit task of this machine, whose user
/// addresses end at `task_size_max`; `None` if they can. The checks of ptrace's `putreg`: a
/// 32-bit or otherwise foreign code or stack segment, a data selector other than the user
/// one, an fs or gs selector (`set_thread_area`), an fs base beyond user space; and a gs
/// base, which cannot be restored yet. One check for checkpoint (refuse what the restart
/// would refuse) and restart (never install what `putreg` would refuse).
fn unrestorable(r: &img::CkptRegsRec, task_size_max: u64) -> Option<CkptError> {
    let data_ok = |sel: u64| sel == 0 || sel == USER_DS;
    if r.cs != USER_CS || r.ss != USER_DS || !data_ok(r.ds) || !data_ok(r.es) {
        return Some(CkptError::new(
            EOPNOTSUPP,
            fmt!(
                "registers: segments cs {:#x} ss {:#x} ds {:#x} es {:#x} (32-bit or foreign code) not supported",
                r.cs,
                r.ss,
                r.ds,
                r.es
            ),
        ));
    }
    if r.fs != 0 || r.gs != 0 {
        return Some(CkptError::new(
            EOPNOTSUPP,
            fmt!(
                "registers: fs selector {:#x} gs selector {:#x} (set_thread_area) not supported yet",
                r.fs,
                r.gs
            ),
        ));
    }
    if r.gs_base != 0 {
        return Some(CkptError::new(
            EOPNOTSUPP,
            fmt!(
                "registers: gs base {:#x} (arch_prctl ARCH_SET_GS) cannot be restored yet",
                r.gs_base
            ),
        ));
    }
    if r.fs_base >= task_size_max {
        return Some(CkptError::new(
            EINVAL,
            fmt!(
                "registers: fs base {:#x} beyond user space ({task_size_max:#x})",
                r.fs_base
            ),
        ));
    }
    None
}

/// Refuses at checkpoint the registers the restart would refuse.
fn restorable(r: &img::CkptRegsRec) -> CkptResult {
    match unrestorable(r, current::task_size_max()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

// ---- Restart --------------------------------------------------------------------------

const ERESTARTSYS: i64 = bindings::ERESTARTSYS as i64;
const ERESTARTNOINTR: i64 = bindings::ERESTARTNOINTR as i64;
const ERESTARTNOHAND: i64 = bindings::ERESTARTNOHAND as i64;
const ERESTART_RESTARTBLOCK: i64 = bindings::ERESTART_RESTARTBLOCK as i64;
const EINTR: i64 = bindings::EINTR as i64;
/// Length of the `syscall` instruction (`0f 05`), by which the kernel's signal code backs
/// up `ip` to restart a call; `bindings` has no constant for it (the C code writes `2`).
const SYSCALL_INSN_LEN: u64 = 2;

/// Whether a call interrupted with `-ERESTART_RESTARTBLOCK` can be made again from its own
/// registers, with the same effect as the kernel's restart of it: `poll` without a timeout
/// (a negative `int` in `dx`), which `sys_poll` sends through its `restart_block` too, but
/// whose restart only polls again, forever, the same descriptors.
fn made_again_as_is(r: &img::CkptRegsRec) -> bool {
    r.orig_ax == u64::from(bindings::__NR_poll) && (r.dx as i32) < 0
}

/// A task stopped inside an interrupted system call has `ax` = `-ERESTART*` and `orig_ax` =
/// the system call number. Resumes it as the kernel's signal code would for a signal with no
/// handler (`arch_do_signal_or_restart`): the call is made again. `-ERESTART_RESTARTBLOCK`
/// (nanosleep, poll with a timeout...) needs the task's `restart_block`, which the module
/// cannot install: the call returns `-EINTR` instead, as it would for a handled signal; but
/// a `poll` without a timeout (`tail -f` waits in one) is made again, as it means the same.
pub(crate) fn resume_syscall(r: &mut img::CkptRegsRec) {
    if (r.orig_ax as i64) < 0 {
        return;
    }
    // `wrapping_neg`: `ax` comes from the image, and `i64::MIN` has no negation (the fuzzer
    // found the overflow panic).
    match (r.ax as i64).wrapping_neg() {
        ERESTARTSYS | ERESTARTNOINTR | ERESTARTNOHAND => {
            r.ax = r.orig_ax;
            r.ip = r.ip.wrapping_sub(SYSCALL_INSN_LEN);
        }
        ERESTART_RESTARTBLOCK if made_again_as_is(r) => {
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
    if let Some(e) = unrestorable(&r, current::task_size_max()) {
        return Err(e);
    }
    current::write_regs(&r, FLAG_MASK);
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

    /// The registers of a 64-bit task in user code, as the kernel leaves them.
    fn user_regs() -> img::CkptRegsRec {
        let mut r = img::CkptRegsRec::new_zeroed();
        r.cs = USER_CS;
        r.ss = USER_DS;
        r.fs_base = 0x7f00_0000_0000;
        r
    }

    const TOP: u64 = (1 << 47) - 4096;

    #[test]
    fn user_registers_are_restorable() {
        assert!(unrestorable(&user_regs(), TOP).is_none());
        let mut r = user_regs();
        r.ds = USER_DS;
        r.es = USER_DS;
        assert!(unrestorable(&r, TOP).is_none());
    }

    #[test]
    fn what_putreg_refuses_is_refused() {
        let cases: [fn(&mut img::CkptRegsRec); 7] = [
            |r| r.cs = 0x23, // 32-bit code
            |r| r.ss = 0,
            |r| r.ds = 0x10,
            |r| r.fs = 0x63, // set_thread_area
            |r| r.gs = 0x6b,
            |r| r.gs_base = 0x1000,
            |r| r.fs_base = TOP,
        ];
        for set in cases {
            let mut r = user_regs();
            set(&mut r);
            assert!(unrestorable(&r, TOP).is_some());
        }
    }

    #[test]
    fn only_user_flags_change() {
        // IF, IOPL, VM and ID stay the kernel's.
        for bit in [9, 12, 13, 17, 21] {
            assert_eq!(FLAG_MASK & (1 << bit), 0);
        }
        assert_eq!(FLAG_MASK, 0x54dd5);
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
        // poll(2) with a timeout of 1000 ms: its remaining time is in the restart block.
        let mut r = stopped_in(u64::from(bindings::__NR_poll), -ERESTART_RESTARTBLOCK);
        r.dx = 1000;
        resume_syscall(&mut r);
        assert_eq!((r.ax as i64, r.ip), (-EINTR, 0x401000));
    }

    #[test]
    fn poll_without_timeout_is_made_again() {
        // timeout -1 as the int it is, whatever the upper half of dx holds.
        for dx in [0xffff_ffff, u64::MAX, 0x1234_5678_8000_0000] {
            let mut r = stopped_in(u64::from(bindings::__NR_poll), -ERESTART_RESTARTBLOCK);
            r.dx = dx;
            resume_syscall(&mut r);
            assert_eq!(r.ax, u64::from(bindings::__NR_poll));
            assert_eq!(r.ip, 0x401000 - 2);
        }
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
        // An image's ax of i64::MIN, which has no negation: left alone, no overflow panic.
        let mut r = stopped_in(1, i64::MIN);
        resume_syscall(&mut r);
        assert_eq!((r.ax as i64, r.ip), (i64::MIN, 0x401000));
    }
}
