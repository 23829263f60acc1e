#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Process attributes: each thread's scheduling policy and priority, SCHED_RESET_ON_FORK,
CPU affinity and I/O priority (TASK_ATTRS, saved by the module, set again by rstr), and
mlock()ed memory with mlockall(MCL_FUTURE) (the VMA's VM_LOCKED and the MM record's flag,
locked again by the module). Checked by the program itself after the restart
(selftests/targets/attrs.c): per thread, by tid, sched_getscheduler, sched_getparam,
sched_getaffinity, ioprio_get; the locked area locked whole (smaps "Locked:"), the other not,
VmLck, and a mapping made after the restart locked (MCL_FUTURE). As root and as user 65534
(within RLIMIT_RTPRIO and RLIMIT_MEMLOCK). Refused: SCHED_DEADLINE, MLOCK_ONFAULT,
MCL_ONFAULT; an affinity with no CPU online at restart fails the restart.
"""
import os
import re
import resource
import shutil
import signal
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktap  # noqa: E402
from ktap import (NOBODY, NOBODY_CR, CKPT, RSTR, TASK_ATTRS, records, rewrite_records, run, running, scratch, sh,  # noqa: E402
                  show_json, skip, stat, target, wait_for)

fresh = scratch("ckpt-attrs-")
ATTRS = target("attrs")
VM_LOCKED = 0x2000
# What attrs.c gives each thread: (policy, priority, reset_on_fork, CPUs, ioprio shown).
AS_ROOT = [("SCHED_FIFO", 7, True, "0", "be/3"), ("SCHED_RR", 3, False, "1", "rt/2"),
           ("SCHED_IDLE", 0, False, "0-1", "none")]
AS_USER = [("SCHED_BATCH", 0, False, "0", "be/5"), ("SCHED_FIFO", 5, False, "1", "idle/0"),
           ("SCHED_IDLE", 0, False, "0-1", "be/7")]


def two_cpus():
    if len(os.sched_getaffinity(0)) < 2:
        skip("the guest has one CPU: affinities cannot differ")


def started(t):
    r = t.reports(["attrs"], "the threads to take their attributes")["attrs"]
    return r["pid"], [r["pid"], r["t1"], r["t2"]], int(r["locked"], 16)


def checked_image(img, tids, locked, want):
    recs = show_json(img)
    kinds = [r["type"] for r in recs]
    assert kinds[kinds.index("TASK") + 1] == "TASK_ATTRS", "TASK_ATTRS follows its TASK"
    attrs = {t["pid"]: a for t, a in zip(records(recs, "TASK"), records(recs, "TASK_ATTRS"))}
    for tid, (policy, prio, rof, cpus, ioprio) in zip(tids, want):
        a = attrs[tid]
        assert (a["policy"], a["rt_priority"], a["reset_on_fork"]) == (policy, prio, rof), a
        assert (a["cpus"], a["affinity_set"], a["ioprio"]) == (cpus, True, ioprio), a
    vma = [v for v in records(recs, "VMA") if int(v["start"], 16) == locked]
    assert len(vma) == 1 and int(vma[0]["vm_flags"], 16) & VM_LOCKED, vma
    assert records(recs, "MM")[0]["lock_future"], records(recs, "MM")
    _, text, _ = sh(CKPT, "show", img)
    assert re.search(r"TASK_ATTRS .*policy=\"SCHED_FIFO\" reset_on_fork=\w+ rt_priority=[1-9]", text), text[:2000]


def after_restart(t, pid, tids, want):
    assert running(pid), "the process is back"
    for tid, (_, _, _, cpus, _) in zip(tids, want):
        got = ",".join(map(str, sorted(os.sched_getaffinity(tid))))
        assert got == {"0": "0", "1": "1", "0-1": "0,1"}[cpus], f"thread {tid}: CPUs {got}"
    os.kill(pid, signal.SIGUSR2)
    r = t.reports(["attrs"], "the process to check its attributes", lambda n, r: r.get("checked") == 1)
    assert r["attrs"]["errors"] == 0, f"checks failed: {t.stderr_text()}"


def attributes_come_back_per_thread():
    two_cpus()
    d = fresh("root")
    with ktap.Tree("state", d, binary=ATTRS) as t:
        pid, tids, locked = started(t)
        img, _ = t.checkpoint([pid])
        checked_image(img, tids, locked, AS_ROOT)
        t.restart(img)
        after_restart(t, pid, tids, AS_ROOT)


def with_rtprio():
    """The user restarting has the RLIMIT_RTPRIO the image asks for (rstr cannot raise it)."""
    resource.setrlimit(resource.RLIMIT_RTPRIO, (20, 20))


def attributes_as_nobody():
    """Checkpointed and restarted by user 65534: SCHED_FIFO within RLIMIT_RTPRIO (restored
    before the policy), mlock within RLIMIT_MEMLOCK."""
    two_cpus()
    d = fresh("nobody")
    os.chown(d, 65534, 65534)
    with ktap.Tree("state", d, 65534, binary=ATTRS) as t:
        pid, tids, locked = started(t)
        os.chown(t.stderr, 65534, 65534)  # the restart reopens the tree's stderr as the user
        img = os.path.join(d, "img")
        mode = os.stat("/dev/checkpoint").st_mode
        os.chmod("/dev/checkpoint", 0o666)
        try:
            sh(*NOBODY, CKPT, "--kill", str(pid), "-o", img)
            t.proc.wait(timeout=60)
            wait_for(lambda: stat(pid) is None, "the process to go")
            checked_image(img, tids, locked, AS_USER)
            # A priority above its RLIMIT_RTPRIO (which no checkpoint of a process of this
            # user holds, unless root gave it): refused with the reason.
            over = img + ".over"
            shutil.copy(img, over)
            os.chown(over, 65534, 65534)
            n = [0]

            def fifo_30(p):
                n[0] += 1
                return p[:4] + struct.pack("<I", 30) + p[8:] if n[0] == 2 else p
            rewrite_records(over, TASK_ATTRS, fifo_30)
            status, _, err = sh(*NOBODY_CR, RSTR, "--detach", over, check=False, preexec_fn=with_rtprio)
            assert status != 0 and "needs CAP_SYS_NICE or RLIMIT_RTPRIO" in err, (status, err)
            wait_for(lambda: stat(pid) is None, "the refused restart to leave nothing")
            _, out, _ = sh(*NOBODY_CR, RSTR, "--detach", img, preexec_fn=with_rtprio)
        finally:
            os.chmod("/dev/checkpoint", mode & 0o777)
        assert re.fullmatch(r"\d+\n?", out), out
        t.watch([pid])
        after_restart(t, pid, tids, AS_USER)


def affinity_without_its_cpus_fails_the_restart():
    """An image whose thread may run on CPU 5 only, restarted on a machine without it:
    refused with the reason, not widened."""
    two_cpus()
    if os.path.exists("/sys/devices/system/cpu/cpu5/online"):
        skip("the guest has a CPU 5")
    d = fresh("nocpu")
    with ktap.Tree("state", d, binary=ATTRS) as t:
        pid, tids, _ = started(t)
        img, _ = t.checkpoint([pid])

        def cpu5(p):
            policy, prio, flags, ioprio, nr_cpus, words = struct.unpack_from("<6I", p)
            assert words == 1, "one word of mask"
            return struct.pack("<6IQ", policy, prio, flags, ioprio, 64, 1, 1 << 5)
        rewrite_records(img, TASK_ATTRS, cpu5)
        status, _, err = sh(RSTR, "--detach", img, check=False)
        assert status != 0, "a restart onto missing CPUs succeeded"
        assert f"pid {pid}: its CPU affinity (5) has none of the CPUs online here" in err, err
        assert stat(pid) is None, "nothing was restored"


def refused(mode, reason):
    d = fresh(mode)
    os.chown(d, 65534, 65534)   # overlimit reports as 65534
    with ktap.Tree(mode, d, binary=ATTRS) as t:
        pid = t.reports(["attrs"], f"the {mode} process to start")["attrs"]["pid"]
        status, _, err = sh(CKPT, str(pid), "-o", os.path.join(d, "img"), check=False)
        assert status != 0, f"a process with {mode} was checkpointed"
        assert reason in err, err
        assert running(pid), "the refused process runs on"


def deadline_refused():
    refused("deadline", "uses SCHED_DEADLINE (its runtime, deadline and period")


def lock_on_fault_refused():
    refused("onfault", "locked on fault (mlock2(MLOCK_ONFAULT) or mlockall(MCL_ONFAULT)): "
            "not supported")
    refused("mclonfault", "mlockall(MCL_FUTURE | MCL_ONFAULT) (areas locked on fault): not supported")


def locked_over_its_limit_refused():
    """Memory locked while root, then RLIMIT_MEMLOCK lowered and CAP_IPC_LOCK gone: the
    restart (with these credentials and limits) could not lock it again."""
    refused("overlimit", "65536 bytes of mlock()ed memory, over RLIMIT_MEMLOCK (4096) without "
            "CAP_IPC_LOCK")


TESTS = [
    attributes_come_back_per_thread,
    attributes_as_nobody,
    affinity_without_its_cpus_fails_the_restart,
    deadline_refused,
    lock_on_fault_refused,
    locked_over_its_limit_refused,
]
if __name__ == "__main__":
    sys.exit(run(TESTS))
