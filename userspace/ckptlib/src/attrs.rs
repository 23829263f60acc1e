// SPDX-License-Identifier: GPL-2.0

//! A thread's scheduling and I/O attributes: the `TASK_ATTRS` record (policy, real-time
//! priority, `SCHED_RESET_ON_FORK`, I/O priority, CPU affinity), checked for `rstr` and
//! shown by `ckpt show`.

use anyhow::{ensure, Result};
use serde::Serialize;

use crate::abi::image::{self as img, CkptTaskAttrsRec};

/// `SCHED_*` policies a `TASK_ATTRS` record may hold (`<linux/sched.h>`).
pub const SCHED_OTHER: u32 = 0;
pub const SCHED_FIFO: u32 = 1;
pub const SCHED_RR: u32 = 2;
pub const SCHED_BATCH: u32 = 3;
pub const SCHED_IDLE: u32 = 5;

/// `IOPRIO_CLASS_*` (`<linux/ioprio.h>`): the class is the top 3 bits of 16.
pub const IOPRIO_CLASS_SHIFT: u32 = 13;
const IOPRIO_CLASS_IDLE: u32 = 3;

/// One thread's attributes: the record and its affinity mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskAttrs {
    pub rec: CkptTaskAttrsRec,
    /// `rec.cpus_words` words: bit `n % 64` of word `n / 64` is CPU `n`.
    pub cpus: Vec<u64>,
}

/// The name of a policy, `None` for one a record may not hold.
pub fn policy_name(p: u32) -> Option<&'static str> {
    Some(match p {
        SCHED_OTHER => "SCHED_OTHER",
        SCHED_FIFO => "SCHED_FIFO",
        SCHED_RR => "SCHED_RR",
        SCHED_BATCH => "SCHED_BATCH",
        SCHED_IDLE => "SCHED_IDLE",
        _ => return None,
    })
}

/// The CPUs of a mask, in order.
pub fn cpus_of(words: &[u64]) -> impl Iterator<Item = u32> + '_ {
    words.iter().enumerate().flat_map(|(i, &w)| {
        (0..64)
            .filter(move |b| w & (1 << b) != 0)
            .map(move |b| i as u32 * 64 + b)
    })
}

/// A CPU list as the kernel writes one (`0-3,6`).
pub fn cpu_list(words: &[u64]) -> String {
    let mut runs: Vec<(u32, u32)> = Vec::new();
    for c in cpus_of(words) {
        match runs.last_mut() {
            Some((_, b)) if *b + 1 == c => *b = c,
            _ => runs.push((c, c)),
        }
    }
    let run = |&(a, b): &(u32, u32)| {
        if a == b {
            a.to_string()
        } else {
            format!("{a}-{b}")
        }
    };
    runs.iter().map(run).collect::<Vec<_>>().join(",")
}

/// Parses a CPU list (`/sys/devices/system/cpu/online`: `0-3,6`) into mask words.
pub fn parse_cpu_list(s: &str) -> Result<Vec<u64>> {
    let mut words = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.parse::<u32>()?, b.parse::<u32>()?),
            None => {
                let a = part.parse::<u32>()?;
                (a, a)
            }
        };
        ensure!(
            a <= b && b < img::CKPT_MAX_CPUS,
            "CPU list {s:?}: bad range {part}"
        );
        for c in a..=b {
            let w = (c / 64) as usize;
            if words.len() <= w {
                words.resize(w + 1, 0);
            }
            words[w] |= 1 << (c % 64);
        }
    }
    Ok(words)
}

impl TaskAttrs {
    /// Checks what `rstr` gives the kernel (which checks again): a policy it knows with a
    /// priority in its range, an I/O priority class that exists, CPUs in the mask.
    pub fn check(&self, pid: i32) -> Result<()> {
        let r = &self.rec;
        let Some(name) = policy_name(r.policy) else {
            anyhow::bail!(
                "TASK_ATTRS record of {pid}: scheduling policy {} is unknown",
                r.policy
            );
        };
        let rt = matches!(r.policy, SCHED_FIFO | SCHED_RR);
        ensure!(
            if rt {
                (1..=99).contains(&r.rt_priority)
            } else {
                r.rt_priority == 0
            },
            "TASK_ATTRS record of {pid}: priority {} for {name}",
            r.rt_priority
        );
        let class = r.ioprio >> IOPRIO_CLASS_SHIFT;
        ensure!(
            r.ioprio <= u32::from(u16::MAX) && class <= IOPRIO_CLASS_IDLE,
            "TASK_ATTRS record of {pid}: I/O priority {:#x} has no class",
            r.ioprio
        );
        ensure!(
            self.cpus.iter().any(|&w| w != 0),
            "TASK_ATTRS record of {pid}: an empty CPU affinity"
        );
        let n = r.nr_cpus;
        ensure!(
            cpus_of(&self.cpus).all(|c| c < n),
            "TASK_ATTRS record of {pid}: CPU affinity {} beyond its {n} CPUs",
            cpu_list(&self.cpus)
        );
        Ok(())
    }

    /// The CPUs of its affinity that `online` (mask words) has; `None` if it keeps none
    /// (its affinity cannot be had here).
    pub fn cpus_on(&self, online: &[u64]) -> Option<Vec<u64>> {
        let kept: Vec<u64> = (self.cpus.iter().enumerate())
            .map(|(i, w)| w & online.get(i).copied().unwrap_or(0))
            .collect();
        kept.iter().any(|&w| w != 0).then_some(kept)
    }
}

/// `ckpt show`'s view of a `TASK_ATTRS` record.
#[derive(Debug, Serialize)]
pub struct Shown {
    pub policy: String,
    pub rt_priority: u32,
    pub reset_on_fork: bool,
    /// `none`, or `CLASS/LEVEL` (`be/4`); the raw value beside.
    pub ioprio: String,
    pub ioprio_raw: u32,
    pub nr_cpus: u32,
    /// The CPU list (`0-1`) and whether it is the thread's own.
    pub cpus: String,
    pub affinity_set: bool,
}

pub fn show(a: &TaskAttrs) -> Shown {
    let r = &a.rec;
    let class = ["none", "rt", "be", "idle"]
        .get((r.ioprio >> IOPRIO_CLASS_SHIFT) as usize)
        .copied()
        .unwrap_or("?");
    Shown {
        policy: policy_name(r.policy).map_or_else(|| r.policy.to_string(), str::to_string),
        rt_priority: r.rt_priority,
        reset_on_fork: r.flags & img::CKPT_ATTRS_RESET_ON_FORK != 0,
        ioprio: if r.ioprio == 0 {
            "none".into()
        } else {
            format!("{class}/{}", r.ioprio & 7)
        },
        ioprio_raw: r.ioprio,
        nr_cpus: r.nr_cpus,
        cpus: cpu_list(&a.cpus),
        affinity_set: r.flags & img::CKPT_ATTRS_AFFINITY != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    fn attrs(policy: u32, prio: u32, cpus: &[u64]) -> TaskAttrs {
        let mut rec = CkptTaskAttrsRec::new_zeroed();
        (rec.policy, rec.rt_priority) = (policy, prio);
        (rec.nr_cpus, rec.cpus_words) = (cpus.len() as u32 * 64, cpus.len() as u32);
        TaskAttrs {
            rec,
            cpus: cpus.to_vec(),
        }
    }

    #[test]
    fn cpu_lists_both_ways() {
        assert_eq!(cpu_list(&[0b1011]), "0-1,3");
        assert_eq!(cpu_list(&[0, 1]), "64");
        assert_eq!(parse_cpu_list("0-1,3\n").unwrap(), vec![0b1011]);
        assert_eq!(parse_cpu_list("64").unwrap(), vec![0, 1]);
        assert!(parse_cpu_list("3-1").is_err());
    }

    #[test]
    fn policies_and_priorities_are_checked() {
        assert!(attrs(SCHED_FIFO, 10, &[1]).check(1).is_ok());
        assert!(attrs(SCHED_FIFO, 0, &[1]).check(1).is_err());
        assert!(attrs(SCHED_BATCH, 3, &[1]).check(1).is_err());
        assert!(attrs(6, 0, &[1]).check(1).is_err(), "SCHED_DEADLINE");
        assert!(attrs(SCHED_IDLE, 0, &[0]).check(1).is_err(), "empty mask");
        let mut a = attrs(SCHED_OTHER, 0, &[1]);
        a.rec.nr_cpus = 0;
        a.cpus = vec![2];
        a.rec.nr_cpus = 1;
        assert!(a.check(1).is_err(), "CPU 1 of a 1-CPU machine");
        a.rec.ioprio = 4 << IOPRIO_CLASS_SHIFT;
        a.cpus = vec![1];
        assert!(a.check(1).is_err(), "I/O class 4");
    }

    #[test]
    fn affinity_on_fewer_cpus() {
        let a = attrs(SCHED_OTHER, 0, &[0b110]);
        assert_eq!(a.cpus_on(&[0b011]), Some(vec![0b010]));
        assert_eq!(a.cpus_on(&[0b001]), None);
        assert_eq!(a.cpus_on(&[]), None);
    }
}
