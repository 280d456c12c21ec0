# SPDX-License-Identifier: GPL-2.0
# Sourced by the guest-side test scripts. Each check appends one line,
# "ok - NAME" or "not ok - NAME", to $OUT/results; a failed check adds the
# command's output and the tail of dmesg as "# " lines under it.

: "${OUT:?OUT must name the shared results directory}"
MISSING_PATCH_MSG='The running kernel is missing a patch that significantly improves virtio device performance. Update to a more recent WSL kernel to enable this optimization.'
MODNAME=hv_pci_swiotlb
# The start of the driver's line on a kernel with Microsoft's hv_pci pool.
SHARED_POOL_MSG="this kernel carries Microsoft's hv_pci SWIOTLB pool"

# check NAME CMD...: run CMD, record the verdict under NAME.
check() {
	local name=$1 log rc=0
	shift
	log=$(mktemp)
	"$@" >"$log" 2>&1 || rc=$?
	if [ $rc = 0 ]; then
		echo "ok - $name" >>"$OUT/results"
	else
		{
			echo "not ok - $name"
			echo "# command: $* (exit $rc)"
			sed 's/^/#   /' "$log" | tail -n 20
			echo "# dmesg tail:"
			dmesg | tail -n 30 | sed 's/^/#   /'
		} >>"$OUT/results"
	fi
	rm -f "$log"
	return 0
}

# count_msg TEXT: how many dmesg lines are exactly "hv_pci_swiotlb: TEXT".
count_msg() {
	dmesg -t | grep -cxF "$MODNAME: $1" || true
}

# expect_eq WANT CMD...: CMD's output equals WANT.
expect_eq() {
	local want=$1 got
	shift
	got=$("$@")
	[ "$got" = "$want" ] || { echo "expected '$want', got '$got'"; return 1; }
}

mountpoint -q /sys/kernel/debug || mount -t debugfs none /sys/kernel/debug

DBG=/sys/kernel/debug/hv_pci_swiotlb
VIRTIO_PCI=/sys/bus/pci/drivers/virtio-pci

# pci_of_blk SERIAL: PCI address of the virtio-blk disk with that serial.
pci_of_blk() {
	local d
	for d in /sys/block/vd*; do
		[ "$(cat "$d/serial" 2>/dev/null)" = "$1" ] || continue
		basename "$(dirname "$(readlink -f "$d/device")")"
		return
	done
}

# dev_of_blk SERIAL: /dev node of that disk.
dev_of_blk() {
	local d
	for d in /sys/block/vd*; do
		[ "$(cat "$d/serial" 2>/dev/null)" = "$1" ] && echo "/dev/$(basename "$d")" && return
	done
}

# netdev_of_mac MAC: interface name with that address.
netdev_of_mac() {
	local n
	for n in /sys/class/net/*; do
		[ "$(cat "$n/address")" = "$1" ] && basename "$n" && return
	done
}

# pci_of_mac MAC: PCI address of that virtio-net function.
pci_of_mac() {
	basename "$(dirname "$(readlink -f "/sys/class/net/$(netdev_of_mac "$1")/device")")"
}

# rebind BDF: unbind from virtio-pci and bind again (a pool is handed out on bind).
rebind() {
	echo "$1" >"$VIRTIO_PCI/unbind" && echo "$1" >"$VIRTIO_PCI/bind"
}

# pool_line BDF: the device's line in the driver's debugfs table (empty if none).
pool_line() {
	grep "^$1 " "$DBG/devices" 2>/dev/null
}

# pool_col BDF N: column N of that line (3 base, 4 size, 6 used, 7 hiwater,
# 8 mappings, 9 failures).
pool_col() {
	pool_line "$1" | awk -v n="$2" '{print $n}'
}

# table_devices: number of devices in the table.
table_devices() {
	grep -vc '^#' "$DBG/devices" 2>/dev/null || true
}

# has_pool BDF...: each device has a line in the table.
has_pool() {
	local d
	for d; do [ -n "$(pool_line "$d")" ] || { echo "$d has no pool"; return 1; }; done
}

# no_pool BDF...: none of the devices has a line in the table.
no_pool() {
	local d
	for d; do [ -z "$(pool_line "$d")" ] || { echo "$d has a pool"; return 1; }; done
}

# qmp JSON: have the host run one QMP command on this guest's QEMU; prints
# QEMU's answers. Fails after 30 s without an answer.
qmp() {
	local n=$RANDOM$RANDOM i
	echo "$1" >"$OUT/qmp/$n.tmp" && mv "$OUT/qmp/$n.tmp" "$OUT/qmp/$n.cmd"
	for i in $(seq 150); do
		[ -e "$OUT/qmp/$n.done" ] && cat "$OUT/qmp/$n.done" && return 0
		sleep 0.2
	done
	echo "no answer to $1"
	return 1
}

# wait_for SECONDS CMD...: poll CMD until it succeeds.
wait_for() {
	local t=$(($1 * 5))
	shift
	while ! "$@" >/dev/null 2>&1; do
		t=$((t - 1))
		[ $t -gt 0 ] || return 1
		sleep 0.2
	done
}

# pci_of_vfs TAG: PCI address of the virtio-fs device with that tag (empty
# while it has no virtiofs driver: /sys/fs/virtiofs lists bound devices).
pci_of_vfs() {
	local d
	for d in /sys/fs/virtiofs/*; do
		[ "$(cat "$d/tag" 2>/dev/null)" = "$1" ] || continue
		basename "$(dirname "$(readlink -f "$d/device")")"
		return
	done
}

# peer_up: put net1 (the control NIC) in namespace "peer" as fe80::11 and
# bring net0 up as fe80::10, so that traffic between them crosses QEMU's hub.
# Sets IF0 and IF1.
peer_up() {
	# A freshly bound NIC is renamed by udev: take the names once that is done.
	udevadm settle 2>/dev/null
	IF1=$(netdev_of_mac 52:54:00:00:00:11)
	ip netns add peer &&
		ip link set "$IF1" netns peer &&
		ip -n peer link set "$IF1" up &&
		ip -n peer -6 addr add fe80::11/64 dev "$IF1" nodad &&
		net0_up
}

# net0_up: bring net0 up as fe80::10 (again after it was re-bound). Sets IF0.
net0_up() {
	udevadm settle 2>/dev/null
	IF0=$(netdev_of_mac 52:54:00:00:00:10)
	ip link set "$IF0" up && ip -6 addr add fe80::10/64 dev "$IF0" nodad
}

# peer_down: undo peer_up (net1 returns to the root namespace).
peer_down() {
	ip netns del peer
}

# io_intact DEV: 1 MiB of random data written to DEV and read back intact.
io_intact() {
	head -c 1048576 /dev/urandom >/tmp/io_intact.pattern
	dd if=/tmp/io_intact.pattern of="$1" bs=64k oflag=direct status=none &&
		cmp /tmp/io_intact.pattern <(dd if="$1" bs=64k count=16 iflag=direct status=none)
}

# lockdep_report DMESG_FILE: true if the log has a lockdep report other than
# the kernel's own one inside pciehp (pci_rescan_remove_lock vs the slot's
# reset_lock, taken by pciehp_configure_device() on hot-add), which involves
# no code of this project. The reports are kept in DMESG_FILE.lockdep.
LOCKDEP_RE='possible circular locking|possible recursive locking|inconsistent lock state|suspicious RCU usage|lock held when returning'
lockdep_report() {
	grep -B2 -A40 -E "$LOCKDEP_RE" "$1" >"$1.lockdep" || return 1
	! { ! grep -q hv_pci_swiotlb "$1.lockdep" &&
		grep -q pciehp_configure_device "$1.lockdep" &&
		[ "$(grep -cE "$LOCKDEP_RE" "$1")" = 1 ]; }
}

# bench_attach LAYOUT LOG BDF...: load the driver in test mode with LAYOUT and
# rebind the devices so that each takes a pool (a note in LOG if one did not).
# bench_detach BDF...: unbind them, unload the driver, bind them again to the
# default pool. The benchmarks (tests/bench/e2e.sh, files.sh) measure between
# the two. BENCH_MODARGS: more module parameters (e.g. max_devices=5).
bench_attach() {
	local layout=$1 log=$2 d
	shift 2
	# shellcheck disable=SC2086 # BENCH_MODARGS is a list of parameters
	insmod "$MOD" test_mode=1 layout="$layout" ${BENCH_MODARGS:-} || return
	for d in "$@"; do rebind "$d"; done
	wait_for 10 has_pool "$@" >/dev/null || echo "warning: devices have no pools" >>"$log"
}
bench_detach() {
	local d
	for d in "$@"; do echo "$d" >"$VIRTIO_PCI/unbind"; done
	rmmod "$MODNAME"
	for d in "$@"; do echo "$d" >"$VIRTIO_PCI/bind"; done
}

# our_pools: how many pools of this driver exist (swiotlb's debugfs).
our_pools() { ls -d /sys/kernel/debug/swiotlb/hv_pci_swiotlb-* 2>/dev/null | wc -l; }

# said_shared: how many times the driver said Microsoft's pool is in charge.
said_shared() { dmesg -t | grep -c "^$MODNAME: $SHARED_POOL_MSG" || true; }
