#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Checkpoint: what `ckpt PID` writes, checked record by record against the process."""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import scratch, sh_unprivileged, CKPT, TARGET, Target, records, run, sh, show_json, wait_for  # noqa: E402

fresh = scratch("ckpt-test-")


def image_is_complete_and_describes_process():
    d = fresh("complete")
    t = Target(d)
    try:
        img = os.path.join(d, "img")
        sh(CKPT, str(t.pid), "-o", img)
        assert os.stat(img).st_mode & 0o777 == 0o600, "images are private to their owner"
        recs = show_json(img)
        kinds = [r["type"] for r in recs]
        assert kinds[0] == "HEADER" and kinds[-1] == "TAIL", kinds
        order = ["HEADER", "TREE", "TASK", "TASK_ATTRS", "CREDS", "RLIMITS", "FS", "SIGHAND", "SIGNALS"]
        assert kinds[:len(order)] == order, kinds
        assert kinds.index("XSTATE") < kinds.index("MM") < kinds.index("VMA") < kinds.index("REGS")
        h = recs[0]
        assert h["arch"] == "x86_64" and h["page_size"] == 4096 and h["nr_tasks"] == 1
        tree = records(recs, "TREE")[0]
        assert not tree["container"] and len(tree["tasks"]) == 1, tree
        me = tree["tasks"][0]
        assert (me["pid"], me["tgid"], me["ppid"]) == (t.pid, t.pid, 0), me
        assert me["pgid"] == os.getpgid(t.pid) and me["sid"] == os.getsid(t.pid), me
        assert not me["zombie"] and me["mm"] > 0 and me["files"] > 0, me
        assert h["kernel_release"] == os.uname().release
        task = records(recs, "TASK")[0]
        assert task["pid"] == t.pid and task["tgid"] == t.pid, task
        assert task["ppid"] == os.getpid(), task
        assert task["comm"] == "target", task
        creds = records(recs, "CREDS")[0]
        assert creds["uid"] == [os.getuid()] * 4 and creds["gid"] == [os.getgid()] * 4, creds
        fs = records(recs, "FS")[0]
        assert fs["cwd"] == os.getcwd() and fs["root"] == "/", fs
        files = {f["fd"]: f for f in records(recs, "FILE")}
        assert files[0]["path"] == "/dev/null" and files[0]["kind"] == "chardev", files[0]
        assert files[3]["path"] == t.status and files[3]["kind"] == "regular", files
        vmas = records(recs, "VMA")
        assert len(vmas) == records(recs, "MM")[0]["nr_vmas"]
        kinds = {v["kind"] for v in vmas}
        assert {"stack", "vdso", "vvar"} <= kinds, kinds
        assert any(v["kind"] == "file-private" and v["path"] == TARGET for v in vmas), vmas
        regs = records(recs, "REGS")[0]
        ip, sp = int(regs["ip"], 16), int(regs["sp"], 16)
        text = [v for v in vmas if v["path"] == TARGET and "x" in v["prot"]]
        assert any(int(v["start"], 16) <= ip < int(v["end"], 16) for v in text), (regs, text)
        stack = [v for v in vmas if v["kind"] == "stack"][0]
        assert int(stack["start"], 16) <= sp < int(stack["end"], 16), (regs, stack)
        assert int(regs["fs_base"], 16) != 0, "glibc's TLS base was not saved"
        assert regs["cs"] == "0x33" and regs["ss"] == "0x2b", regs
        assert records(recs, "TAIL")[0]["nr_records"] == len(recs) - 1
    finally:
        t.kill()


def memory_pages_hold_the_pattern():
    d = fresh("pattern")
    t = Target(d, "--mem", "64")
    try:
        img = os.path.join(d, "img")
        sh(CKPT, str(t.pid), "-o", img)
        region = int(t.info["region"], 16)
        npages = int(t.info["region_pages"])
        end = region + npages * 4096
        pages = [p for p in records(show_json(img), "PAGES")
                 if region <= int(p["addr"], 16) < end]
        assert sum(p["nr_pages"] for p in pages) == npages, "every touched page is saved once"
        for p in pages:
            _, want, _ = sh(TARGET, "hash", p["addr"], str(p["nr_pages"]))
            assert p["fnv1a64"] == want.strip(), (p, want)
        # Pages only for what was touched: the image is about the size of the region.
        size = os.stat(img).st_size
        assert npages * 4096 <= size < npages * 4096 * 1.05 + (2 << 20), size
    finally:
        t.kill()


def untouched_memory_costs_nothing():
    d = fresh("sparse")
    # A 256 MiB mapping of which nothing is touched: no PAGES for it.
    code = ("import mmap, os, sys, time; m = mmap.mmap(-1, 256 << 20); "
            "open(sys.argv[1], 'w').write(hex(id(m))); time.sleep(600)")
    p = subprocess.Popen([sys.executable, "-c", code, os.path.join(d, "ready")],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: os.path.exists(os.path.join(d, "ready")), "python to start")
        img = os.path.join(d, "img")
        sh(CKPT, str(p.pid), "-o", img)
        recs = show_json(img)
        big = [v for v in records(recs, "VMA")
               if int(v["end"], 16) - int(v["start"], 16) >= 256 << 20]
        assert big, "the 256 MiB mapping is in the image"
        saved = sum(r["nr_pages"] for r in records(recs, "PAGES")) * 4096
        assert saved < 64 << 20, f"{saved} bytes of pages saved for an untouched mapping"
    finally:
        p.kill()
        p.wait()


def process_runs_on_after_checkpoint():
    d = fresh("runs-on")
    t = Target(d)
    try:
        sh(CKPT, str(t.pid), "-o", os.path.join(d, "img"))
        before = t.counter()
        wait_for(lambda: t.counter() > before + 5, "the counter to go on")
        assert t.alive()
    finally:
        t.kill()


def kill_flag_kills_process():
    d = fresh("kill")
    t = Target(d)
    sh(CKPT, "--kill", str(t.pid), "-o", os.path.join(d, "img"))
    t.proc.wait(timeout=10)
    assert t.proc.returncode == -signal.SIGKILL, t.proc.returncode
    assert records(show_json(os.path.join(d, "img")), "TAIL")


def image_streams_through_a_pipe():
    d = fresh("pipe-out")
    t = Target(d, "--mem", "4")
    try:
        ck = subprocess.Popen([CKPT, str(t.pid)], stdout=subprocess.PIPE)
        show = subprocess.run([CKPT, "show", "--json", "-"], stdin=ck.stdout,
                              capture_output=True, text=True)
        ck.stdout.close()
        assert ck.wait() == 0 and show.returncode == 0, show.stderr
        assert '"type":"TAIL"' in show.stdout.splitlines()[-1]
        assert '"type":"PAGES"' in show.stdout
    finally:
        t.kill()


def refusal(opt, fd_key, words):
    d = fresh("refuse" + opt)
    t = Target(d, opt)
    try:
        img = os.path.join(d, "img")
        status, _, err = sh(CKPT, str(t.pid), "-o", img, check=False)
        assert status != 0, "the checkpoint must fail"
        fd = t.info[fd_key]
        assert f"fd {fd}: {words} not supported yet" in err, err
        assert not os.path.exists(img), "no partial image is left behind"
        before = t.counter()
        wait_for(lambda: t.counter() > before, "the refused process to run on")
    finally:
        t.kill()


def socket_refused_with_reason():
    refusal("--socket", "socket_fd", "socket of family AF_NETLINK")


def pipe_saved_with_contents():
    d = fresh("pipe")
    t = Target(d, "--pipe")
    try:
        img = os.path.join(d, "img")
        sh(CKPT, str(t.pid), "-o", img)
        recs = show_json(img)
        pipes = records(recs, "PIPE")
        assert len(pipes) == 1 and pipes[0]["len"] == 10, pipes
        assert pipes[0]["capacity"] >= 4096, pipes
        files = {f["fd"]: f for f in records(recs, "FILE")}
        r, w = files[int(t.info["pipe_fd"])], files[int(t.info["pipe_wfd"])]
        assert r["kind"] == w["kind"] == "pipe", (r, w)
        assert r["pipe"] == w["pipe"] == pipes[0]["id"], (r, w)
        assert r["obj"] != w["obj"], "two ends, two open files"
        with open(img, "rb") as f:
            assert b"hello pipe" in f.read(), "the buffered bytes are in the image"
    finally:
        t.kill()


def task_state_refused_with_reason():
    d = fresh("itimer")
    code = ("import ctypes, sys, time; "
            "assert ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0) == 0; "  # PR_SET_MDWE
            "open(sys.argv[1], 'w').close(); time.sleep(600)")
    p = subprocess.Popen([sys.executable, "-c", code, os.path.join(d, "ready")],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: os.path.exists(os.path.join(d, "ready")), "python to start")
        status, _, err = sh(CKPT, str(p.pid), "-o", os.path.join(d, "img"), check=False)
        assert status != 0 and f"pid {p.pid} uses memory-deny-write-execute (PR_SET_MDWE)" in err, err
        assert p.poll() is None, "the refused process runs on"
    finally:
        p.kill()
        p.wait()


def signals_and_handlers_saved():
    d = fresh("signals")
    t = Target(d, "--signals")
    try:
        img = os.path.join(d, "img")
        sh(CKPT, str(t.pid), "-o", img)
        recs = show_json(img)
        acts = {a["signo"]: a for a in records(recs, "SIGHAND")[0]["actions"]}
        usr1 = acts[signal.SIGUSR1]
        assert int(usr1["handler"], 16) == int(t.info["handler"], 16), usr1
        flags = int(usr1["flags"], 16)
        assert flags & 0x10000000, "SA_RESTART kept"
        assert flags & 0x04000000 and int(usr1["restorer"], 16) != 0, "SA_RESTORER and its address"
        assert int(usr1["mask"], 16) == 1 << (signal.SIGTERM - 1), usr1
        sigs = records(recs, "SIGNALS")[0]
        assert int(sigs["blocked"], 16) & (1 << (signal.SIGUSR2 - 1)), sigs
        assert sigs["nr_pending"] == 1, sigs
        info = records(recs, "SIGINFO")
        assert [(i["signo"], i["shared"]) for i in info] == [(signal.SIGUSR2, False)], info
    finally:
        t.kill()


def open_file_saved():
    d = fresh("file")
    path = os.path.join(d, "data")
    t = Target(d, "--file", path)
    try:
        img = os.path.join(d, "img")
        sh(CKPT, str(t.pid), "-o", img)
        fd = int(t.info["file_fd"])
        f = [r for r in records(show_json(img), "FILE") if r["fd"] == fd][0]
        assert f["path"] == path and f["pos"] == 2 and f["cloexec"], f
        flags = int(f["flags"], 8)
        assert flags & os.O_APPEND and flags & os.O_ACCMODE == os.O_RDWR, f
    finally:
        t.kill()


def unprivileged_checkpoint_rejected():
    d = fresh("unpriv")
    os.chmod(d, 0o777)
    t = Target(d)
    try:
        img = os.path.join(d, "img")
        status, _, err = sh_unprivileged(CKPT, str(t.pid), "-o", img)
        assert status != 0 and "not allowed to ptrace-attach" in err, err
        assert not os.path.exists(img)
        assert t.alive()
    finally:
        t.kill()


def show_rejects_damaged_images():
    d = fresh("damaged")
    t = Target(d, "--mem", "1")
    try:
        img = os.path.join(d, "img")
        sh(CKPT, str(t.pid), "-o", img)
    finally:
        t.kill()
    data = open(img, "rb").read()
    cases = {
        "truncated": data[: len(data) // 2],
        "no tail": data[:-24],
        "bad magic": data[:8] + b"X" + data[9:],
        "huge length": data[:4] + b"\xff\xff\xff\x7f" + data[8:],
        "empty": b"",
    }
    for name, blob in cases.items():
        bad = os.path.join(d, name.replace(" ", "-"))
        open(bad, "wb").write(blob)
        status, _, err = sh(CKPT, "show", bad, check=False)
        assert status != 0, f"{name}: accepted"
        assert "ckpt: error:" in err, (name, err)


def image_appears_whole_and_private():
    """An image file appears only when complete, mode 0600 even over a world-readable file;
    a refused checkpoint and a ckpt killed half-way leave the old image as it was (killed,
    also IMAGE.partial-PID), and the process runs on."""
    d = fresh("whole")
    img = os.path.join(d, "img")
    old = b"the previous image"

    def put_old():
        with open(img, "wb") as f:
            f.write(old)
        os.chmod(img, 0o644)

    def leftovers():
        return sorted(f for f in os.listdir(d) if ".partial-" in f)

    put_old()
    t = Target(d)
    try:
        sh(CKPT, str(t.pid), "-o", img)
        assert os.stat(img).st_mode & 0o777 == 0o600, oct(os.stat(img).st_mode)
        assert records(show_json(img), "TAIL"), "the image is whole"
        assert leftovers() == [], leftovers()
    finally:
        t.kill()

    # Refused (a socket): the old image is untouched, nothing is left beside it.
    put_old()
    t = Target(d, "--socket")
    try:
        status, _, err = sh(CKPT, str(t.pid), "-o", img, check=False)
        assert status != 0 and "socket" in err, err
        assert open(img, "rb").read() == old and leftovers() == [], leftovers()
        assert t.alive()
    finally:
        t.kill()

    # ckpt killed while it writes 256 MiB of touched memory.
    put_old()
    code = ("import sys, time; b = bytearray(256 << 20)\n"
            "for i in range(0, len(b), 4096): b[i] = 1\n"
            "open(sys.argv[1], 'w').write('ready')\n"
            "n = 0\n"
            "while True: n += 1; open(sys.argv[2], 'w').write(str(n)); time.sleep(0.01)")
    ready, count = os.path.join(d, "ready"), os.path.join(d, "count")
    p = subprocess.Popen([sys.executable, "-c", code, ready, count], stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: os.path.exists(ready), "python to touch its memory", timeout=120)
        c = subprocess.Popen([CKPT, str(p.pid), "-o", img], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        partial = os.path.join(d, f"img.partial-{c.pid}")
        wait_for(lambda: os.path.exists(partial) and os.path.getsize(partial) > 1 << 20,
                 "ckpt to write a part of the image")
        c.kill()
        c.wait()
        assert open(img, "rb").read() == old, "the old image was replaced by a partial one"
        assert leftovers() == [os.path.basename(partial)], leftovers()

        def counting():
            try:
                return int(open(count).read())
            except (OSError, ValueError):
                return None
        n = wait_for(counting, "the count")
        wait_for(lambda: (counting() or 0) > n + 3, "python to run on after ckpt died")
    finally:
        p.kill()
        p.wait()


def write_failures_leave_the_process_running():
    """A checkpoint whose image cannot be written, into a full filesystem (ENOSPC) or a pipe
    nobody reads (EPIPE), fails with the reason and leaves nothing behind; the process runs
    on unharmed."""
    d = fresh("enospc")
    small = os.path.join(d, "small")
    os.mkdir(small)
    sh("mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", small)
    t = Target(d)
    try:
        img = os.path.join(small, "img")
        status, _, err = sh(CKPT, str(t.pid), "-o", img, check=False)
        assert status != 0 and "No space left on device" in err, (status, err)
        assert os.listdir(small) == [], os.listdir(small)
        r, w = os.pipe()
        os.close(r)
        p = subprocess.run([CKPT, str(t.pid)], stdout=w, stderr=subprocess.PIPE, text=True,
                           timeout=120)
        os.close(w)
        assert p.returncode != 0 and "Broken pipe" in p.stderr, (p.returncode, p.stderr)
        before = t.counter()
        wait_for(lambda: t.counter() > before + 5, "the counter to go on")
        state = open(f"/proc/{t.pid}/stat").read().rsplit(")", 1)[1].split()[0]
        assert state in "RS", f"the process is in state {state}"
        # And it is still whole: its checkpoint succeeds.
        sh(CKPT, str(t.pid), "-o", os.path.join(d, "img"))
    finally:
        t.kill()
        sh("umount", small, check=False)


sys.exit(run([
    image_is_complete_and_describes_process,
    memory_pages_hold_the_pattern,
    untouched_memory_costs_nothing,
    process_runs_on_after_checkpoint,
    kill_flag_kills_process,
    image_streams_through_a_pipe,
    socket_refused_with_reason,
    pipe_saved_with_contents,
    task_state_refused_with_reason,
    signals_and_handlers_saved,
    open_file_saved,
    unprivileged_checkpoint_rejected,
    show_rejects_damaged_images,
    image_appears_whole_and_private,
    write_failures_leave_the_process_running,
]))
