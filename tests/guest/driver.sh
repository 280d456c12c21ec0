#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The companion driver in test mode on a kernel with the pool API: publication,
# one pool per iommu_platform virtio device, traffic isolation, rebinding,
# unload rules and parameters. Device names come from scripts/guest.sh.
. "$(dirname "$0")/lib.sh"
: "${MOD:?}" "${SWIOTLBCTL:?}" "${VFS_DIR:?set by scripts/guest.sh}"

MIB=1048576
NET0_MAC=52:54:00:00:00:10
NET1_MAC=52:54:00:00:00:11
BLK0=$(pci_of_blk blk0)
BLK1=$(pci_of_blk blk1)
NET0=$(pci_of_mac $NET0_MAC)
NET1=$(pci_of_mac $NET1_MAC)
echo "devices: blk0=$BLK0 blk1=$BLK1 net0=$NET0 net1(control)=$NET1" >>"$OUT/log"

dmesg -C
check "driver: insmod test_mode=1" insmod "$MOD" test_mode=1

# --- publication --------------------------------------------------------------
check "publish: swiotlb_base and swiotlb_size exist" \
	test -f $VIRTIO_PCI/swiotlb_base -a -f $VIRTIO_PCI/swiotlb_size
base=$(cat $VIRTIO_PCI/swiotlb_base)
size=$(cat $VIRTIO_PCI/swiotlb_size)
check "publish: base is 0x%llx (lowercase, no padding)" \
	sh -c "printf '%s\n' '$base' | grep -Eqx '0x(0|[1-9a-f][0-9a-f]*)'"
check "publish: size is %zu" sh -c "printf '%s\n' '$size' | grep -Eqx '[1-9][0-9]*'"
check "publish: each file is one line" \
	sh -c "[ \$(wc -l <$VIRTIO_PCI/swiotlb_base) = 1 ] && [ \$(wc -l <$VIRTIO_PCI/swiotlb_size) = 1 ]"
check "publish: size is the default 64 MiB" expect_eq $((64 * MIB)) echo "$size"
check "publish: base + size <= 4 GiB" test $((base + size)) -le $((1 << 32))
check "publish: base is 2 MiB aligned" expect_eq 0 echo $((base % (2 * MIB)))
check "publish: modes 0400 (base), 0444 (size)" \
	expect_eq "400 444" echo $(stat -c %a $VIRTIO_PCI/swiotlb_base $VIRTIO_PCI/swiotlb_size)
check "publish: matches the logged reservation" \
	sh -c "dmesg | grep -q 'reserved 64 MiB at $base\$'"
# --- what an unprivileged user can do --------------------------------------------
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
check "security: an unprivileged user cannot read swiotlb_base" \
	sh -c "! setpriv --reuid=65534 --regid=65534 --clear-groups cat $VIRTIO_PCI/swiotlb_base"
check "security: an unprivileged user reads swiotlb_size" \
	expect_eq "$size" as_nobody cat $VIRTIO_PCI/swiotlb_size
check "security: nobody, not even root, can write the attributes" \
	sh -c "! echo 0x1000 >$VIRTIO_PCI/swiotlb_base && ! echo 4096 >$VIRTIO_PCI/swiotlb_size"
check "security: the values did not change" \
	expect_eq "$base $size" echo $(cat $VIRTIO_PCI/swiotlb_base $VIRTIO_PCI/swiotlb_size)
check "security: an unprivileged user cannot read the debugfs table" \
	sh -c "! setpriv --reuid=65534 --regid=65534 --clear-groups cat $DBG/devices"
check "security: module parameters are read-only" \
	sh -c "! echo 1G >/sys/module/$MODNAME/parameters/size"

check "debugfs: layout is per-device" expect_eq per-device cat $DBG/layout
check "debugfs: no device had a pool before (all were bound already)" expect_eq 0 table_devices

# --- devices bound before the load are named, once, with how to move them ----------
prebound_named() { # each DMA-API device is named once, nothing else is
	local d n
	for d in $BLK0 $BLK1 $NET0 $(pci_of_vfs hostc) $(pci_of_vfs hostd); do
		n=$(dmesg | grep -c "$d: bound before hv_pci_swiotlb started: keeps the default SWIOTLB pool")
		[ "$n" = 1 ] || { echo "$d named $n times"; return 1; }
	done
	n=$(dmesg | grep -c ': bound before hv_pci_swiotlb started')
	[ "$n" = 5 ] || { echo "$n devices named, want 5"; dmesg | grep 'bound before'; return 1; }
}
check "prebound: blk0, blk1, net0 and the two virtio-fs shares are named once, the control NIC not" \
	prebound_named
check "prebound: one line says how to move them (unbind, bind in sysfs)" expect_eq 1 \
	sh -c "dmesg | grep -c '5 device(s) bound before this driver started keep the default SWIOTLB pool; .*echo <device> >$VIRTIO_PCI/unbind; echo <device> >$VIRTIO_PCI/bind\$'"

# --- one pool per device --------------------------------------------------------
for d in $NET0 $NET1 $BLK0 $BLK1; do rebind "$d"; done
sleep 1
check "attach: blk0, blk1 and net0 have pools" has_pool $BLK0 $BLK1 $NET0
check "attach: control device (no iommu_platform) holds no pool" no_pool $NET1
check "attach: control device was released for not using the DMA API" \
	sh -c "dmesg | grep -q '$NET1: SWIOTLB pool .* released (no VIRTIO_F_ACCESS_PLATFORM'"
check "attach: three distinct slices" \
	expect_eq 3 sh -c "awk '!/^#/ {print \$3}' $DBG/devices | sort -u | wc -l"
inside() {
	local b s
	for d in $BLK0 $BLK1 $NET0; do
		b=$(pool_col "$d" 3) s=$(pool_col "$d" 4)
		[ $((b)) -ge $((base)) ] && [ $((b + s)) -le $((base + size)) ] || return 1
	done
}
check "attach: every slice lies inside the published range" inside

# --- traffic raises only the device's own counters ------------------------------
snap() { echo "$(pool_col $BLK0 8) $(pool_col $BLK1 8) $(pool_col $NET0 8)"; }
grew() { # grew BEFORE AFTER WHICH: only column WHICH (1-3) grew
	local i b a
	for i in 1 2 3; do
		b=$(echo "$1" | cut -d' ' -f$i) a=$(echo "$2" | cut -d' ' -f$i)
		if [ $i = "$3" ]; then [ "$a" -gt "$b" ] || { echo "column $i: $b -> $a"; return 1; }
		else [ "$a" = "$b" ] || { echo "column $i changed: $b -> $a"; return 1; }; fi
	done
}
# Reads: closing a disk after writing makes udev probe it, which is traffic too.
# Resolve the nodes first: reading a disk's serial in sysfs is a request to it.
DEV0=$(dev_of_blk blk0) DEV1=$(dev_of_blk blk1)
udevadm settle 2>/dev/null
s0=$(snap)
dd if="$DEV0" of=/dev/null bs=64k count=64 iflag=direct status=none
s1=$(snap)
check "traffic: dd on blk0 bounces through blk0's pool only" grew "$s0" "$s1" 1
dd if="$DEV1" of=/dev/null bs=64k count=64 iflag=direct status=none
s2=$(snap)
check "traffic: dd on blk1 bounces through blk1's pool only" grew "$s1" "$s2" 2

# net0 pings its control peer, moved to a namespace so that the packets cross the wire.
peer_up
s3=$(snap)
check "traffic: ping over net0 to its control peer" ping -6 -c 5 -i 0.2 -W 2 -I "$IF0" fe80::11
s4=$(snap)
check "traffic: ping bounces through net0's pool only" grew "$s3" "$s4" 3
# (net0 keeps its receive buffers mapped while it is up.)
check "traffic: nothing left mapped on the disks after the traffic" \
	expect_eq "0 0" echo "$(pool_col $BLK0 6) $(pool_col $BLK1 6)"
check "traffic: high water recorded" test "$(pool_col $BLK0 7)" -gt 0
# Writes bounce the other way; what was written must read back the same.
rw() {
	local dev=$DEV1
	head -c $((4 * MIB)) /dev/urandom >/tmp/pattern
	dd if=/tmp/pattern of="$dev" bs=64k oflag=direct status=none &&
		[ "$(head -c $((4 * MIB)) "$dev" | md5sum)" = "$(md5sum </tmp/pattern)" ] &&
		[ "$(dd if="$dev" bs=64k count=64 iflag=direct status=none | md5sum)" = "$(md5sum </tmp/pattern)" ]
}
check "traffic: 4 MiB written through blk1's pool read back intact" rw
sleep 2 && udevadm settle 2>/dev/null # udev probes blk1 after that write
peer_down

# --- the userspace tool reads what sysfs says -----------------------------------
check "swiotlbctl: device-option matches sysfs" \
	expect_eq "swiotlb=$base,$size" "$SWIOTLBCTL" device-option --test-mode
check "swiotlbctl: status lists blk0's pool" \
	sh -c "'$SWIOTLBCTL' status --test-mode | grep -q '$BLK0'"

# --- a file share: virtio-fs hostc, WSL's /mnt/c ------------------------------------
# tests/guest/virtiofs.sh covers both shares in depth; here the share is one
# more kind of device next to the disks and the NIC, under the default layout.
SHARE=$(pci_of_vfs hostc)
rebind "$SHARE"
wait_for 10 has_pool "$SHARE"
check "share: virtio-fs hostc gets its own pool" has_pool "$SHARE"
disks() { echo "$(pool_col $BLK0 8) $(pool_col $BLK1 8)"; }
share_io() {
	local d0 m0 host=$VFS_DIR/c/file
	mkdir -p /tmp/hostc
	mount -t virtiofs hostc /tmp/hostc || return 1
	d0=$(disks) m0=$(pool_col "$SHARE" 8)
	dd if=/dev/urandom of=/tmp/hostc/file bs=1M count=8 conv=fsync status=none
	echo 3 >/proc/sys/vm/drop_caches
	# The host's file as the host's virtiofsd wrote it, read through vng's
	# root share (no ACCESS_PLATFORM, no pool): the other side of the share.
	a=$(md5sum </tmp/hostc/file) b=$(md5sum <"$host")
	umount /tmp/hostc
	echo "guest $a, host $b; share mappings $m0 -> $(pool_col "$SHARE" 8); disks $d0 -> $(disks)"
	[ "$a" = "$b" ] && [ "$(pool_col "$SHARE" 8)" -gt "$m0" ] && [ "$(disks)" = "$d0" ]
}
check "share: 8 MiB written through its pool reach the host intact, disks untouched" share_io

# --- hot-plug on a PCIe root port -------------------------------------------------
hp_has_pool() { local d; d=$(pci_of_blk hp0); [ -n "$d" ] && has_pool "$d"; }
hotplug() {
	qmp '{"execute":"device_add","arguments":{"driver":"virtio-blk-pci","id":"hp0","drive":"hpdrive","bus":"rp1","disable-legacy":"on","iommu_platform":true,"serial":"hp0"}}' || return 1
	wait_for 30 hp_has_pool || { echo "no pool for the hot-added disk"; return 1; }
	HP=$(pci_of_blk hp0)
	dd if=/dev/urandom of="$(dev_of_blk hp0)" bs=64k count=16 oflag=direct status=none
	[ "$(pool_col "$HP" 8)" -gt 0 ] || { echo "no bounces on $HP"; return 1; }
	qmp '{"execute":"device_del","arguments":{"id":"hp0"}}' || return 1
	wait_for 30 test ! -e "/sys/bus/pci/devices/$HP" || { echo "$HP still there"; return 1; }
	no_pool "$HP"
}
n0=$(table_devices)
check "hotplug: device_add attaches a pool, device_del releases it" hotplug
check "hotplug: table back to where it was" expect_eq "$n0" table_devices
check "hotplug: released on removal, logged" sh -c "dmesg | grep -q 'released (device removed)\|released (driver unbound)'"

# --- unbind and bind --------------------------------------------------------------
echo "$BLK0" >$VIRTIO_PCI/unbind
check "rebind: unbind releases the pool" no_pool $BLK0
echo "$BLK0" >$VIRTIO_PCI/bind
check "rebind: bind attaches again" has_pool $BLK0
check "rebind: a rebound device is not named as bound before the load again" \
	expect_eq 1 sh -c "dmesg | grep -c '$BLK0: bound before hv_pci_swiotlb started'"

# --- the table while a device comes and goes ----------------------------------------
# Readers of the table do not wait for unbind: each row names the driver the device
# had when it got its pool, never whatever its driver pointer says meanwhile.
table_vs_unbind() {
	local i rows=0 bad=0 line
	(for i in $(seq 50); do
		echo "$BLK1" >$VIRTIO_PCI/unbind && echo "$BLK1" >$VIRTIO_PCI/bind || exit 1
	done) &
	local pid=$!
	while kill -0 $pid 2>/dev/null; do
		while read -r line; do
			case $line in
			"#"*) ;;
			*" virtio-pci 0x"*) rows=$((rows + 1)) ;;
			*) echo "bad row: $line"; bad=1 ;;
			esac
		done <$DBG/devices || bad=1
	done
	wait $pid || { echo "unbind/bind failed"; bad=1; }
	echo "$rows rows read"
	! dmesg | grep -E 'BUG:|Oops|general protection' && [ $bad = 0 ] && [ $rows -gt 0 ]
}
check "table: read while blk1 is unbound and bound 50 times, every row names virtio-pci" \
	table_vs_unbind
check "table: blk1 has its pool after the loop" has_pool $BLK1

# --- unload -----------------------------------------------------------------------
check "unload: refused while devices hold pools" sh -c "! rmmod $MODNAME 2>/dev/null"
check "unload: module still there" grep -q "^$MODNAME " /proc/modules
for d in $BLK0 $BLK1 $NET0 $SHARE; do echo "$d" >$VIRTIO_PCI/unbind; done
check "unload: table empty once unbound" expect_eq 0 table_devices
check "unload: rmmod succeeds" rmmod $MODNAME
check "unload: no pool left in debugfs" sh -c "! ls -d /sys/kernel/debug/swiotlb/hv_pci_swiotlb-* 2>/dev/null"
check "unload: attributes gone" test ! -e $VIRTIO_PCI/swiotlb_base
check "unload: debugfs directory gone" test ! -e $DBG
for d in $BLK0 $BLK1 $NET0 $SHARE; do echo "$d" >$VIRTIO_PCI/bind; done

# --- load/unload cycles -------------------------------------------------------------
free0=$(awk '/MemFree/ {print $2}' /proc/meminfo)
cycles() {
	local i
	for i in $(seq 10); do
		insmod "$MOD" test_mode=1 || return 1
		rmmod $MODNAME || return 1
	done
	! ls -d /sys/kernel/debug/swiotlb/hv_pci_swiotlb-* 2>/dev/null && [ ! -e $DBG ]
}
check "cycles: 10 load/unload cycles leave nothing behind" cycles
free1=$(awk '/MemFree/ {print $2}' /proc/meminfo)
check "cycles: memory returned (MemFree within 8 MiB)" \
	test $((free0 - free1)) -lt 8192

# --- parameters ---------------------------------------------------------------------
sized() { # sized PARAMS WANT: load with PARAMS, published size must be WANT
	insmod "$MOD" test_mode=1 $1 || return 1
	local got
	got=$(cat $VIRTIO_PCI/swiotlb_size 2>/dev/null || echo none)
	rmmod $MODNAME
	[ "$got" = "$2" ] || { echo "size=$got, want $2"; return 1; }
}
check "params: size=16M" sized size=16M $((16 * MIB))
dmesg -C
check "params: size=3M is rounded to 4 MiB" sized size=3M $((4 * MIB))
check "params: rounding is logged" sh -c "dmesg | grep -q 'rounded up to 4194304'"
check "params: size=0 disables" sized size=0 none
check "params: size=garbage falls back to the default pool" sized size=garbage none
check "params: size=4G is refused" sized size=4G none
check "params: max_devices=0 falls back to 4 pools" sized max_devices=0 $((64 * MIB))
shared() {
	insmod "$MOD" test_mode=1 layout=shared size=8M || return 1
	rebind $BLK0
	rebind $BLK1
	local l b0 b1
	l=$(cat $DBG/layout) b0=$(pool_col $BLK0 3) b1=$(pool_col $BLK1 3)
	echo $BLK0 >$VIRTIO_PCI/unbind
	echo $BLK1 >$VIRTIO_PCI/unbind
	rmmod $MODNAME
	echo $BLK0 >$VIRTIO_PCI/bind
	echo $BLK1 >$VIRTIO_PCI/bind
	[ "$l" = shared ] && [ -n "$b0" ] && [ "$b0" = "$b1" ] || { echo "layout=$l $b0 $b1"; return 1; }
}
check "params: layout=shared gives all devices one pool" shared
dmesg -C
unknown_layout() {
	insmod "$MOD" test_mode=1 layout=bogus || return 1
	local l
	l=$(cat $DBG/layout)
	rmmod $MODNAME
	[ "$l" = per-device ] && dmesg | grep -q 'unknown layout'
}
check "params: unknown layout falls back to per-device, logged" unknown_layout

udevadm settle 2>/dev/null # let probes of rebound devices finish before power-off
