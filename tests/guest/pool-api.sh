#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# On a kernel with the SWIOTLB device pool API: the module finds it, does not
# print the missing-patch message, and its KUnit suites (saved for the host to
# parse) run against the real API. Unloading leaves no pool behind.
. "$(dirname "$0")/lib.sh"
: "${MOD:?MOD must name the module to load}"

# The boot log, for the kernel crate's KUnit suites (run.sh parses it).
dmesg >"$OUT/dmesg-boot.txt"
dmesg -C
check "pool-api: insmod succeeds" insmod "$MOD"
dmesg >"$OUT/dmesg-load.txt"
check "pool-api: API detected" expect_eq 1 count_msg "SWIOTLB device pool API available"
check "pool-api: no missing-patch message" expect_eq 0 count_msg "$MISSING_PATCH_MSG"
check "pool-api: rmmod succeeds" rmmod "$MODNAME"
check "pool-api: no test pool left in debugfs" \
	sh -c "! ls -d /sys/kernel/debug/swiotlb/hv_pci_swiotlb* 2>/dev/null"
