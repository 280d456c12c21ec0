# SPDX-License-Identifier: GPL-2.0
# Sourced by the guest-side test scripts. Each check appends one line,
# "ok - NAME" or "not ok - NAME", to $OUT/results; a failed check adds the
# command's output and the tail of dmesg as "# " lines under it.

: "${OUT:?OUT must name the shared results directory}"
MISSING_PATCH_MSG='The running kernel is missing a patch that significantly improves virtio device performance. Update to a more recent WSL kernel to enable this optimization.'
MODNAME=hv_pci_swiotlb

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
