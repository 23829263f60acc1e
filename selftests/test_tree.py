#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Process trees: a tree of processes and threads, checkpointed at one instant, killed and
restarted, keeps its pids, parents, groups, sessions and shared objects, and goes on.

The trees are selftests/targets/tree.c; each process reports in its own file of the test's
directory. CKPT_TREE_NATIVE=1 runs the tests without ckpt and rstr (the trees just go on),
which checks the targets and the tests themselves.
"""
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktap  # noqa: E402
from ktap import RSTR, nspid, ns_members, run, running, scratch, sh, skip, stat, status_field, wait_for  # noqa: E402

NATIVE = os.environ.get("CKPT_TREE_NATIVE") == "1"
fresh = scratch("ckpt-tree-")


def catches(pid, sig):
    return bool(int(status_field(pid, "SigCgt"), 16) & (1 << (sig - 1)))


def ids(pids):
    """{pid: (ppid, pgid, sid)}"""
    return {p: stat(p)[1:] for p in pids}


def assert_same_ids(before, root):
    """Every process is back, running, with the same group and session, and the same
    parent but for the root (a child of rstr, then of whoever adopts it)."""
    for p, (ppid, pgid, sid) in before.items():
        now = stat(p)
        assert now is not None and now[0] != "Z", f"pid {p} is back and running: {now}"
        assert now[2:] == (pgid, sid), f"pid {p}: pgid, sid {now[2:]}, were {(pgid, sid)}"
        assert p == root or now[1] == ppid, f"pid {p}: parent {now[1]}, was {ppid}"


class Tree(ktap.Tree):
    """ktap.Tree; CKPT_TREE_NATIVE=1 makes checkpoint_restart do nothing (the tree just goes
    on) and return PID or the root, to check the targets and the tests without the tools."""

    def checkpoint_restart(self, pids, *ckpt_opts, rstr_opts=(), pid=None):
        if NATIVE:
            return pid or self.root
        return super().checkpoint_restart(pids, *ckpt_opts, rstr_opts=rstr_opts, pid=pid)


def counting(before, more=3):
    """A condition: the report's count went MORE past its count in BEFORE."""
    return lambda name, r: r["count"] >= before[name]["count"] + more


RING = 6    # the ring's nodes; node I's parent is the report's "parent"


def start_ring(t):
    names = [f"node{i}" for i in range(RING)]
    r = t.reports(names, "the ring to turn", lambda _, r: r["count"] >= 2)
    pid = {r[n]["node"]: r[n]["pid"] for n in names}
    t.watch(pid.values())
    for n in names[1:]:
        assert stat(pid[r[n]["node"]])[1] == pid[r[n]["parent"]], f"{n} is a child of node {r[n]['parent']}"
    return names, pid


def assert_ring_consistent(reports):
    for n, r in reports.items():
        i = r["node"] or RING
        assert r["errors"] == 0, f"{n} received a token out of turn: {r}"
        assert r["last"] == i + (r["count"] - 1) * RING, f"{n}: token {r['last']} after {r['count']} turns"


def token_ring_tree_keeps_passing():
    """Root, 2 children, 3 grandchildren pass a token round a ring of pipes: same pids,
    parents, groups, sessions; counts and tokens go on from where they were."""
    d = fresh("ring")
    with Tree("ring", d) as t:
        names, pid = start_ring(t)
        before = ids(pid.values())
        t.checkpoint_restart(pid.values())
        last = {n: t.report(n) for n in names}
        after = t.reports(names, "the ring to turn after restart", counting(last), timeout=120)
        assert_same_ids(before, t.root)
        for n in names:
            assert after[n]["pid"] == last[n]["pid"], n
        assert_ring_consistent(after)


def thread_pool_keeps_counting():
    """8 threads taking turns under a mutex and a condition variable (futex waits): same
    tgid and tids, each thread's signal mask, TLS index and share of the count go on."""
    d = fresh("pool")
    with Tree("pool", d, 8) as t:
        r = t.reports(["pool"], "the pool to count", lambda _, r: r["counter"] >= 40)["pool"]

        def tasks():
            return sorted(int(x) for x in os.listdir(f"/proc/{t.root}/task"))

        tids = tasks()
        assert tids == sorted([t.root] + [int(x) for x in r["tids"].split(",")]), (tids, r["tids"])
        masks = {tid: status_field(f"{t.root}/task/{tid}", "SigBlk") for tid in tids}
        assert len(set(masks.values())) == 9, f"each thread has a mask of its own: {masks}"
        t.checkpoint_restart([t.root])
        last = t.report("pool")
        done = [int(x) for x in last["done"].split(",")]

        def every_thread_went_on(_, r):
            return all(a > b + 2 for a, b in zip(map(int, r["done"].split(",")), done))

        after = t.reports(["pool"], "every thread to take more turns", every_thread_went_on, timeout=120)["pool"]
        assert tasks() == tids, f"threads {tasks()}, were {tids}"
        for tid in tids:
            m = status_field(f"{t.root}/task/{tid}", "SigBlk")
            assert m == masks[tid], f"thread {tid}: SigBlk {m}, was {masks[tid]}"
        assert after["errors"] == 0, f"a thread saw another thread's TLS: {after}"
        assert after["threads"] == 8 and after["tids"] == last["tids"], after
        assert after["counter"] == sum(int(x) for x in after["done"].split(",")), after


def zombies_and_a_stopped_child_keep_their_state():
    """A child that exited 42 and one killed by SIGTERM stay zombies, and their parent reaps
    those statuses after restart; a stopped child stays stopped until SIGCONT."""
    d = fresh("zombies")
    with Tree("zombies", d) as t:
        r = t.reports(["root", "stopped"], "the children to settle", lambda n, r: n != "root" or r["count"] >= 2)
        exited, killed, stopped = (r["root"][k] for k in ("exited", "killed", "stopped"))
        t.watch([stopped])
        want = {exited: ("Z", t.root), killed: ("Z", t.root), stopped: ("T", t.root)}
        for p, w in want.items():
            assert stat(p)[:2] == w, f"pid {p}: {stat(p)}, want {w}"
        t.checkpoint_restart(want.keys())
        for p, w in want.items():
            assert stat(p) and stat(p)[:2] == w, f"pid {p} after restart: {stat(p)}, want {w}"
        last = {n: t.report(n) for n in ("root", "stopped")}
        t.reports(["root"], "the parent to go on", counting(last, 5), timeout=120)
        assert stat(stopped)[0] == "T" and t.report("stopped") == last["stopped"], "the stopped child ran"
        os.kill(t.root, signal.SIGUSR1)
        r = t.reports(["root"], "the parent to reap", lambda _, r: r["reaped"] == 1)["root"]
        assert r["exit_code"] == 42, f"the exited child's status: {r}"
        assert r["term_sig"] == signal.SIGTERM, f"the killed child's status: {r}"
        wait_for(lambda: stat(exited) is None and stat(killed) is None, "the zombies to be gone")
        os.kill(stopped, signal.SIGCONT)
        t.reports(["stopped"], "the stopped child to go on", lambda _, r: r["count"] >= 2)


def sessions_and_groups_with_dead_leaders():
    """A subreaper root; a process whose session leader died (reparented to the root); a
    group with a live leader, one whose leader died: every ppid, pgid and sid is the same
    after restart, and the dead leaders' pids are not running processes."""
    d = fresh("sessions")
    names = ["root", "orphan", "live_leader", "live_member1", "live_member2", "dead_member"]
    with Tree("sessions", d) as t:
        r = t.reports(names, "the tree to settle", lambda _, r: r["count"] >= 2)
        pid = {n: r[n]["pid"] for n in names}
        t.watch(pid.values())
        root, sl, gl, ll = t.root, r["root"]["session_leader"], r["root"]["group_leader"], pid["live_leader"]
        want = {  # (ppid, pgid, sid)
            "root": (os.getpid(), root, root),
            "orphan": (root, sl, sl),
            "live_leader": (root, ll, root),
            "live_member1": (root, ll, root),
            "live_member2": (root, ll, root),
            "dead_member": (root, gl, root),
        }
        for n, w in want.items():
            assert stat(pid[n])[1:] == w, f"{n}: {stat(pid[n])}, want {w}"
        assert stat(sl) is None and stat(gl) is None, "the leaders are dead"
        before = ids(pid.values())
        t.checkpoint_restart(pid.values())
        last = {n: t.report(n) for n in names}
        assert_same_ids(before, root)
        for leader in (sl, gl):
            wait_for(lambda: not running(leader), f"the dead leader {leader} not to run ({stat(leader)})", 10)
        t.reports(names, "the tree to go on", counting(last), timeout=120)


def shared_file_offset_stays_shared():
    """A parent and a child write 64-byte records through one open file description (the
    child through a dup): after restart a write by the child moves the parent's offset."""
    d = fresh("offset")
    with Tree("offset", d) as t:
        r = t.reports(["parent", "child"], "the writers to start")
        t.watch([r["child"]["pid"]])
        pos = 0
        for who in ("parent", "child", "parent", "child"):
            pos += 64
            got = t.poke(who, signal.SIGUSR1, "usr1")["pos"]
            assert got == pos, f"{who}'s offset {got} after a write, want {pos}"
        t.checkpoint_restart([t.root, r["child"]["pid"]])
        got = t.poke("child", signal.SIGUSR1, "usr1")["pos"]
        assert got == pos + 64, f"the child's offset {got} after a write, want {pos + 64}"
        got = t.poke("parent", signal.SIGUSR2, "usr2")["pos"]
        assert got == pos + 64, f"the parent's offset {got} after the child's write, want {pos + 64}"
        got = t.poke("parent", signal.SIGUSR1, "usr1")["pos"]
        assert got == pos + 128, f"the parent's offset {got} after a write, want {pos + 128}"
        with open(os.path.join(d, "log")) as f:
            data = f.read()
        recs = [data[i:i + 64] for i in range(0, len(data), 64)]
        assert [x.split()[:2] for x in recs] == [
            ["parent", "1"], ["child", "1"], ["parent", "2"], ["child", "2"], ["child", "3"], ["parent", "3"],
        ] and all(x.endswith(".\n") for x in recs), f"records overwritten: {data!r}"


def children(pid):
    out = []
    for e in os.listdir("/proc"):
        if e.isdigit() and (stat(e) or (0, 0))[1] == pid:
            out.append(int(e))
    return out


def clone_sharing_preserved():
    """Children sharing with the root its fd table (CLONE_FILES), its fs_struct (CLONE_FS),
    its memory and signal handlers (CLONE_VM|CLONE_SIGHAND), and a forked child with a
    MAP_SHARED and a MAP_PRIVATE anonymous page: after restart, what one does the other
    sees, and only there."""
    d = fresh("share")
    with Tree("share", d) as t:
        r = t.reports(["root", "files", "fs", "mem"], "the children to start",
                      lambda n, r: n != "root" or r["vm_ticks"] > 2)
        files, fs, mem = (r[n]["pid"] for n in ("files", "fs", "mem"))
        kids = children(t.root)
        vm = [p for p in kids if p not in (files, fs, mem)]
        assert len(kids) == 4 and len(vm) == 1, f"children {kids}"
        vm = vm[0]
        t.watch(kids)
        d = os.path.realpath(d)     # as getcwd() and /proc/PID/cwd say it
        assert r["root"]["fd100"] == 0 and r["root"]["cwd"] == d, r["root"]
        assert not catches(t.root, signal.SIGUSR2)
        before = ids(kids + [t.root])
        # The root rewrites its report every 20 ms (open, write, close): a checkpoint that
        # stops it inside that window sees a descriptor its CLONE_VM child's table lacks,
        # and rightly refuses the pair. That is the target's doing: try again, a few times.
        for attempt in range(10):
            try:
                t.checkpoint_restart(before.keys())
                break
            except AssertionError as e:
                if "not its descriptor table, which differs" not in str(e) or attempt == 9:
                    raise
        assert_same_ids(before, t.root)
        last = t.report("root")
        assert (last["shared"], last["private"], last["usr2"]) == (1, 2, 0), last

        def root_sees(what, cond):
            return t.reports(["root"], what, lambda _, r: cond(r))["root"]

        root_sees("the CLONE_VM child's counting", lambda r: r["vm_ticks"] > last["vm_ticks"] + 10)
        os.kill(files, signal.SIGUSR1)
        root_sees("the fd opened by the CLONE_FILES child", lambda r: r["fd100"] == 1)
        assert os.readlink(f"/proc/{t.root}/fd/100") == os.path.join(d, "opened")
        assert not os.path.exists(f"/proc/{mem}/fd/100"), "the forked child does not share the fd table"
        os.kill(fs, signal.SIGUSR1)
        root_sees("the chdir of the CLONE_FS child", lambda r: r["cwd"] == os.path.join(d, "sub"))
        assert os.readlink(f"/proc/{mem}/cwd") == d, "the forked child does not share the fs_struct"
        os.kill(mem, signal.SIGUSR1)
        m = t.reports(["mem"], "the forked child's writes", lambda _, r: r["private"] == 2001)["mem"]
        assert m["shared"] == 1001, m
        r = root_sees("the forked child's write to the shared page", lambda r: r["shared"] == 1001)
        assert r["private"] == 2, f"the forked child's write to its private page leaked: {r}"
        open(os.path.join(d, "install"), "w").close()
        wait_for(lambda: catches(t.root, signal.SIGUSR2), "the handler the CLONE_SIGHAND child installed")
        os.kill(t.root, signal.SIGUSR2)
        root_sees("the root to run that handler", lambda r: r["usr2"] == 1)
        assert running(vm)


def pid_namespace_container_restarts():
    """`ckpt --container` of the init of a pid namespace with 3 counting children; rstr
    recreates it in a new namespace: pid 1 inside, the same inner pids and parents."""
    d = fresh("pidns")
    names = ["init", "child1", "child2", "child3"]
    with Tree("pidns", d, 3) as t:
        init = t.reports(["launcher"], "the launcher")["launcher"]["init"]
        r = t.reports(names, "the namespace to count", lambda _, r: r["count"] >= 2)
        inner = {n: r[n]["pid"] for n in names}
        assert inner["init"] == 1, inner
        members = ns_members(init)
        assert sorted(members) == sorted(inner.values()), (members, inner)
        t.watch(members.values())
        new_init = t.checkpoint_restart(members.values(), "--container", pid=init)
        assert nspid(new_init)[-1] == 1 and len(nspid(new_init)) == 2, f"NSpid {nspid(new_init)}"
        members = wait_for(lambda: (m := ns_members(new_init)) and len(m) == len(names) and m,
                           "the namespace's processes")
        t.watch(members.values())
        assert sorted(members) == sorted(inner.values()), f"inner pids {sorted(members)}, were {inner}"
        for n in names[1:]:
            s = stat(members[inner[n]])
            assert s[0] != "Z" and s[1] == new_init, f"{n}: {s}, a child of the init {new_init}"
            assert s[3] == new_init, f"{n}: in the init's session: {s}"
        last = {n: t.report(n) for n in names}
        after = t.reports(names, "the namespace to go on counting", counting(last), timeout=120)
        assert {n: after[n]["pid"] for n in names} == inner, after


def tree_restarted_in_a_new_pid_namespace():
    """rstr --pidns on an image of an ordinary tree: the tree's pids are the inner pids of
    a new namespace (under an init rstr adds), and the ring goes on."""
    if NATIVE:
        skip("needs ckpt and rstr")
    d = fresh("ring-pidns")
    with Tree("ring", d) as t:
        names, pid = start_ring(t)
        root = pid[0]
        printed = t.checkpoint_restart(pid.values(), rstr_opts=("--pidns",))
        members = ns_members(printed)
        t.watch(members.values())
        assert sorted(members) == sorted([1, *pid.values()]), f"inner pids {sorted(members)}: 1 and {pid}"
        assert printed == members[root], f"rstr printed {printed}, the root is {members[root]} outside"
        r = {n: t.report(n) for n in names}
        for n in names:
            s = stat(members[pid[r[n]["node"]]])
            assert n == "node0" or s[1] == members[pid[r[n]["parent"]]], f"{n}: parent {s[1]}"
            assert s[2:] == (printed, printed), f"{n}: pgid and sid are the root's: {s}"
        after = t.reports(names, "the ring to turn in the namespace", counting(r), timeout=120)
        assert_ring_consistent(after)


def failed_restart_leaves_no_task_alive():
    """Five processes, one holding a file that is deleted after the checkpoint: rstr fails
    naming it and no process of the tree is left; with the file back, it restarts."""
    if NATIVE:
        skip("needs ckpt and rstr")
    d = fresh("fail")
    names = [f"node{i}" for i in range(5)]
    held = os.path.join(d, "held")
    with Tree("fail", d) as t:
        r = t.reports(names, "the tree to count", lambda _, r: r["count"] >= 2)
        pid = {n: r[n]["pid"] for n in names}
        t.watch(pid.values())
        fds = os.listdir(f"/proc/{pid['node4']}/fd")
        assert any(os.readlink(f"/proc/{pid['node4']}/fd/{fd}") == held for fd in fds)
        before = ids(pid.values())
        img, _ = t.checkpoint(pid.values())
        os.unlink(held)
        status, _, err = sh(RSTR, "--detach", img, check=False, timeout=t.limit)
        assert status != 0, "rstr restored a tree whose file is gone"
        assert "held" in err or re.search(r"\bfd \d+", err), f"the reason names the file or fd: {err}"
        wait_for(lambda: all(stat(p) is None for p in pid.values()),
                 "no process of the failed restart to be left", timeout=30)
        with open(held, "w") as f:
            f.write("held\n")
        t.restart(img)
        assert_same_ids(before, t.root)
        last = {n: t.report(n) for n in names}
        t.reports(names, "the tree to go on", counting(last), timeout=120)


def thousand_process_tree():
    """A root, 9 children, 110 grandchildren under each: all 1000 come back with their
    parents. Prints how long ckpt and rstr took."""
    children_, grandchildren = 9, 110
    n = 1 + children_ + children_ * grandchildren
    d = fresh("wide")
    with Tree("wide", d, children_, grandchildren) as t:
        wait_for(lambda: sum(f.startswith("node") for f in os.listdir(d)) == n,
                 f"{n} processes to start", timeout=600)
        r = {i: t.report(f"node{i}") for i in range(n)}
        pid = {i: r[i]["pid"] for i in range(n)}
        t.watch(pid.values())
        for i in range(1, n):
            assert stat(pid[i])[1] == pid[r[i]["parent"]], f"node{i}: {stat(pid[i])}"
        before = ids(pid.values())
        if NATIVE:
            return
        img, ckpt_s = t.checkpoint(pid.values())
        _, rstr_s = t.restart(img)
        print(f"# {n} processes: ckpt --kill {ckpt_s:.1f} s, rstr -d {rstr_s:.1f} s, "
              f"image {os.path.getsize(img) / 2**20:.1f} MiB")
        assert_same_ids(before, t.root)


TESTS = [
    token_ring_tree_keeps_passing,
    thread_pool_keeps_counting,
    zombies_and_a_stopped_child_keep_their_state,
    sessions_and_groups_with_dead_leaders,
    shared_file_offset_stays_shared,
    clone_sharing_preserved,
    pid_namespace_container_restarts,
    tree_restarted_in_a_new_pid_namespace,
    failed_restart_leaves_no_task_alive,
    thousand_process_tree,
]
if __name__ == "__main__":     # test_hangs.py imports Tree
    only = [t for t in TESTS if t.__name__ in sys.argv[1:]]
    sys.exit(run(only or TESTS))
