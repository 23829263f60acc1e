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
from ktap import CKPT, RSTR, run, sh, show_json, target, wait_for  # noqa: E402
from ktap import read_info, scratch  # noqa: E402

REFUSALS = target("refusals")
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


def refusal(name, mode, expect, before=None, after=None, cleanup=None, doc=None):
    """The test NAME, of the shape most refusals share: a refusals process in MODE;
    BEFORE(p) checks the state is set up; ckpt refuses it with every text of EXPECT(p) (see
    refused()); the process runs on untouched; AFTER(p) checks what else must hold; CLEANUP(p)
    removes what outlives the process (SysV objects, a child)."""
    def test():
        p = Proc(mode, mode)
        try:
            if before:
                before(p)
            refused(p, expect(p))
            untouched(p.status, p.pid)
            if after:
                after(p)
        finally:
            p.kill()
            if cleanup:
                cleanup(p)
    test.__name__ = test.__qualname__ = name
    test.__doc__ = doc
    return test


def memfd_still_open(p):
    assert os.readlink(f"/proc/{p.pid}/fd/{p.info['fd']}").startswith("/memfd:ckpt-test")


def cwd_removed(p):
    assert not os.path.exists(p.info["dir"])


memfd_refused = refusal(
    "memfd_refused", "memfd",
    lambda p: [f"task {p.pid}: fd {p.info['fd']}: memfd /memfd:ckpt-test (deleted) is open for writing only",
               "its content cannot be read; not supported yet"],
    after=memfd_still_open)
shared_memory_fd_refused = refusal(
    "shared_memory_fd_refused", "devzero",
    lambda p: [f"task {p.pid}: fd {p.info['fd']}: shared memory object /dev/zero"])
second_description_of_a_pipe_end_refused = refusal(
    "second_description_of_a_pipe_end_refused", "pipe2",
    lambda p: [f"task {p.pid}: fd {p.info['fd']}: pipe ",
               "a second open file description of its read end"])
removed_working_directory_and_parent_refused = refusal(
    "removed_working_directory_and_parent_refused", "rmcwd",
    lambda p: [f"task {p.pid}: working directory {p.info['dir']} was removed, "
               "and so was the directory it was in"],
    before=cwd_removed)
removed_directory_fd_and_parent_refused = refusal(
    "removed_directory_fd_and_parent_refused", "rmdirfd",
    lambda p: [f"task {p.pid}: fd {p.info['fd']}: directory {p.info['dir']} was removed, "
               "and so was the directory it was in: there is nowhere to make it again"],
    before=cwd_removed)
deleted_device_node_refused = refusal(
    "deleted_device_node_refused", "rmnode",
    lambda p: [f"task {p.pid}: fd {p.info['fd']}: {p.info['path']} (deleted) is deleted; "
               "deleted files other than regular files and directories are not supported yet"])
attached_sysv_shm_refused = refusal(
    "attached_sysv_shm_refused", "shm",
    lambda p: [f"pid {p.pid} uses SysV shared memory segment {p.info['shmid']}",
               "SysV IPC is saved only with a container's own IPC namespace"])


def inherited_sysv_shm_refused_by_the_module():
    """The child of the process that attached the segment is in no ipc record: the module
    refuses its mapping."""
    p = Proc("shm-child", "shm-child")
    try:
        child = int(p.info["child"])
        cinfo = wait_for(lambda: read_info(p.status + ".child"), "the child to start")
        addr = int(cinfo["addr"], 16)
        refused(p, [f"task {child}: memory {addr:#x}-{addr + 4096:#x}: SysV shared memory "
                    f"segment {p.info['shmid']} (shmat) of an IPC namespace not saved with the "
                    "tree: only a container's own (ckpt --container) is saved"], pid=child)
        untouched(p.status + ".child", child)
        untouched(p.status, p.pid)
    finally:
        kill_child(p)
        p.kill()


sysv_message_queue_refused = refusal(
    "sysv_message_queue_refused", "msg",
    lambda p: [f"pid {p.pid} uses SysV message queue {int(p.info['msqid'])} (it sent to it last)",
               "SysV IPC is saved only with a container's own IPC namespace"],
    cleanup=lambda p: libc.msgctl(int(p.info["msqid"]), IPC_RMID, None))
sysv_semaphore_refused = refusal(
    "sysv_semaphore_refused", "sem",
    lambda p: [f"pid {p.pid} uses SysV semaphore set {int(p.info['semid'])} "
               "(it changed semaphore 1 last)"],
    cleanup=lambda p: libc.semctl(int(p.info["semid"]), 0, IPC_RMID))


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


def first_sigusr1(p):
    wait_for(lambda: p.state().get("sig", 0) >= 1, "the first SIGUSR1 of input")


def input_still_signals(p):
    """Its owner and signal are as they were: input still brings SIGUSR1."""
    before = p.state()["sig"]
    with open(f"/proc/{p.pid}/fd/{p.info['wfd']}", "wb", buffering=0) as w:
        w.write(b"y")
    wait_for(lambda: p.state()["sig"] > before, "SIGUSR1 after the refused checkpoint")


signal_driven_io_refused = refusal(
    "signal_driven_io_refused", "async",
    lambda p: [f"task {p.pid}: fd {p.info['ofd']}: owner pid {p.info['owner']} (F_SETOWN) "
               "is outside the checkpointed tree"],
    before=first_sigusr1, after=input_still_signals)
gs_base_refused_at_checkpoint = refusal(
    "gs_base_refused_at_checkpoint", "gsbase",
    lambda p: [f"task {p.pid}: registers: gs base {p.info['gs_base']}", "cannot be restored yet"])
shared_memory_grown_past_its_object_refused = refusal(
    "shared_memory_grown_past_its_object_refused", "grown",
    lambda p: [f"task {p.pid}: restart would refuse this area: VMA record "
               f"{int(p.info['addr'], 16):#x}-{int(p.info['addr'], 16) + 8192:#x}: "
               "shared memory object", "of 4096 bytes does not fit it"],
    doc="The restart's own check of each VMA record runs at checkpoint too.")


def thread_still_there(p):
    assert os.path.exists(f"/proc/{p.pid}/task/{p.info['tid']}"), "the thread is still there"


tree_restart_cannot_build_refused = refusal(
    "tree_restart_cannot_build_refused", "thread-files",
    lambda p: [f"thread {p.info['tid']} has its own descriptor table or fs context",
               "restart could not rebuild this tree"],
    after=thread_still_there,
    doc="""A thread with its own descriptor table: rstr's plan refuses that tree, so ckpt (which
    runs the same plan on the module's TREE record) refuses it first.""")


def umask(pid):
    return [line for line in open(f"/proc/{pid}/status") if line.startswith("Umask")]


def child_umask_differs(p):
    child = int(p.info["child"])
    wait_for(lambda: umask(child) == ["Umask:\t0077\n"], "the child's umask")
    assert umask(p.pid) != umask(child)


def child_runs_on(p):
    assert open(f"/proc/{p.info['child']}/stat").read().split()[2] in "RS", "the child runs on"


def kill_child(p):
    try:
        os.kill(int(p.info["child"]), signal.SIGKILL)
    except ProcessLookupError:
        pass


vm_child_with_its_own_umask_refused = refusal(
    "vm_child_with_its_own_umask_refused", "vm-umask",
    lambda p: [f"process {p.info['child']} shares its parent's memory but not its root and cwd, "
               "which differs: not supported yet"],
    before=child_umask_differs, after=child_runs_on, cleanup=kill_child,
    doc="""A CLONE_VM child is restarted as a clone of its parent: what it does not share must
    be the parent's. The module compares them at checkpoint, as rstr did at restart.""")


def fanotify_still_marks(p):
    """The group is there, with its mark on the status directory (fdinfo lists it)."""
    fd = p.info["fd"]
    assert os.readlink(f"/proc/{p.pid}/fd/{fd}") == "anon_inode:[fanotify]"
    with open(f"/proc/{p.pid}/fdinfo/{fd}") as f:
        marks = [line for line in f if line.startswith("fanotify ino:")]
    assert len(marks) == 1, marks
    assert os.stat(p.info["dir"]).st_ino == int(marks[0].split()[1].split(":")[1], 16), marks


fanotify_refused = refusal(
    "fanotify_refused", "fanotify",
    lambda p: [f"task {p.pid}: fd {p.info['fd']}: anon_inode:[fanotify] not supported yet"],
    before=fanotify_still_marks, after=fanotify_still_marks,
    doc="""A fanotify group (fanotify_init, as root: CAP_SYS_ADMIN) with a mark on a
    directory: its marks, permission events and the descriptors it hands out are not
    saved, so the checkpoint refuses it naming the fd.""")


def task_state_refusal_ends_the_image_with_its_reason():
    """The module's refusals of unsupported task state (here PR_SET_MDWE) come after the TREE,
    so the image's ERROR record says them too."""
    d = fresh("itimer")
    code = ("import ctypes, sys, time; "
            "assert ctypes.CDLL(None, use_errno=True).prctl(65, 1, 0, 0, 0) == 0; "  # PR_SET_MDWE
            "open(sys.argv[1], 'w').close(); time.sleep(600)")
    p = subprocess.Popen([sys.executable, "-c", code, os.path.join(d, "ready")],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    p.dir, p.pid = d, p.pid
    try:
        wait_for(lambda: os.path.exists(os.path.join(d, "ready")), "python to start")
        refused(p, [f"pid {p.pid} uses memory-deny-write-execute (PR_SET_MDWE), which would forbid "
                    "the restart its own mappings: not supported"])
        assert p.poll() is None, "the refused process runs on"
    finally:
        p.kill()
        p.wait()


if __name__ == "__main__":
    tests = [
        memfd_refused,
        shared_memory_fd_refused,
        second_description_of_a_pipe_end_refused,
        removed_working_directory_and_parent_refused,
        removed_directory_fd_and_parent_refused,
        deleted_device_node_refused,
        attached_sysv_shm_refused,
        inherited_sysv_shm_refused_by_the_module,
        sysv_message_queue_refused,
        sysv_semaphore_refused,
        sysv_queue_of_another_process_is_not_refused,
        signal_driven_io_refused,
        gs_base_refused_at_checkpoint,
        shared_memory_grown_past_its_object_refused,
        tree_restart_cannot_build_refused,
        task_state_refusal_ends_the_image_with_its_reason,
        vm_child_with_its_own_umask_refused,
        fanotify_refused,
    ]
    names = sys.argv[1:]
    sys.exit(run([t for t in tests if not names or t.__name__ in names]))
