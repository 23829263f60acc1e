#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""eventfds, timerfds and signalfds: saved by the module (EVENTFD, TIMERFD, SIGNALFD
records), made again by rstr, and checked by the program itself after the restart
(selftests/targets/anonfd.c): counts and semaphore mode, timers that keep firing with
the time that remained, a pending signal read through the signalfd, an eventfd shared
by dup and fork. What is not restored (TFD_TIMER_CANCEL_ON_SET, alarm clocks) is refused.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktap  # noqa: E402
from ktap import CKPT, records, run, running, scratch, sh, show_json, skip, target  # noqa: E402

fresh = scratch("ckpt-anonfd-")
ANONFD = target("anonfd")


def state_comes_back_and_the_program_checks_it():
    """The eventfds, timerfds and signalfd of anonfd.c's `state` mode, checkpointed with
    --kill and restarted: the image holds one record per open file description, the
    shared eventfd one for the four descriptors of two processes; then the parent checks
    everything (anonfd.c) while the child writes 7 to the shared eventfd."""
    d = fresh("state")
    with ktap.Tree("state", d, binary=ANONFD) as t:
        r = t.reports(["parent", "child"], "the processes to set up their descriptors")
        parent, child = r["parent"]["pid"], r["child"]["pid"]
        assert r["parent"]["child"] == child, r
        t.watch([child])
        img, _ = t.checkpoint([parent, child])

        recs = show_json(img)
        efds = {e["id"]: e for e in records(recs, "EVENTFD")}
        tfds = records(recs, "TIMERFD")
        sfds = records(recs, "SIGNALFD")
        files = [f for f in records(recs, "FILE") if f["kind"] in ("eventfd", "timerfd", "signalfd")]
        assert sorted((e["count"], e["semaphore"]) for e in efds.values()) == [(0, False), (5, False), (5, True)], efds
        assert sorted(t_["clock"] for t_ in tfds) == ["CLOCK_BOOTTIME", "CLOCK_MONOTONIC", "CLOCK_MONOTONIC",
                                                      "CLOCK_REALTIME"], tfds
        expired = next(t_ for t_ in tfds if t_["interval"] == t_["value"] == "0.000000000")
        assert expired["ticks"] == 1, f"the expired one-shot timer's expiration is saved: {expired}"
        periodic = next(t_ for t_ in tfds if t_["interval"] == "0.050000000")
        assert periodic["clock"] == "CLOCK_MONOTONIC" and not periodic["abstime"], periodic
        assert periodic["ticks"] >= 1, f"the periodic timer's unread expiration is saved: {periodic}"
        wall = next(t_ for t_ in tfds if t_["clock"] == "CLOCK_REALTIME")
        assert wall["abstime"] and wall["interval"] == "0.000000000", wall
        assert [s["mask"] for s in sfds] == [hex(1 << (signal.SIGUSR1 - 1))], sfds
        shared = next(i for i, e in efds.items() if e["count"] == 0)
        users = [f for f in files if f["obj"] == shared]
        assert len(users) == 4 and all(f["kind"] == "eventfd" for f in users), users
        # Each description's record comes once, before its first FILE.
        ids = [x.get("id") for x in recs if x["type"] in ("EVENTFD", "TIMERFD", "SIGNALFD")]
        assert len(ids) == len(set(ids)) == 8, ids
        for f in files:
            first = next(i for i, x in enumerate(recs) if x["type"] == "FILE" and x["obj"] == f["obj"])
            rec_at = next(i for i, x in enumerate(recs) if x["type"] in ("EVENTFD", "TIMERFD", "SIGNALFD")
                          and x["id"] == f["obj"])
            assert rec_at < first, f"the record of description {f['obj']} comes after its first FILE"

        ahead = next(t_ for t_ in tfds if t_["clock"] == "CLOCK_BOOTTIME")
        before_restart = time.monotonic()
        t.restart(img)
        assert running(parent) and running(child), "both processes are back"
        # The parent first: the time left on its 2 s timer runs from the restart.
        os.kill(parent, signal.SIGUSR2)
        os.kill(child, signal.SIGUSR2)
        got = t.reports(["child"], "the child to write to the shared eventfd", lambda _, c: c["wrote"] != 0)["child"]
        assert got["wrote"] == 7, f"the child's write failed: {got}; {t.stderr_text()}"
        got = t.reports(["parent"], "the parent to check its descriptors",
                        lambda _, p: p.get("checked") == 1)["parent"]
        # The 2 s timer had what the image says left, counted from the restart: no more,
        # and no less than that minus the time since rstr started.
        saved = float(ahead["value"])
        left = got["ahead_rem_us"] / 1e6
        since = time.monotonic() - before_restart
        assert saved - since <= left <= saved, (f"the 2 s timer had {left:.3f} s left, {saved:.3f} s when saved, "
                                                f"{since:.3f} s since the restart began")
        assert got["errors"] == 0, f"{got['errors']} checks failed after the restart: {t.stderr_text()}"
        assert got["ticks"] >= periodic["ticks"] and got["more"] >= 5, (got, periodic)


def refused(mode, expect):
    """anonfd.c's MODE: ckpt refuses the process with EXPECT(fd) in its reason, leaves no
    image, and the process counts on."""
    d = fresh(mode)
    with ktap.Tree(mode, d, binary=ANONFD) as t:
        r = t.reports(["refused"], f"anonfd {mode} to start")["refused"]
        if "unavailable" in r:
            skip(f"this kernel makes no such timerfd (errno {r['unavailable']})")
        img = os.path.join(d, "img")
        status, _, err = sh(CKPT, str(t.root), "-o", img, check=False)
        assert status != 0, "ckpt accepted it"
        assert expect(r["fd"]) in err, (expect(r["fd"]), err)
        assert not os.path.exists(img), "no partial image is left behind"
        t.reports(["refused"], "the process to count on", lambda _, n: n["count"] >= r["count"] + 3)
        assert t.report("refused")["remaining_s"] > 3000, "its timer is still armed an hour ahead"


def timerfd_cancel_on_set_is_refused():
    refused("cancel", lambda fd: f"fd {fd}: timerfd armed with TFD_TIMER_CANCEL_ON_SET")


def timerfd_on_an_alarm_clock_is_refused():
    refused("alarm", lambda fd: f"fd {fd}: timerfd on clock 9 (CLOCK_BOOTTIME_ALARM): not supported yet")


TESTS = [
    state_comes_back_and_the_program_checks_it,
    timerfd_cancel_on_set_is_refused,
    timerfd_on_an_alarm_clock_is_refused,
]
if __name__ == "__main__":
    sys.exit(run(TESTS))
