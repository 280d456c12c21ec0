#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# A kernel that exports Microsoft's swiotlb_create_pool() (WSL kernels from
# 6.18.26.3 on; here a stand-in module with the four-argument signature):
# the driver says what it found, reserves and publishes nothing, gives no
# device a pool, never calls the foreign symbol and holds no reference to
# it. Without the stand-in, the same module makes its pools again.
. "$(dirname "$0")/lib.sh"
: "${MOD:?MOD must name the module to load}"
: "${STANDIN:?STANDIN must name shared_pool_standin.ko}"

PARAMS=/sys/module/shared_pool_standin/parameters

check "shared-pool: stand-in exporting swiotlb_create_pool loads" insmod "$STANDIN"
dmesg -C
check "shared-pool: insmod test_mode=1 succeeds" insmod "$MOD" test_mode=1
dmesg >"$OUT/dmesg-load.txt"
check "shared-pool: says once that Microsoft's pool is in charge" \
	expect_eq 1 said_shared
check "shared-pool: not the missing-patch message" expect_eq 0 count_msg "$MISSING_PATCH_MSG"
check "shared-pool: no pool of ours" expect_eq 0 our_pools
check "shared-pool: publishes nothing" test ! -e "$VIRTIO_PCI/swiotlb_base"
check "shared-pool: no debugfs view" test ! -e "$DBG"
# A device bound now would be handed a pool by an active driver.
bdf=$(pci_of_blk blk0)
check "shared-pool: a disk rebinds" rebind "$bdf"
check "shared-pool: still no pool after a rebind" expect_eq 0 our_pools
check "shared-pool: the foreign function was never called" expect_eq 0 cat "$PARAMS/calls"
check "shared-pool: no warning" sh -c "! dmesg | grep -q 'WARNING:'"
check "shared-pool: rmmod succeeds" rmmod "$MODNAME"
# A reference left on the symbol would keep the stand-in loaded.
check "shared-pool: no reference left on the foreign symbol" rmmod shared_pool_standin

dmesg -C
check "shared-pool: without it, insmod test_mode=1 succeeds" insmod "$MOD" test_mode=1
check "shared-pool: without it, the pools are made" sh -c "[ \$(ls -d /sys/kernel/debug/swiotlb/hv_pci_swiotlb-* | wc -l) -gt 0 ]"
check "shared-pool: without it, no step-aside message" \
	expect_eq 0 said_shared
check "shared-pool: rmmod again" rmmod "$MODNAME"
