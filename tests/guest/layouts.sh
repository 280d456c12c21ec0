#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A layout other than the default, under concurrency. max_devices=$MAXDEV
# cuts the 64 MiB into pools whose segment count is no power of two, and
# with several CPUs each pool has several areas (one lock each). Every CPU
# writes and verifies mixed-size direct I/O (4 KiB..256 KiB, $THREADS streams
# per CPU) on blk0 at once, so if two areas ever handed out the same bounce
# slots, a CPU would read back another CPU's data. Two areas collide only
# when they search a shared segment at the same moment, which these guests
# (TCG on two host cores) did not hit in three tries on the old code: the
# KUnit case areas_hold_whole_segments is what catches that layout for
# sure. This case proves the layout works under load on more CPUs.
. "$(dirname "$0")/lib.sh"
: "${MOD:?}" "${MAXDEV:?}" "${SECONDS_PER_CPU:=20}" "${SIZE:=}" "${THREADS:=4}"

MIB=1048576
cpus=$(nproc)
BLK0=$(pci_of_blk blk0)

dmesg -C
check "layouts($MAXDEV devices, $cpus CPUs): insmod max_devices=$MAXDEV ${SIZE:+size=$SIZE}" \
	insmod "$MOD" test_mode=1 max_devices="$MAXDEV" ${SIZE:+size=$SIZE}
# The KUnit suites ran at load, on this guest's CPUs: saved for the host.
dmesg >"$OUT/dmesg-load.txt"
rebind "$BLK0"
sleep 1
DEV=$(dev_of_blk blk0)
check "layouts($MAXDEV devices, $cpus CPUs): blk0 has a pool" has_pool "$BLK0"
echo "blk0: $BLK0 $DEV, pool: $(pool_line "$BLK0")" >>"$OUT/log"

# Each CPU gets its own stretch of the disk.
disk=$(($(blockdev --getsize64 "$DEV") / cpus / MIB * MIB))
concurrent_dio() {
	local i pids=() rc=0
	for i in $(seq 0 $((cpus - 1))); do
		python3 "$(dirname "$0")/dio_verify.py" "$DEV" "$i" $((i * disk)) "$disk" \
			"$SECONDS_PER_CPU" "$THREADS" &
		pids+=($!)
	done
	for i in "${pids[@]}"; do wait "$i" || rc=1; done
	return $rc
}
m0=$(pool_col "$BLK0" 8)
check "layouts($MAXDEV devices, $cpus CPUs): every CPU reads back what it wrote (direct I/O, 4-256 KiB)" \
	concurrent_dio
echo "mappings in blk0's pool: $m0 before, $(pool_col "$BLK0" 8) after" >>"$OUT/log"
check "layouts($MAXDEV devices, $cpus CPUs): the I/O went through blk0's pool" \
	test "$(pool_col "$BLK0" 8)" -gt $((m0 + 1000))
check "layouts($MAXDEV devices, $cpus CPUs): nothing left mapped" expect_eq 0 pool_col "$BLK0" 6

# Each pool's slots, from swiotlb's own debugfs: whole segments per area.
geometry() {
	local d n size
	for d in /sys/kernel/debug/swiotlb/hv_pci_swiotlb-*; do
		n=$(cat "$d/io_tlb_nslabs")
		echo "${d##*/}: $n slots"
		[ $((n % 128)) = 0 ] || { echo "not whole segments"; return 1; }
	done
	size=$(awk 'NR > 1 {print $4; exit}' "$DBG/devices")
	echo "pool size: $size"
}
check "layouts($MAXDEV devices, $cpus CPUs): pools are whole segments" geometry
check "layouts($MAXDEV devices, $cpus CPUs): no swiotlb or KUnit failure in the log" \
	sh -c "! dmesg | grep -E 'swiotlb buffer is full|not ok [0-9]|BUG|WARNING'"
check "layouts($MAXDEV devices, $cpus CPUs): rmmod after unbinding blk0" \
	sh -c "echo $BLK0 >$VIRTIO_PCI/unbind && rmmod $MODNAME && echo $BLK0 >$VIRTIO_PCI/bind"
