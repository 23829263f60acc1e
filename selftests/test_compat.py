#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Compatibility: the image's HEADER records the CPU features and the vDSO its programs
chose (checked against the target's own /proc/PID/maps and memory); rstr refuses, with the
exact mismatch and before any process exists, an image whose CPU feature, XCR0 state
component or vDSO this machine lacks, and restarts one that differs harmlessly (another
kernel release, fewer CPU features) with a note (selftests/targets/target.c --mem).

A mismatch cannot be made on one machine, so each is made by editing the image's HEADER
the way another machine would have written it."""
import os
import shutil
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ktap import (CKPT, NOBODY_CR, RSTR, Target, device_open_to_all, records, reaped, run,  # noqa: E402
                  scratch, sh, show_json, wait_for)

fresh = scratch("ckpt-compat-")

HEADER = 1            # uapi/image.rs rec::HEADER
# Offsets in the HEADER payload (uapi/image.rs CkptHeaderRec).
XFEATURES = 24
KERNEL_RELEASE = 48
CPUID = 112
VDSO_SIZE, VVAR_SIZE, VDSO_HASH = 152, 156, 160

# Instruction sets the test guest's CPU (QEMU TCG) is not expected to have, with their
# HEADER.cpuid word and bit (ckptlib::compat::FEATURES); the first the image lacks is used.
ABSENT = [("avx512f", 2, 16, "CPUID 0x7.0 ebx[16]"), ("xop", 7, 11, "CPUID 0x80000001.0 ecx[11]"),
          ("fma4", 7, 16, "CPUID 0x80000001.0 ecx[16]"), ("amx_tile", 4, 24, "CPUID 0x7.0 edx[24]"),
          ("clzero", 9, 0, "CPUID 0x80000008.0 ebx[0]")]
# XCR0 state components, by bit, that it is not expected to enable.
ABSENT_XCR0 = [(5, "avx512_opmask"), (17, "amx_tilecfg"), (9, "pkru"), (19, "apx")]


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xffffffffffffffff
    return h


def header(image):
    """The HEADER payload's bytes."""
    with open(image, "rb") as f:
        data = f.read(8 + 512)
    kind, n = struct.unpack_from("<II", data, 0)
    assert kind == HEADER, f"the image starts with record {kind}"
    return bytearray(data[8:8 + n])


def edit_header(image, change):
    """Rewrites the image's HEADER in place with CHANGE(payload bytearray)."""
    h = header(image)
    change(h)
    with open(image, "r+b") as f:
        f.seek(8)
        f.write(h)


def taken(d):
    """A target with 8 MiB of pattern, checked on SIGUSR1, checkpointed with --kill:
    (target, image)."""
    t = Target(d, "--mem", "8", "--signals")
    img = os.path.join(d, "img")
    sh(CKPT, "--kill", str(t.pid), "-o", img)
    t.proc.wait(timeout=10)
    wait_for(lambda: reaped(t.pid), "the checkpointed target to be gone")
    return t, img


def refused(img, *want, user=()):
    """rstr refuses IMG with every text of WANT, and no process of it exists after."""
    st, out, err = sh(*user, RSTR, "--detach", img, check=False)
    assert st != 0, f"rstr restarted an incompatible image: {out} {err}"
    assert "this machine cannot run the image's programs" in err, err
    for w in want:
        assert w in err, f"want {w!r} in rstr's error: {err}"
    return err


def restarts(t, img, *opts):
    """rstr restarts IMG; the target's memory is intact and its pid its own: rstr's stderr."""
    st, out, err = sh(RSTR, "--detach", *opts, img)
    try:
        assert int(out) == t.pid, f"restarted as {out}, want {t.pid}"
        t.verify()
    finally:
        sh("kill", "-9", str(t.pid), check=False)
    wait_for(lambda: reaped(t.pid), "the restarted target to die")
    return err


def header_records_this_machine():
    """The HEADER's vDSO figures are the target's own mapping and contents; its CPU
    features include what every x86-64 CPU has and are all ones /proc/cpuinfo lists."""
    d = fresh("header")
    t = Target(d, "--mem", "8")
    try:
        vdso, vvar = None, 0
        for line in open(f"/proc/{t.pid}/maps"):
            a, b = (int(x, 16) for x in line.split()[0].split("-"))
            if line.rstrip().endswith("[vdso]"):
                vdso = (a, b - a)
            elif line.rstrip().endswith(("[vvar]", "[vvar_vclock]")):
                vvar += b - a
        with open(f"/proc/{t.pid}/mem", "rb") as m:
            m.seek(vdso[0])
            text = m.read(vdso[1])
        img = os.path.join(d, "img")
        sh(CKPT, str(t.pid), "-o", img)
    finally:
        t.kill()
    h = header(img)
    size, vsize, vhash = struct.unpack_from("<IIQ", h, VDSO_SIZE)
    assert (size, vsize) == (vdso[1], vvar), f"HEADER vDSO {size}/{vsize}, maps {vdso[1]}/{vvar}"
    assert vhash == fnv1a64(text), f"HEADER vdso_hash {vhash:#x}, the vDSO's {fnv1a64(text):#x}"
    (rec,) = records(show_json(img), "HEADER")
    feats = set(rec["cpu_features"])
    assert {"fpu", "cx8", "cmov", "fxsr", "sse", "sse2", "lm", "syscall"} <= feats, feats
    flags = set()
    for line in open("/proc/cpuinfo"):
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    # osxsave is not a flag the kernel shows.
    unknown = feats - flags - {"osxsave"}
    assert not unknown, f"the HEADER has features /proc/cpuinfo does not: {sorted(unknown)}"
    assert rec["vdso_size"] == size and rec["vdso_hash"] == f"{vhash:#x}", rec


def cpu_feature_missing_refused():
    """An image from a CPU with an instruction set this one lacks is refused, naming it;
    the same image unedited restarts (the refusal was the edit's)."""
    d = fresh("cpuid")
    t, img = taken(d)
    h = header(img)
    words = struct.unpack_from("<10I", h, CPUID)
    name, word, bit, where = next(a for a in ABSENT if not words[a[1]] & (1 << a[2]))
    edited = os.path.join(d, "edited")
    shutil.copy(img, edited)

    def add(h):
        struct.pack_into("<I", h, CPUID + 4 * word, words[word] | 1 << bit)
    edit_header(edited, add)
    refused(edited, f"the image's CPU has {name} ({where}) and this one does not")
    assert reaped(t.pid), f"pid {t.pid} exists after a refused restart"
    restarts(t, img)


def xcr0_component_missing_refused():
    """An image whose kernel enabled an XCR0 state component this one does not is refused
    (as uid 65534 with CAP_CHECKPOINT_RESTORE), naming the component and both XCR0s."""
    d = fresh("xcr0")
    os.chmod(d, 0o777)
    t, img = taken(d)
    (xcr0,) = struct.unpack_from("<Q", header(img), XFEATURES)
    bit, name = next(a for a in ABSENT_XCR0 if not xcr0 & (1 << a[0]))
    edit_header(img, lambda h: struct.pack_into("<Q", h, XFEATURES, xcr0 | 1 << bit))
    os.chmod(img, 0o644)
    with device_open_to_all():
        refused(img, f"enabled the state components {name} (XCR0 {xcr0 | 1 << bit:#x}) and this "
                f"one does not (XCR0 {xcr0:#x})", user=NOBODY_CR)
    assert reaped(t.pid), f"pid {t.pid} exists after a refused restart"


def other_vdso_refused():
    """An image whose vDSO is not this kernel's (another hash, then another size) is
    refused with both machines' figures."""
    d = fresh("vdso")
    t, img = taken(d)
    size, vsize, vhash = struct.unpack_from("<IIQ", header(img), VDSO_SIZE)
    edit_header(img, lambda h: struct.pack_into("<Q", h, VDSO_HASH, vhash ^ 1))
    refused(img, "the image's vDSO is not this kernel's: "
            f"{size} bytes of text (hash {vhash ^ 1:#018x}) and {vsize} bytes of vvar",
            f"here {size} bytes (hash {vhash:#018x}) and {vsize} bytes of vvar")
    edit_header(img, lambda h: struct.pack_into("<IIQ", h, VDSO_SIZE, size + 4096, vsize, vhash))
    refused(img, f"{size + 4096} bytes of text (hash {vhash:#018x})")
    assert reaped(t.pid), f"pid {t.pid} exists after a refused restart"


def harmless_differences_restart():
    """Another kernel release with the same vDSO, and a CPU feature the image's CPU had not:
    the image restarts, its memory intact, and rstr -v notes both."""
    d = fresh("harmless")
    t, img = taken(d)
    h = header(img)
    words = list(struct.unpack_from("<10I", h, CPUID))
    assert words[1] & (1 << 26), "sse2 is in the image"
    release = "6.1.0-elsewhere"

    def change(h):
        h[KERNEL_RELEASE:KERNEL_RELEASE + 64] = release.encode().ljust(64, b"\0")
        struct.pack_into("<I", h, CPUID + 4 * 1, words[1] & ~(1 << 26))
    edit_header(img, change)
    err = restarts(t, img, "-v")
    assert f"the image was taken on kernel {release}, this is {os.uname().release}" in err, err
    assert "this CPU has sse2 that the image's had not" in err, err


def main():
    run([header_records_this_machine, cpu_feature_missing_refused,
         xcr0_component_missing_refused, other_vdso_refused, harmless_differences_restart])


if __name__ == "__main__":
    main()
