#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Security: what an ordinary user who was given /dev/checkpoint can and cannot do with it
(Documentation/security.rst). Each rule runs as uid/gid 65534 with no capabilities (setpriv,
bounding set empty); /dev/checkpoint is made usable by everyone (chmod 0666) for the time of
the call and restored after. selftests/targets/security.c calls the ioctls directly with
images it writes, bypassing rstr's and ckpt's own checks. Every refusal is asserted by its
errno and reason, and by what did not happen: nothing mapped, the caller still running its
own code, the file unchanged, the file table not filled."""
import contextlib
import errno
import hashlib
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import (CKPT, RSTR, TARGET, Tree, device_open_to_all, read_info, run, running, scratch, sh,  # noqa: E402
                  stat, target, wait_for)

SEC = target("security")
fresh = scratch("ckpt-sec-")
NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
          "--inh-caps=-all", "--bounding-set=-all"]
# Another ordinary user, for "someone else's process" and "someone else can still open files".
OTHER = ["setpriv", "--reuid", "65533", "--regid", "65533", "--clear-groups",
         "--inh-caps=-all", "--bounding-set=-all"]
# The ordinary user holding CAP_CHECKPOINT_RESTORE, and no other capability.
NOBODY_CR = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups",
             "--inh-caps=+checkpoint_restore", "--ambient-caps=+checkpoint_restore"]
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
FILE_PRIVATE, FILE_SHARED = 3, 4
# What a refused restart that passed every check of its areas ends with: the images here
# have no vDSO, which the caller has (so the refusal is proof the areas' checks passed).
PASSED_AREAS = "special mapping"


def parse(out):
    """The harness's result lines: a list of dicts, one per line of key=value words (the
    reason, last, keeps its spaces)."""
    lines = []
    for line in out.splitlines():
        d = {}
        words = line.split(" ")
        for i, w in enumerate(words):
            if "=" not in w:
                d.setdefault("word", w)
                continue
            k, v = w.split("=", 1)
            if k == "reason":
                d[k] = " ".join([v] + words[i + 1:])
                break
            d[k] = v
        lines.append(d)
    return lines


def one(lines, key):
    """The first line with KEY."""
    found = [d for d in lines if key in d]
    assert found, (key, lines)
    return found[0]


def harness(*args, user=NOBODY, nofile=None, dev_fd=None, timeout=300):
    """Runs the harness as USER; its result lines. DEV_FD: an open file of the device
    passed to it (the device itself stays 0600 root), else the device is opened to all."""
    pre = None
    if nofile is not None:
        def pre():
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    kw = {}
    if dev_fd is not None:
        kw = {"pass_fds": (dev_fd,), "env": {**os.environ, "CKPT_DEV_FD": str(dev_fd)}}
    with contextlib.nullcontext() if dev_fd is not None else device_open_to_all():
        p = subprocess.run([*user, SEC, *args], capture_output=True, text=True,
                           timeout=timeout, preexec_fn=pre, **kw)
    assert p.returncode == 0, (args, p.returncode, p.stdout, p.stderr)
    return parse(p.stdout)


def file_nr():
    with open("/proc/sys/fs/file-nr") as f:
        return int(f.read().split()[0])


def settled_file_nr():
    """The allocated files once the last closes are done (fput is deferred)."""
    last = file_nr()
    for _ in range(20):
        time.sleep(0.2)
        now = file_nr()
        if now == last:
            return now
        last = now
    return last


def digest(path):
    st = os.stat(path)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest(), st.st_mtime_ns, st.st_size


def world_dir(name):
    d = fresh(name)
    os.chmod(d, 0o755)
    return d


def root_file(d, name, line, mode):
    """A file of root's in D: 1000 copies of LINE, with MODE."""
    path = os.path.join(d, name)
    with open(path, "w") as f:
        f.write(line * 1000)
    os.chmod(path, mode)
    return path


def world_image(d, name, *args):
    """An image written by `security write-ARGS`, readable by the ordinary user."""
    img = os.path.join(d, name)
    sh(SEC, *args[:1], img, *args[1:])
    os.chmod(img, 0o644)
    return img


def file_image(d, name, path, kind, prot, exe=0):
    """An image of one area mapping PATH, readable by the ordinary user."""
    return world_image(d, name, "write-file", path, str(kind), str(prot), str(exe))


def restart_refused(img, errno, reason, user=NOBODY, dev_fd=None, timeout=300):
    """One CKPT_IOC_RESTART from IMG as USER: refused with ERRNO and REASON (a substring),
    nothing mapped where the image's area is, and the caller ran on in its own code."""
    lines = harness("restart", img, "1", user=user, dev_fd=dev_fd, timeout=timeout)
    call = one(lines, "ret")
    assert call["ret"] == "-1" and call["errno"] == errno, call
    assert reason in call["reason"], call
    after = one(lines, "alive")
    assert after["alive"] == "1" and after["mapped"] == "0", after
    return call


def ordinary_user_has_no_capabilities():
    """The user of these tests: uid and gid 65534, no groups, no capability in any set."""
    _, out, _ = sh(*NOBODY, "cat", "/proc/self/status")
    f = dict(line.split(":\t", 1) for line in out.splitlines() if ":\t" in line)
    assert f["Uid"].split() == ["65534"] * 4 and f["Gid"].split() == ["65534"] * 4, f
    assert f["Groups"].strip() == "", f
    for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(f[k], 16) == 0, (k, f[k])


def refused_at_nofile(call, nofile):
    """CALL was refused for making one shared memory object more than RLIMIT_NOFILE."""
    assert call["ret"] == "-1" and call["errno"] == "EMFILE", call
    assert (f"the restart session holds {nofile} objects: more than {nofile} open files, "
            "the caller's RLIMIT_NOFILE") in call["reason"], call


def refused_session_failed(call):
    """CALL was refused because an earlier task of its session failed."""
    assert call["ret"] == "-1" and call["errno"] == "ECANCELED", call
    assert "another task of the restart session failed" in call["reason"], call


def shm_flood_bounded_by_nofile():
    """The trial that filled fs.file-max for every process: one session, four calls, each
    from an image of 60,000 shared memory objects of its own (240,000 ids; fs.file-max of
    the test guest is about 200,000). One call may make as many objects as the caller's
    RLIMIT_NOFILE: the first is refused with EMFILE and the limit's reason, which fails the
    session: its objects are freed at once, and the three calls after it are refused at
    once (ECANCELED, the session is over); meanwhile another user still opens files, and
    the file table is at its baseline while the session is still open."""
    d = world_dir("shm-flood")
    calls, nofile = 4, 1024
    img = world_image(d, "shm.img", "write-shm", "60000", str(calls))
    base = settled_file_nr()

    def pre():
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    with device_open_to_all():
        p = subprocess.Popen([*NOBODY, SEC, "restart", img, str(calls), "hold"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, preexec_fn=pre)
        try:
            out = []
            deadline = time.monotonic() + 600
            while time.monotonic() < deadline:
                line = p.stdout.readline()
                assert line, ("the harness ended early", out, p.stderr.read())
                out.append(line.rstrip("\n"))
                if line.startswith("holding"):
                    break
            lines = parse("\n".join(out))
            held = max(int(x["file_nr"]) for x in lines if "file_nr" in x)
            # Another ordinary user opens files meanwhile.
            other = sh(*OTHER, "python3", "-c",
                       "fs = [open('/dev/null') for _ in range(500)]; print(len(fs))",
                       check=False)
            p.stdin.write("go\n")
            p.stdin.flush()
            rest, err = p.communicate(timeout=300)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    after = settled_file_nr()
    print(f"# shm flood: files allocated {base} before, at most {held} while the session "
          f"held its objects, {after} after it closed; another user opening 500 files: "
          f"{other[1].strip() or other[2].strip()[-80:]}")
    assert one(lines, "nofile")["nofile"] == str(nofile), lines
    results = [x for x in lines if x.get("word") == "call"]
    assert len(results) == calls, lines
    refused_at_nofile(results[0], nofile)
    for c in results[1:]:
        refused_session_failed(c)
    # The failed session freed its objects at once: after every call, none is held.
    assert held - base <= 64, (base, held)
    assert one(lines, "alive")["mapped"] == "0", lines
    assert other[0] == 0 and other[1].strip() == "500", other
    assert p.returncode == 0, (p.returncode, rest, err)
    assert [x for x in parse(rest) if x.get("word") == "closed"], rest
    assert after - base <= 16, ("files left behind", base, after)


def failed_sessions_hold_nothing():
    """Many sessions from one process: 50 open files of the device, each a session of 2
    tasks with one call from an image of 400 shared memory objects (RLIMIT_NOFILE 256), all
    kept open. Each call makes 256 objects and is refused with EMFILE, which fails its
    session and frees them at once: the second call on it is refused with ECANCELED, and
    the 50 sessions together hold no more files than their 50 open files of the device
    (before, each held its 256 objects until closed: 12,800, and 200 such sessions passed
    fs.file-max)."""
    d = world_dir("sessions")
    n, nofile = 50, 256
    img = world_image(d, "shm.img", "write-shm", "400")
    base = settled_file_nr()
    lines = harness("sessions", img, str(n), nofile=nofile)
    after = settled_file_nr()
    held = one(lines, "open_file_nr")
    print(f"# {n} failed sessions: files allocated {base} before, at most "
          f"{held['most_file_nr']} and {held['open_file_nr']} with all of them open, "
          f"{after} after")
    calls = [x for x in lines if x.get("word") == "call"]
    again = [x for x in lines if x.get("word") == "again"]
    assert len(calls) == n and len(again) == n, lines
    for c in calls:
        refused_at_nofile(c, nofile)
    for c in again:
        refused_session_failed(c)
    assert held["mapped"] == "0", held
    for k in ("open_file_nr", "most_file_nr"):
        assert int(held[k]) - base <= n + 64, (k, base, held)
    assert after - base <= 16, ("files left behind", base, after)


def memory_cgroup_charged():
    """A restart's allocations are charged to the caller's memory cgroup: an image of
    60,000 areas (the module's plan of them takes megabytes) from a caller limited to 2 MiB
    is refused with ENOMEM, and the cgroup counts the limit hit; the same call unlimited
    gets past that to the usual refusal of these images."""
    cg_root = "/sys/fs/cgroup"
    if not os.path.exists(os.path.join(cg_root, "cgroup.controllers")):
        sh("mount", "-t", "cgroup2", "none", cg_root)
    with open(os.path.join(cg_root, "cgroup.controllers")) as f:
        if "memory" not in f.read().split():
            raise AssertionError("the test kernel has no memory controller (CONFIG_MEMCG)")
    with open(os.path.join(cg_root, "cgroup.subtree_control"), "w") as f:
        f.write("+memory")
    d = world_dir("memcg")
    img = world_image(d, "vmas.img", "write-vmas", "60000")
    cg = os.path.join(cg_root, f"ckpt-sec-{os.getpid()}")
    os.mkdir(cg)
    try:
        def events():
            with open(os.path.join(cg, "memory.events")) as f:
                return dict((k, int(v)) for k, v in (line.split() for line in f))

        def run_in(limit):
            with open(os.path.join(cg, "memory.max"), "w") as f:
                f.write(limit)

            def pre():
                with open(os.path.join(cg, "cgroup.procs"), "w") as f:
                    f.write("0")
            with device_open_to_all():
                p = subprocess.run([*NOBODY, SEC, "restart", img, "1"], capture_output=True,
                                   text=True, timeout=300, preexec_fn=pre)
            assert p.returncode == 0, (limit, p.returncode, p.stdout, p.stderr)
            return one(parse(p.stdout), "ret")

        free = run_in("max")
        assert free["errno"] == "EINVAL" and PASSED_AREAS in free["reason"], free
        before = events()["max"]
        limited = run_in(str(2 << 20))
        assert limited["ret"] == "-1" and limited["errno"] == "ENOMEM", limited
        assert events()["max"] > before, ("the cgroup saw no limit hit", events())
    finally:
        wait_for(lambda: _rmdir(cg), "the cgroup to empty")


def _rmdir(d):
    try:
        os.rmdir(d)
        return True
    except OSError:
        return False


def unreadable_file_not_mapped():
    """An area mapping a file the user cannot read (root's, 0600): refused with EACCES and
    the path; the same image of a readable file passes the check of its area."""
    d = world_dir("unreadable")
    secret = root_file(d, "secret", "root only\n", 0o600)
    img = file_image(d, "img", secret, FILE_PRIVATE, PROT_READ)
    restart_refused(img, "EACCES", f"opening {secret}")
    os.chmod(secret, 0o644)
    restart_refused(img, "EINVAL", PASSED_AREAS)


def shared_writable_needs_write_permission():
    """A shared writable area of a file the user may only read: refused with EACCES, the
    file unchanged; the same area read-only passes (opened O_RDONLY, from which mprotect
    can never make it writable: the kernel's VM_MAYWRITE)."""
    d = world_dir("shared-rw")
    ro = root_file(d, "readonly", "do not change\n", 0o644)
    before = digest(ro)
    img = file_image(d, "rw", ro, FILE_SHARED, PROT_READ | PROT_WRITE)
    restart_refused(img, "EACCES", f"opening {ro}")
    assert digest(ro) == before
    img = file_image(d, "ro", ro, FILE_SHARED, PROT_READ)
    restart_refused(img, "EINVAL", PASSED_AREAS)
    assert digest(ro) == before


def fifo_not_waited_for():
    """An area mapping a FIFO nobody writes to: refused at once with EINVAL, not a regular
    file (before, the open waited for a writer, forever); the FIFO has no reader left
    behind (a writer's non-blocking open finds none: ENXIO)."""
    d = world_dir("fifo")
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    os.chmod(fifo, 0o666)
    img = file_image(d, "img", fifo, FILE_PRIVATE, PROT_READ)
    t = time.monotonic()
    restart_refused(img, "EINVAL", f"{fifo} is not a regular file", timeout=60)
    took = time.monotonic() - t
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        raise AssertionError("the FIFO still has a reader")
    except OSError as e:
        assert e.errno == errno.ENXIO, e
    assert took < 60, took


@contextlib.contextmanager
def target_copy_on_tmpfs(d, opts, mode, src=TARGET):
    """A copy of the program SRC (the target), MODE, on a tmpfs mounted in D with OPTS."""
    mnt = os.path.join(d, "mnt")
    os.mkdir(mnt)
    sh("mount", "-t", "tmpfs", "-o", f"{opts},mode=0755", "tmpfs", mnt)
    try:
        prog = os.path.join(mnt, "target")
        shutil.copy(src, prog)
        os.chmod(prog, mode)
        yield prog
    finally:
        sh("umount", mnt)


def noexec_mount_not_mapped_executable():
    """An executable area of a file on a noexec mount: refused with EPERM before anything
    is changed (mmap itself would refuse it only after the caller's memory is gone); the
    same area without PROT_EXEC passes."""
    d = world_dir("noexec")
    with target_copy_on_tmpfs(d, "noexec", 0o755) as lib:
        img = file_image(d, "x", lib, FILE_PRIVATE, PROT_READ | PROT_EXEC)
        restart_refused(img, "EPERM", f"{lib} is on a noexec mount, it cannot be mapped "
                        "executable")
        img = file_image(d, "r", lib, FILE_PRIVATE, PROT_READ)
        restart_refused(img, "EINVAL", PASSED_AREAS)


def executable_file_needs_checkpoint_restore():
    """An image that names its executable (/proc/PID/exe): without CAP_CHECKPOINT_RESTORE
    refused with EPERM, as prctl(PR_SET_MM_EXE_FILE) refuses it; with only that capability
    the same image passes."""
    d = world_dir("exe")
    exe = os.path.join(d, "exe")
    shutil.copy(TARGET, exe)
    os.chmod(exe, 0o755)
    img = file_image(d, "img", exe, FILE_PRIVATE, PROT_READ | PROT_EXEC, exe=1)
    restart_refused(img, "EPERM", "setting the executable file (/proc/PID/exe) needs "
                    "CAP_CHECKPOINT_RESTORE in the caller's user namespace")
    restart_refused(img, "EINVAL", PASSED_AREAS, user=NOBODY_CR)


def passed_device_file_lends_no_capability():
    """Root opens /dev/checkpoint (0600 root, as the module creates it) and passes the open
    file to the ordinary user, who begins a session on it and restores an image naming its
    executable: refused with EPERM, as if it had opened the device itself. Holding a file
    root opened lends none of root's capability; only a session's coordinator's, at
    CKPT_IOC_RESTART_BEGIN, counts for its tasks. Control: the same passed file, used by a
    user with CAP_CHECKPOINT_RESTORE, passes that check."""
    d = world_dir("passed-fd")
    exe = os.path.join(d, "exe")
    shutil.copy(TARGET, exe)
    os.chmod(exe, 0o755)
    img = file_image(d, "img", exe, FILE_PRIVATE, PROT_READ | PROT_EXEC, exe=1)
    st = os.stat("/dev/checkpoint")
    assert st.st_mode & 0o777 == 0o600 and st.st_uid == 0, (oct(st.st_mode), st.st_uid)
    for user, err, reason in ((NOBODY, "EPERM", "setting the executable file "
                               "(/proc/PID/exe) needs CAP_CHECKPOINT_RESTORE"),
                              (NOBODY_CR, "EINVAL", PASSED_AREAS)):
        dev = os.open("/dev/checkpoint", os.O_RDWR)
        try:
            restart_refused(img, err, reason, user=user, dev_fd=dev)
        finally:
            os.close(dev)


# The ordinary user, root of a user namespace of its own: CAP_CHECKPOINT_RESTORE there.
NOBODY_USERNS = [*NOBODY, "unshare", "-Ur"]


def exe_file_must_be_executable():
    """Inside a user namespace of its own (unshare -Ur) the ordinary user holds
    CAP_CHECKPOINT_RESTORE; an image naming as its executable a file the user may read but
    not execute (root's, 0644) is refused with EACCES before anything changes, as
    prctl(PR_SET_MM_EXE_FILE) refuses it: the file was never denied write access (root
    still opens it O_WRONLY, no ETXTBSY) and is unchanged. So is an executable file on a
    noexec mount. Control: an executable copy passes that check in the same namespace."""
    d = world_dir("exe-perm")
    victim = root_file(d, "victim", "root:x:0:0:root:/root:/bin/sh\n", 0o644)
    before = digest(victim)
    img = file_image(d, "img", victim, FILE_PRIVATE, PROT_READ, exe=1)
    area = "area 0x100000000-0x100001000"
    restart_refused(img, "EACCES", f"the executable's file ({area}) is not executable by "
                    "the caller, as prctl(PR_SET_MM_EXE_FILE) requires", user=NOBODY_USERNS)
    fd = os.open(victim, os.O_WRONLY)
    os.close(fd)
    assert digest(victim) == before
    with target_copy_on_tmpfs(d, "noexec", 0o755) as prog:
        img = file_image(d, "noexec", prog, FILE_PRIVATE, PROT_READ, exe=1)
        restart_refused(img, "EACCES", f"the executable's file ({area}) is on a noexec "
                        "mount", user=NOBODY_USERNS)
        fd = os.open(prog, os.O_WRONLY)
        os.close(fd)
    exe = os.path.join(d, "exe")
    shutil.copy(TARGET, exe)
    os.chmod(exe, 0o755)
    img = file_image(d, "ok", exe, FILE_PRIVATE, PROT_READ | PROT_EXEC, exe=1)
    restart_refused(img, "EINVAL", PASSED_AREAS, user=NOBODY_USERNS)


def nondumpable_after_seize_refused():
    """A child the user seized (ptrace's checks passed) that then makes itself non-dumpable:
    the checkpoint is refused with EPERM, nothing is written, the child runs on. Controls:
    the same child staying dumpable is checkpointed; root (CAP_SYS_PTRACE) may checkpoint the
    non-dumpable one."""
    d = world_dir("dumpable")
    os.chmod(d, 0o777)
    img = os.path.join(d, "img")
    lines = harness("checkpoint", img, "nondumpable")
    assert one(lines, "dumpable_after_seize")["dumpable_after_seize"] == "0", lines
    c = one(lines, "ret")
    assert c["ret"] == "-1" and c["errno"] == "EPERM", c
    assert "is not dumpable" in c["reason"] and "lacks CAP_SYS_PTRACE" in c["reason"], c
    assert one(lines, "image_bytes")["image_bytes"] == "0", lines
    assert one(lines, "child_answers")["child_answers"] == "0", lines
    assert one(lines, "child_exit")["child_exit"] == "0", lines

    lines = harness("checkpoint", img, "dumpable")
    assert one(lines, "ret")["ret"] == "0", lines
    assert int(one(lines, "image_bytes")["image_bytes"]) > 4096, lines
    assert one(lines, "child_answers")["child_answers"] == "1", lines

    lines = harness("checkpoint", img, "nondumpable", user=[])
    assert one(lines, "ret")["ret"] == "0", lines
    assert one(lines, "child_answers")["child_answers"] == "0", lines


def memory_shared_outside_refused():
    """A child made with clone(CLONE_VM): its memory is the user's process's, which is not
    in the checkpoint and would run on in it. Checkpointing the child alone is refused with
    EOPNOTSUPP and the reason, nothing is written, the child is left as it was. (A child
    that does not share its memory is checkpointed: nondumpable_after_seize_refused's
    control.)"""
    d = world_dir("clone-vm")
    os.chmod(d, 0o777)
    img = os.path.join(d, "img")
    lines = harness("checkpoint-vm", img)
    c = one(lines, "ret")
    assert c["ret"] == "-1" and c["errno"] == "EOPNOTSUPP", c
    assert ("shares its memory (CLONE_VM) with a task outside the checkpoint (2 users, 1 "
            "listed)") in c["reason"], c
    assert one(lines, "image_bytes")["image_bytes"] == "0", lines
    assert one(lines, "child_alive")["child_alive"] == "1", lines


def setuid_exec_after_seize_gains_nothing():
    """A seized child that then execs a setuid-root program: the kernel runs it without the
    program's privileges (its tracer has no CAP_SYS_PTRACE: LSM_UNSAFE_PTRACE), so it stays
    the user's own dumpable process, and its checkpoint reads nothing the user could not."""
    d = world_dir("setuid-exec")
    os.chmod(d, 0o777)
    img = os.path.join(d, "img")
    with target_copy_on_tmpfs(d, "suid", 0o4755, SEC) as prog:
        lines = harness("checkpoint", img, "exec", prog)
    assert one(lines, "uids")["uids"] == "65534,65534,65534,65534", lines
    assert one(lines, "dumpable_after_seize")["dumpable_after_seize"] == "1", lines
    assert one(lines, "ret")["ret"] == "0", lines
    assert one(lines, "child_answers")["child_answers"] == "1", lines


def _syscall(pid):
    """The words of /proc/PID/syscall; [] if it is gone."""
    try:
        with open(f"/proc/{pid}/syscall") as f:
            return f.read().split()
    except OSError:
        return []


def _wchan(pid):
    try:
        with open(f"/proc/{pid}/wchan") as f:
            return f.read()
    except OSError:
        return ""


def peer_credentials_checked_as_scm_credentials():
    """CKPT_IOC_RESTART_PEERS called directly by an ordinary user on a session it began:
    the peer credentials of a socket pair's end may not name uid 0 nor gid 0 (it has no
    CAP_SETUID, CAP_SETGID): refused naming the fd, the socket still naming the caller; a
    process that holds the session's open file but is not its coordinator is refused; its
    own uid and gid pass the checks, and then the session, whose task has not joined,
    sets nothing (pid 1 is no process of the session either)."""
    for uid, gid, what in (("0", "65534", "peer uid 0 is none of the caller's uids, and the caller lacks CAP_SETUID"),
                           ("65534", "0", "peer gid 0 is none of the caller's gids, and the caller lacks CAP_SETGID")):
        lines = harness("peers", uid, gid, "0")
        child = [d for d in lines if d.get("word") == "child"][0]
        assert child["ret"] == "-1" and child["errno"] == "EPERM", lines
        assert "only the coordinator of the restart session" in child["reason"], child
        call = [d for d in lines if d.get("word") == "call"][0]
        assert call["ret"] == "-1" and call["errno"] == "EPERM", call
        assert what in call["reason"] and call["reason"].startswith("fd "), call
        after = [d for d in lines if d.get("word") == "after"][0]
        assert (after["uid"], after["gid"]) == ("65534", "65534"), after
    lines = harness("peers", "65534", "65534", "1")
    call = [d for d in lines if d.get("word") == "call"][0]
    assert call["ret"] == "-1" and call["errno"] == "EBUSY", call
    assert "0 of 1 tasks joined the restart session" in call["reason"], call
    after = [d for d in lines if d.get("word") == "after"][0]
    assert (after["uid"], after["gid"]) == ("65534", "65534"), after


def timer_overrun_only_in_a_session_of_ones_own():
    """CKPT_IOC_RESTART_TIMER called directly by an ordinary user: refused without a
    session (EINVAL); in a session it began, it sets timer_getoverrun of its own timer;
    a negative overrun and unknown flags are refused (EINVAL), an id it has no timer of
    (ENOENT), and a child, whose process has no timers, cannot reach its parent's (ENOENT):
    the parent's overrun stays what it set."""
    lines = harness("timer")
    got = {d["word"]: d for d in lines}
    assert (got["nosession"]["ret"], got["nosession"]["errno"]) == ("-1", "EINVAL"), lines
    assert got["own"]["ret"] == "0" and got["got"]["overrun"] == "5", lines
    for word, errno in (("negative", "EINVAL"), ("flags", "EINVAL"), ("missing", "ENOENT"),
                        ("child", "ENOENT")):
        assert (got[word]["ret"], got[word]["errno"]) == ("-1", errno), (word, lines)
    assert got["kept"]["overrun"] == "5", lines


def task_killed_before_go_ends_the_session():
    """A restored tree of 3 processes, every one restored and waiting (each said OK), rstr
    held at the entry of CKPT_IOC_RESTART_GO (strace delays it): SIGKILL to one child.
    That task never runs its cleanup; the other two must not wait for it: within a bounded
    time none of the three is left (before, the go succeeded and the two others waited in
    the module for the dead one forever), and rstr's go is refused (ECANCELED)."""
    d = fresh("killed-before-go")
    go = sh(SEC, "ioctl-go")[1].strip()
    with Tree("wide", d, 2, 0) as t:
        r = t.reports(["node0", "node1", "node2"], "3 processes to start")
        pids = [r[f"node{i}"]["pid"] for i in range(3)]
        t.watch(pids)
        img, _ = t.checkpoint(pids)
        delay_s = 20
        p = subprocess.Popen(["strace", "-o", "/dev/null", "-e", "trace=ioctl", "-e",
                              f"inject=ioctl:delay_enter={delay_s * 1000000}", RSTR,
                              "--detach", img],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            def at_go():
                for e in os.listdir("/proc"):
                    w = _syscall(e) if e.isdigit() else []
                    if len(w) > 2 and w[0] == "16" and int(w[2], 16) == int(go, 16):
                        return int(e)
                return None
            # strace delays each of rstr's ioctls, six before the go (CKPT_IOC_RESTART_PEERS
            # the last): about two minutes.
            t0 = time.monotonic()
            coordinator = wait_for(at_go, "rstr to reach CKPT_IOC_RESTART_GO", timeout=400)
            print(f"# rstr reached the go after {time.monotonic() - t0:.1f} s")
            held = time.monotonic()
            # rstr goes only once every task said OK: each is asleep in its restart ioctl,
            # waiting for the go (its registers, and so /proc/PID/syscall, are the image's
            # already).
            for q in pids:
                assert stat(q) and stat(q)[0] == "S", (q, stat(q), _wchan(q))
            os.kill(pids[1], signal.SIGKILL)

            def left():
                return [(q, _wchan(q)) for q in pids if running(q)]
            wait_for(lambda: not left(), "the other tasks of the session to end",
                     timeout=60)
            ended_s = time.monotonic() - held
            out, err = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    print(f"# killed before the go: the others ended {ended_s:.1f} s after, rstr (pid "
          f"{coordinator}) held {delay_s} s at the go; rstr: {err.strip()[-160:]}")
    assert p.returncode != 0, (p.returncode, out, err)
    # GO has no reason buffer: its errno is the session's refusal (ECANCELED).
    assert "CKPT_IOC_RESTART_GO: Operation canceled" in err, err
    # They ended on their own, before rstr's go came: they waited for nothing.
    assert ended_s < delay_s, ended_s


def start_target(d, user, prog=TARGET):
    status = os.path.join(d, "status")
    p = subprocess.Popen([*user, prog, status], stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: read_info(status), "the target to start")
    except BaseException:
        p.kill()
        p.wait()
        raise
    return p


def counting(d):
    """The target's counter advances: it runs on."""
    status = os.path.join(d, "status")

    def counter():
        try:
            with open(status) as f:
                w = f.read().split()
            return int(w[1]) if len(w) >= 2 and w[0] == "counter" else 0
        except (OSError, ValueError):
            return 0
    first = wait_for(counter, "a count")
    wait_for(lambda: counter() > first, "the count to advance")


def refused_at_attach(d, p):
    """ckpt as the ordinary user on process P (reporting in D): the kernel refuses the
    ptrace attach, ckpt says so, no image is left, and P runs on; then P is killed."""
    try:
        img = os.path.join(d, "img")
        with device_open_to_all():
            status, _, err = sh(*NOBODY, CKPT, str(p.pid), "-o", img, check=False)
        assert status != 0 and "not allowed to ptrace-attach" in err, err
        assert not os.path.exists(img)
        counting(d)
    finally:
        p.kill()
        p.wait()


def others_process_refused():
    """Another user's process (uid 65533): ptrace's attach refuses the user (the kernel's
    rule), ckpt says so, no image is left and the process runs on."""
    d = world_dir("other")
    os.chmod(d, 0o777)
    refused_at_attach(d, start_target(d, OTHER))


def setuid_program_refused():
    """A setuid-root program the user started (real uid 65534, effective 0): refused at the
    attach, no image, the program runs on."""
    d = world_dir("setuid")
    os.chmod(d, 0o777)
    with target_copy_on_tmpfs(d, "suid", 0o4755) as prog:
        p = start_target(d, NOBODY, prog)
        with open(f"/proc/{p.pid}/status") as f:
            uids = [line.split()[1:] for line in f if line.startswith("Uid:")][0]
        if uids[:2] != ["65534", "0"]:
            p.kill()
            p.wait()
            raise AssertionError(f"the setuid target runs as {uids}")
        refused_at_attach(d, p)


def own_process_image_0600_restart_needs_capability():
    """The user checkpoints its own process: the image is created 0600 and the user's, even
    with umask 0; rstr without CAP_CHECKPOINT_RESTORE refuses with its reason (choosing the
    pid is the kernel's clone3 set_tid rule) and restores nothing."""
    d = world_dir("own")
    os.chmod(d, 0o777)
    p = start_target(d, NOBODY)
    img = os.path.join(d, "img")
    try:
        with device_open_to_all():
            sh(*NOBODY, "sh", "-c", f'umask 0 && exec "$0" --kill {p.pid} -o "$1"', CKPT, img)
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    st = os.stat(img)
    assert st.st_mode & 0o777 == 0o600 and st.st_uid == 65534, (oct(st.st_mode), st.st_uid)
    with device_open_to_all():
        rc, _, err = sh(*NOBODY, RSTR, img, check=False)
    assert rc != 0 and f"choosing pid {p.pid} needs CAP_CHECKPOINT_RESTORE" in err, err
    assert not os.path.exists(f"/proc/{p.pid}"), "a process has the image's pid"


TESTS = [
    ordinary_user_has_no_capabilities,
    shm_flood_bounded_by_nofile,
    failed_sessions_hold_nothing,
    memory_cgroup_charged,
    unreadable_file_not_mapped,
    shared_writable_needs_write_permission,
    noexec_mount_not_mapped_executable,
    fifo_not_waited_for,
    executable_file_needs_checkpoint_restore,
    exe_file_must_be_executable,
    passed_device_file_lends_no_capability,
    nondumpable_after_seize_refused,
    setuid_exec_after_seize_gains_nothing,
    memory_shared_outside_refused,
    others_process_refused,
    setuid_program_refused,
    own_process_image_0600_restart_needs_capability,
    peer_credentials_checked_as_scm_credentials,
    timer_overrun_only_in_a_session_of_ones_own,
    task_killed_before_go_ends_the_session,
]
only = [t for t in TESTS if t.__name__ in sys.argv[1:]]
sys.exit(run(only or TESTS))
