# SPDX-License-Identifier: GPL-2.0
#
# ckpt: in-kernel checkpoint/restart as an out-of-tree Rust module.
#
#   make            build ckpt.ko, ckpt and rstr, and the selftests
#   make check      set up the machine, build, lint, host tests, selftests in the VM
#   make check-debug  the selftests and the stress on the debug kernel (KASAN, lockdep, kmemleak...)
#   make stress     1000 checkpoint/restart cycles of one process, 8 loops for 10 minutes
#   make fuzz       libFuzzer on the image parser, then ckpt-fuzz in the debug guest
#   make demo       boot the test VM and show the module at work
#   make KDIR=/path/to/linux   build the module against your own CONFIG_RUST=y kernel
#
# Without KDIR, the project's own test kernel is built once into the cache
# (scripts/build-kernel) and used. Only what needs a built kernel (module, lint) starts
# that build; selftests and clean use the cached tree if it is there and never build it.

TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
ENV := . $(TOP)/scripts/env.sh
ifneq ($(KDIR),)
kdir := $(KDIR)
cached_kdir := $(KDIR)
else
kdir = $$($(TOP)/scripts/build-kernel)
# The path the cached test kernel has (or will have): a shell expansion, computed, not built.
cached_kdir = $$($(ENV); kernel_dir $(TOP))
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

# The selftests need the kernel tree's tools/testing/selftests (lib.mk, the harness), not
# a built kernel.
selftests:
	+@k="$(cached_kdir)"; [ -f "$$k/tools/testing/selftests/lib.mk" ] || { \
		echo "error: the selftests need a kernel source tree; $$k has none:" \
			"run make kernel first, or make KDIR=/path/to/linux selftests" >&2; exit 1; }; \
	$(MAKE) -C $(TOP)/selftests KDIR="$$k"

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

# Repetition and load on the normal kernel (scripts/stress-guest; CKPT_STRESS_CYCLES,
# CKPT_STRESS_MINUTES): too long for make check; make check-debug runs it too.
stress: setup all
	$(TOP)/scripts/vm run --timeout $${CKPT_STRESS_TIMEOUT:-3600} -- env \
		CKPT_STRESS_CYCLES=$${CKPT_STRESS_CYCLES:-1000} CKPT_STRESS_MINUTES=$${CKPT_STRESS_MINUTES:-10} \
		$(TOP)/scripts/stress-guest

# The fuzzers (Documentation/testing.rst, "Fuzzing"): libFuzzer on the image parser on the
# host, then mutants through rstr and the ioctls called directly in the debug guest, for
# CKPT_FUZZ_MINUTES (default 30). Not part of make check.
fuzz:
	$(TOP)/scripts/fuzz

demo: setup all
	$(TOP)/scripts/vm run -- $(TOP)/scripts/demo

# Benchmark against CRIU, in a guest booted on a Debian trixie root (Documentation/benchmarks.rst).
bench: setup all
	BENCH_BIG=$(BENCH_BIG) $(TOP)/scripts/bench

clean:
	-k="$(cached_kdir)"; if [ -d "$$k" ]; then $(MAKE) -C "$$k" M=$(TOP) clean; fi
	$(MAKE) -C $(TOP)/selftests clean KDIR="$(cached_kdir)"
	$(CARGO) clean
	rm -rf $(TOP)/out

.PHONY: all setup kernel module userspace selftests lint test-host check check-debug stress fuzz demo bench clean
