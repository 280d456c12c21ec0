# SPDX-License-Identifier: GPL-2.0
# TAP-style case reporting shared by tests/run.sh (make test) and tests/wsl.sh
# (make test-wsl). The caller sets n=0 passed=0 failed=0 skipped= t_start and
# work (an empty directory), then sources this file.
#
# Every case prints "ok N - name" or "not ok N - name" (a failure followed by
# the tail of its detail file as "#" lines); finish() checks the numbering
# and prints "N passed, N failed" last.

# case_result ok|skip|fail NAME [DETAIL_FILE]: number and count a case. Never
# in a subshell (e.g. a command substitution): the counts would stay there.
# Every case line also goes to $work/cases, which finish() checks.
case_result() {
	local line
	n=$((n + 1))
	case $1 in
	ok) passed=$((passed + 1)); line="ok $n - $2" ;;
	skip) skipped=$((${skipped:-0} + 1)); line="ok $n - $2" ;;
	*) failed=$((failed + 1)); line="not ok $n - $2" ;;
	esac
	echo "$line"
	echo "$line" >>"$work/cases"
	[ "$1" != fail ] || [ -z "${3:-}" ] || tail -n 40 "$3" | sed 's/^/#   /'
}

# timed NAME CMD...: run CMD as one phase and remember its duration (in a
# file: phases also run in command substitutions).
timed() {
	local name=$1 t0 rc=0
	shift
	t0=$(date +%s)
	log "== phase $name"
	"$@" || rc=$?
	echo "$name $(($(date +%s) - t0))s" >>"$work/timings"
	log "== phase $name: $(($(date +%s) - t0))s (rc=$rc)"
	return $rc
}

# results_from FILE: turn "ok - x" / "not ok - x" lines (and their "#"
# detail lines) into numbered cases.
results_from() {
	local line
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
# GUEST_NICE (a niceness) runs the guest at that priority.
guest_cases() {
	local name=$1 build=$2 cmd=$3 out=$work/$1 rc=0
	mkdir -p "$out"
	: >"$out/results"
	timed "boot:$name" ${GUEST_NICE:+nice -n "$GUEST_NICE"} "$TOP/scripts/guest.sh" \
		"$build" "$out" "export OUT=$out; $cmd" || rc=$?
	if [ $rc != 0 ] || [ ! -s "$out/results" ]; then
		case_result fail "$name: guest ran to completion (exit $rc, $(cat "$out/accel" 2>/dev/null))" \
			"$out/console.log"
	else
		case_result ok "$name: guest ran to completion ($(cat "$out/accel"))"
	fi
	results_from "$out/results"
}

# finish: the last case checks the numbering of all the others and that
# the totals count them (tests/numbering.py), then the totals; exits.
finish() {
	local name="harness: every case numbered once, the totals count them"
	{ cat "$work/cases" 2>/dev/null
	  echo "$passed passed, $failed failed${skipped:+, $skipped skipped}"; } >"$work/numbering.txt"
	if python3 "$TOP/tests/numbering.py" "$work/numbering.txt" >"$work/numbering.log" 2>&1; then
		case_result ok "$name"
	else
		case_result fail "$name" "$work/numbering.log"
	fi
	log "phase timings: $(paste -sd, "$work/timings" 2>/dev/null | sed 's/,/, /g'), total $(($(date +%s) - t_start))s"
	echo "$passed passed, $failed failed${skipped:+, $skipped skipped}"
	[ "$failed" = 0 ]
	exit
}

# kunit_results NAME LOG [ktap.py options]: the KUnit cases of LOG (tests/ktap.py)
# as cases of our own, named kunit(NAME). Needs $work.
kunit_results() {
	local name=$1 log=$2
	shift 2
	python3 "$TOP/tests/ktap.py" "$log" "$@" 2>&1 |
		sed "s/^\(\(not \)\{0,1\}ok - \)kunit: /\1kunit($name): /" >"$work/ktap-$name.named"
	results_from "$work/ktap-$name.named"
}

# The kernel crate's KUnit suites that the series adds and that run at boot:
# bus notifiers (patches/0004), the device lock (0006), SWIOTLB device pools
# (0007), contiguous page ranges (0008), bus walks (0009), virtio features
# (0010), dma::mapping_error() (0011), Hyper-V (0013; the test kernels
# have a built-in VMBus that stays down under QEMU), driver files (0014),
# parameters (0015) and initcalls (0016).
# (0005's skip() is checked on its own: its one case reports itself
# skipped.)
SERIES_RUST_SUITES=(rust_kernel_device_notifier rust_kernel_device_lock
	rust_kernel_dma_swiotlb rust_kernel_page_contiguous rust_kernel_device_bus
	rust_kernel_virtio rust_kernel_dma_mapping_error rust_kernel_hyperv
	rust_kernel_driver_attr rust_kernel_param rust_kernel_initcall)

# boot_suites NAME LOG SUITE...: takes each suite's block out of a boot log
# (other suites of the kernel run there too), reports its cases as
# kunit(NAME) and fails a suite that did not run. Nothing may skip, unless
# SKIP_OK=1 (a kernel without the feature a case needs). Needs $work.
boot_suites() {
	local name=$1 log=$2 suite expect=() noskip=--no-skip
	shift 2
	: >"$work/ktap-$name.log"
	for suite; do
		# A serial console log ends its lines in CR LF.
		tr -d '\r' <"$log" 2>/dev/null |
			sed -n "/# Subtest: $suite\$/,/ok [0-9]* $suite\$/p" >>"$work/ktap-$name.log"
		expect+=(--expect "$suite")
	done
	[ "${SKIP_OK:-0}" = 0 ] || noskip=
	kunit_results "$name" "$work/ktap-$name.log" $noskip "${expect[@]}"
}
