#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The peer credentials of unix sockets (SO_PEERCRED) after restart
(selftests/targets/peercred.c): process A makes a socket pair and a listener, process B
(its child) connects twice, A accepts once. After ckpt --kill and rstr, every end names
the process and the uid and gid it named before (A or B, never rstr or root): the pair's
ends, the listener, the connection accepted, B's clients and the connection accepted
only after restart from the backlog. As root, with B an ordinary user (65534) restarted
by root, with both 65534 restarted by root, and with both 65534 checkpointed and
restarted by 65534 itself. The image holds them (ckpt show), and a pid outside the
session or a uid the caller does not have is refused by the module, naming the fd
(test_security.py has the hostile ioctl)."""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import Tree, records, run, scratch, show_json, target  # noqa: E402

PEERCRED = target("peercred")
fresh = scratch("ckpt-peercred-")

CREDS = ("pair", "listener", "accepted", "client1", "client2")


def creds(r, name):
    return (r[f"{name}_pid"], r[f"{name}_uid"], r[f"{name}_gid"])


def kept(name, auid=None, buid=None, by_nobody=False):
    d = fresh(name)
    # AUID first (0 stays root) when B is to become BUID.
    args = [str(auid or 0), str(buid)] if buid is not None else [str(auid)] if auid is not None else []
    if auid is not None:
        os.chown(d, auid, auid)
    elif buid is not None:
        os.chmod(d, 0o777)  # B, another user, reports there
    with Tree("pair", d, *args, binary=PEERCRED) as t:
        if auid is not None:
            os.chown(t.stderr, auid, auid)
        r = t.reports(["a", "b"], "the sockets to be connected", lambda _, r: r["ready"] == 1)
        a, b = r["a"], r["b"]
        assert a["errors"] == 0 and b["errors"] == 0, (a, b, t.stderr_text())
        ua = 0 if auid is None else auid
        ub = ua if buid is None else buid
        want_a, want_b = (a["pid"], ua, ua), (b["pid"], ub, ub)
        assert a["child"] == b["pid"], (a, b)
        # What the kernel gave them, before: the pair and the listener name A, the
        # connection accepted B, B's clients A (copied from the listener).
        assert creds(a, "pair") == creds(a, "listener") == want_a, a
        assert creds(a, "accepted") == want_b, a
        assert creds(b, "pair") == creds(b, "client1") == creds(b, "client2") == want_a, b
        socks = []

        def check(img):
            socks.extend(records(show_json(img), "UNIX_SOCK"))
        if by_nobody:
            t.checkpoint_restart_as_nobody([a["pid"], b["pid"]], check_image=check)
        else:
            img, _ = t.checkpoint([a["pid"], b["pid"]])
            check(img)
            t.restart(img)
        got = sorted(tuple(s["peer_cred"][k] for k in ("pid", "uid", "gid")) for s in socks)
        # A's pair end, listener and B's end and clients name A; the connection accepted
        # and the one not accepted yet name B.
        assert got == sorted([want_a] * 5 + [want_b] * 2), socks
        for p in (a["pid"], b["pid"]):
            os.kill(p, signal.SIGUSR1)
        r = t.reports(["a", "b"], "the peer credentials to be read again", lambda _, r: r.get("checked") == 1)
        a2, b2 = r["a"], r["b"]
        assert a2["errors"] == 0 and b2["errors"] == 0, (a2, b2, t.stderr_text())
        for n in ("pair", "listener", "accepted"):
            assert creds(a2, n) == creds(a, n), (n, a, a2)
        for n in ("pair", "client1", "client2"):
            assert creds(b2, n) == creds(b, n), (n, b, b2)
        assert creds(a2, "embryo") == want_b, a2


def root_tree():
    kept("root")


def nobody_child_restarted_by_root():
    kept("mixed", buid=65534)


def nobody_tree_restarted_by_root():
    kept("nobody-root", auid=65534)


def nobody_tree_restarted_by_nobody():
    kept("nobody-self", auid=65534, by_nobody=True)


if __name__ == "__main__":
    sys.exit(run([
        root_tree,
        nobody_child_restarted_by_root,
        nobody_tree_restarted_by_root,
        nobody_tree_restarted_by_nobody,
    ]))
