// SPDX-License-Identifier: GPL-2.0

//! `ckpt check`: what stands between a tree (or this machine) and a checkpoint.
//!
//! For a tree, the reasons come from the module's dry run (`CKPT_CHECKPOINT_CHECK`, every
//! reason at once) and from what only `ckpt` sees (SysV IPC used by id, a tree `rstr` could
//! not build). Each is one line as the checkpoint would say it; [`Reason::parse`] finds in
//! it the task, descriptor or memory area it is about, for `--json`.
//!
//! For the machine, [`system`] looks at what checkpoint and restart need of the running
//! kernel and of the caller, each answer naming the missing piece.

use std::path::Path;

use serde::Serialize;

/// One reason a tree cannot be checkpointed, and what it is about.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Reason {
    /// The task (thread id) it is about, if it names one.
    pub task: Option<i32>,
    /// The descriptor, if it is about one.
    pub fd: Option<i32>,
    /// The memory area (`start-end`, hexadecimal), if it is about one.
    pub area: Option<String>,
    /// The whole reason, as the checkpoint says it.
    pub reason: String,
}

impl Reason {
    /// Finds the task, descriptor and area a reason names: `task N: `, `pid N `,
    /// `fd N: ` and `memory 0xA-0xB` at the start of one of its `: `-separated parts.
    pub fn parse(line: &str) -> Reason {
        let mut r = Reason {
            task: None,
            fd: None,
            area: None,
            reason: line.to_string(),
        };
        for part in line.split(": ") {
            let mut words = part.split_whitespace();
            let (Some(word), Some(value)) = (words.next(), words.next()) else {
                continue;
            };
            match word {
                "task" | "pid" if r.task.is_none() => r.task = value.parse().ok(),
                "fd" if r.fd.is_none() => r.fd = value.parse().ok(),
                _ => {}
            }
            // An area is named as a range, `memory 0xA-0xB` or `VMA record 0xA-0xB`.
            if r.area.is_none() {
                r.area = part
                    .split_whitespace()
                    .map(|w| w.trim_end_matches([':', ',', ';']))
                    .find(|w| is_range(w))
                    .map(str::to_string);
            }
        }
        r
    }
}

/// `0xA-0xB`.
fn is_range(w: &str) -> bool {
    let hex = |s: &str| {
        s.strip_prefix("0x")
            .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
    };
    w.split_once('-').is_some_and(|(a, b)| hex(a) && hex(b))
}

/// How one requirement of the machine stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// Works, with a limit that the detail says.
    Warn,
    /// Checkpoint or restart cannot work until it is fixed.
    Fail,
}

/// One requirement of the machine, and how it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Item {
    pub what: &'static str,
    pub status: Status,
    pub detail: String,
}

fn item(what: &'static str, status: Status, detail: impl Into<String>) -> Item {
    Item {
        what,
        status,
        detail: detail.into(),
    }
}

/// The machine's answer to what checkpoint and restart need: the module, ptrace, the
/// caller's capabilities, the kernel's interfaces `rstr` uses.
pub fn system() -> Vec<Item> {
    let mut items = Vec::new();
    items.push(match crate::device::Device::open() {
        Ok(dev) => {
            let v = dev.version();
            let both = crate::abi::CKPT_FEATURE_CHECKPOINT | crate::abi::CKPT_FEATURE_RESTART;
            let release = nix::sys::utsname::uname()
                .map(|u| u.release().to_string_lossy().into_owned())
                .unwrap_or_default();
            if v.features & both != both {
                item(
                    "module",
                    Status::Fail,
                    format!(
                        "the module lacks checkpoint or restart (features {:#x})",
                        v.features
                    ),
                )
            } else if v.kernel_release != release {
                item(
                    "module",
                    Status::Warn,
                    format!("built for {}, running on {release}", v.kernel_release),
                )
            } else {
                item(
                    "module",
                    Status::Ok,
                    format!(
                        "/dev/checkpoint: ABI {}, image version {}, kernel {}",
                        v.abi_version, v.image_version, v.kernel_release
                    ),
                )
            }
        }
        Err(e) => item("module", Status::Fail, format!("{e:#}")),
    });
    let caps = Caps::read();
    items.push(ptrace_item(
        read_number("/proc/sys/kernel/yama/ptrace_scope"),
        &caps,
    ));
    items.push(if caps.root || caps.checkpoint_restore {
        item(
            "restart pids",
            Status::Ok,
            "rstr may create tasks with the image's pids (clone3 set_tid)",
        )
    } else {
        item(
            "restart pids",
            Status::Fail,
            "rstr needs CAP_CHECKPOINT_RESTORE (or root) to give tasks the image's pids",
        )
    });
    items.push(
        match std::fs::metadata("/proc/sys/kernel/ns_last_pid") {
            Ok(_) => item("pid namespaces", Status::Ok, "/proc/sys/kernel/ns_last_pid is there"),
            Err(_) => item(
                "pid namespaces",
                Status::Warn,
                "no /proc/sys/kernel/ns_last_pid (CONFIG_CHECKPOINT_RESTORE off?): pids cannot be chosen",
            ),
        },
    );
    items.push(match read_number("/proc/sys/kernel/pid_max") {
        Some(n) => item(
            "pid_max",
            Status::Ok,
            format!("{n}: an image's pids above it cannot be restored"),
        ),
        None => item(
            "pid_max",
            Status::Warn,
            "/proc/sys/kernel/pid_max unreadable",
        ),
    });
    items
}

/// What ptrace lets `ckpt` do, from Yama's `ptrace_scope` (`None`: no Yama).
fn ptrace_item(scope: Option<u64>, caps: &Caps) -> Item {
    let may = caps.root || caps.sys_ptrace;
    match scope {
        None | Some(0) => item(
            "ptrace",
            Status::Ok,
            if may {
                "any process may be checkpointed"
            } else {
                "processes of the caller's own uid may be checkpointed"
            },
        ),
        Some(1) if may => item("ptrace", Status::Ok, "kernel.yama.ptrace_scope 1; CAP_SYS_PTRACE lets ckpt attach to any process"),
        Some(1) => item(
            "ptrace",
            Status::Warn,
            "kernel.yama.ptrace_scope is 1: without CAP_SYS_PTRACE, ckpt may checkpoint only its own descendants",
        ),
        Some(2) if may => item("ptrace", Status::Ok, "kernel.yama.ptrace_scope 2; the caller has CAP_SYS_PTRACE"),
        Some(2) => item(
            "ptrace",
            Status::Fail,
            "kernel.yama.ptrace_scope is 2: only a caller with CAP_SYS_PTRACE may checkpoint",
        ),
        Some(n) => item(
            "ptrace",
            Status::Fail,
            format!("kernel.yama.ptrace_scope is {n}: ptrace attach is disabled, no checkpoint is possible until reboot"),
        ),
    }
}

// <linux/capability.h>; libc does not define them.
const CAP_SYS_PTRACE: u32 = 19;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_CHECKPOINT_RESTORE: u32 = 40;

/// The caller's effective capabilities that matter here.
#[derive(Debug, Default)]
struct Caps {
    root: bool,
    sys_ptrace: bool,
    checkpoint_restore: bool,
}

impl Caps {
    fn read() -> Caps {
        let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
        let eff = status
            .lines()
            .find_map(|l| l.strip_prefix("CapEff:"))
            .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
            .unwrap_or(0);
        let has = |cap: u32| eff & (1u64 << cap) != 0;
        Caps {
            root: nix::unistd::geteuid().is_root() && has(CAP_SYS_ADMIN),
            sys_ptrace: has(CAP_SYS_PTRACE),
            checkpoint_restore: has(CAP_CHECKPOINT_RESTORE) || has(CAP_SYS_ADMIN),
        }
    }
}

fn read_number(path: impl AsRef<Path>) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_name_what_they_are_about() {
        let r = Reason::parse("task 42: fd 7: fanotify not supported yet");
        assert_eq!((r.task, r.fd, r.area.as_deref()), (Some(42), Some(7), None));
        let r = Reason::parse(
            "task 9: memory 0x7f00-0x8000: mapped file /x cannot be reopened by path",
        );
        assert_eq!((r.task, r.fd), (Some(9), None));
        assert_eq!(r.area.as_deref(), Some("0x7f00-0x8000"));
        let r = Reason::parse("pid 5 uses POSIX timers (timer_create): not supported yet");
        assert_eq!((r.task, r.fd), (Some(5), None));
        let r = Reason::parse(
            "task 3: restart would refuse this area: VMA record 0x10-0x20: object too small",
        );
        assert_eq!(r.area.as_deref(), Some("0x10-0x20"));
        assert_eq!(Reason::parse("task 3: 0x10-zz").area, None);
        let r = Reason::parse("SysV shared memory segment 3 is attached");
        assert_eq!((r.task, r.fd, r.area), (None, None, None));
        assert_eq!(r.reason, "SysV shared memory segment 3 is attached");
    }

    #[test]
    fn ptrace_scope_is_read_as_yama_means_it() {
        let user = Caps::default();
        let admin = Caps {
            sys_ptrace: true,
            ..Caps::default()
        };
        assert_eq!(ptrace_item(None, &user).status, Status::Ok);
        assert_eq!(ptrace_item(Some(1), &user).status, Status::Warn);
        assert_eq!(ptrace_item(Some(1), &admin).status, Status::Ok);
        assert_eq!(ptrace_item(Some(2), &user).status, Status::Fail);
        assert_eq!(ptrace_item(Some(2), &admin).status, Status::Ok);
        assert_eq!(ptrace_item(Some(3), &admin).status, Status::Fail);
    }
}
