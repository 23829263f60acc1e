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
	} | sha256sum | cut -c1-16
}

kernel_dir() {
	echo "$CKPT_CACHE/kernel-$(kernel_key "$1")"
}
