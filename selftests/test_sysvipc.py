#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""SysV IPC of a container's own IPC namespace (ckpt --container): its shared memory
segments, message queues, semaphore sets and IPC sysctls are saved with the tree and made
again by rstr in the container's new IPC namespace, before any of its processes runs.

The container is selftests/targets/sysvipc.c: an init and two children in a pid, IPC and UTS
namespace of their own, with four segments (one attached writable by two processes and
read-only by one of them, one attached read-only, one attached by nobody, made by another
user and given to a third, one removed while attached), a queue of five messages and a set
of four semaphores, and thirteen IPC sysctls set to values of their own (its header comment
says which). Each process checks all of that itself, every 50 ms, and reports the errors
it found; its init takes the queue's messages and checks the unattached segment once, when
the test tells it (SIGUSR1), since reading them consumes them. The tests check the same
state from outside too: /proc/sysvipc/{shm,msg,sem} and the sysctls read in the container's
IPC namespace (nsenter), the processes' SysV areas in /proc/PID/maps, the image's IPC_NS,
SYSV_SHM, SYSV_MSQ, SYSV_MSG and SYSV_SEM records (ckpt show --json). Before each restart
no process is left in the IPC namespace that was saved: the objects cannot come from a
namespace the kernel kept.

Undo adjustments (SEM_UNDO) of the container's processes come back, and the kernel makes
them when the process exits. What a checkpoint cannot save is refused, and the container
runs on untouched: an undo adjustment by a process outside the container, a segment
attached by a process outside the container. (POSIX message queues: test_mqueue.py.)
And util-linux's unshare and ipcmk: a container of distribution binaries whose objects ipcs
shows the same after its restart.
"""
import json
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktap  # noqa: E402
from ktap import (CKPT, RSTR, in_namespace, kill_all, ns_inode, ns_members, nspid, records,  # noqa: E402
                  run, running, scratch, sh, show_json, target, wait_for)

fresh = scratch("ckpt-sysvipc-")
SYSVIPC = target("sysvipc")
NAMES = ["init", "child1", "child2"]

# What sysvipc.c makes. Segments: the columns of /proc/sysvipc/shm that a restart keeps
# (perms with SHM_DEST 01000 and SHM_LOCKED 02000, as the kernel prints the mode); D's key
# is IPC_PRIVATE once it is removed. The ids are the init's report's.
SEGMENTS = {
    "a": dict(key=0x51a0, perms=0o2640, size=65536, nattch=3, uid=0, gid=0, cuid=0, cgid=0),
    "b": dict(key=0x51a1, perms=0o444, size=8192, nattch=1, uid=0, gid=0, cuid=0, cgid=0),
    "c": dict(key=0x51a2, perms=0o660, size=10000, nattch=0, uid=1003, gid=1004, cuid=1001,
              cgid=1002),
    "d": dict(key=0, perms=0o1600, size=20000, nattch=2, uid=0, gid=0, cuid=0, cgid=0),
}
QUEUE = dict(key=0x51a4, perms=0o620, cbytes=5023, qnum=5, uid=1005, gid=1006, cuid=0, cgid=0)
SEMS = dict(key=0x51a5, perms=0o604, nsems=4, uid=1007, gid=1008, cuid=1007, cgid=1008)
SEM_VALUES = [0, 1, 42, 32767]
# (type, length) of the queue's messages, first sent first.
MESSAGES = [(1, 5), (2, 11), (1, 7), (3, 5000), (7, 0)]
SYSCTLS = {
    "kernel/shmmax": [123456789], "kernel/shmall": [987654], "kernel/shmmni": [1000],
    "kernel/msgmax": [9000], "kernel/msgmnb": [20000], "kernel/msgmni": [500],
    "kernel/sem": [300, 64000, 50, 200], "kernel/shm_rmid_forced": [1],
    "fs/mqueue/queues_max": [100], "fs/mqueue/msg_max": [20], "fs/mqueue/msgsize_max": [4096],
    "fs/mqueue/msg_default": [5], "fs/mqueue/msgsize_default": [2048],
}
IPC_NS = {"type": "IPC_NS", "shmmax": 123456789, "shmall": 987654, "shmmni": 1000,
          "shm_rmid_forced": 1, "msgmax": 9000, "msgmnb": 20000, "msgmni": 500,
          "sem": [300, 64000, 50, 200], "mqueue": [100, 20, 4096, 5, 2048],
          "nr_shm": 4, "nr_msq": 1, "nr_sem": 1, "nr_mq": 0}
# The columns of /proc/sysvipc/* that a restart keeps (not the times and pids).
KEPT = {
    "shm": ["key", "shmid", "perms", "size", "nattch", "uid", "gid", "cuid", "cgid"],
    "msg": ["key", "msqid", "perms", "cbytes", "qnum", "uid", "gid", "cuid", "cgid"],
    "sem": ["key", "semid", "perms", "nsems", "uid", "gid", "cuid", "cgid"],
}
ID_COLUMN = {"shm": "shmid", "msg": "msqid", "sem": "semid"}


def assert_ipc_namespace_died(inode):
    wait_for(lambda: not in_namespace("ipc", inode),
             "the container's IPC namespace to be left by every process")


def sysvipc(pid, kind):
    """/proc/sysvipc/KIND (shm, msg, sem) read in PID's IPC namespace: {id: {column: value}}
    of the columns a restart keeps, perms as a number."""
    _, out, _ = sh("nsenter", "-t", str(pid), "--ipc", "cat", f"/proc/sysvipc/{kind}")
    lines = out.splitlines()
    head = lines[0].split()
    rows = {}
    for line in lines[1:]:
        row = dict(zip(head, line.split()))
        kept = {c: int(row[c], 8) if c == "perms" else int(row[c]) for c in KEPT[kind]}
        rows[kept[ID_COLUMN[kind]]] = kept
    return rows


def sysctls(pid):
    """The IPC sysctls of SYSCTLS read in PID's IPC namespace: {path: [numbers]}."""
    paths = list(SYSCTLS)
    _, out, _ = sh("nsenter", "-t", str(pid), "--ipc", "cat", *(f"/proc/sys/{p}" for p in paths))
    lines = out.splitlines()
    assert len(lines) == len(paths), out
    return {p: [int(x) for x in line.split()] for p, line in zip(paths, lines)}


def sysv_areas(pid):
    """PID's SysV attaches in /proc/PID/maps: [(start, end, perms, inode = the id)]."""
    out = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            if "/SYSV" in line:
                w = line.split()
                start, end = w[0].split("-")
                out.append((int(start, 16), int(end, 16), w[1], int(w[4])))
    return sorted(out)


def expected_objects(ids):
    """The rows of /proc/sysvipc/{shm,msg,sem} sysvipc.c made, by the ids it reported."""
    shm = {ids[f"shm_{n}"]: dict(s, shmid=ids[f"shm_{n}"]) for n, s in SEGMENTS.items()}
    return {"shm": shm, "msg": {ids["msq"]: dict(QUEUE, msqid=ids["msq"])},
            "sem": {ids["sem"]: dict(SEMS, semid=ids["sem"])}}


def outside(init, members):
    """The container's SysV state as seen from outside: its objects, its sysctls and each
    process's SysV areas (by its pid in the container)."""
    return {"objects": {k: sysvipc(init, k) for k in KEPT}, "sysctls": sysctls(init),
            "areas": {inner: sysv_areas(outer) for inner, outer in members.items()}}


def start(t):
    """The container's reports once each process counted twice, with no error; the init's
    outer pid."""
    init = t.reports(["launcher"], "the launcher")["launcher"]["init"]
    r = t.reports(NAMES, "the container to set up and count", lambda _, r: r["count"] >= 2)
    for n in NAMES:
        assert r[n]["errors"] == 0, f"{n} found its state wrong before any checkpoint: {r[n]}\n" \
            f"{t.stderr_text()}"
    return init, r


def members_of(init):
    members = wait_for(lambda: (m := ns_members(init)) and len(m) == 3 and m,
                       "the container's three processes")
    assert sorted(members) == [1, 2, 3], members
    return members


def check_image(img, ids):
    """The image's IPC_NS record (right after UTS_NS), its segments in the order of their
    ids' index, with their owners, creators, modes, sizes and attaches (as many sysv-shm
    VMA records name each one's object), the queue followed by its messages in order, the
    set with its values."""
    recs = show_json(img)
    types = [r["type"] for r in recs]
    uts = types.index("UTS_NS")
    assert recs[uts]["ipc"] is True and types[uts + 1] == "IPC_NS", types[uts:uts + 3]
    assert records(recs, "IPC_NS") == [IPC_NS], records(recs, "IPC_NS")
    shm = records(recs, "SYSV_SHM")
    assert [s["id"] for s in shm] == sorted((s["id"] for s in shm), key=lambda i: i & 0x7fff), shm
    want = expected_objects(ids)["shm"]
    assert sorted(s["id"] for s in shm) == sorted(want), shm
    for s in shm:
        w = want[s["id"]]
        got = {k: s[k] for k in ("key", "uid", "gid", "cuid", "cgid", "size", "nattch", "mode",
                                 "removed", "locked")}
        assert got == {"key": f"{w['key']:#x}", "uid": w["uid"], "gid": w["gid"],
                       "cuid": w["cuid"], "cgid": w["cgid"], "size": w["size"],
                       "nattch": w["nattch"], "mode": f"{w['perms'] & 0o777:04o}",
                       "removed": bool(w["perms"] & 0o1000),
                       "locked": bool(w["perms"] & 0o2000)}, (s, w)
        vmas = [v for v in records(recs, "VMA") if v["shm"] == s["obj"]]
        assert len(vmas) == w["nattch"], f"segment {s['id']}: {len(vmas)} VMA records: {vmas}"
        assert all(v["kind"] == "sysv-shm" for v in vmas), vmas
    assert len({s["obj"] for s in shm}) == 4 and all(s["obj"] for s in shm), shm
    q = QUEUE
    assert records(recs, "SYSV_MSQ") == [{
        "type": "SYSV_MSQ", "key": f"{q['key']:#x}", "id": ids["msq"], "uid": q["uid"],
        "gid": q["gid"], "cuid": q["cuid"], "cgid": q["cgid"], "mode": "0620", "qbytes": 12345,
        "nr_msgs": 5}], records(recs, "SYSV_MSQ")
    at = types.index("SYSV_MSQ")
    assert types[at + 1:at + 6] == ["SYSV_MSG"] * 5 and types[at + 6] != "SYSV_MSG", types[at:]
    assert [(m["mtype"], m["len"]) for m in recs[at + 1:at + 6]] == MESSAGES, recs[at + 1:at + 6]
    s = SEMS
    assert records(recs, "SYSV_SEM") == [{
        "type": "SYSV_SEM", "key": f"{s['key']:#x}", "id": ids["sem"], "uid": s["uid"],
        "gid": s["gid"], "cuid": s["cuid"], "cgid": s["cgid"], "mode": "0604",
        "values": SEM_VALUES}], records(recs, "SYSV_SEM")


def check_outside(state, ids, polled=False):
    """STATE (outside()) is what sysvipc.c made; POLLED: after the init took the queue's
    messages and detached C for the last time (with kernel.shm_rmid_forced set: C is gone)."""
    want = expected_objects(ids)
    if polled:
        del want["shm"][ids["shm_c"]]
        want["msg"][ids["msq"]].update(cbytes=0, qnum=0)
    assert state["objects"] == want, f"{state['objects']}\nwant {want}"
    assert state["sysctls"] == SYSCTLS, state["sysctls"]
    # init: A and D writable; child1: A writable and read-only; child2: D writable, B
    # read-only. Each area's inode is its segment's id.
    a, b, d = ids["shm_a"], ids["shm_b"], ids["shm_d"]
    areas = state["areas"]
    got = {p: sorted((perms, ino) for _, _, perms, ino in v) for p, v in areas.items()}
    assert got == {1: sorted([("rw-s", a), ("rw-s", d)]), 2: sorted([("rw-s", a), ("r--s", a)]),
                   3: sorted([("rw-s", d), ("r--s", b)])}, areas

    def start_of(pid, perms, ino):
        return next(s for s, _, p, i in areas[pid] if (p, i) == (perms, ino))
    assert start_of(1, "rw-s", a) == start_of(2, "rw-s", a), \
        f"init and child1 attach A at one address (child1 inherited it): {areas}"
    assert start_of(1, "rw-s", d) == start_of(3, "rw-s", d), \
        f"init and child2 attach D at one address (child2 inherited it): {areas}"


def counting_on(t, last, what, timeout=120):
    """The reports once each process counted 3 more than in LAST, each with no error."""
    after = t.reports(NAMES, what, lambda n, r: r["count"] >= last[n]["count"] + 3, timeout=timeout)
    for n in NAMES:
        assert after[n]["errors"] == 0, f"{n} found its SysV state wrong: {after[n]}\n" \
            f"{t.stderr_text()}"
    return after


def sharing(t, first):
    """Init and child1 see each other's writes to A: each one's count, written there after
    FIRST (reports of the restored processes), is read by the other."""
    other = {"init": "child1", "child1": "init"}
    t.reports(NAMES, "init and child1 to see each other's counts through segment A",
              lambda n, r: r["count"] >= first[n]["count"] + 3 and
              (n == "child2" or r["peer"] >= first[other[n]]["count"]), timeout=120)


def checkpoint_restart(t, init, ids, before):
    """ckpt --kill --container of the container at INIT; once no process is left in its IPC
    namespace, checks the image and restarts it: asserts the state seen from outside is
    BEFORE and that the processes count on with no error, sharing A. Returns the new init
    and its members."""
    members = ns_members(init)
    t.watch(members.values())
    old_ipc = ns_inode(init, "ipc")
    img, _ = t.checkpoint(members.values(), "--container", pid=init)
    # Their last reports before the checkpoint: those after the restart count on from there.
    last = {n: t.report(n) for n in NAMES}
    assert_ipc_namespace_died(old_ipc)
    check_image(img, ids)
    new_init, _ = t.restart(img)
    assert nspid(new_init)[-1] == 1, nspid(new_init)
    members = members_of(new_init)
    t.watch(members.values())
    ipc = ns_inode(new_init, "ipc")
    # Not the host's (the old one's inode number, free again, may be the new one's).
    assert ipc != ns_inode("self", "ipc"), "a new IPC namespace"
    for p in members.values():
        assert ns_inode(p, "ipc") == ipc, f"pid {p} is in the init's IPC namespace"
    after = outside(new_init, members)
    assert after == before, f"the SysV state changed:\n{after}\nbefore:\n{before}"
    first = counting_on(t, last, "the restored container to count on")
    for n in NAMES:
        assert first[n]["ipc"] == ipc, first[n]
    sharing(t, first)
    return new_init, members


def poll(t, members):
    """SIGUSR1 to the init, which takes the queue's messages and checks segment C once:
    its report, once it did."""
    r = t.report("init")
    os.kill(members[1], signal.SIGUSR1)
    got = t.reports(["init"], "the init to check the queue and segment C",
                    lambda _, x: x["polled"] == r["polled"] + 1)["init"]
    assert got["received"] == 5 and got["errors"] == 0, f"{got}\n{t.stderr_text()}"
    return got


def restarts(rounds):
    d = fresh(f"state{rounds}")
    with ktap.Tree("container", d, ns_inode("self", "ipc"), binary=SYSVIPC) as t:
        init, r = start(t)
        ids = r["init"]
        members = members_of(init)
        before = outside(init, members)
        check_outside(before, ids)
        for _ in range(rounds):
            init, members = checkpoint_restart(t, init, ids, before)
        got = poll(t, members)
        assert got["polled"] == 1, got
        check_outside(outside(init, members), ids, polled=True)
        counting_on(t, {n: t.report(n) for n in NAMES}, "the container to count on after the poll")
        assert all(running(p) for p in members.values())


def container_sysv_objects_restart():
    """The container, checkpointed with --container and killed, its IPC namespace gone,
    restarted in a new one: the image holds its sysctls, segments (in the order of their
    ids, owners, creators, modes, SHM_DEST and SHM_LOCK, sizes, attaches), queue (qbytes,
    messages by type and length in order) and set (values); from outside, its objects in
    /proc/sysvipc (key, id, mode, size, attaches, owner, creator, bytes and messages of the
    queue, semaphores), its sysctls and each process's SysV areas (addresses, access, ids)
    are as before; each process finds all of its state as it was and counts on, init and
    child1 seeing each other's writes to the segment they share; the init then takes the
    five messages (one by type, four in order) and checks the unattached segment, which
    kernel.shm_rmid_forced destroys on its last detach, as before the checkpoint."""
    restarts(1)


def container_sysv_objects_restart_twice():
    """The same container checkpointed and restarted twice in a row: the objects rstr made
    are saved as the first ones were (the removed segment still removed, its key still
    IPC_PRIVATE), and come back the same."""
    restarts(2)


def check_json(pid):
    st, out, err = sh(CKPT, "check", "--container", str(pid), "--json", check=False, timeout=120)
    assert out.strip(), f"ckpt check printed no JSON (exit {st}): {err}"
    return st, json.loads(out)


def refused(kind, reason_of, wait=(), also=()):
    """The container with KIND (sysvipc.c) is refused with the reason REASON_OF(the init's
    report), by ckpt (exit status, stderr, no image left) and ckpt check (which lists ALSO
    too); it counts on with its state unchanged. WAIT: reports to wait for first."""
    d = fresh(kind)
    with ktap.Tree("container", d, ns_inode("self", "ipc"), kind, binary=SYSVIPC) as t:
        init, r = start(t)
        if wait:
            t.reports(list(wait), "the launcher's attach")
        members = members_of(init)
        t.watch(members.values())
        before = outside(init, members)
        reason = reason_of(r["init"])
        also = [a(r["init"]) for a in also]
        img = os.path.join(d, "img")
        status, _, err = sh(CKPT, "--container", str(init), "-o", img, check=False, timeout=120)
        assert status != 0, "ckpt accepted the container"
        assert reason in err, f"want {reason!r}: {err}"
        assert not os.path.exists(img), "no partial image is left behind"
        st, v = check_json(init)
        assert st == 1 and v["ok"] is False, v
        for want in (reason, *also):
            assert any(want in x["reason"] for x in v["reasons"]), f"want {want!r}: {v}"
        counting_on(t, {n: t.report(n) for n in NAMES}, "the container to count on")
        assert outside(init, members) == before, "the refused checkpoint changed the SysV state"
        assert all(running(p) for p in members.values())


def undo_of_set(r):
    return (f"SysV semaphore set {r['sem']} (key 0x51a5): a process outside the container "
            "has undo adjustments (SEM_UNDO) for it")


# A container's python3: a set of two semaphores (10 and 20); the init takes 3 from the
# first, its child adds 5 to the second, both with SEM_UNDO, so that each has an undo
# adjustment the kernel makes when it exits (+3 on the first, -5 on the second). Each
# writes its pid inside the container to ARGV[1].NAME once done.
UNDO = r"""
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
class Sembuf(ctypes.Structure):
    _fields_ = [("num", ctypes.c_ushort), ("op", ctypes.c_short), ("flg", ctypes.c_short)]
def op(num, n):
    assert libc.semop(sid, ctypes.byref(Sembuf(num, n, 0x1000)), 1) == 0, ctypes.get_errno()
def done(name):
    with open(sys.argv[1] + "." + name + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(sys.argv[1] + "." + name + ".tmp", sys.argv[1] + "." + name)
sid = libc.semget(0x51a9, 2, 0o1600)
assert sid >= 0 and libc.semctl(sid, 0, 16, 10) == 0 and libc.semctl(sid, 1, 16, 20) == 0
op(0, -3)
if os.fork() == 0:
    op(1, 5)
    done("child")
    while True:
        time.sleep(1)
done("init")
while True:
    time.sleep(1)
"""
# GETVAL of both semaphores of the set, in the IPC namespace nsenter joins.
GETVALS = ("import ctypes; l = ctypes.CDLL(None); s = l.semget(0x51a9, 0, 0); "
           "print(l.semctl(s, 0, 12), l.semctl(s, 1, 12))")


def values(pid):
    """The set's two values, read in PID's IPC namespace."""
    return sh("nsenter", "-t", str(pid), "--ipc", "python3", "-c", GETVALS)[1].split()


def semaphore_undo_restarts():
    """Two processes of a container (python3 under util-linux's unshare) with SEM_UNDO
    adjustments to one set: the image has each one's (SEM_UNDO records of pids 1 and 2),
    the restart makes them again without changing the values (7 and 25), and once the
    restored child is killed the kernel undoes its operation: the second semaphore is 20,
    the first still 7 (the init's adjustment waits for the init)."""
    d = fresh("undo")
    at = os.path.join(d, "done")
    with open(os.path.join(d, "stderr"), "w") as err:
        launcher = subprocess.Popen(["unshare", "--fork", "--pid", "--ipc", "setsid", "python3",
                                     "-c", UNDO, at], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    init = new_init = None
    try:
        wait_for(lambda: os.path.exists(at + ".init") and os.path.exists(at + ".child"),
                 "the container's two processes to take their semaphores")
        (init,) = [int(c) for c in open(f"/proc/{launcher.pid}/task/{launcher.pid}/children")
                   .read().split()]
        assert values(init) == ["7", "25"], values(init)
        old_ipc = ns_inode(init, "ipc")
        img = os.path.join(d, "img")
        sh(CKPT, "--kill", "--container", str(init), "-o", img, timeout=120)
        launcher.wait(timeout=60)
        assert_ipc_namespace_died(old_ipc)
        undo = sorted((u["pid"], u["adj"]) for u in records(show_json(img), "SEM_UNDO"))
        assert undo == [(1, [3, 0]), (2, [0, -5])], undo
        _, out, _ = sh(RSTR, "--detach", img, timeout=120)
        new_init = int(out)
        assert values(new_init) == ["7", "25"], values(new_init)
        child = ns_members(new_init)[2]
        os.kill(child, signal.SIGKILL)
        # A zombie (its parent does not wait): it made its adjustments as it exited.
        wait_for(lambda: not running(child), "the restored child to die")
        assert values(new_init) == ["7", "20"], f"the child's undo: {values(new_init)}"
    finally:
        kill_all(launcher, new_init, init)


def semaphore_undo_outside_refused():
    """A SEM_UNDO adjustment to the set by a process outside the container (the launcher,
    which joined the container's IPC namespace): refused naming the set and its key."""
    refused("outside-undo", undo_of_set, wait=["outsider"])


def segment_attached_outside_refused():
    """Segment A also attached by a process outside the container (the launcher, which
    joined the container's IPC namespace): refused naming the segment and its attaches."""
    refused("outside", lambda r: f"SysV shared memory segment {r['shm_a']} (key 0x51a0) has "
            "4 attaches, 3 of them by the container's processes: a process outside the "
            "container has it attached", wait=["outsider"])


def ipcs(pid):
    """What util-linux's ipcs shows in PID's IPC namespace: the segments, queues and sets
    with their owners and creators (-c), the limits (-l)."""
    out = {}
    for opts in (["-m"], ["-q"], ["-s"], ["-m", "-c"], ["-q", "-c"], ["-s", "-c"], ["-l"]):
        _, text, _ = sh("nsenter", "-t", str(pid), "--ipc", "ipcs", *opts)
        out[" ".join(opts)] = text
    return out


def unshare_ipcmk_container_restarts():
    """util-linux's `unshare --fork --pid --ipc` running, in a session of its own (setsid),
    sh, which sets kernel.msgmni, makes a segment, a queue and a set with ipcmk and execs
    sleep: checkpointed with --container and killed, its IPC namespace gone, restarted;
    ipcs in the new namespace shows the same objects, owners, creators and limits."""
    d = fresh("unshare")
    script = ("echo 1234 > /proc/sys/kernel/msgmni && ipcmk -M 12288 -p 0640 && "
              "ipcmk -Q -p 0600 && ipcmk -S 3 -p 0660 && exec sleep 1000")
    with open(os.path.join(d, "stderr"), "w") as err:
        launcher = subprocess.Popen(["unshare", "--fork", "--pid", "--ipc", "setsid", "sh", "-c",
                                     script], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=err, start_new_session=True)

    def started():
        for c in open(f"/proc/{launcher.pid}/task/{launcher.pid}/children").read().split():
            if open(f"/proc/{c}/comm").read().strip() == "sleep":
                return int(c)
        return None
    init = new_init = None
    try:
        init = wait_for(started, "sleep, the container's init")
        assert nspid(init)[-1] == 1
        before = ipcs(init)
        objects = {k: sysvipc(init, k) for k in KEPT}
        assert [len(objects[k]) for k in KEPT] == [1, 1, 1], objects
        (shm,) = objects["shm"].values()
        assert (shm["size"], shm["perms"], shm["nattch"]) == (12288, 0o640, 0), shm
        assert "max queues system wide = 1234" in before["-l"], before["-l"]
        old_ipc = ns_inode(init, "ipc")
        img = os.path.join(d, "img")
        sh(CKPT, "--kill", "--container", str(init), "-o", img, timeout=120)
        launcher.wait(timeout=60)
        assert_ipc_namespace_died(old_ipc)
        recs = show_json(img)
        (ns,) = records(recs, "IPC_NS")
        assert (ns["nr_shm"], ns["nr_msq"], ns["nr_sem"], ns["msgmni"]) == (1, 1, 1, 1234), ns
        (uts,) = records(recs, "UTS_NS")
        assert (uts["uts"], uts["ipc"]) == (False, True), uts
        _, out, _ = sh(RSTR, "--detach", img, timeout=120)
        new_init = int(out)
        assert ns_inode(new_init, "ipc") != ns_inode("self", "ipc"), "a new IPC namespace"
        after = ipcs(new_init)
        assert after == before, f"ipcs after the restart:\n{after}\nbefore:\n{before}"
        assert {k: sysvipc(new_init, k) for k in KEPT} == objects
        assert open(f"/proc/{new_init}/comm").read().strip() == "sleep" and running(new_init)
    finally:
        kill_all(launcher, new_init, init)


TESTS = [
    container_sysv_objects_restart,
    container_sysv_objects_restart_twice,
    semaphore_undo_restarts,
    semaphore_undo_outside_refused,
    segment_attached_outside_refused,
    unshare_ipcmk_container_restarts,
]
if __name__ == "__main__":
    only = [t for t in TESTS if t.__name__ in sys.argv[1:]]
    sys.exit(run(only or TESTS))
