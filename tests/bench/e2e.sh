#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of `make bench`, end to end: both iommu_platform virtio-blk disks
# under parallel fio load, with the default pool (driver not loaded), one
# shared pool, and a pool per disk. Appends "e2e layout=L rep=N job=J
# bw_kib=X" lines (X: both disks together) to $OUT/e2e.txt.
. "$(dirname "$0")/../guest/lib.sh"
: "${MOD:?}" "${REPS:=5}" "${RUNTIME:=3}"

DEV0=$(dev_of_blk blk0) DEV1=$(dev_of_blk blk1)
BLK0=$(pci_of_blk blk0) BLK1=$(pci_of_blk blk1)

# fio_pair JOB FIO-ARGS...: run JOB on both disks at once, print total KiB/s.
fio_pair() {
	local job=$1
	shift
	fio --output-format=json --direct=1 --ioengine=libaio --iodepth=16 \
		--runtime="$RUNTIME" --time_based --group_reporting=0 "$@" \
		--name=d0 --filename="$(dev_of_blk blk0)" \
		--name=d1 --filename="$(dev_of_blk blk1)" 2>/dev/null |
		python3 -c 'import json,sys
j=json.load(sys.stdin)
print(sum(x["read"]["bw"]+x["write"]["bw"] for x in j["jobs"]))'
}

measure() { # measure LAYOUT REP
	local job bw
	for job in seqwrite seqread randread; do
		case $job in
		seqwrite) bw=$(fio_pair $job --rw=write --bs=64k) ;;
		seqread) bw=$(fio_pair $job --rw=read --bs=64k) ;;
		randread) bw=$(fio_pair $job --rw=randread --bs=4k) ;;
		esac
		echo "e2e layout=$1 rep=$2 job=$job bw_kib=${bw:-0}" >>"$OUT/e2e.txt"
	done
}

with_driver() { # with_driver LAYOUT REP
	insmod "$MOD" test_mode=1 layout="$1" || return
	rebind "$BLK0"
	rebind "$BLK1"
	has_pool "$BLK0" "$BLK1" >/dev/null || echo "warning: disks have no pools" >>"$OUT/e2e.log"
	measure "$(test "$1" = per-device && echo perdev || echo "$1")" "$2"
	echo "$BLK0" >"$VIRTIO_PCI/unbind"
	echo "$BLK1" >"$VIRTIO_PCI/unbind"
	rmmod "$MODNAME"
	echo "$BLK0" >"$VIRTIO_PCI/bind"
	echo "$BLK1" >"$VIRTIO_PCI/bind"
}

: >"$OUT/e2e.txt"
for rep in $(seq "$REPS"); do
	# Interleaved, so that drift on the host affects every layout alike.
	measure global "$rep"
	with_driver shared "$rep"
	with_driver per-device "$rep"
done
udevadm settle 2>/dev/null # let the probes of the rebound disks finish before power-off
