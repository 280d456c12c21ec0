#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of `make bench`, end to end, with the default pool (driver not
# loaded), one shared pool, and a pool per device:
#   seqwrite, seqread, randread   fio on both iommu_platform disks at once
#   net                           iperf3 over net0 (iommu_platform) to its
#                                 peer net1 in a namespace, on QEMU's hub
#   net+disk                      net while both disks write sequentially:
#                                 the WSL case of file sharing and network
#                                 competing for bounce buffers
# Appends "e2e layout=L rep=N job=J bw_kib=X" lines (X: both disks together,
# or the network) to $OUT/e2e.txt, and for net+disk also job=disk+net with
# the disks' bandwidth during it.
. "$(dirname "$0")/../guest/lib.sh"
: "${MOD:?}" "${REPS:=5}" "${RUNTIME:=3}"

BLK0=$(pci_of_blk blk0) BLK1=$(pci_of_blk blk1)
NET0=$(pci_of_mac 52:54:00:00:00:10)

# fio_pair FIO-ARGS...: run on both disks at once, print total KiB/s.
fio_pair() {
	fio --output-format=json --direct=1 --ioengine=libaio --iodepth=16 \
		--runtime="$RUNTIME" --time_based --group_reporting=0 "$@" \
		--name=d0 --filename="$(dev_of_blk blk0)" \
		--name=d1 --filename="$(dev_of_blk blk1)" 2>/dev/null |
		python3 -c 'import json,sys
j=json.load(sys.stdin)
print(sum(x["read"]["bw"]+x["write"]["bw"] for x in j["jobs"]))'
}

# iperf: RUNTIME seconds of TCP from net0 to the peer; prints KiB/s received.
iperf() {
	iperf3 -J -c "fe80::11%$IF0" -t "$RUNTIME" 2>/dev/null |
		python3 -c 'import json,sys
j=json.load(sys.stdin)
print(int(j["end"]["sum_received"]["bits_per_second"] / 8 / 1024))' 2>/dev/null || echo 0
}

measure() { # measure LAYOUT REP
	local job bw disk
	for job in seqwrite seqread randread net net+disk; do
		case $job in
		seqwrite) bw=$(fio_pair --rw=write --bs=64k) ;;
		seqread) bw=$(fio_pair --rw=read --bs=64k) ;;
		randread) bw=$(fio_pair --rw=randread --bs=4k) ;;
		net) bw=$(iperf) ;;
		net+disk)
			fio_pair --rw=write --bs=64k >/tmp/disk_bw &
			bw=$(iperf)
			wait
			disk=$(cat /tmp/disk_bw)
			echo "e2e layout=$1 rep=$2 job=disk+net bw_kib=${disk:-0}" >>"$OUT/e2e.txt"
			;;
		esac
		echo "e2e layout=$1 rep=$2 job=$job bw_kib=${bw:-0}" >>"$OUT/e2e.txt"
	done
}

with_driver() { # with_driver LAYOUT REP
	bench_attach "$1" "$OUT/e2e.log" "$BLK0" "$BLK1" "$NET0" || return
	net0_up
	measure "$(test "$1" = per-device && echo perdev || echo "$1")" "$2"
	bench_detach "$BLK0" "$BLK1" "$NET0"
	net0_up
}

: >"$OUT/e2e.txt"
peer_up
ip netns exec peer iperf3 -s -D
sleep 1
for rep in $(seq "$REPS"); do
	# Interleaved, so that drift on the host affects every layout alike.
	measure global "$rep"
	with_driver shared "$rep"
	with_driver per-device "$rep"
done
ip netns exec peer pkill iperf3
peer_down
udevadm settle 2>/dev/null # let the probes of the rebound devices finish before power-off
