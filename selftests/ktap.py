# SPDX-License-Identifier: GPL-2.0
"""A small KTAP producer for the Python selftests, in the manner of kselftest's ksft.py.

Each test is a function; a failed `assert` or an exception fails it, `skip(reason)` skips
it. Output: `TAP version 13`, the plan, one `ok`/`not ok` line per test (`ok N NAME # SKIP
REASON` for a skip), and ksft.py's totals line; exit status 1 if a test failed, else 0.

The tests find what they run without knowing where it was built: ckpt and rstr on PATH
(scripts/vm puts the build's there), the target programs in CKPT_TARGETS or in targets/
next to this file (an installed tree, make install) or out/targets/ (the source tree).
"""
import contextlib
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
import traceback

# A slow guest (the debug kernel: KASAN, lockdep, kmemleak under TCG) sets CKPT_TEST_SLOW to
# a factor every timeout of sh() and wait_for() is multiplied by; the normal run leaves it unset.
SLOW = float(os.environ.get("CKPT_TEST_SLOW") or 1)
HERE = os.path.dirname(os.path.abspath(__file__))
# The processes a test starts and checkpoints are its own: not a runner's preloaded library
# (kselftest's runner.sh runs each test under stdbuf, which preloads libstdbuf.so, and a
# dynamically linked process such as /usr/bin/sleep would map it).
for _var in ("LD_PRELOAD", "_STDBUF_I", "_STDBUF_O", "_STDBUF_E"):
    os.environ.pop(_var, None)


def _targets_dir():
    """Where the target programs (selftests/targets/*.c, built) are: CKPT_TARGETS if the
    runner sets it, else targets/ next to this file (an installed tree: make install), else
    out/targets/ next to it (the source tree, built by make into selftests/out). Canonical,
    as /proc/PID/exe and /proc/PID/maps name them."""
    env = os.environ.get("CKPT_TARGETS")
    if env:
        return os.path.realpath(env)
    for d in (os.path.join(HERE, "targets"), os.path.join(HERE, "out", "targets")):
        if os.access(os.path.join(d, "target"), os.X_OK):
            return os.path.realpath(d)
    sys.exit(f"ktap: no built target programs in {HERE}/targets or {HERE}/out/targets "
             "(run make, or set CKPT_TARGETS)")


def _tool(name):
    """The absolute path of the tool NAME (ckpt, rstr) found on PATH: scripts/vm puts the
    build's on it."""
    path = shutil.which(name)
    if path is None:
        sys.exit(f"ktap: {name} is not on PATH (scripts/vm puts the built tools there)")
    return os.path.realpath(path)


TARGETS = _targets_dir()


def target(name):
    """The path of the target program NAME (tree, correct, refusals...)."""
    return os.path.join(TARGETS, name)


TARGET = target("target")
CKPT = _tool("ckpt")
RSTR = _tool("rstr")


def scratch_root():
    """Where test files go: CKPT_TEST_TMP if set, else a tmpfs at /run/ckpt-tests, mounted
    by the first test file that needs it. A tmpfs of the guest is fast and has none of the
    9p quirks of the host-shared /tmp (a read racing a truncating writer fails with ENODATA
    there)."""
    d = os.environ.get("CKPT_TEST_TMP")
    if d:
        return d
    d = "/run/ckpt-tests"
    os.makedirs(d, exist_ok=True)
    if not os.path.ismount(d):
        sh("mount", "-t", "tmpfs", "-o", "mode=0755", "tmpfs", d)
    return d


def scratch(prefix):
    """A fresh directory for one test file's processes and images (under scratch_root()),
    readable by the user the unprivileged tests use; returns a function making one
    subdirectory per test."""
    import atexit
    import shutil
    import tempfile
    top = tempfile.mkdtemp(prefix=prefix, dir=scratch_root())
    os.chmod(top, 0o755)
    # The guest's tmpfs holds every test file's images: each file's go when it ends
    # (CKPT_TEST_KEEP=1 keeps them to look at).
    if not os.environ.get("CKPT_TEST_KEEP"):
        atexit.register(shutil.rmtree, top, ignore_errors=True)

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
    failed = skipped = 0
    for i, t in enumerate(tests, 1):
        name = t.__name__
        try:
            t()
            print(f"ok {i} {name}")
        except Skip as s:
            skipped += 1
            print(f"ok {i} {name} # SKIP {s}")
        except Exception:  # noqa: BLE001 - any failure of a test is reported, not raised
            failed += 1
            for line in traceback.format_exc().rstrip().splitlines():
                print(f"# {line}")
            print(f"not ok {i} {name}")
        sys.stdout.flush()
    # ksft.py's totals line; a skipped test is no failure (exit 0), as in ksft.finished().
    passed = len(tests) - failed - skipped
    print(f"# Totals: pass:{passed} fail:{failed} xfail:0 xpass:0 skip:{skipped} error:0")
    return 1 if failed else 0


def sh(*args, check=True, **kw):
    """Runs a command, returning (status, stdout, stderr) as text. A command that hangs
    fails the test after `timeout` seconds (300 by default, times SLOW) instead of the whole
    run."""
    kw["timeout"] = kw.get("timeout", 300) * SLOW
    timeout = kw.pop("timeout")
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          **kw) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            # Where everything was while the command still hung, then kill it.
            hung = where_hung()
            proc.kill()
            proc.communicate()
            raise AssertionError(f"{' '.join(map(str, args))} timed out after {timeout} s\n"
                                 f"{hung}") from None
    p = subprocess.CompletedProcess(args, proc.returncode, out, err)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} exited {p.returncode}: {p.stderr.strip()}")
    return p.returncode, p.stdout, p.stderr


def where_hung():
    """What every user process is doing, and the kernel stack of each one not running: for
    the message of a command that timed out (subprocess has killed it by then; its
    children and the tasks it restored remain)."""
    lines = []
    for d in sorted((d for d in os.listdir("/proc") if d.isdigit()), key=int):
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
            comm = st[st.index("(") + 1:st.rindex(")")]
            state, ppid, pgid = st.rsplit(")", 1)[1].split()[:3]
            if d == "2" or ppid == "2":
                continue    # a kernel thread
            with open(f"/proc/{d}/wchan") as f:
                wchan = f.read()
            stack = ""
            if state in "DStT" and os.path.exists(f"/proc/{d}/stack"):
                with open(f"/proc/{d}/stack") as f:
                    frames = [line.split()[1].split("+")[0] for line in f if line.strip()]
                    stack = " <- ".join(frames[:8])
        except (OSError, ValueError, IndexError):
            continue
        lines.append(f"{d} ppid {ppid} pgid {pgid} {state} {comm} {wchan} {stack}".rstrip())
    return "processes when it timed out:\n" + "\n".join(lines[-80:])


def sh_unprivileged(*args):
    """Runs a command as user 65534 with /dev/checkpoint open to everyone for the time of
    the call, so that what refuses it is the kernel's own checks, not the device's mode."""
    mode = os.stat("/dev/checkpoint").st_mode
    os.chmod("/dev/checkpoint", 0o666)
    try:
        return sh(*args, check=False, user=65534)
    finally:
        os.chmod("/dev/checkpoint", mode & 0o777)


def stat(pid):
    """(state, ppid, pgid, sid) of a process or thread; None if there is none."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    f = s[s.rindex(")") + 2:].split()
    return f[0], int(f[1]), int(f[2]), int(f[3])


def running(pid):
    """A process with this pid exists and is not a zombie."""
    s = stat(pid)
    return s is not None and s[0] != "Z"


def status_field(path, key):
    """A field of /proc/PATH/status: "PID" or "PID/task/TID"."""
    with open(f"/proc/{path}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return line.split(":", 1)[1].strip()
    raise KeyError(key)


def nspid(pid):
    return [int(x) for x in status_field(pid, "NSpid").split()]


def ns_inode(pid, kind):
    """The inode of PID's namespace of KIND (uts, ipc, net...): its identity."""
    return os.stat(f"/proc/{pid}/ns/{kind}").st_ino


def in_namespace(kind, inode):
    """The processes whose namespace of KIND is INODE."""
    out = []
    for e in os.listdir("/proc"):
        try:
            if e.isdigit() and os.stat(f"/proc/{e}/ns/{kind}").st_ino == inode:
                out.append(int(e))
        except OSError:
            pass
    return out


def kill_all(launcher, *pids):
    """Kills PIDS (those still running) and LAUNCHER, the Popen that started a container."""
    for p in pids:
        if p and running(p):
            os.kill(p, signal.SIGKILL)
    if launcher.poll() is None:
        launcher.kill()
        launcher.wait()


def ns_members(pid):
    """{pid inside: pid outside} of every process in the pid namespace of PID."""
    ns = os.readlink(f"/proc/{pid}/ns/pid")
    out = {}
    for e in os.listdir("/proc"):
        try:
            if e.isdigit() and os.readlink(f"/proc/{e}/ns/pid") == ns:
                out[nspid(e)[-1]] = int(e)
        except OSError:
            pass
    return out


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

    def __init__(self, tmp, *opts, user=None, group=None, prefix=()):
        self.status = os.path.join(tmp, "status")
        # A target started before in this directory left its files: read_info() would
        # take the old one's for this one's, which may not have started yet.
        for stale in (self.status, self.status + ".info"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(stale)
        kw = {}
        if user is not None:
            kw["user"] = user
        if group is not None:
            kw.update(group=group, extra_groups=[])
        # PREFIX: a command that executes the target in the same process (`setarch -R`).
        self.proc = subprocess.Popen([*prefix, TARGET, self.status, *opts], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
        self.pid = self.proc.pid
        self.info = wait_for(lambda: read_info(self.status), "the target to start")

    def line(self):
        """The process's status line as a dict (counter, usr1, verified, bad, got, ...);
        None until it has written a whole one (the line is rewritten in place, so a read
        can see it half-written)."""
        try:
            with open(self.status) as f:
                words = f.read().split()
            if words[:1] != ["counter"] or len(words) % 2:
                return None
            return {k: int(v) for k, v in zip(words[0::2], words[1::2])}
        except (OSError, ValueError):
            return None

    def counter(self):
        """The last count the process wrote; 0 if it has not written a whole line yet."""
        s = self.line()
        return s["counter"] if s else 0

    def verify(self, pid=None):
        """The process (at PID, default its own: a restored one may have another) checks
        its memory pattern or mapped areas on SIGUSR1: asserts it did, found no word
        changed, and counts on; returns its status line."""
        pid = pid or self.pid
        before = wait_for(self.line, f"pid {pid}'s status line")
        os.kill(pid, signal.SIGUSR1)

        def checked():
            s = self.line()
            return s if s and s["verified"] > before["verified"] and s["counter"] > before["counter"] + 2 else None
        after = wait_for(checked, f"pid {pid} to check its memory and count on", timeout=60)
        assert after["bad"] == 0, f"pid {pid}: {after['bad']} words of its memory changed: {after}"
        st = stat(pid)
        # Running or asleep (D for a moment is I/O); never stopped, traced or dead.
        assert st is not None and st[0] not in "tTZX", f"pid {pid} is in state {st}"
        return after

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


# An ordinary user: uid and gid 65534, no supplementary group, no capability; _CR: with
# CAP_CHECKPOINT_RESTORE (the right to choose pids) only, as rstr needs it.
NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "--inh-caps=-all"]
NOBODY_CR = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
             "--inh-caps=+checkpoint_restore", "--ambient-caps=+checkpoint_restore"]


@contextlib.contextmanager
def device_open_to_all():
    """/dev/checkpoint readable and writable by everyone for the time of the block."""
    mode = os.stat("/dev/checkpoint").st_mode
    os.chmod("/dev/checkpoint", 0o666)
    try:
        yield
    finally:
        os.chmod("/dev/checkpoint", mode & 0o777)


class Tree:
    """A tree.c tree, its root started in a session of its own, writing its errors to
    DIR/stderr. When the `with` block ends, every process with that file as its fd 2
    (restored or not, in any pid namespace), every process the test named with watch(),
    and the init of a pid namespace any of them is in, is killed."""

    def __init__(self, mode, d, *args, binary=None):
        self.dir = d
        self.stderr = os.path.join(d, "stderr")
        with open(self.stderr, "w") as err:
            self.proc = subprocess.Popen([binary or target("tree"), mode, d, *map(str, args)], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        self.root = self.proc.pid
        self.pids = {self.root}

    def __enter__(self):
        return self

    def members(self):
        """The running processes whose fd 2 is this tree's stderr file."""
        out = set()
        for e in os.listdir("/proc"):
            try:
                if e.isdigit() and os.readlink(f"/proc/{e}/fd/2") == self.stderr:
                    out.add(int(e))
            except OSError:
                pass
        return out

    def __exit__(self, *exc):
        doomed = self.pids | self.members()
        depth = len(nspid(os.getpid()))
        for p in list(doomed):
            try:
                if len(nspid(p)) > depth:
                    doomed.add(ns_members(p)[1])
            except (OSError, KeyError):
                pass
        for p in doomed:
            if running(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        try:
            wait_for(lambda: not any(running(p) for p in doomed), "the tree to die", timeout=120)
        except AssertionError:
            if exc[0] is None:
                raise

    def watch(self, pids):
        self.pids.update(pids)

    def report(self, name):
        """The pairs of the process's file as a dict (numbers as ints); None before its
        first report. The file is replaced whole, never rewritten in place."""
        try:
            with open(os.path.join(self.dir, name)) as f:
                words = f.read().split()
        except FileNotFoundError:
            return None
        return {k: int(v) if re.fullmatch(r"-?\d+", v) else v for k, v in zip(words[0::2], words[1::2])}

    def reports(self, names, what, cond=lambda name, r: True, timeout=60):
        """{name: report} once every one of NAMES has reported and COND holds for each."""
        def all_in():
            out = {}
            for n in names:
                r = self.report(n)
                if r is None or not cond(n, r):
                    return None
                out[n] = r
            return out
        return wait_for(all_in, what, timeout)

    def checkpoint(self, pids, *opts, pid=None):
        """ckpt --kill the tree at PID (default: the root), then wait until every one of
        PIDS is gone (their pids free again). Returns the image and the seconds ckpt took."""
        img = os.path.join(self.dir, "img")
        pids = list(pids)
        self.limit = 120 + len(pids) / 4     # seconds for ckpt, and later rstr, to finish
        t = time.monotonic()
        sh(CKPT, "--kill", *opts, str(pid or self.root), "-o", img, timeout=self.limit)
        took = time.monotonic() - t
        self.proc.wait(timeout=60)
        try:
            wait_for(lambda: all(stat(p) is None for p in pids), "", timeout=30 + len(pids) / 20)
        except AssertionError:
            left = [p for p in pids if stat(p) is not None]
            raise AssertionError(f"ckpt --kill left {len(left)} of the {len(pids)} processes: {left[:8]}") from None
        return img, took

    def restart(self, img, *opts):
        """rstr --detach IMG: returns the pid it printed and the seconds it took."""
        t = time.monotonic()
        p = subprocess.Popen([RSTR, "--detach", *opts, img], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            p.wait(timeout=self.limit)
        finally:
            if p.poll() is None:
                p.kill()
        took = time.monotonic() - t
        try:
            out, err = p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            raise AssertionError("rstr --detach exited, but a process keeps its stdout or stderr open") from None
        assert p.returncode == 0, f"rstr --detach exited {p.returncode}: {err.strip()}"
        assert re.fullmatch(r"\d+\n?", out), f"rstr --detach printed {out!r}, not a pid"
        self.watch([int(out)])
        return int(out), took

    def checkpoint_restart(self, pids, *ckpt_opts, rstr_opts=(), pid=None):
        """Both of the above; returns what rstr printed."""
        img, _ = self.checkpoint(pids, *ckpt_opts, pid=pid)
        return self.restart(img, *rstr_opts)[0]

    def checkpoint_restart_as_nobody(self, pids, check_image=None):
        """As uid 65534: ckpt --kill of the root with no capability, then (CHECK_IMAGE(img)
        first, if given) rstr --detach with CAP_CHECKPOINT_RESTORE only, /dev/checkpoint
        open to all meanwhile. The tree's directory and stderr must be the user's. Returns
        the pid rstr printed."""
        img = os.path.join(self.dir, "img")
        pids = list(pids)
        with device_open_to_all():
            sh(*NOBODY, CKPT, "--kill", str(self.root), "-o", img)
            self.proc.wait(timeout=60)  # the root, ckpt --kill'ed, is reaped by its parent: us
            wait_for(lambda: all(stat(p) is None for p in pids), "the tree to go")
            if check_image:
                check_image(img)
            _, out, _ = sh(*NOBODY_CR, RSTR, "--detach", img)
        assert re.fullmatch(r"\d+\n?", out), out
        return int(out)

    def checkpoint_restart_as(self, uid, pids, check_image):
        """As root if UID is None (checkpoint, CHECK_IMAGE(img), restart), else as uid 65534
        (checkpoint_restart_as_nobody, the tree's stderr made the user's first: the restart
        reopens it as the user)."""
        if uid is None:
            img, _ = self.checkpoint(pids)
            check_image(img)
            self.restart(img)
        else:
            os.chown(self.stderr, uid, uid)
            self.checkpoint_restart_as_nobody(pids, check_image)

    def stderr_text(self):
        """What the tree wrote on its stderr."""
        with open(self.stderr) as f:
            return f.read().strip()

    def poke(self, name, sig, key):
        """Sends SIG to the process NAME and waits for its report's KEY to count it."""
        r = self.report(name)
        os.kill(r["pid"], sig)
        return self.reports([name], f"{name} to handle signal {sig}", lambda _, s: s[key] == r[key] + 1)[name]


def rewrite_records(image, kind, change):
    """Rewrites IMAGE in place: the payload of every record of type KIND (a number,
    uapi/image.rs `rec`) becomes CHANGE(payload), of the same length."""
    import struct
    with open(image, "rb") as f:
        data = bytearray(f.read())
    at = 0
    while at + 8 <= len(data):
        k, n = struct.unpack_from("<II", data, at)
        if k == kind:
            new = change(bytes(data[at + 8:at + 8 + n]))
            assert len(new) == n, "a rewritten record keeps its length"
            data[at + 8:at + 8 + n] = new
        at += 8 + n + (-n % 8)
    with open(image, "wb") as f:
        f.write(data)


TASK_ATTRS = 16   # uapi/image.rs rec::TASK_ATTRS
