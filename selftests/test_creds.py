#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Credentials and per-process attributes: a process that changed its uids, gids, groups,
capabilities and securebits, or set a parent-death signal, has them all back after restart,
whoever restarts it (root, or the unprivileged user itself with CAP_CHECKPOINT_RESTORE)."""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import scratch, CKPT, RSTR, records, run, sh, show_json, stat, target, wait_for  # noqa: E402

fresh = scratch("ckpt-creds-")
CREDS = target("creds")
NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]
# The /proc/PID/status lines of credentials, and the target's own prctl reports.
PROC_KEYS = ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb",
             "NoNewPrivs")
REPORT_KEYS = ("pdeathsig", "securebits", "keepcaps", "dumpable", "no_new_privs", "nice",
               "timerslack", "thp", "subreaper")
CAP_CHOWN, CAP_KILL, CAP_NET_BIND_SERVICE, CAP_NET_RAW = 0, 5, 10, 13
CAP_SYS_MODULE, CAP_SYS_BOOT = 16, 22


def proc_status(pid, tid=None):
    with open(f"/proc/{pid}/task/{tid or pid}/status") as f:
        lines = dict(line.split(":\t", 1) for line in f.read().splitlines() if ":\t" in line)
    return {k: lines[k].strip() for k in PROC_KEYS}


def report(status, role):
    try:
        with open(f"{status}.{role}") as f:
            w = f.read().split()
        return dict(zip(w[0::2], map(int, w[1::2])))
    except (FileNotFoundError, ValueError):
        return None


def fresh_report(status, role, pid):
    """Asks process `pid` for a report (SIGUSR2) and returns it once it is newer."""
    n = (report(status, role) or {}).get("reports", 0)
    os.kill(pid, signal.SIGUSR2)
    return wait_for(lambda: (r := report(status, role)) and r["reports"] > n and r,
                    f"a new report of {role}")


class Creds:
    """A running creds target: `prefix` runs it (setpriv), `mode` sets it up."""

    def __init__(self, d, mode, prefix=(), roles=("root",)):
        os.chmod(d, 0o777)              # its reports are written with its own fsuid
        self.status = os.path.join(d, "status")
        self.proc = subprocess.Popen([*prefix, CREDS, self.status, mode],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        self.reports = {}
        for role in roles:
            self.reports[role] = wait_for(lambda: self._first(role), f"{mode} {role} to start")
        self.pids = {role: r["pid"] for role, r in self.reports.items()}

    def _first(self, role):
        if self.proc.poll() is not None:
            raise AssertionError(f"creds exited {self.proc.returncode}: "
                                 f"{self.proc.stderr.read().decode().strip()}")
        return report(self.status, role)

    def state(self, role="root"):
        """Its /proc credentials and its own report, asked for now."""
        pid = self.pids[role]
        r = fresh_report(self.status, role, pid)
        return proc_status(pid, r["tid"]), {k: r[k] for k in REPORT_KEYS}, r

    def checkpoint_and_kill(self, d):
        img = os.path.join(d, "img")
        sh(CKPT, "--kill", str(self.pid), "-o", img)
        self.proc.wait(timeout=10)
        os.chmod(img, 0o644)
        for pid in self.pids.values():
            wait_for(lambda: dead(pid), f"process {pid} to die")
        return img

    def kill(self):
        for pid in self.pids.values():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def dead(pid):
    try:
        return open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    except OSError:
        return True


def caps(*bits):
    return f"{sum(1 << b for b in bits):016x}"


def as_root(img):
    sh(RSTR, "-d", img)


def restarted_equal(t, d, restart):
    """Checkpoints t, restarts it with `restart(img)`, and checks every role's credentials
    and attributes are what they were."""
    before = {role: t.state(role)[:2] for role in t.pids}
    img = t.checkpoint_and_kill(d)
    restart(img)
    for role, pid in t.pids.items():
        assert not dead(pid), f"{role} {pid} was restarted"
        after = t.state(role)[:2]
        assert after == before[role], (role, before[role], after)


def check_and_restart(t, d, check, restart=as_root):
    """`check(proc, report)` on the running target, then restarted_equal; t is killed at
    the end, whatever happened."""
    try:
        check(*t.state()[:2])
        restarted_equal(t, d, restart)
    finally:
        t.kill()


def setuid_process_restarted_as_root():
    d = fresh("setuid")

    def check(proc, rep):
        assert proc["Uid"] == "1001\t1002\t1003\t1005", proc
        assert proc["Gid"] == "1001\t1002\t1003\t1004", proc
        assert proc["Groups"] == "100 200 300", proc
        assert proc["CapInh"] == caps(CAP_KILL, CAP_NET_BIND_SERVICE), proc
        assert proc["CapPrm"] == caps(CAP_KILL, CAP_NET_BIND_SERVICE, CAP_NET_RAW), proc
        assert proc["CapEff"] == caps(CAP_KILL), proc
        assert proc["CapAmb"] == caps(CAP_NET_BIND_SERVICE), proc
        bnd = int(proc["CapBnd"], 16)
        assert bnd & (1 << CAP_SYS_MODULE | 1 << CAP_SYS_BOOT) == 0 and bnd & 1 << CAP_KILL
        assert rep["securebits"] == 0 and rep["keepcaps"] == 0, rep

    check_and_restart(Creds(d, "setuid"), d, check)


def securebits_process_restarted_as_root():
    d = fresh("secure")

    def check(proc, rep):
        assert rep["securebits"] == 0x63, rep  # NOROOT(+LOCKED) KEEP_CAPS_LOCKED NO_AMBIENT_RAISE
        assert proc["CapAmb"] == caps(CAP_NET_BIND_SERVICE), proc
        assert proc["CapPrm"] == caps(CAP_CHOWN, CAP_NET_BIND_SERVICE), proc
        assert proc["CapEff"] == caps(CAP_CHOWN), proc

    check_and_restart(Creds(d, "secure"), d, check)


def nobody_restarted_by_root():
    d = fresh("nobody-root")

    def check(proc, rep):
        assert proc["Uid"] == "65534\t65534\t65534\t65534" and proc["Groups"] == "", proc
        assert proc["CapPrm"] == caps() and proc["CapEff"] == caps(), proc
        assert rep["securebits"] == 0 and rep["dumpable"] == 1, rep

    check_and_restart(Creds(d, "idle", prefix=NOBODY), d, check)


def nobody_restarts_itself_with_checkpoint_restore():
    """uid 65534 restarts its own process (keep-caps on, which needs no capability) with
    only CAP_CHECKPOINT_RESTORE, which choosing pids needs (test_restart.py's
    unprivileged_restart_rejected: without it, rstr refuses)."""
    d = fresh("nobody-self")

    def check(proc, rep):
        assert proc["Uid"] == "65534\t65534\t65534\t65534" and proc["CapPrm"] == caps(), proc
        assert rep["securebits"] == 0x10 and rep["keepcaps"] == 1, rep

    def restart(img):
        mode = os.stat("/dev/checkpoint").st_mode
        os.chmod("/dev/checkpoint", 0o666)
        try:
            sh(*NOBODY, "--inh-caps", "+checkpoint_restore", "--ambient-caps",
               "+checkpoint_restore", RSTR, "-d", img)
        finally:
            os.chmod("/dev/checkpoint", mode & 0o777)

    check_and_restart(Creds(d, "keepcaps", prefix=NOBODY), d, check, restart)


def pdeath_signal_restored():
    d = fresh("pdeath")
    roles = ("root", "usr1", "none", "rt40")
    t = Creds(d, "pdeath", roles=roles)
    want = {"root": 0, "usr1": signal.SIGUSR1, "none": 0, "rt40": 40}
    try:
        for role in roles:
            assert t.reports[role]["pdeathsig"] == want[role], (role, t.reports[role])
        restarted_equal(t, d, as_root)
        tasks = {r["pid"]: r for r in records(show_json(os.path.join(d, "img")), "TASK")}
        for role in roles:
            assert tasks[t.pids[role]]["pdeath_signal"] == want[role], tasks
            if role != "root":
                assert t.state(role)[2]["ppid"] == t.pid, f"{role}'s parent is the root"
        os.kill(t.pid, signal.SIGKILL)
        r1 = wait_for(lambda: (r := report(t.status, "usr1")) and r["usr1"] == 1 and r,
                      "SIGUSR1 at the parent's death")
        r40 = wait_for(lambda: (r := report(t.status, "rt40")) and r["rt40"] == 1 and r,
                       "signal 40 at the parent's death")
        assert r1["rt40"] == 0 and r40["usr1"] == 0, (r1, r40)
        none = fresh_report(t.status, "none", t.pids["none"])
        assert none["usr1"] == 0 and none["rt40"] == 0, none
        assert none["ppid"] != t.pid, "the child without a parent-death signal was reparented"
    finally:
        t.kill()


def pdeath_signal_set_after_reparenting():
    """A child whose session leader died, reparented to its subreaper, with a parent-death
    signal: at restart a placeholder of the leader creates it and exits; the signal must not
    be set before that exit (it would be sent then), and must be set after."""
    d = fresh("orphan")
    t = Creds(d, "orphan", roles=("root", "orphan"))
    try:
        r = t.reports["orphan"]
        assert r["pdeathsig"] == signal.SIGUSR1 and r["ppid"] == t.pid, r
        restarted_equal(t, d, as_root)
        r = t.state("orphan")[2]
        assert r["usr1"] == 0, "SIGUSR1 came at restart, when the placeholder parent exited"
        assert r["ppid"] == t.pid and r["pdeathsig"] == signal.SIGUSR1, r
        os.kill(t.pid, signal.SIGKILL)
        wait_for(lambda: (r := report(t.status, "orphan")) and r["usr1"] == 1,
                 "SIGUSR1 at the subreaper's death")
    finally:
        t.kill()


def child_subreaper_restored():
    """The orphan tree's root set PR_SET_CHILD_SUBREAPER: after restart PR_GET_CHILD_SUBREAPER
    reads 1 in it (0 in its child), and a process orphaned after the restart (signal 41: the
    root forks B, B forks C and exits) is reparented to the restored root, not to init."""
    d = fresh("subreaper")
    t = Creds(d, "orphan", roles=("root", "orphan"))
    try:
        assert (t.reports["root"]["subreaper"], t.reports["orphan"]["subreaper"]) == (1, 0), t.reports
        restarted_equal(t, d, as_root)
        tree = records(show_json(os.path.join(d, "img")), "TREE")[0]["tasks"]
        assert {x["pid"]: x["subreaper"] for x in tree} == {t.pid: True, t.pids["orphan"]: False}, tree
        assert t.state()[2]["subreaper"] == 1, "the restored root is no subreaper"
        os.kill(t.pid, 41)
        late = wait_for(lambda: report(t.status, "late"), "the orphan made after the restart")
        t.pids["late"] = late["pid"]
        assert late["ppid"] == t.pid, (f"the orphan made after the restart went to "
                                       f"{late['ppid']}, not to the restored root {t.pid}")
        assert stat(late["pid"])[1] == t.pid, stat(late["pid"])
    finally:
        t.kill()


def not_dumpable_stays_so():
    d = fresh("nodump")

    def check(proc, rep):
        assert rep["dumpable"] == 0, rep

    check_and_restart(Creds(d, "nodump"), d, check)


def nice_and_timer_slack_restored_per_thread():
    d = fresh("nice")

    def check(proc, rep):
        r = report(t.status, "thread")
        assert (rep["nice"], rep["timerslack"]) == (7, 123456), rep
        assert (r["nice"], r["timerslack"]) == (3, 654321), r

    t = threaded(d, "nice")
    check_and_restart(t, d, check)
    tasks = records(show_json(os.path.join(d, "img")), "TASK")
    assert sorted((r["nice"], r["timer_slack_ns"]) for r in tasks) == [(3, 654321), (7, 123456)]


def threaded(d, mode, prefix=()):
    t = Creds(d, mode, prefix=prefix, roles=("root", "thread"))
    t.pids["thread"] = t.pid        # signals go to the process; every thread reports
    return t


def thread_keeps_its_own_credentials():
    """A thread whose uids and gids differ from its process's (set with raw system calls)."""
    d = fresh("threaduid")

    def check(proc, rep):
        r = report(t.status, "thread")
        assert proc["Uid"] == "0\t0\t0\t0", proc
        thread = proc_status(t.pid, r["tid"])
        assert thread["Uid"] == "2001\t2002\t2003\t2002", thread
        assert thread["Gid"] == "2001\t2002\t2003\t2002", thread
        assert thread["CapPrm"] == caps(), thread

    t = threaded(d, "threaduid")
    check_and_restart(t, d, check)


def threaded_nobody_restarted_by_root():
    """Threads are created with their pids (which needs CAP_CHECKPOINT_RESTORE) before the
    process takes the image's credentials, and then take their own."""
    d = fresh("threaded-nobody")

    def check(proc, rep):
        assert proc["Uid"] == "65534\t65534\t65534\t65534" and proc["CapPrm"] == caps(), proc

    check_and_restart(threaded(d, "nice", prefix=NOBODY), d, check)


def no_new_privs_per_thread():
    d = fresh("nnp")

    def check(proc, rep):
        r = report(t.status, "thread")
        assert rep["no_new_privs"] == 1 and r["no_new_privs"] == 0, (rep, r)

    t = threaded(d, "nnp")
    check_and_restart(t, d, check)


def thp_disable_restored():
    d = fresh("thp")

    def check(proc, rep):
        assert rep["thp"] == 3, rep     # 1 | PR_THP_DISABLE_EXCEPT_ADVISED

    check_and_restart(Creds(d, "thp"), d, check)


def refused_with_reason(name, prefix, mode, what):
    """Checkpoint refuses what rstr cannot give back, says why, and the process runs on."""
    d = fresh(name)
    t = Creds(d, mode, prefix=prefix)
    try:
        img = os.path.join(d, "img")
        status, _, err = sh(CKPT, str(t.pid), "-o", img, check=False)
        assert status != 0, f"a process with {what} was checkpointed"
        assert f"pid {t.pid} uses {what}: not supported yet" in err, err
        assert not dead(t.pid), "the refused process was killed"
        assert t.state()[2]["reports"] > 1, "the refused process runs on"
    finally:
        t.kill()


def scheduling_policy_refused_with_reason():
    """Other policies are saved (test_attrs.py); SCHED_DEADLINE is not."""
    refused_with_reason("sched", ("chrt", "--reset-on-fork", "--deadline", "--sched-runtime", "50000000",
                                  "--sched-deadline", "100000000", "--sched-period", "100000000", "0"),
                        "idle", "SCHED_DEADLINE (its runtime, deadline and period, and the CPU "
                        "bandwidth the kernel admitted it for, are not saved)")


def mdwe_refused_with_reason():
    refused_with_reason("mdwe", (), "mdwe", "memory-deny-write-execute (PR_SET_MDWE), which "
                        "would forbid the restart its own mappings")


def task_flags_refused_with_reason():
    refused_with_reason("mce", (), "mce", "a machine-check kill policy (PR_MCE_KILL)")
    refused_with_reason("ioflusher", (), "ioflusher", "PR_SET_IO_FLUSHER")
    refused_with_reason("notsc", (), "notsc", "a disabled time-stamp counter (PR_SET_TSC)")


TESTS = [
    setuid_process_restarted_as_root,
    securebits_process_restarted_as_root,
    nobody_restarted_by_root,
    nobody_restarts_itself_with_checkpoint_restore,
    pdeath_signal_restored,
    pdeath_signal_set_after_reparenting,
    child_subreaper_restored,
    not_dumpable_stays_so,
    nice_and_timer_slack_restored_per_thread,
    thread_keeps_its_own_credentials,
    threaded_nobody_restarted_by_root,
    no_new_privs_per_thread,
    thp_disable_restored,
    scheduling_policy_refused_with_reason,
    mdwe_refused_with_reason,
    task_flags_refused_with_reason,
]
only = [t for t in TESTS if t.__name__ in sys.argv[1:]]
sys.exit(run(only or TESTS))
