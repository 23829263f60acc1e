// SPDX-License-Identifier: GPL-2.0

//! SysV IPC calls (`nix` has none): making segments, queues and sets, filling them,
//! attaching segments, and the ids and owners of new ones.

use std::ffi::c_void;

use anyhow::{Context, Result};

use super::check;
use super::raw::{setres, Ids};

/// `shmget`, `msgget` or `semget` with `IPC_CREAT | IPC_EXCL`: the new object's id.
pub fn create(kind: Kind, key: i32, size: u64, nsems: u32, mode: u32) -> Result<i32> {
    let flags = libc::IPC_CREAT | libc::IPC_EXCL | (mode & 0o777) as i32;
    // SAFETY: plain system calls on integers.
    let ret = unsafe {
        match kind {
            Kind::Shm => libc::shmget(key, size as usize, flags),
            Kind::Msg => libc::msgget(key, flags),
            Kind::Sem => libc::semget(key, nsems as i32, flags),
        }
    };
    check(ret.into(), kind.get()).map(|id| id as i32)
}

/// The kinds of objects.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    Shm,
    Msg,
    Sem,
}

impl Kind {
    fn get(self) -> &'static str {
        match self {
            Kind::Shm => "shmget",
            Kind::Msg => "msgget",
            Kind::Sem => "semget",
        }
    }

    /// The `kernel.*_next_id` sysctl (under `/proc/sys/`) that chooses the next new object's id.
    pub fn next_id(self) -> &'static str {
        match self {
            Kind::Shm => "kernel/shm_next_id",
            Kind::Msg => "kernel/msg_next_id",
            Kind::Sem => "kernel/sem_next_id",
        }
    }
}

/// Sets the owner, group and permission bits of object `id` (`IPC_SET`); for a queue, its
/// byte limit too.
pub fn set(kind: Kind, id: i32, uid: u32, gid: u32, mode: u32, qbytes: u64) -> Result<()> {
    // SAFETY: each struct is plain data, zero is a valid value of every field; the calls
    // read the struct they are given and nothing else.
    let ret = unsafe {
        match kind {
            Kind::Shm => {
                let mut ds: libc::shmid_ds = std::mem::zeroed();
                ds.shm_perm.uid = uid;
                ds.shm_perm.gid = gid;
                ds.shm_perm.mode = (mode & 0o777) as _;
                libc::shmctl(id, libc::IPC_SET, &mut ds)
            }
            Kind::Msg => {
                let mut ds: libc::msqid_ds = std::mem::zeroed();
                ds.msg_perm.uid = uid;
                ds.msg_perm.gid = gid;
                ds.msg_perm.mode = (mode & 0o777) as _;
                ds.msg_qbytes = qbytes as _;
                libc::msgctl(id, libc::IPC_SET, &mut ds)
            }
            Kind::Sem => {
                let mut ds: libc::semid_ds = std::mem::zeroed();
                ds.sem_perm.uid = uid;
                ds.sem_perm.gid = gid;
                ds.sem_perm.mode = (mode & 0o777) as _;
                libc::semctl(id, 0, libc::IPC_SET, &mut ds as *mut libc::semid_ds)
            }
        }
    };
    check(ret.into(), "IPC_SET").map(|_| ())
}

/// The byte limit of queue `id` (`IPC_STAT`).
pub fn msq_qbytes(id: i32) -> Result<u64> {
    // SAFETY: `ds` is writable plain data the call fills.
    let mut ds: libc::msqid_ds = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let ret = unsafe { libc::msgctl(id, libc::IPC_STAT, &mut ds) };
    check(ret.into(), "msgctl(IPC_STAT)")?;
    Ok(ds.msg_qbytes as u64)
}

/// Removes object `id` (`IPC_RMID`): a segment still attached lives on, marked `SHM_DEST`.
pub fn remove(kind: Kind, id: i32) -> Result<()> {
    // SAFETY: plain system calls on integers (a NULL buffer is not read by IPC_RMID).
    let ret = unsafe {
        match kind {
            Kind::Shm => libc::shmctl(id, libc::IPC_RMID, std::ptr::null_mut()),
            Kind::Msg => libc::msgctl(id, libc::IPC_RMID, std::ptr::null_mut()),
            Kind::Sem => libc::semctl(id, 0, libc::IPC_RMID),
        }
    };
    check(ret.into(), "IPC_RMID").map(|_| ())
}

/// Locks segment `id` in memory (`SHM_LOCK`).
pub fn shm_lock(id: i32) -> Result<()> {
    // SAFETY: a plain system call (SHM_LOCK reads no buffer).
    let ret = unsafe { libc::shmctl(id, libc::SHM_LOCK, std::ptr::null_mut()) };
    check(ret.into(), "shmctl(SHM_LOCK)").map(|_| ())
}

/// Sends message `text` of type `mtype` to queue `id`, without waiting.
pub fn msg_send(id: i32, mtype: i64, text: &[u8]) -> Result<()> {
    let mut buf = Vec::with_capacity(8 + text.len());
    buf.extend_from_slice(&mtype.to_ne_bytes());
    buf.extend_from_slice(text);
    // SAFETY: `buf` is a `struct msgbuf` (a long, then the text) of `text.len()` bytes of
    // text, which the call reads.
    let ret = unsafe {
        libc::msgsnd(
            id,
            buf.as_ptr().cast::<c_void>(),
            text.len(),
            libc::IPC_NOWAIT,
        )
    };
    check(ret.into(), "msgsnd").map(|_| ())
}

/// Sets every value of semaphore set `id` (`SETALL`).
pub fn sem_set_all(id: i32, values: &[i32]) -> Result<()> {
    let v: Vec<u16> = values
        .iter()
        .map(|&x| u16::try_from(x).context("a semaphore value out of range"))
        .collect::<Result<_>>()?;
    // SAFETY: SETALL reads `nsems` unsigned shorts from the pointer, as many as `v` holds
    // (the set was made with that many).
    let ret = unsafe { libc::semctl(id, 0, libc::SETALL, v.as_ptr()) };
    check(ret.into(), "semctl(SETALL)").map(|_| ())
}

/// Gives the caller an undo adjustment (`semadj`) of `adj` for semaphore `sem` of set
/// `id` and leaves its value as it is: one `semop` raises the value by `|adj|` and lowers
/// it back, the one of the two that makes `adj` with `SEM_UNDO` (an undone operation adds
/// its opposite to the adjustment).
pub fn sem_adjust(id: i32, sem: u16, adj: i32) -> Result<()> {
    let n = i16::try_from(adj.unsigned_abs()).context("an adjustment beyond SEMVMX")?;
    let undo = libc::SEM_UNDO as i16;
    let (up, down) = if adj > 0 { (0, undo) } else { (undo, 0) };
    let nowait = libc::IPC_NOWAIT as i16;
    let mut ops = [
        libc::sembuf {
            sem_num: sem,
            sem_op: n,
            sem_flg: nowait | up,
        },
        libc::sembuf {
            sem_num: sem,
            sem_op: -n,
            sem_flg: nowait | down,
        },
    ];
    // SAFETY: `ops` holds the two operations the call reads.
    let ret = unsafe { libc::semop(id, ops.as_mut_ptr(), ops.len()) };
    check(ret.into(), "semop").map(|_| ())
}

/// An attach of a segment, detached when dropped.
pub struct Attach {
    pub addr: u64,
    pub len: usize,
}

impl Attach {
    /// Attaches segment `id` of `size` bytes where the kernel chooses, read-only or not.
    pub fn new(id: i32, size: u64, read_only: bool) -> Result<Attach> {
        let flags = if read_only { libc::SHM_RDONLY } else { 0 };
        // SAFETY: the kernel chooses a free place; nothing of ours is there.
        let p = unsafe { libc::shmat(id, std::ptr::null(), flags) };
        if p as isize == -1 {
            return Err(std::io::Error::last_os_error()).context("shmat");
        }
        Ok(Attach {
            addr: p as u64,
            len: size as usize,
        })
    }

    /// Writes `data` at `offset` of the segment (within its size).
    pub fn write(&self, offset: u64, data: &[u8]) -> Result<()> {
        let end = offset.checked_add(data.len() as u64);
        anyhow::ensure!(
            end.is_some_and(|e| e <= self.len as u64),
            "{} bytes at {offset} beyond the segment's {}",
            data.len(),
            self.len
        );
        // SAFETY: the attach is writable (the caller made it so) and covers
        // `[addr, addr + len)`, which holds `[offset, offset + data.len())`; no Rust
        // reference points into it.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                (self.addr + offset) as *mut u8,
                data.len(),
            )
        };
        Ok(())
    }

    /// Keeps the attach (the restart ioctl detaches it with the rest of the memory).
    pub fn keep(self) -> u64 {
        let a = self.addr;
        std::mem::forget(self);
        a
    }
}

impl Drop for Attach {
    fn drop(&mut self) {
        // SAFETY: the attach is ours and nothing refers into it any more.
        unsafe { libc::shmdt(self.addr as *const c_void) };
    }
}

/// Runs `f` with effective uid `uid` and gid `gid` in this thread (its real and saved ids
/// stay), so that what it creates has that creator, then takes back `0`.
pub fn as_creator<T>(uid: u32, gid: u32, f: impl FnOnce() -> Result<T>) -> Result<T> {
    // Raw calls, for this thread only (glibc's wrappers would change every thread's); -1
    // leaves the real and saved ids.
    let effective = |ids: Ids, id: u32, what: &str| {
        setres(ids, [u32::MAX, id, u32::MAX]).with_context(|| format!("{what} {id}"))
    };
    let back = |r: Result<T>| -> Result<T> {
        // The saved uid is 0: the effective one may come back, then the group.
        effective(Ids::User, 0, "setresuid back to")?;
        effective(Ids::Group, 0, "setresgid back to")?;
        r
    };
    if (uid, gid) == (0, 0) {
        return f();
    }
    // The group first, while the effective uid is still 0.
    if let Err(e) = effective(Ids::Group, gid, "setresgid")
        .and_then(|()| effective(Ids::User, uid, "setresuid"))
    {
        return back(Err(e));
    }
    back(f())
}
