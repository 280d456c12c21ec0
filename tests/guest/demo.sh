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

echo "== insmod $(basename "$MOD") test_mode=1"
dmesg -C
insmod "$MOD" test_mode=1
BLK0=$(pci_of_blk blk0) BLK1=$(pci_of_blk blk1) NET0=$(pci_of_mac 52:54:00:00:00:10)
NET1=$(pci_of_mac 52:54:00:00:00:11) SHARE=$(pci_of_tag hvshare)
echo "== rebinding the test devices so that virtio-pci binds them with the driver loaded"
for d in $NET0 $NET1 $BLK0 $BLK1 $SHARE; do rebind "$d"; done
udevadm settle 2>/dev/null
dmesg -t | grep -E '^hv_pci_swiotlb|SWIOTLB pool' | sed 's/^/  /'

echo "== traffic: 2 MiB through each disk, 4 MiB through the 9p share, pings over net0"
dd if=/dev/urandom of="$(dev_of_blk blk0)" bs=64k count=32 oflag=direct status=none
dd if=/dev/urandom of="$(dev_of_blk blk1)" bs=64k count=32 oflag=direct status=none
mkdir -p /tmp/hvshare && mount -t 9p -o trans=virtio,version=9p2000.L hvshare /tmp/hvshare &&
	dd if=/dev/urandom of=/tmp/hvshare/demo bs=1M count=4 conv=fsync status=none && umount /tmp/hvshare
peer_up
ping -6 -c 3 -i 0.2 -I "$IF0" fe80::11 2>/dev/null | tail -n 2 | sed 's/^/  /'

echo "== /sys/bus/pci/drivers/virtio-pci/swiotlb_{base,size} (hv_pci's directory on Hyper-V)"
echo "  swiotlb_base: $(cat $VIRTIO_PCI/swiotlb_base)   swiotlb_size: $(cat $VIRTIO_PCI/swiotlb_size)"
echo "== swiotlbctl device-option --test-mode (the token the host appends to each device)"
"$SWIOTLBCTL" device-option --test-mode 2>&1 | sed 's/^/  /'
echo "== swiotlbctl status --test-mode"
"$SWIOTLBCTL" status --test-mode 2>&1 | sed 's/^/  /'
