#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of `make bench`, the workload of WSL's complaint: a build on
# /mnt/c. tests/bench/files.py creates, stats and reads back $FILES small
# files (fixed seed) on virtio-fs share hostc, with the default pool (driver
# not loaded), one shared pool (layout=shared, WSL's kernels) and a pool per
# device, each
#   alone  nothing else moves;
#   busy   meanwhile share hostd streams 32 MiB files (O_DIRECT writes and
#          reads, so that every byte crosses) and net0 carries iperf3 to its
#          peer: the file-sharing and network traffic a build competes with;
#   flood  busy, and both virtio-blk disks take random 512 KiB O_DIRECT
#          reads and writes 128 deep each (fio): more bounce buffers in
#          flight than the 64 MiB default or shared pool holds. A virtio-fs
#          queue cannot do that (FUSE sizes requests to its 128-entry queue:
#          at most about 512 KiB in flight per share), so only here do the
#          devices compete for buffers, not just for the CPUs. The guest is
#          CPU-bound then (about 16 files/s), so this run creates, stats and
#          reads back $FLOOD_FILES files (default FILES/4) instead.
# The five devices (net0, the shares and the disks) get 12 MiB pools each
# (max_devices=5, the 64 MiB default size).
# Appends "files layout=L rep=N load=alone|busy|flood ..." lines (files.py's
# figures, plus fails: hostc's mapping failures in the driver's table, -1
# without the driver; full: "swiotlb buffer is full" lines naming hostc,
# rate-limited, for every layout; d_mib: what hostd streamed meanwhile;
# b_mib: what the disks moved meanwhile) to $OUT/files.txt.
. "$(dirname "$0")/../guest/lib.sh"
: "${MOD:?}" "${REPS:=3}" "${FILES:=2000}" "${SEED:=14}"
: "${FLOOD_FILES:=$((FILES / 4 > 0 ? FILES / 4 : 1))}"
case "$REPS$FILES$FLOOD_FILES$SEED" in *[!0-9]*)
	echo "REPS, FILES, FLOOD_FILES and SEED must be numbers" >&2
	exit 2
	;;
esac

MNT=/tmp/vfs # /mnt is read-only in virtme-ng guests
C=$(pci_of_vfs hostc) D=$(pci_of_vfs hostd) NET0=$(pci_of_mac 52:54:00:00:00:10)
BLK0=$(pci_of_blk blk0) BLK1=$(pci_of_blk blk1)
[ -n "$C" ] && [ -n "$D" ] || { echo "no virtio-fs shares hostc/hostd" >>"$OUT/files.log"; exit 1; }
[ -n "$BLK0" ] && [ -n "$BLK1" ] || { echo "no disks blk0/blk1" >>"$OUT/files.log"; exit 1; }
export BENCH_MODARGS=max_devices=5
mkdir -p $MNT/c $MNT/d
head -c $((32 << 20)) /dev/urandom >/tmp/stream.bin

mount_shares() {
	mount -t virtiofs hostc $MNT/c && mount -t virtiofs hostd $MNT/d
}

# stream: hostd's large files, until killed; counts MiB in /tmp/d_mib.
stream() {
	local n=0
	while :; do
		dd if=/tmp/stream.bin of=$MNT/d/stream.bin bs=1M oflag=direct status=none || break
		dd if=$MNT/d/stream.bin of=/dev/null bs=1M iflag=direct status=none || break
		n=$((n + 64))
		echo $n >/tmp/d_mib
	done
}

# disk_sectors: sectors read and written on both disks since boot (fields 3
# and 7 of /sys/block/*/stat).
disk_sectors() {
	local d n=0
	for d in blk0 blk1; do
		# shellcheck disable=SC2046 # the fields, split
		set -- $(cat "/sys/block/$(basename "$(dev_of_blk $d)")/stat")
		n=$((n + $3 + $7))
	done
	echo $n
}

# moved_since N: the disks have moved more than N sectors.
moved_since() { [ "$(disk_sectors)" -gt "$1" ]; }

# flood: both disks, 128 random 512 KiB O_DIRECT requests in flight each,
# until killed.
flood() {
	exec fio --direct=1 --ioengine=libaio --iodepth=128 --rw=randrw --bs=512k \
		--time_based --runtime=100000 --output=/dev/null \
		--name=d0 --filename="$(dev_of_blk blk0)" --name=d1 --filename="$(dev_of_blk blk1)"
}

# full_msgs: rate-limited "buffer is full" lines for hostc so far.
full_msgs() { dmesg | grep -c "$C: swiotlb buffer is full" || true; }

measure() { # measure LAYOUT REP
	local load line n f0 f1 m0 b0 spid npid fpid
	for load in alone busy flood; do
		rm -rf $MNT/c/tree && mkdir $MNT/c/tree
		echo 0 >/tmp/d_mib
		b0=$(disk_sectors) fpid=
		if [ $load != alone ]; then
			stream &
			spid=$!
			iperf3 -c "fe80::11%$IF0" -t 100000 >/dev/null 2>&1 &
			npid=$!
			if [ $load = flood ]; then
				flood &
				fpid=$!
				# fio takes a moment to set up: measure from its
				# first completed request on.
				wait_for 30 moved_since "$b0" ||
					echo "fio did not start under $1" >>"$OUT/files.log"
			fi
			sleep 1
		fi
		f0=$(pool_col "$C" 9) m0=$(full_msgs)
		n=$FILES
		[ $load = flood ] && n=$FLOOD_FILES
		line=$(python3 "$(dirname "$0")/files.py" $MNT/c/tree "$n" "$SEED" 2>>"$OUT/files.log")
		f1=$(pool_col "$C" 9)
		if [ $load != alone ]; then
			kill $spid $npid $fpid 2>/dev/null
			wait $spid $npid $fpid 2>/dev/null
			# The loop's dd outlives its shell and would keep hostd busy
			# (and its unmount refused) for up to one more file.
			# ("[.]": the pattern must not match the sh -c that looks for it)
			pkill -f "$MNT/d/stream[.]bin"
			wait_for 30 sh -c "! pgrep -f '$MNT/d/stream[.]bin'"
		fi
		[ -n "$line" ] || line="files=0 errors=$n"
		echo "files layout=$1 rep=$2 load=$load $line fails=$([ -n "$f0" ] && echo $((f1 - f0)) || echo -1) full=$(($(full_msgs) - m0)) d_mib=$(cat /tmp/d_mib) b_mib=$((($(disk_sectors) - b0) / 2048))" >>"$OUT/files.txt"
	done
	rm -rf $MNT/c/tree $MNT/d/stream.bin
}

with_driver() { # with_driver LAYOUT REP
	bench_attach "$1" "$OUT/files.log" "$NET0" "$C" "$D" "$BLK0" "$BLK1" || return
	net0_up
	mount_shares || { echo "mount failed under $1" >>"$OUT/files.log"; return 1; }
	measure "$(test "$1" = per-device && echo perdev || echo "$1")" "$2"
	umount $MNT/c $MNT/d
	bench_detach "$NET0" "$C" "$D" "$BLK0" "$BLK1"
	net0_up
}

: >"$OUT/files.txt"
peer_up
ip netns exec peer iperf3 -s -D
sleep 1
# An untimed pass first: the first run of a boot paid for Python's start-up
# files, the host's cold directory and page caches and the guest's first
# touch of its memory, always in the global layout, which runs first.
mount_shares || { echo "mount failed" >>"$OUT/files.log"; exit 1; }
mkdir -p $MNT/c/warmup
python3 "$(dirname "$0")/files.py" $MNT/c/warmup $((FILES < 200 ? FILES : 200)) "$SEED" >/dev/null 2>>"$OUT/files.log"
rm -rf $MNT/c/warmup
umount $MNT/c $MNT/d
for rep in $(seq "$REPS"); do
	# Interleaved, so that drift on the host affects every layout alike.
	mount_shares || { echo "mount failed" >>"$OUT/files.log"; exit 1; }
	measure global "$rep"
	umount $MNT/c $MNT/d
	with_driver shared "$rep"
	with_driver per-device "$rep"
done
ip netns exec peer pkill iperf3
peer_down
udevadm settle 2>/dev/null # let the probes of the rebound devices finish before power-off
