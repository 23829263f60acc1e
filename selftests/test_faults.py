#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Faults during a checkpoint or a restart: the tool or the target killed half-way, two
checkpoints of one process at once, the module unloaded while in use, a memory cgroup
too small for a restart, and (debug kernel) allocation failures injected into the
module. After each: the target is unharmed (memory pattern, counter, pid) or gone with
every task of its tree, no image under its final name unless it is whole, the reason
printed, and the kernel log clean.

  test_faults.py [NAME...]    the tests named, or all
"""
import os
import re
import shutil
import signal
import subprocess
import sys

from ktap import (CKPT, HERE, RSTR, Target, kill_reaped, records, run, running, scratch, sh,
                  show_json, skip, stat, wait_for)

fresh = scratch("faults-")
KMSG_PROBLEMS = os.path.join(HERE, "..", "scripts", "kmsg-problems")


def stuck():
    """User processes stopped by a tracer or asleep in the kernel uninterruptibly: none may
    be left by a fault."""
    out = []
    for d in (d for d in os.listdir("/proc") if d.isdigit()):
        st = stat(int(d))
        if st is not None and st[1] != 2 and d != "2" and st[0] in "Dt":
            with open(f"/proc/{d}/comm") as f:
                out.append(f"{d} {st[0]} {f.read().strip()}")
    return out


def assert_healthy(since):
    """No task stopped or stuck, and no kernel problem (scripts/kmsg-problems: oops, BUG,
    WARNING, hung task...) in the kernel log since the line count SINCE."""
    try:
        wait_for(lambda: not stuck(), "no stopped or stuck task", timeout=30)
    except AssertionError:
        raise AssertionError(f"tasks left stopped or stuck: {stuck()}") from None
    if os.access(KMSG_PROBLEMS, os.X_OK):
        log = subprocess.run(["dmesg"], capture_output=True, text=True).stdout.splitlines()[since:]
        p = subprocess.run([KMSG_PROBLEMS], input="\n".join(log) + "\n", capture_output=True, text=True)
        assert p.returncode == 1, f"kernel log:\n{p.stdout}"


def kmsg_since(since):
    return subprocess.run(["dmesg"], capture_output=True, text=True).stdout.splitlines()[since:]


def kmsg_lines():
    return len(kmsg_since(0))


def partials(d):
    return sorted(f for f in os.listdir(d) if ".partial-" in f)


def growing(path, size=1 << 20):
    return lambda: os.path.exists(path) and os.path.getsize(path) > size


def is_whole(img):
    return bool(records(show_json(img), "TAIL"))


def restart_and_verify(t, img):
    """Kills the target, restarts IMG, asserts the same pid with its memory intact and
    counting; kills it again."""
    t.kill()
    _, out, _ = sh(RSTR, "--detach", img, timeout=300)
    assert int(out) == t.pid, f"rstr restored pid {out.strip()}, not {t.pid}"
    verify_restored(t)
    kill_reaped(t.pid)


def verify_restored(t):
    """verify() of a target restarted from an image taken while it ran on: its status file
    holds what the killed process wrote last, ahead of the image's counts, so it is emptied
    first (from now on only the restored process writes it)."""
    os.truncate(t.status, 0)
    return t.verify()


def ckpt_killed_mid_checkpoint():
    """ckpt killed by SIGKILL while it writes a 256 MiB checkpoint, to a file and to a pipe.
    The file: nothing under the image's name; the part written stays as IMAGE.partial-PID
    (ckpt cannot remove it once killed: the name says whose it was and that it is not
    whole), rstr refuses it with a reason. The pipe: the reader sees a stream with no TAIL.
    The target runs on with its memory intact, is checkpointed again and restarts whole."""
    d = fresh("ckpt-killed")
    since = kmsg_lines()
    img = os.path.join(d, "img")
    t = Target(d, "--mem", "256", "--signals")
    try:
        c = subprocess.Popen([CKPT, str(t.pid), "-o", img], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        partial = os.path.join(d, f"img.partial-{c.pid}")
        wait_for(growing(partial), "ckpt to write a part of the image", timeout=120)
        c.kill()
        c.wait()
        assert not os.path.exists(img), "an image appeared under its final name"
        assert partials(d) == [os.path.basename(partial)], partials(d)
        assert os.stat(partial).st_mode & 0o777 == 0o600, oct(os.stat(partial).st_mode)
        t.verify()

        # To a pipe: killed once 1 MiB has been read.
        r, w = os.pipe()
        c = subprocess.Popen([CKPT, str(t.pid)], stdout=w, stderr=subprocess.DEVNULL)
        os.close(w)
        got = b""
        while len(got) < 1 << 20:
            chunk = os.read(r, 1 << 16)
            assert chunk, f"ckpt closed the pipe after {len(got)} bytes"
            got += chunk
        c.kill()
        c.wait()
        while chunk:
            chunk = os.read(r, 1 << 16)
            got += chunk
        os.close(r)
        assert c.returncode == -signal.SIGKILL, c.returncode
        assert len(got) < 256 << 20, f"the stream was whole ({len(got)} bytes)"
        stream = os.path.join(d, "stream")
        open(stream, "wb").write(got)
        t.verify()

        # Checkpointed again, whole; the parts refused by rstr while the pid is free.
        sh(CKPT, "--kill", str(t.pid), "-o", img, timeout=300)
        t.proc.wait(timeout=60)
        assert is_whole(img) and partials(d) == [os.path.basename(partial)], partials(d)
        for part in (partial, stream):
            status, _, err = sh(RSTR, "--detach", part, check=False, timeout=300)
            assert status != 0 and "truncated image" in err, (part, status, err)
            print(f"# rstr {os.path.basename(part)}: {err.strip().splitlines()[-1]}")
            assert not running(t.pid), f"rstr of a partial image left pid {t.pid} running"
        _, out, _ = sh(RSTR, "--detach", img, timeout=300)
        assert int(out) == t.pid
        t.verify()
        kill_reaped(t.pid)
    finally:
        t.kill()
        if running(t.pid):
            kill_reaped(t.pid)
    assert_healthy(since)


def target_killed_mid_checkpoint():
    """The target killed (SIGKILL) while the module writes its 256 MiB image: ckpt fails with
    a reason, no image under its name, nothing stopped or stuck; another process's checkpoint
    then works."""
    d = fresh("target-killed")
    since = kmsg_lines()
    img = os.path.join(d, "img")
    t = Target(d, "--mem", "256", "--signals")
    c = subprocess.Popen([CKPT, str(t.pid), "-o", img], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    try:
        wait_for(growing(os.path.join(d, f"img.partial-{c.pid}")), "ckpt to write a part", timeout=120)
        os.kill(t.pid, signal.SIGKILL)
        _, err = c.communicate(timeout=300)
        t.proc.wait(timeout=60)
    finally:
        if c.poll() is None:
            c.kill()
        t.kill()
    print(f"# ckpt exited {c.returncode}: {err.strip()}")
    assert c.returncode != 0, f"ckpt of a process killed during its checkpoint succeeded: {err}"
    assert str(t.pid) in err and re.search(r"killed|exited|died|no process", err), err
    assert not os.path.exists(img) and partials(d) == [], (os.listdir(d))
    assert stat(t.pid) is None, stat(t.pid)
    other = Target(fresh("target-killed-other"), "--mem", "1", "--signals")
    try:
        img2 = os.path.join(os.path.dirname(other.status), "img")
        sh(CKPT, str(other.pid), "-o", img2, timeout=300)
        assert is_whole(img2)
        other.verify()
    finally:
        other.kill()
    assert_healthy(since)


def two_checkpoints_at_once():
    """Two ckpt of one 64 MiB target started together: one wins with a whole image that
    restarts (same pid, memory intact), the other fails naming the tracer; neither leaves
    a partial image; the target runs on unharmed."""
    d = fresh("two")
    since = kmsg_lines()
    t = Target(d, "--mem", "64", "--signals")
    try:
        imgs = [os.path.join(d, f"img{i}") for i in (0, 1)]
        cs = [subprocess.Popen([CKPT, str(t.pid), "-o", i], stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True) for i in imgs]
        errs = [c.communicate(timeout=300)[1] for c in cs]
        codes = [c.returncode for c in cs]
        assert codes.count(0) == 1, (codes, errs)
        win = codes.index(0)
        lose = 1 - win
        print(f"# the loser: {errs[lose].strip()}")
        assert f"already traced by process {cs[win].pid}" in errs[lose], errs
        assert not os.path.exists(imgs[lose]) and partials(d) == [], os.listdir(d)
        assert is_whole(imgs[win])
        t.verify()
        restart_and_verify(t, imgs[win])
    finally:
        t.kill()
        if running(t.pid):
            kill_reaped(t.pid)
    assert_healthy(since)


def module_loaded():
    return os.path.exists("/sys/module/ckpt")


def rmmod():
    return sh("rmmod", "ckpt", check=False, timeout=60)


def insmod(ko):
    """Loads ckpt.ko again without running its KUnit suites a second time (they ran at the
    first load, and run_tests.sh counts what the kernel log holds): kunit's filter_glob
    matches none of them."""
    glob = "/sys/module/kunit/parameters/filter_glob"
    if os.path.exists(glob):
        with open(glob, "w") as f:
            f.write("ckpt_reloaded_runs_no_suite")
    sh("insmod", ko, timeout=120)
    wait_for(lambda: os.path.exists("/dev/checkpoint"), "/dev/checkpoint to appear")


def holders():
    """Pids of the processes with /dev/checkpoint open."""
    out = set()
    for d in (d for d in os.listdir("/proc") if d.isdigit()):
        try:
            for fd in os.listdir(f"/proc/{d}/fd"):
                if os.readlink(f"/proc/{d}/fd/{fd}") == "/dev/checkpoint":
                    out.add(int(d))
        except OSError:
            pass
    return out


def assert_rmmod_busy(what):
    status, _, err = rmmod()
    assert status != 0 and "in use" in err, f"rmmod while {what}: {status} {err}"
    assert module_loaded()


def rmmod_while_in_use():
    """rmmod ckpt while /dev/checkpoint is open, while a checkpoint runs and while a restart
    session is open (rstr stopped inside it) fails ("in use": an open device holds the
    module); once they end, the checkpoint is whole, the restart is done, the module
    unloads, loads again, and a checkpoint and restart work."""
    ko = os.environ.get("CKPT_KO")
    if not ko or not os.path.exists(ko):
        skip("CKPT_KO (set by scripts/vm-guest) names no ckpt.ko to load again")
    d = fresh("rmmod")
    since = kmsg_lines()
    img = os.path.join(d, "img")
    t = Target(d, "--mem", "256", "--signals")
    try:
        fd = os.open("/dev/checkpoint", os.O_RDWR)
        try:
            assert_rmmod_busy("/dev/checkpoint is open")
        finally:
            os.close(fd)

        c = subprocess.Popen([CKPT, "--kill", str(t.pid), "-o", img], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        wait_for(growing(os.path.join(d, f"img.partial-{c.pid}")), "ckpt to write a part", timeout=120)
        assert c.pid in holders(), holders()
        assert_rmmod_busy("a checkpoint runs")
        _, err = c.communicate(timeout=300)
        assert c.returncode == 0, err
        t.proc.wait(timeout=60)
        assert is_whole(img)

        r = subprocess.Popen([RSTR, "--detach", img], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            wait_for(lambda: r.pid in holders() or r.poll() is not None,
                     "rstr to open its session", timeout=120)
            os.kill(r.pid, signal.SIGSTOP)
            assert r.poll() is None, "rstr ended before the test could stop it in its session"
            assert_rmmod_busy("a restart session is open")
        finally:
            os.kill(r.pid, signal.SIGCONT)
        out, err = r.communicate(timeout=300)
        assert r.returncode == 0 and int(out) == t.pid, (r.returncode, err)
        t.verify()
        kill_reaped(t.pid)
        wait_for(lambda: not holders(), "every /dev/checkpoint descriptor to close")

        status, _, err = rmmod()
        assert status == 0, f"rmmod once unused: {err}"
        assert not module_loaded() and not os.path.exists("/dev/checkpoint")
        status, _, err = sh(CKPT, "version", check=False)
        assert status != 0 and "/dev/checkpoint" in err, err
    finally:
        t.kill()
        if running(t.pid):
            kill_reaped(t.pid)
        if not module_loaded():
            insmod(ko)
    t = Target(fresh("rmmod-again"), "--mem", "8", "--signals")
    try:
        img = os.path.join(os.path.dirname(t.status), "img")
        sh(CKPT, str(t.pid), "-o", img, timeout=120)
        restart_and_verify(t, img)
    finally:
        t.kill()
        if running(t.pid):
            kill_reaped(t.pid)
    assert_healthy(since)


def cgroup2_root():
    """Where the cgroup v2 hierarchy is mounted (mounted at /run/ckpt-cgroup if nowhere)."""
    for ln in open("/proc/mounts"):
        f = ln.split()
        if f[2] == "cgroup2":
            return f[1]
    root = "/run/ckpt-cgroup"
    os.makedirs(root, exist_ok=True)
    sh("mount", "-t", "cgroup2", "none", root)
    return root


def memory_cgroup_limit_hit_during_restart():
    """rstr in a memory cgroup of memory.max 24 MiB (no swap), its tasks exempt from the OOM
    killer, restarting a 64 MiB process: it fails with an out-of-memory reason, no task of the tree is left, the cgroup empties
    and is removed, and the kernel log holds no problem (a memory-cgroup OOM report is
    none)."""
    d = fresh("memcg")
    since = kmsg_lines()
    img = os.path.join(d, "img")
    t = Target(d, "--mem", "64", "--signals")
    sh(CKPT, "--kill", str(t.pid), "-o", img, timeout=300)
    t.proc.wait(timeout=60)
    root = cgroup2_root()
    if "memory" not in open(os.path.join(root, "cgroup.controllers")).read().split():
        skip("no memory controller in cgroup v2")
    with open(os.path.join(root, "cgroup.subtree_control"), "w") as f:
        f.write("+memory")
    cg = os.path.join(root, f"ckpt-faults-{os.getpid()}")
    # rstr runs from a copy in a tmpfs of its own, made out here: the guest's root is 9p,
    # and a page of rstr's code that the cgroup's reclaim drops must be read from 9p again
    # when it faults, a read that can fail for want of memory in the cgroup, and the kernel
    # answers such a failed read with SIGBUS (rstr was killed by it once, before it could
    # say anything). tmpfs pages stay (no swap), charged to this test's cgroup, not rstr's.
    bindir = os.path.join(d, "bin")
    os.mkdir(bindir)
    sh("mount", "-t", "tmpfs", "-o", "size=64m", "rstr-bin", bindir)
    os.mkdir(cg)
    try:
        rstr = os.path.join(bindir, "rstr")
        shutil.copy(RSTR, rstr)
        with open(os.path.join(cg, "memory.max"), "w") as f:
            f.write(str(24 << 20))
        if os.path.exists(os.path.join(cg, "memory.swap.max")):
            with open(os.path.join(cg, "memory.swap.max"), "w") as f:
                f.write("0")
        # Unkillable (oom_score_adj -1000, inherited by the tasks rstr creates): the memory
        # cgroup's OOM killer finds no victim and a charge over memory.max fails with ENOMEM
        # instead (with a victim, it would SIGKILL the largest task, rstr or the one being
        # restored, and nothing could say why).
        status, out, err = sh("sh", "-c", 'echo $$ > "$1/cgroup.procs" && echo -1000 > /proc/self/oom_score_adj'
                              ' && exec "$2" --detach "$3"', "sh", cg, rstr, img, check=False, timeout=300)
        print(f"# rstr exited {status}: {err.strip()}")
        if status < 0:
            print("# the kernel log since the test began:\n" +
                  "\n".join("#   " + ln for ln in kmsg_since(since)))
        assert status != 0, f"rstr restored 64 MiB in a 24 MiB cgroup: {out}"
        assert re.search(r"pid \d+: pages 0x\w+-0x\w+: no memory for page 0x\w+ \(out of memory, or "
                         r"the memory cgroup's limit\)", err), err
        wait_for(lambda: not running(t.pid), f"pid {t.pid} to be gone")
        wait_for(lambda: not open(os.path.join(cg, "cgroup.procs")).read().strip(),
                 "the cgroup to empty")
        events = open(os.path.join(cg, "memory.events")).read()
        print("# memory.events: " + " ".join(events.split()))
        assert int(re.search(r"^max (\d+)", events, re.M).group(1)) > 0, events
    finally:
        wait_for(lambda: not open(os.path.join(cg, "cgroup.procs")).read().strip(),
                 "the cgroup to empty", timeout=60)
        os.rmdir(cg)
        sh("umount", bindir)
    assert not os.path.exists(cg)
    # The image was not the problem: it restarts outside the cgroup.
    _, out, _ = sh(RSTR, "--detach", img, timeout=300)
    assert int(out) == t.pid
    t.verify()
    kill_reaped(t.pid)
    assert_healthy(since)


FI = "/sys/kernel/debug"


def fi_set(name, **values):
    for k, v in values.items():
        with open(f"{FI}/{name}/{k.replace('_', '-')}", "w") as f:
            f.write(str(v))


def fi_get(name, key):
    with open(f"{FI}/{name}/{key}") as f:
        return int(f.read().split()[0])


def module_text():
    """The module's code: from its .text section over its core size (the stack-trace
    filter's range: an allocation whose call stack passes through it may fail)."""
    with open("/sys/module/ckpt/sections/.text") as f:
        start = int(f.read(), 16)
    with open("/sys/module/ckpt/coresize") as f:
        size = int(f.read())
    assert start, "/sys/module/ckpt/sections/.text reads 0 (kptr_restrict?)"
    return start, start + size


def faults_injected_into_the_module():
    """failslab and fail_page_alloc on ckpt.ko's own allocations: for a checkpoint and for a
    restart, the first allocation past SPACE bytes of the module's (task-filter: only the
    ckpt or rstr process and its children; stack filter: only allocations from the module's
    code) fails, SPACE stepped from 0 until a run reaches the end without a fault. Each run
    fails with a reason and leaves the target unharmed (checkpoint) or no task of the tree
    (restart), or succeeds with a whole image or a correctly restored process."""
    if not os.path.exists(f"{FI}/failslab"):
        if not os.path.ismount(FI):
            subprocess.run(["mount", "-t", "debugfs", "debugfs", FI], check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not os.path.exists(f"{FI}/failslab"):
            skip("no fault injection in this kernel")
    d = fresh("inject")
    since = kmsg_lines()
    start, end = module_text()
    img = os.path.join(d, "img")
    t = Target(d, "--mem", "4", "--pipe", "--signals")
    sh(CKPT, str(t.pid), "-o", img, timeout=300)
    good = img + ".good"
    os.rename(img, good)
    tried = clean = succeeded = 0
    limit = int(os.environ.get("CKPT_FAULT_STEPS") or 40)
    try:
        for kind in ("failslab", "fail_page_alloc"):
            common = dict(probability=100, interval=1, times=0, verbose=1, task_filter="Y",
                          require_start=start, require_end=end, stacktrace_depth=32,
                          ignore_gfp_wait="N")
            if kind == "fail_page_alloc":
                common.update(min_order=0, ignore_gfp_highmem="N")
            fi_set(kind, **common)
            for op in ("checkpoint", "restart"):
                space, steps = 0, 0
                while steps < limit:
                    steps += 1
                    fi_set(kind, space=space, times=1)
                    if op == "checkpoint":
                        argv = [CKPT, str(t.pid), "-o", img]
                    else:
                        t.kill()    # the original; a restored one is no child of ours
                        if running(t.pid):
                            kill_reaped(t.pid)
                        argv = [RSTR, "--detach", good]
                    status, out, err = sh("sh", "-c", 'echo 1 > /proc/self/make-it-fail && exec "$@"',
                                          "sh", *argv, check=False, timeout=300)
                    fired = fi_get(kind, "times") == 0
                    fi_set(kind, times=0)
                    what = f"{kind} {op} space {space}"
                    if not fired:
                        assert status == 0, f"{what}: no fault injected, yet: {err}"
                        if op == "restart":
                            assert int(out) == t.pid
                            verify_restored(t)
                            kill_reaped(t.pid)
                        break
                    tried += 1
                    if status == 0:
                        succeeded += 1
                        if op == "checkpoint":
                            assert is_whole(img), what
                        else:
                            assert int(out) == t.pid, (what, out)
                            verify_restored(t)
                            kill_reaped(t.pid)
                    else:
                        clean += 1
                        assert err.strip(), f"{what}: failed with no reason"
                        if op == "checkpoint":
                            assert not os.path.exists(img) and partials(d) == [], (what, os.listdir(d))
                            t.verify()
                        else:
                            assert not running(t.pid), f"{what}: pid {t.pid} left running"
                    if os.path.exists(img):
                        os.unlink(img)
                    left = stuck()
                    assert not left, f"{what}: {left}"
                    # fail_page_alloc takes a page or more from space per allocation: a
                    # step below a page would inject the same fault again.
                    unit = os.sysconf("SC_PAGE_SIZE") if kind == "fail_page_alloc" else 64
                    space = max(unit, -(-int(space * 1.6) // unit) * unit)
                print(f"# {kind} {op}: {steps} runs, last space {space}")
                if op == "restart" and not running(t.pid):
                    _, out, _ = sh(RSTR, "--detach", good, timeout=300)
                    assert int(out) == t.pid
                    verify_restored(t)
    finally:
        for kind in ("failslab", "fail_page_alloc"):
            fi_set(kind, times=0, probability=0)
        t.kill()
        if running(t.pid):
            kill_reaped(t.pid)
    print(f"# faults: {tried} tried, {clean} failed cleanly, {succeeded} succeeded")
    assert tried > 0, "no fault was ever injected: the filters match no allocation of the module"
    assert_healthy(since)


TESTS = [
    ckpt_killed_mid_checkpoint,
    target_killed_mid_checkpoint,
    two_checkpoints_at_once,
    memory_cgroup_limit_hit_during_restart,
    faults_injected_into_the_module,
    rmmod_while_in_use,
]
only = [t for t in TESTS if t.__name__ in sys.argv[1:]]
sys.exit(run(only or TESTS))
