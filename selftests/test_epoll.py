#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""epolls: saved by the module (EPOLL records, the interest list walked under the epoll's
mutex, each item's target found in the table at its number or, that number closed or
replaced since EPOLL_CTL_ADD, at another), made again by rstr, and checked by the program
itself after the restart (selftests/targets/epoll.c): epoll_wait reports exactly the ready
descriptors with their data, edge-triggered and one-shot items keep their mode (a one-shot
item that fired stays disarmed until EPOLL_CTL_MOD), an epoll inside an epoll, an epoll
shared by dup and fork is one description, items whose number was closed or replaced keep
their key (EPOLL_CTL_MOD and _DEL as the kernel keys them, two items of one number); also
as uid 65534. An item whose file is open at no descriptor of the epoll's process (only in
another process) is refused.
"""
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktap  # noqa: E402
from ktap import NOBODY, NOBODY_CR, CKPT, RSTR, records, run, running, scratch, sh, show_json, target  # noqa: E402

fresh = scratch("ckpt-epoll-")
EPOLL = target("epoll")
# EPOLLIN | EPOLLERR | EPOLLHUP, as the kernel keeps an EPOLLIN item; EPOLLONESHOT, EPOLLET.
IN, ONESHOT, ET = 0x19, 0x40000000, 0x80000000


class NobodyTree(ktap.Tree):
    """epoll.c MODE started as uid 65534 (setpriv execs it: the same pid)."""

    def __init__(self, mode, d):
        os.chmod(d, 0o777)
        self.dir = d
        self.stderr = os.path.join(d, "stderr")
        with open(self.stderr, "w") as err:
            os.chmod(self.stderr, 0o666)    # rstr, as uid 65534, opens it again
            self.proc = subprocess.Popen([*NOBODY, EPOLL, mode, d], stdin=subprocess.DEVNULL,
                                         stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        self.root = self.proc.pid
        self.pids = {self.root}


def check_image(recs, r):
    """The EPOLL records of epoll.c's `state` mode, as `ckpt show --json` decodes them."""
    eps = {e["id"]: e for e in records(recs, "EPOLL")}
    files = records(recs, "FILE")
    # The parent's table: the FILE records between the first TASK and the next.
    tasks = [n for n, x in enumerate(recs) if x["type"] == "TASK"]
    parent_files = {x["fd"]: x for x in recs[tasks[0]:tasks[1]] if x["type"] == "FILE"}
    obj = {name: parent_files[r[name]]["obj"] for name in ("main", "main_dup", "modes", "outer", "inner")}
    assert len(eps) == 4 and set(eps) == {obj[n] for n in ("main", "modes", "outer", "inner")}, (eps, obj)
    # One description for both descriptors of both processes.
    assert obj["main"] == obj["main_dup"], obj
    users = [f for f in files if f["obj"] == obj["main"]]
    assert len(users) == 4 and all(f["kind"] == "epoll" for f in users), users
    main = eps[obj["main"]]["items"]
    assert sorted(int(i["data"], 16) for i in main) == [0x1001, 0x1002, 0x1003, 0x1004], main
    assert all(int(i["events"], 16) == IN and not i["disarmed"] for i in main), main
    for i in main:
        assert parent_files[i["tfd"]]["obj"] == i["obj"], f"item of fd {i['tfd']} names another description: {i}"
    modes = {int(i["data"], 16): i for i in eps[obj["modes"]]["items"]}
    assert int(modes[0x2001]["events"], 16) == IN | ET and not modes[0x2001]["disarmed"], modes
    assert modes[0x2001]["names"] == "IN|ERR|HUP|ET", modes
    # A one-shot item that fired keeps only its mode.
    for d in (0x2002, 0x2004):
        assert int(modes[d]["events"], 16) == ONESHOT and modes[d]["disarmed"], modes[d]
    assert int(modes[0x2003]["events"], 16) == IN | ONESHOT and not modes[0x2003]["disarmed"], modes
    outer = eps[obj["outer"]]["items"]
    assert len(outer) == 1 and outer[0]["obj"] == obj["inner"] and outer[0]["data"] == "0x3002", outer
    assert [i["data"] for i in eps[obj["inner"]]["items"]] == ["0x3001"], eps[obj["inner"]]
    # Each EPOLL comes once, before the first FILE of its description.
    for i, e in eps.items():
        first = next(n for n, x in enumerate(recs) if x["type"] == "FILE" and x["obj"] == i)
        at = next(n for n, x in enumerate(recs) if x["type"] == "EPOLL" and x["id"] == i)
        assert at < first, f"the EPOLL record of {i} comes after its first FILE"


def state(tree, checkpoint, restart):
    d = fresh("state" if tree is ktap.Tree else "state-nobody")
    with tree("state", d, binary=EPOLL) if tree is ktap.Tree else tree("state", d) as t:
        r = t.reports(["parent", "child"], "the processes to set up their epolls")
        parent, child = r["parent"]["pid"], r["child"]["pid"]
        assert r["parent"]["child"] == child, r
        t.watch([child])
        img = checkpoint(t, [parent, child])
        check_image(show_json(img), r["parent"])
        restart(t, img)
        assert running(parent) and running(child), "both processes are back"
        os.kill(child, signal.SIGUSR2)
        got = t.reports(["child"], "the child to check the shared epoll", lambda _, c: c.get("checked") == 1)
        assert got["child"]["errors"] == 0, f"the child's checks failed: {t.stderr_text()}"
        os.kill(parent, signal.SIGUSR2)
        got = t.reports(["parent"], "the parent to check its epolls", lambda _, p: p.get("checked") == 1)["parent"]
        assert got["errors"] == 0, f"{got['errors']} checks failed after the restart: {t.stderr_text()}"
        # fdinfo after the restart: the fired one-shot eventfd disarmed again exactly; the
        # fired one-shot pipe, ready for nothing, armed for EPOLLERR | EPOLLHUP only
        # (Documentation/files.rst).
        assert int(str(got["fired_events"]), 16) == ONESHOT, got
        assert int(str(got["pipe_events"]), 16) == ONESHOT | 0x18, got


def as_root(t, pids):
    return t.checkpoint(pids)[0]


def state_comes_back_and_the_program_checks_it():
    state(ktap.Tree, as_root, lambda t, img: t.restart(img))


def as_nobody(t, pids):
    img = t.checkpoint(pids)[0]
    os.chmod(img, 0o644)
    return img


def restart_as_nobody(t, img):
    mode = os.stat("/dev/checkpoint").st_mode
    os.chmod("/dev/checkpoint", 0o666)
    try:
        status, out, err = sh(*NOBODY_CR, RSTR, "-d", img, check=False)
    finally:
        os.chmod("/dev/checkpoint", mode & 0o777)
    assert status == 0, f"rstr as uid 65534 exited {status}: {err.strip()}"
    t.watch([int(out)])


def state_as_an_ordinary_user():
    """The same program run by uid 65534, restarted by it with only CAP_CHECKPOINT_RESTORE
    (checkpointed by root, as test_creds.py does: yama keeps a non-parent from attaching)."""
    state(NobodyTree, as_nobody, restart_as_nobody)


def check_moved(recs, r):
    """The EPOLL record of epoll.c's `moved` mode: each item names its file by the object
    of the descriptor that holds it now, and by the number it was added with."""
    (ep,) = records(recs, "EPOLL")
    files = {x["fd"]: x for x in records(recs, "FILE")}
    assert r["a"] not in files, f"fd {r['a']} was closed: {files[r['a']]}"
    assert files[r["ep"]]["obj"] == ep["id"], (ep, files[r["ep"]])
    got = sorted((int(i["data"], 16), i["tfd"], i["obj"]) for i in ep["items"])
    want = [(0x4001, r["a"], files[r["b"]]["obj"]), (0x4002, r["c"], files[r["e"]]["obj"]),
            (0x4003, r["c"], files[r["c"]]["obj"])]
    assert got == want, (got, want)
    assert len({o for _, _, o in got}) == 3, got


def moved(tree, checkpoint, restart):
    d = fresh("moved" if tree is ktap.Tree else "moved-nobody")
    with tree("moved", d, binary=EPOLL) if tree is ktap.Tree else tree("moved", d) as t:
        r = t.reports(["moved"], "the epoll to be set up")["moved"]
        img = checkpoint(t, [t.root])
        check_moved(show_json(img), r)
        restart(t, img)
        assert running(t.root), "the process is back"
        os.kill(t.root, signal.SIGUSR2)
        got = t.reports(["moved"], "the program to check its epoll", lambda _, m: m.get("checked") == 1)
        assert got["moved"]["errors"] == 0, f"checks failed after the restart: {t.stderr_text()}"


def items_whose_number_was_closed_or_replaced_come_back():
    """An item added at A whose file was dup'ed to B and A closed; one added at C whose file
    was kept at E and another file dup2'ed over C, then added at C as well."""
    moved(ktap.Tree, as_root, lambda t, img: t.restart(img))


def items_whose_number_was_closed_or_replaced_as_an_ordinary_user():
    moved(NobodyTree, as_nobody, restart_as_nobody)


def an_item_whose_file_only_another_process_holds_is_refused():
    """The parent closed T, its child holds T's eventfd (and not the epoll): ckpt refuses
    it, naming the epoll, the number and why, leaves no image, and the process counts on."""
    d = fresh("elsewhere")
    with ktap.Tree("elsewhere", d, binary=EPOLL) as t:
        r = t.reports(["refused"], "epoll elsewhere to start")["refused"]
        img = os.path.join(d, "img")
        status, _, err = sh(CKPT, str(t.root), "-o", img, check=False)
        assert status != 0, "ckpt accepted it"
        want = (f"fd {r['fd']}: epoll watches fd {r['tfd']}, which was closed or replaced since "
                "EPOLL_CTL_ADD, and its file is open at no other descriptor of this process "
                "(only in another process, in a message in flight or a memory mapping): not supported")
        assert want in err, (want, err)
        assert not os.path.exists(img), "no partial image is left behind"
        assert running(r["child"]), "the child runs on"
        t.reports(["refused"], "the process to count on", lambda _, n: n["count"] >= r["count"] + 3)


TESTS = [
    state_comes_back_and_the_program_checks_it,
    state_as_an_ordinary_user,
    items_whose_number_was_closed_or_replaced_come_back,
    items_whose_number_was_closed_or_replaced_as_an_ordinary_user,
    an_item_whose_file_only_another_process_holds_is_refused,
]
if __name__ == "__main__":
    sys.exit(run(TESTS))
