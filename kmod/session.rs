// SPDX-License-Identifier: GPL-2.0

//! A restart session: the tasks of one image restarting together, all or nothing.
//!
//! `rstr` opens `/dev/checkpoint`, makes the open file a session of `n` tasks
//! (`CKPT_IOC_RESTART_BEGIN`) and creates the tree; every task inherits the open file and
//! calls `CKPT_IOC_RESTART` on it. A task that is restored does not return to user code: it
//! waits here until `rstr` says go (`CKPT_IOC_RESTART_GO`), which it may only do once all
//! `n` are waiting. A task that fails once it joined fails the whole session
//! ([`Session::fail`]): its objects are freed at once, no task may join it any more, and the
//! tasks waiting in it stop waiting (`ECANCELED`) and die; `rstr` kills every task as well.
//! If `rstr` itself dies, they notice and die too. The session also holds what tasks share
//! while they restore: the shared anonymous memory objects, and, per address space, the
//! count of threads that must be waiting before its owner may replace it.

use kernel::prelude::*;
use kernel::rbtree::RBTree;
use kernel::sync::{new_condvar, new_mutex, CondVar, CondVarTimeoutResult, Mutex};
use kernel::time::msecs_to_jiffies;

use crate::error::{refuse, CkptResult};
use crate::limits;
use crate::sys::file::FileRef;
use crate::sys::peer::{self, PeerCred, PidRef};
use crate::sys::task::{current, ExeGrant, TaskRef};
use crate::uapi::{
    CkptPeerCred, CkptPeersArgs, CKPT_MAX_TASKS, CKPT_PEER_CRED, CKPT_RESTART_MAX_PEERS,
};

/// Tasks restoring one address space: its owner and the threads that share it.
struct MmGroup {
    /// Sharers waiting for the owner.
    arrived: u32,
    /// The owner has installed the memory.
    done: bool,
}

struct State {
    /// Set by `BEGIN`, with the tasks expected and the coordinator.
    expected: u32,
    coordinator: Option<TaskRef>,
    /// Where the coordinator could set an executable file when it began the session.
    exe_grant: Option<ExeGrant>,
    /// Tasks that joined the session (`CKPT_IOC_RESTART` called), and of them those
    /// restored and waiting for the go.
    joined: u32,
    ready: u32,
    go: bool,
    /// Tasks past their cleanup after the go.
    cleaned: u32,
    /// A task failed after it joined, before the go: the session can never go.
    failed: bool,
    mms: RBTree<u64, MmGroup>,
    /// Shared anonymous memory objects by image id, with their size, and how many: each is
    /// an open file, held until the session ends or fails (bounded by
    /// [`limits::check_open_files`]).
    shms: RBTree<u32, (u64, FileRef)>,
    nr_shms: u64,
    /// The processes of the tasks that joined, by pid in their own pid namespace (the
    /// image's numbers): the only pids a socket's peer credentials may name
    /// ([`Session::peers`]).
    pids: RBTree<i32, PidRef>,
}

#[pin_data]
pub(crate) struct Session {
    #[pin]
    state: Mutex<State>,
    #[pin]
    cond: CondVar,
}

/// Checks an entry of `CKPT_IOC_RESTART_PEERS` against the caller's credentials: its pid
/// (0 for none, looked up in the session by the caller) and the uid and gid to set, if any.
fn check_peer(e: &CkptPeerCred) -> CkptResult<(i32, Option<(u32, u32)>)> {
    let fd = e.fd;
    if e.flags & !CKPT_PEER_CRED != 0 {
        refuse!(
            EINVAL,
            "fd {fd}: unknown peer credential flags {:#x}",
            e.flags
        );
    }
    if e.pid < 0 {
        refuse!(EINVAL, "fd {fd}: peer pid {}", e.pid);
    }
    if e.flags & CKPT_PEER_CRED == 0 {
        if (e.pid, e.uid, e.gid) != (0, 0, 0) {
            refuse!(
                EINVAL,
                "fd {fd}: a peer pid, uid or gid without CKPT_PEER_CRED"
            );
        }
        return Ok((0, None));
    }
    decide_ids(fd, e.uid, e.gid, &peer::ids_may(e.uid, e.gid))?;
    Ok((e.pid, Some((e.uid, e.gid))))
}

/// Whether the caller may name `uid` and `gid` as credentials, by what the kernel says of
/// them (`may`): as `scm_check_creds` decides for `SCM_CREDENTIALS`.
fn decide_ids(fd: i32, uid: u32, gid: u32, may: &peer::IdsMay) -> CkptResult {
    if may.uid_valid == 0 || may.gid_valid == 0 {
        refuse!(
            EINVAL,
            "fd {fd}: peer uid {uid} or gid {gid} has no mapping in the caller's user namespace"
        );
    }
    if may.uid_own == 0 && may.setuid == 0 {
        refuse!(
            EPERM,
            "fd {fd}: peer uid {uid} is none of the caller's uids, and the caller lacks CAP_SETUID"
        );
    }
    if may.gid_own == 0 && may.setgid == 0 {
        refuse!(
            EPERM,
            "fd {fd}: peer gid {gid} is none of the caller's gids, and the caller lacks CAP_SETGID"
        );
    }
    Ok(())
}

/// The reason of every refusal a failed session makes.
const FAILED: &str = "another task of the restart session failed: the session is over";

/// How often a waiting task looks whether the coordinator is still there.
const POLL_MS: u32 = 100;

impl Session {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Session {
            state <- new_mutex!(State {
                expected: 0,
                coordinator: None,
                exe_grant: None,
                joined: 0,
                ready: 0,
                go: false,
                cleaned: 0,
                failed: false,
                mms: RBTree::new(),
                shms: RBTree::new(),
                nr_shms: 0,
                pids: RBTree::new(),
            }),
            cond <- new_condvar!(),
        })
    }

    /// `CKPT_IOC_RESTART_BEGIN`: the caller coordinates `nr_tasks` restoring tasks. Its
    /// capability to set executable files, now, is lent to them (`rstr` begins the session
    /// before it gives them the image's credentials); whoever merely holds the open file
    /// gets nothing of its opener's.
    pub(crate) fn begin(&self, nr_tasks: u32) -> CkptResult {
        if nr_tasks == 0 || nr_tasks > CKPT_MAX_TASKS {
            refuse!(EINVAL, "a session of {nr_tasks} tasks");
        }
        let mut s = self.state.lock();
        if s.coordinator.is_some() {
            refuse!(EBUSY, "this open file is a restart session already");
        }
        s.expected = nr_tasks;
        s.coordinator = Some(TaskRef::current());
        s.exe_grant = ExeGrant::current();
        Ok(())
    }

    /// `CKPT_IOC_RESTART_GO`: every task returns into its restored context.
    pub(crate) fn go(&self) -> CkptResult {
        let mut s = self.state.lock();
        if s.coordinator.is_none() {
            refuse!(EINVAL, "no restart session on this open file");
        }
        if s.ready != s.expected || s.go {
            refuse!(
                EBUSY,
                "{} of {} tasks restored{}",
                s.ready,
                s.expected,
                if s.go { ", and gone already" } else { "" }
            );
        }
        // A task that said `OK` may be killed before the go: it never runs its cleanup,
        // which the others would wait for after the go, forever.
        if s.failed {
            refuse!(ECANCELED, "{FAILED}");
        }
        s.go = true;
        drop(s);
        self.cond.notify_all();
        Ok(())
    }

    /// Whether tasks are being restored in this session: it was begun, has not gone nor
    /// failed (what a task may change of its own process's state before its restart).
    pub(crate) fn restoring(&self) -> CkptResult {
        let s = self.state.lock();
        if s.coordinator.is_none() {
            refuse!(
                EINVAL,
                "no restart session on this open file (CKPT_IOC_RESTART_BEGIN first)"
            );
        }
        if s.go {
            refuse!(EBUSY, "the restart session has gone already");
        }
        if s.failed {
            refuse!(ECANCELED, "{FAILED}");
        }
        Ok(())
    }

    /// The caller joins the session as one of its tasks: one was begun, has not gone yet
    /// nor failed, and has room for it. A task that fails after joining calls
    /// [`Self::fail`].
    pub(crate) fn join(&self) -> CkptResult {
        let mut s = self.state.lock();
        if s.coordinator.is_none() {
            refuse!(
                EINVAL,
                "no restart session on this open file (CKPT_IOC_RESTART_BEGIN first)"
            );
        }
        if s.go || s.joined >= s.expected {
            refuse!(
                EBUSY,
                "the restart session of {} tasks is complete",
                s.expected
            );
        }
        if s.failed {
            refuse!(ECANCELED, "{FAILED}");
        }
        // Its process, once for all its threads (at most `expected` entries).
        let (nr, pid) = PidRef::current_tgid()?;
        if s.pids.get(&nr).is_none() {
            s.pids.try_create_and_insert(nr, pid, GFP_KERNEL_ACCOUNT)?;
        }
        s.joined += 1;
        Ok(())
    }

    /// `CKPT_IOC_RESTART_PEERS`: the coordinator, once every task joined and before the
    /// go, sets the peer credentials of the unix sockets at its descriptors. Each entry is
    /// checked as the kernel checks `SCM_CREDENTIALS` (`scm_check_creds`): a uid that is
    /// one of the caller's real, effective or saved uids, or `CAP_SETUID` in its user
    /// namespace (gids likewise, `CAP_SETGID`); a pid of a process of this session only,
    /// registered in pidfs (`SO_PEERPIDFD`), or none. The first refused entry fails the
    /// call (with the descriptor in the reason) and the session; those before it are
    /// set, which matters not: the session never goes.
    pub(crate) fn peers(&self, args: &CkptPeersArgs) -> CkptResult {
        if args.flags != 0 || args.__reserved != 0 {
            refuse!(
                EINVAL,
                "unknown flags {:#x} or reserved field not 0",
                args.flags
            );
        }
        if args.nr_peers > CKPT_RESTART_MAX_PEERS {
            refuse!(
                EINVAL,
                "{} peer credentials, at most {CKPT_RESTART_MAX_PEERS}",
                args.nr_peers
            );
        }
        {
            let s = self.state.lock();
            match &s.coordinator {
                Some(c) if c.is_current() => {}
                Some(_) => refuse!(
                    EPERM,
                    "only the coordinator of the restart session sets peer credentials"
                ),
                None => refuse!(EINVAL, "no restart session on this open file"),
            }
        }
        let table: KVVec<CkptPeerCred> = crate::memory::read_array(args.peers, args.nr_peers)?;
        let r = self.set_peers(&table);
        if r.is_err() {
            self.fail();
        }
        r
    }

    /// Checks every entry of `table` against the caller's credentials, then, in a session
    /// whose tasks have all joined and not gone, sets each.
    fn set_peers(&self, table: &[CkptPeerCred]) -> CkptResult {
        for e in table {
            check_peer(e)?;
        }
        {
            let s = self.state.lock();
            if s.failed {
                refuse!(ECANCELED, "{FAILED}");
            }
            if s.go || s.joined != s.expected {
                refuse!(
                    EBUSY,
                    "{} of {} tasks joined the restart session{}",
                    s.joined,
                    s.expected,
                    if s.go { ", and gone already" } else { "" }
                );
            }
        }
        table.iter().try_for_each(|e| self.peer(e))
    }

    /// One entry of [`Self::peers`].
    fn peer(&self, e: &CkptPeerCred) -> CkptResult {
        let fd = e.fd;
        let Some(file) = FileRef::fget(fd) else {
            refuse!(EBADF, "peer credentials: fd {fd} is not open");
        };
        let (pid, cred) = check_peer(e)?;
        let cred = match cred {
            Some((uid, gid)) => Some(PeerCred::new(uid, gid)?),
            None => None,
        };
        // Under the lock, the socket takes its own reference on the pid the session holds.
        let s = self.state.lock();
        let pid = match pid {
            0 => None,
            nr => match s.pids.get(&nr) {
                Some(p) if p.registered() => Some(p),
                Some(_) => refuse!(
                    EINVAL,
                    "fd {fd}: peer pid {nr} was never given a pidfd (pidfd_open): SO_PEERPIDFD could not name it"
                ),
                None => refuse!(
                    EPERM,
                    "fd {fd}: peer pid {nr} is no process of this restart session"
                ),
            },
        };
        match peer::set_unix_peer(&file, e.embryo, pid, cred.as_ref()) {
            Ok(()) => Ok(()),
            Err(err) if err == ENOTSOCK => {
                refuse!(EINVAL, "fd {fd}: peer credentials of what is no unix socket")
            }
            Err(err) if err == ENOENT || err == EINVAL => refuse!(
                EINVAL,
                "fd {fd}: peer credentials of connection {} not accepted yet, which it does not have",
                e.embryo.wrapping_sub(1)
            ),
            Err(err) => Err(err.into()),
        }
    }

    /// A task of the session failed after it joined: the session can never go, so it
    /// frees its shared memory objects now (they live on only where a task maps them, as
    /// with `mmap`), takes no more tasks, and every task waiting in it stops waiting.
    /// Without this, each open file of the device could hold `RLIMIT_NOFILE` objects of
    /// failed calls until it is closed, and one process with many open files could fill
    /// `fs.file-max`. After the go the tasks need nothing of each other but their cleanup,
    /// which every one of them has begun: nothing to do then.
    pub(crate) fn fail(&self) {
        let mut s = self.state.lock();
        if s.go {
            return;
        }
        s.failed = true;
        let shms = core::mem::take(&mut s.shms);
        s.nr_shms = 0;
        drop(s);
        // The files are put outside the lock.
        drop(shms);
        self.cond.notify_all();
    }

    /// The shared anonymous memory object `id` of `size` bytes: made by its first user,
    /// the same file for every other.
    pub(crate) fn shm(&self, id: u32, size: u64) -> CkptResult<FileRef> {
        let mut s = self.state.lock();
        if s.failed {
            refuse!(ECANCELED, "{FAILED}");
        }
        if let Some((sz, f)) = s.shms.get(&id) {
            if *sz != size {
                refuse!(
                    EINVAL,
                    "shared memory object {id}: {size} bytes here, {sz} elsewhere in the image"
                );
            }
            return Ok(f.clone_ref());
        }
        // Each object is a file the session holds until it ends: as many as the caller
        // could open, not as many as the image names (60,000 ids filled `fs.file-max`).
        limits::check_open_files(
            s.nr_shms,
            fmt!(
                "shared memory object {id}: the restart session holds {} objects",
                s.nr_shms
            ),
        )?;
        let f = FileRef::shm_create(size)?;
        let mine = f.clone_ref();
        s.shms
            .try_create_and_insert(id, (size, f), GFP_KERNEL_ACCOUNT)?;
        s.nr_shms += 1;
        Ok(mine)
    }

    /// Whether the caller may set its executable file: its own capability, or the
    /// coordinator's at `BEGIN` ([`current::checkpoint_restore_capable`]).
    pub(crate) fn may_set_exe(&self) -> bool {
        current::checkpoint_restore_capable(self.state.lock().exe_grant.as_ref())
    }

    /// `sharers` threads can share the caller's memory: fewer than the session's tasks (a
    /// larger count would wait for tasks that never come).
    pub(crate) fn check_sharers(&self, sharers: u32) -> CkptResult {
        let expected = self.state.lock().expected;
        if sharers >= expected {
            refuse!(
                EINVAL,
                "{sharers} threads sharing the memory, in a session of {expected} tasks"
            );
        }
        Ok(())
    }

    /// The owner of the caller's memory waits until the `sharers` tasks that share it are
    /// waiting in [`Self::wait_memory`]: then it may replace it.
    pub(crate) fn wait_sharers(&self, sharers: u32) -> CkptResult {
        let mm = current::mm_id();
        self.wait(|s| s.mms.get(&mm).map_or(0, |g| g.arrived) >= sharers)
    }

    /// The owner has installed the memory: its sharers go on.
    pub(crate) fn memory_done(&self) -> CkptResult {
        let mm = current::mm_id();
        let mut s = self.state.lock();
        match s.mms.get_mut(&mm) {
            Some(g) => g.done = true,
            None => {
                s.mms.try_create_and_insert(
                    mm,
                    MmGroup {
                        arrived: 0,
                        done: true,
                    },
                    GFP_KERNEL_ACCOUNT,
                )?;
            }
        }
        drop(s);
        self.cond.notify_all();
        Ok(())
    }

    /// A task sharing its memory with the task restoring it waits until that is done.
    pub(crate) fn wait_memory(&self) -> CkptResult {
        let mm = current::mm_id();
        let mut s = self.state.lock();
        match s.mms.get_mut(&mm) {
            Some(g) => g.arrived += 1,
            None => {
                s.mms.try_create_and_insert(
                    mm,
                    MmGroup {
                        arrived: 1,
                        done: false,
                    },
                    GFP_KERNEL_ACCOUNT,
                )?;
            }
        }
        drop(s);
        self.cond.notify_all();
        self.wait(|s| s.mms.get(&mm).is_some_and(|g| g.done))
    }

    /// The caller is restored: counts it. Done before it says `OK` to the coordinator, which
    /// may then go at once.
    pub(crate) fn ready(&self) {
        let mut s = self.state.lock();
        s.ready += 1;
        drop(s);
        self.cond.notify_all();
    }

    /// Waits for the go. Then `cleanup` runs (it closes `rstr`'s descriptors, maybe in a
    /// table other tasks share), and the caller waits until every task has run its own: no
    /// task returns to user code while another still closes descriptors by number.
    pub(crate) fn wait_go(&self, cleanup: impl FnOnce()) -> CkptResult {
        self.wait(|s| s.go)?;
        cleanup();
        let mut s = self.state.lock();
        s.cleaned += 1;
        drop(s);
        self.cond.notify_all();
        self.wait(|s| s.cleaned == s.expected)
    }

    /// Sleeps until `done` holds. Fails if the caller is killed, another task failed, or
    /// the coordinator is gone.
    fn wait(&self, done: impl Fn(&State) -> bool) -> CkptResult {
        let mut s = self.state.lock();
        loop {
            if done(&s) {
                return Ok(());
            }
            if current::fatal_signal_pending() {
                refuse!(
                    EINTR,
                    "killed while waiting for the other tasks of the restart"
                );
            }
            if s.failed {
                refuse!(ECANCELED, "{FAILED}");
            }
            // After the go the coordinator may leave: the tasks no longer need it.
            if !s.go && s.coordinator.as_ref().is_none_or(|c| c.exiting()) {
                refuse!(
                    ECANCELED,
                    "the restart's coordinator (rstr) is gone before all tasks were restored"
                );
            }
            let r = self
                .cond
                .wait_interruptible_timeout(&mut s, msecs_to_jiffies(POLL_MS));
            if let CondVarTimeoutResult::Signal { .. } = r {
                // A signal other than SIGKILL (SIGSTOP, which cannot be blocked): it waits
                // for the restored task; do not spin on it.
                drop(s);
                current::sleep_killable(POLL_MS / 10);
                s = self.state.lock();
            }
        }
    }
}

#[kunit_tests(ckpt_session)]
mod tests {
    use super::*;

    fn may(own: bool, cap: bool) -> peer::IdsMay {
        let (own, cap) = (u32::from(own), u32::from(cap));
        peer::IdsMay {
            uid_valid: 1,
            gid_valid: 1,
            uid_own: own,
            gid_own: own,
            setuid: cap,
            setgid: cap,
        }
    }

    #[test]
    fn peer_ids_are_the_callers_or_capable() {
        assert!(decide_ids(3, 65534, 65534, &may(true, false)).is_ok());
        assert!(decide_ids(3, 0, 0, &may(false, true)).is_ok());
        // Another uid, no CAP_SETUID: refused (an ordinary user naming root).
        assert!(decide_ids(3, 0, 65534, &may(false, false)).is_err());
        let mut m = may(true, false);
        m.gid_own = 0;
        assert!(decide_ids(3, 65534, 0, &m).is_err());
        m.setgid = 1;
        assert!(decide_ids(3, 65534, 0, &m).is_ok());
        m.uid_valid = 0;
        assert!(decide_ids(3, 65534, 0, &m).is_err());
    }

    #[test]
    fn peer_entries_are_checked() {
        let e = CkptPeerCred {
            fd: 3,
            embryo: 0,
            pid: 5,
            flags: 0,
            uid: 0,
            gid: 0,
        };
        // A pid without credentials, unknown flags, a negative pid: refused before any
        // credential is looked at.
        assert!(check_peer(&e).is_err());
        assert!(check_peer(&CkptPeerCred { flags: 4, ..e }).is_err());
        assert!(check_peer(&CkptPeerCred { pid: 0, ..e }).is_ok());
        let neg = CkptPeerCred {
            pid: -1,
            flags: CKPT_PEER_CRED,
            ..e
        };
        assert!(check_peer(&neg).is_err());
    }
}
