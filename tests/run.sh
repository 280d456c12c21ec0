#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The project's test suite: everything `make test` runs.
#
# Prints one line per case ("ok N - name" / "not ok N - name", failures
# followed by their details and the guest's dmesg tail), the time each phase
# took, and finally "N passed, N failed" on a line of its own.
set -uo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

# --full adds a CONFIG_SWIOTLB_DYNAMIC=y kernel; --debug runs the guest suite on
# a kernel with KASAN, lockdep, kmemleak, DMA-API debugging and debugobjects
# and fails on any report they print.
mode=${1:-}
t_start=$(date +%s)

n=0 passed=0 failed=0 skipped=
work=$CACHE_DIR/test-run
rm -rf "$work"; mkdir -p "$work"

. "$TOP/tests/tap.sh"

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

# debug_suite: the guest suite on the debug kernel, each guest ending with a
# kmemleak scan and a check for every kind of report.
debug_suite() {
	local dbg
	build_flavor debug dbg || return
	rel=drivers/pci/controller/hv_pci_swiotlb/hv_pci_swiotlb.ko
	local m=$dbg/extmod/$rel
	GUEST_TIMEOUT=3600 guest_cases debug-pool-api "$dbg" \
		"MOD=$m bash tests/guest/pool-api.sh; NAME=pool-api bash tests/guest/splats.sh"
	kunit_results debug "$work/debug-pool-api/dmesg-load.txt" --no-skip \
		--expect hv_pci_swiotlb_pool
	GUEST_TIMEOUT=3600 guest_cases debug-driver "$dbg" \
		"MOD=$m SWIOTLBCTL=$TOP/tools/target/debug/swiotlbctl bash tests/guest/driver.sh; NAME=driver bash tests/guest/splats.sh"
	# Every error path, failed with the kernel's fault injection; KUnit off.
	GUEST_TIMEOUT=3600 GUEST_APPEND="kunit.enable=0" guest_cases debug-faults "$dbg" \
		"MOD=$m bash tests/guest/faults.sh; NAME=faults bash tests/guest/splats.sh"
}

timed docs "$TOP/tests/docs.sh" >"$work/docs.txt" 2>&1
results_from "$work/docs.txt"

# --- kernel: configure, build, config guard ---------------------------------
# build_flavor FLAVOR VAR: build it, report the case, set VAR to the build
# dir. Call it as it is, not in $(...): see case_result.
build_flavor() {
	local flavor=$1 log=$work/build-$1.log
	if timed "build:$flavor" "$TOP/scripts/build-kernel.sh" "$flavor" \
		>"$work/build-$flavor.dir" 2>"$log"; then
		cat "$log" >&2
		case_result ok "build: kernel and module, in-tree and out-of-tree ($flavor)"
		printf -v "$2" %s "$(tail -n 1 "$work/build-$flavor.dir")"
	else
		cat "$log" >&2
		case_result fail "build: kernel and module, in-tree and out-of-tree ($flavor)" "$log"
		return 1
	fi
}

if [ "$mode" = --debug ]; then
	debug_suite
	finish
fi

build_flavor default build || finish
build_flavor nopool nopool || finish
build_flavor builtin builtin || finish

# The harness itself and the benchmark module (two guests).
timed harness "$TOP/tests/harness.sh" "$build" "$work/harness" >"$work/harness.txt" 2>&1
results_from "$work/harness.txt"

# An option that cannot land (no DRM in the guest) must be named, not ignored.
echo 'CONFIG_DRM_I915=y' >"$work/impossible.config"
if "$TOP/scripts/check-config.sh" "$build/.config" "$work/impossible.config" 2>"$work/impossible.log"; then
	case_result fail "config: an option that did not land is reported" "$work/impossible.log"
elif grep -q 'CONFIG_DRM_I915' "$work/impossible.log"; then
	case_result ok "config: an option that did not land is reported"
else
	case_result fail "config: an option that did not land is reported" "$work/impossible.log"
fi

# Kconfig accepts the driver only where finding hv_pci by name is sound: with
# a built-in hv_pci, or none (KUnit). The same configuration with
# PCI_HYPERV=y keeps the driver, so that a lost toolchain cannot fake a pass.
kconfig_with() { # kconfig_with PCI_HYPERV_VALUE: prints the driver's value
	local o
	o=$(mktemp -d) && cp "$build/.config" "$o/.config" &&
		"$ksrc/scripts/config" --file "$o/.config" --set-val PCI_HYPERV "$1" &&
		make -s -C "$ksrc" O="$o" LLVM=-19 olddefconfig >/dev/null 2>&1 &&
		sed -n 's/^CONFIG_PCI_HYPERV_SWIOTLB=//p' "$o/.config"
	rm -rf "$o"
}
ksrc=$CACHE_DIR/work/$(basename "$build" | sed 's/-default$//')
if [ "$(kconfig_with y)" = m ] && [ -z "$(kconfig_with m)" ]; then
	case_result ok "config: the driver needs a built-in hv_pci (PCI_HYPERV=m refused)"
else
	printf 'PCI_HYPERV=y: %s\nPCI_HYPERV=m: %s\n' "$(kconfig_with y)" "$(kconfig_with m)" \
		>"$work/kconfig-hyperv.log"
	case_result fail "config: the driver needs a built-in hv_pci (PCI_HYPERV=m refused)" \
		"$work/kconfig-hyperv.log"
fi

rel=drivers/pci/controller/hv_pci_swiotlb/hv_pci_swiotlb.ko
mod=$build/extmod/$rel
for f in "$mod" "$build/$rel"; do
	if [ -f "$f" ]; then case_result ok "build: ${f#$build/} exists"
	else case_result fail "build: ${f#$build/} exists"; fi
done

# --- the patch series -----------------------------------------------------------
timed series "$TOP/tests/series.sh" "$work" >"$work/series.txt" 2>&1
results_from "$work/series.txt"

# --- KUnit as kernel developers run it --------------------------------------
# kunit.py with the driver's .kunitconfig, in its own one-CPU guest without
# module support: a configuration none of the guests below has.
timed kunit "$TOP/tests/kunit.sh" "$work/kunit" >"$work/kunit.txt" 2>&1
results_from "$work/kunit.txt"

# --- guests -----------------------------------------------------------------
SUITES=(--expect hv_pci_swiotlb_size --expect hv_pci_swiotlb_params --expect hv_pci_swiotlb_slices
	--expect hv_pci_swiotlb_devices --expect hv_pci_swiotlb_pool)

# pool_api NAME BUILD: the module finds the API and its KUnit suites all pass.
pool_api() {
	guest_cases "$1" "$2" "MOD=$2/extmod/$rel bash tests/guest/pool-api.sh"
	kunit_results "$1" "$work/$1/dmesg-load.txt" --no-skip "${SUITES[@]}"
}

# The module on a kernel with the pool API, with and without a default
# SWIOTLB pool; the one built without the API comes further down.
pool_api pool-api "$build"
# The kernel crate's KUnit suites that the series adds run at boot
# (SERIES_RUST_SUITES and boot_suites are in tests/tap.sh).
boot_suites boot "$work/pool-api/dmesg-boot.txt" "${SERIES_RUST_SUITES[@]}"
# kernel::kunit::skip() (patches/0005) marks its own test skipped, with the reason.
if grep -q 'ok [0-9]* skip_marks_the_test_skipped # SKIP checking skip()' "$work/pool-api/dmesg-boot.txt"; then
	case_result ok "kunit(boot): rust_kernel_kunit_skip reports its case skipped, with the reason"
else
	case_result fail "kunit(boot): rust_kernel_kunit_skip reports its case skipped, with the reason" \
		"$work/pool-api/dmesg-boot.txt"
fi
GUEST_SWIOTLB=track_hiwater pool_api pool-api-no-default-pool "$build"

guest_cases driver "$build" \
	"MOD=$mod SWIOTLBCTL=$TOP/tools/target/debug/swiotlbctl bash tests/guest/driver.sh"

# virtio-fs as WSL's /mnt/c and /mnt/d (tags hostc, hostd) and a hot-plugged
# third share: the host writes files for the guest to read before the boot
# and checks the files the guest wrote after it (tests/virtiofs-host.sh).
"$TOP/tests/virtiofs-host.sh" prepare "$work/virtiofs"
guest_cases virtiofs "$build" "MOD=$mod bash tests/guest/virtiofs.sh"
"$TOP/tests/virtiofs-host.sh" verify "$work/virtiofs" >"$work/virtiofs-host.txt"
results_from "$work/virtiofs-host.txt"

GUEST_APPEND="hv_pci_swiotlb=32M hv_pci_swiotlb.test_mode=1" \
	guest_cases builtin "$builtin" "bash tests/guest/builtin.sh"
# Built in, the driver's suites and the kernel crate's run at boot, with the
# driver's own 32 MiB already reserved: all of them must pass, none skip.
boot_suites builtin "$work/builtin/console.log" hv_pci_swiotlb_size hv_pci_swiotlb_params \
	hv_pci_swiotlb_slices hv_pci_swiotlb_devices hv_pci_swiotlb_pool \
	"${SERIES_RUST_SUITES[@]}"

# Bad input: the module parameters in one guest (KUnit off: it would run at
# every load), boot parameters of the built-in driver one boot each.
GUEST_APPEND="kunit.enable=0" guest_cases bad-input "$build" "MOD=$mod bash tests/guest/badinput.sh"
bad_boot() { # bad_boot N VALUE LOG
	GUEST_APPEND="hv_pci_swiotlb=$2 hv_pci_swiotlb.test_mode=1" \
		guest_cases "bad-boot-$1" "$builtin" "BOOT_VALUE='$2' LOG='$3' bash tests/guest/badboot.sh"
}
bad_boot 1 '64M,' 'size "64M,": unexpected characters after the size'
bad_boot 2 garbage 'size "garbage": not a size'
bad_boot 3 4G 'size "4G": 4294967296 bytes is more than the 1024 MiB allowed'

# Functions whose virtio driver binds after virtio-pci: decided at once.
GUEST_APPEND="kunit.enable=0" guest_cases late-virtio "$build" "MOD=$mod bash tests/guest/late-virtio.sh"

# Neither Hyper-V nor test mode: built in and as a module, nothing is reserved.
guest_cases elsewhere-builtin "$builtin" "bash tests/guest/elsewhere.sh"
GUEST_APPEND="kunit.enable=0" guest_cases elsewhere-module "$build" \
	"MOD=$mod bash tests/guest/elsewhere.sh"
# The module as a production kernel has it: without its KUnit suites and
# without the test parameters (CONFIG_HV_PCI_SWIOTLB_DEBUG=n).
mkdir -p "$work/production"
if make -s -C "$build" M="$TOP" MO="$work/production" LLVM=-19 CLIPPY=1 \
	CONFIG_HV_PCI_SWIOTLB_KUNIT_TEST=n CONFIG_HV_PCI_SWIOTLB_DEBUG=n modules \
	>"$work/production.log" 2>&1 && ! grep -qi 'warning' "$work/production.log"; then
	case_result ok "build: the production module (no KUnit suites, no test parameters) builds without warnings"
	guest_cases elsewhere-production "$build" \
		"PRODUCTION=1 MOD=$work/production/$rel bash tests/guest/elsewhere.sh"
else
	case_result fail "build: the production module (no KUnit suites, no test parameters) builds without warnings" \
		"$work/production.log"
fi

# A kernel that exports Microsoft's swiotlb_create_pool() (a stand-in module
# here; the real patch in make test-wsl): the driver steps aside and never
# calls the foreign symbol.
if make -s -C "$build" M="$TOP/tests/shared-pool" MO="$work/standin-module" LLVM=-19 modules \
	>"$work/standin-build.log" 2>&1; then
	case_result ok "build: the stand-in for Microsoft's pool export builds"
	GUEST_APPEND="kunit.enable=0" guest_cases shared-pool "$build" \
		"MOD=$mod STANDIN=$work/standin-module/shared_pool_standin.ko bash tests/guest/shared-pool.sh"
else
	case_result fail "build: the stand-in for Microsoft's pool export builds" "$work/standin-build.log"
fi

# The driver built against that kernel (CONFIG_SWIOTLB_DEVICE_POOL=n): it
# knows at compile time that there is no pool API, says so and stays idle.
guest_cases missing-patch "$nopool" "MOD=$nopool/extmod/$rel bash tests/guest/missing-patch.sh"
kunit_results missing-patch "$work/missing-patch/dmesg-load.txt" "${SUITES[@]}"
# The pool abstraction of the kernel crate says ENODEV there, as the C stubs.
SKIP_OK=1 boot_suites boot-nopool "$work/missing-patch/dmesg-boot.txt" rust_kernel_dma_swiotlb

# A direct caller of the pool API (the bench module) builds and links against
# the kernel without it: the API's stubs follow CONFIG_SWIOTLB_DEVICE_POOL.
if make -s -C "$nopool" M="$TOP/tests/bench" MO="$work/bench-nopool" LLVM=-19 modules \
	>"$work/bench-nopool.log" 2>&1; then
	case_result ok "build: a direct caller of the pool API builds without CONFIG_SWIOTLB_DEVICE_POOL"
else
	case_result fail "build: a direct caller of the pool API builds without CONFIG_SWIOTLB_DEVICE_POOL" \
		"$work/bench-nopool.log"
fi

# Layouts other than the default, on other CPU counts: pools of 20 MiB
# (max_devices=3) with an area per CPU on 4 vCPUs, and pools of 18 MiB
# (size=100M, max_devices=5) on one vCPU; every CPU does direct I/O at once.
# The KUnit suites run again at load, with 4 CPUs' worth of areas.
layouts() { # layouts NAME CPUS MAXDEV [SIZE]
	GUEST_CPUS=$2 guest_cases "$1" "$build" \
		"MOD=$mod MAXDEV=$3 SIZE=${4:-} bash tests/guest/layouts.sh"
	kunit_results "$1" "$work/$1/dmesg-load.txt" --no-skip "${SUITES[@]}"
}
layouts layouts-3dev-4cpu 4 3
layouts layouts-5dev-1cpu 1 5 100M

# A boot value longer than the built-in driver's 31-character buffer: what is
# left (0x...4000000, 64 MiB) must not be taken for what was asked (64 GiB).
bad_boot 4 0x00000000000000000000004000000K \
	'size "0x00000000000000000000004000000"...: too long .more than 31 characters.'

# --- make test-full: CONFIG_SWIOTLB_DYNAMIC=y (a full rebuild) -------------------
if [ "$mode" = --full ]; then
	build_flavor dynamic dynamic || finish
	pool_api dynamic-pool-api "$dynamic"
	GUEST_SWIOTLB=track_hiwater pool_api dynamic-no-default-pool "$dynamic"
	guest_cases dynamic-driver "$dynamic" \
		"MOD=$dynamic/extmod/$rel SWIOTLBCTL=$TOP/tools/target/debug/swiotlbctl bash tests/guest/driver.sh"
fi

finish
