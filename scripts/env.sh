# Shared settings for the project's scripts. Source it; do not run it.
# Everything built or downloaded lives outside the repository, under
# CKPT_CACHE, so a clean clone reuses the kernel built by an earlier run.

CKPT_CACHE=${CKPT_CACHE:-/var/cache/ckpt}
CKPT_TOOLS=$CKPT_CACHE/tools
CKPT_VENV=$CKPT_CACHE/venv
KERNEL_SRC_TARBALL=${KERNEL_SRC_TARBALL:-/usr/src/linux-source-7.3.tar.xz}

export PATH=$CKPT_TOOLS/bin:$CKPT_VENV/bin:/usr/lib/llvm-19/bin:$PATH
export LIBCLANG_PATH=/usr/lib/llvm-19/lib
# Debian's rustc-web ships the Rust standard library source the kernel needs;
# rustup's toolchains on this machine do not, so name Debian's compiler.
export RUSTC=/usr/bin/rustc
export BINDGEN=bindgen
KMAKE_FLAGS="RUSTC=$RUSTC BINDGEN=$BINDGEN HOSTRUSTC=$RUSTC"

die() { echo "error: $*" >&2; exit 1; }
log() { echo ">>> $*" >&2; }

# The kernel flavour: unset (or "normal") is the test kernel of make check; "debug" is
# the same kernel plus scripts/kernel-debug.config (KASAN, lockdep, kmemleak...), built
# with clang and lld (LLVM=1), in its own cache directory, with the module built into
# out/debug instead of the repository top (make check-debug).
CKPT_FLAVOUR=${CKPT_FLAVOUR:-}
# scripts/vm boots the flavour's kernel with CKPT_VM_APPEND on its command line and,
# unless --memory says otherwise, CKPT_VM_MEMORY of memory.
CKPT_VM_MEMORY=2G CKPT_VM_APPEND=
case "$CKPT_FLAVOUR" in
"" | normal) CKPT_FLAVOUR= ;;
debug)
	KMAKE_FLAGS="$KMAKE_FLAGS LLVM=1"
	# KASAN's shadow is an eighth of memory, kmemleak and lockdep keep their own.
	CKPT_VM_MEMORY=4G
	# A soft lockup after 10 s (2 * watchdog_thresh); page-level use-after-free checks.
	CKPT_VM_APPEND="watchdog_thresh=5 debug_pagealloc=on"
	;;
*) die "CKPT_FLAVOUR=$CKPT_FLAVOUR: the flavours are normal (unset) and debug" ;;
esac
export CKPT_FLAVOUR

# The config fragments of the flavour, in the order they are applied.
kernel_fragments() {
	local top=$1
	echo "$top/scripts/kernel.config"
	[ -z "$CKPT_FLAVOUR" ] || echo "$top/scripts/kernel-$CKPT_FLAVOUR.config"
}

# The cache key of the test kernel: kernel source version, config fragment,
# compiler versions. Printed as one short token.
kernel_key() {
	local top=$1
	{
		dpkg-query -W -f='${Version}' linux-source-7.3 2>/dev/null || echo unknown
		cat "$top/scripts/kernel.config"
		$RUSTC --version
		gcc --version | head -1
		bindgen --version 2>/dev/null
		if [ "$CKPT_FLAVOUR" = debug ]; then
			echo LLVM=1
			cat "$top/scripts/kernel-debug.config"
			clang --version | head -1
			ld.lld --version
		fi
	} | sha256sum | cut -c1-16
}

kernel_dir() {
	echo "$CKPT_CACHE/kernel-${CKPT_FLAVOUR:+$CKPT_FLAVOUR-}$(kernel_key "$1")"
}

# Where the module of the flavour is built: the repository itself for the normal
# flavour (ckpt.ko at the top, as always), else a directory of its own (kbuild's MO=)
# so that the two builds never overwrite each other's objects.
module_dir() {
	local top=$1
	if [ -z "$CKPT_FLAVOUR" ]; then
		echo "$top"
	else
		echo "$top/out/$CKPT_FLAVOUR"
	fi
}

# The M= (and MO=) arguments of kbuild for the flavour's module. kbuild refuses MO= on a
# module source tree that holds a build of its own (modules.order at the top: the normal
# build), so the flavour's source directory is made of links to the repository's.
module_kbuild_args() {
	local top=$1 mo
	if [ -z "$CKPT_FLAVOUR" ]; then
		echo "M=$top"
		return
	fi
	mo=$(module_dir "$top")
	mkdir -p "$mo/src"
	ln -sfn "$top/Kbuild" "$mo/src/Kbuild"
	ln -sfn "$top/kmod" "$mo/src/kmod"
	ln -sfn "$top/uapi" "$mo/src/uapi"	# Kbuild: -I$(src)/uapi
	# helpers.c includes the header Kbuild generates next to it, which with MO= is in $mo/kmod.
	echo "M=$mo/src MO=$mo KCFLAGS=-I$mo/kmod"
}
