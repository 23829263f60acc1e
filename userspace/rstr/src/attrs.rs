// SPDX-License-Identifier: GPL-2.0

//! A thread's scheduling and I/O attributes (`TASK_ATTRS`): its CPU affinity, scheduling
//! policy with its real-time priority and `SCHED_RESET_ON_FORK`, and I/O priority, set by
//! each task on itself ([`apply`]) once the tasks it starts are started (so that none
//! inherits them: each sets its own) and before its credentials change: the kernel then
//! decides with `rstr`'s privilege, which gives back what the process had even where its
//! own credentials would not (a real-time policy given to it by root). Restarted by an
//! ordinary user, the limits restored before (`RLIMIT_RTPRIO`, `RLIMIT_NICE`) allow what
//! they allowed the process; what they do not fails the restart with its reason.
//!
//! An affinity none of whose CPUs is online here fails the restart at its start
//! ([`check`]), rather than being widened; one that keeps some runs on those only (the
//! kernel narrows it).

use anyhow::{bail, Context, Result};

use ckptlib::abi::image as img;
use ckptlib::attrs::{cpu_list, parse_cpu_list};
use ckptlib::restart::Image;

use crate::per_task::{Failed, Own, Step};
use crate::sys::raw;

/// The CPUs online on this machine.
const ONLINE: &str = "/sys/devices/system/cpu/online";

/// Refuses an image with an affinity that has no CPU online here.
pub fn check(image: &Image) -> Result<()> {
    let chosen = |a: &ckptlib::attrs::TaskAttrs| a.rec.flags & img::CKPT_ATTRS_AFFINITY != 0;
    if !image.tasks.iter().flatten().any(|t| chosen(&t.attrs)) {
        return Ok(());
    }
    let list = std::fs::read_to_string(ONLINE).with_context(|| format!("reading {ONLINE}"))?;
    let online = parse_cpu_list(&list).with_context(|| format!("{ONLINE}: {list:?}"))?;
    for t in image.tasks.iter().flatten() {
        let a = &t.attrs;
        if chosen(a) && a.cpus_on(&online).is_none() {
            bail!(
                "pid {}: its CPU affinity ({}) has none of the CPUs online here ({}): it \
                 would have to run elsewhere than it chose",
                t.task.pid,
                cpu_list(&a.cpus),
                list.trim()
            );
        }
    }
    Ok(())
}

/// Sets the calling task's affinity, policy and I/O priority from `o.attrs`. Raw calls,
/// no allocation (a thread runs it).
pub fn apply(o: Own) -> Result<(), Failed> {
    let a = o.attrs;
    if a.rec.flags & img::CKPT_ATTRS_AFFINITY != 0 {
        raw::set_affinity(&a.cpus).step("sched_setaffinity")?;
    }
    let reset = a.rec.flags & img::CKPT_ATTRS_RESET_ON_FORK != 0;
    raw::set_scheduler(a.rec.policy, a.rec.rt_priority, reset).step(
        "sched_setscheduler (a real-time policy needs CAP_SYS_NICE or RLIMIT_RTPRIO, \
         leaving SCHED_IDLE needs RLIMIT_NICE)",
    )?;
    if raw::ioprio_get().step("ioprio_get")? != a.rec.ioprio {
        raw::ioprio_set(a.rec.ioprio)
            .step("ioprio_set (the real-time class needs CAP_SYS_NICE or CAP_SYS_ADMIN)")?;
    }
    Ok(())
}
