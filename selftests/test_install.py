#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""DKMS (Documentation/install.rst): the module's source laid out by `make install-dkms`,
then `dkms add`, `dkms build` and `dkms install` against the running kernel, the way a
distribution's kernel update runs it (the kernel's build tree at
/lib/modules/RELEASE/build). The module DKMS built is the one modprobe would load: depmod
lists it, its vermagic is that of the running kernel and of the suite's own ckpt.ko, which
that kernel loaded. It is not loaded (the suite's module stays as it is); `dkms remove`
takes it away again.

  test_install.py [NAME...]    the tests named, or all
"""
import os
import re
import shutil
import sys

from ktap import HERE, run, sh, skip

TOP = os.path.realpath(os.path.join(HERE, ".."))


def modinfo(field, *what):
    return sh("modinfo", "-F", field, *what)[1].strip()


def test_dkms_build_install_remove():
    kdir = os.environ.get("CKPT_KDIR")
    if not kdir or not os.path.isdir(kdir):
        skip("CKPT_KDIR (set by scripts/vm-guest) names no kernel build tree")
    if shutil.which("dkms") is None:
        skip("dkms is not installed (scripts/setup installs it)")
    conf = os.path.join(TOP, "dkms.conf")
    if not os.path.isfile(conf):
        skip(f"no dkms.conf in {TOP}: an installed selftest tree has no module source")
    version = re.search(r'^PACKAGE_VERSION="([^"]+)"$', open(conf).read(), re.M).group(1)
    release = os.uname().release
    # The tree is the running kernel's: the same release, the same build (its #N and date).
    with open(os.path.join(kdir, "include/config/kernel.release")) as f:
        assert f.read().strip() == release
    with open(os.path.join(kdir, "include/generated/utsversion.h")) as f:
        uts_version = re.search(r'#define UTS_VERSION "([^"]+)"', f.read()).group(1)
    with open("/proc/version") as f:
        assert uts_version in f.read(), f"{kdir} is not the build of the running kernel"

    # The layout of a machine whose kernel package ships its full build tree. virtme-ng's
    # /lib/modules/RELEASE is a link into the (read-only) tree's .virtme_mods, where DKMS
    # cannot install: a directory of the guest's tmpfs stands in for it during the test.
    tree = f"/lib/modules/{release}"
    virtme_link = os.readlink(tree) if os.path.islink(tree) else None
    if virtme_link:
        os.unlink(tree)
        os.mkdir(tree)
    build = f"{tree}/build"
    made_link = not os.path.lexists(build)
    if made_link:
        os.makedirs(os.path.dirname(build), exist_ok=True)
        os.symlink(kdir, build)
    assert os.path.realpath(build) == os.path.realpath(kdir), f"{build} is another tree"
    src = f"/usr/src/ckpt-{version}"
    assert not os.path.exists(src), f"{src} exists before the test"
    mod = f"ckpt/{version}"
    try:
        sh("make", "-s", "-C", TOP, "install-dkms", "DESTDIR=/")
        assert os.path.isfile(os.path.join(src, "dkms.conf"))
        sh("dkms", "add", mod)
        code, out, err = sh("dkms", "build", mod, "-k", release, check=False, timeout=1500)
        log = f"/var/lib/dkms/ckpt/{version}/build/make.log"
        if code != 0 and os.path.exists(log):
            sys.stdout.write("".join(f"# {line}" for line in open(log).readlines()[-40:]))
        assert code == 0, f"dkms build exited {code}: {err.strip()}"
        out = sh("dkms", "install", mod, "-k", release)[1]
        print("".join(f"# {line}\n" for line in out.splitlines()))
        status = sh("dkms", "status", mod, "-k", release)[1]
        print("".join(f"# {line}\n" for line in status.splitlines()))
        assert re.search(rf"^ckpt/{re.escape(version)}, {re.escape(release)}, \S+: installed\b",
                         status, re.M), status

        # What modprobe would load now: the module DKMS installed under the release's tree,
        # the one ckpt.ko there, listed by depmod.
        found = sh("find", tree + "/", "-name", "ckpt.ko*")[1].split()
        print(f"# under {tree}: {found}")
        assert len(found) == 1, found
        path = found[0]
        assert os.path.realpath(path) != os.path.realpath(os.environ.get("CKPT_KO", "")), path
        built = f"/var/lib/dkms/ckpt/{version}/{release}/{os.uname().machine}/module/ckpt.ko"
        for f in (built, path):
            print(f"# {f}: {os.path.getsize(f)} bytes, " + sh("sha256sum", f)[1].split()[0])
        with open(os.path.join(tree, "modules.dep")) as f:
            dep = f.read()
        rel = os.path.relpath(path, tree)
        assert re.search(rf"^(/lib/modules/[^/]+/)?{re.escape(rel)}:", dep, re.M), \
            f"depmod does not list {rel}: modules.dep has {dep[:2000]!r}"
        # Its vermagic is the running kernel's: that of the suite's module, which this kernel
        # loaded (/sys/module/ckpt), and it begins with the running release.
        vermagic = modinfo("vermagic", path)
        assert os.path.isdir("/sys/module/ckpt"), "the suite's ckpt.ko is not loaded"
        assert vermagic == modinfo("vermagic", os.environ["CKPT_KO"]), vermagic
        assert vermagic.split()[0] == release, vermagic
        assert modinfo("name", path) == "ckpt"
        assert modinfo("description", path) == modinfo("description", os.environ["CKPT_KO"])

        sh("dkms", "remove", mod, "--all")
        assert not os.path.exists(path), f"dkms remove left {path}"
        with open(os.path.join(tree, "modules.dep")) as f:
            assert rel not in f.read(), f"depmod still lists {rel} after dkms remove"
    finally:
        sh("dkms", "remove", mod, "--all", check=False)
        shutil.rmtree(src, ignore_errors=True)
        if made_link:
            os.unlink(build)
        if virtme_link:
            shutil.rmtree(tree, ignore_errors=True)
            os.symlink(virtme_link, tree)


TESTS = [test_dkms_build_install_remove]

if __name__ == "__main__":
    wanted = sys.argv[1:]
    sys.exit(run([t for t in TESTS if not wanted or t.__name__ in wanted]))
