#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""memfds: saved by the module (a MEMFD record with name, seals, mode and size, its data
in FILE_DATA records without the holes), made again by rstr (memfd_create, data, mode,
then the seals) and checked by the program itself after the restart
(selftests/targets/memfd.c): name, content, hole, seals, writes and resizes still
refused, a memfd made without MFD_ALLOW_SEALING still not sealable, offset, one memfd
shared with a child.
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


def memfds_come_back_sealed():
    d = fresh("state")
    with ktap.Tree("state", d, binary=MEMFD) as t:
        parent, child = started(t)
        img, _ = t.checkpoint([parent, child])
        checked_image(img)
        t.restart(img)
        after_restart(t, parent, child)


def memfds_as_nobody():
    d = fresh("nobody")
    os.chown(d, 65534, 65534)
    with ktap.Tree("state", d, 65534, binary=MEMFD) as t:
        parent, child = started(t)
        os.chown(t.stderr, 65534, 65534)  # the restart reopens the tree's stderr as the user
        t.checkpoint_restart_as_nobody([parent, child], checked_image)
        after_restart(t, parent, child)


TESTS = [
    memfds_come_back_sealed,
    memfds_as_nobody,
]
if __name__ == "__main__":
    sys.exit(run(TESTS))
