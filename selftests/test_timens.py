#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A container's own time namespace (ckpt --container, Documentation/containers.rst): its
CLOCK_MONOTONIC and CLOCK_BOOTTIME offsets are saved (TIME_NS) and the restored container
gets a new time namespace with the same offsets, so that its clocks read on the same boot
what they would have read without the checkpoint; an image whose host clock was ahead of
this one's (another boot, another machine) gets offsets that make the container's clocks go
on from where they stood, never back. Refused with its reason: a process that called
unshare(CLONE_NEWTIME) and has not forked since, and a plain tree in a time namespace of
its own.

The container is util-linux's `unshare --fork --pid --time --monotonic ... --boottime ...`
running setsid python3, pid 1 of it, which keeps writing its clocks as the vDSO
(clock_gettime) and the system call give them. Before each restart, the test waits until no
process is left in the saved time namespace: the offsets cannot come from a namespace the
kernel kept.
"""
import json
import os
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktap  # noqa: E402
from ktap import (CKPT, RSTR, in_namespace, kill_all, ns_inode, nspid, records,  # noqa: E402
                  rewrite_records, run, running, scratch, sh, show_json, wait_for)

fresh = scratch("ckpt-timens-")
MONO, BOOT = 86400, 172800  # the container's offsets, in seconds
TIME_NS = 65  # uapi/image.rs rec::TIME_NS
# CkptTimeNsRec: monotonic_sec, boottime_sec (i64), their nsec (u32), host clocks (u64).
TIME_NS_FMT = "<qqIIQQ"

# The container's init: every 0.2 s, its clocks (vDSO and system call) and a count, as JSON.
CLOCKS = """
import ctypes, json, os, sys, time
status = sys.argv[1]
libc = ctypes.CDLL(None, use_errno=True)
class TS(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("nsec", ctypes.c_long)]
def syscall_clock(clock):
    t = TS()
    assert libc.syscall(228, clock, ctypes.byref(t)) == 0  # SYS_clock_gettime
    return t.sec + t.nsec / 1e9
n = 0
while True:
    n += 1
    r = {"count": n, "pid": os.getpid(),
         "mono": time.clock_gettime(time.CLOCK_MONOTONIC),
         "boot": time.clock_gettime(time.CLOCK_BOOTTIME),
         "sys_mono": syscall_clock(time.CLOCK_MONOTONIC),
         "sys_boot": syscall_clock(time.CLOCK_BOOTTIME)}
    open(status + ".tmp", "w").write(json.dumps(r))
    os.rename(status + ".tmp", status)
    time.sleep(0.2)
"""


def status(d):
    with open(os.path.join(d, "status")) as f:
        return json.load(f)


def host_clocks():
    return time.clock_gettime(time.CLOCK_MONOTONIC), time.clock_gettime(time.CLOCK_BOOTTIME)


def offsets(pid):
    """/proc/PID/timens_offsets: {clock: seconds as a float}."""
    out = {}
    for line in open(f"/proc/{pid}/timens_offsets"):
        clock, sec, nsec = line.split()
        out[clock] = int(sec) + int(nsec) / 1e9
    return out


def check_clocks(r, mono_off, boot_off, host):
    """The report R, read before the host's clocks HOST were: its clocks are the host's plus
    the offsets (it is at most a few seconds older), through the vDSO as through the system
    call."""
    for key, off, h in (("mono", mono_off, host[0]), ("boot", boot_off, host[1])):
        lag = h + off - r[key]
        assert -0.5 < lag < 10, f"{key} {r[key]} is not the host's {h} + {off} (lag {lag})"
        assert abs(r[key] - r["sys_" + key]) < 1, f"vDSO and system call disagree: {r}"


def container(d):
    """The container, its init counting: (unshare's Popen, the init's pid)."""
    st = os.path.join(d, "status")
    with open(os.path.join(d, "stderr"), "w") as err:
        launcher = subprocess.Popen(
            ["unshare", "--fork", "--pid", "--time", f"--monotonic={MONO}", f"--boottime={BOOT}",
             "setsid", sys.executable, "-c", CLOCKS, st],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)

    def started():
        kids = open(f"/proc/{launcher.pid}/task/{launcher.pid}/children").read().split()
        return int(kids[0]) if kids and os.path.exists(st) else None
    try:
        init = wait_for(started, "the container's init to report")
        wait_for(lambda: status(d)["count"] >= 2, "the init to count")
    except BaseException:
        launcher.kill()
        launcher.wait()
        raise
    assert nspid(init)[-1] == 1, nspid(init)
    return launcher, init


def checkpoint_killed(d, launcher, init):
    """ckpt --kill --container INIT, once its last report is read; waits until no process is
    left in its time namespace: (the image, the last report before)."""
    old = ns_inode(init, "time")
    img = os.path.join(d, "img")
    sh(CKPT, "--kill", "--container", str(init), "-o", img, timeout=120)
    launcher.wait(timeout=60)
    last = status(d)
    wait_for(lambda: not in_namespace("time", old), "the saved time namespace to die")
    return img, last


def restarted(d, img, last):
    """rstr --detach IMG: the new init's pid, once it reported after LAST."""
    _, out, _ = sh(RSTR, "--detach", img, timeout=120)
    new = int(out)
    wait_for(lambda: status(d)["count"] >= last["count"] + 3, "the restored init to count on",
             timeout=60)
    return new


def same_boot_keeps_the_offsets():
    """The container's clocks read the host's plus 86400 s (monotonic) and 172800 s
    (boottime) before; the image's TIME_NS has those offsets; once restarted in a new time
    namespace (the old one gone), the offsets are the same, the clocks still the host's plus
    them (vDSO and system call), never behind where they stood, and the count goes on."""
    d = fresh("same")
    host_time = ns_inode("self", "time")
    launcher, init = container(d)
    new = None
    try:
        assert offsets(init) == {"monotonic": MONO, "boottime": BOOT}, offsets(init)
        old = ns_inode(init, "time")
        assert old != host_time
        r, host = status(d), host_clocks()
        check_clocks(r, MONO, BOOT, host)
        img, last = checkpoint_killed(d, launcher, init)
        recs = show_json(img)
        assert records(recs, "UTS_NS")[0]["time"] is True, records(recs, "UTS_NS")
        t = records(recs, "TIME_NS")
        assert len(t) == 1 and (t[0]["monotonic_sec"], t[0]["monotonic_nsec"],
                                t[0]["boottime_sec"], t[0]["boottime_nsec"]) == (MONO, 0, BOOT, 0), t
        new = restarted(d, img, last)
        assert nspid(new)[-1] == 1 and running(new)
        # (Its inode may be the old one's again: the old namespace died before.)
        assert ns_inode(new, "time") != host_time, "a time namespace of its own"
        assert offsets(new) == {"monotonic": MONO, "boottime": BOOT}, offsets(new)
        r, host = status(d), host_clocks()
        assert r["pid"] == 1, r
        check_clocks(r, MONO, BOOT, host)
        assert r["mono"] > last["mono"] and r["boot"] > last["boot"], (last, r)
        assert ns_inode("self", "time") == host_time
    finally:
        kill_all(launcher, new, init)


def a_host_clock_ahead_is_caught_up():
    """The image as a host up 1000 s longer would have written it: its host clocks 1000 s
    ahead, the offsets 1000 s less (the container's clocks read the same). Keeping those
    offsets here would put the container's clocks 1000 s back; the restored container's
    offsets are instead the image's plus the 1000 s less the time the restart took, and its
    clocks go on from where they stood."""
    d = fresh("ahead")
    ahead = 1000
    launcher, init = container(d)
    new = None
    try:
        img, last = checkpoint_killed(d, launcher, init)

        def from_a_host_up_longer(p):
            f = list(struct.unpack(TIME_NS_FMT, p))
            f[0] -= ahead
            f[1] -= ahead
            f[4] += ahead * 10**9
            f[5] += ahead * 10**9
            return struct.pack(TIME_NS_FMT, *f)
        rewrite_records(img, TIME_NS, from_a_host_up_longer)
        t = records(show_json(img), "TIME_NS")[0]
        assert (t["monotonic_sec"], t["boottime_sec"]) == (MONO - ahead, BOOT - ahead), t
        assert t["host_monotonic_ns"] / 1e9 > time.clock_gettime(time.CLOCK_MONOTONIC), t
        new = restarted(d, img, last)
        got = offsets(new)
        for clock, off in (("monotonic", MONO), ("boottime", BOOT)):
            # The image's offset plus 1000 s, less the time since the checkpoint.
            less = off - got[clock]
            assert 0 <= less < 120, f"{clock} offset {got[clock]}, {less} s below {off}"
        r, host = status(d), host_clocks()
        check_clocks(r, got["monotonic"], got["boottime"], host)
        # From where it stood: ahead of the last report, by less than the restart took.
        for key in ("mono", "boot"):
            step = r[key] - last[key]
            assert 0 < step < 120, f"{key} went from {last[key]} to {r[key]}"
    finally:
        kill_all(launcher, new, init)


def check_refused(name, pid, reason, *opts):
    """ckpt and ckpt check refuse PID with REASON, which runs on."""
    d = fresh(name)
    img = os.path.join(d, "img")
    st, _, err = sh(CKPT, *opts, str(pid), "-o", img, check=False, timeout=120)
    assert st != 0 and reason in err, err
    assert not os.path.exists(img)
    st, out, _ = sh(CKPT, "check", *opts, str(pid), "--json", check=False, timeout=120)
    v = json.loads(out)
    assert st == 1 and any(reason in x["reason"] for x in v["reasons"]), (st, v)
    assert running(pid)


def unshared_without_fork_refused():
    """A process that called unshare(CLONE_NEWTIME) and has not forked since (its children
    would get a time namespace it is not in): refused, naming it; it runs on."""
    d = fresh("unshared")
    ready = os.path.join(d, "ready")
    script = ("import ctypes, os, sys, time; "
              "assert ctypes.CDLL(None, use_errno=True).unshare(0x80) == 0; "  # CLONE_NEWTIME
              "open(sys.argv[1], 'w').close(); time.sleep(1000)")
    p = subprocess.Popen([sys.executable, "-c", script, ready], stdin=subprocess.DEVNULL,
                         start_new_session=True)
    try:
        wait_for(lambda: os.path.exists(ready), "the process to unshare")
        assert ns_inode(p.pid, "time_for_children") != ns_inode(p.pid, "time")
        check_refused("pending", p.pid, f"pid {p.pid} called unshare(CLONE_NEWTIME) and has not forked "
                      "since: the time namespace its children would get is not saved")
    finally:
        p.kill()
        p.wait()


def plain_tree_in_its_own_time_namespace_refused():
    """A process in a time namespace of its own (unshare --time --fork sleep), checkpointed
    without --container: refused naming the kind."""
    launcher = subprocess.Popen(["unshare", "--time", "--fork", "sleep", "1000"],
                                stdin=subprocess.DEVNULL, start_new_session=True)
    pid = None
    try:
        pid = wait_for(lambda: (k := open(f"/proc/{launcher.pid}/task/{launcher.pid}/children")
                                .read().split()) and int(k[0]), "sleep in its time namespace")
        wait_for(lambda: open(f"/proc/{pid}/comm").read().strip() == "sleep", "sleep to exec")
        check_refused("plain", pid, f"pid {pid} uses namespaces other than the caller's (time): not "
                      "supported yet (a container, ckpt --container, may have a UTS, an IPC, "
                      "a network and a time namespace of its own)")
    finally:
        kill_all(launcher, pid)


TESTS = [same_boot_keeps_the_offsets, a_host_clock_ahead_is_caught_up,
         unshared_without_fork_refused, plain_tree_in_its_own_time_namespace_refused]

if __name__ == "__main__":
    wanted = sys.argv[1:]
    sys.exit(run([t for t in TESTS if not wanted or t.__name__ in wanted]))
