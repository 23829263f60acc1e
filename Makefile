# SPDX-License-Identifier: GPL-2.0
#
# ckpt: in-kernel checkpoint/restart as an out-of-tree Rust module.
#
#   make            build ckpt.ko, ckpt and rstr, and the selftests
#   make check      set up the machine, build, lint, host tests, selftests in the VM
#   make check-debug  the selftests on the debug kernel (KASAN, lockdep, kmemleak...)
#   make demo       boot the test VM and show the module at work
#   make KDIR=/path/to/linux   build the module against your own CONFIG_RUST=y kernel
#
# Without KDIR, the project's own test kernel is built once into the cache
# (scripts/build-kernel) and used.

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
ENV := . $(TOP)/scripts/env.sh
ifneq ($(KDIR),)
kdir := $(KDIR)
else
kdir = $$($(TOP)/scripts/build-kernel)
endif
# Cargo reads userspace/.cargo/config.toml (static binaries, explicit target) only when
# run from inside userspace/, so every cargo command starts there.
CARGO_DIR := $(TOP)/userspace
CARGO := cd $(CARGO_DIR) && env -u RUSTC cargo
BIN_DIR := $(CARGO_DIR)/target/x86_64-unknown-linux-gnu/release

all: module userspace selftests

setup:
	$(TOP)/scripts/setup

kernel:
	$(TOP)/scripts/build-kernel

# CKPT_FLAVOUR=debug builds the module against the debug kernel into out/debug
# (kbuild's MO=), leaving the normal build at the top untouched.
module:
	+$(ENV); $(MAKE) -C "$(kdir)" $$(module_kbuild_args $(TOP)) $$KMAKE_FLAGS modules

userspace:
	$(CARGO) build --release

selftests:
	+$(MAKE) -C $(TOP)/selftests KDIR="$(kdir)"

# Kernel-style lints: the module through clippy (the kernel's own lint set),
# rustfmt with the kernel's .rustfmt.toml, userspace through cargo clippy/fmt.
# Any warning fails.
lint:
	$(TOP)/scripts/lint "$(kdir)"

# Host-side unit tests (image encoding, ABI header agreement, the VM's kernel-log check).
test-host:
	$(CARGO) test --release
	$(TOP)/scripts/test-kmsg-problems

check:
	$(TOP)/scripts/check

# The debug kernel flavour (Documentation/testing.rst): the whole selftest suite, then
# a kmemleak scan; any splat, leak or lockup fails it. Not part of make check.
check-debug:
	$(TOP)/scripts/check-debug

demo: setup all
	$(TOP)/scripts/vm run -- $(TOP)/scripts/demo

# Benchmark against CRIU, in a guest booted on a Debian trixie root (Documentation/benchmarks.rst).
bench: setup all
	BENCH_BIG=$(BENCH_BIG) $(TOP)/scripts/bench

clean:
	-$(ENV); [ -d "$(kdir)" ] && $(MAKE) -C "$(kdir)" M=$(TOP) clean
	$(MAKE) -C $(TOP)/selftests clean KDIR=unused
	$(CARGO) clean
	rm -rf $(TOP)/out

.PHONY: all setup kernel module userspace selftests lint test-host check check-debug demo bench clean
