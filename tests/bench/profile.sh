#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of `make bench PROFILE=1`: where the time of a mapping goes.
#   profile.sh perf      perf (cpu-clock samples) of single measurements
#   profile.sh lockstat  /proc/lock_stat of the SWIOTLB area locks for each
#                        layout (needs the lockstat kernel)
# Writes $OUT/profile.txt. NDEV devices (default 3), as in make bench.
: "${OUT:?}" "${BENCH:?}"
MS=${MS:-2000}
NDEV=${NDEV:-3}

run() { # run CASE:LAYOUT:SIZE
	insmod "$BENCH" ndev="$NDEV" reps=1 ms="$MS" only="$1" 2>/dev/null
	dmesg | grep "swiotlb_bench: case=" | tail -n 1
}

case $1 in
perf)
	cd /tmp || exit
	for m in map:shared:4096 map:perdev:4096 map:global:4096 map_to:perdev:65536; do
		{
			echo "== perf: $m (cpu-clock samples on both CPUs; time with interrupts off is"
			echo "== charged to the function that enables them, e.g. _raw_spin_unlock_irqrestore)"
			perf record -q -a -F 2000 -e cpu-clock -o /tmp/perf.data -- \
				insmod "$BENCH" ndev="$NDEV" reps=1 ms="$MS" only="$m" 2>/dev/null
			dmesg | grep "swiotlb_bench: case=" | tail -n 1
			perf report -i /tmp/perf.data --stdio --no-children --sort sym 2>/dev/null |
				grep -v '^#' | grep -v '^$' | head -n 15
			echo
		} >>"$OUT/profile.txt"
	done
	;;
lockstat)
	[ -e /proc/lock_stat ] || { echo "no /proc/lock_stat: not a lockstat kernel" >"$OUT/profile.txt"; exit 1; }
	for m in map:global:4096 map:shared:4096 map:perdev:4096 pinned:shared:4096 pinned:perdev:4096; do
		echo 0 >/proc/lock_stat
		line=$(run "$m")
		{
			echo "== lock_stat: $m ($(nproc) CPUs, areas: ${CONFIG:-percpu})"
			echo "$line"
			# The header, then the area locks' lines (all areas of all pools
			# are one lock class).
			grep -m1 'class name' /proc/lock_stat
			grep -A1 'areas\[i\].lock\|area->lock' /proc/lock_stat | head -n 4
			echo
		} >>"$OUT/profile.txt"
	done
	;;
*)
	echo "usage: profile.sh perf|lockstat" >&2
	exit 64
	;;
esac
