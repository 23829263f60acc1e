#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""inotify: saved by the module (an INOTIFY record and one INOTIFY_WATCH per watch:
descriptor, mask, inode and its path from its filesystem's root), made again by rstr
(inotify_init1, each watch added until the kernel gives it its descriptor, the queue
emptied) and checked by the program itself after the restart
(selftests/targets/inotify.c): events of the right watch descriptors, a one-shot watch
still one-shot, descriptors going on from where they were, O_NONBLOCK kept, the events
queued at checkpoint dropped (as documented). A watch on a deleted file is refused.
"""
import os
import re
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktap  # noqa: E402
from ktap import CKPT, records, run, running, scratch, sh, show_json, target  # noqa: E402

fresh = scratch("ckpt-inotify-")
INOTIFY = target("inotify")
IN_MODIFY, IN_CREATE, IN_DELETE, IN_ONESHOT = 0x2, 0x100, 0x200, 0x80000000


def checked_image(img, d):
    recs = show_json(img)
    [i] = records(recs, "INOTIFY")
    watches = records(recs, "INOTIFY_WATCH")
    assert i["nr_watches"] == 2 and len(watches) == 2, (i, watches)
    by_wd = {w["wd"]: w for w in watches}
    assert sorted(by_wd) == [1, 3], watches
    assert int(by_wd[1]["mask"], 16) == IN_CREATE | IN_DELETE, by_wd[1]
    assert int(by_wd[3]["mask"], 16) == IN_MODIFY | IN_ONESHOT, by_wd[3]
    # Paths from the root of the test directory's filesystem (a tmpfs: its root is the
    # mount point), the inode numbers the files have.
    for wd, name in ((1, "watched"), (3, "watched/file")):
        w = by_wd[wd]
        assert w["path"].endswith("/" + name), w
        assert w["ino"] == os.stat(os.path.join(d, name)).st_ino, w
    files = [f for f in records(recs, "FILE") if f["kind"] == "inotify"]
    assert len(files) == 1 and files[0]["obj"] == i["id"], files


def after_restart(t, d, pid):
    assert running(pid), "the process is back"
    with open(os.path.join(d, "watched", "after"), "w"):
        pass
    with open(os.path.join(d, "watched", "file"), "a") as f:
        f.write("more\n")
    os.kill(pid, signal.SIGUSR2)
    got = t.reports(["state"], "the process to check its events", lambda n, r: r.get("checked") == 1)
    assert got["state"]["errors"] == 0, f"checks failed: {t.stderr_text()}"


def started(t):
    r = t.reports(["state"], "the process to add its watches", lambda n, r: r.get("ready") == 1)["state"]
    assert (r["wd_dir"], r["wd_file"]) == (1, 3), r
    return r["pid"]


def watches_come_back_with_their_descriptors():
    d = fresh("state")
    with ktap.Tree("state", d, binary=INOTIFY) as t:
        pid = started(t)
        img, _ = t.checkpoint([pid])
        checked_image(img, d)
        t.restart(img)
        after_restart(t, d, pid)


def watches_as_nobody():
    d = fresh("nobody")
    os.chown(d, 65534, 65534)
    with ktap.Tree("state", d, 65534, binary=INOTIFY) as t:
        pid = started(t)
        os.chown(t.stderr, 65534, 65534)  # the restart reopens the tree's stderr as the user
        t.checkpoint_restart_as_nobody([pid], lambda img: checked_image(img, d))
        after_restart(t, d, pid)


def watch_on_deleted_file_refused():
    d = fresh("deleted")
    with ktap.Tree("deleted", d, binary=INOTIFY) as t:
        r = t.reports(["state"], "the process to watch its file", lambda n, r: r.get("ready") == 1)["state"]
        rc, _, err = sh(CKPT, str(r["pid"]), "-o", os.path.join(d, "img"), check=False)
        assert rc != 0, "a watch on a deleted file was checkpointed"
        assert re.search(r"fd 3: inotify watch 1 is on a deleted file", err), err
        assert running(r["pid"]), "the refused checkpoint left the process running"


TESTS = [
    watches_come_back_with_their_descriptors,
    watches_as_nobody,
    watch_on_deleted_file_refused,
]
if __name__ == "__main__":
    sys.exit(run(TESTS))
