#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""ckpt check: a dry run lists every reason a tree cannot be checkpointed at once, each
naming its task, descriptor or memory area, writes no image and leaves the tree running;
a supported tree passes; `ckpt check` alone looks at the machine
(selftests/targets/refusals.c, several of its modes at once)."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import CKPT, read_info, run, scratch, sh, target, wait_for  # noqa: E402

REFUSALS = target("refusals")
fresh = scratch("ckpt-check-")

# A memfd open for writing only (a descriptor), a gs base (the task), shared memory grown
# past its object (a memory area), a SysV semaphore changed (seen by ckpt, not the module).
SEVERAL = "memfd,gsbase,grown,sem"


class Proc:
    def __init__(self, name, mode, user=None):
        self.dir = fresh(name)
        os.chmod(self.dir, 0o777)
        self.status = os.path.join(self.dir, "status")
        self.proc = subprocess.Popen([REFUSALS, self.status, mode], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     user=user)
        self.info = wait_for(lambda: read_info(self.status), f"refusals {mode} to start")
        self.pid = int(self.info["pid"])

    def counter(self):
        try:
            w = open(self.status).read().split()
        except OSError:
            return None
        return (int(w[1]), w[3]) if len(w) >= 4 and w[0] == "counter" else None

    def runs_on(self):
        """The process counts on after the check, its memory intact."""
        c0 = wait_for(self.counter, "a status line")
        c1 = wait_for(lambda: (lambda c: c if c and c[0] > c0[0] else None)(self.counter()),
                      f"process {self.pid} to run on after the check")
        assert c1[1] == "OK", f"process {self.pid}'s memory changed: {c1}"
        state = open(f"/proc/{self.pid}/status").read()
        assert "TracerPid:\t0" in state, "still traced after the check"

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        if "semid" in self.info:
            subprocess.run(["ipcrm", "-s", self.info["semid"]], check=False)


def check_json(pid, user=None):
    """ckpt check PID --json: (exit status, the object)."""
    if user is None:
        st, out, err = sh(CKPT, "check", str(pid), "--json", check=False, timeout=120)
    else:
        mode = os.stat("/dev/checkpoint").st_mode
        os.chmod("/dev/checkpoint", 0o666)
        try:
            st, out, err = sh(CKPT, "check", str(pid), "--json", check=False, timeout=120,
                              user=user)
        finally:
            os.chmod("/dev/checkpoint", mode & 0o777)
    assert out.strip(), f"ckpt check printed no JSON (exit {st}): {err}"
    return st, json.loads(out)


def assert_all_four(p, st, v):
    assert st == 1, f"ckpt check exited {st}, want 1: {v}"
    assert v["ok"] is False and v["pid"] == p.pid and v["tasks"] == 1, v
    reasons = v["reasons"]
    texts = [r["reason"] for r in reasons]
    assert len(reasons) == 4, f"want the 4 reasons, got {len(reasons)}:\n" + "\n".join(texts)
    fd = int(p.info["fd"])
    by_fd = [r for r in reasons if r["fd"] == fd]
    assert len(by_fd) == 1 and "memfd" in by_fd[0]["reason"], texts
    assert by_fd[0]["task"] == p.pid, by_fd
    addr = int(p.info["addr"], 16)
    by_area = [r for r in reasons if r["area"]]
    assert len(by_area) == 1, texts
    start = int(by_area[0]["area"].split("-")[0], 16)
    assert start == addr and by_area[0]["task"] == p.pid, (by_area, hex(addr))
    assert any("gs" in t.lower() and r["task"] == p.pid
               for r, t in zip(reasons, texts)), texts
    assert any("sem" in t.lower() or "SysV" in t for t in texts), texts


def several_reasons_at_once():
    p = Proc("several", SEVERAL)
    try:
        before = set(os.listdir(p.dir))
        st, v = check_json(p.pid)
        assert_all_four(p, st, v)
        # Nothing written: no image anywhere near, the process runs on untouched.
        assert set(os.listdir(p.dir)) == before, os.listdir(p.dir)
        p.runs_on()
        # A checkpoint stops at one of them (the first), the check names them all.
        img = os.path.join(p.dir, "img")
        st, _, err = sh(CKPT, str(p.pid), "-o", img, check=False, timeout=120)
        assert st == 1 and not os.path.exists(img), (st, err)
        assert any(r["reason"] in err for r in v["reasons"]), (err, v["reasons"])
        # Text: one line per reason, after a header that counts them.
        st, out, _ = sh(CKPT, "check", str(p.pid), check=False, timeout=120)
        assert st == 1 and f"pid {p.pid}: cannot be checkpointed yet" in out, out
        assert "4 reasons" in out, out
        for r in v["reasons"]:
            assert r["reason"] in out, (r, out)
        p.runs_on()
    finally:
        p.kill()


def several_reasons_as_nobody():
    p = Proc("nobody", SEVERAL, user=65534)
    try:
        st, v = check_json(p.pid, user=65534)
        assert_all_four(p, st, v)
        p.runs_on()
    finally:
        p.kill()


def supported_tree_passes():
    p = Proc("plain", "plain")
    try:
        before = set(os.listdir(p.dir))
        st, v = check_json(p.pid)
        assert st == 0, f"ckpt check of a supported process exited {st}: {v}"
        assert v == {"pid": p.pid, "tasks": 1, "ok": True, "reasons": []}, v
        assert set(os.listdir(p.dir)) == before
        p.runs_on()
        st, out, _ = sh(CKPT, "check", str(p.pid), timeout=120)
        assert out.strip() == f"pid {p.pid}: a checkpoint would succeed (1 tasks)", out
        # And it would: a real checkpoint of it works.
        img = os.path.join(p.dir, "img")
        sh(CKPT, str(p.pid), "-o", img, timeout=120)
        assert os.path.getsize(img) > 4096
    finally:
        p.kill()


def log_file_holds_the_modules_lines():
    """ckpt --log-file: ckpt's steps with the time, and the module's own lines (a line per
    task with what it saved, per descriptor and per area; the reason of a refusal)."""
    p = Proc("log", "plain")
    try:
        log = os.path.join(p.dir, "log")
        img = os.path.join(p.dir, "img")
        sh(CKPT, str(p.pid), "-o", img, "--log-file", log, timeout=120)
        text = open(log).read()
        assert oct(os.stat(log).st_mode & 0o777) == "0o600", oct(os.stat(log).st_mode)
        lines = text.splitlines()
        assert lines[0].startswith("[") and f"ckpt: checkpoint of {p.pid} to {img}" in lines[0], text
        task = [l for l in lines if l.startswith(f"task {p.pid}: ") and " records, " in l]
        assert len(task) == 1, text
        _, out, _ = sh(CKPT, "show", img, "--summary", "--json")
        pages = json.loads(out)["pages_saved"]
        assert f" {pages} pages saved of " in task[0], (pages, task[0])
        # Per descriptor (the status file is open) and per area, at the debug level.
        assert any(l.startswith(f"task {p.pid}: fd ") for l in lines), text
        assert any(l.startswith(f"task {p.pid}: memory 0x") for l in lines), text
        assert lines[-1].endswith(f"ckpt: checkpoint of {p.pid} done"), text
        # -v: the per-task line on stderr, not the per-descriptor ones.
        _, _, err = sh(CKPT, "-v", str(p.pid), "-o", img, timeout=120)
        assert f"task {p.pid}: " in err and " records, " in err, err
        assert f"task {p.pid}: fd " not in err, err
        # Without either, nothing on stderr.
        _, _, err = sh(CKPT, str(p.pid), "-o", img, timeout=120)
        assert err == "", err
    finally:
        p.kill()
    q = Proc("log-refused", SEVERAL)
    try:
        log = os.path.join(q.dir, "log")
        st, _, err = sh(CKPT, str(q.pid), "-o", os.path.join(q.dir, "img"), "--log-file", log,
                        check=False, timeout=120)
        assert st == 1, err
        text = open(log).read()
        assert f"checkpoint of {q.pid} refused: " in text, text
        reason = err.strip().split(": error: ", 1)[1]
        assert f"ckpt: error: {reason}" in text, (reason, text)
    finally:
        q.kill()


def stats_match_the_image():
    """ckpt --stats=json: the module's figures are the image's (records, bytes, pages, areas),
    the tree's tasks, and the frozen time is within the total."""
    p = Proc("stats", "plain")
    try:
        img = os.path.join(p.dir, "img")
        _, _, err = sh(CKPT, "--stats=json", str(p.pid), "-o", img, timeout=120)
        st = json.loads(err.strip().splitlines()[-1])
        _, out, _ = sh(CKPT, "show", img, "--summary", "--json")
        summary = json.loads(out)
        assert st["image_bytes"] == os.path.getsize(img) == summary["bytes"], (st, summary)
        assert st["records"] == summary["records"], (st, summary)
        assert st["pages_written"] == summary["pages_saved"] > 0, (st, summary)
        assert st["pages_shared"] == 0 and st["tasks"] == 1, st
        kinds = {k["kind"]: k["count"] for k in summary["kinds"]}
        assert st["vmas"] == kinds["VMA"] and st["files"] == kinds["FILE"], (st, kinds)
        assert st["pages_scanned"] >= st["pages_written"], st
        assert 0 < st["frozen_ms"] <= st["total_ms"], st
        _, _, err = sh(CKPT, "--stats", str(p.pid), "-o", img, timeout=120)
        assert re.search(r"^frozen time: +[0-9.]+ ms$", err, re.M), err
        assert re.search(r"^tasks: +1$", err, re.M) and "descriptors:" in err, err
        p.runs_on()
    finally:
        p.kill()


def machine_check():
    st, out, err = sh(CKPT, "check", "--json", check=False, timeout=60)
    v = json.loads(out)
    items = {i["what"]: i for i in v["items"]}
    assert items["module"]["status"] == "ok", items["module"]
    release = os.uname().release
    assert release in items["module"]["detail"], items["module"]
    assert items["restart pids"]["status"] == "ok", items  # root in the guest
    assert st == (0 if v["ok"] else 1) and v["ok"] is True, (st, v)
    # An ordinary user cannot give tasks their pids: named as a failure, exit 1.
    mode = os.stat("/dev/checkpoint").st_mode
    os.chmod("/dev/checkpoint", 0o666)
    try:
        st, out, _ = sh(CKPT, "check", check=False, user=65534, timeout=60)
    finally:
        os.chmod("/dev/checkpoint", mode & 0o777)
    assert st == 1, out
    assert "FAIL  restart pids" in out and "CAP_CHECKPOINT_RESTORE" in out, out
    assert "cannot work here" in out, out


if __name__ == "__main__":
    sys.exit(run([several_reasons_at_once, several_reasons_as_nobody, supported_tree_passes,
                  log_file_holds_the_modules_lines, stats_match_the_image, machine_check]))
