#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""POSIX message queues of a container's own IPC namespace (ckpt --container): each queue
is saved with its name, owner, mode, attributes and messages (MQUEUE and MQ_MSG records),
made again by rstr in the container's new IPC namespace, and each descriptor of one (a FILE
of kind mqueue) opened again by its name with its flags, shared as before.

The container is selftests/targets/mqueue.c: an init and a child sharing two descriptors of
two queues (one read-write holding five messages of four priorities, one read-only with
O_NONBLOCK, given to another owner) and a third queue no descriptor holds, with one
message. Each process checks its descriptors' attributes, owners and modes itself, every
50 ms; the init takes every message once the test tells it (SIGUSR1) and checks their
order, priorities and texts. Before the restart no process is left in the IPC namespace
that was saved: the queues cannot come from a namespace the kernel kept.

Refused, the container running on: a queue with a notification registered (mq_notify), a
queue open while unlinked.
"""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktap  # noqa: E402
from ktap import (CKPT, in_namespace, ns_inode, ns_members, records, run, running,  # noqa: E402
                  scratch, sh, show_json, target, wait_for)

fresh = scratch("ckpt-mqueue-")
MQUEUE = target("mqueue")
NAMES = ["init", "child"]
# name: (maxmsg, msgsize, uid, gid, mode, [(priority, length)] first received first)
QUEUES = {
    "/ckpt-a": (8, 64, 0, 0, "0640", [(9, 4), (5, 6), (1, 7), (1, 7), (0, 0)]),
    "/ckpt-b": (3, 1000, 1001, 1002, "0604", []),
    "/ckpt-c": (2, 512, 0, 0, "0600", [(3, 500)]),
}


def start(t):
    """The init's outer pid, its reports once both processes counted twice with no error,
    and the container's processes ({pid inside: pid outside})."""
    init = t.reports(["launcher"], "the launcher")["launcher"]["init"]
    r = t.reports(NAMES, "the container to set up and count", lambda _, r: r["count"] >= 2)
    for n in NAMES:
        assert r[n]["errors"] == 0, f"{n}: {r[n]}\n{t.stderr_text()}"
    members = wait_for(lambda: (m := ns_members(init)) and len(m) == 2 and m,
                       "the container's two processes")
    t.watch(members.values())
    return init, r, members


def check_image(img):
    """IPC_NS counts the three queues; each MQUEUE record has its attributes, owner and mode
    and is followed by its MQ_MSG records, highest priority first; the descriptors are FILE
    records of kind mqueue naming their queues, two per process, with their flags."""
    recs = show_json(img)
    ipc = records(recs, "IPC_NS")
    assert len(ipc) == 1 and ipc[0]["nr_mq"] == 3, ipc
    types = [r["type"] for r in recs]
    seen = {}
    for i, r in enumerate(recs):
        if r["type"] != "MQUEUE":
            continue
        msgs = []
        for m in recs[i + 1:i + 1 + r["nr_msgs"]]:
            assert m["type"] == "MQ_MSG", (r, m)
            msgs.append((m["prio"], m["len"]))
        seen[r["name"]] = (r["maxmsg"], r["msgsize"], r["uid"], r["gid"], r["mode"], msgs)
    assert seen == QUEUES, seen
    assert types.index("MQUEUE") > types.index("IPC_NS")
    files = [f for f in records(recs, "FILE") if f["kind"] == "mqueue"]
    # In each process's table (the child's is a copy of the init's), one description each,
    # the same in both.
    assert sorted((f["path"], f["fd"]) for f in files) == \
        [("/ckpt-a", 3), ("/ckpt-a", 3), ("/ckpt-b", 4), ("/ckpt-b", 4)], files
    assert len({f["obj"] for f in files}) == 2, files
    flags = {f["path"]: int(str(f["flags"]), 0) & (os.O_ACCMODE | os.O_NONBLOCK) for f in files}
    assert flags == {"/ckpt-a": os.O_RDWR, "/ckpt-b": os.O_RDONLY | os.O_NONBLOCK}, flags


def posix_queues_restart():
    """The container checkpointed (--kill --container), its IPC namespace gone, restarted:
    the image holds the queues, messages and descriptors; its processes find their
    descriptors' attributes, owners and modes intact and count on; the init then receives
    every message in order with its priority and text, /ckpt-c's by name; the processes
    share the descriptors' state (O_NONBLOCK) as before."""
    d = fresh("restart")
    with ktap.Tree("container", d, ns_inode("self", "ipc"), binary=MQUEUE) as t:
        init, _, members = start(t)
        old_ipc = ns_inode(init, "ipc")
        img, _ = t.checkpoint(members.values(), "--container", pid=init)
        wait_for(lambda: not in_namespace("ipc", old_ipc),
                 "the container's IPC namespace to be left by every process")
        check_image(img)
        new_init, _ = t.restart(img)
        members = wait_for(lambda: (m := ns_members(new_init)) and len(m) == 2 and m,
                           "the restored processes")
        t.watch(members.values())
        # (The old namespace's inode number may be given to the new one: it died.)
        assert ns_inode(new_init, "ipc") != ns_inode("self", "ipc"), "a new IPC namespace"
        last = {n: t.report(n) for n in NAMES}
        after = t.reports(NAMES, "the container to count on",
                          lambda n, r: r["count"] >= last[n]["count"] + 3, timeout=120)
        for n in NAMES:
            assert after[n]["errors"] == 0, f"{n}: {after[n]}\n{t.stderr_text()}"
        # The reports name the pids inside the container: the signal goes to the outer one.
        os.kill(members[1], signal.SIGUSR1)
        r = t.reports(["init"], "the init to take the messages",
                      lambda _, x: x["polled"] == 1)["init"]
        assert r["received"] == 6 and r["errors"] == 0, f"{r}\n{t.stderr_text()}"
        # The child still finds its (shared) descriptors right after the init emptied /ckpt-a.
        last = t.report("child")
        r = t.reports(["child"], "the child to count on",
                      lambda _, r: r["count"] >= last["count"] + 3)["child"]
        assert r["errors"] == 0, f"{r}\n{t.stderr_text()}"


def refused(kind, reason):
    """The container with KIND is refused by ckpt with REASON, leaving no image; it counts
    on with no error."""
    d = fresh(kind)
    with ktap.Tree("container", d, ns_inode("self", "ipc"), kind, binary=MQUEUE) as t:
        init, r, _ = start(t)
        img = os.path.join(d, "img")
        status, _, err = sh(CKPT, "--container", str(init), "-o", img, check=False, timeout=120)
        assert status != 0, "ckpt accepted the container"
        assert reason in err, f"want {reason!r}: {err}"
        assert not os.path.exists(img), "no partial image is left behind"
        after = t.reports(NAMES, "the container to count on",
                          lambda n, x: x["count"] >= r[n]["count"] + 3)
        for n in NAMES:
            assert after[n]["errors"] == 0 and running(after[n]["pid"]), after[n]


def notification_refused():
    """A notification registered on a queue (mq_notify) is refused, naming the queue."""
    refused("notify", "POSIX message queue /ckpt-b: a process is registered for its "
            "notification (mq_notify): not supported yet")


def unlinked_queue_refused():
    """A descriptor of a queue unlinked while open is refused, naming the descriptor."""
    refused("unlinked", "POSIX message queue unlinked (mq_unlink) while open: not "
            "supported yet")


TESTS = [
    posix_queues_restart,
    notification_refused,
    unlinked_queue_refused,
]
if __name__ == "__main__":
    only = [t for t in TESTS if t.__name__ in sys.argv[1:]]
    sys.exit(run(only or TESTS))
