#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of the benchmark module's check in tests/harness.sh: with
# ndev=N, swiotlb_bench creates N faux devices and N per-device pools, maps
# on every device and cleans up. One short measurement each.
. "$(dirname "$0")/lib.sh"
: "${BENCH:?}"

# bench_ndev N: load the module for N devices and read what it did.
bench_ndev() {
	local n=$1 log=$OUT/bench-ndev$1.txt threads
	threads=$(($(nproc) * n))
	dmesg -C
	# It prints its results and refuses to stay loaded (-ECANCELED).
	insmod "$BENCH" ndev="$n" reps=1 ms=20 only=map:perdev:4096
	dmesg -t >"$log"
	cat "$log"
	grep -q "^swiotlb_bench: cpus=[0-9]* devices=$n " "$log" ||
		{ echo "no set-up line for $n devices"; return 1; }
	grep -q "^swiotlb_bench: case=map layout=perdev size=4096 threads=$threads devices=$n rep=0 ops=[1-9][0-9]* fails=0 " "$log" ||
		{ echo "no measurement with $threads threads on $n devices, or it failed"; return 1; }
	grep -qx 'swiotlb_bench: done' "$log" || { echo "the module did not finish"; return 1; }
	# Names: of the devices in sysfs, of the pools in debugfs.
	! grep -E 'duplicate filename|already exists|WARNING|BUG|Oops|general protection' "$log" || return 1
	! ls /sys/bus/faux/devices 2>/dev/null | grep swiotlb_bench || { echo "devices left behind"; return 1; }
}

check "bench: swiotlb_bench sets up and maps 3 devices (ndev=3, what make bench uses)" bench_ndev 3
check "bench: swiotlb_bench sets up and maps 7 devices (ndev=7, the most)" bench_ndev 7
