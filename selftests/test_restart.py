#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Restart: a process checkpointed, killed and restarted continues where it was."""
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import scratch, sh_unprivileged, skip, CKPT, RSTR, TARGET, Target, image_records, records, rewrite_records, run, TASK_ATTRS, sh, show_json, wait_for  # noqa: E402

fresh = scratch("ckpt-restart-")


def status_of(path):
    with open(path) as f:
        w = f.read().split()
    return dict(zip(w[0::2], map(int, w[1::2])))


def proc_status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)


def gone(pid):
    try:
        os.kill(pid, 0)
        return False
    except ProcessLookupError:
        return True


def dead(pid):
    """No process with this pid runs: none exists, or only its zombie."""
    try:
        return gone(pid) or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    except OSError:
        return True


def kill_pid(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    wait_for(lambda: dead(pid), "the process to die")


def checkpoint_and_kill(d, t):
    img = os.path.join(d, "img")
    sh(CKPT, "--kill", str(t.pid), "-o", img)
    t.proc.wait(timeout=10)
    return img


def restart_detached(img):
    sh(RSTR, "--detach", img)


def counter_continues_after_restart():
    d = fresh("counter")
    t = Target(d)
    wait_for(lambda: t.counter() > 3, "the target to count")
    img = checkpoint_and_kill(d, t)
    last = t.counter()
    restart_detached(img)
    try:
        assert not gone(t.pid), "the restarted process has the original pid"
        assert open(f"/proc/{t.pid}/comm").read().strip() == "target"
        wait_for(lambda: t.counter() > last + 5, "the restarted counter to go on")
        now = t.counter()
        assert last < now < last + 100000, (last, now)
    finally:
        kill_pid(t.pid)


def memory_intact_after_restart():
    d = fresh("memory")
    t = Target(d, "--mem", "64", "--signals")
    img = checkpoint_and_kill(d, t)
    restart_detached(img)
    try:
        os.kill(t.pid, signal.SIGUSR1)      # ask the restored process to check its memory
        wait_for(lambda: status_of(t.status).get("verified", 0) >= 1, "the memory check", timeout=120)
        st = status_of(t.status)
        assert st["bad"] == 0, f"{st['bad']} words of the 64 MiB pattern changed"
        assert st["usr1"] == 1, "the SIGUSR1 handler ran once"
    finally:
        kill_pid(t.pid)


def memory_intact_through_an_image_on_9p():
    """The image written to and read from the guest's 9p root (/tmp, the host's), where the
    module copies pages through a bounce buffer both ways (sys/file.rs): the 64 MiB pattern
    is intact after the restart, and the image is the same size as one on the tmpfs."""
    # (statfs on 9p tells the host's file system: the mount table tells 9p, the last of
    # the mounts stacked there.)
    st, fs, _ = sh("findmnt", "-n", "-o", "FSTYPE", "--target", "/tmp", check=False)
    if st != 0 or fs.split()[-1:] != ["9p"]:
        skip(f"/tmp is {fs.strip()!r}, not 9p: not in a virtme-ng guest")
    d = fresh("ninep")
    nine = tempfile.mkdtemp(prefix="ckpt-9p-", dir="/tmp")
    t = Target(d, "--mem", "64", "--signals")
    try:
        img = os.path.join(nine, "img")
        sh(CKPT, "--kill", str(t.pid), "-o", img)
        t.proc.wait(timeout=10)
        size = os.stat(img).st_size
        assert size > 64 << 20, size
        restart_detached(img)
        os.kill(t.pid, signal.SIGUSR1)      # ask the restored process to check its memory
        wait_for(lambda: status_of(t.status).get("verified", 0) >= 1, "the memory check",
                 timeout=120)
        assert status_of(t.status)["bad"] == 0, "words of the 64 MiB pattern changed"
        # Again from the restored process, to a tmpfs: the same records, the same size.
        again = os.path.join(d, "again")
        sh(CKPT, "--kill", str(t.pid), "-o", again)
        assert abs(os.stat(again).st_size - size) < 1 << 16, (size, os.stat(again).st_size)
    finally:
        kill_pid(t.pid)
        shutil.rmtree(nine, ignore_errors=True)


def signals_restored():
    d = fresh("signals")
    t = Target(d, "--signals")
    before = proc_status(t.pid)
    img = checkpoint_and_kill(d, t)
    restart_detached(img)
    try:
        after = proc_status(t.pid)
        for k in ("SigBlk", "SigIgn", "SigCgt", "SigPnd", "ShdPnd"):
            assert after[k] == before[k], (k, before[k], after[k])
        assert int(after["SigPnd"], 16) & (1 << (signal.SIGUSR2 - 1)), "SIGUSR2 still pending"
        os.kill(t.pid, signal.SIGUSR1)
        wait_for(lambda: status_of(t.status)["usr1"] == 1, "the restored handler to run")
    finally:
        kill_pid(t.pid)


def file_offset_and_flags_restored():
    d = fresh("file")
    path = os.path.join(d, "data")
    t = Target(d, "--file", path)
    fd = int(t.info["file_fd"])
    img = checkpoint_and_kill(d, t)
    restart_detached(img)
    try:
        info = dict(line.split(":\t") for line in open(f"/proc/{t.pid}/fdinfo/{fd}").read().splitlines()
                    if ":\t" in line)
        assert int(info["pos"]) == 2, info
        flags = int(info["flags"], 8)
        assert flags & os.O_APPEND and flags & os.O_CLOEXEC and flags & os.O_ACCMODE == os.O_RDWR, info
        assert os.readlink(f"/proc/{t.pid}/fd/{fd}") == path
        assert os.readlink(f"/proc/{t.pid}/fd/0") == "/dev/null"
        # The status file is written through a restored descriptor.
        c = t.counter()
        wait_for(lambda: t.counter() > c, "writes through the restored fd 3")
    finally:
        kill_pid(t.pid)


def pipe_refilled_after_restart():
    d = fresh("pipe")
    t = Target(d, "--pipe")
    rfd, wfd = int(t.info["pipe_fd"]), int(t.info["pipe_wfd"])
    img = checkpoint_and_kill(d, t)
    restart_detached(img)
    try:
        r, w = (os.readlink(f"/proc/{t.pid}/fd/{n}") for n in (rfd, wfd))
        assert r == w and r.startswith("pipe:"), (r, w)
        # Opening /proc/PID/fd/N of a pipe opens that same pipe: the restored bytes are there.
        fd = os.open(f"/proc/{t.pid}/fd/{rfd}", os.O_RDONLY | os.O_NONBLOCK)
        try:
            assert os.read(fd, 100) == b"hello pipe"
        finally:
            os.close(fd)
    finally:
        kill_pid(t.pid)


def maps(pid):
    """{start address: permissions} of /proc/PID/maps."""
    out = {}
    for line in open(f"/proc/{pid}/maps"):
        rng, perms = line.split()[:2]
        out[int(rng.split("-")[0], 16)] = perms
    return out


def mapped_files(pid):
    """The sorted paths of the files /proc/PID/maps shows mapped."""
    return sorted({line.split()[-1] for line in open(f"/proc/{pid}/maps")
                   if line.split()[-1].startswith("/")})


def perms_at(m, addr):
    return [p for start, p in m.items() if start <= addr][-1]


def memory_areas_restored():
    d = fresh("areas")
    t = Target(d, "--maps", d, "--signals")
    addrs = {k: int(t.info[k], 16) for k in ("shared", "private", "ro", "heap")}
    before = maps(t.pid)
    img = checkpoint_and_kill(d, t)
    kinds = {r["start"]: r["kind"] for r in records(show_json(img), "VMA")}
    assert kinds[hex(addrs["shared"])] == "file-shared", kinds
    assert kinds[hex(addrs["private"])] == "file-private", kinds
    restart_detached(img)
    try:
        after = maps(t.pid)
        for k, a in addrs.items():
            assert perms_at(after, a) == perms_at(before, a), (k, perms_at(before, a), perms_at(after, a))
        assert perms_at(after, addrs["ro"]) == "r--p" and perms_at(after, addrs["shared"]) == "rw-s"
        os.kill(t.pid, signal.SIGUSR1)
        wait_for(lambda: status_of(t.status).get("verified", 0) >= 1, "the areas check")
        assert status_of(t.status)["bad"] == 0, "contents of the shared, private, read-only or heap areas changed"
        # The shared mapping still maps the file: what the process wrote is in the file.
        raw = open(os.path.join(d, "shared"), "rb").read(16)
        word0 = struct.unpack("Q", raw[:8])[0]
        with open(f"/proc/{t.pid}/mem", "rb") as m:
            m.seek(addrs["shared"])
            assert struct.unpack("Q", m.read(8))[0] == word0
        # A second checkpoint of the restarted process shows the same sigaltstack.
        img2 = os.path.join(d, "img2")
        sh(CKPT, str(t.pid), "-o", img2)
        alt = records(show_json(img2), "SIGNALS")[0]["altstack_sp"]
        assert int(alt, 16) == int(t.info["altstack"], 16), alt
    finally:
        kill_pid(t.pid)


def blocked_read_resumes():
    d = fresh("read")
    master, slave = os.openpty()
    try:
        t = Target(d, "--read-tty", os.ttyname(slave))
        wait_for(lambda: "read" in open(f"/proc/{t.pid}/wchan").read() or
                 "wait" in open(f"/proc/{t.pid}/wchan").read(), "the target to block in read")
        img = checkpoint_and_kill(d, t)
        regs = records(show_json(img), "REGS")[0]
        assert int(regs["orig_ax"], 16) == 0, f"stopped in read(2): {regs}"
        assert int(regs["ax"], 16) == (1 << 64) - 512, f"with -ERESTARTSYS: {regs}"
        restart_detached(img)
        try:
            os.write(master, b"hello\n")
            wait_for(lambda: status_of(t.status).get("got", 0) == 6, "the restored read to return")
        finally:
            kill_pid(t.pid)
    finally:
        os.close(master)
        os.close(slave)


def fpu_registers_intact():
    d = fresh("fpu")
    info = os.path.join(d, "info")
    p = subprocess.Popen([TARGET, "fpu", info], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    kv = wait_for(lambda: os.path.exists(info) and dict(
        line.split("=") for line in open(info).read().split()) or None, "the fpu target")
    addr = int(kv["counter_addr"], 16)

    def count(pid):
        # While rstr's child holds the pid, the counter's address is not mapped yet.
        try:
            with open(f"/proc/{pid}/mem", "rb") as m:
                m.seek(addr)
                return struct.unpack("Q", m.read(8))[0]
        except OSError:
            return None

    wait_for(lambda: (count(p.pid) or 0) > 5, "the fpu loop")
    img = os.path.join(d, "img")
    sh(CKPT, "--kill", str(p.pid), "-o", img)
    p.wait()
    x = records(show_json(img), "XSTATE")[0]
    assert int(x["xstate_bv"], 16) & 0x7 == 0x7, f"x87, SSE and AVX state saved: {x}"
    r = subprocess.Popen([RSTR, img], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # The pid first belongs to rstr's child; the restart is over once the module has
        # closed rstr's descriptors (/dev/checkpoint among them) on its way out.
        def restored():
            try:
                fds = [os.readlink(f"/proc/{p.pid}/fd/{n}") for n in os.listdir(f"/proc/{p.pid}/fd")]
                return TARGET in open(f"/proc/{p.pid}/maps").read() and "/dev/checkpoint" not in fds
            except OSError:
                return False

        wait_for(restored, "the restored process")
        at = count(p.pid)
        try:
            wait_for(lambda: (count(p.pid) or 0) > at + 5, "the restored loop to go on")
        except AssertionError:
            raise AssertionError(f"counter {at} then {count(p.pid)}; rstr: {r.poll()}")
        os.kill(p.pid, signal.SIGUSR2)
        out, err = r.communicate(timeout=30)
        assert r.returncode == 0, f"rstr exit {r.returncode} (42: a register changed): {err}"
    finally:
        if r.poll() is None:
            kill_pid(p.pid)
            r.wait()


def python_program_continues():
    d = fresh("python")
    out = os.path.join(d, "progress")
    code = ("import os, sys, time\n"
            "n, total = 0, 0\n"
            "while True:\n"
            "    n += 1; total += sum(i * i for i in range(2000))\n"
            "    with open(sys.argv[1] + '.new', 'w') as f: f.write(f'{n} {total}')\n"
            "    os.replace(sys.argv[1] + '.new', sys.argv[1])\n"
            "    time.sleep(0.01)\n")
    p = subprocess.Popen([sys.executable, "-c", code, out], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def progress():
        try:
            n, total = map(int, open(out).read().split())
            return n, total
        except (OSError, ValueError):
            return None

    def beyond(n):
        p = progress()
        return p if p and p[0] > n else None

    wait_for(lambda: beyond(3), "python to compute")
    img = os.path.join(d, "img")
    sh(CKPT, "--kill", str(p.pid), "-o", img)
    p.wait()
    n0, _ = wait_for(progress, "the last progress")
    restart_detached(img)
    try:
        n, total = wait_for(lambda: beyond(n0 + 3), "python to go on after restart")
        per = sum(i * i for i in range(2000))
        assert total == n * per, "the interpreter's state is consistent"
    finally:
        kill_pid(p.pid)


def rseq_area_follows_the_new_cpu():
    """An rseq area registered with more than 32 bytes (glibc 2.41 does it for every thread):
    the kernel checks that the area still holds the cpu it last wrote there. Checkpointed on
    cpu 0, restarted by an rstr that runs on cpu 1 only: the process must go on, and the
    area must then say cpu 1."""
    assert len(os.sched_getaffinity(0)) >= 2, "this test needs a guest with two cpus"
    d = fresh("rseq")
    t = Target(d, "--rseq", "0")
    assert int(t.info["rseq_len"]) > 32, f"AT_RSEQ_FEATURE_SIZE {t.info['rseq_len']}: no v2 rseq"

    def fields():
        w = open(t.status).read().split()
        return dict(zip(w[::2], w[1::2])) if len(w) >= 14 else None

    wait_for(lambda: (f := fields()) and f["rseq_cpu"] == "0" and f["cpu"] == "0",
             "the target to run on cpu 0 with its rseq area saying so")
    img = checkpoint_and_kill(d, t)
    # The affinity it chose (cpu 0) is restored: made one nobody chose (every cpu), the
    # process starts where rstr runs, as one that never set it would.
    rewrite_records(img, TASK_ATTRS, lambda p: p[:8] + (p[8] & ~2).to_bytes(1, "little") + p[9:])
    last = t.counter()
    sh(RSTR, "--detach", img, preexec_fn=lambda: os.sched_setaffinity(0, {1}))
    try:
        wait_for(lambda: t.counter() > last + 5, "the restarted counter to go on")
        assert not gone(t.pid), "the restarted process died"
        f = wait_for(lambda: (f := fields()) and int(f["counter"]) > last + 5 and f,
                     "a line written after the restart")
        assert f["cpu"] == "1" and f["rseq_cpu"] == "1", f"restored on cpu 1: {f}"
    finally:
        kill_pid(t.pid)


ADDR_NO_RANDOMIZE = 0x0040000


def personality(pid):
    with open(f"/proc/{pid}/personality") as f:
        return int(f.read(), 16)


def spans(pid):
    """The address ranges of /proc/PID/maps with their permissions, neighbours with the same
    permissions as one (a heap right after the data, as without randomization, may come back
    as one area with it)."""
    out = []
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            r, perms = line.split()[:2]
            start, end = (int(x, 16) for x in r.split("-"))
            if out and out[-1][1] == start and out[-1][2] == perms:
                out[-1] = (out[-1][0], end, perms)
            else:
                out.append((start, end, perms))
    return out


def without_randomization_restarts_without_it():
    """A program started without address space randomization (`setarch -R`, as under gdb)
    and restarted by an rstr started the same way: rstr's own memory would sit where the
    program's was (its rseq area, its libraries); rstr starts itself again randomized, and
    the program comes back with its memory and its personality, still not randomized."""
    d = fresh("norandom")
    t = Target(d, "--mem", "16", "--signals", prefix=("setarch", "-R"))
    s = subprocess.Popen(["setarch", "-R", "sleep", "1000"])
    try:
        # Asleep in clock_nanosleep (230): setarch executed sleep, which loaded its libraries.
        wait_for(lambda: open(f"/proc/{s.pid}/syscall").read().split()[0] == "230",
                 "sleep to sleep")
        assert personality(t.pid) & ADDR_NO_RANDOMIZE and personality(s.pid) & ADDR_NO_RANDOMIZE
        maps_before = {p: spans(p) for p in (t.pid, s.pid)}
        img = checkpoint_and_kill(d, t)
        simg = os.path.join(d, "sleep.img")
        sh(CKPT, "--kill", str(s.pid), "-o", simg)
        s.wait(timeout=10)
        for i in (img, simg):
            sh("setarch", "-R", RSTR, "--detach", i)
        for p in (t.pid, s.pid):
            assert not dead(p), f"pid {p} did not come back"
            assert personality(p) & ADDR_NO_RANDOMIZE, f"pid {p}: {personality(p):#x}"
            assert spans(p) == maps_before[p], (p, maps_before[p], spans(p))
        st = t.verify()
        assert st["bad"] == 0, f"{st['bad']} words of the 16 MiB pattern changed"
    finally:
        for p in (t.pid, s.pid):
            kill_pid(p)


def restart_twice_from_one_image():
    d = fresh("twice")
    t = Target(d)
    img = checkpoint_and_kill(d, t)
    for _ in range(2):
        restart_detached(img)
        c = t.counter()
        wait_for(lambda: t.counter() > c, "the counter")
        kill_pid(t.pid)


def checkpoint_twice_while_running():
    d = fresh("twice-running")
    t = Target(d)
    try:
        a, b = os.path.join(d, "a"), os.path.join(d, "b")
        sh(CKPT, str(t.pid), "-o", a)
        c = t.counter()
        wait_for(lambda: t.counter() > c + 3, "the counter")
        sh(CKPT, str(t.pid), "-o", b)
        assert records(show_json(a), "TAIL") and records(show_json(b), "TAIL")
    finally:
        t.kill()
    restart_detached(b)
    try:
        c = t.counter()
        wait_for(lambda: t.counter() > c, "the second image to run")
    finally:
        kill_pid(t.pid)


def taken_pid_refused():
    d = fresh("taken")
    t = Target(d)
    try:
        img = os.path.join(d, "img")
        sh(CKPT, str(t.pid), "-o", img)
        status, _, err = sh(RSTR, "-d", img, check=False)
        assert status != 0 and f"pid {t.pid} is taken" in err, err
    finally:
        t.kill()


def damaged_images_refused_and_nothing_survives():
    d = fresh("damaged")
    t = Target(d, "--mem", "2")
    img = checkpoint_and_kill(d, t)
    data = open(img, "rb").read()
    recs = show_json(img)
    cases = {
        "truncated in the pages": data[: len(data) - 4096 * 100],
        "no tail": data[:-24],
        "bad magic": data[:8] + b"X" + data[9:],
        "header only": data[:112],
    }
    assert records(recs, "PAGES")
    for name, blob in cases.items():
        bad = os.path.join(d, name.replace(" ", "-"))
        open(bad, "wb").write(blob)
        status, _, err = sh(RSTR, bad, check=False)
        assert status != 0, f"{name}: accepted"
        assert "rstr: error:" in err, (name, err)
        assert dead(t.pid), f"{name}: a process with pid {t.pid} survived"


def hostile_images_leave_the_kernel_healthy():
    """Bytes flipped at random (fixed seed) in the structure of an image (headers and record
    structs, not page contents): every restart ends refused with a reason or restored, never
    hung; scripts/vm fails the run on any oops or WARNING."""
    import random
    d = fresh("hostile")
    t = Target(d, "--mem", "1")
    img = checkpoint_and_kill(d, t)
    data = open(img, "rb").read()
    # The bytes that are structure, not page contents: every record header and every
    # payload but the pages of PAGES records (whose 16-byte header stays in).
    structure = []
    for kind, off, ln in image_records(data):
        structure.extend(range(off, off + 8 + (16 if kind == 52 else ln)))
    rng = random.Random(20261121)
    refused = restored = 0
    for _ in range(40):
        b = bytearray(data)
        for _ in range(rng.randint(1, 4)):
            b[rng.choice(structure)] = rng.randrange(256)
        bad = os.path.join(d, "bad")
        open(bad, "wb").write(b)
        r = subprocess.run([RSTR, "-d", bad], capture_output=True, text=True, timeout=60)
        if r.returncode == 0:
            restored += 1
            kill_pid(t.pid)
        else:
            assert r.stderr.startswith("rstr: error:"), r.stderr
            assert dead(t.pid), "a refused restart left a process running"
            refused += 1
    assert refused > 0, "no corrupted image was refused"


def unprivileged_restart_rejected():
    d = fresh("unpriv")
    os.chmod(d, 0o777)
    t = Target(d)
    img = checkpoint_and_kill(d, t)
    os.chmod(img, 0o644)
    status, _, err = sh_unprivileged(RSTR, img)
    assert status != 0, "an unprivileged user restarted a root image"
    assert f"choosing pid {t.pid} needs CAP_CHECKPOINT_RESTORE" in err, err
    assert gone(t.pid)


def overlay_mapped_file_saved_by_its_path():
    """A file mapped from an overlayfs (the guest's /usr): the kernel maps the layer's own
    file, whose path (on a layer the process never saw) the restart cannot open. The image
    must hold the path the process mapped it by. A distribution binary, sleep, with
    coreutils' own preload library."""
    lib = "/usr/libexec/coreutils/libstdbuf.so"
    fstype = subprocess.run(["findmnt", "-n", "-o", "FSTYPE", "-T", lib],
                            capture_output=True, text=True).stdout.strip()
    if not os.path.exists(lib) or fstype != "overlay":
        skip(f"{lib} is not on an overlayfs here ({fstype or 'absent'})")
    d = fresh("overlay")
    p = subprocess.Popen(["/usr/bin/sleep", "1000"], env={"LD_PRELOAD": lib},
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        # In its nanosleep: the dynamic loader is done (it maps and unmaps ld.so.cache).
        wait_for(lambda: "nanosleep" in open(f"/proc/{p.pid}/wchan").read(),
                 "sleep to sleep")
        assert lib in open(f"/proc/{p.pid}/maps").read(), "the library is not mapped"
        before = mapped_files(p.pid)
        img = os.path.join(d, "img")
        sh(CKPT, "--kill", str(p.pid), "-o", img)
        p.wait(timeout=10)
        paths = {v.get("path") for v in records(show_json(img), "VMA")}
        assert lib in paths, f"the image holds {sorted(paths)}, not {lib}"
        restart_detached(img)
        wait_for(lambda: not dead(p.pid), "sleep to run again")
        after = mapped_files(p.pid)
        assert after == before, (before, after)
        assert open(f"/proc/{p.pid}/stat").read().split()[2] == "S", "sleep is not sleeping"
    finally:
        kill_pid(p.pid)


TESTS = [
    counter_continues_after_restart,
    memory_intact_after_restart,
    memory_intact_through_an_image_on_9p,
    signals_restored,
    file_offset_and_flags_restored,
    pipe_refilled_after_restart,
    memory_areas_restored,
    blocked_read_resumes,
    fpu_registers_intact,
    python_program_continues,
    rseq_area_follows_the_new_cpu,
    without_randomization_restarts_without_it,
    restart_twice_from_one_image,
    checkpoint_twice_while_running,
    taken_pid_refused,
    damaged_images_refused_and_nothing_survives,
    hostile_images_leave_the_kernel_healthy,
    unprivileged_restart_rejected,
    overlay_mapped_file_saved_by_its_path,
]
only = [t for t in TESTS if t.__name__ in sys.argv[1:]]
sys.exit(run(only or TESTS))
