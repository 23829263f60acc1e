#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A short run of the fuzzers of make fuzz (Documentation/testing.rst, "Fuzzing"), from
fixed seeds, so that the harness cannot rot: ckpt-fuzz's mutants through rstr, and the
module's ioctls called directly as uid 65534 with no capability, hostile cases included.
The counts must add up (every case refused or restored), no case may crash or hang, and
the hostile cases must be refused with the errno and reason each expects."""
import os
import re
import shutil
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import CKPT, RSTR, SLOW, TARGET, Target, image_records, kill_reaped, run, scratch, sh, wait_for, read_info  # noqa: E402
import subprocess  # noqa: E402

FUZZ = shutil.which("ckpt-fuzz")
fresh = scratch("ckpt-fuzz-")
SEED = "0x5eed"
RSTR_CASES = 8
IOCTL_CASES = 1000
NOBODY = 65534
SETPRIV = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
           "--inh-caps=-all", "--bounding-set=-all"]


def seed_image(d):
    """The image of a target process (checkpointed and killed by ckpt), readable by all.
    The target runs from the test's tmpfs directory: each restart opens the files its areas
    map, and the guest's 9p root is slow at that."""
    exe = os.path.join(d, "target")
    shutil.copy(TARGET, exe)
    status = os.path.join(d, "status")
    p = subprocess.Popen([exe, status], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    wait_for(lambda: read_info(status), "the target to start")
    img = os.path.join(d, "seed.img")
    sh(CKPT, "--kill", str(p.pid), "-o", img)
    p.wait()
    os.chmod(img, 0o644)
    return img


def counts(out, tool):
    """The numbers of `fuzz TOOL: N cases, N refused, N restored, N crashes, N hangs`."""
    m = re.search(rf"^fuzz {tool}: (\d+) cases, (\d+) refused, (\d+) restored, (\d+) crashes, "
                  r"(\d+) hangs$", out, re.M)
    assert m, f"no counts of {tool} in:\n{out[-2000:]}"
    return dict(zip(("cases", "refused", "restored", "crashes", "hangs"), map(int, m.groups())))


def rstr_mutants_are_refused_or_restored():
    d = fresh("rstr")
    img = seed_image(d)
    rc, out, err = sh(FUZZ, "rstr", "--seed", SEED, "--cases", str(RSTR_CASES), "-v",
                      "--timeout", str(60 * SLOW), "--tmp", d, img, check=False)
    c = counts(out, "rstr")
    assert rc == 0, f"ckpt-fuzz rstr exited {rc}: {err}\n{out[-2000:]}"
    assert c["cases"] == RSTR_CASES, c
    assert c["refused"] + c["restored"] == c["cases"], c
    assert c["crashes"] == 0 and c["hangs"] == 0, c
    assert c["refused"] > 0, c
    # Each case has its line; every refusal carries rstr's reason.
    lines = re.findall(r"^# case (\d+): (refused|restored)(.*)$", out, re.M)
    assert [int(n) for n, _, _ in lines] == list(range(RSTR_CASES)), lines
    for n, what, rest in lines:
        if what == "refused":
            assert re.match(r": rstr: error: .{10,}", rest), (n, rest)
    assert "seed 0x0000000000005eed" in out, out[:300]


def mutants_replay_from_seed_and_index():
    d = fresh("replay")
    img = seed_image(d)
    a, b, c = (os.path.join(d, n) for n in ("a", "b", "c"))
    _, ops_a, _ = sh(FUZZ, "mutate", "--image", img, "--seed", SEED, "--case", "7", "-o", a)
    _, ops_b, _ = sh(FUZZ, "mutate", "--image", img, "--seed", SEED, "--case", "7", "-o", b)
    sh(FUZZ, "mutate", "--image", img, "--seed", SEED, "--case", "8", "-o", c)
    with open(a, "rb") as fa, open(b, "rb") as fb, open(c, "rb") as fc, open(img, "rb") as fs:
        ba, bb, bc, seed = fa.read(), fb.read(), fc.read(), fs.read()
    assert ba == bb and ops_a == ops_b and ops_a.strip(), ops_a
    assert ba != bc and ba != seed
    # The ioctl harness's case 0 is its first hostile one: /etc/shadow mapped first.
    h = os.path.join(d, "h")
    _, what, _ = sh(FUZZ, "mutate", "--ioctl", "--image", img, "--seed", SEED, "--case", "0",
                    "-o", h)
    assert "hostile shadow-mapped" in what, what
    with open(h, "rb") as f:
        assert b"/etc/shadow" in f.read()


def ioctl_cases_as_an_ordinary_user():
    d = fresh("ioctl")
    img = seed_image(d)
    secret = os.path.join(d, "root-only")
    with open(secret, "w") as f:
        f.write("root's secret\n")
    os.chmod(secret, 0o600)
    # The device is given to the user for the run (chown), /etc/shadow made as Debian has
    # it (the guest's /etc is an overlay, virtme's /etc/shadow is 0644); both given back.
    dev = os.stat("/dev/checkpoint")
    shadow = os.stat("/etc/shadow").st_mode & 0o777
    os.chown("/dev/checkpoint", NOBODY, NOBODY)
    os.chmod("/etc/shadow", 0o640)
    try:
        rc, out, err = sh(*SETPRIV, FUZZ, "ioctl", "--require-unprivileged", "--image", img,
                          "--root-file", secret, "--seed", SEED, "--cases", str(IOCTL_CASES),
                          "--timeout", str(30 * SLOW), "-v", check=False)
    finally:
        os.chown("/dev/checkpoint", dev.st_uid, dev.st_gid)
        os.chmod("/etc/shadow", shadow)
    assert "uid 65534, no capabilities" in out, out[:500]
    c = counts(out, "ioctl")
    assert rc == 0, f"ckpt-fuzz ioctl exited {rc}: {err}\n{out[-3000:]}"
    assert c["cases"] == IOCTL_CASES, c
    assert c["refused"] + c["restored"] == c["cases"], c
    assert c["crashes"] == 0 and c["hangs"] == 0, c
    assert c["refused"] > IOCTL_CASES // 2 and c["restored"] > 0, c
    m = re.search(r"hostile: (\d+) cases, (\d+) as expected", out)
    assert m and int(m[1]) >= 20 and m[1] == m[2], m and m.group(0)
    print(f"# {m.group(0)}")
    hostile = dict(re.findall(r"^# hostile case \d+ (\S+): (.*)$", out, re.M))
    # Files the user cannot open are refused EACCES, by name, before anything changes.
    for name, path in (("shadow-mapped", "/etc/shadow"), ("root-only-file-mapped", secret),
                       ("proc-1-mem-mapped", "/proc/1/mem")):
        assert re.match(rf'Refused \{{ errno: 13, reason: ".*{re.escape(path)}', hostile[name]), \
            (name, hostile[name])
    for name in ("kernel-address-area", "area-across-task-size", "huge-area-count",
                 "layout-at-kernel-address"):
        assert hostile[name].startswith("Refused { errno: 22,"), (name, hostile[name])
    # As many tasks as the bound allows: the module's tables of them come from kvmalloc (a
    # kmalloc of them was a WARNING in page_alloc, which make fuzz found), then the first
    # task id that is no task is refused.
    assert hostile["checkpoint-max-tasks"].startswith('Refused { errno: 3, reason: "no task 0'), \
        hostile["checkpoint-max-tasks"]
    # Pages outside every area are refused past the point of no return: the task is killed.
    assert hostile["pages-outside-every-area"].startswith('Late("pid '), hostile
    assert "not inside one memory area" in hostile["pages-outside-every-area"]
    # Records of the kinds rstr restores (the module never reads one), where the module
    # reads its own: refused by their type, their hostile payload never read.
    assert hostile["epoll-record-for-the-module"].startswith(
        'Refused { errno: 22, reason: "expected a MM record, found EPOLL'), hostile
    assert hostile["memfd-record-among-the-areas"].startswith('Refused { errno: 22,'), hostile
    assert "VMA records, found MEMFD" in hostile["memfd-record-among-the-areas"], hostile
    assert "expected the REGS record, found FILE_DATA" in \
        hostile["file-data-record-for-the-registers"], hostile
    # Areas naming a memfd or deleted file: the restart's table of mapped objects must have
    # it, at an open descriptor, of the kind the area's path says; the table is bounded.
    for name, errno, text in (
            ("mapped-object-not-in-the-table", 22, "table of mapped objects does not have"),
            ("mapped-object-at-a-closed-fd", 9, "fd 1000 is not open"),
            ("mapped-memfd-is-a-directory", 22, "is not a memfd"),
            ("mapped-deleted-file-is-a-memfd", 22, "is not an unlinked regular file"),
            ("too-many-mapped-objects", 22, "mapped objects, at most")):
        assert hostile[name].startswith(f"Refused {{ errno: {errno},") and text in hostile[name], \
            (name, hostile[name])
    # The device is root's again.
    assert os.stat("/dev/checkpoint").st_uid == dev.st_uid


def rstr_refuses_hostile_images_as_an_ordinary_user():
    """ckpt-fuzz's hostile images for rstr (userspace/ckptfuzz/src/hostile.rs: the
    synthetic image with one epoll, FIFO, deleted file, memfd, socket or timer record, or
    a FILE field, changed as no checkpoint writes it), given to rstr by uid 65534: each is
    refused for its own reason before anything is made (no process, no file left)."""
    d = fresh("hostile")
    os.chmod(d, 0o755)
    _, out, _ = sh(FUZZ, "hostile-images", d)
    cases = [line.split("\t", 1) for line in out.splitlines() if line.strip()]
    assert len(cases) >= 25, out
    dev = os.stat("/dev/checkpoint")
    os.chown("/dev/checkpoint", NOBODY, NOBODY)
    before = set(os.listdir("/tmp"))
    try:
        for name, reason in cases:
            img = os.path.join(d, name + ".img")
            os.chmod(img, 0o644)
            rc, rout, err = sh(*SETPRIV, RSTR, img, check=False, timeout=60)
            assert rc != 0 and not rout.strip(), (name, rc, rout, err)
            assert reason in err and "rstr: error:" in err, (name, reason, err)
    finally:
        os.chown("/dev/checkpoint", dev.st_uid, dev.st_gid)
    # Neither the synthetic image's FIFO nor a private FIFO's directory was made.
    left = [n for n in set(os.listdir("/tmp")) - before
            if n.startswith("rstr-fifo-") or n.startswith("synth.")]
    assert not left, left
    print(f"# {len(cases)} hostile images refused by rstr, each for its reason")


REGS = 60
REG_AX, REG_ORIG_AX = 10, 15


def fuzzer_found_registers_are_kept_as_regressions():
    """make fuzz found (c1c2e66) that an image's ax = i64::MIN, in a task stopped in a
    system call, panicked the module ('attempt to negate with overflow' in resume_syscall):
    a kernel BUG, and the dying task leaked its files and creds. Such an ax is no restart
    code, so the task is restored and its call returns the value; the target's nanosleep
    ignores it and the count goes on."""
    d = fresh("regs")
    for attempt in range(5):
        t = Target(d)
        img = os.path.join(d, "img")
        sh(CKPT, "--kill", str(t.pid), "-o", img)
        t.proc.wait()
        data = bytearray(open(img, "rb").read())
        regs = [off + 8 for kind, off, _ in image_records(data) if kind == REGS]
        assert len(regs) == 1, regs
        orig_ax = struct.unpack_from("<q", data, regs[0] + 8 * REG_ORIG_AX)[0]
        if orig_ax >= 0:
            break
    else:
        raise AssertionError("the target was never stopped inside a system call")
    for ax in (-(1 << 63), (1 << 63) - 1, -1):
        struct.pack_into("<q", data, regs[0] + 8 * REG_AX, ax)
        bad = os.path.join(d, "bad")
        open(bad, "wb").write(data)
        rc, out, err = sh(RSTR, "--detach", bad, check=False, timeout=120)
        assert rc == 0, f"ax {ax:#x}: {err.strip()}"
        pid = int(out)
        try:
            before = t.counter()
            wait_for(lambda: t.counter() > before + 2,
                     f"ax {ax:#x}: pid {pid}'s count to go on")
        finally:
            kill_reaped(pid)


if __name__ == "__main__":
    if FUZZ is None:
        sys.exit("test_fuzz: ckpt-fuzz is not on PATH (scripts/vm puts the build's there)")
    sys.exit(run([rstr_mutants_are_refused_or_restored, mutants_replay_from_seed_and_index,
                  ioctl_cases_as_an_ordinary_user, rstr_refuses_hostile_images_as_an_ordinary_user,
                  fuzzer_found_registers_are_kept_as_regressions]))
