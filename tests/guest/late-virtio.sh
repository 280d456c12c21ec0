#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# virtio-pci binds a function before any virtio driver binds its virtio
# device (a virtio driver built as a module and not loaded yet; here: the
# virtio bus's autoprobe off). The pool decision is still made at once and
# for good, from what the device offers: the control NIC (no
# iommu_platform) gives its pool back, net0 keeps its own and bounces
# through it once virtio_net binds.
. "$(dirname "$0")/lib.sh"
: "${MOD:?}"

NET0_MAC=52:54:00:00:00:10
NET1_MAC=52:54:00:00:00:11
NET0=$(pci_of_mac $NET0_MAC)
NET1=$(pci_of_mac $NET1_MAC)
AUTOPROBE=/sys/bus/virtio/drivers_autoprobe

# virtio_of BDF: the virtio device of that PCI function.
virtio_of() {
	basename "$(ls -d /sys/bus/pci/devices/"$1"/virtio* | head -n1)"
}

dmesg -C
check "late-virtio: insmod test_mode=1" insmod "$MOD" test_mode=1
echo 0 >$AUTOPROBE
rebind "$NET0"
rebind "$NET1"
sleep 1
v0=$(virtio_of "$NET0")
v1=$(virtio_of "$NET1")
echo "net0=$NET0 ($v0) net1=$NET1 ($v1)" >>"$OUT/log"
check "late-virtio: no virtio driver bound yet" \
	test ! -e /sys/bus/virtio/devices/"$v0"/driver -a ! -e /sys/bus/virtio/devices/"$v1"/driver
check "late-virtio: the control NIC's pool went back at once (offers no ACCESS_PLATFORM)" \
	no_pool "$NET1"
check "late-virtio: net0 keeps its pool (offers ACCESS_PLATFORM)" has_pool "$NET0"

echo 1 >$AUTOPROBE
echo "$v0" >/sys/bus/virtio/drivers/virtio_net/bind
echo "$v1" >/sys/bus/virtio/drivers/virtio_net/bind
sleep 1
up() {
	local n m0
	n=$(netdev_of_mac $NET0_MAC)
	[ -n "$n" ] || { echo "no interface for $NET0_MAC"; return 1; }
	m0=$(pool_col "$NET0" 8)
	ip link set dev "$n" up
	sleep 1
	# Opening the interface posts receive buffers: mappings in net0's pool.
	[ "$(pool_col "$NET0" 8)" -gt "$m0" ] || { echo "mappings stayed at $m0"; return 1; }
}
check "late-virtio: net0 bounces through its pool once virtio_net binds" up
check "late-virtio: the control NIC still has no pool" no_pool "$NET1"
check "late-virtio: rmmod after unbinding net0" \
	sh -c "ip link set dev $(netdev_of_mac $NET0_MAC) down; echo $NET0 >$VIRTIO_PCI/unbind &&
		rmmod $MODNAME && echo $NET0 >$VIRTIO_PCI/bind"
