#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Descriptors in flight (SCM_RIGHTS) in unix sockets' receive queues: each message's
descriptions saved by the module (an SKB_FDS record after the socket's SKB records naming
their FILE objs; a description only messages hold as a FILE record of fd -1), made
again by rstr and sent again with each message, in order. The program checks it after
the restart (selftests/targets/scm.c): the messages in order with their boundaries and
descriptors, a pipe's write end that writes to the read end kept, a regular file shared
with a descriptor held (kcmp, a shared offset) and one only the message held at its
offset, an eventfd and a unix socket held by descriptors too (the same files). A socket in flight in its own queue and an eventfd only a message holds are
refused at checkpoint with the reason.
"""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktap  # noqa: E402
from ktap import CKPT, records, run, scratch, sh, show_json, stat, target  # noqa: E402

fresh = scratch("ckpt-scm-")
SCM = target("scm")
DATA = b"0123456789abcdefghij"


def prepared(name, owner=None):
    d = fresh(name)
    with open(os.path.join(d, "data"), "wb") as f:
        f.write(DATA)
    if owner is not None:
        for p in (d, os.path.join(d, "data")):
            os.chown(p, owner, owner)
    return d


def checked_image(img, d):
    """Two messages with descriptors: the datagram's first (pipe write end, held, only),
    the stream's second run (held); the pipe's write end and "only" as FILEs of fd -1,
    "held" a descriptor's description."""
    recs = show_json(img)
    fds = records(recs, "SKB_FDS")
    assert sorted((f["skb"], len(f["objs"])) for f in fds) == [(0, 3), (1, 1), (2, 2)], fds
    dgram = next(f for f in fds if len(f["objs"]) == 3)
    stream = next(f for f in fds if len(f["objs"]) == 1)
    third = next(f for f in fds if len(f["objs"]) == 2)
    files = records(recs, "FILE")
    flight = {f["obj"]: f for f in files if f["fd"] == -1}
    held = [f for f in files if f["fd"] >= 0 and f["path"] == os.path.join(d, "data")]
    assert len(held) == 1 and held[0]["pos"] == 7, held
    w, h, o = dgram["objs"]
    assert h == held[0]["obj"] and stream["objs"] == [h], "held is one description, a descriptor's"
    # Met in flight before its descriptor: saved by both, as one description.
    assert h not in flight or (flight[h]["pos"], flight[h]["path"]) == (7, held[0]["path"]), flight
    assert flight[w]["kind"] == "pipe" and flight[o]["kind"] == "regular", flight
    assert flight[o]["pos"] == 3 and flight[o]["path"] == os.path.join(d, "data"), flight[o]
    # The eventfd and the socket of the third message are saved with their descriptors.
    kinds = {f["obj"]: f["kind"] for f in files if f["fd"] >= 0}
    assert [kinds.get(x) for x in third["objs"]] == ["eventfd", "unix-socket"], (third, kinds)
    reader = [f for f in files if f["fd"] >= 0 and f["kind"] == "pipe"]
    assert len(reader) == 1 and reader[0]["pipe"] == flight[w]["pipe"], "the pipe's read end is the same pipe"
    skbs = [r for r in recs if r["type"] == "SKB"]
    assert sorted(s["len"] for s in skbs) == [2, 2, 2, 5, 5, 6], f"ab, cd, ef; first, second, third: {skbs}"


def checked_after(t, pid):
    os.kill(pid, signal.SIGUSR2)
    r = t.reports(["scm"], "the process to check its messages", lambda n, r: r["checked"] == 1)["scm"]
    assert r["errors"] == 0, f"checks failed: {t.stderr_text()}"


def messages_as_sent_without_checkpoint():
    """The program's checks hold of the kernel's own queues (no checkpoint)."""
    d = prepared("control")
    with ktap.Tree("state", d, binary=SCM) as t:
        pid = t.reports(["scm"], "the messages to be queued")["scm"]["pid"]
        checked_after(t, pid)


def descriptors_in_flight_come_back():
    d = prepared("state")
    with ktap.Tree("state", d, binary=SCM) as t:
        pid = t.reports(["scm"], "the messages to be queued")["scm"]["pid"]
        img, _ = t.checkpoint([pid])
        checked_image(img, d)
        assert stat(pid) is None
        t.restart(img)
        checked_after(t, pid)


def descriptors_in_flight_as_nobody():
    """The same as uid 65534: ckpt with no capability, rstr with CAP_CHECKPOINT_RESTORE."""
    d = prepared("nobody", 65534)
    with ktap.Tree("state", d, 65534, binary=SCM) as t:
        pid = t.reports(["scm"], "the messages to be queued")["scm"]["pid"]
        os.chown(t.stderr, 65534, 65534)
        got = t.checkpoint_restart_as_nobody([pid], lambda img: checked_image(img, d))
        assert got == pid, (got, pid)
        with open(f"/proc/{pid}/status") as f:
            assert "Uid:\t65534\t65534\t65534\t65534" in f.read()
        checked_after(t, pid)


def refused(mode, why):
    d = fresh(mode)
    with ktap.Tree(mode, d, binary=SCM) as t:
        pid = t.reports(["scm"], "the message to be queued")["scm"]["pid"]
        status, _, err = sh(CKPT, str(pid), "-o", os.path.join(d, "img"), check=False)
        assert status != 0, "ckpt saved it"
        assert why in err, err
        assert stat(pid) is not None, "the process still runs"


def socket_in_its_own_queue_is_refused():
    refused("cycle", "unix socket with a unix socket in flight (SCM_RIGHTS) that has descriptors in flight itself")


def eventfd_only_in_flight_is_refused():
    refused("unheld", "unix socket with an anonymous inode (eventfd, epoll, timerfd, ...) in flight (SCM_RIGHTS) that no descriptor of the tree holds")


TESTS = [
    messages_as_sent_without_checkpoint,
    descriptors_in_flight_come_back,
    descriptors_in_flight_as_nobody,
    socket_in_its_own_queue_is_refused,
    eventfd_only_in_flight_is_refused,
]
if __name__ == "__main__":
    sys.exit(run(TESTS))
