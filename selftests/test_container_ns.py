#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Containers with a UTS and an IPC namespace of their own (ckpt --container): the host and
domain names come back in a new UTS namespace, the tree in a new IPC namespace; what cannot
be saved is refused with its reason (SysV objects in the container's IPC namespace, a task in
another UTS namespace than its init, a plain tree in a namespace of its own).

The containers are selftests/targets/containerns.c (each process checks its own uname()
and IPC namespace and reports the errors it found), and util-linux's unshare running sh and
sleep. Before each restart, the test checks that no process is left in the namespaces that
were saved: the names cannot come from a namespace the kernel kept.
"""
import json
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktap  # noqa: E402
from ktap import (CKPT, RSTR, ns_members, nspid, records, run, running, scratch, sh,  # noqa: E402
                  show_json, target, wait_for)

fresh = scratch("ckpt-containerns-")
CONTAINERNS = target("containerns")
NAMES = ["init", "child1", "child2"]
IPC_REASON = ("the container's IPC namespace holds {}: saving SysV IPC objects and POSIX "
              "message queues is not supported yet")


def ns_inode(pid, kind):
    return os.stat(f"/proc/{pid}/ns/{kind}").st_ino


def in_namespace(kind, inode):
    """The processes whose namespace of KIND is INODE."""
    out = []
    for e in os.listdir("/proc"):
        try:
            if e.isdigit() and os.stat(f"/proc/{e}/ns/{kind}").st_ino == inode:
                out.append(int(e))
        except OSError:
            pass
    return out


def assert_namespaces_died(uts, ipc):
    wait_for(lambda: not in_namespace("uts", uts) and not in_namespace("ipc", ipc),
             "the container's UTS and IPC namespaces to be left by every process")


def check_json(pid, *opts):
    st, out, err = sh(CKPT, "check", *opts, str(pid), "--json", check=False, timeout=120)
    assert out.strip(), f"ckpt check printed no JSON (exit {st}): {err}"
    return st, json.loads(out)


def start(t):
    """The container's reports once each process counted twice; the init's outer pid."""
    init = t.reports(["launcher"], "the launcher")["launcher"]["init"]
    r = t.reports(NAMES, "the container to count", lambda _, r: r["count"] >= 2)
    return init, r


def uts_ipc_container_restarts():
    """A container (its own pid, UTS and IPC namespaces, host and domain names set, two
    children) checkpointed with --container and killed, its namespaces gone: rstr brings it
    back in new ones with the same names; every process checks its uname() and that its IPC
    namespace is not the host's, and goes on counting; the host's name is unchanged."""
    d = fresh("names")
    host_name, host_ipc, host_uts = os.uname().nodename, ns_inode("self", "ipc"), ns_inode("self", "uts")
    with ktap.Tree("container", d, "box1", "dom.example", host_ipc, binary=CONTAINERNS) as t:
        init, r = start(t)
        for n in NAMES:
            assert r[n]["nodename"] == "box1" and r[n]["domainname"] == "dom.example", r[n]
            assert r[n]["errors"] == 0 and r[n]["ipc"] != host_ipc, r[n]
        members = ns_members(init)
        assert sorted(members) == [1, 2, 3], members
        t.watch(members.values())
        old_uts, old_ipc = ns_inode(init, "uts"), ns_inode(init, "ipc")
        assert old_uts != host_uts and old_ipc != host_ipc
        img, _ = t.checkpoint(members.values(), "--container", pid=init)
        assert_namespaces_died(old_uts, old_ipc)
        ns = records(show_json(img), "UTS_NS")
        assert ns == [{"type": "UTS_NS", "uts": True, "nodename": "box1",
                       "domainname": "dom.example", "ipc": True}], ns
        new_init, _ = t.restart(img)
        assert nspid(new_init)[-1] == 1, nspid(new_init)
        members = wait_for(lambda: (m := ns_members(new_init)) and len(m) == 3 and m,
                           "the container's processes")
        t.watch(members.values())
        uts, ipc = ns_inode(new_init, "uts"), ns_inode(new_init, "ipc")
        assert uts != host_uts and ipc != host_ipc, "new UTS and IPC namespaces"
        for p in members.values():
            assert (ns_inode(p, "uts"), ns_inode(p, "ipc")) == (uts, ipc), f"pid {p} shares the init's"
        last = {n: t.report(n) for n in NAMES}
        after = t.reports(NAMES, "the container to go on counting",
                          lambda n, r: r["count"] >= last[n]["count"] + 3, timeout=120)
        for n in NAMES:
            a = after[n]
            assert a["errors"] == 0, f"{n} found its names or IPC namespace wrong: {a}\n{t.stderr_text()}"
            assert (a["nodename"], a["domainname"]) == ("box1", "dom.example"), a
            assert a["ipc"] == ipc, a
        assert os.uname().nodename == host_name, f"the host's name changed: {os.uname().nodename}"
        assert ns_inode("self", "uts") == host_uts


def ipc_objects_refused(kind, what):
    d = fresh(kind)
    with ktap.Tree("container", d, "box2", "dom", ns_inode("self", "ipc"), kind,
                   binary=CONTAINERNS) as t:
        init, r = start(t)
        t.watch(ns_members(init).values())
        reason = IPC_REASON.format(what)
        img = os.path.join(d, "img")
        status, _, err = sh(CKPT, "--container", str(init), "-o", img, check=False, timeout=120)
        assert status != 0, "ckpt accepted a container with SysV IPC objects"
        assert reason in err, f"want {reason!r}: {err}"
        assert not os.path.exists(img), "no partial image is left behind"
        st, v = check_json(init, "--container")
        assert st == 1 and v["ok"] is False, v
        assert reason in [x["reason"] for x in v["reasons"]], v
        t.reports(NAMES, "the container to count on", lambda n, x: x["count"] >= r[n]["count"] + 3)


def shm_segment_refused():
    """A container whose IPC namespace holds a SysV shared memory segment is refused (ckpt
    and ckpt check), with the count and kind; it counts on."""
    ipc_objects_refused("shm", "1 SysV shared memory segment")


def message_queue_refused():
    """Likewise with a SysV message queue."""
    ipc_objects_refused("msg", "1 SysV message queue")


def nested_uts_refused():
    """A child of the container's init in a UTS namespace of its own is refused, named."""
    d = fresh("nested")
    with ktap.Tree("container", d, "box3", "dom", ns_inode("self", "ipc"), "nested",
                   binary=CONTAINERNS) as t:
        init, r = start(t)
        t.watch(ns_members(init).values())
        pid = r["child2"]["pid"]
        reason = (f"pid {pid} is in another UTS namespace than the container's init: nested "
                  "UTS namespaces are not supported yet")
        status, _, err = sh(CKPT, "--container", str(init), "-o", os.path.join(d, "img"),
                            check=False, timeout=120)
        assert status != 0 and reason in err, err
        st, v = check_json(init, "--container")
        assert st == 1 and reason in [x["reason"] for x in v["reasons"]], v


def plain_tree_in_its_own_uts_refused():
    """A process (no pid namespace of its own) in a UTS namespace of its own, checkpointed
    without --container, is refused naming the kind; it counts on."""
    d = fresh("utsonly")
    with ktap.Tree("utsonly", d, "box4", binary=CONTAINERNS) as t:
        r = t.reports(["utsonly"], "the process to count")["utsonly"]
        reason = (f"pid {t.root} uses namespaces other than the caller's (UTS): not supported "
                  "yet (a container, ckpt --container, may have a UTS and an IPC namespace of "
                  "its own)")
        status, _, err = sh(CKPT, str(t.root), "-o", os.path.join(d, "img"), check=False)
        assert status != 0 and reason in err, err
        st, v = check_json(t.root)
        assert st == 1 and reason in [x["reason"] for x in v["reasons"]], v
        t.reports(["utsonly"], "it to count on", lambda _, x: x["count"] >= r["count"] + 3)
        assert running(t.root)


def unshare(d, *prefix):
    """util-linux's unshare --fork --pid --uts --ipc running PREFIX sh, which names its UTS
    namespace box5 and execs sleep, pid 1 of the container: (unshare's Popen, sleep's pid)."""
    script = "echo box5 > /proc/sys/kernel/hostname && exec sleep 1000"
    with open(os.path.join(d, "stderr"), "w") as err:
        launcher = subprocess.Popen(["unshare", "--fork", "--pid", "--uts", "--ipc", *prefix, "sh", "-c", script],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                    start_new_session=True)

    def sleeping():
        for c in open(f"/proc/{launcher.pid}/task/{launcher.pid}/children").read().split():
            if open(f"/proc/{c}/comm").read().strip() == "sleep":
                return int(c)
        return None
    try:
        init = wait_for(sleeping, "sleep, the container's init")
    except BaseException:
        launcher.kill()
        launcher.wait()
        raise
    assert nspid(init)[-1] == 1
    return launcher, init


def kill_all(launcher, *pids):
    for p in pids:
        if p and running(p):
            os.kill(p, signal.SIGKILL)
    if launcher.poll() is None:
        launcher.kill()
        launcher.wait()


def unshare_container_restarts():
    """util-linux's `unshare --fork --pid --uts --ipc` running sh in a session of its own
    (setsid), which names its UTS namespace box5 and execs sleep (pid 1 of the container):
    checkpointed with --container, killed (the namespaces go), restarted; inside, the name
    is box5, the IPC namespace new; the host's name is unchanged."""
    d = fresh("unshare")
    host_ipc, host_name = ns_inode("self", "ipc"), os.uname().nodename
    launcher, init = unshare(d, "setsid")
    new_init = None
    try:
        old_uts, old_ipc = ns_inode(init, "uts"), ns_inode(init, "ipc")
        img = os.path.join(d, "img")
        sh(CKPT, "--kill", "--container", str(init), "-o", img, timeout=120)
        launcher.wait(timeout=60)
        assert_namespaces_died(old_uts, old_ipc)
        _, out, _ = sh(RSTR, "--detach", img, timeout=120)
        new_init = int(out)
        _, name, _ = sh("nsenter", "-t", str(new_init), "--uts", "cat", "/proc/sys/kernel/hostname")
        assert name.strip() == "box5", name
        assert ns_inode(new_init, "ipc") != host_ipc, "a new IPC namespace"
        assert open(f"/proc/{new_init}/comm").read().strip() == "sleep" and running(new_init)
        assert os.uname().nodename == host_name
    finally:
        kill_all(launcher, new_init, init)


def init_in_an_outer_session_refused():
    """The same container without setsid: its init's group and session are outside it,
    which rstr cannot join from the new namespace; ckpt refuses it (not rstr, later), and
    the container runs on."""
    d = fresh("outer-session")
    launcher, init = unshare(d)
    try:
        reason = ("process 1: its process group or session is outside the container, "
                  "which a restart cannot join (start the container's init in a session of "
                  "its own, setsid)")
        img = os.path.join(d, "img")
        status, _, err = sh(CKPT, "--container", str(init), "-o", img, check=False, timeout=120)
        assert status != 0 and reason in err, err
        assert not os.path.exists(img)
        st, v = check_json(init, "--container")
        assert st == 1 and reason in [x["reason"] for x in v["reasons"]], v
        assert running(init)
    finally:
        kill_all(launcher, init)


TESTS = [
    uts_ipc_container_restarts,
    shm_segment_refused,
    message_queue_refused,
    nested_uts_refused,
    plain_tree_in_its_own_uts_refused,
    unshare_container_restarts,
    init_in_an_outer_session_refused,
]
if __name__ == "__main__":
    only = [t for t in TESTS if t.__name__ in sys.argv[1:]]
    sys.exit(run(only or TESTS))
