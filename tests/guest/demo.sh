#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of `make run`: show the kernel, the virtio devices and what the
# companion driver does with them. Output goes to $OUT/demo.txt.
: "${OUT:?}" "${MOD:?}" "${SWIOTLBCTL:?}"
. "$(dirname "$0")/lib.sh"
exec >"$OUT/demo.txt" 2>&1

echo "== kernel"
echo "$(uname -r), command line: $(tr ' ' '\n' </proc/cmdline | grep -E '^(swiotlb|hv_pci_swiotlb)' | tr '\n' ' ')"

list_devices() {
	printf '  %-13s %-6s %-11s %-14s %s\n' DEVICE ID DRIVER ACCESS_PLATFORM VIRTIO-DRIVER
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/vendor")" = 0x1af4 ] || continue
		local drv vdev plat=- vname=-
		drv=$(basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null)
		vdev=$(ls -d "$d"/virtio* 2>/dev/null | head -n1)
		if [ -n "$vdev" ]; then
			feat=$(cat "$vdev/features")
			plat=$([ "${feat:33:1}" = 1 ] && echo yes || echo no)
			vname=$(basename "$(readlink "$vdev/driver" 2>/dev/null)" 2>/dev/null)
		fi
		printf '  %-13s %-6s %-11s %-14s %s\n' "$(basename "$d")" "$(cut -c3- "$d/device")" \
			"${drv:--}" "$plat" "${vname:--}"
	done
}
echo "== virtio PCI functions (ACCESS_PLATFORM: the device bounces through SWIOTLB)"
list_devices

# Five devices bounce (net0, blk0, blk1 and the two virtio-fs shares): the
# default max_devices=4 would leave the fifth on the default pool. One pool
# each: 64 MiB in five 12 MiB pools (4 MiB of the range stays unused; six
# pools would leave the same 4 MiB over, in smaller pools for no device).
echo "== insmod $(basename "$MOD") test_mode=1 max_devices=5"
dmesg -C
insmod "$MOD" test_mode=1 max_devices=5
BLK0=$(pci_of_blk blk0) BLK1=$(pci_of_blk blk1) NET0=$(pci_of_mac 52:54:00:00:00:10)
NET1=$(pci_of_mac 52:54:00:00:00:11) C=$(pci_of_vfs hostc) D=$(pci_of_vfs hostd)
echo "== rebinding the devices bound at boot so that virtio-pci binds them with the driver loaded"
for d in $NET0 $NET1 $BLK0 $BLK1 $C $D; do rebind "$d"; done
udevadm settle 2>/dev/null
wait_for 10 has_pool "$C" "$D"
dmesg -t | grep -E '^hv_pci_swiotlb|SWIOTLB pool' | sed 's/^/  /'

# /mnt is the host's, read-only, in these guests: a tmpfs over it gives the
# shares WSL's mount points.
mount -t tmpfs none /mnt && mkdir -p /mnt/c /mnt/d
mount -t virtiofs hostc /mnt/c && mount -t virtiofs hostd /mnt/d
echo "== the shares: hostc at /mnt/c ($C), hostd at /mnt/d ($D), a pool each"
findmnt -n -t virtiofs -o TARGET,SOURCE,FSTYPE | sed 's/^/  /'
share_row() { printf '  %-7s %-13s %-10s %-9s %s\n' "$@"; }
share_table() {
	share_row SHARE DEVICE BASE MAPPINGS FAILURES
	share_row /mnt/c "$C" "$(pool_col "$C" 3)" "$(pool_col "$C" 8)" "$(pool_col "$C" 9)"
	share_row /mnt/d "$D" "$(pool_col "$D" 3)" "$(pool_col "$D" 8)" "$(pool_col "$D" 9)"
}
share_table
c0=$(pool_col "$C" 8) d0=$(pool_col "$D" 8)
echo "== file I/O on /mnt/c only: 200 files of 4-64 KiB and one 8 MiB file written, read back uncached"
for i in $(seq 200); do head -c $((4096 * (1 + i % 16))) /dev/urandom >/mnt/c/f$i; done
head -c $((8 * 1048576)) /dev/urandom >/mnt/c/big && sync /mnt/c/big
echo 3 >/proc/sys/vm/drop_caches
cat /mnt/c/f* /mnt/c/big | wc -c | sed 's/^/  bytes read back: /'
share_table
# Said from the counters, not assumed: a change on /mnt/d would show here.
echo "  mappings: /mnt/c +$(($(pool_col "$C" 8) - c0)), /mnt/d +$(($(pool_col "$D" 8) - d0))"
umount /mnt/c /mnt/d

echo "== traffic: 2 MiB through each disk, pings over net0"
dd if=/dev/urandom of="$(dev_of_blk blk0)" bs=64k count=32 oflag=direct status=none
dd if=/dev/urandom of="$(dev_of_blk blk1)" bs=64k count=32 oflag=direct status=none
peer_up
ping -6 -c 3 -i 0.2 -I "$IF0" fe80::11 2>/dev/null | tail -n 2 | sed 's/^/  /'

echo "== /sys/bus/pci/drivers/virtio-pci/swiotlb_{base,size} (hv_pci's directory on Hyper-V)"
echo "  swiotlb_base: $(cat $VIRTIO_PCI/swiotlb_base)   swiotlb_size: $(cat $VIRTIO_PCI/swiotlb_size)"
echo "== swiotlbctl device-option --test-mode (the token the host appends to each device)"
"$SWIOTLBCTL" device-option --test-mode 2>&1 | sed 's/^/  /'
echo "== swiotlbctl status --test-mode"
"$SWIOTLBCTL" status --test-mode 2>&1 | sed 's/^/  /'
