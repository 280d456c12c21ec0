#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A kernel with Microsoft's hv_pci pool patch (make test-wsl MS_PATCH=...),
# booted with hv_pci_swiotlb=<SIZE>. One owner of the parameter, the range and
# the files, never two reservations:
#   MODE=module   hv_pci_swiotlb as a module: Microsoft's pci-hyperv.c
#                 reserved its shared pool at boot; the module (MOD) says so,
#                 makes nothing and never calls swiotlb_create_pool().
#   MODE=builtin  hv_pci_swiotlb built in with the patch that replaces the
#                 shared pool: only our reservation, per-device pools.
#   MODE=builtin-unreplaced  built in without that patch: the driver steps
#                 aside at boot and Microsoft's pool is the only one.
. "$(dirname "$0")/lib.sh"
: "${MODE:?MODE must be module, builtin or builtin-unreplaced}"
: "${SIZE:?SIZE must be the hv_pci_swiotlb= value in MiB}"

MIB=1048576
MS_RESERVED='hv_pci: reserved swiotlb pool'
ms_reservations() { dmesg | grep -c "$MS_RESERVED" || true; }
our_reservations() { dmesg | grep -c "hv_pci_swiotlb: reserved [0-9]* MiB" || true; }
BLK0=$(pci_of_blk blk0)

check "ms-$MODE: swiotlb_create_pool is exported (Microsoft's patch is in)" \
	grep -qw swiotlb_create_pool /proc/kallsyms
case $MODE in
module | builtin-unreplaced)
	check "ms-$MODE: Microsoft's pool reserved once" expect_eq 1 ms_reservations
	check "ms-$MODE: its debugfs directory exists" test -d /sys/kernel/debug/hv-pci-swiotlb
	if [ "$MODE" = module ]; then
		dmesg -C
		check "ms-$MODE: insmod test_mode=1 succeeds" insmod "$MOD" test_mode=1
	fi
	dmesg >"$OUT/dmesg-$MODE.txt"
	check "ms-$MODE: the driver says Microsoft's pool is in charge, once" expect_eq 1 said_shared
	check "ms-$MODE: not the missing-patch message" expect_eq 0 count_msg "$MISSING_PATCH_MSG"
	check "ms-$MODE: no reservation of ours" expect_eq 0 our_reservations
	check "ms-$MODE: no pool of ours" expect_eq 0 our_pools
	check "ms-$MODE: nothing published in virtio-pci's directory" test ! -e "$VIRTIO_PCI/swiotlb_base"
	check "ms-$MODE: a disk rebinds" rebind "$BLK0"
	check "ms-$MODE: still no pool of ours" expect_eq 0 our_pools
	check "ms-$MODE: no warning" sh -c "! dmesg | grep -q 'WARNING:'"
	[ "$MODE" = module ] && check "ms-$MODE: rmmod succeeds" rmmod "$MODNAME"
	;;
builtin)
	dmesg >"$OUT/dmesg-$MODE.txt"
	check "ms-$MODE: Microsoft's pool was not reserved" expect_eq 0 ms_reservations
	check "ms-$MODE: no debugfs directory of Microsoft's pool" test ! -e /sys/kernel/debug/hv-pci-swiotlb
	check "ms-$MODE: our one reservation" expect_eq 1 our_reservations
	check "ms-$MODE: hv_pci_swiotlb=${SIZE}M was honoured by us" \
		expect_eq $((SIZE * MIB)) cat "$VIRTIO_PCI/swiotlb_size"
	check "ms-$MODE: no step-aside message" expect_eq 0 said_shared
	check "ms-$MODE: the disks have pools of their own" has_pool "$BLK0" "$(pci_of_blk blk1)"
	io() {
		local m0
		m0=$(pool_col "$BLK0" 8)
		dd if=/dev/urandom of="$(dev_of_blk blk0)" bs=64k count=16 oflag=direct status=none
		[ "$(pool_col "$BLK0" 8)" -gt "$m0" ]
	}
	check "ms-$MODE: blk0 bounces through its own pool" io
	check "ms-$MODE: no warning" sh -c "! dmesg | grep -q 'WARNING:'"
	;;
*) echo "unknown MODE=$MODE" >&2; exit 2 ;;
esac
