#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""TCP and UDP sockets (selftests/targets/inetsk.c): a program listening on TCP
127.0.0.1 (a port the kernel chose) and [::1] (IPV6_V6ONLY; when the kernel has IPv6),
with a bound and a connected UDP socket and two TCP sockets neither listening nor
connected, every one with options set, is checkpointed, killed and restarted; the program
then reads every option and address back with getsockopt, getsockname and getpeername,
sends a datagram from its connected socket to its bound one, and serves this test, which
connects to the same ports and sends to the same UDP port. The same as uid 65534,
restarted by itself. A listener with a connection not accepted yet, an established TCP
connection and a UDP socket with a datagram queued are refused naming the fd; a restart
whose port is taken fails naming the fd, the address and the port."""
import os
import signal
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import CKPT, RSTR, Tree, records, run, sh, show_json, target, wait_for  # noqa: E402
from ktap import scratch  # noqa: E402

INETSK = target("inetsk")
fresh = scratch("ckpt-inet-")
NOBODY = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"]


class NobodyTree(Tree):
    """An inetsk main tree run as uid 65534."""

    def __init__(self, d):
        os.chmod(d, 0o777)
        self.dir = d
        self.stderr = os.path.join(d, "stderr")
        with open(self.stderr, "w") as err:
            self.proc = subprocess.Popen([*NOBODY, INETSK, "main", d], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        # rstr, run as 65534 too, reopens it.
        os.chmod(self.stderr, 0o666)
        self.root = self.proc.pid
        self.pids = {self.root}


def ask_tcp(addr, what, family=socket.AF_INET):
    """What the restarted program answers a TCP client of ADDR that sends WHAT."""
    with socket.socket(family, socket.SOCK_STREAM) as c:
        c.settimeout(30)
        c.connect(addr)
        c.sendall(what)
        got = b""
        while True:
            b = c.recv(100)
            if not b:
                return got
            got += b


def ask_udp(port, what):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
        c.settimeout(30)
        c.sendto(what, ("127.0.0.1", port))
        return c.recvfrom(200)[0]


def by_addr(socks):
    return {s["addr"]: s for s in socks}


def check_image(img, r):
    socks = records(show_json(img), "INET_SOCK")
    v6 = r["v6"] == 1
    assert len(socks) == 5 + v6, f"t4, t6 (with IPv6), u, c, tb, tn: {socks}"
    a = by_addr(socks)
    t4 = a[f"127.0.0.1:{r['tport']}"]
    assert (t4["protocol"], t4["state"], t4["backlog"]) == ("tcp", "listening", 7), t4
    assert set(t4["options"]) == {"SO_REUSEADDR", "SO_KEEPALIVE", "TCP_NODELAY", "SO_LINGER",
                                  "user-addr"}, f"a port the kernel chose is no user-port: {t4}"
    want = {"rcvbuf": 131072, "sndbuf": 0, "tos": 0x10, "ttl": 33, "priority": 3, "rcvlowat": 10,
            "linger": 5, "keepidle": 77, "keepintvl": 13, "keepcnt": 5, "defer_accept": 7,
            "fastopen": 5}
    assert {k: t4[k] for k in want} == want, t4
    u = a[f"127.0.0.1:{r['uport']}"]
    assert (u["protocol"], u["state"], u["sndbuf"], u["peer"]) == ("udp", "bound", 65536, None), u
    assert set(u["options"]) == {"SO_BROADCAST", "user-addr"}, u
    c = a[f"127.0.0.1:{r['cport']}"]
    assert (c["state"], c["peer"]) == ("connected", f"127.0.0.1:{r['uport']}"), c
    assert c["options"] == [], f"connect chose its address and port: {c}"
    tb = [s for s in socks if s["state"] == "bound" and s["protocol"] == "tcp"]
    assert len(tb) == 1 and "SO_REUSEPORT" in tb[0]["options"], socks
    tn = [s for s in socks if s["state"] == "unbound"]
    assert len(tn) == 1 and tn[0]["addr"] == "0.0.0.0:0", socks
    if v6:
        t6 = a[f"[::1]:{r['t6port']}"]
        assert (t6["family"], t6["state"], t6["backlog"]) == ("AF_INET6", "listening", 3), t6
        assert "IPV6_V6ONLY" in t6["options"], t6


def served(t, pid, r):
    """The restored program reads its sockets back, then serves TCP and UDP clients."""
    os.kill(pid, signal.SIGUSR1)
    v = t.reports(["main"], "the program to read its sockets back", lambda _, r: r.get("verified") == 1)["main"]
    assert v["errors"] == 0, f"after restart: {v['errors']} errors, the first: {v['what']}"
    assert ask_tcp(("127.0.0.1", r["tport"]), b"hello") == b"served hello"
    assert ask_udp(r["uport"], b"datagram") == b"echo datagram"
    if r["v6"]:
        assert ask_tcp(("::1", r["t6port"]), b"six", socket.AF_INET6) == b"served six"


def ready(t):
    r = t.reports(["main"], "the sockets to be set up", lambda _, r: r.get("count", 0) >= 2)["main"]
    assert r["errors"] == 0, r
    return r


def listeners_and_udp_sockets_come_back():
    d = fresh("main")
    with Tree("main", d, binary=INETSK) as t:
        r = ready(t)
        img, _ = t.checkpoint([r["pid"]])
        check_image(img, r)
        files = [f for f in records(show_json(img), "FILE") if f["kind"] == "inet-socket"]
        assert len(files) == 6 + r["v6"], f"t4 twice (dup): {files}"
        assert len({f["obj"] for f in files}) == 5 + r["v6"], files
        t.restart(img)
        served(t, r["pid"], r)


def nobody_restarts_its_own_sockets():
    """As uid 65534, checkpointed by root and restarted by itself with only
    CAP_CHECKPOINT_RESTORE: its sockets are made by an unprivileged rstr."""
    d = fresh("nobody")
    with NobodyTree(d) as t:
        r = ready(t)
        img, _ = t.checkpoint([r["pid"]])
        os.chmod(img, 0o644)
        check_image(img, r)
        mode = os.stat("/dev/checkpoint").st_mode
        os.chmod("/dev/checkpoint", 0o666)
        try:
            sh(*NOBODY, "--inh-caps", "+checkpoint_restore", "--ambient-caps",
               "+checkpoint_restore", RSTR, "-d", img, timeout=120)
        finally:
            os.chmod("/dev/checkpoint", mode & 0o777)
        wait_for(lambda: os.path.exists(f"/proc/{r['pid']}"), "the restored program")
        t.watch([r["pid"]])
        with open(f"/proc/{r['pid']}/status") as f:
            assert "Uid:\t65534\t65534\t65534\t65534" in f.read()
        served(t, r["pid"], r)


def port_taken_fails_the_restart():
    """The port is held by another socket when rstr binds it: the restart fails, naming
    the fd, the address and the port, and leaves nothing running."""
    d = fresh("taken")
    with Tree("main", d, binary=INETSK) as t:
        r = ready(t)
        img, _ = t.checkpoint([r["pid"]])
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", r["tport"]))
            s.listen(1)
            st, _, err = sh(RSTR, "--detach", img, check=False, timeout=120)
        assert st != 0, "the restart must fail"
        assert f"TCP socket 127.0.0.1:{r['tport']}" in err and "already in use" in err, err
        assert "fd 3" in err, err
        assert not os.path.exists(f"/proc/{r['pid']}"), "a failed restart left the program"


def held(d):
    try:
        with open(os.path.join(d, "held")) as f:
            w = f.read().split()
    except FileNotFoundError:
        return None
    return {k: int(v) for k, v in zip(w[2::2], w[3::2])}


def refused(mode, words):
    """MODE's process is refused naming its fd with WORDS, leaves no image, and counts on."""
    d = fresh(mode)
    img = os.path.join(d, "img")
    with open(os.path.join(d, "stderr"), "w") as err:
        p = subprocess.Popen([INETSK, mode, d], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err)
    try:
        fd = wait_for(lambda: held(d), f"inetsk {mode} to start")["fd"]
        st, _, err = sh(CKPT, str(p.pid), "-o", img, check=False)
        assert st != 0, f"the checkpoint of inetsk {mode} must fail"
        assert f"fd {fd}: AF_INET " in err and words in err, err
        assert not os.path.exists(img), "no image is left behind"
        count = held(d)["count"]
        wait_for(lambda: held(d)["count"] > count + 2, f"inetsk {mode} to run on after the refusal")
    finally:
        p.kill()
        p.wait()


def connection_not_accepted_refused():
    refused("backlog", "1 connections waiting in the accept queue")


def established_connection_refused():
    refused("established", "in state ESTABLISHED: established TCP connections are not supported yet")


def queued_datagram_refused():
    refused("udpqueued", "queued in its receive queue; not supported yet")


if __name__ == "__main__":
    sys.exit(run([
        listeners_and_udp_sockets_come_back,
        nobody_restarts_its_own_sockets,
        port_taken_fails_the_restart,
        connection_not_accepted_refused,
        established_connection_refused,
        queued_datagram_refused,
    ]))
