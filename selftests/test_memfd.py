#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""memfds: saved by the module (a MEMFD record with name, seals, mode and size, its data
in FILE_DATA records without the holes), made again by rstr (memfd_create, data, mode,
then the seals) and checked by the program itself after the restart
(selftests/targets/memfd.c): name, content, hole, seals, writes and resizes still
refused, a memfd made without MFD_ALLOW_SEALING still not sealable, offset, one memfd
shared with a child. memfds reached through their mappings only (the descriptor closed):
each area names the memfd's id (the VMA's shm) and the memfd is saved once; after the
restart the shared areas share the file again (a write through one is seen through
another of the same memfd, by a child, by pread), a private area keeps its own written
page. A memfd only a shared mapping holds, used by a process's two threads and a forked
child: after the restart the second thread writes through it, and the first thread and the
child see the write. Also as uid 65534.
"""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktap  # noqa: E402
from ktap import records, run, running, scratch, show_json, target  # noqa: E402

fresh = scratch("ckpt-memfd-")
MEMFD = target("memfd")
F_SEAL_SEAL, F_SEAL_SHRINK, F_SEAL_GROW, F_SEAL_WRITE = 1, 2, 4, 8


def started(t):
    r = t.reports(["parent", "child"], "the processes to make their memfds")
    t.watch([r["child"]["pid"]])
    return r["parent"]["pid"], r["child"]["pid"]


def checked_image(img):
    recs = show_json(img)
    memfds = {m["name"]: m for m in records(recs, "MEMFD")}
    assert sorted(memfds) == ["ckpt-memfd", "plain"], memfds
    m = memfds["ckpt-memfd"]
    assert m["seals"] == hex(F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_WRITE) and m["size"] == 4 << 20, m
    assert memfds["plain"]["seals"] == hex(F_SEAL_SEAL), memfds["plain"]
    data = [x for x in records(recs, "FILE_DATA") if x["id"] == m["id"]]
    assert sum(x["len"] for x in data) < 1 << 20, f"the hole was saved as data: {data}"
    files = [f for f in records(recs, "FILE") if f["kind"] == "memfd" and f["pipe"] == m["id"]]
    assert len(files) == 2 and files[0]["obj"] == files[1]["obj"] and files[0]["pos"] == 777, files


def after_restart(t, parent, child):
    assert running(parent) and running(child), "both processes are back"
    os.kill(parent, signal.SIGUSR2)
    got = t.reports(["parent", "child"], "the processes to check their memfds",
                    lambda n, r: r["checked"] == 1)
    assert got["parent"]["errors"] == 0 and got["child"]["errors"] == 0, f"checks failed: {t.stderr_text()}"


def round_trip(mode, name, uid, started, check_image, after):
    """Runs memfd MODE in a fresh directory (as UID if not None), checkpoints and restarts
    its tree (as uid 65534 the project's way), CHECK_IMAGE(img, info) between, then
    AFTER(t, parent, child)."""
    d = fresh(name)
    args = [] if uid is None else [uid]
    if uid is not None:
        os.chown(d, uid, uid)
    with ktap.Tree(mode, d, *args, binary=MEMFD) as t:
        parent, child, info = started(t)
        t.checkpoint_restart_as(uid, [parent, child], lambda img: check_image(img, info))
        after(t, parent, child)


def state_started(t):
    return (*started(t), None)


def memfds_come_back_sealed():
    round_trip("state", "state", None, state_started, lambda img, _: checked_image(img), after_restart)


def memfds_as_nobody():
    round_trip("state", "nobody", 65534, state_started, lambda img, _: checked_image(img), after_restart)


def mapped_started(t):
    r = t.reports(["parent", "child"], "the processes to map their memfds")
    t.watch([r["child"]["pid"]])
    return r["parent"]["pid"], r["child"]["pid"], r["parent"]["with"]


def checked_mapped_image(img, with_fd):
    """One MEMFD per memfd; shared-only has no FILE, its areas (shared, private, the
    child's) name it; with-fd has its FILE and its area names the same id."""
    recs = show_json(img)
    memfds = {m["name"]: m for m in records(recs, "MEMFD")}
    assert sorted(memfds) == ["shared-only", "with-fd"], memfds
    only, with_ = memfds["shared-only"]["id"], memfds["with-fd"]["id"]
    files = [f for f in records(recs, "FILE") if f["kind"] == "memfd"]
    assert {f["pipe"] for f in files} == {with_} and {f["fd"] for f in files} == {with_fd}, files
    areas = [v for v in records(recs, "VMA") if v["path"].startswith("/memfd:")]
    kinds = sorted((v["shm"] == only, v["kind"]) for v in areas)
    assert kinds == [(False, "file-shared"), (False, "file-shared"), (True, "file-private"),
                     (True, "file-private"), (True, "file-shared"), (True, "file-shared")], areas
    assert all(v["shm"] in (only, with_) for v in areas), areas


def mapped_memfds_stay_shared():
    round_trip("mapped", "mapped", None, mapped_started, checked_mapped_image, after_restart)


def mapped_memfds_as_nobody():
    round_trip("mapped", "mapped-nobody", 65534, mapped_started, checked_mapped_image, after_restart)


def threads_started(t):
    r = t.reports(["parent", "child"], "the threads and the child to map their memfd")
    t.watch([r["child"]["pid"], r["parent"]["thread"]])
    return r["parent"]["pid"], r["child"]["pid"], r["parent"]["thread"]


def checked_threads_image(img, thread):
    """The memfd once, with no FILE; two shared areas name it, the process's (one address
    space for both threads) and the child's; the second thread is a task of the process."""
    recs = show_json(img)
    memfds = records(recs, "MEMFD")
    assert [m["name"] for m in memfds] == ["threaded"], memfds
    assert not [f for f in records(recs, "FILE") if f["kind"] == "memfd"], records(recs, "FILE")
    areas = [v for v in records(recs, "VMA") if v["path"].startswith("/memfd:")]
    assert [(v["kind"], v["shm"]) for v in areas] == [("file-shared", memfds[0]["id"])] * 2, areas
    tasks = {t["pid"]: t for t in records(recs, "TASK")}
    assert thread in tasks and len(tasks) == 3, tasks


def threads_after_restart(t, parent, child):
    thread = t.report("parent")["thread"]
    assert os.path.exists(f"/proc/{parent}/task/{thread}"), "the second thread is back"
    after_restart(t, parent, child)


def mapped_memfd_two_threads_and_a_child():
    round_trip("threads", "threads", None, threads_started, checked_threads_image, threads_after_restart)


def mapped_memfd_two_threads_and_a_child_as_nobody():
    round_trip("threads", "threads-nobody", 65534, threads_started, checked_threads_image,
               threads_after_restart)


TESTS = [
    memfds_come_back_sealed,
    memfds_as_nobody,
    mapped_memfds_stay_shared,
    mapped_memfds_as_nobody,
    mapped_memfd_two_threads_and_a_child,
    mapped_memfd_two_threads_and_a_child_as_nobody,
]
if __name__ == "__main__":
    sys.exit(run(TESTS))
