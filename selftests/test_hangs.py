#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""ckpt and rstr neither hang nor say the wrong thing: a parent in vfork and a task traced
by another are refused with their reasons, a tree whose session leader is a zombie comes
back every time, and a restart whose pid is taken fails at once and leaves nothing behind.

The processes are selftests/targets/hangs.c; each reports in its own file of the test's
directory.
"""
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import CKPT, RSTR, run, scratch, sh, target, wait_for  # noqa: E402
from test_tree import Tree, counting, stat  # noqa: E402

HANGS = target("hangs")
fresh = scratch("ckpt-hangs-")


def tracer(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"^TracerPid:\s*(\d+)", f.read(), re.M).group(1))


def family(mode, d, *args):
    """A hangs.c family as a test_tree.Tree: killed, restored or not, when the block ends."""
    return Tree(mode, d, *args, binary=HANGS)


def counted(t, names, since=None):
    """{name: report} once each of NAMES counted 2 past SINCE[name] (or past 0)."""
    if since is None:
        return t.reports(names, f"{', '.join(names)} to count", lambda _, r: r["count"] >= 2)
    return t.reports(names, f"{', '.join(names)} to count on", counting(since, 2), timeout=120)


def ckpt_refuses_a_parent_in_vfork():
    """A parent waits in vfork while its child, sharing its memory, runs: ckpt neither
    hangs nor writes an image, it says that the parent is in vfork and names the child;
    the parent is left untraced and goes on once its child exits."""
    d = fresh("vfork")
    img = os.path.join(d, "img")
    with family("vfork", d) as f:
        child = wait_for(lambda: f.report("child"), "the vfork child")
        assert child["ppid"] == f.root, child
        wait_for(lambda: stat(f.root)[0] == "D", f"the parent to wait for its child ({stat(f.root)})")
        t = time.monotonic()
        try:
            status, _, err = sh(CKPT, str(f.root), "-o", img, check=False, timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError("ckpt of a parent in vfork still runs after 60 s") from None
        took = time.monotonic() - t
        print(f"# ckpt refused the parent in vfork in {took:.2f} s")
        assert status != 0, "ckpt checkpointed a parent in vfork"
        assert re.search(rf"\b{f.root}\b.*\bvfork\b", err) and re.search(rf"\b{child['pid']}\b", err), \
            f"the reason names the parent, vfork and the child: {err.strip()}"
        assert not os.path.exists(img), "an image was left behind"
        assert tracer(f.root) == 0 and tracer(child["pid"]) == 0, "ckpt left a process traced"
        assert stat(f.root)[0] == "D" and f.report("parent")["count"] == 0, "the parent left vfork"
        open(os.path.join(d, "release"), "w").close()
        r = counted(f, ["parent"])["parent"]
        assert r["child"] == child["pid"], r


def ckpt_names_the_tracer_of_a_traced_task():
    """A parent that traces its child (PTRACE_TRACEME): ckpt of the parent and ckpt of the
    child, even as root, say that the child is already traced and by which process, not
    that ptrace rights are missing; both go on, the child still traced by its parent."""
    d = fresh("traced")
    img = os.path.join(d, "img")
    with family("traced", d) as f:
        r = counted(f, ["parent", "child"])
        child = r["child"]["pid"]
        assert r["parent"]["child"] == child and tracer(child) == f.root, (r, tracer(child))
        for target in (f.root, child):
            status, _, err = sh(CKPT, str(target), "-o", img, check=False, timeout=60)
            assert status != 0, f"ckpt {target} checkpointed a task traced by another"
            assert re.search(rf"\b{child}\b.*already traced by (process )?{f.root}\b", err), \
                f"ckpt {target}: the reason names the traced task and its tracer: {err.strip()}"
            assert "not allowed" not in err and "CAP_SYS_PTRACE" not in err, err
            assert not os.path.exists(img), "an image was left behind"
        assert tracer(f.root) == 0 and tracer(child) == f.root, (tracer(f.root), tracer(child))
        counted(f, ["parent", "child"], since=r)


ROUNDS = int(os.environ.get("ZLEADER_ROUNDS", 30))    # more, to chase a rare failure


def zombie_session_leader_restarts_every_time():
    """A subreaper root; its child led a session and died unreaped (a zombie); a member of
    that session came to the root. 30 times: ckpt --kill, then at once rstr -d: every
    round restores, the leader a zombie again, every pid, parent, group and session as
    saved, and the member goes on counting."""
    d = fresh("zleader")
    img = os.path.join(d, "img")
    with family("zleader", d) as f:
        r = counted(f, ["root", "member"])
        leader, member = r["root"]["leader"], r["member"]["pid"]
        want = {  # (state, ppid, pgid, sid)
            leader: ("Z", f.root, leader, leader),
            member: (None, f.root, leader, leader),
            f.root: (None, None, f.root, f.root),
        }

        names = {leader: "the zombie leader", member: "the member", f.root: "the root"}

        def check(when, err=""):
            for p, w in want.items():
                s = stat(p)
                if s is None:
                    with open(f.stderr) as e:
                        said = e.read()[-2000:]
                    there = {names[q]: stat(q) for q in want}
                    kmsg = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
                    said += " | kernel: " + " / ".join(kmsg.splitlines()[-5:])
                    raise AssertionError(f"{when}: {names[p]} (pid {p}) is not there; {there}; "
                                         f"rstr said {err.strip()!r}; the family said {said!r}")
                got = (s[0] if w[0] else None, s[1] if w[1] else None, s[2], s[3])
                assert got == w and (w[0] or s[0] != "Z"), f"{when}: pid {p}: {s}, want {w}"

        check("before")
        failures = []
        for n in range(ROUNDS):
            sh(CKPT, "--kill", str(f.root), "-o", img, timeout=120)
            if n == 0:
                f.proc.wait(timeout=30)     # the test reaps the first root; init the others
            status, out, err = sh(RSTR, "--detach", img, check=False, timeout=120)
            if status != 0:
                failures.append(f"round {n}: rstr exited {status}: {err.strip()}")
                wait_for(lambda: all(stat(p) is None for p in want), "the failed round's pids to be free")
                continue
            assert out.strip() == str(f.root), f"round {n}: rstr printed {out!r}"
            check(f"round {n}", err)
            last = {"member": f.report("member"), "root": f.report("root")}
            counted(f, ["member", "root"], since=last)
        assert not failures, f"{len(failures)} of {ROUNDS} rounds failed: {failures[:3]}"


def rstr_refuses_a_taken_pid_at_once_and_leaves_nothing():
    """A root with 3 children, each with a child; after ckpt --kill another process takes
    the last child's pid. rstr -d fails, naming that pid, and exits (its output closed)
    within 60 s; no process of the image's pids is left but the one holding the pid."""
    d = fresh("taken")
    img = os.path.join(d, "img")
    with family("fan", d, 3) as f:
        names = ["root"] + [f"{k}{i}" for i in (1, 2, 3) for k in ("child", "grandchild")]
        r = counted(f, names)
        pids = {n: r[n]["pid"] for n in names}
        taken = pids["child3"]
        assert stat(taken)[1] == f.root
        sh(CKPT, "--kill", str(f.root), "-o", img, timeout=120)
        f.proc.wait(timeout=30)
        wait_for(lambda: all(stat(p) is None for p in pids.values()), "the tree's pids to be free")
        with open(f.stderr, "a") as e:     # the holder is one of the family (its fd 2), killed at the end
            subprocess.run([HANGS, "hold", d, str(taken)], stdout=subprocess.DEVNULL, stderr=e, check=True)
        holder = wait_for(lambda: f.report("holder"), "the holder")
        assert holder["pid"] == taken, holder
        p = subprocess.Popen([RSTR, "--detach", img], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        t = time.monotonic()
        try:
            out, err = p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            p.kill()
            left = {n: stat(q) for n, q in pids.items() if q != taken and stat(q)}
            raise AssertionError(f"rstr -d still runs or its output is held open after 60 s "
                                 f"(rstr {'ran' if p.poll() is None else 'exited'}; left: {left})") from None
        print(f"# rstr refused the taken pid in {time.monotonic() - t:.2f} s")
        assert p.returncode != 0, f"rstr restored a tree one of whose pids is taken: {out!r}"
        assert re.search(rf"\bpid {taken}\b.*taken", err), f"the reason names pid {taken}: {err.strip()}"
        wait_for(lambda: all(stat(q) is None for q in pids.values() if q != taken),
                 f"no process of the image but the holder ({ {n: stat(q) for n, q in pids.items()} })", 30)
        assert stat(taken) and stat(taken)[0] != "Z", f"the holder of {taken} is alive: {stat(taken)}"


def rstr_waits_for_a_pid_held_by_a_zombie_being_reaped():
    """After ckpt --kill, a pid of the image is held by a zombie that its parent reaps 2 s
    later (as init reaps a killed tree's zombies, a moment after ckpt exits): rstr -d waits
    for the pid and restores the whole tree, every pid, parent, group and session as saved."""
    d = fresh("zombie-held")
    img = os.path.join(d, "img")
    with family("fan", d, 2) as f:
        names = ["root"] + [f"{k}{i}" for i in (1, 2) for k in ("child", "grandchild")]
        r = counted(f, names)
        pids = {n: r[n]["pid"] for n in names}
        before = {p: stat(p)[1:] for p in pids.values()}
        held = pids["grandchild2"]
        sh(CKPT, "--kill", str(f.root), "-o", img, timeout=120)
        f.proc.wait(timeout=30)
        wait_for(lambda: all(stat(p) is None for p in pids.values()), "the tree's pids to be free")
        reaper = subprocess.Popen([HANGS, "hold", d, str(held), "2000"], stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL)
        try:
            wait_for(lambda: f.report("reaper"), "the zombie holding the pid")
            assert stat(held)[0] == "Z", f"pid {held} is a zombie: {stat(held)}"
            status, out, err = sh(RSTR, "--detach", img, check=False, timeout=120)
        finally:
            reaper.wait(timeout=30)
        assert status == 0, f"rstr -d exited {status}: {err.strip()}"
        assert out.strip() == str(f.root), out
        for p, (ppid, pgid, sid) in before.items():
            s = stat(p)
            assert s and s[0] != "Z" and s[2:] == (pgid, sid), f"pid {p}: {s}, was {(ppid, pgid, sid)}"
            assert p == f.root or s[1] == ppid, f"pid {p}: parent {s[1]}, was {ppid}"
        counted(f, names, since={n: f.report(n) for n in names})


TESTS = [
    ckpt_refuses_a_parent_in_vfork,
    ckpt_names_the_tracer_of_a_traced_task,
    zombie_session_leader_restarts_every_time,
    rstr_refuses_a_taken_pid_at_once_and_leaves_nothing,
    rstr_waits_for_a_pid_held_by_a_zombie_being_reaped,
]
only = [t for t in TESTS if t.__name__ in sys.argv[1:]]
sys.exit(run(only or TESTS))
