# SPDX-License-Identifier: GPL-2.0
"""A small KTAP producer for the Python selftests, in the manner of kselftest's ksft.py.

Each test is a function; a failed `assert` or an exception fails it, `skip(reason)` skips
it. Output: `TAP version 13`, the plan, one `ok`/`not ok` line per test, and the totals.
"""
import os
import signal
import struct
import subprocess
import sys
import time
import traceback

# A slow guest (the debug kernel: KASAN, lockdep, kmemleak under TCG) sets CKPT_TEST_SLOW to
# a factor every timeout of sh() and wait_for() is multiplied by; the normal run leaves it unset.
SLOW = float(os.environ.get("CKPT_TEST_SLOW") or 1)
TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(TOP, "selftests", "out")
TARGET = os.path.join(OUT, "targets", "target")
BIN = os.path.join(TOP, "userspace", "target", "x86_64-unknown-linux-gnu", "release")
CKPT = os.path.join(BIN, "ckpt")
RSTR = os.path.join(BIN, "rstr")


def scratch(prefix):
    """A fresh directory for one test file's processes and images, on the tmpfs that
    run_tests.sh mounts (CKPT_TEST_TMP), readable by the user the unprivileged tests use;
    returns a function making one subdirectory per test."""
    import tempfile
    top = tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("CKPT_TEST_TMP", "/tmp"))
    os.chmod(top, 0o755)

    def fresh(name):
        d = os.path.join(top, name)
        os.mkdir(d)
        return d

    return fresh


class Skip(Exception):
    pass


def skip(reason):
    raise Skip(reason)


def run(tests):
    print("TAP version 13")
    print(f"1..{len(tests)}")
    failed = 0
    for i, t in enumerate(tests, 1):
        name = t.__name__
        try:
            t()
            print(f"ok {i} {name}")
        except Skip as s:
            print(f"ok {i} {name} # SKIP {s}")
        except Exception:  # noqa: BLE001 - any failure of a test is reported, not raised
            failed += 1
            for line in traceback.format_exc().rstrip().splitlines():
                print(f"# {line}")
            print(f"not ok {i} {name}")
        sys.stdout.flush()
    print(f"# Totals: pass:{len(tests) - failed} fail:{failed}")
    return 1 if failed else 0


def sh(*args, check=True, **kw):
    """Runs a command, returning (status, stdout, stderr) as text. A command that hangs
    fails the test after `timeout` seconds (300 by default, times SLOW) instead of the whole
    run."""
    kw["timeout"] = kw.get("timeout", 300) * SLOW
    p = subprocess.run(args, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} exited {p.returncode}: {p.stderr.strip()}")
    return p.returncode, p.stdout, p.stderr


def sh_unprivileged(*args):
    """Runs a command as user 65534 with /dev/checkpoint open to everyone for the time of
    the call, so that what refuses it is the kernel's own checks, not the device's mode."""
    mode = os.stat("/dev/checkpoint").st_mode
    os.chmod("/dev/checkpoint", 0o666)
    try:
        return sh(*args, check=False, user=65534)
    finally:
        os.chmod("/dev/checkpoint", mode & 0o777)


def running(pid):
    """A process with this pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def reaped(pid):
    """No process, not even a zombie, has this pid: it is free again."""
    return not os.path.exists(f"/proc/{pid}")


def kill_reaped(pid):
    """SIGKILL to PID, then waits until it is reaped (by its parent, which must not be the
    caller: a child of the caller is reaped with its Popen's wait())."""
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    wait_for(lambda: reaped(pid), f"pid {pid} to die and be reaped")


def image_records(data):
    """(kind, offset of the header, payload length) of every record of an image's bytes:
    an 8-byte header (kind, length), then the payload padded to 8 bytes."""
    off = 0
    while off < len(data):
        kind, ln = struct.unpack_from("<II", data, off)
        yield kind, off, ln
        off += 8 + ln + (-ln % 8)


def read_info(status):
    """A target's STATUS.info file of key=value words as a dict; None until it holds pid=."""
    try:
        with open(status + ".info") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    if "pid=" not in text:
        return None
    return dict(line.split("=", 1) for line in text.split())


def wait_for(cond, what, timeout=30.0):
    end = time.monotonic() + timeout * SLOW
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


class Target:
    """A running selftests/targets/target process, with its status files in a fresh dir."""

    def __init__(self, tmp, *opts, user=None):
        self.status = os.path.join(tmp, "status")
        kw = {}
        if user is not None:
            kw["user"] = user
        self.proc = subprocess.Popen([TARGET, self.status, *opts], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
        self.pid = self.proc.pid
        self.info = wait_for(lambda: read_info(self.status), "the target to start")

    def counter(self):
        """The last count the process wrote; 0 if it has not written a whole line yet
        (the line is rewritten in place, so a read can see it half-written)."""
        try:
            with open(self.status) as f:
                words = f.read().split()
            return int(words[1]) if len(words) >= 2 and words[0] == "counter" else 0
        except (OSError, ValueError):
            return 0

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()


def show_json(image):
    """`ckpt show --json IMAGE` as a list of records."""
    import json
    _, out, _ = sh(CKPT, "show", "--json", image)
    return [json.loads(line) for line in out.splitlines()]


def records(recs, kind):
    return [r for r in recs if r["type"] == kind]
