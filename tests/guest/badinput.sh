#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Bad module parameters, one case each: the driver (or the kernel's
# parameter parser) says what is wrong in one log line, devices fall back to
# the default pool where the value is unusable, and the guest keeps working:
# data written to a disk afterwards reads back intact.
. "$(dirname "$0")/lib.sh"
: "${MOD:?}"

BLK0=$(pci_of_blk blk0)
DEV0=$(dev_of_blk blk0)

# logged REGEX: a dmesg line matches.
logged() {
	dmesg | grep -E "$1"
}

# bad NAME PARAMS LOADS LOG OUTCOME
#   LOADS    yes: insmod succeeds; no: the kernel refuses the parameter
#   LOG      extended regex one dmesg line must match
#   OUTCOME  pools: a rebound blk0 gets a pool; default: it keeps the
#            default pool and nothing is published
bad() {
	local name=$1 params=$2 loads=$3 logre=$4 outcome=$5 rc=0 loaded=no
	dmesg -C
	# shellcheck disable=SC2086 # PARAMS is a word list
	insmod "$MOD" test_mode=1 $params 2>/tmp/bad.insmod || rc=$?
	lsmod | grep -q "^$MODNAME " && loaded=yes
	if [ $loads = yes ]; then
		check "bad input: $name: module loads" test $rc = 0
	else
		check "bad input: $name: the kernel refuses the parameter" test $rc != 0 -a $loaded = no
	fi
	check "bad input: $name: says so in the log" logged "$logre"
	if [ $loaded = yes ]; then
		rebind "$BLK0"
		case $outcome in
		pools) check "bad input: $name: devices get pools" has_pool "$BLK0" ;;
		default)
			check "bad input: $name: devices keep the default pool" no_pool "$BLK0"
			check "bad input: $name: nothing published" test ! -e $VIRTIO_PCI/swiotlb_size
			;;
		esac
	fi
	check "bad input: $name: the disk still works (1 MiB written, read back intact)" io_intact "$DEV0"
	if [ $loaded = yes ]; then
		echo "$BLK0" >$VIRTIO_PCI/unbind
		rmmod $MODNAME
		echo "$BLK0" >$VIRTIO_PCI/bind
	fi
}

rebind "$BLK0" # settle the device list before the first case
too_long=$(printf '%040d' 64)
notasize='not a size \(want e\.g\. 64M'
toolarge='is more than the 1024 MiB allowed below 4 GiB: not reserving anything'
bad 'size=0' size=0 yes 'size "0": 0: disabled, devices keep the default SWIOTLB pool' default
bad 'size=1' size=1 yes 'size "1": 1 bytes rounded up to 2097152' pools
bad 'size=3M' size=3M yes 'rounded up to 4194304 \(a multiple of 2 MiB\)' pools
bad 'size=4G' size=4G yes "$toolarge" default
bad 'size=1T' size=1T yes "$toolarge" default
bad 'size=1025M' size=1025M yes "$toolarge" default
bad 'size=-1' size=-1 yes "$notasize" default
bad 'size=garbage' size=garbage yes "$notasize" default
bad 'size=0x' size=0x yes "$notasize" default
bad 'size=64M, (trailing comma)' size=64M, yes 'unexpected characters after the size' default
bad 'size=64MB' size=64MB yes 'unexpected characters after the size' default
bad 'size=99999999999999999999 (overflows)' size=99999999999999999999 yes 'too large a number' default
bad 'size=16E (overflows with the suffix)' size=16E yes 'too large a number' default
bad 'size of 40 characters' size=$too_long no "too large for parameter .size" default
# The boot parameter's cut-off case: the kernel refuses the module parameter whole.
bad 'size of 32 characters (one too many)' size=0x00000000000000000000004000000K no \
	"too large for parameter .size" default
bad 'layout=bogus' layout=bogus yes 'unknown layout: using per-device' pools
bad 'layout=SHARED' layout=SHARED yes 'unknown layout: using per-device' pools
bad 'max_devices=0' max_devices=0 yes 'max_devices must be 1-64: using 4' pools
bad 'max_devices=65' max_devices=65 yes 'max_devices must be 1-64: using 4' pools
bad 'max_devices=-1' max_devices=-1 no "invalid for parameter .max_devices" default
bad 'max_devices=many' max_devices=many no "invalid for parameter .max_devices" default
bad 'test_mode=maybe' test_mode=maybe no "invalid for parameter .test_mode" default
bad 'an unknown parameter' nonsense=1 yes "unknown parameter 'nonsense' ignored" pools
udevadm settle 2>/dev/null # let probes of rebound devices finish before power-off
