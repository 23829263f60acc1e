#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Containers with a UTS, an IPC and a network namespace of their own (ckpt --container;
the time namespace: test_timens.py):
the host and domain names come back in a new UTS namespace, the tree in a new IPC namespace
(its SysV objects, and the refusal of a POSIX message queue: test_sysvipc.py), a TCP server
on the container's loopback in a new network namespace with lo up; what cannot be saved is
refused with its reason (a task in another UTS or network namespace than its init, a plain
tree in a namespace of its own, a device other than lo, an address other than lo's
defaults, a socket bound to one, a route).

The containers are selftests/targets/containerns.c (each process checks its own uname()
and IPC namespace and reports the errors it found), and util-linux's unshare running sh and
sleep. Before each restart, the test checks that no process is left in the namespaces that
were saved: the names cannot come from a namespace the kernel kept.
"""
import json
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktap  # noqa: E402
from ktap import (CKPT, RSTR, in_namespace, kill_all, ns_inode, ns_members, nspid, records,  # noqa: E402
                  run, running, scratch, sh, show_json, target, wait_for)

fresh = scratch("ckpt-containerns-")
CONTAINERNS = target("containerns")
NAMES = ["init", "child1", "child2"]


def assert_namespaces_died(uts, ipc):
    wait_for(lambda: not in_namespace("uts", uts) and not in_namespace("ipc", ipc),
             "the container's UTS and IPC namespaces to be left by every process")


def check_json(pid, *opts):
    st, out, err = sh(CKPT, "check", *opts, str(pid), "--json", check=False, timeout=120)
    assert out.strip(), f"ckpt check printed no JSON (exit {st}): {err}"
    return st, json.loads(out)


def start(t):
    """The container's reports once each process counted twice; the init's outer pid."""
    init = t.reports(["launcher"], "the launcher")["launcher"]["init"]
    r = t.reports(NAMES, "the container to count", lambda _, r: r["count"] >= 2)
    return init, r


def uts_ipc_container_restarts():
    """A container (its own pid, UTS and IPC namespaces, host and domain names set, two
    children) checkpointed with --container and killed, its namespaces gone: rstr brings it
    back in new ones with the same names; every process checks its uname() and that its IPC
    namespace is not the host's, and goes on counting; the host's name is unchanged."""
    d = fresh("names")
    host_name, host_ipc, host_uts = os.uname().nodename, ns_inode("self", "ipc"), ns_inode("self", "uts")
    with ktap.Tree("container", d, "box1", "dom.example", host_ipc, binary=CONTAINERNS) as t:
        init, r = start(t)
        for n in NAMES:
            assert r[n]["nodename"] == "box1" and r[n]["domainname"] == "dom.example", r[n]
            assert r[n]["errors"] == 0 and r[n]["ipc"] != host_ipc, r[n]
        members = ns_members(init)
        assert sorted(members) == [1, 2, 3], members
        t.watch(members.values())
        old_uts, old_ipc = ns_inode(init, "uts"), ns_inode(init, "ipc")
        assert old_uts != host_uts and old_ipc != host_ipc
        img, _ = t.checkpoint(members.values(), "--container", pid=init)
        assert_namespaces_died(old_uts, old_ipc)
        ns = records(show_json(img), "UTS_NS")
        assert ns == [{"type": "UTS_NS", "uts": True, "nodename": "box1",
                       "domainname": "dom.example", "ipc": True, "net": False,
                       "lo_up": False, "time": False}], ns
        new_init, _ = t.restart(img)
        assert nspid(new_init)[-1] == 1, nspid(new_init)
        members = wait_for(lambda: (m := ns_members(new_init)) and len(m) == 3 and m,
                           "the container's processes")
        t.watch(members.values())
        uts, ipc = ns_inode(new_init, "uts"), ns_inode(new_init, "ipc")
        assert uts != host_uts and ipc != host_ipc, "new UTS and IPC namespaces"
        for p in members.values():
            assert (ns_inode(p, "uts"), ns_inode(p, "ipc")) == (uts, ipc), f"pid {p} shares the init's"
        last = {n: t.report(n) for n in NAMES}
        after = t.reports(NAMES, "the container to go on counting",
                          lambda n, r: r["count"] >= last[n]["count"] + 3, timeout=120)
        for n in NAMES:
            a = after[n]
            assert a["errors"] == 0, f"{n} found its names or IPC namespace wrong: {a}\n{t.stderr_text()}"
            assert (a["nodename"], a["domainname"]) == ("box1", "dom.example"), a
            assert a["ipc"] == ipc, a
        assert os.uname().nodename == host_name, f"the host's name changed: {os.uname().nodename}"
        assert ns_inode("self", "uts") == host_uts


def nested_uts_refused():
    """A child of the container's init in a UTS namespace of its own is refused, named."""
    d = fresh("nested")
    with ktap.Tree("container", d, "box3", "dom", ns_inode("self", "ipc"), "nested",
                   binary=CONTAINERNS) as t:
        init, r = start(t)
        t.watch(ns_members(init).values())
        pid = r["child2"]["pid"]
        reason = (f"pid {pid} is in another UTS namespace than the container's init: nested "
                  "UTS namespaces are not supported yet")
        status, _, err = sh(CKPT, "--container", str(init), "-o", os.path.join(d, "img"),
                            check=False, timeout=120)
        assert status != 0 and reason in err, err
        st, v = check_json(init, "--container")
        assert st == 1 and reason in [x["reason"] for x in v["reasons"]], v


def plain_tree_in_its_own_uts_refused():
    """A process (no pid namespace of its own) in a UTS namespace of its own, checkpointed
    without --container, is refused naming the kind; it counts on."""
    d = fresh("utsonly")
    with ktap.Tree("utsonly", d, "box4", binary=CONTAINERNS) as t:
        r = t.reports(["utsonly"], "the process to count")["utsonly"]
        reason = (f"pid {t.root} uses namespaces other than the caller's (UTS): not supported "
                  "yet (a container, ckpt --container, may have a UTS, an IPC, a network and a "
                  "time namespace of its own)")
        status, _, err = sh(CKPT, str(t.root), "-o", os.path.join(d, "img"), check=False)
        assert status != 0 and reason in err, err
        st, v = check_json(t.root)
        assert st == 1 and reason in [x["reason"] for x in v["reasons"]], v
        t.reports(["utsonly"], "it to count on", lambda _, x: x["count"] >= r["count"] + 3)
        assert running(t.root)


def unshare(d, *prefix, net=False, script="echo box5 > /proc/sys/kernel/hostname && exec sleep 1000",
            comm="sleep"):
    """util-linux's unshare --fork --pid --uts --ipc (and --net with NET) running PREFIX sh
    -c SCRIPT, by default one that names its UTS namespace box5 and execs sleep, pid 1 of
    the container: (unshare's Popen, the pid of the init, once its comm is COMM)."""
    flags = ["--fork", "--pid", "--uts", "--ipc"] + (["--net"] if net else [])
    with open(os.path.join(d, "stderr"), "w") as err:
        launcher = subprocess.Popen(["unshare", *flags, *prefix, "sh", "-c", script],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                    start_new_session=True)

    def started():
        for c in open(f"/proc/{launcher.pid}/task/{launcher.pid}/children").read().split():
            if open(f"/proc/{c}/comm").read().strip() == comm:
                return int(c)
        return None
    try:
        init = wait_for(started, f"{comm}, the container's init")
    except BaseException:
        launcher.kill()
        launcher.wait()
        raise
    assert nspid(init)[-1] == 1
    return launcher, init


def unshare_container_restarts():
    """util-linux's `unshare --fork --pid --uts --ipc` running sh in a session of its own
    (setsid), which names its UTS namespace box5 and execs sleep (pid 1 of the container):
    checkpointed with --container, killed (the namespaces go), restarted; inside, the name
    is box5, the IPC namespace new; the host's name is unchanged."""
    d = fresh("unshare")
    host_ipc, host_name = ns_inode("self", "ipc"), os.uname().nodename
    launcher, init = unshare(d, "setsid")
    new_init = None
    try:
        old_uts, old_ipc = ns_inode(init, "uts"), ns_inode(init, "ipc")
        img = os.path.join(d, "img")
        sh(CKPT, "--kill", "--container", str(init), "-o", img, timeout=120)
        launcher.wait(timeout=60)
        assert_namespaces_died(old_uts, old_ipc)
        _, out, _ = sh(RSTR, "--detach", img, timeout=120)
        new_init = int(out)
        _, name, _ = sh("nsenter", "-t", str(new_init), "--uts", "cat", "/proc/sys/kernel/hostname")
        assert name.strip() == "box5", name
        assert ns_inode(new_init, "ipc") != host_ipc, "a new IPC namespace"
        assert open(f"/proc/{new_init}/comm").read().strip() == "sleep" and running(new_init)
        assert os.uname().nodename == host_name
    finally:
        kill_all(launcher, new_init, init)


def init_in_an_outer_session_refused():
    """The same container without setsid: its init's group and session are outside it,
    which rstr cannot join from the new namespace; ckpt refuses it (not rstr, later), and
    the container runs on."""
    d = fresh("outer-session")
    launcher, init = unshare(d)
    try:
        reason = ("process 1: its process group or session is outside the container, "
                  "which a restart cannot join (start the container's init in a session of "
                  "its own, setsid)")
        img = os.path.join(d, "img")
        status, _, err = sh(CKPT, "--container", str(init), "-o", img, check=False, timeout=120)
        assert status != 0 and reason in err, err
        assert not os.path.exists(img)
        st, v = check_json(init, "--container")
        assert st == 1 and reason in [x["reason"] for x in v["reasons"]], v
        assert running(init)
    finally:
        kill_all(launcher, init)


# A TCP server keeping state: each client sends a word, which the server appends to its list,
# and gets the whole list back. It writes READY (then closes it) once it listens.
SERVER = """
import socket, sys
port, ready = int(sys.argv[1]), sys.argv[2]
host = sys.argv[3] if len(sys.argv) > 3 else "127.0.0.1"
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.bind((host, port))
s.listen(8)
open(ready, "w").close()
words = []
while True:
    c, _ = s.accept()
    words.append(c.makefile().readline().strip())
    c.sendall((",".join(words) + "\\n").encode())
    c.close()
"""
CLIENT = """
import socket, sys
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
c.sendall((sys.argv[2] + "\\n").encode())
print(c.makefile().read().strip())
"""
PORT = 7411
NET_REFUSED = ("only a network namespace whose one device is lo is saved yet (veth pairs and "
               "other devices are not supported yet)")
ADDR_REFUSED = ("the container's network namespace has address 10.9.9.9/32 on lo: only lo's "
                "default addresses (127.0.0.1/8, ::1/128) are saved yet")


def ask(pid, word):
    """What the server on 127.0.0.1:PORT of PID's network namespace answers WORD, from a
    client run inside that namespace."""
    _, out, _ = sh("nsenter", "-t", str(pid), "-n", sys.executable, "-c", CLIENT, str(PORT), word,
                   timeout=60)
    return out.strip()


def net_server(d, setup="", host="127.0.0.1"):
    """An unshare container with its own network namespace, lo up, SETUP run in it, running
    SERVER (python, pid 1) on HOST:PORT: (unshare's Popen, the server's pid)."""
    ready = os.path.join(d, "ready")
    script = (f"ip link set lo up && {setup} exec {sys.executable} -c '{SERVER}' {PORT} {ready} {host}")
    launcher, init = unshare(d, "setsid", net=True, script=script,
                             comm=os.path.basename(sys.executable)[:15])
    try:
        wait_for(lambda: os.path.exists(ready), "the server to listen")
    except BaseException:
        kill_all(launcher, init)
        raise
    return launcher, init


def kill_and_restart(d, launcher, init):
    """ckpt --kill --container INIT; once no process is left in its network namespace, rstr
    --detach: (the image's UTS_NS records, the restored init's pid)."""
    old_net = ns_inode(init, "net")
    img = os.path.join(d, "img")
    sh(CKPT, "--kill", "--container", str(init), "-o", img, timeout=120)
    launcher.wait(timeout=60)
    wait_for(lambda: not in_namespace("net", old_net),
             "the container's network namespace to be left by every process")
    ns = records(show_json(img), "UTS_NS")
    _, out, _ = sh(RSTR, "--detach", img, timeout=120)
    return ns, int(out)


def net_container_restarts():
    """`unshare --fork --pid --uts --ipc --net` running, in a session of its own, a python
    TCP server on 127.0.0.1 of its loopback (lo brought up by `ip link set lo up`), which
    keeps the words its clients sent: a client inside the container's network namespace
    sends one; checkpointed with --container and killed, the namespace gone (no process
    left in it); restarted: rstr made a new network namespace with lo up, where a client
    gets both words back; the host's namespace has no such listener."""
    d = fresh("net")
    host_net = ns_inode("self", "net")
    launcher, init = net_server(d)
    new_init = None
    try:
        old_net = ns_inode(init, "net")
        assert old_net != host_net
        assert ask(init, "alpha") == "alpha"
        ns, new_init = kill_and_restart(d, launcher, init)
        assert len(ns) == 1 and ns[0]["nodename"] == os.uname().nodename, ns
        assert (ns[0]["uts"], ns[0]["ipc"], ns[0]["net"], ns[0]["lo_up"]) == (True,) * 4, ns
        net = ns_inode(new_init, "net")
        assert net not in (host_net, old_net), "a new network namespace"
        assert ns_inode("self", "net") == host_net
        _, link, _ = sh("nsenter", "-t", str(new_init), "-n", "ip", "-o", "link", "show", "lo")
        assert ",UP" in link, f"lo is up in the restored namespace: {link}"
        assert ask(new_init, "beta") == "alpha,beta"
        assert ask(new_init, "gamma") == "alpha,beta,gamma"
        try:
            socket.create_connection(("127.0.0.1", PORT), timeout=5).close()
            raise AssertionError(f"the host's namespace has a listener on 127.0.0.1:{PORT}")
        except ConnectionRefusedError:
            pass
        assert running(new_init)
    finally:
        kill_all(launcher, new_init, init)


def net_container_lo_down_restarts():
    """The same container without `ip link set lo up` (sleep as its init): saved with its
    network namespace and lo down (CKPT_NS_NET without CKPT_NS_LO_UP); restarted in a new
    namespace whose lo is down too and has no address."""
    d = fresh("net-down")
    host_net = ns_inode("self", "net")
    launcher, init = unshare(d, "setsid", net=True)
    new_init = None
    try:
        old_net = ns_inode(init, "net")
        ns, new_init = kill_and_restart(d, launcher, init)
        assert len(ns) == 1 and (ns[0]["net"], ns[0]["lo_up"]) == (True, False), ns
        assert ns_inode(new_init, "net") not in (host_net, old_net), "a new network namespace"
        _, link, _ = sh("nsenter", "-t", str(new_init), "-n", "ip", "-o", "link", "show")
        assert len(link.splitlines()) == 1 and ",UP" not in link, f"lo alone, down: {link}"
        _, addrs, _ = sh("nsenter", "-t", str(new_init), "-n", "ip", "-o", "addr", "show")
        assert addrs.strip() == "", f"no address: {addrs}"
    finally:
        kill_all(launcher, new_init, init)


def refused_with(d, init, *reasons):
    """ckpt --container INIT fails naming the first of REASONS, leaving no image in D;
    ckpt check --container lists every one; the container runs on."""
    img = os.path.join(d, "img")
    status, _, err = sh(CKPT, "--container", str(init), "-o", img, check=False, timeout=120)
    assert status != 0 and reasons[0] in err, f"want {reasons[0]!r}: {err}"
    assert not os.path.exists(img)
    st, v = check_json(init, "--container")
    got = [x["reason"] for x in v["reasons"]]
    assert st == 1 and v["ok"] is False, v
    for r in reasons:
        assert any(r in g for g in got), f"want {r!r} in {got}"
    assert running(init)


def net_device_refused():
    """A veth pair made in the container's network namespace: refused naming the device
    after lo (`ip link` lists it second)."""
    d = fresh("net-veth")
    launcher, init = net_server(d, setup="ip link add v0 type veth peer name v1 &&")
    try:
        _, links, _ = sh("nsenter", "-t", str(init), "-n", "ip", "-o", "link", "show")
        second = links.splitlines()[1].split(":")[1].strip().split("@")[0]
        assert second in ("v0", "v1"), links
        refused_with(d, init, f"the container's network namespace has device {second}: {NET_REFUSED}")
        assert ask(init, "still") == "still"
    finally:
        kill_all(launcher, init)


def net_address_refused():
    """An address added to lo (10.9.9.9/32) is refused naming it, and so (in ckpt check's
    list) is the server's socket bound to it, named by its fd."""
    d = fresh("net-addr")
    launcher, init = net_server(d, setup="ip addr add 10.9.9.9/32 dev lo &&", host="10.9.9.9")
    try:
        fd = next(int(f) for f in os.listdir(f"/proc/{init}/fd")
                  if os.readlink(f"/proc/{init}/fd/{f}").startswith("socket:"))
        sock = (f"fd {fd}: AF_INET TCP socket 10.9.9.9:{PORT}: bound to an address that the "
                "container's network namespace, restored with only lo, will not have (only "
                "loopback and the any address are); not supported yet")
        refused_with(d, init, ADDR_REFUSED, sock)
    finally:
        kill_all(launcher, init)


def net_route_refused():
    """A route added through lo (which rstr would not make again; the module cannot read the
    FIB, ckpt reads /proc/PID/net/route): refused naming it, by ckpt and ckpt check."""
    d = fresh("net-route")
    launcher, init = net_server(d, setup="ip route add 10.0.0.0/8 dev lo &&")
    try:
        refused_with(d, init, "the container's network namespace has route 10.0.0.0/8 dev lo: "
                     "routes of its own are not saved yet")
        assert ask(init, "still") == "still"
    finally:
        kill_all(launcher, init)


def nested_net_refused():
    """A child of the container's init in a network namespace of its own: refused naming it."""
    d = fresh("net-nested")
    script = "ip link set lo up && (unshare --net sleep 1000 &) ; exec sleep 1000"
    launcher, init = unshare(d, "setsid", net=True, script=script)
    try:
        def nested():
            for c in open(f"/proc/{init}/task/{init}/children").read().split():
                if ns_inode(c, "net") != ns_inode(init, "net"):
                    return nspid(int(c))[-1]
            return None
        pid = wait_for(nested, "the child in a network namespace of its own")
        refused_with(d, init, f"pid {pid} is in another network namespace than the container's "
                     "init: nested network namespaces are not supported yet")
    finally:
        kill_all(launcher, init)


TESTS = [
    uts_ipc_container_restarts,
    nested_uts_refused,
    plain_tree_in_its_own_uts_refused,
    unshare_container_restarts,
    init_in_an_outer_session_refused,
    net_container_restarts,
    net_container_lo_down_restarts,
    net_device_refused,
    net_address_refused,
    net_route_refused,
    nested_net_refused,
]
if __name__ == "__main__":
    only = [t for t in TESTS if t.__name__ in sys.argv[1:]]
    sys.exit(run(only or TESTS))
