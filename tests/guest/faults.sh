#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Every error path of load, attach, detach and unload, with the kernel's
# fault injection (debug kernel, KUnit off):
#  - fail-nth: the 1st, 2nd, 3rd... kmalloc or (order > 0) page allocation
#    made with the module's code on the stack fails (the stack trace filter
#    holds the module's text; a reload lands at the same address, which is
#    checked), until a load, bind, unbind or unload runs through without a
#    failure (tests/guest/failnth.py makes each call and tells);
#  - fail_function: attaching a device (swiotlb_devpool_assign) fails once.
# After each failure: the driver says what happened, no pool or file is left
# without the module, and the disk still works. At the end kmemleak finds
# nothing and MemFree is back. The distinct sites failed are counted.
. "$(dirname "$0")/lib.sh"
: "${MOD:?}"

FI=/sys/kernel/debug
BLK0=$(pci_of_blk blk0)
MAX_N=${MAX_N:-300}

loaded() { grep -q "^$MODNAME " /proc/modules; }
load() { loaded || insmod "$MOD" test_mode=1; }
unload() {
	loaded || return 0
	echo "$BLK0" >$VIRTIO_PCI/unbind 2>/dev/null
	rmmod $MODNAME
	echo "$BLK0" >$VIRTIO_PCI/bind 2>/dev/null
	true
}
unbind_blk0() { [ ! -e "$VIRTIO_PCI/$BLK0" ] || echo "$BLK0" >$VIRTIO_PCI/unbind; }
bind_blk0() { [ -e "$VIRTIO_PCI/$BLK0" ] || echo "$BLK0" >$VIRTIO_PCI/bind; }
text() { cat /sys/module/$MODNAME/sections/.text 2>/dev/null; }
memfree() { awk '/^MemFree:/ {print $2}' /proc/meminfo; }

# Where the module's code lies: from its .text to its last symbol.
load
start=$(text)
end=$(python3 -c 'import sys
print(hex(max(int(l.split()[0], 16) for l in open("/proc/kallsyms")
	if l.rstrip().endswith("[" + sys.argv[1] + "]")) + 4096))' $MODNAME)
unload
echo "module text: $start-$end" >>"$OUT/log"
for a in failslab fail_page_alloc; do
	echo N >$FI/$a/ignore-gfp-wait
	echo 0 >$FI/$a/probability
	echo 2 >$FI/$a/verbose
	echo 32 >$FI/$a/stacktrace-depth
	echo "$start" >$FI/$a/require-start
	echo "$end" >$FI/$a/require-end
done
echo N >$FI/fail_page_alloc/ignore-gfp-highmem
# Order 0 is vmalloc's page by page: the same error path many times over.
echo 1 >$FI/fail_page_alloc/min-order

echo clear >$FI/kmemleak 2>/dev/null || true
sync
echo 3 >/proc/sys/vm/drop_caches
free0=$(memfree)

# state_ok: nothing half done: no pool or file without the module, the
# table there with it, and the disk works.
state_ok() {
	if loaded; then
		[ -r $DBG/devices ] || grep -qx "$(text)" "$OUT/no-view" 2>/dev/null ||
			{ echo "loaded without its table, and did not say so"; return 1; }
		[ "$(text)" = "$start" ] || { echo "loaded at $(text), not $start"; return 1; }
	else
		! ls -d /sys/kernel/debug/swiotlb/hv_pci_swiotlb-* 2>/dev/null ||
			{ echo "pools left without the module"; return 1; }
		[ ! -e $VIRTIO_PCI/swiotlb_base ] || { echo "published without the module"; return 1; }
	fi
	bind_blk0
	dd if="$(dev_of_blk blk0)" of=/dev/null bs=64k count=4 iflag=direct status=none ||
		{ echo "blk0 does not work"; return 1; }
}

# sites: for each fault dump in the log on stdin, its call chain without
# the fault and allocator frames, up to the first frame of the module.
sites() {
	awk '/FAULT_INJECTION: forcing a failure/ { want = 1; chain = ""; next }
	want && /^ *\?/ { next }
	want && /^ [a-zA-Z_]/ && /\+0x/ {
		f = $1; sub(/\/.*/, "", f)
		if (f ~ /^(dump_stack|should_fail|__should_fail|fail_dump|__kmalloc|kmalloc|__kvmalloc|kvmalloc|krealloc|__alloc_pages|alloc_pages|prepare_alloc_pages|__alloc_frozen|alloc_frozen|kmem_cache_alloc|slab_|__slab|___slab|__vmalloc|vmalloc|__get_free|get_free|kmalloc_large|___kmalloc|__do_kmalloc|alloc_slab)/)
			next
		chain = chain (chain ? " < " : "") f
		if ($0 ~ /\[hv_pci_swiotlb\]/) { print chain; want = 0 }
	}'
}

failures=0 silent=0
# sweep PHASE SETUP ACTION ARGS...: fail the 1st, 2nd... counted allocation
# of one failnth.py ACTION (each after SETUP) until a run makes fewer.
sweep() {
	local phase=$1 setup=$2 n=1 out new
	shift 2
	while [ $n -le $MAX_N ]; do
		eval "$setup"
		# The stack dumps fill the log buffer: read each run's lines alone.
		dmesg -C
		out=$(python3 "$(dirname "$0")/failnth.py" "$n" "$@" 2>&1)
		echo "$phase n=$n: $(echo $out)" >>"$OUT/log"
		if ! grep -qx injected <<<"$out"; then
			echo "$phase: $((n - 1)) allocation(s) failed one by one" >>"$OUT/log"
			check "faults($phase): runs through after $((n - 1)) failed allocations" state_ok
			return
		fi
		failures=$((failures + 1))
		# If the failed allocation was the driver's own (its stack dump
		# names the module), or the call failed after the driver ran, the
		# driver or the driver core must say what went wrong. A load can
		# also fail in the module loader before the driver runs: nothing
		# of the driver's to say then. A failure inside debugfs is ignored
		# by design (the core's pool files, the driver's own view, which
		# state_ok checks was announced), so it needs no line either.
		new=$(dmesg -t)
		# Where it failed: the dump's reliable frames from the allocation's
		# caller up to the first one in the module (one line per site).
		sites <<<"$new" >>"$OUT/sites.raw"
		# Its debugfs view is optional (debugfs errors are ignored by
		# design), but the driver must say when it has none.
		rm -f "$OUT/no-view"
		! grep -q "^$MODNAME: no debugfs view" <<<"$new" || text >"$OUT/no-view"
		if ! grep -q ' debugfs_' <<<"$new" && { grep -q "\[$MODNAME\]" <<<"$new" ||
			{ ! grep -q '^result 0 ' <<<"$out" && grep -q "^$MODNAME: " <<<"$new"; }; } &&
			! grep -qE "^($MODNAME|virtio-pci [0-9a-f:.]+): .*(cannot|could not|out of memory|failed|keeping the default|no debugfs view)" <<<"$new"; then
			silent=$((silent + 1))
			{ echo "$phase n=$n: no log line; the log of that run:"; sed 's/^/    /' <<<"$new"; } >>"$OUT/log"
		fi
		if ! state_ok >>"$OUT/log" 2>&1; then
			check "faults($phase, allocation $n failed): consistent afterwards" state_ok
			return
		fi
		n=$((n + 1))
	done
	check "faults($phase): runs through within $MAX_N failures" false
}

dmesg -C
# Two pools: the second one's failures also unwind a pool already made.
sweep load unload load "$MOD" test_mode=1 max_devices=2
load
sweep attach unbind_blk0 write $VIRTIO_PCI/bind "$BLK0"
sweep detach bind_blk0 write $VIRTIO_PCI/unbind "$BLK0"
sweep unload "load; unbind_blk0" unload $MODNAME
load

# Attaching fails once: the device binds with the default pool.
dmesg -C
unbind_blk0
echo swiotlb_devpool_assign >$FI/fail_function/inject
printf '%#x' -16 >$FI/fail_function/swiotlb_devpool_assign/retval
echo 100 >$FI/fail_function/probability
echo 1 >$FI/fail_function/times
echo "$BLK0" >$VIRTIO_PCI/bind
echo >$FI/fail_function/inject
check "faults(fail_function swiotlb_devpool_assign): logged" \
	sh -c "dmesg | grep -q 'cannot use SWIOTLB pool'"
check "faults(fail_function swiotlb_devpool_assign): blk0 keeps the default pool" no_pool "$BLK0"
check "faults(fail_function swiotlb_devpool_assign): consistent" state_ok
unload

sort "$OUT/sites.raw" 2>/dev/null | uniq -c >"$OUT/fault-sites.txt"
echo "failures injected: $failures, distinct sites in the module: $(wc -l <"$OUT/fault-sites.txt")" \
	>>"$OUT/log"
check "faults: allocations failed ($failures, at $(wc -l <"$OUT/fault-sites.txt") sites)" \
	test "$failures" -gt 0
check "faults: every failure left a log line" expect_eq 0 echo "$silent"
sync
echo 3 >/proc/sys/vm/drop_caches
check "faults: MemFree is back (within 8 MiB)" \
	sh -c "[ \$(( $free0 - \$(awk '/^MemFree:/ {print \$2}' /proc/meminfo) )) -lt 8192 ]"
