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
#   make demo-migrate  two VMs: a program streamed over TCP from one to the other
#   make KDIR=/path/to/linux   build the module against your own CONFIG_RUST=y kernel
#   make install    install what make built (DESTDIR, PREFIX; Documentation/install.rst)
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

# Host-side unit tests (image encoding, ABI header agreement, the VM's kernel-log check),
# and make install/uninstall into a scratch DESTDIR (scripts/test-install).
test-host:
	$(CARGO) test --release
	$(TOP)/scripts/test-kmsg-problems
	$(TOP)/scripts/test-install

check:
	$(TOP)/scripts/check

# make install (Documentation/install.rst) installs what make built, building nothing:
# ckpt.ko through the kernel's modules_install into
# $(DESTDIR)/lib/modules/KERNELRELEASE/$(INSTALL_MOD_DIR) of the kernel it was built
# against; ckpt and rstr into $(DESTDIR)$(PREFIX)/bin; their manual pages (section 8, one
# per subcommand too) and bash, zsh and fish completions under $(DESTDIR)$(PREFIX)/share,
# made by the tools from their own clap definitions (`TOOL --generate-docs DIR`, into
# out/docs). make install-dkms puts the module's source where DKMS takes it
# ($(DESTDIR)/usr/src/ckpt-VERSION, with dkms.conf). make uninstall removes all of it.
PREFIX ?= /usr/local
INSTALL_MOD_DIR ?= updates
TOOLS := ckpt rstr
bindir := $(PREFIX)/bin
man8dir := $(PREFIX)/share/man/man8
bashcompdir := $(PREFIX)/share/bash-completion/completions
zshcompdir := $(PREFIX)/share/zsh/site-functions
fishcompdir := $(PREFIX)/share/fish/vendor_completions.d
DOCS_DIR := $(TOP)/out/docs
# The project's version (the userspace workspace's); dkms.conf's PACKAGE_VERSION is the same.
VERSION := $(shell sed -n 's/^version = "\(.*\)"$$/\1/p' $(CARGO_DIR)/Cargo.toml 2>/dev/null)
dkms_src := $(DESTDIR)/usr/src/ckpt-$(VERSION)
# What the module is built from (kbuild's generated headers in kmod/ left out).
module_src := Makefile Kbuild dkms.conf scripts/env.sh scripts/ipc_private.sh \
	$(filter-out kmod/sem_undo_list.h kmod/posix_timer_state.h kmod/epitem.h kmod/eventpoll_struct.h kmod/ipc_private.h, \
		$(patsubst $(TOP)/%,%,$(wildcard $(TOP)/kmod/*.[ch] $(TOP)/kmod/*.rs $(TOP)/kmod/*/*.rs \
			$(TOP)/uapi/*.rs $(TOP)/uapi/linux/*.h)))
# The kernel the module was built against: the cached one, never built here.
krel = $$(cat "$(cached_kdir)/include/config/kernel.release")

install: install-module install-tools

install-module:
	@ko="$$($(ENV); module_dir $(TOP))/ckpt.ko"; [ -f "$$ko" ] || { \
		echo "error: $$ko is not built: run make module first" >&2; exit 1; }
	+$(ENV); $(MAKE) -C "$(cached_kdir)" $$(module_kbuild_args $(TOP)) $$KMAKE_FLAGS \
		INSTALL_MOD_PATH="$(DESTDIR)" INSTALL_MOD_DIR="$(INSTALL_MOD_DIR)" modules_install

docs:
	@for t in $(TOOLS); do [ -x "$(BIN_DIR)/$$t" ] || { \
		echo "error: $(BIN_DIR)/$$t is not built: run make userspace first" >&2; exit 1; }; done
	rm -rf $(DOCS_DIR)
	for t in $(TOOLS); do $(BIN_DIR)/$$t --generate-docs $(DOCS_DIR) || exit 1; done

install-tools: docs
	install -d $(DESTDIR)$(bindir) $(DESTDIR)$(man8dir) $(DESTDIR)$(bashcompdir) \
		$(DESTDIR)$(zshcompdir) $(DESTDIR)$(fishcompdir)
	install -m 0755 $(addprefix $(BIN_DIR)/,$(TOOLS)) $(DESTDIR)$(bindir)
	install -m 0644 $(DOCS_DIR)/man8/*.8 $(DESTDIR)$(man8dir)
	install -m 0644 $(DOCS_DIR)/bash/* $(DESTDIR)$(bashcompdir)
	install -m 0644 $(DOCS_DIR)/zsh/* $(DESTDIR)$(zshcompdir)
	install -m 0644 $(DOCS_DIR)/fish/* $(DESTDIR)$(fishcompdir)

install-dkms:
	rm -rf $(dkms_src)
	cd $(TOP) && for f in $(module_src); do install -D -m 0644 $$f $(dkms_src)/$$f || exit 1; done

uninstall:
	rm -f $(addprefix $(DESTDIR)$(bindir)/,$(TOOLS)) \
		$(foreach t,$(TOOLS),$(DESTDIR)$(man8dir)/$(t).8 $(DESTDIR)$(man8dir)/$(t)-*.8 \
			$(DESTDIR)$(bashcompdir)/$(t) $(DESTDIR)$(zshcompdir)/_$(t) \
			$(DESTDIR)$(fishcompdir)/$(t).fish)
	rm -rf $(dkms_src)
	@k="$(cached_kdir)"; [ -f "$$k/include/config/kernel.release" ] || exit 0; \
	mods="$(DESTDIR)/lib/modules/$(krel)"; \
	if ls "$$mods/$(INSTALL_MOD_DIR)"/ckpt.ko* >/dev/null 2>&1; then \
		echo rm -f "$$mods/$(INSTALL_MOD_DIR)"/ckpt.ko*; rm -f "$$mods/$(INSTALL_MOD_DIR)"/ckpt.ko*; \
		if [ -f "$$mods/modules.dep" ]; then depmod -b "$(or $(DESTDIR),/)" $(krel); fi; \
	fi

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

# Two guests joined by a network: a program moves from one to the other over TCP.
demo-migrate: setup all
	$(TOP)/scripts/migrate

# Benchmark against CRIU, in a guest booted on a Debian trixie root (Documentation/benchmarks.rst).
bench: setup all
	BENCH_BIG=$(BENCH_BIG) $(TOP)/scripts/bench

clean:
	-k="$(cached_kdir)"; if [ -d "$$k" ]; then $(MAKE) -C "$$k" M=$(TOP) clean; fi
	$(MAKE) -C $(TOP)/selftests clean KDIR="$(cached_kdir)"
	$(CARGO) clean
	rm -rf $(TOP)/out

.PHONY: all setup kernel module userspace selftests lint test-host check check-debug stress fuzz demo demo-migrate bench clean \
	install install-module install-tools install-dkms docs uninstall
