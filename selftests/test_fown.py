#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Owners and signal-driven I/O (F_SETOWN, F_SETOWN_EX, F_SETSIG, O_ASYNC: a FOWN record
per open file description, set again by rstr), descriptor flags (O_NONBLOCK, O_APPEND,
O_NOATIME, O_DIRECT, O_PATH) and socket timeouts (SO_RCVTIMEO, SO_SNDTIMEO), checked by the
program itself after the restart (selftests/targets/fown.c): a write to a pipe or a unix
socket delivers the F_SETSIG signal, with si_fd, to the owner (a process, a thread, a
process group); an owner set by uid 65534 still may not signal root's process; the flags,
owners and timeouts read back the same, a recv times out as it did; the O_DIRECT descriptor
(the guest's tmpfs takes O_DIRECT) is there before, in the image and after, and reads. An
owner outside the tree is refused with its reason.
"""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktap  # noqa: E402
from ktap import CKPT, records, run, running, scratch, sh, show_json, target  # noqa: E402

fresh = scratch("ckpt-fown-")
FOWN = target("fown")
SIGRTMIN = signal.SIGRTMIN


def write_to(pid, fd, data=b"x"):
    """Writes to the pipe end FD of process PID from outside, through /proc."""
    with open(f"/proc/{pid}/fd/{fd}", "wb", buffering=0) as f:
        f.write(data)


def started(t, names):
    r = t.reports(names, "the processes to set their owners")
    t.watch([x["pid"] for x in r.values()])
    return r


def exercise(t, n, with_nobody):
    """Makes each owned file ready once more; each signal is then delivered for the N-th
    time, with the descriptor's number as si_fd, to its owner only."""
    p = t.report("parent")
    write_to(p["pid"], p["w"])
    t.reports(["parent"], "RT+1 from the pipe", lambda _, r: r["sig1"] == n)
    os.kill(t.report("child")["pid"], signal.SIGUSR1)
    t.reports(["parent"], "RT+2 from the socket (its peer wrote)", lambda _, r: r["sig2"] == n)
    write_to(p["pid"], p["qw"])
    t.reports(["parent", "child"], "RT+3 to the process group",
              lambda name, r: r["sig3" if name == "parent" else "pg"] == n)
    got = t.report("parent")
    assert (got["fd1"], got["fd2"], got["fd3"]) == (p["p"], p["s"], p["q"]), got
    assert t.report("child")["fd3"] == p["q"], t.report("child")
    if with_nobody:
        b = t.report("nobody")
        write_to(b["pid"], b["dw"])  # owned by the parent, set by uid 65534: not delivered
        write_to(b["pid"], b["ew"])  # owned by itself
        t.reports(["nobody"], "RT+4 to the owner", lambda _, r: r["sig4"] == n)
        assert t.report("nobody")["fd4"] == b["e"], t.report("nobody")
        time.sleep(0.3)
        assert t.report("parent")["sig4"] == 0, "uid 65534's owner signals root's process"


def direct_opened(d, p):
    """The parent's O_DIRECT descriptor of DIR/plain exists: the guest's tmpfs (the scratch
    directory) takes O_DIRECT since Linux 6.6; another CKPT_TEST_TMP may not, which this
    process's own open tells, and the test then skips."""
    try:
        os.close(os.open(os.path.join(d, "plain"), os.O_RDONLY | os.O_DIRECT))
    except OSError as e:
        assert p["direct"] == -1, p
        ktap.skip(f"the filesystem of {d} refuses O_DIRECT ({e.strerror}): nothing to save")
    assert p["direct"] >= 0, f"the target could not open DIR/plain O_DIRECT: {p}"
    with open(f"/proc/{p['pid']}/fdinfo/{p['direct']}") as f:
        flags = int(next(line for line in f if line.startswith("flags:")).split()[1], 8)
    assert flags & os.O_DIRECT, f"fd {p['direct']} has no O_DIRECT: {flags:#o}"


def checked_image(img, r):
    recs = show_json(img)
    fowns = {f["obj"]: f for f in records(recs, "FOWN")}
    files = records(recs, "FILE")
    p = r["parent"]
    # One description (the child and "nobody" inherited it), saved with O_DIRECT.
    direct = {f["obj"]: f for f in files if f["fd"] == p["direct"] and f["path"].endswith("/plain")}
    assert len(direct) == 1, (p["direct"], files)
    assert int(next(iter(direct.values()))["flags"], 8) & os.O_DIRECT, direct
    by_fd = {f["fd"]: f for f in files if f["obj"] in fowns}
    want = {
        p["p"]: ("process", p["pid"], SIGRTMIN + 1, True),
        p["s"]: ("thread", p["pid"], SIGRTMIN + 2, True),
        p["q"]: ("process group", p["pid"], SIGRTMIN + 3, True),
    }
    for fd, (owner, pid, sig, o_async) in want.items():
        f = fowns[by_fd[fd]["obj"]]
        assert (f["owner"], f["pid"], f["signal"], f["o_async"]) == (owner, pid, sig, o_async), f
    # One record per description, however many processes hold it.
    assert len(fowns) == len(records(recs, "FOWN")), fowns
    if "nobody" in r:
        uids = sorted((f["uid"], f["euid"]) for f in fowns.values())
        assert uids.count((65534, 65534)) == 2, uids
    _, text, _ = sh(CKPT, "show", img)
    assert re.search(r"FOWN .*owner=\"process group\"", text), text
    timeouts = [(s["rcvtimeo_ms"], s["sndtimeo_ms"]) for s in records(recs, "INET_SOCK")]
    assert timeouts == [(300, 700)], timeouts
    timeouts = sorted(s["rcvtimeo_ms"] for s in records(recs, "UNIX_SOCK"))
    assert 200 in timeouts, timeouts


def after_restart(t, n, with_nobody):
    for name in ["parent", "child"] + (["nobody"] if with_nobody else []):
        assert running(t.report(name)["pid"]), f"{name} is back"
    os.kill(t.report("parent")["pid"], signal.SIGUSR2)
    got = t.reports(["parent"], "the parent to check its descriptors",
                    lambda _, r: r["checked"] == 1, timeout=90)["parent"]
    assert got["errors"] == 0, f"checks failed: {t.stderr_text()}"
    exercise(t, n, with_nobody)


def owners_come_back():
    d = fresh("state")
    os.chmod(d, 0o777)  # the nobody process reports there too
    with ktap.Tree("state", d, binary=FOWN) as t:
        r = started(t, ["parent", "child", "nobody"])
        direct_opened(d, r["parent"])
        exercise(t, 1, True)
        img, _ = t.checkpoint([x["pid"] for x in r.values()])
        checked_image(img, r)
        t.restart(img)
        after_restart(t, 2, True)


def owners_as_nobody():
    d = fresh("nobody")
    os.chown(d, 65534, 65534)
    with ktap.Tree("state", d, 65534, binary=FOWN) as t:
        r = started(t, ["parent", "child"])
        direct_opened(d, r["parent"])
        os.chown(t.stderr, 65534, 65534)  # the restart reopens the tree's stderr as the user
        exercise(t, 1, False)
        t.checkpoint_restart_as_nobody([x["pid"] for x in r.values()], lambda img: checked_image(img, r))
        after_restart(t, 2, False)


def owner_outside_the_tree_refused():
    d = fresh("outside")
    with ktap.Tree("outside", d, binary=FOWN) as t:
        r = t.reports(["outside"], "the process to set its owner")["outside"]
        img = os.path.join(d, "img")
        st, _, err = sh(CKPT, str(t.root), "-o", img, check=False)
        assert st != 0, "the checkpoint must fail"
        want = f"fd {r['fd']}: owner pid {r['owner']} (F_SETOWN) is outside the checkpointed tree"
        assert want in err, err
        assert not os.path.exists(img), "no image is left behind"
        assert running(t.root), "the process runs on"


TESTS = [
    owners_come_back,
    owners_as_nobody,
    owner_outside_the_tree_refused,
]
if __name__ == "__main__":
    sys.exit(run(TESTS))
