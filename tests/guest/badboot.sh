#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The driver built in, booted with a bad hv_pci_swiotlb= value (BOOT_VALUE):
# one log line says what is wrong (LOG, an extended regex), nothing is
# reserved or published, the devices keep the default pool and work.
. "$(dirname "$0")/lib.sh"
: "${BOOT_VALUE?}" "${LOG:?}"

BLK0=$(pci_of_blk blk0)
DEV0=$(dev_of_blk blk0)
name="bad boot input: hv_pci_swiotlb=$BOOT_VALUE"

logged() { dmesg | grep -E "$1"; }
check "$name: says so in the log" logged "$LOG"
check "$name: nothing reserved" sh -c '! dmesg | grep -q "hv_pci_swiotlb: reserved"'
check "$name: nothing published" test ! -e $VIRTIO_PCI/swiotlb_size
check "$name: blk0 keeps the default pool" no_pool "$BLK0"
check "$name: the disk works (1 MiB written, read back intact)" io_intact "$DEV0"
