#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run after a guest's tests on the debug kernel: a kmemleak scan, then one
# case per kind of report the kernel's debugging tools print.
. "$(dirname "$0")/lib.sh"
: "${NAME:?}"

if [ -e /sys/kernel/debug/kmemleak ]; then
	echo scan >/sys/kernel/debug/kmemleak
	sleep 2
	echo scan >/sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak >"$OUT/kmemleak.txt"
fi
dmesg >"$OUT/dmesg-full.txt"
none() { # none PATTERN: no dmesg line matches
	! grep -E "$1" "$OUT/dmesg-full.txt" | head -n 5 | grep .
}
check "debug($NAME): no KASAN report" none 'BUG: KASAN|KASAN:'
# The kernel's own lockdep report inside pciehp is filtered (see
# lockdep_report in lib.sh); it is logged when it occurs.
lockdep() {
	if lockdep_report "$OUT/dmesg-full.txt"; then
		head -n 30 "$OUT/dmesg-full.txt.lockdep"
		return 1
	fi
	[ ! -s "$OUT/dmesg-full.txt.lockdep" ] ||
		echo "known pciehp report, not ours (see $OUT/dmesg-full.txt.lockdep)"
}
check "debug($NAME): no lockdep report involving this driver" lockdep
check "debug($NAME): no WARN or BUG (other than lockdep's)" \
	none '^\[[ 0-9.]*\] (WARNING: [^p]|BUG:|kernel BUG|Oops)'
check "debug($NAME): no DMA-API debug report" none 'DMA-API: '
check "debug($NAME): no debugobjects report" none 'ODEBUG:'
check "debug($NAME): kmemleak finds nothing" \
	sh -c "! grep -q '^unreferenced object' '$OUT/kmemleak.txt' 2>/dev/null"
