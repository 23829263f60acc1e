#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Defects found by testing from outside (the correctness issue), each a state the tool
got wrong: many queued signals, shared memory out in swap or written by two processes,
memory-layout records that prctl(PR_SET_MM_MAP) would refuse, restart sessions of many
tasks restarting together. Runs in the test VM, as root."""
import os
import re
import resource
import signal
import struct
import subprocess
import sys
import time

from ktap import CKPT, RSTR, Tree, stat, image_records, kill_reaped as kill, reaped as gone, run, running, scratch, sh, show_json, skip, target, wait_for

CORRECT = target("correct")
fresh = scratch("ckpt-correct-")


class Correct:
    """A correct.c process of MODE, its status files under DIR."""

    def __init__(self, d, mode, arg):
        self.status = os.path.join(d, "status")
        self.proc = subprocess.Popen([CORRECT, mode, self.status, str(arg)], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(d, "stderr"), "w"))
        self.pid = self.proc.pid
        self.ready = wait_for(lambda: self.read(""), f"correct {mode} to be ready", timeout=120)

    def read(self, suffix):
        try:
            with open(self.status + suffix) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def checkpoint_restart(self, *pids):
        """ckpt --kill, then rstr --detach: the processes come back with their pids."""
        img = self.status + ".img"
        sh(CKPT, "--kill", str(self.pid), "-o", img, timeout=120)
        self.proc.wait(timeout=60)
        for p in (self.pid, *pids):
            wait_for(lambda: gone(p), f"pid {p} to be gone after ckpt --kill")
        _, out, _ = sh(RSTR, "--detach", img, timeout=120)
        assert int(out) == self.pid, f"rstr printed {out!r}, not {self.pid}"
        return img

    def go(self, suffix=".out", timeout=120):
        open(self.status + ".go", "w").close()
        return wait_for(lambda: self.read(suffix), f"the result in status{suffix}", timeout=timeout)


def many_queued_signals_delivered_in_order():
    """300 signals queued while blocked (two standard kinds, five real-time, values in
    sequence): the checkpoint ends (it used to spin in the kernel past 16), and after
    restart every one is delivered, in the kernel's order, with its value, code and pid."""
    n = 300
    kinds = [signal.SIGUSR1, signal.SIGUSR2] + [signal.SIGRTMIN + i for i in range(5)]
    # What the kernel keeps: a standard signal once (its first siginfo), every real-time
    # one; delivered lowest number first, each kind in the order it was queued.
    expect, seen = [], set()
    for i in range(n):
        sig = kinds[i % len(kinds)]
        if sig < signal.SIGRTMIN and sig in seen:
            continue
        seen.add(sig)
        expect.append((sig, i))
    expect.sort(key=lambda e: e[0])
    d = fresh("sigq")
    t = Correct(d, "sigq", n)
    try:
        with open(f"/proc/{t.pid}/status") as f:
            sigq = re.search(r"^SigQ:\s+(\d+)/", f.read(), re.M)
        assert int(sigq.group(1)) >= len(expect), f"{sigq.group(0)}: not {len(expect)} queued"
        img = t.checkpoint_restart()
        nr = [r for r in show_json(img) if r["type"] == "SIGINFO"]
        assert len(nr) == len(expect), f"{len(nr)} SIGINFO records, not {len(expect)}"
        lines = t.go().split("\n")[:-1]
        got = [tuple(map(int, ln.split())) for ln in lines]
        want = [(sig, v, -1, t.pid) for sig, v in expect]   # SI_QUEUE, sent by itself
        assert got == want, f"first difference at {next(i for i, (a, b) in enumerate(zip(got + [None] * len(want), want)) if a != b)}: got {got[:5]}..., want {want[:5]}..."
    finally:
        kill(t.pid)


def swap_on():
    """Swap on the guest's zram0 (the test kernel has CONFIG_ZRAM); skips elsewhere."""
    if not os.path.exists("/sys/block/zram0"):
        skip("no /sys/block/zram0 (CONFIG_ZRAM) to swap to")
    with open("/proc/swaps") as f:
        if "/dev/zram0" in f.read():
            return
    with open("/sys/block/zram0/disksize", "w") as f:
        f.write("256M\n")
    sh("mkswap", "/dev/zram0")
    sh("swapon", "/dev/zram0")


def swapped_kib(pid, addr):
    """The Swap: figure of the area of PID starting at ADDR, in KiB."""
    with open(f"/proc/{pid}/smaps") as f:
        text = f.read()
    start = int(addr, 16)
    for m in re.finditer(r"^([0-9a-f]+)-[0-9a-f]+ .*?\n((?:[A-Z][^\n]*\n)+)", text, re.M):
        if int(m.group(1), 16) == start:
            return int(re.search(r"^Swap:\s+(\d+) kB", m.group(2), re.M).group(1))
    raise AssertionError(f"no area at {addr} in /proc/{pid}/smaps")


def swapped_shared_memory_saved():
    """8 MiB of MAP_SHARED|MAP_ANONYMOUS memory, every page stamped, then paged out to
    swap (MADV_PAGEOUT): after checkpoint and restart every word reads back as written
    (the pages in swap used to be skipped and come back as zeros)."""
    swap_on()
    d = fresh("shmswap")
    t = Correct(d, "shm", 8)
    try:
        addr = t.ready.split()[1]
        kib = swapped_kib(t.pid, addr)
        assert kib >= 4096, f"only {kib} KiB of the 8 MiB area went to swap: nothing to test"
        t.checkpoint_restart()
        out = t.go().split()
        assert out[:4] == ["bad", "0", "first", "-1"], f"after restart: {' '.join(out)}"
        assert out[5] == str(8 << 8)
    finally:
        kill(t.pid)


def shared_memory_of_two_processes_saved():
    """16 MiB of MAP_SHARED|MAP_ANONYMOUS memory shared by a parent (even pages) and its
    child (odd pages): after restart each reads back every page of both."""
    d = fresh("shm2")
    t = Correct(d, "shm2", 16)
    child = int(t.ready.split()[3])
    wait_for(lambda: t.read(".child"), "the child to be ready")
    try:
        t.checkpoint_restart(child)
        for suffix in (".out", ".out2"):
            out = t.go(suffix).split()
            assert out[:4] == ["bad", "0", "first", "-1"], f"status{suffix} after restart: {' '.join(out)}"
    finally:
        kill(t.pid)
        kill(child)


# The MM record's payload: 11 addresses, nr_vmas, auxv_words, then the auxv words.
MM, MM_FIELDS = 50, ["start_code", "end_code", "start_data", "end_data", "start_brk", "brk",
                     "start_stack", "arg_start", "arg_end", "env_start", "env_end"]


def mm_offset(data):
    """The offset of the first MM record's payload in an image."""
    for kind, off, _ in image_records(data):
        if kind == MM:
            return off + 8
    raise AssertionError("no MM record")


def edit_mm(data, **fields):
    b = bytearray(data)
    mm = mm_offset(data)
    for name, value in fields.items():
        if name == "auxv":
            struct.pack_into("<I", b, mm + 92, len(value))
            struct.pack_into(f"<{len(value)}Q", b, mm + 96, *value)
        else:
            struct.pack_into("<Q", b, mm + 8 * MM_FIELDS.index(name), value)
    return bytes(b)


def mm_field(data, name):
    return struct.unpack_from("<Q", data, mm_offset(data) + 8 * MM_FIELDS.index(name))[0]


def memory_layouts_prctl_would_refuse_are_refused():
    """MM records that prctl(PR_SET_MM_MAP) refuses are refused by the module before the
    caller changes, with the field named: an auxv with no AT_NULL in the kernel's 54 words
    (/proc/PID/auxv used to read past it), one longer than the kernel keeps (used to kill
    the task late), a heap below the lowest mappable address, a heap beyond RLIMIT_DATA."""
    d = fresh("mmrec")
    t = Correct(d, "sigq", 1)
    try:
        # A data limit the heap below fits but 1 TiB more does not.
        resource.prlimit(t.pid, resource.RLIMIT_DATA, (1 << 30, 1 << 30))
        img = t.status + ".img"
        sh(CKPT, "--kill", str(t.pid), "-o", img, timeout=120)
        t.proc.wait(timeout=60)
        data = open(img, "rb").read()
        start_brk = mm_field(data, "start_brk")
        cases = {
            "auxv": (edit_mm(data, auxv=[(i // 2) + 1 if i % 2 == 0 else i for i in range(54)]), "auxv"),
            "long auxv": (edit_mm(data, auxv=[7, 1] * 29 + [0, 0]), "auxv"),
            "low heap": (edit_mm(data, start_brk=0x10, brk=0x10 + (1 << 20)), "start_brk"),
            "big heap": (edit_mm(data, brk=start_brk + (1 << 40)), "RLIMIT_DATA"),
        }
        for name, (blob, word) in cases.items():
            bad = os.path.join(d, name.replace(" ", "-"))
            open(bad, "wb").write(blob)
            status, out, err = sh(RSTR, "--detach", bad, check=False, timeout=120)
            if status == 0:
                kill(int(out))
                raise AssertionError(f"{name}: restored")
            assert word in err and "MM record" in err, f"{name}: the reason names {word}: {err.strip()}"
            assert not running(t.pid), f"{name}: pid {t.pid} runs after a refused restart"
        # The untouched image restarts.
        _, out, _ = sh(RSTR, "--detach", img, timeout=120)
        assert int(out) == t.pid
    finally:
        kill(t.pid)


def tree_image(d, children):
    """A tree.c `wide` tree of a root and CHILDREN children, asleep, checkpointed with
    --kill (ktap.Tree.checkpoint: every one of its pids is free again); its image and pids,
    the root's first."""
    t = Tree("wide", d, children, 0)
    names = [f"node{i}" for i in range(children + 1)]
    reports = t.reports(names, f"{len(names)} processes", timeout=120)
    pids = [reports[n]["pid"] for n in names]
    img, _ = t.checkpoint(pids)
    return img, pids


def parents(pids):
    out = {}
    for p in pids:
        with open(f"/proc/{p}/stat") as f:
            out[p] = int(f.read().rsplit(")", 1)[1].split()[1])
    return out


def concurrent_session_restarts_leave_the_kernel_healthy():
    """Eight processes restarting in one session, 16 times, and 8 more times with the
    last task's registers broken (its restart fails after its memory is replaced): each
    success brings back all eight with their parents, each failure leaves none. The last
    task to close rstr's /dev/checkpoint descriptor used to free the session while the
    others still waited in it (a use-after-free: scripts/vm fails the run on an oops)."""
    d = fresh("sessions")
    img, pids = tree_image(d, 7)
    data = open(img, "rb").read()
    # The last REGS record belongs to the last task: a code segment ptrace would refuse.
    last_regs = [off + 8 for kind, off, _ in image_records(data) if kind == 60][-1]
    bad = bytearray(data)
    struct.pack_into("<Q", bad, last_regs + 17 * 8, 0x1234)
    bad_img = os.path.join(d, "bad")
    open(bad_img, "wb").write(bad)
    want = None
    for round_ in range(24):
        failing = round_ % 3 == 2
        status, out, err = sh(RSTR, "--detach", bad_img if failing else img, check=False, timeout=120)
        if failing:
            assert status != 0, f"round {round_}: a broken image restored"
            assert "pid" in err, err
            for p in pids:
                wait_for(lambda: gone(p), f"round {round_}: pid {p} to be gone")
            continue
        assert status == 0, f"round {round_}: {err.strip()}"
        assert int(out) == pids[0]
        got = parents(pids)
        want = want or got
        assert got == want and all(got[p] == pids[0] for p in pids[1:]), f"round {round_}: parents {got}"
        for p in pids:
            kill(p)


def executable_file_restored():
    """/proc/PID/exe of a restarted process names its own executable, not rstr: a test
    target and a distribution binary (/usr/bin/sleep, dynamically linked)."""
    d = fresh("exe")
    t = Correct(d, "sigq", 1)
    sleeper = subprocess.Popen(["sleep", "1000"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    exe = os.path.realpath("/usr/bin/sleep")
    try:
        for pid, want in ((t.pid, CORRECT), (sleeper.pid, exe)):
            assert os.readlink(f"/proc/{pid}/exe") == want
            img = os.path.join(d, f"img{pid}")
            sh(CKPT, "--kill", str(pid), "-o", img, timeout=120)
            (t.proc if pid == t.pid else sleeper).wait(timeout=60)
            _, out, _ = sh(RSTR, "--detach", img, timeout=120)
            assert int(out) == pid
            got = os.readlink(f"/proc/{pid}/exe")
            assert got == want, f"pid {pid}: /proc/PID/exe is {got}, not {want}"
            mm = [r for r in show_json(img) if r["type"] == "MM"][0]
            assert mm["exe_vma"] is not None, mm
    finally:
        for p in (t.proc, sleeper):
            if p.poll() is None:
                p.kill()
                p.wait()
        kill(t.pid)
        kill(sleeper.pid)


def pty_master_refused():
    """A process holding a pseudo-terminal master (/dev/ptmx; python3, a distribution
    binary): reopened at restart it would be a new, unrelated terminal, so the checkpoint
    is refused naming the fd, and the process runs on."""
    d = fresh("ptmx")
    ready = os.path.join(d, "ready")
    code = ("import os, time\n"
            "fd = os.open('/dev/ptmx', os.O_RDWR | os.O_NOCTTY)\n"
            f"open({ready!r}, 'w').write(str(fd))\n"
            "while True: time.sleep(1)\n")
    p = subprocess.Popen(["python3", "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        fd = int(wait_for(lambda: os.path.exists(ready) and open(ready).read(), "python3 to open /dev/ptmx"))
        img = os.path.join(d, "img")
        status, _, err = sh(CKPT, str(p.pid), "-o", img, check=False, timeout=120)
        assert status != 0, "a process holding a pty master was checkpointed"
        assert f"fd {fd}: pseudo-terminal master" in err, err
        time.sleep(0.5)
        assert p.poll() is None and running(p.pid), "the process did not run on after the refusal"
        assert os.readlink(f"/proc/{p.pid}/fd/{fd}") in ("/dev/ptmx", "/dev/pts/ptmx")
    finally:
        p.kill()
        p.wait()


def killed_rstr_leaves_no_task_behind():
    """rstr killed by SIGKILL in the middle of a restart of 200 processes: all or nothing.
    Killed before its go (the likely case, said in a comment), no task of the tree is left,
    running, stopped or stuck in the kernel; killed after it, every one runs. Either way
    the image restarts after."""
    d = fresh("rstr-killed")
    img, pids = tree_image(d, 199)
    r = subprocess.Popen([RSTR, "--detach", img], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: sum(map(running, pids)) >= 5, "rstr to create some of the tree",
                 timeout=120)
    finally:
        r.kill()
        r.wait()

    def settled():
        alive = [st[0] for st in map(stat, pids) if st is not None and st[0] != "Z"]
        if not alive:
            return "none"
        if len(alive) == len(pids) and all(state in "RS" for state in alive):
            return "all"
        return None
    how = wait_for(settled, "all or none of the tree to run after rstr was killed", timeout=90)
    print(f"# rstr killed {'before' if how == 'none' else 'after'} its go")
    for p in pids:
        if how == "all":
            kill(p)
        wait_for(lambda: gone(p), f"pid {p} to be free", timeout=60)
    _, out, _ = sh(RSTR, "--detach", img, timeout=300)
    assert int(out) == pids[0]
    for p in pids:
        kill(p)

TESTS = [
    many_queued_signals_delivered_in_order,
    swapped_shared_memory_saved,
    shared_memory_of_two_processes_saved,
    memory_layouts_prctl_would_refuse_are_refused,
    concurrent_session_restarts_leave_the_kernel_healthy,
    executable_file_restored,
    pty_master_refused,
    killed_rstr_leaves_no_task_behind,
]
only = [t for t in TESTS if t.__name__ in sys.argv[1:]]
sys.exit(run(only or TESTS))
