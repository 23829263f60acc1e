// SPDX-License-Identifier: GPL-2.0

//! `CKPT_IOC_RESTART`: become the process of an image.
//!
//! Called by `rstr`'s child once it has restored, with system calls, what the module cannot
//! (pid, credentials, files, signal handlers, pending signals, the vDSO's place) and loaded
//! the image's FPU state with `XRSTOR`. The module reads the rest of the image from the
//! descriptor's current position: `MM`, `VMA`s, `PAGES`, `REGS`, `TAIL`.
//!
//! Two phases. First everything that can be checked is checked and every mapped file is
//! opened, changing nothing: a failure returns an error and a reason to `rstr`. Then the
//! caller's memory is replaced; from there on a failure cannot be returned to code that no
//! longer exists, so the reason goes to `err_fd` and the caller is killed: no half-restored
//! process ever runs. On success `err_fd` receives `OK`, `rstr`'s own descriptors are
//! closed, and the ioctl "returns" into the restored registers.

use kernel::prelude::*;

use crate::error::{refuse, CkptError, CkptResult, Context};
use crate::image::ImageReader;
use crate::sys::file::{FileRef, Input, Output};
use crate::sys::mm::Vma;
use crate::sys::task::current;
use crate::uapi::image::{self as img, rec};
use crate::uapi::CkptRestartArgs;
use crate::{memory, regs};

/// Runs the restart; the value is what the caller's `ax` must hold when it returns.
pub(crate) fn restart(args: &CkptRestartArgs) -> CkptResult<u64> {
    if args.flags != 0 || args.__reserved != 0 {
        refuse!(
            EINVAL,
            "unknown flags {:#x} or non-zero reserved field",
            args.flags
        );
    }
    if args.nr_close as usize > args.close_fds.len() {
        refuse!(
            EINVAL,
            "{} descriptors to close, at most {}",
            args.nr_close,
            args.close_fds.len()
        );
    }
    let Some(file) = FileRef::fget(args.fd) else {
        refuse!(EBADF, "image fd {} is not open", args.fd);
    };
    if !file.readable() {
        refuse!(EBADF, "image fd {} is not open for reading", args.fd);
    }
    let mut report = match args.err_fd {
        -1 => None,
        fd => match FileRef::fget(fd) {
            Some(f) if f.writable() => Some(Output::new(f)),
            _ => refuse!(EBADF, "error fd {fd} is not open for writing"),
        },
    };
    let mut rd = ImageReader::new(Input::new(file));

    // Phase 1: check, change nothing.
    let plan = memory::plan(&mut rd)?;
    let mine = memory::check_specials(&plan)?;

    // Phase 2: no way back.
    match become_image(&mut rd, &plan, &mine, args) {
        Ok(ax) => {
            if let Some(out) = report.as_mut() {
                let _ = out.write(b"OK");
            }
            drop(report);
            for &fd in &args.close_fds[..args.nr_close as usize] {
                let _ = current::close_fd(fd);
            }
            Ok(ax)
        }
        Err(e) => {
            if let Some(out) = report.as_mut() {
                let reason = e
                    .reason
                    .as_ref()
                    .map(|r| r.to_bytes())
                    .unwrap_or(b"restart failed");
                let _ = out.write(reason);
            }
            current::kill_self();
            Err(e)
        }
    }
}

fn become_image(
    rd: &mut ImageReader,
    plan: &memory::Plan,
    mine: &[Vma],
    args: &CkptRestartArgs,
) -> CkptResult<u64> {
    memory::replace(plan, mine)?;
    let h = memory::fill(rd, plan)?;
    let r = regs::read(rd, &h)?;
    let tail: img::CkptTailRec = rd.expect(rec::TAIL)?;
    let total = args.records_before.checked_add(rd.count() - 1);
    if tail.magic != img::CKPT_TAIL_MAGIC || Some(tail.nr_records) != total {
        refuse!(
            EINVAL,
            "TAIL record: bad magic or record count {} (read {:?})",
            tail.nr_records,
            total
        );
    }
    memory::set_layout(plan)?;
    let ax = regs::install(r)?;
    current::set_blocked(args.blocked)
        .map_err(CkptError::from)
        .context(fmt!("signal mask"))?;
    Ok(ax)
}
