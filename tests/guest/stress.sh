#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# `make stress`: load/unload cycles, data integrity through minimum-size
# pools (disks and network), hot-plug churn and pool exhaustion. Slow; not
# part of `make test`. Figures go to $OUT/figures.
. "$(dirname "$0")/lib.sh"
: "${MOD:?}" "${CYCLES:=1000}" "${PASSES:=16}" "${HOTPLUGS:=100}" "${NET_MIB:=512}" "${VFS_MIB:=1024}" "${MODARGS:=}"

MIB=1048576
BLK0=$(pci_of_blk blk0) BLK1=$(pci_of_blk blk1)
figure() { echo "$*" >>"$OUT/figures"; }
dma32_free() { awk '/zone +DMA32/ {z=1} z && /pages free/ {print $3; exit}' /proc/zoneinfo; }
leftovers() { ls -d /sys/kernel/debug/swiotlb/hv_pci_swiotlb-* $DBG $VIRTIO_PCI/swiotlb_base 2>/dev/null; }
# splats: reports in dmesg; lockdep's count unless it is the kernel's own
# pciehp one (lib.sh: lockdep_report).
splats() {
	local n
	dmesg >/tmp/stress.dmesg
	n=$(grep -E 'WARNING:|BUG:|Oops|KASAN|kmemleak: [1-9]|I/O error' /tmp/stress.dmesg |
		grep -cvE "$LOCKDEP_RE" || true)
	lockdep_report /tmp/stress.dmesg && n=$((n + 1))
	echo "$n"
}

# --- load/unload cycles ---------------------------------------------------------
mem0=$(awk '/MemFree/ {print $2}' /proc/meminfo) d0=$(dma32_free)
cycles() {
	local i
	for i in $(seq "$CYCLES"); do
		insmod "$MOD" test_mode=1 $MODARGS || { echo "insmod failed at cycle $i"; return 1; }
		if [ $((i % 10)) = 0 ]; then
			# Every tenth cycle a device takes a pool and gives it back.
			rebind "$BLK0" && has_pool "$BLK0" >/dev/null && echo "$BLK0" >$VIRTIO_PCI/unbind
		fi
		rmmod $MODNAME || { echo "rmmod failed at cycle $i"; return 1; }
		[ $((i % 10)) = 0 ] && echo "$BLK0" >$VIRTIO_PCI/bind
	done
	[ -z "$(leftovers)" ] || { echo "left over: $(leftovers)"; return 1; }
}
check "stress: $CYCLES load/unload cycles ($((CYCLES / 10)) with a device attached)" cycles
mem1=$(awk '/MemFree/ {print $2}' /proc/meminfo) d1=$(dma32_free)
figure "cycles=$CYCLES memfree_delta_kib=$((mem0 - mem1)) dma32_free_delta_pages=$((d0 - d1))"
check "stress: MemFree back within 8 MiB after the cycles" test $((mem0 - mem1)) -lt 8192
check "stress: DMA32 free pages back within 2048 after the cycles" test $((d0 - d1)) -lt 2048
if [ -e /sys/kernel/debug/kmemleak ]; then
	echo scan >/sys/kernel/debug/kmemleak
	sleep 5
	echo scan >/sys/kernel/debug/kmemleak
	leaks=$(grep -c '^unreferenced object' /sys/kernel/debug/kmemleak || true)
	figure "kmemleak_unreferenced=$leaks"
	check "stress: kmemleak finds no leak" expect_eq 0 echo "$leaks"
fi

# --- data integrity through minimum-size pools -------------------------------------
insmod "$MOD" test_mode=1 size=8M $MODARGS
rebind "$BLK0"
rebind "$BLK1"
check "integrity: both disks on minimum-size (2 MiB) pools" \
	expect_eq "2097152 2097152" echo "$(pool_col "$BLK0" 4) $(pool_col "$BLK1" 4)"
DEV0=$(dev_of_blk blk0) DEV1=$(dev_of_blk blk1)
integrity() {
	local pass dev bytes=0 want got
	for pass in $(seq "$PASSES"); do
		head -c $((64 * MIB)) /dev/urandom >/tmp/pattern
		want=$(md5sum </tmp/pattern)
		# Both disks at once, 1 MiB requests: two fill a 2 MiB pool, so
		# mappings fail and requests are retried.
		dd if=/tmp/pattern of="$DEV0" bs=1M oflag=direct status=none &
		dd if=/tmp/pattern of="$DEV1" bs=1M oflag=direct status=none
		wait
		for dev in "$DEV0" "$DEV1"; do
			got=$(dd if="$dev" bs=1M iflag=direct status=none | md5sum)
			[ "$got" = "$want" ] || { echo "pass $pass: $dev read back $got, wrote $want"; return 1; }
			bytes=$((bytes + 64 * MIB))
		done
	done
	figure "blk_bytes_verified=$bytes blk_mismatches=0"
}
check "integrity: $PASSES x 2 x 64 MiB written and read back through 2 MiB pools" integrity

# --- the network, with a checksum -------------------------------------------------------
NET0=$(pci_of_mac 52:54:00:00:00:10)
rebind "$NET0"
peer_up
net() {
	local sent got
	# Streamed, not staged: the guest's /tmp (half its RAM) cannot hold
	# NET_MIB twice. The receiver's shell ends only after its sha256sum.
	rm -f /tmp/netsent /tmp/netsum
	ip netns exec peer sh -c 'socat -u TCP6-LISTEN:5555,reuseaddr - | sha256sum >/tmp/netsum' &
	head -c $((NET_MIB * MIB)) /dev/urandom | tee >(sha256sum >/tmp/netsent) |
		socat -u - "TCP6:[fe80::11%$IF0]:5555,retry=40,interval=0.5" || return 1
	wait
	wait_for 30 test -s /tmp/netsent || { echo "no checksum of the data sent"; return 1; }
	sent=$(cat /tmp/netsent) got=$(cat /tmp/netsum)
	figure "net_bytes_verified=$((NET_MIB * MIB)) net_mismatches=$([ "$got" = "$sent" ] && echo 0 || echo 1)"
	[ "$got" = "$sent" ] || { echo "sent $sent, received $got"; return 1; }
}
check "integrity: $NET_MIB MiB over virtio-net through its 2 MiB pool, checksum intact" net
check "integrity: net0 used its pool" test "$(pool_col "$NET0" 8)" -gt 0
peer_down

# --- virtio-fs, checked by the host ------------------------------------------------------
# hostc (WSL's /mnt/c) takes net0's 2 MiB slice (net0 stays unbound until
# the end: with MODARGS=max_devices=3 there are only three slices). Two
# writers at once, one with 1 MiB O_DIRECT writes (FUSE requests of up to
# 124 pages, a quarter of the pool each) and one buffered, so that the pool
# can run full and requests wait for slots (the figures give the high water
# and the failures). The guest reads every file back uncached through the
# pool; tests/stress.sh compares the host's copies with the sums in
# $OUT/vfs-sums after the guest ended (tests/virtiofs-host.sh sums).
C=$(pci_of_vfs hostc)
echo "$NET0" >$VIRTIO_PCI/unbind
rebind "$C"
wait_for 10 has_pool "$C"
check "integrity: virtio-fs hostc on a minimum-size (2 MiB) pool" expect_eq 2097152 pool_col "$C" 4
mkdir -p /tmp/vfs/c
mount -t virtiofs hostc /tmp/vfs/c && mkdir -p /tmp/vfs/c/stress
: >"$OUT/vfs-sums"
vfs() {
	local i n=$(((VFS_MIB + 63) / 64)) sum f got pids=()
	expect_eq "virtiofs hostc" findmnt -n -o FSTYPE,SOURCE /tmp/vfs/c || return 1
	# writer I: files I, I+2, ... of 64 MiB (the last one what is left of
	# VFS_MIB), streamed (the guest's /tmp cannot hold them).
	writer() {
		local i size sum flags="bs=1M oflag=direct"
		[ "$1" = 1 ] && flags="bs=64k"
		: >"$OUT/vfs-sums.$1"
		for i in $(seq "$1" 2 "$n"); do
			size=$((VFS_MIB - (i - 1) * 64))
			[ $size -gt 64 ] && size=64
			rm -f /tmp/vfs-sum.$1
			# dd is the pipeline's last command, so the file is written
			# when it returns; the sum arrives when sha256sum saw EOF.
			head -c $((size * MIB)) /dev/urandom | tee >(sha256sum >/tmp/vfs-sum.$1) |
				dd of=/tmp/vfs/c/stress/f$i.bin iflag=fullblock $flags status=none || return 1
			wait_for 30 test -s /tmp/vfs-sum.$1 || { echo "no sum for f$i.bin"; return 1; }
			echo "$(cut -d' ' -f1 /tmp/vfs-sum.$1)  c/stress/f$i.bin" >>"$OUT/vfs-sums.$1"
		done
	}
	writer 1 & pids+=($!)
	writer 2 & pids+=($!)
	for i in "${pids[@]}"; do wait "$i" || return 1; done
	sync -f /tmp/vfs/c/stress
	cat "$OUT"/vfs-sums.[12] >"$OUT/vfs-sums" && rm -f "$OUT"/vfs-sums.[12]
	[ "$(wc -l <"$OUT/vfs-sums")" = "$n" ] || { echo "$(wc -l <"$OUT/vfs-sums") of $n files written"; return 1; }
	echo 3 >/proc/sys/vm/drop_caches
	while read -r sum f; do
		got=$(sha256sum </tmp/vfs/${f} | cut -d' ' -f1)
		[ "$got" = "$sum" ] || { echo "$f read back $got, wrote $sum"; return 1; }
	done <"$OUT/vfs-sums"
	figure "vfs_bytes_written=$((VFS_MIB * MIB)) vfs_files=$n vfs_pool_failures=$(pool_col "$C" 9) vfs_hiwater_slots=$(pool_col "$C" 7)"
}
check "integrity: $VFS_MIB MiB through virtio-fs hostc's 2 MiB pool (two writers), read back intact" vfs
check "integrity: hostc used its pool" test "$(pool_col "$C" 8)" -gt 0
umount /tmp/vfs/c

# --- exhaustion -------------------------------------------------------------------------
exhaust() {
	# Four writers, each on its own 16 MiB, then each verifies what it wrote
	# (verifying jobs must not overlap).
	fio --name=x --filename="$DEV0" --rw=randwrite --bs=128k --iodepth=64 --numjobs=4 \
		--size=16M --offset_increment=16M --ioengine=libaio --direct=1 --loops=4 \
		--verify=crc32c --do_verify=1 --group_reporting >/tmp/fio.log 2>&1 ||
		{ grep -iE 'err|verify|bad' /tmp/fio.log | head -n 20; return 1; }
}
dmesg -C
check "exhaustion: 4 x 64 deep 128 KiB random writes, verified, on a 2 MiB pool" exhaust
full=$(dmesg | grep -c 'swiotlb buffer is full' || true)
figure "exhaustion_full_messages=$full (rate-limited)"
check "exhaustion: the pool did run out (swiotlb buffer is full logged)" test "$full" -gt 0
figure "exhaustion_failures_counted=$(pool_col "$BLK0" 9)"
check "exhaustion: the failures are counted in the pool's statistics" test "$(pool_col "$BLK0" 9)" -gt 0
check "exhaustion: nothing left mapped afterwards" expect_eq 0 pool_col "$BLK0" 6

for d in $BLK0 $BLK1 $C; do echo "$d" >$VIRTIO_PCI/unbind; done
rmmod $MODNAME
for d in $BLK0 $BLK1 $NET0 $C; do echo "$d" >$VIRTIO_PCI/bind; done

# --- hot-plug churn ------------------------------------------------------------------------
insmod "$MOD" test_mode=1 $MODARGS
table0=$(grep -v '^#' $DBG/devices | sort)
churn() {
	local i hp
	for i in $(seq "$HOTPLUGS"); do
		# device_del also deletes the drive: add it again. QEMU frees the previous
		# device (and its id) a little after the guest let go.
		local try=0 ans
		while { [ "$i" = 1 ] || qmp '{"execute":"human-monitor-command","arguments":{"command-line":"drive_add 0 if=none,id=hpdrive,format=raw,cache=unsafe,file='"$HP_DISK"'"}}' >/dev/null; } &&
			ans=$(qmp '{"execute":"device_add","arguments":{"driver":"virtio-blk-pci","id":"hp0","drive":"hpdrive","bus":"rp1","disable-legacy":"on","iommu_platform":true,"serial":"hp0"}}') &&
			grep -q '"error"' <<<"$ans"; do
			try=$((try + 1))
			[ $try -lt 30 ] || { echo "cycle $i: $ans"; return 1; }
			sleep 1
		done
		wait_for 30 sh -c '[ -n "$(ls /sys/bus/pci/devices/ | grep ^0000:01:)" ]' || { echo "cycle $i: no device"; return 1; }
		udevadm settle 2>/dev/null
		hp=$(pci_of_blk hp0)
		[ -n "$hp" ] && has_pool "$hp" >/dev/null || { echo "cycle $i: no pool"; return 1; }
		dd if=/dev/urandom of="$(dev_of_blk hp0)" bs=64k count=16 oflag=direct status=none
		qmp '{"execute":"device_del","arguments":{"id":"hp0"}}' >/dev/null || return 1
		wait_for 30 test ! -e "/sys/bus/pci/devices/$hp" || { echo "cycle $i: not removed"; return 1; }
	done
}
check "hotplug: $HOTPLUGS device_add/device_del cycles with I/O" churn
figure "hotplug_cycles=$HOTPLUGS"
check "hotplug: pool accounting back to its start" expect_eq "$table0" sh -c "grep -v '^#' $DBG/devices | sort"
rmmod $MODNAME
check "stress: no kernel splat or I/O error in the whole run" expect_eq 0 splats
udevadm settle 2>/dev/null
