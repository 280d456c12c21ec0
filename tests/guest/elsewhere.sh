#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Not a Hyper-V guest and no test_mode: a distribution kernel on bare metal or
# another hypervisor. The driver (built in, or the module $MOD if given) must
# cost nothing: no reservation, no pools, nothing published; it says so once.
. "$(dirname "$0")/lib.sh"
what=${MOD:+module}
what=${what:-built in}

if [ -n "${MOD:-}" ]; then
	dmesg -C
	check "elsewhere($what): insmod without test_mode" insmod "$MOD"
fi
check "elsewhere($what): says once that this is no Hyper-V guest" expect_eq 1 \
	count_msg "not a Hyper-V guest (test_mode=1 serves QEMU guests): nothing reserved; idle"
check "elsewhere($what): reserved nothing" sh -c "! dmesg | grep -q 'hv_pci_swiotlb: reserved [0-9]'"
check "elsewhere($what): no pool made" sh -c "! ls -d /sys/kernel/debug/swiotlb/hv_pci_swiotlb-* 2>/dev/null"
check "elsewhere($what): publishes nothing" test ! -e $VIRTIO_PCI/swiotlb_base
check "elsewhere($what): no missing-patch message" expect_eq 0 count_msg "$MISSING_PATCH_MSG"
if [ -n "${MOD:-}" ]; then
	check "elsewhere($what): rmmod succeeds" rmmod "$MODNAME"
fi
