#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The views of `ckpt show` (--ps, --mems, --fds, --summary, --errors, each with --json) on
the image of a tree whose state is known (selftests/targets/views.c: a parent, its child
and grandchild, a pipe between parent and child, a file at a known offset, an area of
known size with known pages written), checked against what the processes reported; run as
root and as uid 65534; and --errors on the image of a refused checkpoint.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktap  # noqa: E402
from ktap import CKPT, NOBODY, device_open_to_all, run, running, scratch, sh, stat, target, wait_for  # noqa: E402

fresh = scratch("ckpt-show-")
VIEWS = target("views")
PAGE = 4096


def show(img, *view, status=0):
    """ckpt show IMG VIEW --json, its JSON; asserts its exit status."""
    p = subprocess.run([CKPT, "show", img, *view, "--json"], capture_output=True, text=True,
                       timeout=120 * ktap.SLOW)
    assert p.returncode == status, f"ckpt show {' '.join(view)} exited {p.returncode}: {p.stderr}"
    return json.loads(p.stdout)


def started(t):
    """The reports of views.c's three processes once all are ready."""
    r = t.reports(["parent", "child", "grandchild"], "the tree to start")
    t.watch([r["child"]["pid"], r["grandchild"]["pid"]])
    return r


def by_pid(view):
    return {p["pid"]: p for p in view["processes"]}


def check_views(img, r, d, uid):
    parent, child, grand = r["parent"], r["child"], r["grandchild"]
    pp, cp, gp = parent["pid"], child["pid"], grand["pid"]

    ps = show(img, "--ps")
    assert [p["pid"] for p in ps["processes"]] == [pp, cp, gp], ps
    procs = by_pid(ps)
    assert procs[cp]["ppid"] == pp and procs[gp]["ppid"] == cp, ps
    assert [procs[p]["depth"] for p in (pp, cp, gp)] == [0, 1, 2], ps
    for p in (pp, cp, gp):
        # The root was started in a session of its own: every process is in it.
        assert (procs[p]["pgid"], procs[p]["sid"]) == (pp, pp), procs[p]
        assert procs[p]["state"] == "running" and procs[p]["threads"] == [p], procs[p]
        assert procs[p]["comm"] == "views", procs[p]
        assert procs[p]["uids"] == [uid] * 4 and procs[p]["gids"] == [uid] * 4, procs[p]
    assert ps["tasks"] == 3 and not ps["container"], ps

    mems = by_pid(show(img, "--mems"))
    start = f"{parent['area']:#x}"
    for pid, touched in ((pp, parent["touched"]), (cp, child["touched"]), (gp, child["touched"])):
        areas = [a for a in mems[pid]["areas"] if a["start"] == start]
        assert len(areas) == 1, f"pid {pid} has no area at {start}: {mems[pid]['areas']}"
        a = areas[0]
        assert a["size"] == parent["pages"] * PAGE and a["end"] == f"{parent['area'] + a['size']:#x}", a
        assert (a["kind"], a["prot"], a["path"]) == ("anon-private", "rw-", ""), a
        # The pages written, each process's copy saved with it (copy-on-write is not kept).
        assert a["pages_saved"] == touched, f"pid {pid}: {a['pages_saved']} pages saved, {touched} written"
        assert mems[pid]["saved"] and mems[pid]["shared_with"] is None, mems[pid]
        assert mems[pid]["pages_saved"] >= touched

    fds = by_pid(show(img, "--fds"))
    pf = {f["fd"]: f for f in fds[pp]["fds"]}
    cf = {f["fd"]: f for f in fds[cp]["fds"]}
    gf = {f["fd"]: f for f in fds[gp]["fds"]}
    data = pf[parent["datafd"]]
    assert (data["kind"], data["path"], data["access"]) == ("regular", os.path.join(d, "data"), "rw"), data
    assert data["offset"] == parent["offset"], data
    # One description in the three processes (fork): the same object, the same offset.
    for other, pid in ((cf, cp), (gf, gp)):
        o = other[parent["datafd"]]
        assert (o["object"], o["offset"]) == (data["object"], parent["offset"]), o
        assert {"pid": pid, "fd": parent["datafd"], "access": "rw"} in data["shared_with"], data
    rd = pf[parent["rfd"]]
    assert (rd["kind"], rd["access"], rd["queued_bytes"]) == ("pipe", "r", 5), rd
    assert rd["object_record"]["type"] == "PIPE" and rd["object_record"]["len"] == 5, rd
    wr = cf[child["wfd"]]
    assert (wr["kind"], wr["access"]) == ("pipe", "w"), wr
    assert wr["object_record"]["id"] == rd["object_record"]["id"], (wr, rd)
    assert {"pid": cp, "fd": child["wfd"], "access": "w"} in rd["peers"], rd
    assert {"pid": gp, "fd": child["wfd"], "access": "w"} in rd["peers"], rd
    assert parent["rfd"] not in cf, "the child closed the read end"

    recs = ktap.show_json(img)
    summary = show(img, "--summary")
    assert summary["end"] == "TAIL" and summary["records"] == len(recs), summary
    assert summary["bytes"] == os.path.getsize(img), summary
    kinds = {k["kind"]: k for k in summary["kinds"]}
    assert kinds["TASK"]["count"] == 3 and kinds["VMA"]["count"] == len(ktap.records(recs, "VMA")), kinds
    # Pages a process shares copy-on-write with one saved before are saved as PAGES_REF.
    pages = sum(p["nr_pages"] for p in ktap.records(recs, "PAGES") + ktap.records(recs, "PAGES_REF"))
    assert summary["pages_saved"] == pages, summary
    assert sum(k["bytes"] for k in summary["kinds"]) == summary["bytes"]

    errors = show(img, "--errors")
    assert errors["complete"] and errors["errors"] == [], errors

    # The same views for people; exit 0.
    for view in ("--ps", "--mems", "--fds", "--summary", "--errors"):
        _, out, _ = sh(CKPT, "show", img, view)
        assert out, view
    _, out, _ = sh(CKPT, "show", img, "--ps")
    assert "  \\_ views" in out and "     \\_ views" in out, out


def views_of_a_known_tree():
    d = fresh("state")
    with ktap.Tree("state", d, binary=VIEWS) as t:
        r = started(t)
        pids = [r[n]["pid"] for n in ("parent", "child", "grandchild")]
        img, _ = t.checkpoint(pids)
        check_views(img, r, d, 0)


def views_of_a_tree_of_uid_65534():
    """The tree of an ordinary user, checkpointed by that user with no capability."""
    d = fresh("nobody")
    os.chown(d, 65534, 65534)
    with ktap.Tree("state", d, 65534, binary=VIEWS) as t:
        r = started(t)
        pids = [r[n]["pid"] for n in ("parent", "child", "grandchild")]
        img = os.path.join(d, "img")
        with device_open_to_all():
            sh(*NOBODY, CKPT, "--kill", str(t.root), "-o", img)
        t.proc.wait(timeout=60)
        wait_for(lambda: all(stat(p) is None for p in pids), "the tree to go")
        assert os.stat(img).st_uid == 65534
        # The user reads the views of the image too.
        _, out, _ = sh(*NOBODY, CKPT, "show", img, "--ps", "--json")
        assert [p["uids"] for p in json.loads(out)["processes"]] == [[65534] * 4] * 3, out
        check_views(img, r, d, 65534)


def errors_of_a_refused_checkpoint():
    """The child's working directory was removed with its parent: ckpt refuses the tree.
    Written to a file through standard output (or a pipe), the image ends with its ERROR
    record, which --errors shows with the task whose records it ended; the processes run
    on."""
    d = fresh("refuse")
    with ktap.Tree("refuse", d, binary=VIEWS) as t:
        r = started(t)
        pp, cp = r["parent"]["pid"], r["child"]["pid"]
        img = os.path.join(d, "img")
        with open(img, "wb") as out:
            p = subprocess.run([CKPT, str(pp)], stdout=out, stderr=subprocess.PIPE, text=True,
                               timeout=120 * ktap.SLOW)
        assert p.returncode != 0, "ckpt accepted a removed working directory"
        assert "was removed" in p.stderr, p.stderr

        e = show(img, "--errors", status=1)
        assert not e["complete"] and len(e["errors"]) == 1, e
        err = e["errors"][0]
        assert (err["source"], err["errno"], err["errno_name"]) == ("record", 95, "EOPNOTSUPP"), err
        assert err["task"] == cp, f"the refusal is among the child's records: {err}"
        gone = os.path.join(d, "gone")
        assert f"working directory {gone}" in err["reason"] and "was removed" in err["reason"], err
        assert err["reason"] in p.stderr, (err, p.stderr)
        dump = subprocess.run([CKPT, "show", img, "--json"], capture_output=True, text=True)
        recs = [json.loads(x) for x in dump.stdout.splitlines()]
        assert recs[-1]["type"] == "ERROR" and err["record"] == len(recs) - 1, recs[-1]
        assert err["offset"] + 8 + 8 + len(err["reason"].encode()) <= os.path.getsize(img)

        p = subprocess.run([CKPT, "show", img, "--errors"], capture_output=True, text=True)
        assert p.returncode == 1 and f"among the records of task {cp}" in p.stdout, p
        assert err["reason"] in p.stdout, p.stdout

        # Another view shows what the image holds, then fails as the record dump does.
        ps = show(img, "--ps", status=1)
        assert [x["pid"] for x in ps["processes"]] == [pp, cp, r["grandchild"]["pid"]], ps
        mems = by_pid(show(img, "--mems", status=1))
        assert mems[pp]["saved"] and not mems[cp]["saved"], mems
        assert show(img, "--summary", status=1)["end"] == "ERROR"

        # Through a pipe, the same.
        ck = subprocess.Popen([CKPT, str(pp)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        p = subprocess.run([CKPT, "show", "-", "--errors", "--json"], stdin=ck.stdout,
                           capture_output=True, text=True, timeout=120 * ktap.SLOW)
        ck.stdout.close()
        assert ck.wait() != 0 and p.returncode == 1, p
        assert json.loads(p.stdout)["errors"][0]["task"] == cp, p.stdout
        assert running(pp) and running(cp), "the refused tree runs on"


TESTS = [
    views_of_a_known_tree,
    views_of_a_tree_of_uid_65534,
    errors_of_a_refused_checkpoint,
]
if __name__ == "__main__":
    sys.exit(run(TESTS))
