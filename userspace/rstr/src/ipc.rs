// SPDX-License-Identifier: GPL-2.0

//! The IPC of a container's own IPC namespace, made again with ordinary system calls (the
//! module cannot reach `ipc/`'s internals): `rstr`, in the new namespace it makes for the
//! container, makes its POSIX message queues with their messages ([`make_mqueues`]) before
//! it opens the descriptors of the image (a queue's is opened by name, [`open_mq`]); the
//! container's init, first process in the new namespace, gives it the image's SysV limits
//! and makes every segment, queue and set with its id, key, creator and owner
//! ([`restore`]) before any task of the tree runs;
//! each task attaches the segments its memory maps ([`attach`]) for the restart ioctl,
//! which maps them at the image's addresses through those attaches; once every task is
//! restored, `rstr` removes the segments the image has removed but attached and sets
//! `kernel.shm_rmid_forced` ([`finish`]).

use std::fs;
use std::os::fd::{AsFd, OwnedFd};

use anyhow::{Context, Result};
use nix::mqueue::{mq_close, mq_open, mq_send, MQ_OFlag, MqAttr};
use nix::sys::resource::{getrlimit, setrlimit, Resource, RLIM_INFINITY};
use nix::sys::stat::{fchmod, Mode};

use ckptlib::abi::{self, image as img};
use ckptlib::ipc::IpcImage;
use ckptlib::restart::{Image, OpenFile, TaskImage};

use crate::sys::ipc::{self as sys_ipc, Attach, Kind};

/// Writes sysctl `path` (under `/proc/sys/`) with `value`.
fn write_sysctl(path: &str, value: &str) -> Result<()> {
    fs::write(format!("/proc/sys/{path}"), value)
        .with_context(|| format!("writing {value:?} to /proc/sys/{path}"))
}

/// Reads a sysctl of numbers.
fn read_sysctl(path: &str) -> Result<Vec<u64>> {
    let s = fs::read_to_string(format!("/proc/sys/{path}"))
        .with_context(|| format!("reading /proc/sys/{path}"))?;
    s.split_whitespace()
        .map(|w| {
            w.parse()
                .with_context(|| format!("/proc/sys/{path}: {w:?}"))
        })
        .collect()
}

/// The SysV limits of an IPC namespace, as the sysctls that set them.
fn sysv_limits(l: &img::CkptIpcNsRec) -> [(&'static str, Vec<u64>); 7] {
    [
        ("kernel/shmmax", vec![l.shm_ctlmax]),
        ("kernel/shmall", vec![l.shm_ctlall]),
        ("kernel/shmmni", vec![l.shm_ctlmni.into()]),
        ("kernel/msgmax", vec![l.msg_ctlmax.into()]),
        ("kernel/msgmnb", vec![l.msg_ctlmnb.into()]),
        ("kernel/msgmni", vec![l.msg_ctlmni.into()]),
        ("kernel/sem", l.sem_ctls.iter().map(|&v| v.into()).collect()),
    ]
}

fn joined(v: &[u64]) -> String {
    v.iter().map(u64::to_string).collect::<Vec<_>>().join(" ")
}

/// Gives the caller's (new) IPC namespace the image's limits and objects; in the
/// container's init, single-threaded, before any other task of the tree exists.
pub fn restore(ipc: &IpcImage) -> Result<()> {
    // While the objects are made, each limit is the larger of the new namespace's default
    // and the image's: objects made under a limit lowered since still fit.
    // A message longer than kernel.msgmax is not sent: the longest fits too.
    let longest = ipc
        .msq
        .iter()
        .flat_map(|q| q.msgs.iter().map(|(_, t)| t.len() as u64))
        .max()
        .unwrap_or(0);
    let limits = sysv_limits(&ipc.limits);
    for (path, want) in &limits {
        let now = read_sysctl(path)?;
        let mut wider: Vec<u64> = want
            .iter()
            .zip(now.iter().chain(std::iter::repeat(&0)))
            .map(|(a, b)| *a.max(b))
            .collect();
        if *path == "kernel/msgmax" {
            wider[0] = wider[0].max(longest);
        }
        write_sysctl(path, &joined(&wider))?;
    }
    for s in &ipc.shm {
        restore_shm(s).with_context(|| format!("SysV segment {}", s.rec.perm.id))?;
    }
    for q in &ipc.msq {
        restore_msq(q).with_context(|| format!("SysV message queue {}", q.rec.perm.id))?;
    }
    for s in &ipc.sem {
        restore_sem(s).with_context(|| format!("SysV semaphore set {}", s.rec.perm.id))?;
    }
    for (path, want) in &limits {
        write_sysctl(path, &joined(want))?;
    }
    Ok(())
}

/// Makes the image's POSIX message queues, with their owners, modes, attributes and
/// messages, in the caller's (new) IPC namespace, then gives it the image's limits of
/// POSIX queues; in `rstr` itself, before it parks the queues' descriptors.
pub fn make_mqueues(ipc: &IpcImage) -> Result<()> {
    if !ipc.mq.is_empty() {
        // A queue's bytes count against its owner's RLIMIT_MSGQUEUE, as the caller's
        // limit: as root, none while they are made.
        let (cur, max) = getrlimit(Resource::RLIMIT_MSGQUEUE).context("RLIMIT_MSGQUEUE")?;
        setrlimit(Resource::RLIMIT_MSGQUEUE, RLIM_INFINITY, RLIM_INFINITY)
            .context("raising RLIMIT_MSGQUEUE")?;
        let made = ipc.mq.iter().try_for_each(|q| {
            make_mqueue(q).with_context(|| format!("POSIX message queue {}", show(&q.name)))
        });
        setrlimit(Resource::RLIMIT_MSGQUEUE, cur, max).context("RLIMIT_MSGQUEUE back")?;
        made?;
    }
    // The largest first, so that a default never exceeds its maximum.
    let l = &ipc.limits;
    for (path, v) in [
        ("fs/mqueue/msg_max", l.mq_msg_max),
        ("fs/mqueue/msgsize_max", l.mq_msgsize_max),
        ("fs/mqueue/msg_default", l.mq_msg_default),
        ("fs/mqueue/msgsize_default", l.mq_msgsize_default),
        ("fs/mqueue/queues_max", l.mq_queues_max),
    ] {
        write_sysctl(path, &v.to_string())?;
    }
    Ok(())
}

fn show(name: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(name)
}

fn make_mqueue(q: &ckptlib::ipc::MqImage) -> Result<()> {
    let name = std::ffi::CString::new(q.name.clone()).context("a NUL in its name")?;
    let attr = MqAttr::new(0, q.rec.maxmsg as _, q.rec.msgsize as _, 0);
    // Made by its owner (the kernel gives it the caller's fsuid and fsgid), only its owner
    // may use it until its mode is set.
    let mq = sys_ipc::as_creator(q.rec.uid, q.rec.gid, || {
        mq_open(
            name.as_c_str(),
            MQ_OFlag::O_CREAT
                | MQ_OFlag::O_EXCL
                | MQ_OFlag::O_WRONLY
                | MQ_OFlag::O_NONBLOCK
                | MQ_OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
            Some(&attr),
        )
        .with_context(|| {
            format!(
                "mq_open as {}:{} (maxmsg {}, msgsize {})",
                q.rec.uid, q.rec.gid, q.rec.maxmsg, q.rec.msgsize
            )
        })
    })?;
    let filled = (|| -> Result<()> {
        for (i, (prio, text)) in q.msgs.iter().enumerate() {
            mq_send(&mq, text, *prio)
                .with_context(|| format!("message {i} of priority {prio}, {} bytes", text.len()))?;
        }
        fchmod(mq.as_fd(), Mode::from_bits_truncate(q.rec.mode)).context("fchmod")
    })();
    mq_close(mq).context("mq_close")?;
    filled
}

/// Opens the POSIX message queue of descriptor `f` (a `FILE` record of kind `MQUEUE`)
/// again by its name, with its access and `O_NONBLOCK`; in the container's IPC namespace,
/// once [`make_mqueues`] made it.
pub fn open_mq(f: &OpenFile) -> Result<OwnedFd> {
    let flags =
        MQ_OFlag::from_bits_truncate(f.rec.flags as i32 & (libc::O_ACCMODE | libc::O_NONBLOCK))
            | MQ_OFlag::O_CLOEXEC;
    let mq = mq_open(f.path.as_str(), flags, Mode::empty(), None)
        .with_context(|| format!("fd {}: mq_open of POSIX message queue {}", f.rec.fd, f.path))?;
    let fd = mq
        .as_fd()
        .try_clone_to_owned()
        .context("dup of a queue's descriptor");
    mq_close(mq).context("mq_close")?;
    fd
}

/// Makes object `p.id` of kind `kind` with `make` (given the key and permission bits),
/// with the image's id and creator, then gives it the image's owner and mode.
fn create(kind: Kind, p: &img::CkptIpcPerm, make: impl FnOnce(i32) -> Result<i32>) -> Result<()> {
    write_sysctl(kind.next_id(), &p.id.to_string())?;
    // Made by its creator (the kernel records the caller's effective ids), readable and
    // writable only by it until the image's mode is set, as root, once it is filled.
    let id = sys_ipc::as_creator(p.cuid, p.cgid, || make(p.key))
        .with_context(|| format!("making it as its creator {}:{}", p.cuid, p.cgid))?;
    anyhow::ensure!(
        id == p.id,
        "made with id {id}, not the image's {} (/proc/sys/{})",
        p.id,
        kind.next_id()
    );
    Ok(())
}

fn restore_shm(s: &ckptlib::ipc::ShmImage) -> Result<()> {
    let p = &s.rec.perm;
    create(Kind::Shm, p, |key| {
        sys_ipc::create(Kind::Shm, key, s.rec.size, 0, 0o600)
    })?;
    if !s.data.is_empty() {
        let at = Attach::new(p.id, s.rec.size, false).context("attaching it to fill it")?;
        for (offset, bytes) in &s.data {
            at.write(*offset, bytes)?;
        }
    }
    if p.mode & img::CKPT_SHM_LOCKED != 0 {
        sys_ipc::shm_lock(p.id)?;
    }
    sys_ipc::set(Kind::Shm, p.id, p.uid, p.gid, p.mode, 0)
}

fn restore_msq(q: &ckptlib::ipc::MsqImage) -> Result<()> {
    let p = &q.rec.perm;
    create(Kind::Msg, p, |key| {
        sys_ipc::create(Kind::Msg, key, 0, 0, 0o600)
    })?;
    // Room for every message while they are sent (the queue may have been filled before
    // its limit was lowered; `msgsnd` counts messages against it as well as bytes), then
    // the image's limit.
    let total: u64 = q.msgs.iter().map(|(_, t)| t.len() as u64).sum();
    let room = total
        .max(q.msgs.len() as u64)
        .max(q.rec.qbytes)
        .max(sys_ipc::msq_qbytes(p.id)?);
    sys_ipc::set(Kind::Msg, p.id, 0, 0, 0o600, room)?;
    for (i, (mtype, text)) in q.msgs.iter().enumerate() {
        sys_ipc::msg_send(p.id, *mtype, text)
            .with_context(|| format!("message {i} of type {mtype}, {} bytes", text.len()))?;
    }
    sys_ipc::set(Kind::Msg, p.id, p.uid, p.gid, p.mode, q.rec.qbytes)
}

fn restore_sem(s: &ckptlib::ipc::SemImage) -> Result<()> {
    let p = &s.rec.perm;
    create(Kind::Sem, p, |key| {
        sys_ipc::create(Kind::Sem, key, 0, s.rec.nsems, 0o600)
    })?;
    sys_ipc::sem_set_all(p.id, &s.values)?;
    sys_ipc::set(Kind::Sem, p.id, p.uid, p.gid, p.mode, 0)
}

/// Attaches, in the calling task, each segment its memory maps, once per access
/// (read-only, writable), where the kernel chooses; the restart ioctl maps the image's
/// areas through them ([`abi::CkptRestartArgs::shm_at`]) and detaches them with the rest
/// of the caller's memory. Before the task's credentials change.
pub fn attach(image: &Image, t: &TaskImage) -> Result<Vec<abi::CkptShmAt>> {
    let mut out: Vec<abi::CkptShmAt> = Vec::new();
    let mut seen: Vec<(u32, bool)> = Vec::new();
    for v in t
        .memory
        .areas
        .iter()
        .filter(|v| v.kind == img::vma_kind::SYSV_SHM)
    {
        let writable = v.vm_flags & img::CKPT_VM_MAYWRITE != 0;
        if seen.contains(&(v.shm, writable)) {
            continue;
        }
        seen.push((v.shm, writable));
        let s = image
            .ipc
            .as_ref()
            .and_then(|i| i.segment(v.shm))
            .with_context(|| format!("memory {:#x}: no SysV segment object {}", v.start, v.shm))?;
        let at = Attach::new(s.rec.perm.id, s.rec.size, !writable).with_context(|| {
            format!(
                "attaching SysV segment {} for memory {:#x}",
                s.rec.perm.id, v.start
            )
        })?;
        out.push(abi::CkptShmAt {
            id: v.shm,
            __reserved: 0,
            addr: at.keep(),
        });
    }
    Ok(out)
}

/// Gives the calling process, the tree's process `pid`, its undo adjustments (`SEM_UNDO`)
/// for the image's sets; before its credentials change (as root: a set's mode may deny
/// the process's own).
pub fn apply_undo(image: &Image, pid: i32) -> Result<()> {
    for s in image.ipc.iter().flat_map(|i| i.sem.iter()) {
        let Some((_, adj)) = s.undo.iter().find(|(p, _)| *p == pid) else {
            continue;
        };
        for (k, &a) in adj.iter().enumerate().filter(|(_, a)| **a != 0) {
            let sem = u16::try_from(k).context("a semaphore beyond 65535")?;
            sys_ipc::sem_adjust(s.rec.perm.id, sem, a).with_context(|| {
                format!(
                    "undo adjustment {a} of semaphore {k} of SysV set {}",
                    s.rec.perm.id
                )
            })?;
        }
    }
    Ok(())
}

/// Once every task of the tree is restored, before it runs: in the container's IPC
/// namespace (that of its init, `init`), removes the segments the image has removed
/// (`SHM_DEST`), which live on until their last detach, and sets `kernel.shm_rmid_forced`
/// (set earlier, it would have destroyed the segments nobody had attached yet).
pub fn finish(init: i32, ipc: &IpcImage) -> Result<()> {
    let removed: Vec<i32> = ipc
        .shm
        .iter()
        .filter(|s| s.rec.perm.mode & img::CKPT_SHM_DEST != 0)
        .map(|s| s.rec.perm.id)
        .collect();
    let forced = ipc.limits.shm_rmid_forced;
    if removed.is_empty() && forced == 0 {
        return Ok(());
    }
    let ns = fs::File::open(format!("/proc/{init}/ns/ipc"))
        .with_context(|| format!("opening the IPC namespace of the container's init {init}"))?;
    // A thread of its own joins the namespace: rstr stays in its own.
    std::thread::scope(|scope| {
        scope
            .spawn(|| -> Result<()> {
                nix::sched::setns(ns.as_fd(), nix::sched::CloneFlags::CLONE_NEWIPC)
                    .context("joining the container's IPC namespace")?;
                for &id in &removed {
                    sys_ipc::remove(Kind::Shm, id)
                        .with_context(|| format!("removing SysV segment {id} (SHM_DEST)"))?;
                }
                if forced != 0 {
                    write_sysctl("kernel/shm_rmid_forced", &forced.to_string())?;
                }
                Ok(())
            })
            .join()
            .map_err(|_| anyhow::anyhow!("the thread joining the IPC namespace panicked"))?
    })
}
