#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Timers: ITIMER_REAL and POSIX timers keep firing after a restart, with the same ids, the
time that was left and their sigev value; so do ITIMER_VIRTUAL, ITIMER_PROF and POSIX timers
on the process's and a thread's CPU clocks; what cannot be saved (another process's CPU clock,
an exited thread's) is refused at checkpoint with its reason (selftests/targets/timers.c).

The one-shot timer is due 7 s after it was armed, plus the time the process did not run
(checkpoint, kill, restart: the longest gap of its main loop): re-armed from zero at restart
it would fire about 3 s late, never armed it would not fire at all.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import CKPT, Tree, run, scratch, sh, show_json, records, target  # noqa: E402

TIMERS = target("timers")
fresh = scratch("ckpt-timers-")


def timers_keep_firing_after_restart():
    d = fresh("run")
    with Tree("run", d, binary=TIMERS) as t:
        before = t.reports(["timers"], "the timers to run",
                           lambda _, r: r["alrm"] >= 5 and r["ptimer"] >= 3
                           and r["since_arm_ms"] >= 3000)["timers"]
        ids = ("periodic_id", "oneshot_id", "thread_id", "silent_id")
        assert tuple(before[k] for k in ids) == (2, 4, 5, 6), before
        assert before["tptimer"] >= 2, before
        assert before["bad"] == 0 and before["fired"] == 0, before

        img, _ = t.checkpoint([before["pid"]])
        recs = show_json(img)
        it = records(recs, "ITIMERS")
        assert len(it) == 1 and it[0]["real_interval_ns"] == 20_000_000, it
        assert 0 < it[0]["real_value_ns"] <= 20_000_000, it
        pt = {r["id"]: r for r in records(recs, "POSIX_TIMER")}
        assert sorted(pt) == [2, 4, 5, 6, 7], pt
        # The lagging timer: its overrun as its one delivery left it, and its signal pending.
        assert before["lag_id"] == 7 and before["lag_overrun"] == before["lag_first"] > 0, before
        assert pt[7]["overrun"] == before["lag_overrun"] and pt[7]["pending"], pt[7]
        tids = {r["pid"] for r in records(recs, "TASK")} - {before["pid"]}
        assert pt[5]["notify"] == "thread-id" and {pt[5]["tid"]} == tids, (pt[5], tids)
        assert (pt[6]["notify"], pt[6]["signo"], pt[6]["interval_ns"]) == ("none", 0, 50_000_000), pt
        pending = [s for s in records(recs, "SIGINFO") if s["code"] == -2]  # SI_TIMER
        print(f"# {len(pending)} timer signals pending in the image: "
              f"{sorted(s['signo'] for s in pending)}", flush=True)
        assert (pt[2]["clock_name"], pt[2]["notify"], pt[2]["value"]) == ("monotonic", "signal", "0x5eed0001"), pt
        assert pt[2]["interval_ns"] == 30_000_000 and 0 < pt[2]["value_ns"] <= 30_000_000, pt
        left = pt[4]["value_ns"]
        assert pt[4]["interval_ns"] == 0 and pt[4]["value"] == "0x5eed0002", pt
        # Armed 7 s ahead, saved 3 s or more later: the time that was left.
        assert 0 < left <= 4_000_000_000, pt

        # The last report of the killed process goes: every report from now on is the
        # restored one's.
        last = t.report("timers")
        os.unlink(os.path.join(d, "timers"))
        t.restart(img)
        after = t.reports(["timers"], "the timers to fire after restart",
                          lambda _, r: r["alrm"] >= last["alrm"] + 10
                          and r["ptimer"] >= last["ptimer"] + 5, timeout=60)["timers"]
        assert after["pid"] == before["pid"], after
        # The saved ids are the restored process's timers, with their intervals.
        assert tuple(after[k] for k in ids) == (2, 4, 5, 6), after
        errs = ("periodic_err", "oneshot_err", "silent_err", "real_err")
        assert tuple(after[k] for k in errs) == (0, 0, 0, 0), after
        # timer_getoverrun says what it said (CKPT_IOC_RESTART_TIMER), not 0.
        assert after["lag_overrun"] == before["lag_overrun"], (before, after)
        assert (after["periodic_iv_ms"], after["silent_iv_ms"], after["real_iv_us"]) == (30, 50, 20000), after
        assert 0 < after["silent_left_us"] <= 50_000, after
        # The thread's timer signals that thread, as before.
        t.reports(["timers"], "the thread's timer to fire after restart",
                  lambda _, r: r["tptimer"] >= last["tptimer"] + 3)
        assert after["bad"] == 0, f"a timer signal with a wrong value, id or code: {after}"
        # It did not run for a while (the gap: its loop turns every 5 ms), and the one-shot
        # waits out what was left.
        assert after["gap_ms"] >= 20, after
        done = t.reports(["timers"], "the one-shot to fire",
                         lambda _, r: r["fired"] >= 1, timeout=60)["timers"]
        print(f"# saved: {left // 1_000_000} ms left of the one-shot; after restart: gap "
              f"{done['gap_ms']} ms, fired {done['late_ms']} ms from its due time", flush=True)
        assert done["fired"] == 1 and done["bad"] == 0, done
        # Early by what the restart took after arming it at most; re-armed from zero it
        # would be late by the 3 s it had run, armed to fire at once early by the 4 s left.
        assert -2000 <= done["late_ms"] <= 1000, \
            f"the one-shot fired {done['late_ms']} ms from its due time: {done}"
        assert done["oneshot_left_ms"] == 0, done


def cpu_timers(uid=None):
    """The CPU-time timers of `timers cpu` across a checkpoint and restart (as UID with
    cpu_timers_as_nobody's rules if given)."""
    d = fresh("cpu" if uid is None else "cpu-nobody")
    if uid is not None:
        os.chown(d, uid, uid)
    with Tree("cpu", d, *([] if uid is None else [str(uid)]), binary=TIMERS) as t:
        before = t.reports(["timers"], "the CPU timers to fire",
                           lambda _, r: r.get("ready") == 1 and min(r["vt"], r["prof"], r["pcpu"],
                                                                    r["tcpu"]) >= 3)["timers"]
        assert before["bad"] == 0, before
        # The far one-shot: time left plus CPU time is the arming point, constant.
        again = t.reports(["timers"], "another report",
                          lambda _, r: r["cpu_ms"] >= before["cpu_ms"] + 100)["timers"]
        assert abs(again["far_sum_ms"] - before["far_sum_ms"]) <= 20, (before, again)
        seen = {}

        def image(img):
            recs = show_json(img)
            last = seen["last"] = t.report("timers")
            it = records(recs, "ITIMERS")
            assert len(it) == 1, it
            it = it[0]
            assert (it["virt_interval_ns"], it["prof_interval_ns"]) == (30_000_000, 50_000_000), it
            assert 0 < it["virt_value_ns"] <= 30_000_000 and 0 < it["prof_value_ns"] <= 50_000_000, it
            assert (it["real_value_ns"], it["real_interval_ns"]) == (0, 0), it
            pt = {r["id"]: r for r in records(recs, "POSIX_TIMER")}
            p, q, far = pt[before["pcpu_id"]], pt[before["tcpu_id"]], pt[before["far_id"]]
            assert (p["clock_name"], p["notify"], p["value"], p["interval_ns"]) == \
                ("process-cputime", "signal", "0x5eed0004", 40_000_000), p
            assert 0 < p["value_ns"] <= 40_000_000, p
            assert (q["clock_name"], q["clock_tid"], q["notify"], q["tid"]) == \
                ("thread-cputime", before["spinner"], "thread-id", before["spinner"]), q
            assert q["interval_ns"] == 60_000_000 and 0 < q["value_ns"] <= 60_000_000, q
            assert (far["clock_name"], far["notify"], far["interval_ns"]) == ("process-cputime", "none", 0), far
            saved_ms = seen["saved_ms"] = far["value_ns"] // 1_000_000
            # The last report came before the freeze; the CPU time between them is small.
            assert last["far_left_ms"] - 3000 <= saved_ms <= last["far_left_ms"] + 5, (saved_ms, last)
            os.unlink(os.path.join(d, "timers"))

        t.checkpoint_restart_as(uid, [before["pid"]], image)
        last, saved_ms = seen["last"], seen["saved_ms"]
        after = t.reports(["timers"], "the CPU timers to fire after restart",
                          lambda _, r: r["vt"] >= last["vt"] + 5 and r["prof"] >= last["prof"] + 5
                          and r["pcpu"] >= last["pcpu"] + 5 and r["tcpu"] >= last["tcpu"] + 5,
                          timeout=120)["timers"]
        assert after["pid"] == before["pid"] and after["spinner"] == before["spinner"], after
        ids = ("pcpu_id", "tcpu_id", "far_id")
        assert tuple(after[k] for k in ids) == tuple(before[k] for k in ids), (before, after)
        assert (after["virt_err"], after["prof_err"]) == (0, 0), after
        assert (after["virt_iv_us"], after["prof_iv_us"]) == (30_000, 50_000), after
        assert (after["pcpu_iv_ms"], after["tcpu_iv_ms"]) == (40, 60), after
        assert after["bad"] == 0, f"a CPU timer's signal with a wrong value, id, code or thread: {after}"
        # The far one-shot was armed, in the restored process, with the time that was left:
        # its sum is that plus the CPU time the new process had used by then (its creation
        # by rstr), and it stays constant from there.
        armed_at = after["far_sum_ms"] - saved_ms
        print(f"# far one-shot: {saved_ms} ms of CPU time left when saved; restored process "
              f"armed it at {armed_at} ms of its CPU time, and had used {after['cpu_ms']} ms "
              "by this report", flush=True)
        assert 0 <= armed_at <= 3000, (saved_ms, after)
        later = t.reports(["timers"], "a later report",
                          lambda _, r: r["cpu_ms"] >= after["cpu_ms"] + 100)["timers"]
        assert abs(later["far_sum_ms"] - after["far_sum_ms"]) <= 20, (after, later)


def cpu_timers_keep_counting_after_restart():
    """ITIMER_VIRTUAL, ITIMER_PROF, a POSIX timer on the process's CPU clock and one on a
    spinning thread's (signalling that thread) fire on after restart with their intervals
    and ids; the time left of a far one-shot on the process's clock is what it was, counted
    on from the new process's clock (its time left plus the CPU time stays constant)."""
    cpu_timers()


def cpu_timers_as_nobody():
    """The same as uid 65534: ckpt with no capability, rstr with CAP_CHECKPOINT_RESTORE."""
    cpu_timers(65534)


def cpu_clock_of_another_process_or_an_exited_thread_refused():
    """A timer on the parent's CPU clock (outside the tree) and one on the clock of a
    thread that exited are refused at checkpoint, with the timer's id and why."""
    for mode in ("otherclock", "exitedclock"):
        d = fresh(mode)
        with Tree(mode, d, binary=TIMERS) as t:
            r = t.reports(["timers"], f"timers {mode} to start", lambda _, r: r["ready"] == 1)["timers"]
            img = os.path.join(d, "img")
            status, _, err = sh(CKPT, str(r["pid"]), "-o", img, check=False)
            why = (f"pid {r['pid']}: POSIX timer 0 (timer_create) uses the CPU clock of another "
                   "process or of a thread that exited")
            assert status != 0 and why in err and "not supported yet" in err, (mode, err)
            assert not os.path.exists(img), "no partial image is left behind"
            assert t.proc.poll() is None, "the refused process runs on"


def timer_of_an_exited_thread_refused_at_checkpoint():
    """A SIGEV_THREAD_ID timer whose thread exited signals nobody (its pid number may go to
    another task): refused at checkpoint, not at restart."""
    d = fresh("exited")
    with Tree("exited", d, binary=TIMERS) as t:
        r = t.reports(["timers"], "the exited thread's timer", lambda _, r: r["ready"] == 1)["timers"]
        img = os.path.join(d, "img")
        status, _, err = sh(CKPT, str(r["pid"]), "-o", img, check=False)
        why = (f"pid {r['pid']}: POSIX timer {r['timer_id']} (timer_create) uses "
               "SIGEV_THREAD_ID to a thread that exited: not supported yet")
        assert status != 0 and why in err, err
        assert not os.path.exists(img), "no partial image is left behind"
        assert t.proc.poll() is None, "the refused process runs on"


def stale_timer_signal_stays_dropped():
    """A timer's signal queued before timer_settime() disarmed it is dropped at dequeue:
    after a restart too, while the signal of a timer left alone is still there, with its
    si_code and sigev value. Run once without a checkpoint, to see what the original does."""
    for restarted in (False, True):
        d = fresh(f"stale-{int(restarted)}")
        with Tree("stale", d, binary=TIMERS) as t:
            r = t.reports(["timers"], "the timers to fire", lambda _, r: r.get("ready") == 1)["timers"]
            # Both queued (blocked): the stale one is in the queue, only dequeue drops it.
            assert (r["stale_pending"], r["live_pending"]) == (1, 1), r
            if restarted:
                img, _ = t.checkpoint([r["pid"]])
                infos = [(s["signo"], s["code"]) for s in records(show_json(img), "SIGINFO")]
                os.unlink(os.path.join(d, "timers"))
                t.restart(img)
                t.reports(["timers"], "the restored process", lambda _, r: r.get("ready") == 1)
                print(f"# pending signals in the image: {infos}", flush=True)
            open(os.path.join(d, "go"), "w").close()
            done = t.reports(["timers"], "sigtimedwait", lambda _, r: r.get("done") == 1)["timers"]
            assert done["pid"] == r["pid"], done
            assert done["stale_got"] == 0, f"restarted {restarted}: the stale signal came back: {done}"
            assert (done["live_got"], done["live_code"], done["live_ok"]) == (1, -2, 1), done
            assert done["pending_after"] == 0, done


def blocked_timer_signal_delivered_once():
    """A periodic and a one-shot timer fire while their signals are blocked: after the
    restart each has exactly one signal pending, the timer's own (si_code SI_TIMER, its
    sigev value; the periodic one's si_overrun counts the expiries it missed, as in the
    original), even after five more periods blocked; the periodic timer re-arms on that
    delivery and signals again; the one-shot stays disarmed. Run once without a
    checkpoint, to see what the original does."""
    for restarted in (False, True):
        d = fresh(f"blocked-{int(restarted)}")
        with Tree("blocked", d, binary=TIMERS) as t:
            r = t.reports(["timers"], "the timers to fire", lambda _, r: r.get("ready") == 1)["timers"]
            assert (r["periodic_pending"], r["oneshot_pending"]) == (1, 1), r
            if restarted:
                img, _ = t.checkpoint([r["pid"]])
                recs = show_json(img)
                pending = sorted((p["id"], p["pending"]) for p in records(recs, "POSIX_TIMER"))
                assert [p for _, p in pending] == [True, True], pending
                timer_infos = [s for s in records(recs, "SIGINFO") if s["code"] == -2]
                assert not timer_infos, f"a timer's own signal is saved with its timer, not as SIGINFO: {timer_infos}"
                os.unlink(os.path.join(d, "timers"))
                t.restart(img)
                t.reports(["timers"], "the restored process", lambda _, r: r.get("ready") == 1)
            open(os.path.join(d, "go"), "w").close()
            done = t.reports(["timers"], "sigtimedwait", lambda _, r: r.get("done") == 1)["timers"]
            assert done["pid"] == r["pid"], done
            assert (done["periodic_n"], done["periodic_code"], done["periodic_ok"]) == (1, -2, 1), \
                f"restarted {restarted}: {done}"
            assert done["periodic_overrun"] >= 3, f"restarted {restarted}: expiries missed while blocked: {done}"
            assert (done["oneshot_n"], done["oneshot_code"], done["oneshot_ok"]) == (1, -2, 1), \
                f"restarted {restarted}: {done}"
            assert done["oneshot_left_ns"] == 0, done
            assert (done["next"], done["next_code"], done["next_ok"]) == (1, -2, 1), done


if __name__ == "__main__":
    sys.exit(run([
        timers_keep_firing_after_restart,
        cpu_timers_keep_counting_after_restart,
        cpu_timers_as_nobody,
        cpu_clock_of_another_process_or_an_exited_thread_refused,
        timer_of_an_exited_thread_refused_at_checkpoint,
        stale_timer_signal_stays_dropped,
        blocked_timer_signal_delivered_once,
    ]))
