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
#          peer: the file-sharing and network traffic a build competes with.
# Appends "files layout=L rep=N load=alone|busy ..." lines (files.py's
# figures, plus fails: hostc's mapping failures in the driver's table, -1
# without the driver; full: "swiotlb buffer is full" lines naming hostc,
# rate-limited, for every layout; d_mib: what hostd streamed meanwhile) to
# $OUT/files.txt.
. "$(dirname "$0")/../guest/lib.sh"
: "${MOD:?}" "${REPS:=3}" "${FILES:=2000}" "${SEED:=14}"
case "$REPS$FILES$SEED" in *[!0-9]*) echo "REPS, FILES and SEED must be numbers" >&2; exit 2 ;; esac

MNT=/tmp/vfs # /mnt is read-only in virtme-ng guests
C=$(pci_of_vfs hostc) D=$(pci_of_vfs hostd) NET0=$(pci_of_mac 52:54:00:00:00:10)
[ -n "$C" ] && [ -n "$D" ] || { echo "no virtio-fs shares hostc/hostd" >>"$OUT/files.log"; exit 1; }
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

# full_msgs: rate-limited "buffer is full" lines for hostc so far.
full_msgs() { dmesg | grep -c "$C: swiotlb buffer is full" || true; }

measure() { # measure LAYOUT REP
	local load line f0 f1 m0 spid npid
	for load in alone busy; do
		rm -rf $MNT/c/tree && mkdir $MNT/c/tree
		echo 0 >/tmp/d_mib
		if [ $load = busy ]; then
			stream &
			spid=$!
			iperf3 -c "fe80::11%$IF0" -t 100000 >/dev/null 2>&1 &
			npid=$!
			sleep 1
		fi
		f0=$(pool_col "$C" 9) m0=$(full_msgs)
		line=$(python3 "$(dirname "$0")/files.py" $MNT/c/tree "$FILES" "$SEED" 2>>"$OUT/files.log")
		f1=$(pool_col "$C" 9)
		if [ $load = busy ]; then
			kill $spid $npid 2>/dev/null
			wait $spid $npid 2>/dev/null
			# The loop's dd outlives its shell and would keep hostd busy
			# (and its unmount refused) for up to one more file.
			# ("[.]": the pattern must not match the sh -c that looks for it)
			pkill -f "$MNT/d/stream[.]bin"
			wait_for 30 sh -c "! pgrep -f '$MNT/d/stream[.]bin'"
		fi
		[ -n "$line" ] || line="files=0 errors=$FILES"
		echo "files layout=$1 rep=$2 load=$load $line fails=$([ -n "$f0" ] && echo $((f1 - f0)) || echo -1) full=$(($(full_msgs) - m0)) d_mib=$(cat /tmp/d_mib)" >>"$OUT/files.txt"
	done
	rm -rf $MNT/c/tree $MNT/d/stream.bin
}

with_driver() { # with_driver LAYOUT REP
	bench_attach "$1" "$OUT/files.log" "$NET0" "$C" "$D" || return
	net0_up
	mount_shares || { echo "mount failed under $1" >>"$OUT/files.log"; return 1; }
	measure "$(test "$1" = per-device && echo perdev || echo "$1")" "$2"
	umount $MNT/c $MNT/d
	bench_detach "$NET0" "$C" "$D"
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
