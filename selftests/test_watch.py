#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Watching ckpt and rstr work: the progress bar on a terminal (and nowhere else, nor with
--quiet), rstr's -v, --log-file (the module's own lines per task) and --stats, checked
against the image and against ckpt's own figures (selftests/targets/target.c --mem)."""
import json
import os
import pty
import select
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import (CKPT, NOBODY_CR, RSTR, Target, device_open_to_all, run, running, scratch, sh,  # noqa: E402
                  wait_for)

fresh = scratch("ckpt-watch-")


def on_a_terminal(*args):
    """Runs a command with its standard error on a new pseudo-terminal (stdout a pipe):
    (exit status, stdout, what the terminal got)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=slave)
    os.close(slave)
    got = b""
    while True:
        r, _, _ = select.select([master], [], [], 300)
        if not r:
            proc.kill()
            raise AssertionError(f"{args} hung; the terminal had {got!r}")
        try:
            chunk = os.read(master, 4096)
        except OSError:     # EIO: every writer has closed the slave
            break
        if not chunk:
            break
        got += chunk
    out = proc.stdout.read()
    proc.wait(timeout=60)
    os.close(master)
    return proc.returncode, out.decode(), got.decode(errors="replace")


def memory_checked(t):
    """The restored target's 12 MiB pattern holds, checked by the target itself."""
    before = (t.line() or {}).get("verified", 0)
    os.kill(t.pid, signal.SIGUSR1)
    wait_for(lambda: (t.line() or {}).get("verified", 0) > before, "the memory check",
             timeout=120)
    assert t.line()["bad"] == 0, f"{t.line()['bad']} words of the pattern changed"


def kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def checkpoint_stats(d, t):
    """ckpt --kill --stats=json of the target: (image, the figures)."""
    img = os.path.join(d, "img")
    _, _, err = sh(CKPT, "--kill", "--stats=json", str(t.pid), "-o", img)
    t.proc.wait(timeout=10)
    return img, json.loads(err.strip().splitlines()[-1])


def progress_bar_on_a_terminal():
    d = fresh("bar")
    t = Target(d, "--mem", "12", "--signals")
    img = os.path.join(d, "img")
    st, _, tty = on_a_terminal(CKPT, "--kill", str(t.pid), "-o", img)
    t.proc.wait(timeout=10)
    assert st == 0, tty
    assert "checkpoint [" in tty and "MiB" in tty and "tasks " in tty, \
        f"no progress bar on the terminal: {tty!r}"
    st, out, tty = on_a_terminal(RSTR, "--detach", img)
    assert st == 0, tty
    try:
        assert int(out) == t.pid, out
        assert "restart [" in tty and "MiB" in tty and "tasks 1/1" in tty, \
            f"no progress bar on the terminal: {tty!r}"
        memory_checked(t)
    finally:
        kill(t.pid)


def no_bar_on_a_pipe_nor_with_quiet():
    d = fresh("quiet")
    t = Target(d, "--mem", "12")
    img = os.path.join(d, "img")
    _, _, err = sh(CKPT, str(t.pid), "-o", img)
    assert err == "", f"ckpt wrote on a pipe: {err!r}"
    st, _, tty = on_a_terminal(CKPT, "--quiet", "--kill", str(t.pid), "-o", img)
    t.proc.wait(timeout=10)
    assert st == 0 and tty == "", f"ckpt --quiet wrote on the terminal: {tty!r}"
    st, out, tty = on_a_terminal(RSTR, "-q", "--detach", img)
    try:
        assert st == 0 and tty == "", f"rstr -q wrote on the terminal: {tty!r}"
        assert int(out) == t.pid
    finally:
        kill(t.pid)
    wait_for(lambda: not running(t.pid), "the restarted target to die")
    _, out, err = sh(RSTR, "--detach", img)
    try:
        assert err == "", f"rstr wrote on a pipe: {err!r}"
    finally:
        kill(int(out))


def restart_log_and_stats():
    """rstr --log-file holds rstr's steps and the module's line for the task; --stats=json
    gives the pages the image has, read or kept, as ckpt counted them."""
    d = fresh("log")
    t = Target(d, "--mem", "8", "--signals")
    img, ck = checkpoint_stats(d, t)
    log = os.path.join(d, "rstr.log")
    _, out, err = sh(RSTR, "--detach", "--stats=json", "--log-file", log, img)
    try:
        assert int(out) == t.pid
        rs = json.loads(err.strip().splitlines()[-1])
        assert rs["tasks"] == 1, rs
        # Every page the image holds (PAGES and PAGES_REF) comes back, read by the module.
        assert rs["pages"] == ck["pages_written"] + ck["pages_shared"], (rs, ck)
        assert rs["pages_read"] + rs["pages_kept"] == rs["pages"], rs
        assert rs["pages"] >= 8 * 256, rs
        assert rs["image_bytes"] == os.path.getsize(img) == ck["image_bytes"], (rs, ck)
        assert rs["restore_ms"] > 0, rs
        lines = open(log).read().splitlines()
        assert oct(os.stat(log).st_mode & 0o777) == "0o600"
        assert any(f"rstr: restart from {img}" in l for l in lines), lines
        assert any("rstr: the tree runs" in l for l in lines), lines
        mine = [l for l in lines if l.startswith(f"pid {t.pid}: restored ")]
        assert len(mine) == 1, lines
        assert f"{rs['pages_read']} pages read, {rs['pages_kept']} pages kept" in mine[0], mine
        memory_checked(t)
    finally:
        kill(t.pid)


def restart_verbose_and_stats_as_nobody():
    """As uid 65534 (with CAP_CHECKPOINT_RESTORE only, to choose its pid): -v puts the
    module's line on standard error; the text --stats names the figures."""
    d = fresh("nobody")
    os.chmod(d, 0o777)
    t = Target(d, "--mem", "8", user=65534, group=65534)
    img = os.path.join(d, "img")
    with device_open_to_all():
        sh(*NOBODY_CR, CKPT, "--kill", str(t.pid), "-o", img)
        t.proc.wait(timeout=10)
        st, out, err = sh(*NOBODY_CR, RSTR, "-v", "--stats", "--detach", img, check=False)
    try:
        assert st == 0, err
        assert int(out) == t.pid
        assert f"pid {t.pid}: restored " in err, err
        assert "rstr: the tree runs" in err, err
        stats = dict(l.split(":", 1) for l in err.splitlines() if ":" in l
                     and l.split(":", 1)[0] in ("tasks", "pages read", "restore time"))
        assert stats["tasks"].strip() == "1", err
        assert int(stats["pages read"]) >= 8 * 256, err
        assert stats["restore time"].strip().endswith(" ms"), err
        assert open(f"/proc/{t.pid}/status").read().count("\t65534\t") >= 2
    finally:
        kill(t.pid)


if __name__ == "__main__":
    sys.exit(run([progress_bar_on_a_terminal, no_bar_on_a_pipe_nor_with_quiet,
                  restart_log_and_stats, restart_verbose_and_stats_as_nobody]))
