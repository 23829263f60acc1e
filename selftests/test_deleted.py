#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Regular files unlinked while open, or replaced at their path by a rename: their data
is saved by the module (DELETED and FILE_DATA records, holes left out), rstr makes each
again with O_TMPFILE in its directory and reopens every description; checked by the
program itself after the restart (selftests/targets/deleted.c): content, a hole kept
(st_blocks small), mode, owner, link count 0, offsets and flags, a description shared
by fork. The limit on deleted files' data refuses with its option's name, and the option
raises it. A deleted file only mapped (its descriptor closed), shared and private: saved
once, its areas naming it, made again in its directory; the shared area writes through to
the file the private one maps, whose own page stays its own (also as uid 65534).
"""
import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ktap  # noqa: E402
from ktap import CKPT, records, run, running, scratch, sh, show_json, target  # noqa: E402

fresh = scratch("ckpt-deleted-")
DELETED = target("deleted")
HEAD, TAIL_AT, TAIL = 10000, 4 << 20, 5000


def started(t):
    r = t.reports(["parent", "child"], "the processes to open and unlink their files")
    t.watch([r["child"]["pid"]])
    return r["parent"]["pid"], r["child"]["pid"]


def checked_image(img, d):
    """One DELETED record per deleted file, its data without the hole, the FILEs of kind
    deleted naming it with the path it had."""
    recs = show_json(img)
    dels = {r["id"]: r for r in records(recs, "DELETED")}
    data = records(recs, "FILE_DATA")
    files = [f for f in records(recs, "FILE") if f["kind"] == "deleted"]
    assert len(dels) == 2, dels
    big = next(r for r in dels.values() if r["size"] == TAIL_AT + TAIL)
    assert big["mode"] == oct(0o100640), big
    ext = [(x["offset"], x["len"]) for x in data if x["id"] == big["id"]]
    assert sum(n for _, n in ext) < 1 << 20, f"the hole was saved as data: {ext}"
    assert ext[0][0] == 0 and ext[-1][0] + ext[-1][1] == TAIL_AT + TAIL, ext
    paths = sorted({f["path"] for f in files})
    assert paths == [os.path.join(d, "conf"), os.path.join(d, "data")], paths
    rw = [f for f in files if f["path"].endswith("/data") and f["flags"].endswith("2")]
    assert len(rw) == 2 and rw[0]["obj"] == rw[1]["obj"], f"one description shared by fork: {rw}"


def after_restart(t, parent, child):
    assert running(parent) and running(child), "both processes are back"
    os.kill(parent, signal.SIGUSR2)
    got = t.reports(["parent", "child"], "the processes to check their files",
                    lambda n, r: r.get("checked", 1) == 1 and r.get("wrote", 1) == 1)
    assert got["parent"]["errors"] == 0 and got["child"]["errors"] == 0, f"checks failed: {t.stderr_text()}"


def deleted_files_come_back():
    d = fresh("state")
    with ktap.Tree("state", d, binary=DELETED) as t:
        parent, child = started(t)
        img, _ = t.checkpoint([parent, child])
        checked_image(img, d)
        t.restart(img)
        after_restart(t, parent, child)
        assert sorted(os.listdir(d)) == ["child", "conf", "img", "parent", "stderr"], os.listdir(d)


def deleted_files_as_nobody():
    """uid 65534: ckpt with no capability, rstr with CAP_CHECKPOINT_RESTORE; the file is
    made again owned by the user, in its directory."""
    d = fresh("nobody")
    os.chown(d, 65534, 65534)
    with ktap.Tree("state", d, 65534, binary=DELETED) as t:
        parent, child = started(t)
        os.chown(t.stderr, 65534, 65534)  # the restart reopens the tree's stderr as the user
        t.checkpoint_restart_as_nobody([parent, child], lambda img: checked_image(img, d))
        after_restart(t, parent, child)


def removed_cwd(uid=None):
    """A process whose working directory was removed (and its CLONE_FS child) comes back in
    a removed directory of the same mode and owner at the same path, as uid UID too."""
    d = fresh("rmcwd" if uid is None else "rmcwd-nobody")
    args = () if uid is None else (uid,)
    if uid is not None:
        os.chown(d, uid, uid)
    with ktap.Tree("rmcwd", d, *args, binary=DELETED) as t:
        r = t.reports(["rmcwd"], "the process to leave its directory removed")["rmcwd"]
        pid, child = r["pid"], r["child"]
        assert r["errors"] == 0, t.stderr_text()
        t.watch([child])
        gone = os.path.join(d, "gone")
        assert os.readlink(f"/proc/{pid}/cwd") == f"{gone} (deleted)" and not os.path.exists(gone)
        before = os.stat(f"/proc/{pid}/cwd")

        def image(img):
            fs = [f for f in records(show_json(img), "FS") if f["cwd"] == gone]
            want = f"0751 {before.st_uid}:{before.st_gid}"
            assert len(fs) == 1 and fs[0].get("cwd_removed") == want, (fs, want)

        t.checkpoint_restart_as(uid, [pid, child], image)
        assert running(pid) and running(child), "both processes are back"
        for p in (pid, child):
            assert os.readlink(f"/proc/{p}/cwd") == f"{gone} (deleted)", os.readlink(f"/proc/{p}/cwd")
        after = os.stat(f"/proc/{pid}/cwd")
        assert (after.st_mode, after.st_uid, after.st_gid, after.st_nlink) == \
            (before.st_mode, before.st_uid, before.st_gid, 0), (before, after)
        assert not os.path.exists(gone), "the directory made again was left at its path"
        os.kill(pid, signal.SIGUSR2)
        got = t.reports(["rmcwd"], "the process to check its directory",
                        lambda _, r: r["checked"] == 1)["rmcwd"]
        assert got["errors"] == 0, f"checks failed: {t.stderr_text()}"
        assert sorted(os.listdir(d)) == ["img", "rmcwd", "stderr"], os.listdir(d)


def removed_working_directory_comes_back():
    removed_cwd()


def removed_working_directory_as_nobody():
    removed_cwd(65534)


def removed_dir_fds(uid=None):
    """A directory held open and removed (an O_RDONLY descriptor read to its end, an O_PATH
    one, a second description, all shared with a forked child) comes back removed at the
    same path: one REMOVED_DIR record, the FILEs naming it with the path it had; after the
    restart the processes check link count 0, mode, owner, one inode, offsets, flags, the
    /proc/self/fd link, ENOENT on create and on getdents (as on any removed directory),
    and a flag and offset change seen
    through the shared description (as uid UID too)."""
    d = fresh("rmdirfd" if uid is None else "rmdirfd-nobody")
    args = () if uid is None else (uid,)
    if uid is not None:
        os.chown(d, uid, uid)
    with ktap.Tree("rmdirfd", d, *args, binary=DELETED) as t:
        r = t.reports(["rmdirfd", "rmdirchild"], "the processes to hold the directory removed")
        p = r["rmdirfd"]
        pid, child = p["pid"], p["child"]
        t.watch([child])
        held = os.path.join(d, "held")
        for fd in ("rd", "path", "other"):
            link = os.readlink(f"/proc/{pid}/fd/{p[fd]}")
            assert link == f"{held} (deleted)", (fd, link)
        assert not os.path.exists(held)
        before = os.stat(f"/proc/{pid}/fd/{p['rd']}")

        def image(img):
            recs = show_json(img)
            dirs = records(recs, "REMOVED_DIR")
            want = {"mode": "0751", "uid": before.st_uid, "gid": before.st_gid}
            assert len(dirs) == 1 and {k: dirs[0][k] for k in want} == want, (dirs, want)
            files = [f for f in records(recs, "FILE") if f["kind"] == "removed-dir"]
            # Three descriptions, each in both processes, naming the one directory.
            assert len(files) == 6 and {f["path"] for f in files} == {held}, files
            assert {f["pipe"] for f in files} == {dirs[0]["id"]}, files
            assert len({f["obj"] for f in files}) == 3, files
            rd = [f for f in files if f["fd"] == p["rd"]]
            assert all(f["pos"] == p["at"] for f in rd), (rd, p["at"])
            # ckpt show --fds: the kind, and the directory's record with each descriptor.
            _, out, _ = sh(CKPT, "show", img, "--fds", "--json")
            view = {q["pid"]: q for q in json.loads(out)["processes"]}
            fds = {f["fd"]: f for f in view[pid]["fds"]}
            for fd in ("rd", "path", "other"):
                f = fds[p[fd]]
                assert f["kind"] == "removed-dir" and f["path"] == held, f
                assert f["object_record"]["type"] == "REMOVED_DIR", f
                assert f["object_record"]["mode"] == "0751", f

        t.checkpoint_restart_as(uid, [pid, child], image)
        assert running(pid) and running(child), "both processes are back"
        for q in (pid, child):
            for fd in ("rd", "path", "other"):
                link = os.readlink(f"/proc/{q}/fd/{p[fd]}")
                assert link == f"{held} (deleted)", (q, fd, link)
        after = os.stat(f"/proc/{pid}/fd/{p['rd']}")
        assert (after.st_mode, after.st_uid, after.st_gid, after.st_nlink) == \
            (before.st_mode, before.st_uid, before.st_gid, 0), (before, after)
        assert not os.path.exists(held), "the directory made again was left at its path"
        os.kill(pid, signal.SIGUSR2)
        got = t.reports(["rmdirfd"], "the process to check its directory",
                        lambda _, r: r["checked"] == 1)["rmdirfd"]
        assert got["errors"] == 0, f"checks failed: {t.stderr_text()}"
        got = t.reports(["rmdirchild"], "the child to see the shared description",
                        lambda _, r: r["checked"] == 1)["rmdirchild"]
        assert got["errors"] == 0, f"checks failed: {t.stderr_text()}"
        assert sorted(os.listdir(d)) == ["img", "rmdirchild", "rmdirfd", "stderr"], os.listdir(d)


def removed_directory_held_open_comes_back():
    removed_dir_fds()


def removed_directory_held_open_as_nobody():
    removed_dir_fds(65534)


def the_limit_refuses_and_the_option_raises_it():
    """A deleted file of 2 MiB of data: refused under --deleted-max 1M with the file, the
    limit and the option named (no image, the process runs on); taken with 4M, restarted,
    and its data checked."""
    d = fresh("limit")
    with ktap.Tree("big", d, 2, binary=DELETED) as t:
        r = t.reports(["big"], "the process to write its file")["big"]
        img = os.path.join(d, "img")
        status, _, err = sh(CKPT, "--deleted-max", "1M", str(t.root), "-o", img, check=False)
        assert status != 0, "ckpt took it"
        want = (f"fd {r['fd']}: deleted file {d}/bigdata: its data takes the deleted files of the image to "
                f"more than 1048576 bytes, the limit for deleted files and memfds (raise it with ckpt --deleted-max SIZE)")
        assert want in err, err
        assert not os.path.exists(img)
        assert running(t.root)
        img, _ = t.checkpoint([t.root], "--deleted-max", "4M")
        t.restart(img)
        os.kill(r["pid"], signal.SIGUSR2)
        got = t.reports(["big"], "the process to check its file", lambda _, b: b["checked"] == 1)["big"]
        assert got["errors"] == 0, t.stderr_text()


def checked_mapped_image(img, d):
    """One DELETED record, no FILE of it; both areas name it with the path it had."""
    recs = show_json(img)
    dels = records(recs, "DELETED")
    assert len(dels) == 1 and dels[0]["size"] == 8192, dels
    assert not [f for f in records(recs, "FILE") if f["kind"] == "deleted"], "a descriptor of it"
    areas = [v for v in records(recs, "VMA") if v["shm"] == dels[0]["id"]]
    assert sorted(v["kind"] for v in areas) == ["file-private", "file-shared"], areas
    assert all(v["path"] == os.path.join(d, "mapdata") for v in areas), areas


def mapped_deleted_file(uid=None):
    d = fresh("mapped" if uid is None else "mapped-nobody")
    args = [] if uid is None else [uid]
    if uid is not None:
        os.chown(d, uid, uid)
    with ktap.Tree("mapped", d, *args, binary=DELETED) as t:
        pid = t.reports(["mapped"], "the process to map its file")["mapped"]["pid"]
        t.checkpoint_restart_as(uid, [pid], lambda img: checked_mapped_image(img, d))
        assert running(pid), "the process is back"
        os.kill(pid, signal.SIGUSR2)
        got = t.reports(["mapped"], "the process to check its mappings", lambda _, r: r["checked"] == 1)
        assert got["mapped"]["errors"] == 0, t.stderr_text()
        assert "mapdata" not in os.listdir(d), "the file was linked again"


def mapped_deleted_files_stay_shared():
    mapped_deleted_file()


def mapped_deleted_files_as_nobody():
    mapped_deleted_file(65534)


TESTS = [
    deleted_files_come_back,
    mapped_deleted_files_stay_shared,
    mapped_deleted_files_as_nobody,
    deleted_files_as_nobody,
    the_limit_refuses_and_the_option_raises_it,
    removed_working_directory_comes_back,
    removed_working_directory_as_nobody,
    removed_directory_held_open_comes_back,
    removed_directory_held_open_as_nobody,
]
if __name__ == "__main__":
    sys.exit(run(TESTS))
