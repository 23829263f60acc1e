#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Runs inside the test VM (scripts/vm run -- selftests/run_tests.sh), with
# ckpt.ko loaded. Runs every selftest binary and the module's KUnit suites
# (which the kernel ran when the module was loaded) and ends with the line
# `selftests: N passed, N failed, N skipped`: a test that printed `ok N NAME # SKIP` is
# counted as skipped, not passed. Exit status 0 only if nothing failed.
#
# Usage: run_tests.sh [TEST...]   (default: every program in OUTPUT and every
#        selftests/test_*.py; a TEST is a path relative to selftests/, or absolute)
# OUTPUT is where make built the selftests (default selftests/out); the Python tests find
# the target programs in $OUTPUT/targets (CKPT_TARGETS) and ckpt and rstr on PATH.
set -u
here=$(cd "$(dirname "$0")" && pwd)
out=${OUTPUT:-$here/out}
export CKPT_TARGETS=$out/targets
pass=0 fail=0 skip=0

count_tap() {	# top-level TAP lines of one test program's output
	local out=$1
	local ok sk
	ok=$(grep -cE '^ok [0-9]+' "$out" || true)
	sk=$(grep -cE '^ok [0-9]+ .*# SKIP' "$out" || true)
	pass=$((pass + ok - sk)) skip=$((skip + sk))
	fail=$((fail + $(grep -cE '^not ok [0-9]+' "$out" || true)))
}

tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
	for f in "$out"/*; do [ -f "$f" ] && tests+=("$f"); done
	for f in "$here"/test_*.py; do tests+=("$(basename "$f")"); done
fi
tmp=$(mktemp -d)

for t in "${tests[@]}"; do
	echo "# selftest: ${t#"$here"/}"
	case "$t" in /*) path=$t ;; *) path=$here/$t ;; esac
	"$path" 2>&1 | tee "$tmp/$(basename "$t").tap"
	rc=${PIPESTATUS[0]}
	count_tap "$tmp/$(basename "$t").tap"
	# A program that died before printing its totals has failed, whatever it printed.
	if [ "$rc" != 0 ] && ! grep -qE '^not ok' "$tmp/$(basename "$t").tap"; then
		echo "not ok - $t exited with status $rc"
		fail=$((fail + 1))
	fi
done

# KUnit: the module's #[kunit_tests] suites ran at insmod; their KTAP is in the log.
echo "# kunit suites of ckpt.ko"
# Keep the lines from each ckpt_* suite's "# Subtest:" to its closing result line.
dmesg | sed 's/^\[[^]]*\] //' | awk '
	/^    # Subtest: ckpt_/ { on = 1 }
	on { print }
	on && /^(not )?ok [0-9]+ ckpt_/ { on = 0 }' | tee "$tmp/kunit"
kpass=$(grep -cE '^    ok [0-9]+ ' "$tmp/kunit" || true)
kfail=$(grep -cE '^    not ok [0-9]+ ' "$tmp/kunit" || true)
if ! grep -q '# Subtest: ckpt_' "$tmp/kunit"; then
	echo "not ok - no KUnit suite of ckpt.ko ran (is CONFIG_KUNIT=y and the module loaded?)"
	kfail=$((kfail + 1))
fi
pass=$((pass + kpass)) fail=$((fail + kfail))
rm -rf "$tmp"

echo "selftests: $pass passed, $fail failed, $skip skipped"
[ "$fail" = 0 ]
