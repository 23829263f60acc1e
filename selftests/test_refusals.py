#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Refusals: state a restart could not rebuild is refused at checkpoint, with a reason naming
the task, the descriptor or object and its kind, in ckpt's error and in the image's ERROR
record, and the process runs on untouched (selftests/targets/refusals.c)."""
import ctypes
import json
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import OUT, CKPT, RSTR, run, sh, show_json, wait_for  # noqa: E402
from ktap import read_info, scratch  # noqa: E402

REFUSALS = os.path.join(OUT, "targets", "refusals")
fresh = scratch("ckpt-refuse-")
libc = ctypes.CDLL(None, use_errno=True)
IPC_RMID = 0


def read_status(status):
    """counter N mem OK sig N, as a dict; {} while the first line is not whole."""
    try:
        with open(status) as f:
            w = f.read().split()
    except OSError:
        return {}
    if len(w) < 6 or w[0] != "counter":
        return {}
    return {"counter": int(w[1]), "mem": w[3], "sig": int(w[5])}


class Proc:
    """A refusals process in one MODE, with its status files in a fresh directory."""

    def __init__(self, name, mode):
        self.dir = fresh(name)
        self.status = os.path.join(self.dir, "status")
        self.proc = subprocess.Popen([REFUSALS, self.status, mode], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.info = wait_for(lambda: read_info(self.status), f"refusals {mode} to start")
        self.pid = int(self.info["pid"])
        wait_for(lambda: read_status(self.status), "its first status line")

    def state(self):
        return read_status(self.status)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def untouched(status_path, pid, sig_above=None):
    """The process runs on after the refusal: its counter advances, its memory holds."""
    before = read_status(status_path)
    assert before, "no status"
    now = wait_for(lambda: (lambda s: s if s and s["counter"] > before["counter"] else None)(
        read_status(status_path)), f"process {pid} to run on after the refused checkpoint")
    assert now["mem"] == "OK", f"process {pid}'s memory changed: {now}"
    assert open(f"/proc/{pid}/stat").read().split()[2] in "RS", "not running"
    return now


def restart_after(p, img, pid):
    """What happened on the old code: the checkpoint succeeded; kill the process and show how
    its restart went, for the failure message."""
    p.kill()
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    wait_for(lambda: not os.path.exists(f"/proc/{pid}") or
             open(f"/proc/{pid}/stat").read().split()[2] == "Z", f"process {pid} to die")
    st, _, err = sh(RSTR, "--detach", img, check=False, timeout=120)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    return f"exit {st}: {err.strip()}"


def refused(p, expect, pid=None):
    """ckpt of `pid` (default p's) fails with every text of `expect` in its error and in the
    ERROR record that ends the image; the process runs on. Returns the reason."""
    pid = pid or p.pid
    img = os.path.join(p.dir, f"img-{pid}")
    status, _, err = sh(CKPT, str(pid), "-o", img, check=False)
    if status == 0:
        raise AssertionError(f"ckpt accepted process {pid}; its restart then: "
                             f"{restart_after(p, img, pid)}")
    for e in expect:
        assert e in err, (e, err)
    assert not os.path.exists(img), "no partial image is left behind"

    ck = subprocess.Popen([CKPT, str(pid)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    show = subprocess.run([CKPT, "show", "--json", "-"], stdin=ck.stdout, capture_output=True,
                          text=True, timeout=300)
    ck.stdout.close()
    ck_err = ck.stderr.read().decode()
    assert ck.wait() != 0, "the checkpoint to a pipe must fail too"
    recs = [json.loads(line) for line in show.stdout.splitlines()]
    assert show.returncode != 0 and recs, show.stderr
    assert recs[0]["type"] == "HEADER", recs[0]
    last = recs[-1]
    assert last["type"] == "ERROR", last
    assert last["errno"] == 95, last  # EOPNOTSUPP
    for e in expect:
        assert e in last["reason"], (e, last)
        assert e in ck_err, (e, ck_err)
    assert "the checkpoint failed" in show.stderr, show.stderr
    return err


def memfd_refused():
    p = Proc("memfd", "memfd")
    try:
        fd = p.info["fd"]
        refused(p, [f"task {p.pid}: fd {fd}: memfd /memfd:ckpt-test (deleted)",
                    "cannot be reopened by path"])
        untouched(p.status, p.pid)
        assert os.readlink(f"/proc/{p.pid}/fd/{fd}").startswith("/memfd:ckpt-test")
    finally:
        p.kill()


def shared_memory_fd_refused():
    p = Proc("devzero", "devzero")
    try:
        fd = p.info["fd"]
        refused(p, [f"task {p.pid}: fd {fd}: shared memory object /dev/zero"])
        untouched(p.status, p.pid)
    finally:
        p.kill()


def second_description_of_a_pipe_end_refused():
    p = Proc("pipe2", "pipe2")
    try:
        fd = p.info["fd"]
        refused(p, [f"task {p.pid}: fd {fd}: pipe ",
                    "a second open file description of its read end"])
        untouched(p.status, p.pid)
    finally:
        p.kill()


def removed_working_directory_refused():
    p = Proc("rmcwd", "rmcwd")
    try:
        d = p.info["dir"]
        assert not os.path.exists(d)
        refused(p, [f"task {p.pid}: working directory {d} (deleted) was removed"])
        untouched(p.status, p.pid)
    finally:
        p.kill()


def attached_sysv_shm_refused():
    p = Proc("shm", "shm")
    try:
        shmid = p.info["shmid"]
        refused(p, [f"pid {p.pid} uses SysV shared memory segment {shmid}",
                    "SysV IPC is not saved yet"])
        untouched(p.status, p.pid)
    finally:
        p.kill()


def inherited_sysv_shm_refused_by_the_module():
    """The child of the process that attached the segment is in no ipc record: the module
    refuses its mapping."""
    p = Proc("shm-child", "shm-child")
    try:
        child = int(p.info["child"])
        cinfo = wait_for(lambda: read_info(p.status + ".child"), "the child to start")
        addr = int(cinfo["addr"], 16)
        refused(p, [f"task {child}: memory {addr:#x}-{addr + 4096:#x}: "
                    "SysV shared memory segment (shmat) not supported yet"], pid=child)
        untouched(p.status + ".child", child)
        untouched(p.status, p.pid)
    finally:
        try:
            os.kill(int(p.info["child"]), signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.kill()


def sysv_message_queue_refused():
    p = Proc("msg", "msg")
    msqid = int(p.info["msqid"])
    try:
        refused(p, [f"pid {p.pid} uses SysV message queue {msqid} (it sent to it last)",
                    "SysV IPC is not saved yet"])
        untouched(p.status, p.pid)
    finally:
        p.kill()
        libc.msgctl(msqid, IPC_RMID, None)


def sysv_semaphore_refused():
    p = Proc("sem", "sem")
    semid = int(p.info["semid"])
    try:
        refused(p, [f"pid {p.pid} uses SysV semaphore set {semid} (it changed semaphore 1 last)"])
        untouched(p.status, p.pid)
    finally:
        p.kill()
        libc.semctl(semid, 0, IPC_RMID)


def sysv_queue_of_another_process_is_not_refused():
    """A queue whose pids are all outside the tree does not refuse it."""
    msqid = libc.msgget(0, 0o1600)  # IPC_PRIVATE, IPC_CREAT | 0600
    assert msqid >= 0, ctypes.get_errno()
    msg = ctypes.create_string_buffer(b"\x01" + b"\x00" * 7 + b"hello", 13)
    assert libc.msgsnd(msqid, msg, 5, 0) == 0, ctypes.get_errno()
    p = Proc("msg-other", "plain")
    try:
        img = os.path.join(p.dir, "img")
        sh(CKPT, str(p.pid), "-o", img)
        assert show_json(img)[-1]["type"] == "TAIL"
        untouched(p.status, p.pid)
    finally:
        p.kill()
        libc.msgctl(msqid, IPC_RMID, None)


def signal_driven_io_refused():
    p = Proc("async", "async")
    try:
        fd, wfd = p.info["fd"], p.info["wfd"]
        wait_for(lambda: p.state().get("sig", 0) >= 1, "the first SIGUSR1 of input")
        refused(p, [f"task {p.pid}: fd {fd}: signal-driven I/O (O_ASYNC on, "
                    f"F_SETOWN process {p.pid}, F_SETSIG {int(signal.SIGUSR1)}) is not saved yet"])
        untouched(p.status, p.pid)
        # Its owner and signal are as they were: input still brings SIGUSR1.
        before = p.state()["sig"]
        with open(f"/proc/{p.pid}/fd/{wfd}", "wb", buffering=0) as w:
            w.write(b"y")
        wait_for(lambda: p.state()["sig"] > before, "SIGUSR1 after the refused checkpoint")
    finally:
        p.kill()


def gs_base_refused_at_checkpoint():
    p = Proc("gsbase", "gsbase")
    try:
        refused(p, [f"task {p.pid}: registers: gs base {p.info['gs_base']}",
                    "cannot be restored yet"])
        untouched(p.status, p.pid)
    finally:
        p.kill()


def shared_memory_grown_past_its_object_refused():
    """The restart's own check of each VMA record runs at checkpoint too."""
    p = Proc("grown", "grown")
    try:
        addr = int(p.info["addr"], 16)
        refused(p, [f"task {p.pid}: restart would refuse this area: VMA record "
                    f"{addr:#x}-{addr + 8192:#x}: shared memory object",
                    "of 4096 bytes does not fit it"])
        untouched(p.status, p.pid)
    finally:
        p.kill()


def vm_child_with_its_own_umask_refused():
    """A CLONE_VM child is restarted as a clone of its parent: what it does not share must
    be the parent's. The module compares them at checkpoint, as rstr did at restart."""
    p = Proc("vm-umask", "vm-umask")
    child = int(p.info["child"])
    try:
        umask = lambda pid: [l for l in open(f"/proc/{pid}/status") if l.startswith("Umask")]
        wait_for(lambda: umask(child) == ["Umask:\t0077\n"], "the child's umask")
        assert umask(p.pid) != umask(child)
        refused(p, [f"process {child} shares its parent's memory but not its root and cwd, "
                    "which differs: not supported yet"])
        untouched(p.status, p.pid)
        assert open(f"/proc/{child}/stat").read().split()[2] in "RS", "the child runs on"
    finally:
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.kill()


def timer_refusal_ends_the_image_with_its_reason():
    """The module's refusals of unsupported task state (timers...) come after the TREE now,
    so the image's ERROR record says them too."""
    d = fresh("itimer")
    code = ("import signal, sys, time; signal.signal(signal.SIGALRM, lambda *a: None); "
            "signal.setitimer(signal.ITIMER_REAL, 100); open(sys.argv[1], 'w').close(); "
            "time.sleep(600)")
    p = subprocess.Popen([sys.executable, "-c", code, os.path.join(d, "ready")],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    p.dir, p.pid = d, p.pid
    try:
        wait_for(lambda: os.path.exists(os.path.join(d, "ready")), "python to start")
        refused(p, [f"pid {p.pid} uses an armed ITIMER_REAL (setitimer, alarm): not supported"])
        assert p.poll() is None, "the refused process runs on"
    finally:
        p.kill()
        p.wait()


def tree_restart_cannot_build_refused():
    """A thread with its own descriptor table: rstr's plan refuses that tree, so ckpt (which
    runs the same plan on the module's TREE record) refuses it first."""
    p = Proc("thread-files", "thread-files")
    try:
        tid = p.info["tid"]
        refused(p, [f"thread {tid} has its own descriptor table or fs context",
                    "restart could not rebuild this tree"])
        untouched(p.status, p.pid)
        assert os.path.exists(f"/proc/{p.pid}/task/{tid}"), "the thread is still there"
    finally:
        p.kill()


if __name__ == "__main__":
    tests = [
        memfd_refused,
        shared_memory_fd_refused,
        second_description_of_a_pipe_end_refused,
        removed_working_directory_refused,
        attached_sysv_shm_refused,
        inherited_sysv_shm_refused_by_the_module,
        sysv_message_queue_refused,
        sysv_semaphore_refused,
        sysv_queue_of_another_process_is_not_refused,
        signal_driven_io_refused,
        gs_base_refused_at_checkpoint,
        shared_memory_grown_past_its_object_refused,
        tree_restart_cannot_build_refused,
        timer_refusal_ends_the_image_with_its_reason,
        vm_child_with_its_own_umask_refused,
    ]
    names = sys.argv[1:]
    sys.exit(run([t for t in tests if not names or t.__name__ in names]))
