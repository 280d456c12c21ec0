#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Not a Hyper-V guest and no test_mode: a distribution kernel on bare metal or
# another hypervisor. The driver (built in, or the module $MOD if given) must
# cost nothing: no reservation, no pools, nothing published; it says so once.
# PRODUCTION=1: $MOD was built without CONFIG_HV_PCI_SWIOTLB_DEBUG, so it has
# no test parameters and does not mention them.
. "$(dirname "$0")/lib.sh"
what=${MOD:+module}
what=${what:-built in}
hint=" (test_mode=1 serves QEMU guests)"
args=
if [ "${PRODUCTION:-0}" = 1 ]; then
	what=production
	hint=
	# The module loader ignores an unknown parameter, with a warning: the
	# load below must then go on as without it.
	args=test_mode=1
	check "elsewhere($what): no test_mode or layout parameter" \
		sh -c "! modinfo -F parm '$MOD' | grep -Eq '^(test_mode|layout):'"
fi

if [ -n "${MOD:-}" ]; then
	dmesg -C
	check "elsewhere($what): insmod ${args:-without test_mode}" insmod "$MOD" $args
fi
if [ -n "$args" ]; then
	check "elsewhere($what): test_mode=1 is an unknown parameter, ignored" \
		sh -c "dmesg | grep -q \"unknown parameter 'test_mode' ignored\""
fi
check "elsewhere($what): says once that this is no Hyper-V guest" expect_eq 1 \
	count_msg "not a Hyper-V guest$hint: nothing reserved; idle"
check "elsewhere($what): reserved nothing" sh -c "! dmesg | grep -q 'hv_pci_swiotlb: reserved [0-9]'"
check "elsewhere($what): no pool made" sh -c "! ls -d /sys/kernel/debug/swiotlb/hv_pci_swiotlb-* 2>/dev/null"
check "elsewhere($what): publishes nothing" test ! -e $VIRTIO_PCI/swiotlb_base
check "elsewhere($what): no missing-patch message" expect_eq 0 count_msg "$MISSING_PATCH_MSG"
if [ -n "${MOD:-}" ]; then
	check "elsewhere($what): rmmod succeeds" rmmod "$MODNAME"
fi
