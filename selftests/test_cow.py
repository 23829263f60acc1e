#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Copy-on-write sharing across fork: the private anonymous pages a parent and its children
share since the fork (the ones none of them wrote since) are still one page each after the
restart, not one copy per process (userspace/rstr/src/cow.rs). The target is
selftests/targets/cow.c: a parent, two children, a 1024-page area and 64 heap pages, with
pages written after the fork on either side and pages dropped by a child.

Sharing is read off /proc/PID/pagemap (the page frame of each page, root only): the same
frame in two processes is one page. Each process also checks the contents of every page
after the restart, and the image holds each shared page once (PAGES_REF).
"""
import os
import signal
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktap  # noqa: E402
from ktap import records, run, running, scratch, show_json, target  # noqa: E402

fresh = scratch("ckpt-cow-")
COW = target("cow")
NAMES = ["parent", "child1", "child2"]
AREA, HEAP = 1024, 64


def frames(pid, addr, n):
    """The page frame number of each of the N pages at ADDR of PID, None where no page is."""
    with open(f"/proc/{pid}/pagemap", "rb") as f:
        f.seek(addr // 4096 * 8)
        words = struct.unpack(f"<{n}Q", f.read(8 * n))
    return [w & ((1 << 55) - 1) if w >> 63 else None for w in words]


def started(t):
    r = t.reports(NAMES, "the processes to write their memory")
    t.watch([r[n]["pid"] for n in NAMES])
    return r


def assert_shared(r, restarted):
    """The sharing the target set up, page by page."""
    area = {n: frames(r[n]["pid"], r[n]["area"], AREA) for n in NAMES}
    heap = {n: frames(r[n]["pid"], r[n]["heap"], HEAP) for n in NAMES}
    p, c1, c2 = (area[n] for n in NAMES)

    def same(a, b, pages, what):
        bad = [i for i in pages if a[i] is None or a[i] != b[i]]
        assert not bad, f"{what}: {len(bad)} of {len(pages)} pages are not one shared page (first {bad[:4]})"

    def differ(a, b, pages, what):
        bad = [i for i in pages if a[i] is not None and a[i] == b[i]]
        assert not bad, f"{what}: {len(bad)} of {len(pages)} pages are shared, but were written (first {bad[:4]})"

    untouched = list(range(100, 200)) + list(range(210, 900))
    same(p, c1, untouched, "area pages nobody wrote since the fork, parent and child1")
    same(p, c2, untouched + list(range(100)), "area pages nobody wrote since the fork, parent and child2")
    differ(p, c1, range(100), "area pages 0-99, written by child1")
    differ(p, c1, range(200, 210), "area pages 200-209, dropped by child1")
    differ(p, c1, range(900, AREA), "area pages 900-1023, written by the parent")
    differ(p, c2, range(900, AREA), "area pages 900-1023, written by the parent")
    if not restarted:
        # Both children kept the page the parent had before it wrote: one page. A restart
        # makes it again from the parent's (version C), and each child writes its own.
        same(c1, c2, range(900, AREA), "area pages 900-1023 of the children")
    for n in NAMES[1:]:
        same(heap["parent"], heap[n], range(1, HEAP), f"heap pages nobody wrote, parent and {n}")
        differ(heap["parent"], heap[n], [0], f"heap page 0, written by the parent, and {n}")


def assert_written_once(img, r):
    """The image holds each page of the area once: the processes that share a page refer to
    where the first one saved it (PAGES_REF). Of the 3,062 pages the three processes have
    in the area (child1 dropped 10), 1,248 are distinct: the parent's 1,024, child1's 100
    of version B and the 124 old pages of version A both children kept."""
    recs = show_json(img)
    lo, hi = r["parent"]["area"], r["parent"]["area"] + AREA * 4096

    def pages(kind):
        return sum(x["nr_pages"] for x in records(recs, kind) if lo <= int(x["addr"], 16) < hi)
    data, refs = pages("PAGES"), pages("PAGES_REF")
    assert (data, refs) == (1248, 1814), f"{data} pages saved and {refs} referred to in the area"


def assert_contents(t, r):
    for n in NAMES:
        assert running(r[n]["pid"]), f"{n} is back"
        os.kill(r[n]["pid"], signal.SIGUSR2)
    got = t.reports(NAMES, "the processes to check their memory", lambda n, x: x["checked"] == 1)
    bad = {n: x["errors"] for n, x in got.items() if x["errors"]}
    assert not bad, f"wrong contents after the restart {bad}: {t.stderr_text()}"


def shared_pages_stay_shared():
    """What a parent shares with its children copy-on-write stays one page after the
    restart; what either side wrote or dropped since the fork is its own; every page holds
    what it held."""
    d = fresh("shared")
    with ktap.Tree("state", d, binary=COW) as t:
        r = started(t)
        assert_shared(r, restarted=False)
        img, _ = t.checkpoint([r[n]["pid"] for n in NAMES])
        assert_written_once(img, r)
        t.restart(img)
        assert_shared(r, restarted=True)
        assert_contents(t, r)


def shared_as_nobody():
    """The same for a tree of uid 65534 checkpointed and restarted by that user."""
    d = fresh("nobody")
    os.chown(d, 65534, 65534)
    with ktap.Tree("state", d, 65534, binary=COW) as t:
        os.chown(t.stderr, 65534, 65534)
        r = started(t)
        t.checkpoint_restart_as_nobody([r[n]["pid"] for n in NAMES], lambda img: assert_written_once(img, r))
        assert_shared(r, restarted=True)
        assert_contents(t, r)


TESTS = [
    shared_pages_stay_shared,
    shared_as_nobody,
]
if __name__ == "__main__":
    sys.exit(run(TESTS))
