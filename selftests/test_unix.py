#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Unix sockets (selftests/targets/unixsk.c): socket pairs of the three types with data
queued both ways, a pair split between a parent and its child, a named and an abstract
listening socket with a connection accepted from each are checkpointed, killed and
restarted; the program then reads every byte
and every message back with its boundaries, checks the shutdown state, O_NONBLOCK and a
shared description, and serves clients of both names. Connections not accepted yet
(stream and seqpacket, as root and as 65534) are accepted after restart in their order,
each with its data and its client. SO_PASSCRED on an empty
queue is kept (as root and as 65534): a message sent after restart carries the sender's
credentials. A peer outside the tree, a
descriptor in flight, an AF_NETLINK socket, a connection not accepted yet whose client is
outside the tree or whose queue carries a descriptor (SCM_RIGHTS), an unconnected datagram
socket with messages queued, SO_PASSCRED
with messages queued, SO_PASSSEC, SO_PASSPIDFD, each
option that changes what is read, a shut down listening or unconnected socket, a path name
of 108 bytes, a closed peer and an O_PATH descriptor of a socket file are refused naming
the fd."""
import os
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import CKPT, RSTR, Tree, records, run, scratch, sh, show_json, target, wait_for  # noqa: E402

UNIXSK = target("unixsk")
fresh = scratch("ckpt-unix-")


def ask(addr, what):
    """What the restarted root answers a client of ADDR that sends WHAT."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
        c.settimeout(30)
        c.connect(addr)
        c.sendall(what)
        got = b""
        while True:
            b = c.recv(100)
            if not b:
                return got
            got += b


def sockets_keep_their_data_and_boundaries():
    d = fresh("main")
    with Tree("main", d, binary=UNIXSK) as t:
        r = t.reports(["root", "child"], "the sockets to be set up and the child to answer",
                      lambda n, r: n != "root" or r["pings"] >= 3)
        root, child = r["root"]["pid"], r["root"]["child"]
        assert r["root"]["errors"] == 0, r["root"]
        img, _ = t.checkpoint([root, child])

        recs = show_json(img)
        socks = records(recs, "UNIX_SOCK")
        assert len(socks) == 14, f"4 pairs, 2 listeners and a connection accepted from each: {socks}"
        listening = sorted(s["name"] for s in socks if s["state"] == "listening")
        assert listening == [os.path.join(d, "sock"), f"@ckpt-unixsk-{root}"], listening
        assert {s["backlog"] for s in socks if s["state"] == "listening"} == {7, 3}, socks
        lens = sorted(s["len"] for s in records(recs, "SKB"))
        # The stream's 100 KiB and 12 bytes (one SKB each), every message of the others;
        # the child pair's queue depends on where the ping was.
        for want in (100 * 1024, 12, 1, 7, 300, 4000, 11, 2222, 3, 17, 1500, 60000, 9, 99, 11, 12, 15):
            assert want in lens, f"no {want}-byte SKB: {lens}"
            lens.remove(want)
        shut = sorted(s["shutdown"] for s in socks if s["sock_type"] == "stream")
        assert shut.count("wr") == 2 and shut.count("rd") == 2, f"s1 and xc shut for writing, s0 and xa so for reading: {socks}"
        accepted = [s for s in socks if s["state"] == "connected" and s["name"]]
        assert sorted(s["name"] for s in accepted) == listening, f"one accepted from each listener: {accepted}"
        # The killed root's socket file is still there: a stale one, which rstr replaces.
        assert os.path.exists(os.path.join(d, "sock"))
        # ... but nothing else: a regular file at the path is never removed.
        os.rename(os.path.join(d, "sock"), os.path.join(d, "sock.old"))
        with open(os.path.join(d, "sock"), "w") as f:
            f.write("keep me")
        st, _, err = sh(RSTR, "--detach", img, check=False, timeout=120)
        assert st != 0 and "exists and is not a socket" in err, err
        assert open(os.path.join(d, "sock")).read() == "keep me"
        os.unlink(os.path.join(d, "sock"))
        os.rename(os.path.join(d, "sock.old"), os.path.join(d, "sock"))

        t.restart(img)
        last = t.report("root")
        t.reports(["root"], "the parent and child to talk after restart",
                  lambda _, r: r["pings"] > last["pings"] + 3, timeout=120)
        os.kill(root, signal.SIGUSR1)
        v = t.reports(["root"], "the root to read its sockets back", lambda _, r: r["verified"] == 1)["root"]
        assert v["errors"] == 0, f"after restart: {v['errors']} errors, the first: {v['what']}"
        assert ask(os.path.join(d, "sock"), b"hello") == b"served hello"
        assert ask(f"\0ckpt-unixsk-{root}", b"abstract") == b"served abstract"
        after = t.report("root")
        assert after["errors"] == 0 and after["pings"] > v["pings"], after


def queued_under_a_lowered_sndbuf():
    """Data queued before SO_SNDBUF was lowered to its minimum, and a backlog of 5000
    (above SOMAXCONN: net.core.somaxconn is raised for it while the test runs)."""
    d = fresh("buffers")
    knob = "/proc/sys/net/core/somaxconn"
    with open(knob) as f:
        was = f.read().strip()
    with open(knob, "w") as f:
        f.write("8192")
    try:
        lowered_sndbuf_and_big_backlog(d)
    finally:
        with open(knob, "w") as f:
            f.write(was)


def lowered_sndbuf_and_big_backlog(d):
    with Tree("buffers", d, binary=UNIXSK) as t:
        pid = t.reports(["buffers"], "the sockets to be set up", lambda _, r: r["ready"] == 1)["buffers"]["pid"]
        img, _ = t.checkpoint([pid])
        socks = records(show_json(img), "UNIX_SOCK")
        assert [s["backlog"] for s in socks if s["state"] == "listening"] == [5000], socks
        t.restart(img)
        os.kill(pid, signal.SIGUSR1)
        v = t.reports(["buffers"], "the data to be read back", lambda _, r: r["verified"] == 1)["buffers"]
        assert v["errors"] == 0, f"after restart: {v['errors']} errors, the first: {v['what']}"


def held(d):
    """The report of a refused mode's process: {"fd": N, "count": C}, or None."""
    try:
        with open(os.path.join(d, "held")) as f:
            w = f.read().split()
    except FileNotFoundError:
        return None
    return {k: int(v) for k, v in zip(w[2::2], w[3::2])}


def refused(mode, words, *extra, tag=None, before=None, **kw):
    """MODE's process is refused naming its fd with WORDS, leaves no image, and counts on.
    TAG names its scratch directory when one mode runs more than once; BEFORE(DIR) runs
    before the checkpoint."""
    d = fresh(tag or mode)
    img = os.path.join(d, "img")
    with open(os.path.join(d, "stderr"), "w") as err:
        p = subprocess.Popen([UNIXSK, mode, d, *extra], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err, **kw)
    try:
        fd = wait_for(lambda: held(d), f"unixsk {mode} to start")["fd"]
        if before:
            before(d)
        st, _, err = sh(CKPT, str(p.pid), "-o", img, check=False)
        assert st != 0, f"the checkpoint of unixsk {mode} must fail"
        assert f"fd {fd}: {words}" in err, err
        assert not os.path.exists(img), "no image is left behind"
        count = held(d)["count"]
        wait_for(lambda: held(d)["count"] > count + 2, f"unixsk {mode} to run on after the refusal")
    finally:
        p.kill()
        p.wait()


def peer_outside_the_tree_refused():
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        refused("outside", "unix socket connected to a peer outside the checkpointed tree",
                str(theirs.fileno()), pass_fds=[theirs.fileno()])
    finally:
        mine.close()
        theirs.close()


def netlink_socket_refused():
    refused("netlink", "socket of family AF_NETLINK not supported yet")


def embryos_kept(ty, nobody):
    """Three clients of a listening socket of type TY (backlog 2: the kernel queues one
    more), none accepted, each with its data queued (seqpacket: with its boundaries), the
    second shut down for writing: after restart the program accepts them in their order,
    each with its data, and each client reads the reply to it. As root and as 65534."""
    d = fresh(f"embryos-{ty}" + ("-nobody" if nobody else ""))
    if nobody:
        os.chown(d, 65534, 65534)
    with Tree("embryos", d, ty, *(["65534"] if nobody else []), binary=UNIXSK) as t:
        pid = t.reports(["embryos"], "the clients to connect", lambda _, r: r["ready"] == 1)["embryos"]["pid"]
        socks = []
        skbs = []

        def check(img):
            recs = show_json(img)
            socks.extend(records(recs, "UNIX_SOCK"))
            skbs.extend(s["len"] for s in records(recs, "SKB"))
        if nobody:
            os.chown(t.stderr, 65534, 65534)
            t.checkpoint_restart_as_nobody([pid], check_image=check)
        else:
            img, _ = t.checkpoint([pid])
            check(img)
            t.restart(img)
        embryos = sorted((s for s in socks if s["state"] == "not-accepted"), key=lambda s: s["backlog"])
        assert [s["backlog"] for s in embryos] == [0, 1, 2], socks
        assert {s["name"] for s in embryos} == {os.path.join(d, "embryos.sock")}, embryos
        assert [s["shutdown"] for s in embryos] == ["none", "rd", "none"], embryos
        clients = {s["id"]: s for s in socks if s["state"] == "connected"}
        assert all(clients[e["peer"]]["peer"] == e["id"] for e in embryos), socks
        want = [1, 3, 100, 300, 70000, 5] if ty == "seqpacket" else [10, 5000, 70000]
        assert skbs == want, f"the clients' data in backlog order: {skbs}"
        os.kill(pid, signal.SIGUSR1)
        v = t.reports(["embryos"], "the connections to be accepted", lambda _, r: r["verified"] == 1)["embryos"]
        assert v["errors"] == 0, f"after restart: {v['errors']} errors, the first: {v['what']}"


def embryos_stream():
    embryos_kept("stream", False)


def embryos_seqpacket():
    embryos_kept("seqpacket", False)


def embryos_seqpacket_nobody():
    embryos_kept("seqpacket", True)


def embryos_stream_nobody():
    embryos_kept("stream", True)


def backlog_client_outside_refused():
    """A connection not accepted yet whose client is outside the tree (the test's)."""
    clients = []

    def connect(d):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(os.path.join(d, "backlog"))
        clients.append(c)
    try:
        refused("backlog", "listening unix socket whose connection 0 not accepted yet was made "
                "by a socket outside the checkpointed tree; not supported yet", before=connect)
    finally:
        for c in clients:
            c.close()


def ss_unix(path):
    """The words of ss's one line of the unix socket bound to PATH."""
    _, out, _ = sh("ss", "-x", "-a", "-n", "-H", "src", path)
    assert len(out.splitlines()) == 1, out
    return out.split()


def embryo_with_descriptors_in_flight_refused():
    """A connection not accepted yet whose client sent a descriptor (SCM_RIGHTS) on it: its
    queue is not saved with descriptors; the refusal names the listener's fd and the
    connection's place in the backlog."""
    def waiting(d):
        # ss's Recv-Q of a listening socket: the connections in its backlog.
        assert ss_unix(os.path.join(d, "embryofds"))[:3] == ["u_str", "LISTEN", "1"]
    refused("embryofds", "listening unix socket whose connection 0 not accepted yet has "
            "descriptors in flight (SCM_RIGHTS) queued; not supported yet", before=waiting)


def unconnected_datagram_with_messages_queued_refused():
    """A bound datagram socket connected to nothing, with two messages another socket sent
    it (sendto): who sent them is not saved."""
    def queued(d):
        # Its queue is not empty: ss's Recv-Q of a datagram socket is the length of the
        # first message waiting ("first"); the refusal counts them.
        assert ss_unix(os.path.join(d, "dgram"))[:3] == ["u_dgr", "UNCONN", "5"]
    refused("dgramqueued", "unconnected unix datagram socket with 2 messages queued from other "
            "sockets; not supported yet", before=queued)


def passcred_kept(nobody):
    """SO_PASSCRED on a seqpacket end with nothing queued is saved and set again; a message
    sent after restart carries the sender's pid, uid and gid (SCM_CREDENTIALS). As root
    and as user 65534."""
    d = fresh("passcred-nobody" if nobody else "passcred")
    if nobody:
        os.chown(d, 65534, 65534)
    with Tree("passcred", d, *(["65534"] if nobody else []), binary=UNIXSK) as t:
        pid = t.reports(["passcred"], "the socket to be set up", lambda _, r: r["ready"] == 1)["passcred"]["pid"]
        socks = []

        def check(img):
            socks.extend(records(show_json(img), "UNIX_SOCK"))
        if nobody:
            os.chown(t.stderr, 65534, 65534)
            t.checkpoint_restart_as_nobody([pid], check_image=check)
        else:
            img, _ = t.checkpoint([pid])
            check(img)
            t.restart(img)
        assert sorted(s["passcred"] for s in socks) == [False, True], socks
        os.kill(pid, signal.SIGUSR1)
        v = t.reports(["passcred"], "the credentials to be checked", lambda _, r: r["verified"] == 1)["passcred"]
        assert v["errors"] == 0, f"after restart: {v['errors']} errors, the first: {v['what']}"


def passcred_root():
    passcred_kept(False)


def passcred_nobody():
    passcred_kept(True)


def passcred_queued_refused():
    refused("passcredq", "unix socket with SO_PASSCRED set and 1 messages queued: their senders' "
            "credentials (SCM_CREDENTIALS) are not saved; not supported yet")


def passpidfd_refused():
    """(SO_PASSSEC, refused too, cannot be set: the guest kernel has no CONFIG_SECURITY_NETWORK.)"""
    refused("sockopt", "unix socket with SO_PASSPIDFD set (SCM_PIDFD); not saved yet",
            "SO_PASSPIDFD", tag="SO_PASSPIDFD")


READ_OPTIONS = ["SO_TIMESTAMP", "SO_TIMESTAMPNS", "SO_TIMESTAMPING", "SO_INQ",
                "SO_RIGHTS_NOTRUNC", "SO_OOBINLINE"]


def read_options_refused():
    """Each option that changes what is read is refused by its name."""
    for opt in READ_OPTIONS:
        refused("sockopt", f"unix socket with {opt} set; not saved yet", opt, tag=opt)


def shut_down_listener_refused():
    refused("shutlisten", "listening unix stream socket shut down (shutdown state 0x3)")
    refused("shutunconn", "unconnected unix datagram socket shut down (shutdown state 0x2)")


def path_of_108_bytes_refused():
    refused("longpath", "unix socket bound to a path name of 108 bytes")


def closed_peer_refused():
    refused("closedpeer", "unix stream socket whose peer was closed")


def opath_socket_file_refused():
    refused("opath", "O_PATH descriptor of a socket file")


if __name__ == "__main__":
    sys.exit(run([
        sockets_keep_their_data_and_boundaries,
        queued_under_a_lowered_sndbuf,
        peer_outside_the_tree_refused,
            netlink_socket_refused,
        embryos_stream,
        embryos_seqpacket,
        embryos_stream_nobody,
        embryos_seqpacket_nobody,
        backlog_client_outside_refused,
        embryo_with_descriptors_in_flight_refused,
        unconnected_datagram_with_messages_queued_refused,
        passcred_root,
        passcred_nobody,
        passcred_queued_refused,
        passpidfd_refused,
        read_options_refused,
        shut_down_listener_refused,
        path_of_108_bytes_refused,
        closed_peer_refused,
        opath_socket_file_refused,
    ]))
