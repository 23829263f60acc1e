// SPDX-License-Identifier: GPL-2.0

//! `CKPT_IOC_CHECKPOINT`: write the image of a stopped process.
//!
//! The caller must be the target's ptrace tracer and the target must be in a ptrace stop
//! (`ckpt` seizes and interrupts it). This is also the permission check: the kernel let the
//! caller attach only if it has ptrace rights over the target (`ptrace_may_access` is not
//! exported, so the module leans on the attach having passed it), and the stop guarantees
//! that nothing changes while the image is written.

use kernel::prelude::*;

use crate::error::{refuse, CkptError, CkptResult};
use crate::image::ImageWriter;
use crate::sys::{self, file::FileRef, file::Output, mm::MmRef, task::TaskRef};
use crate::uapi::image::{self as img, rec};
use crate::uapi::CkptCheckpointArgs;
use crate::{files, memory, regs, signal, task};
use zerocopy::IntoBytes;

pub(crate) fn checkpoint(args: &CkptCheckpointArgs) -> CkptResult {
    if args.flags != 0 || args.__reserved != 0 {
        refuse!(
            EINVAL,
            "unknown flags {:#x} or non-zero reserved field",
            args.flags
        );
    }
    let Some(file) = FileRef::fget(args.fd) else {
        refuse!(EBADF, "image fd {} is not open", args.fd);
    };
    if !file.writable() {
        refuse!(EBADF, "image fd {} is not open for writing", args.fd);
    }
    let pid = args.pid;
    let Some(target) = TaskRef::lookup(pid) else {
        refuse!(ESRCH, "no process {pid}");
    };
    let st = target.state();
    if st.is_current != 0 {
        refuse!(EINVAL, "a process cannot checkpoint itself");
    }
    if st.kthread != 0 || st.has_mm == 0 {
        refuse!(EPERM, "pid {pid} is a kernel thread");
    }
    if st.traced_by_current == 0 {
        refuse!(
            EPERM,
            "pid {pid} is not ptrace-attached by the caller (ckpt attaches first; that needs ptrace rights over it)"
        );
    }
    if st.stopped == 0 {
        refuse!(EBUSY, "pid {pid} is not in a ptrace stop");
    }
    if st.nr_threads != 1 {
        refuse!(
            EOPNOTSUPP,
            "pid {pid} has {} threads: multi-threaded processes are not supported yet",
            st.nr_threads
        );
    }
    task::check_supported(&target, pid)?;
    let Some(mm) = target.mm() else {
        refuse!(ESRCH, "pid {pid} is exiting");
    };

    let mut w = ImageWriter::new(Output::new(file));
    let result = write_image(&target, &mm, &mut w);
    if let Err(e) = &result {
        // Best effort: the stream ends with the reason instead of a TAIL.
        let _ = write_error(&mut w, e);
    }
    result
}

fn write_image(target: &TaskRef, mm: &MmRef, w: &mut ImageWriter) -> CkptResult {
    let xstate = regs::xstate(target)?;
    let mut h = img::CkptHeaderRec {
        magic: img::CKPT_IMAGE_MAGIC,
        image_version: crate::uapi::CKPT_IMAGE_VERSION,
        arch: img::CKPT_ARCH_X86_64,
        page_size: img::CKPT_PAGE_SIZE,
        xsave_size: xstate.as_slice().len() as u32,
        xfeatures: sys::cpu::xfeatures(),
        time_ns: sys::cpu::time_ns(),
        nr_tasks: 1,
        __reserved: 0,
        kernel_release: [0; 64],
    };
    sys::uts::kernel_release(&mut h.kernel_release);
    w.fixed(rec::HEADER, &h)?;

    task::checkpoint(target, w)?;
    files::checkpoint_fs(target, w)?;
    signal::checkpoint(target, w)?;
    files::checkpoint(target, w)?;
    regs::checkpoint_xstate(&xstate, w)?;
    memory::checkpoint(mm, w)?;
    regs::checkpoint_regs(target, w)?;

    let tail = img::CkptTailRec {
        magic: img::CKPT_TAIL_MAGIC,
        nr_records: w.count(),
    };
    w.fixed(rec::TAIL, &tail)
}

fn write_error(w: &mut ImageWriter, e: &CkptError) -> CkptResult {
    let reason = e.reason.as_ref().map(|r| r.to_bytes()).unwrap_or(b"");
    let reason = &reason[..reason.len().min(img::CKPT_REASON_MAX as usize)];
    let r = img::CkptErrorRec {
        errno: -e.errno.to_errno(),
        len: reason.len() as u32,
    };
    w.record(rec::ERROR, &[r.as_bytes(), reason])
}
