#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The driver built in, booted with hv_pci_swiotlb=32M hv_pci_swiotlb.test_mode=1:
# it reserved early and gave the devices present at boot their pools.
. "$(dirname "$0")/lib.sh"

MIB=1048576
BLK0=$(pci_of_blk blk0) BLK1=$(pci_of_blk blk1)
NET0=$(pci_of_mac 52:54:00:00:00:10) NET1=$(pci_of_mac 52:54:00:00:00:11)
SHARE=$(pci_of_vfs hostc) # virtio-fs, WSL's /mnt/c

check "builtin: hv_pci_swiotlb=32M was honoured" \
	expect_eq $((32 * MIB)) cat $VIRTIO_PCI/swiotlb_size
check "builtin: reserved before any device got a pool" sh -c '
	dmesg | grep -n "hv_pci_swiotlb: reserved 32 MiB" | head -n1 | cut -d: -f1 >/tmp/r
	dmesg | grep -n "SWIOTLB pool [0-9]" | head -n1 | cut -d: -f1 >/tmp/a
	[ -s /tmp/r ] && [ -s /tmp/a ] && [ $(cat /tmp/r) -lt $(cat /tmp/a) ]'
check "builtin: devices present at boot have pools" has_pool $BLK0 $BLK1 $NET0 $SHARE
check "builtin: the control device has none" no_pool $NET1
check "builtin: no missing-patch message" expect_eq 0 count_msg "$MISSING_PATCH_MSG"
io() {
	local m0
	m0=$(pool_col $BLK0 8)
	dd if=/dev/urandom of="$(dev_of_blk blk0)" bs=64k count=16 oflag=direct status=none
	[ "$(pool_col $BLK0 8)" -gt "$m0" ]
}
check "builtin: blk0 bounces through its pool" io
# swiotlb's debugfs directory exists before device_initcall, so built-in pools
# are where the admin guide says, next to the default pool's files.
check "builtin: pools are in swiotlb's debugfs directory" \
	sh -c 'test -d /sys/kernel/debug/swiotlb/hv_pci_swiotlb-0 &&
		test -f /sys/kernel/debug/swiotlb/io_tlb_nslabs &&
		! ls -d /sys/kernel/debug/hv_pci_swiotlb-* 2>/dev/null'
