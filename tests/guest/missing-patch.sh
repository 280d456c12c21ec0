#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# On a kernel without the SWIOTLB device pool API (CONFIG_SWIOTLB_DEVICE_POOL=n),
# the module built for it loads, says so
# exactly once with the WSL wording, stays loaded and unloads cleanly.
# Also saves the load-time log, which carries the module's KUnit suites.
. "$(dirname "$0")/lib.sh"
: "${MOD:?MOD must name the module to load}"

# The boot log carries the kernel crate's KUnit suites (run.sh parses them).
dmesg >"$OUT/dmesg-boot.txt"
dmesg -C
check "missing-patch: insmod test_mode=1 succeeds" insmod "$MOD" test_mode=1
dmesg >"$OUT/dmesg-load.txt"
check "missing-patch: exact message logged once" \
	expect_eq 1 count_msg "$MISSING_PATCH_MSG"
check "missing-patch: module stays loaded" grep -q "^$MODNAME " /proc/modules
check "missing-patch: publishes nothing" \
	test ! -e /sys/bus/pci/drivers/virtio-pci/swiotlb_base
check "missing-patch: no debugfs directory" test ! -e "$DBG"
check "missing-patch: rmmod succeeds" rmmod "$MODNAME"
check "missing-patch: module gone after rmmod" sh -c "! grep -q '^$MODNAME ' /proc/modules"
