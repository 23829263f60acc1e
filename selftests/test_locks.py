#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""File locks: saved by the module (FILE_LOCK records: flock and OFD locks once per open
file description, POSIX locks with the descriptor table that owns them, others' locks left
out, leases refused), taken again by rstr without waiting (flock and OFD on the
descriptions before the first fork, POSIX in the owning process once its descriptors are
installed), and checked after the restart by a fresh process outside the tree (it cannot
take any conflicting lock; F_GETLK names the restored owner) and by the restored processes
themselves (selftests/targets/locks.c: they unlock and take their locks again; a child
blocked in F_SETLKW at the checkpoint gets its lock once the parent releases it). A lock
another process took meanwhile fails the restart, naming the fd, path, range and holder.
"""
import errno
import fcntl
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktap  # noqa: E402
from ktap import CKPT, RSTR, records, run, running, scratch, sh, show_json, stat, target, wait_for  # noqa: E402

fresh = scratch("ckpt-locks-")
LOCKS = target("locks")
EOF = 0x7fffffffffffffff
F_RDLCK, F_WRLCK, F_UNLCK = 0, 1, 2


def waiting(pid):
    """Whether /proc/locks shows PID waiting for a lock."""
    with open("/proc/locks") as f:
        return any(re.search(rf"-> \S+\s+\S+\s+\S+\s+{pid} ", line) for line in f)


def started(t):
    r = t.reports(["parent", "child"], "the processes to take their locks")
    parent, child = r["parent"]["pid"], r["child"]["pid"]
    t.watch([child])
    wait_for(lambda: waiting(child), "the child to block in F_SETLKW")
    return r["parent"], child


def checked_image(img, parent):
    recs = show_json(img)
    got = sorted((x["kind"], x["lock"], x["start"], x["end"], x["pid"])
                 for x in records(recs, "FILE_LOCK"))
    want = sorted([
        ("flock", "write", 0, EOF, 0),           # flock-ex
        ("flock", "read", 0, EOF, 0),            # flock-sh
        ("flock", "write", 0, EOF, 0),           # shared: parent and child, saved once
        ("posix", "read", 0, 99, parent["pid"]),
        ("posix", "write", 200, EOF, parent["pid"]),
        ("ofd", "write", 10, 19, 0),
    ])
    assert got == want, f"FILE_LOCK records {got}, not {want}"
    px = [x for x in records(recs, "FILE_LOCK") if x["kind"] == "posix"]
    assert all(x["fd"] == parent["posix"] for x in px), px


def probe(d):
    """What a fresh process outside the tree gets for each conflicting lock."""
    sh(LOCKS, "probe", d)
    with open(os.path.join(d, "probe")) as f:
        w = f.read().split()
    return {k: int(v) for k, v in zip(w[0::2], w[1::2])}


def after_restart(t, parent, child):
    assert running(parent) and running(child), "both processes are back"
    p = probe(t.dir)
    EW = errno.EWOULDBLOCK
    assert (p["ex_sh"], p["sh_ex"], p["shared_sh"]) == (EW, EW, EW), f"flock not held: {p}"
    assert p["sh_sh"] == 0, f"a shared flock excludes another reader: {p}"
    assert (p["w"], p["w_pid"]) == (F_RDLCK, parent), f"POSIX read lock 0-99: {p}"
    assert (p["r"], p["r_pid"]) == (F_WRLCK, parent), f"POSIX write lock 200-EOF: {p}"
    assert p["gap"] == F_UNLCK and p["rr"] == F_UNLCK, f"POSIX ranges too wide: {p}"
    assert (p["ofd"], p["ofd_pid"]) == (F_WRLCK, -1) and p["ofd_free"] == F_UNLCK, f"OFD: {p}"
    # The child's F_SETLKW was restarted and waits again.
    wait_for(lambda: waiting(child), "the child to wait for its lock again")
    assert t.report("child")["got"] == 0, "the child got a lock its parent holds"
    os.kill(parent, signal.SIGUSR2)
    got = t.reports(["parent", "child"], "the parent to relock and the child to get its lock",
                    lambda n, r: r.get("checked", 1) == 1 and r.get("got", 1) == 1)
    assert got["parent"]["errors"] == 0 and got["child"]["errors"] == 0, t.stderr_text()


def locks_exclude_others_after_restart():
    d = fresh("state")
    with ktap.Tree("state", d, binary=LOCKS) as t:
        parent, child = started(t)
        img, _ = t.checkpoint([parent["pid"], child])
        checked_image(img, parent)
        t.restart(img)
        after_restart(t, parent["pid"], child)


def locks_as_nobody():
    d = fresh("nobody")
    os.chown(d, 65534, 65534)
    with ktap.Tree("state", d, 65534, binary=LOCKS) as t:
        parent, child = started(t)
        os.chown(t.stderr, 65534, 65534)  # the restart reopens the tree's stderr as the user
        t.checkpoint_restart_as_nobody([parent["pid"], child], lambda img: checked_image(img, parent))
        after_restart(t, parent["pid"], child)


def lease_refused():
    d = fresh("lease")
    with ktap.Tree("lease", d, binary=LOCKS) as t:
        r = t.reports(["lease"], "the lease")["lease"]
        img = os.path.join(d, "img")
        st, _, err = sh(CKPT, str(r["pid"]), "-o", img, check=False)
        assert st != 0, "ckpt accepted a process holding a lease"
        assert f"fd {r['fd']}: a lease (F_SETLEASE)" in err and "not supported yet" in err, err
        assert not os.path.exists(img), "no partial image is left behind"
        assert running(r["pid"]), "the process runs on"


def failed_restart(img, pid, expect):
    st, _, err = sh(RSTR, "--detach", img, check=False, timeout=120)
    assert st != 0, f"rstr restarted with a lock held by another process: {expect}"
    for e in expect:
        assert e in err, (e, err)
    wait_for(lambda: stat(pid) is None, "the failed restart to leave nothing behind")
    return err


def a_lock_taken_meanwhile_fails_the_restart():
    d = fresh("grab")
    with ktap.Tree("grab", d, binary=LOCKS) as t:
        r = t.reports(["grab"], "the locks")["grab"]
        pid = r["pid"]
        img, _ = t.checkpoint([pid])
        me = os.getpid()
        with open(os.path.join(d, "grab-posix"), "r+") as f:
            fcntl.lockf(f, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, 5)
            failed_restart(img, pid, [f"process {pid}: fd {r['posix']} ({d}/grab-posix)",
                                      "POSIX write lock on bytes 0-9", f"pid {me} (read lock"])
        with open(os.path.join(d, "grab-flock"), "r+") as f:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
            failed_restart(img, pid, [f"process {pid}: fd {r['flock']} ({d}/grab-flock)",
                                      "flock write lock", f"pid {me} (read lock)"])
        # Released: now it restarts, its locks held.
        t.restart(img)
        os.kill(pid, signal.SIGUSR2)
        got = t.reports(["grab"], "the check", lambda n, r: r["checked"] == 1)["grab"]
        assert got["errors"] == 0, t.stderr_text()


def fs_type(path):
    """The filesystem type of the mount PATH is on."""
    best, kind = "", None
    with open("/proc/mounts") as f:
        for line in f:
            w = line.split()
            mnt = w[1].replace("\\040", " ")
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                best, kind = mnt, w[2]
    return kind


def a_flock_on_9p_comes_back():
    """9p keeps a flock as a whole-file POSIX lock of the description
    (v9fs_file_flock_dotl): it is saved and restored as the flock it is."""
    import tempfile
    if fs_type("/tmp") != "9p":
        ktap.skip("/tmp is not the host's 9p filesystem here")
    d = tempfile.mkdtemp(prefix="ckpt-locks-9p-", dir="/tmp")
    with ktap.Tree("grab", d, binary=LOCKS) as t:
        r = t.reports(["grab"], "the locks")["grab"]
        pid = r["pid"]
        img, _ = t.checkpoint([pid])
        got = sorted((x["kind"], x["lock"], x["fd"]) for x in records(show_json(img), "FILE_LOCK"))
        assert got == [("flock", "write", r["flock"]), ("posix", "write", r["posix"])], got
        t.restart(img)
        with open(os.path.join(d, "grab-flock"), "r+") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
                raise AssertionError("the flock on 9p is not held after the restart")
            except BlockingIOError:
                pass
        os.kill(pid, signal.SIGUSR2)
        got = t.reports(["grab"], "the check", lambda n, r: r["checked"] == 1)["grab"]
        assert got["errors"] == 0, t.stderr_text()


TESTS = [
    locks_exclude_others_after_restart,
    locks_as_nobody,
    lease_refused,
    a_lock_taken_meanwhile_fails_the_restart,
    a_flock_on_9p_comes_back,
]
if __name__ == "__main__":
    sys.exit(run(TESTS))
