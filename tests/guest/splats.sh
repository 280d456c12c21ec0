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
# A lockdep report inside pciehp alone (pci_rescan_remove_lock vs the slot's
# reset_lock, taken by pciehp_configure_device() on hot-add) is the kernel's
# own and involves no code of this project: filtered, and logged.
lockdep() {
	grep -B2 -A40 -E 'possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|lock held when returning' \
		"$OUT/dmesg-full.txt" >"$OUT/lockdep.txt" || return 0
	if ! grep -q hv_pci_swiotlb "$OUT/lockdep.txt" &&
		grep -q 'pciehp_configure_device' "$OUT/lockdep.txt" &&
		[ "$(grep -cE 'possible circular locking|possible recursive|inconsistent lock|suspicious RCU|lock held when' "$OUT/dmesg-full.txt")" = 1 ]; then
		echo "known pciehp report, not ours (see $OUT/lockdep.txt)"
		return 0
	fi
	head -n 30 "$OUT/lockdep.txt"
	return 1
}
check "debug($NAME): no lockdep report involving this driver" lockdep
check "debug($NAME): no WARN or BUG (other than lockdep's)" \
	none '^\[[ 0-9.]*\] (WARNING: [^p]|BUG:|kernel BUG|Oops)'
check "debug($NAME): no DMA-API debug report" none 'DMA-API: '
check "debug($NAME): no debugobjects report" none 'ODEBUG:'
check "debug($NAME): kmemleak finds nothing" \
	sh -c "! grep -q '^unreferenced object' '$OUT/kmemleak.txt' 2>/dev/null"
