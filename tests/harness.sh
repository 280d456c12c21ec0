#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Checks of the harness and the benchmark module, for `make test` (run by
# tests/run.sh once the default kernel is built):
#   - a cache where the guests cannot see it (/tmp, /var/tmp) stops make
#     run and every guest at once, saying why;
#   - a checkout there works: its scripts run from a copy in the cache, and
#     a guest starts in that copy (booted from /var/tmp, which no guest
#     shows: virtme-ng 1.42 shows the host's /tmp on some hosts);
#   - tests/numbering.py, which checks tests/run.sh's own numbering, flags
#     a number used twice and totals that do not count the cases;
#   - swiotlb_bench sets up 3 and 7 devices (a guest).
# Prints "ok - ..." / "not ok - ..." lines, details as "#" lines.
#
# Usage: tests/harness.sh BUILD_DIR WORK_DIR
set -uo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

build=${1:?usage: harness.sh BUILD_DIR WORK_DIR}
work=${2:?usage: harness.sh BUILD_DIR WORK_DIR}
mkdir -p "$work"

# result NAME CMD...: run CMD, print the verdict and, on failure, its output.
result() {
	local name=$1 log=$work/check.log rc=0
	shift
	"$@" >"$log" 2>&1 || rc=$?
	if [ $rc = 0 ]; then
		echo "ok - $name"
	else
		echo "not ok - $name"
		echo "# exit $rc"
		tail -n 30 "$log" | sed 's/^/#   /'
	fi
}

# stops_for_hidden_cache PARENT SCRIPT ARGS...: with CACHE_DIR below PARENT,
# SCRIPT fails at once, names the reason and creates nothing there. (KDIR
# makes the old behaviour, a kernel build, fail fast too.)
stops_for_hidden_cache() {
	local dir rc=0
	dir=$(mktemp -d "$1/hv-swiotlb-check.XXXXXX") || return
	shift
	CACHE_DIR=$dir/cache KDIR=$dir/no-kernel timeout 60 "$@" >"$dir/out" 2>&1 || rc=$?
	cat "$dir/out"
	[ $rc = 1 ] || echo "exit $rc, not 1"
	grep -q "CACHE_DIR=$dir/cache is under ${dir%/*}, which virtme-ng mounts over in the test guests" "$dir/out" ||
		{ echo "no error naming CACHE_DIR=$dir/cache and why"; rc=2; }
	[ ! -e "$dir/cache" ] || { echo "created $dir/cache"; rc=2; }
	rm -rf "$dir"
	[ $rc = 1 ]
}

for parent in /tmp /var/tmp; do
	result "harness: CACHE_DIR under $parent stops make run at once, saying why" \
		stops_for_hidden_cache $parent "$TOP/scripts/run.sh"
done
result "harness: CACHE_DIR under /tmp stops a guest at once, saying why" \
	stops_for_hidden_cache /tmp "$TOP/scripts/guest.sh" "$build" "$work/never" true

# tmp_checkout PARENT: a copy of this checkout below PARENT, printed.
tmp_checkout() {
	local dir
	dir=$(mktemp -d "$1/hv-swiotlb-checkout.XXXXXX") || return
	rsync -a --exclude=/tools/target/ "$TOP/" "$dir/checkout/" || return
	echo "$dir/checkout"
}

# runs_from_copy PARENT: scripts of a checkout below PARENT say so and run
# from its copy in the cache (guest.sh, stopped by a missing kernel).
runs_from_copy() {
	local co copy rc=0
	co=$(tmp_checkout "$1") || return
	copy=$(checkout_copy "$co")
	"$co/scripts/guest.sh" "$co/no-kernel" "$work/never" true 2>"$co.err"
	cat "$co.err"
	grep -q "running from a copy, $copy\$" "$co.err" || { echo "no note of the copy $copy"; rc=1; }
	grep -q "no kernel at $co/no-kernel" "$co.err" || { echo "guest.sh did not run"; rc=1; }
	[ -f "$copy/scripts/guest.sh" ] || { echo "no copy at $copy"; rc=1; }
	rm -rf "${co%/*}" "$copy" "$copy.lock"
	return $rc
}
result "harness: a checkout under /tmp runs from a copy in the cache" runs_from_copy /tmp

# boots_from_copy PARENT: a guest started from a checkout below PARENT
# starts in the checkout's copy in the cache (virtme-ng's --cwd) and finds
# the test scripts there.
boots_from_copy() {
	local co copy out=$work/tmp-checkout rc=0
	co=$(tmp_checkout "$1") || return
	copy=$(checkout_copy "$co")
	rm -rf "$out"
	GUEST_TIMEOUT=300 "$co/scripts/guest.sh" "$build" "$out" \
		"pwd >$out/cwd; test -f tests/guest/lib.sh && touch $out/found" 2>"$co.err" || rc=$?
	cat "$co.err"
	echo "exit $rc, guest cwd: $(cat "$out/cwd" 2>/dev/null)"
	grep 'virtme-ng-init: error' "$out/console.log"
	[ $rc = 0 ] || tail -n 20 "$out/console.log"
	[ "$(cat "$out/cwd" 2>/dev/null)" = "$(cd "$copy" 2>/dev/null && pwd -P)" ] ||
		{ echo "the guest did not start in $copy"; rc=2; }
	[ -e "$out/found" ] || { echo "the guest did not find the test scripts"; rc=2; }
	rm -rf "${co%/*}" "$copy" "$copy.lock"
	[ $rc = 0 ]
}
result "harness: a checkout under /var/tmp boots a guest, from a copy in the cache" \
	boots_from_copy /var/tmp

# numbering_checked: tests/numbering.py passes a good run's output and
# fails one with a number used twice, a number skipped or wrong totals.
numbering_checked() {
	local f=$work/numbering-self
	printf '%s\n' 'ok 1 - a' '[12:00:00] log' 'ok 2 - b # SKIP why' 'not ok 3 - c' '#   detail' \
		'1 passed, 1 failed, 1 skipped' >"$f-good"
	printf '%s\n' 'ok 1 - a' 'ok 2 - b' 'ok 2 - c' '2 passed, 0 failed' >"$f-twice"
	printf '%s\n' 'ok 1 - a' 'ok 3 - b' '2 passed, 0 failed' >"$f-gap"
	printf '%s\n' 'ok 1 - a' 'not ok 2 - b' '2 passed, 0 failed' >"$f-totals"
	python3 "$TOP/tests/numbering.py" "$f-good" || { echo "a good output was rejected"; return 1; }
	for bad in twice gap totals; do
		! python3 "$TOP/tests/numbering.py" "$f-$bad" || { echo "$bad: not flagged"; return 1; }
	done
}
result "harness: tests/numbering.py flags numbers used twice or skipped and wrong totals" \
	numbering_checked

# --- the benchmark module -----------------------------------------------------
bench=$work/bench-module
out=$work/bench-ndev
rm -rf "$bench" "$out"
mkdir -p "$bench" "$out"
if make -s -C "$build" M="$TOP/tests/bench" MO="$bench" LLVM=-19 modules >"$work/bench-build.log" 2>&1; then
	echo "ok - bench: swiotlb_bench builds"
	: >"$out/results"
	rc=0
	GUEST_TIMEOUT=300 "$TOP/scripts/guest.sh" "$build" "$out" \
		"OUT=$out BENCH=$bench/swiotlb_bench.ko bash tests/guest/bench-ndev.sh" || rc=$?
	if [ $rc != 0 ] || [ ! -s "$out/results" ]; then
		echo "not ok - bench: the guest ran to completion (exit $rc)"
		tail -n 30 "$out/console.log" | sed 's/^/#   /'
	fi
	cat "$out/results"
else
	echo "not ok - bench: swiotlb_bench builds"
	tail -n 30 "$work/bench-build.log" | sed 's/^/#   /'
fi
