// SPDX-License-Identifier: GPL-2.0

//! SysV IPC that a tree uses in the caller's IPC namespace. Queues, semaphore sets and shared
//! memory segments of that namespace are not saved (a container's own are: [`crate::ipc`]),
//! and nothing ties a task to one it uses by id: the kernel
//! keeps only the pids of their creator and last users (`msg_lspid`/`msg_lrpid`, each
//! semaphore's `sempid`, `shm_cpid`/`shm_lpid`), private to `ipc/*.c` and shown by
//! `/proc/sysvipc/*` and `semctl(GETPID)`. A checkpoint whose tree holds one of those pids
//! is refused with a reason naming the object and the pid.

use std::collections::{HashMap, HashSet};

use anyhow::{Context, Result};

/// One row of a `/proc/sysvipc` table, by column name.
type Row<'a> = HashMap<&'a str, i64>;

/// The rows of a `/proc/sysvipc` table: its first line names the columns.
fn table(text: &str) -> Vec<Row<'_>> {
    let mut lines = text.lines();
    let Some(head) = lines.next() else {
        return Vec::new();
    };
    let names: Vec<&str> = head.split_whitespace().collect();
    lines
        .map(|l| {
            names
                .iter()
                .zip(l.split_whitespace())
                .filter_map(|(&n, v)| Some((n, v.parse().ok()?)))
                .collect()
        })
        .collect()
}

/// A table, empty if the kernel has no SysV IPC (or no `/proc`).
fn read_table(name: &str) -> Result<String> {
    let path = format!("/proc/sysvipc/{name}");
    match std::fs::read_to_string(&path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(e).with_context(|| format!("reading {path} (SysV IPC in use)")),
    }
}

/// `semctl(id, n, GETPID)`: the last process that changed semaphore `n`; `None` when the set
/// is gone or the caller may not read it.
fn sempid(id: i64, n: i64) -> Option<i64> {
    let (id, n) = (i32::try_from(id).ok()?, i32::try_from(n).ok()?);
    crate::sys::sem_getpid(id, n).ok().map(i64::from)
}

/// Why the checkpoint of a tree whose live processes are `pids` must be refused, if it must:
/// the first queue, set or segment one of them created or used last.
pub fn refusal(pids: &[i32]) -> Result<Option<String>> {
    let msg = read_table("msg")?;
    let sem = read_table("sem")?;
    let shm = read_table("shm")?;
    Ok(find(pids, &msg, &sem, &shm, &mut sempid))
}

fn find(
    pids: &[i32],
    msg: &str,
    sem: &str,
    shm: &str,
    sempid: &mut dyn FnMut(i64, i64) -> Option<i64>,
) -> Option<String> {
    let mine: HashSet<i64> = pids.iter().filter(|&&p| p > 0).map(|&p| p.into()).collect();
    let ours = |p: Option<&i64>| p.filter(|p| mine.contains(p)).copied();
    const WHY: &str = "SysV IPC is saved only with a container's own IPC namespace \
                       (ckpt --container): this object would be gone, or another, at restart";
    for r in table(msg) {
        let id = r.get("msqid").copied().unwrap_or(-1);
        for (col, did) in [("lspid", "sent to it"), ("lrpid", "received from it")] {
            if let Some(pid) = ours(r.get(col)) {
                return Some(format!(
                    "pid {pid} uses SysV message queue {id} (it {did} last): {WHY}"
                ));
            }
        }
    }
    for r in table(sem) {
        let id = r.get("semid").copied().unwrap_or(-1);
        for n in 0..r.get("nsems").copied().unwrap_or(0).clamp(0, 1 << 16) {
            if let Some(pid) = ours(sempid(id, n).as_ref()) {
                return Some(format!(
                    "pid {pid} uses SysV semaphore set {id} (it changed semaphore {n} last): {WHY}"
                ));
            }
        }
    }
    for r in table(shm) {
        let id = r.get("shmid").copied().unwrap_or(-1);
        for (col, did) in [
            ("cpid", "created it"),
            ("lpid", "attached or detached it last"),
        ] {
            if let Some(pid) = ours(r.get(col)) {
                return Some(format!(
                    "pid {pid} uses SysV shared memory segment {id} ({did}): {WHY}"
                ));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &str = "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime      ctime\n\
                       \x20        0          3   600          16          1   812     0     0     0     0     0 1764580000          0 1764580000\n";
    const SEM: &str = "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n\
                       \x20        0          7   600          2     0     0     0     0 1764580000 1764580000\n";
    const SHM: &str = "       key      shmid perms                  size  cpid  lpid nattch   uid   gid  cuid  cgid      atime      dtime      ctime                   rss                  swap\n\
                       \x20        0          9   600                  4096   700   701      1     0     0     0     0 1764580000          0 1764580000                     0                     0\n";

    #[test]
    fn a_queue_last_sent_to_by_the_tree_is_named() {
        let r = find(&[5, 812], MSG, "", "", &mut |_, _| None).unwrap();
        assert!(r.starts_with("pid 812 uses SysV message queue 3 (it sent to it last)"));
    }

    #[test]
    fn a_semaphore_last_changed_by_the_tree_is_named() {
        let mut calls = Vec::new();
        let r = find(&[44], "", SEM, "", &mut |id, n| {
            calls.push((id, n));
            Some(if n == 1 { 44 } else { 3 })
        })
        .unwrap();
        assert_eq!(calls, [(7, 0), (7, 1)]);
        assert!(r.starts_with("pid 44 uses SysV semaphore set 7 (it changed semaphore 1 last)"));
    }

    #[test]
    fn segments_and_others_pids() {
        let r = find(&[701], "", "", SHM, &mut |_, _| None).unwrap();
        assert!(r.starts_with("pid 701 uses SysV shared memory segment 9 (attached"));
        // Nothing of the tree's: no refusal; lrpid 0 is nobody.
        assert_eq!(find(&[1, 2, 0], MSG, SEM, SHM, &mut |_, _| Some(3)), None);
        assert_eq!(find(&[1], "", "", "", &mut |_, _| None), None);
    }
}
