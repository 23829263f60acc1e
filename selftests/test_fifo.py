#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Named pipes (FIFOs): saved by the module (a FILE record of kind fifo per open file
description with its path and flags, one PIPE record per FIFO with its bytes and size),
reopened by rstr, and checked by the program itself after the restart
(selftests/targets/fifo.c): the bytes in the FIFO read back exactly, then the writer's
new ones; O_NONBLOCK on one end only; the size set by F_SETPIPE_SZ; a FIFO whose path
was unlinked, opened O_RDWR and shared by fork, made again as a private FIFO. A FIFO
replaced at its path by another file is refused at restart; a shell pipeline keeps
flowing through its FIFO.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktap  # noqa: E402
from ktap import CKPT, RSTR, records, run, running, scratch, sh, show_json, stat, target, wait_for  # noqa: E402

fresh = scratch("ckpt-fifo-")
FIFO = target("fifo")
SAVED, SIZE = 70000, 128 * 1024


def checked_image(img, d):
    """The image of fifo.c's state mode: one PIPE record per FIFO, FILE records of kind
    fifo naming it; the unlinked FIFO has no path and one description for two processes."""
    recs = show_json(img)
    pipes = {p["id"]: p for p in records(recs, "PIPE")}
    fifos = [f for f in records(recs, "FILE") if f["kind"] == "fifo"]
    named = [f for f in fifos if f["path"] == os.path.join(d, "fifo")]
    gone = [f for f in fifos if f["path"] == ""]
    # The parent's reader, the child's copy of it and the child's writer; the unlinked one
    # in both processes.
    assert len(named) == 3 and len(gone) == 2 and len(fifos) == 5, fifos
    assert len({f["pipe"] for f in named}) == 1 and len({f["obj"] for f in named}) == 2, named
    assert gone[0]["obj"] == gone[1]["obj"], f"the unlinked FIFO is one description shared by fork: {gone}"
    p = pipes[named[0]["pipe"]]
    assert (p["capacity"], p["len"]) == (SIZE, SAVED), p
    g = pipes[gone[0]["pipe"]]
    assert g["len"] == len("gone-bytes"), g
    assert len(pipes) == 2, f"one PIPE record per FIFO: {pipes}"
    for f in fifos:
        first = next(i for i, x in enumerate(recs) if x["type"] == "FILE" and x.get("pipe") == f["pipe"])
        at = next(i for i, x in enumerate(recs) if x["type"] == "PIPE" and x["id"] == f["pipe"])
        assert at < first, f"PIPE {f['pipe']} comes after its first FILE"


def started(t):
    """The pids of fifo.c's parent and child once both filled their FIFOs."""
    r = t.reports(["parent", "child"], "the processes to fill their FIFOs")
    t.watch([r["child"]["pid"]])
    return r["parent"]["pid"], r["child"]["pid"]


def after_restart(t, parent, child):
    assert running(parent) and running(child), "both processes are back"
    os.kill(parent, signal.SIGUSR2)
    got = t.reports(["parent", "child"], "the parent and child to check their FIFOs",
                    lambda n, r: r.get("checked", 1) == 1 and r.get("wrote", 1) == 1)
    assert got["child"]["errors"] == 0 and got["parent"]["errors"] == 0, f"checks failed: {t.stderr_text()}"


def fifo_bytes_flags_and_size_come_back():
    d = fresh("state")
    with ktap.Tree("state", d, binary=FIFO) as t:
        parent, child = started(t)
        img, _ = t.checkpoint([parent, child])
        checked_image(img, d)
        assert stat(parent) is None
        t.restart(img)
        after_restart(t, parent, child)
        assert os.path.exists(os.path.join(d, "fifo")) and not os.path.exists(os.path.join(d, "gone"))


def fifo_as_nobody():
    """The same tree as uid 65534: ckpt with no capability, rstr with only
    CAP_CHECKPOINT_RESTORE; the private FIFO is the user's."""
    d = fresh("nobody")
    os.chown(d, 65534, 65534)
    with ktap.Tree("state", d, 65534, binary=FIFO) as t:
        parent, child = started(t)
        os.chown(t.stderr, 65534, 65534)  # the restart reopens the tree's stderr as the user
        t.checkpoint_restart_as_nobody([parent, child], lambda img: checked_image(img, d))
        with open(f"/proc/{parent}/status") as f:
            assert "Uid:\t65534\t65534\t65534\t65534" in f.read()
        after_restart(t, parent, child)


def fifo_replaced_by_a_file_is_refused_at_restart():
    """The FIFO's path holds a regular file at restart: rstr refuses with the path and
    why, restores nothing, and leaves the file as it was."""
    d = fresh("replaced")
    with ktap.Tree("state", d, binary=FIFO) as t:
        parent, child = started(t)
        img, _ = t.checkpoint([parent, child])
        path = os.path.join(d, "fifo")
        os.unlink(path)
        with open(path, "w") as f:
            f.write("not a fifo\n")
        p = subprocess.run([RSTR, "--detach", img], capture_output=True, text=True, timeout=120)
        assert p.returncode != 0, "rstr restarted it"
        assert f"FIFO {path}: {path} is no longer a FIFO" in p.stderr, p.stderr
        assert stat(parent) is None and stat(child) is None, "nothing is left running"
        with open(path) as f:
            assert f.read() == "not a fifo\n"


def shell_pipeline_keeps_flowing():
    """sh: a counting loop writes into a FIFO, cat copies it into a file; the whole tree
    is checkpointed, killed and restarted, and the count goes on where it was."""
    d = fresh("shell")
    fifo, out = os.path.join(d, "f"), os.path.join(d, "out")
    script = (f"mkfifo {fifo}; (i=0; while :; do i=$((i+1)); echo $i; sleep 0.1; done) > {fifo} & "
              f"cat {fifo} > {out}; wait")
    err = open(os.path.join(d, "stderr"), "w")
    sh_proc = subprocess.Popen(["sh", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=err, start_new_session=True)
    root = sh_proc.pid
    try:
        def lines():
            with open(out) as f:
                return f.read().split()
        wait_for(lambda: os.path.exists(out) and len(lines()) >= 5, "the pipeline to flow")
        img = os.path.join(d, "img")
        # The loop's vfork of sleep cannot be stopped in the middle: try again after it.
        for _ in range(50):
            status, _, why = sh(CKPT, "--kill", str(root), "-o", img, check=False)
            if status == 0 or "is in vfork" not in why:
                break
        assert status == 0, why
        sh_proc.wait(timeout=60)
        before = lines()
        assert before == [str(i) for i in range(1, len(before) + 1)], before
        p = subprocess.run([RSTR, "--detach", img], capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, p.stderr
        wait_for(lambda: len(lines()) >= len(before) + 5, "the count to go on after the restart")
        after = lines()
        assert after == [str(i) for i in range(1, len(after) + 1)], f"the count skipped or repeated: {after}"
    finally:
        for e in os.listdir("/proc"):
            try:
                if e.isdigit() and os.readlink(f"/proc/{e}/fd/2") == err.name:
                    os.kill(int(e), signal.SIGKILL)
            except OSError:
                pass
        if sh_proc.poll() is None:
            sh_proc.kill()
        time.sleep(0.2)


TESTS = [
    fifo_bytes_flags_and_size_come_back,
    fifo_as_nobody,
    fifo_replaced_by_a_file_is_refused_at_restart,
    shell_pipeline_keeps_flowing,
]
if __name__ == "__main__":
    sys.exit(run(TESTS))
