#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The project's test suite: everything `make test` runs.
#
# Prints one line per case ("ok N - name" / "not ok N - name", failures
# followed by their details and the guest's dmesg tail), the time each phase
# took, and finally "N passed, N failed" on a line of its own.
set -uo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

n=0 passed=0 failed=0 skipped=
timings=()
work=$CACHE_DIR/test-run
rm -rf "$work"; mkdir -p "$work"

# case_result ok|fail NAME [DETAIL_FILE]
case_result() {
	n=$((n + 1))
	if [ "$1" = ok ]; then
		passed=$((passed + 1))
		echo "ok $n - $2"
	elif [ "$1" = skip ]; then
		skipped=$((${skipped:-0} + 1))
		echo "ok $n - $2"
	else
		failed=$((failed + 1))
		echo "not ok $n - $2"
		[ -z "${3:-}" ] || tail -n 40 "$3" | sed 's/^/#   /'
	fi
}

# timed NAME CMD...: run CMD as one phase and remember its duration.
timed() {
	local name=$1 t0 rc=0
	shift
	t0=$(date +%s)
	log "== phase $name"
	"$@" || rc=$?
	timings+=("$name $(($(date +%s) - t0))s")
	log "== phase $name: $(($(date +%s) - t0))s"
	return $rc
}

# results_from FILE: turn "ok - x" / "not ok - x" lines (and their "#"
# detail lines) into numbered cases.
results_from() {
	local line pending=""
	while IFS= read -r line; do
		case "$line" in
		"ok - "*" # SKIP"*) case_result skip "${line#ok - }" ;;
		"ok - "*) case_result ok "${line#ok - }" ;;
		"not ok - "*) case_result fail "${line#not ok - }" ;;
		"#"*) echo "$line" ;;
		esac
	done <"$1"
}

# guest_cases NAME BUILD_DIR COMMAND: boot, run COMMAND, report its cases.
guest_cases() {
	local name=$1 build=$2 cmd=$3 out=$work/$1 rc=0
	mkdir -p "$out"
	: >"$out/results"
	timed "boot:$name" "$TOP/scripts/guest.sh" "$build" "$out" "OUT=$out $cmd" || rc=$?
	if [ $rc != 0 ] || [ ! -s "$out/results" ]; then
		case_result fail "$name: guest ran to completion (exit $rc, $(cat "$out/accel" 2>/dev/null))" \
			"$out/console.log"
	else
		case_result ok "$name: guest ran to completion ($(cat "$out/accel"))"
	fi
	results_from "$out/results"
}

# --- host-side: dependencies, userspace tools -----------------------------
timed deps "$TOP/scripts/deps.sh" || { case_result fail "deps: install"; finish; }

if [ -f "$TOP/tools/Cargo.toml" ]; then
	out=$work/cargo-test.log
	rc=0
	timed tools cargo test --manifest-path "$TOP/tools/Cargo.toml" --locked >"$out" 2>&1 || rc=$?
	# One case per cargo test, so that the totals count them.
	sed -nE 's/^test (.+) \.\.\. ok$/ok - tools: \1/p; s/^test (.+) \.\.\. FAILED$/not ok - tools: \1/p' \
		"$out" >"$work/cargo-cases.txt"
	results_from "$work/cargo-cases.txt"
	if [ $rc != 0 ] || [ ! -s "$work/cargo-cases.txt" ]; then
		case_result fail "tools: cargo test ran to completion (exit $rc)" "$out"
	fi
fi

# --- kernel: configure, build, config guard ---------------------------------
# build_flavor FLAVOR: build it, report the case, print the build dir.
build_flavor() {
	local flavor=$1 log=$work/build-$1.log dir
	if dir=$(timed "build:$flavor" "$TOP/scripts/build-kernel.sh" "$flavor" 2>"$log"); then
		cat "$log" >&2
		case_result ok "build: kernel and module, in-tree and out-of-tree ($flavor)" >&2
		echo "$dir"
	else
		cat "$log" >&2
		case_result fail "build: kernel and module, in-tree and out-of-tree ($flavor)" "$log" >&2
		return 1
	fi
}

finish() {
	log "phase timings: ${timings[*]}"
	echo "$passed passed, $failed failed${skipped:+, $skipped skipped}"
	[ "$failed" = 0 ]
	exit
}

build=$(build_flavor default) || finish
nopool=$(build_flavor nopool) || finish

# An option that cannot land (no DRM in the guest) must be named, not ignored.
echo 'CONFIG_DRM_I915=y' >"$work/impossible.config"
if "$TOP/scripts/check-config.sh" "$build/.config" "$work/impossible.config" 2>"$work/impossible.log"; then
	case_result fail "config: an option that did not land is reported" "$work/impossible.log"
elif grep -q 'CONFIG_DRM_I915' "$work/impossible.log"; then
	case_result ok "config: an option that did not land is reported"
else
	case_result fail "config: an option that did not land is reported" "$work/impossible.log"
fi

rel=drivers/pci/controller/hv_pci_swiotlb/hv_pci_swiotlb.ko
mod=$build/extmod/$rel
for f in "$mod" "$build/$rel"; do
	if [ -f "$f" ]; then case_result ok "build: ${f#$build/} exists"
	else case_result fail "build: ${f#$build/} exists"; fi
done

# --- guests -----------------------------------------------------------------
# The same module binary on a kernel with the pool API and on one without.
guest_cases pool-api "$build" "MOD=$mod bash tests/guest/pool-api.sh"
python3 "$TOP/tests/ktap.py" "$work/pool-api/dmesg-load.txt" --no-skip \
	--expect hv_pci_swiotlb_size --expect hv_pci_swiotlb_pool >"$work/ktap-pool-api.txt"
results_from "$work/ktap-pool-api.txt"

guest_cases driver "$build" \
	"MOD=$mod SWIOTLBCTL=$TOP/tools/target/debug/swiotlbctl bash tests/guest/driver.sh"

guest_cases missing-patch "$nopool" "MOD=$mod bash tests/guest/missing-patch.sh"
python3 "$TOP/tests/ktap.py" "$work/missing-patch/dmesg-load.txt" \
	--expect hv_pci_swiotlb_size --expect hv_pci_swiotlb_pool >"$work/ktap-missing.txt"
results_from "$work/ktap-missing.txt"

finish
