#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Shell jobs: a process started from a shell, with its standard streams on a terminal (a
pty, the VM's console), restarts on rstr's own terminal; `rstr --fd [PID:]FD=RSTRFD` gives
any descriptor one of rstr's; a file that cannot be reopened still fails, naming its fd.

The process is selftests/targets/shell.c: it writes "count N" lines to a descriptor every
100 ms, and echoes the lines it reads from its standard input.
"""
import fcntl
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import termios

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import CKPT, RSTR, records, run, scratch, sh, show_json, skip, target, wait_for  # noqa: E402

SHELL = target("shell")
fresh = scratch("ckpt-shell-")


def stat(pid):
    """The fields of /proc/PID/stat after the command: state, ppid, pgrp, session,
    tty_nr, tpgid...; None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    return s[s.rindex(")") + 2:].split()


def dead(pid):
    s = stat(pid)
    return s is None or s[0] == "Z"


def kill_pid(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    wait_for(lambda: dead(pid), f"process {pid} to die")


class Reader:
    """Everything read so far from a descriptor (a pty master, a pipe), as text."""

    def __init__(self, fd):
        self.fd = fd
        self.text = ""

    def pump(self, wait=0.05):
        while select.select([self.fd], [], [], wait)[0]:
            try:
                data = os.read(self.fd, 65536)
            except OSError:     # EIO: a pty whose slave is closed everywhere
                return
            if not data:
                return
            self.text += data.decode(errors="replace")
            wait = 0

    def counts(self):
        self.pump()
        # The terminal echoes a Ctrl-Z as "^Z", at the start of the next line.
        return [int(n) for n in re.findall(r"^(?:\^Z)?count (\d+)\r?$", self.text, re.M)]

    def until(self, cond, what, timeout=60):
        return wait_for(lambda: (self.pump(), cond())[1], f"{what}; read so far: {self.text[-400:]!r}",
                        timeout=timeout)


def counts_in(path):
    with open(path) as f:
        return [int(n) for n in re.findall(r"^count (\d+)$", f.read(), re.M)]


def terminals_of(img):
    return {r["fd"]: r.get("terminal", "(not said)") for r in records(show_json(img), "FILE")}


def controlling_terminal():
    """Makes the pty at our standard input our controlling terminal, in a new session: as
    for a program run from a login on that terminal."""
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def pty_job_restarts_on_rstr_terminal():
    """A job of a shell on a pty, checkpointed and killed; the pty goes away; rstr run
    from another pty puts the job on it, in the foreground."""
    d = fresh("pty")
    m1, s1 = os.openpty()
    shell = subprocess.Popen([SHELL, "--job", "--echo"], stdin=s1, stdout=s1, stderr=s1)
    old = Reader(m1)
    old.until(lambda: re.search(r"^job (\d+)", old.text, re.M), "the job to start")
    pid = int(re.search(r"^job (\d+)", old.text, re.M).group(1))
    old.until(lambda: len(old.counts()) > 3, "the job to count")
    # The job is in the foreground of its terminal: it reads what is typed there.
    os.write(m1, b"before\n")
    old.until(lambda: "read before" in old.text, "the job to read its terminal")
    img = os.path.join(d, "img")
    sh(CKPT, "--kill", str(pid), "-o", img)
    wait_for(lambda: dead(pid), "the checkpointed job to die")
    old.pump()
    last = old.counts()[-1]

    # The new terminal first, so that it does not get the old one's number.
    m2, s2 = os.openpty()
    old_name = os.ttyname(s1)
    new_name = os.ttyname(s2)
    os.close(m1)
    os.close(s1)
    shell.kill()
    shell.wait()
    assert not os.path.exists(old_name), f"{old_name} is still there"

    new = Reader(m2)
    rstr = subprocess.Popen([RSTR, img], stdin=s2, stdout=s2, stderr=s2,
                            preexec_fn=controlling_terminal)
    try:
        new.until(lambda: len(new.counts()) > 3 or rstr.poll() is not None,
                  "the restarted job to count on the new terminal")
        assert rstr.poll() is None, f"rstr exited {rstr.returncode}: {new.text!r}"
        c = new.counts()
        assert c[0] == last + 1 and c == list(range(last + 1, last + 1 + len(c))), (last, c)
        assert os.readlink(f"/proc/{pid}/fd/1") == new_name, os.readlink(f"/proc/{pid}/fd/1")
        assert os.readlink(f"/proc/{pid}/fd/0") == new_name
        st = stat(pid)
        # Its session is rstr's, whose controlling terminal is the new pty; its group,
        # still its own, is that terminal's foreground group.
        assert int(st[3]) == rstr.pid, ("session", st[3], rstr.pid)
        assert int(st[2]) == pid, ("group", st[2])
        assert int(st[4]) == os.fstat(s2).st_rdev, ("tty_nr", st[4], os.fstat(s2).st_rdev)
        assert int(st[5]) == pid, ("foreground group", st[5])
        # A read from the terminal in the foreground does not stop it with SIGTTIN.
        os.write(m2, b"after\n")
        new.until(lambda: "read after" in new.text, "the restarted job to read its terminal",
                  timeout=20)
        assert stat(pid)[0] in "RS", stat(pid)[0]
        # Ctrl-Z stops the job, and rstr with it, which takes the terminal back; continuing
        # rstr (a shell's `fg`) gives it to the job again and continues the job.
        os.write(m2, b"\x1a")
        wait_for(lambda: stat(pid)[0] == "T" and stat(rstr.pid)[0] == "T", "job and rstr to stop")
        assert os.tcgetpgrp(m2) == rstr.pid, (os.tcgetpgrp(m2), rstr.pid)
        new.pump()
        stopped_at = new.counts()[-1]
        os.kill(rstr.pid, signal.SIGCONT)
        new.until(lambda: new.counts()[-1] > stopped_at + 3, "the job to go on after fg")
        c = new.counts()
        assert c == list(range(last + 1, last + 1 + len(c))), (last, c)
        assert os.tcgetpgrp(m2) == pid and stat(rstr.pid)[0] == "S", (os.tcgetpgrp(m2), stat(rstr.pid))
        os.write(m2, b"again\n")
        new.until(lambda: "read again" in new.text, "the job to read its terminal after fg")
    finally:
        kill_pid(pid)
        try:
            rstr.wait(timeout=30)
        finally:
            if rstr.poll() is None:
                rstr.kill()
                rstr.wait()
    assert rstr.returncode == 128 + signal.SIGKILL, rstr.returncode
    os.close(s2)
    os.close(m2)
    assert terminals_of(img) == {0: "pty", 1: "pty", 2: "pty"}, terminals_of(img)
    _, text, _ = sh(CKPT, "show", img)
    assert re.search(r"^FILE +fd 1 chardev /dev/pts/\d+ .* terminal \(pty\)$", text, re.M), text


def start_logging(d):
    """shell.c writing to a log file of a directory that is then removed."""
    gone = os.path.join(d, "gone")
    os.mkdir(gone)
    log = os.path.join(gone, "log")
    with open(log, "w") as f:
        p = subprocess.Popen([SHELL], stdin=subprocess.DEVNULL, stdout=f,
                             stderr=subprocess.DEVNULL)
    wait_for(lambda: len(counts_in(log)) > 3, "the process to count")
    img = os.path.join(d, "img")
    sh(CKPT, "--kill", str(p.pid), "-o", img)
    p.wait(timeout=10)
    last = counts_in(log)[-1]
    shutil.rmtree(gone)
    return p.pid, log, img, last


def fd_option_gives_rstr_descriptor():
    """rstr --fd 1=N: the restored stdout is rstr's pipe, not the deleted log."""
    d = fresh("fd-option")
    pid, _, img, last = start_logging(d)
    r, w = os.pipe()
    try:
        sh(RSTR, "--detach", "--fd", f"{pid}:1={w}", img, pass_fds=(w,))
        os.close(w)
        out = Reader(r)
        out.until(lambda: len(out.counts()) > 3, "the restarted process to write to the pipe")
        c = out.counts()
        assert c[0] == last + 1 and c == list(range(last + 1, last + 1 + len(c))), (last, c)
        assert os.readlink(f"/proc/{pid}/fd/1") == f"pipe:[{os.fstat(r).st_ino}]"
        assert os.readlink(f"/proc/{pid}/fd/0") == "/dev/null"
    finally:
        kill_pid(pid)
        os.close(r)
    assert terminals_of(img) == {0: None, 1: None, 2: None}, terminals_of(img)


def unreopenable_file_still_fails():
    """Without --fd, the deleted log fails the restart with a reason that names the
    process, the fd and the path, and says how to give it another descriptor."""
    d = fresh("no-option")
    pid, log, img, _ = start_logging(d)
    status, _, err = sh(RSTR, "--detach", img, check=False)
    assert status != 0, "restarted with its stdout gone"
    assert f"process {pid} fd 1: open {log}: No such file or directory" in err, err
    assert f"--fd {pid}:1=N" in err, err
    assert dead(pid)
    # And a --fd that matches nothing is refused, naming it.
    status, _, err = sh(RSTR, "--detach", "--fd", "7=0", img, check=False)
    assert status != 0 and "--fd 7=0: no process of the image has descriptor 7" in err, err
    assert dead(pid)


def console_job_restarts():
    """A process whose stdin is the VM's console (a virtio port only one opener may hold):
    restarted by rstr on that console, it gets rstr's standard input."""
    try:
        console = os.readlink("/proc/self/fd/0")
    except OSError:
        console = "(closed)"
    if not console.startswith("/dev/vport"):
        skip(f"standard input is {console}, not the VM's console port")
    try:
        os.close(os.open(console, os.O_RDWR | os.O_NOCTTY))
        skip(f"{console} can be opened again: nothing to reproduce")
    except OSError as e:
        assert e.errno == 16, e     # EBUSY: what the restart of the old code met
    d = fresh("console")
    log = os.path.join(d, "log")
    with open(log, "a") as f:
        p = subprocess.Popen([SHELL, "--out", str(f.fileno())], stdin=0,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             pass_fds=(f.fileno(),))
    wait_for(lambda: len(counts_in(log)) > 3, "the process to count")
    img = os.path.join(d, "img")
    sh(CKPT, "--kill", str(p.pid), "-o", img)
    p.wait(timeout=10)
    last = counts_in(log)[-1]
    sh(RSTR, "--detach", img)      # its standard input is our console
    try:
        wait_for(lambda: len(counts_in(log)) > last + 3, "the restarted process to count")
        c = counts_in(log)
        assert c == list(range(1, len(c) + 1)), c[-20:]
        assert os.readlink(f"/proc/{p.pid}/fd/0") == console
    finally:
        kill_pid(p.pid)
    assert terminals_of(img)[0] == "console", terminals_of(img)


TESTS = [
    pty_job_restarts_on_rstr_terminal,
    fd_option_gives_rstr_descriptor,
    unreopenable_file_still_fails,
    console_job_restarts,
]
only = [t for t in TESTS if t.__name__ in sys.argv[1:]]
sys.exit(run(only or TESTS))
