#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# virtio-fs behind per-device pools, as WSL's /mnt/c and /mnt/d: the two
# shares of scripts/guest.sh (tags hostc, hostd; host dirs OUT/c, OUT/d)
# each get a pool of their own, their traffic moves only their own counters,
# data crosses intact both ways, and the pool follows the device through
# unmount, rebind and hot-plug. Also records what a FUSE request larger than
# swiotlb's largest mapping (256 KiB) does on this kernel.
#
# The host (tests/virtiofs-host.sh) wrote OUT/c/host.bin and OUT/d/host.bin
# before the boot, with their sums in OUT/host-sums; this script leaves the
# sums of what it wrote in OUT/guest-sums for the host to check afterwards.
. "$(dirname "$0")/lib.sh"
: "${MOD:?}" "${VFS_DIR:?set by scripts/guest.sh}"

MIB=1048576
MNT=/tmp/vfs # /mnt is read-only in virtme-ng guests
: >"$OUT/guest-sums"

dmesg -C
check "virtiofs: insmod test_mode=1" insmod "$MOD" test_mode=1

C=$(pci_of_vfs hostc) D=$(pci_of_vfs hostd)
echo "shares: hostc=$C hostd=$D" >>"$OUT/log"
check "virtiofs: both shares are virtio-fs devices (hostc, hostd)" test -n "$C" -a -n "$D"

# negotiated TAG: the share's virtio device acked VIRTIO_F_ACCESS_PLATFORM
# (bit 33, the 34th character of the features string): without it virtio-fs
# would not use the DMA API and nothing would bounce.
negotiated() {
	local v
	v=$(ls -d /sys/bus/pci/devices/"$(pci_of_vfs "$1")"/virtio* | head -n1)
	expect_eq 1 cut -c34 "$v/features"
}
check "virtiofs: hostc negotiated ACCESS_PLATFORM" negotiated hostc
check "virtiofs: hostd negotiated ACCESS_PLATFORM" negotiated hostd

# Both were bound before the load: a rebind hands them their pools.
rebind "$C" && rebind "$D"
wait_for 10 has_pool "$C" "$D"
check "pools: the table lists both shares" has_pool "$C" "$D"
check "pools: each share has a pool of its own" \
	sh -c "[ '$(pool_col "$C" 3)' != '$(pool_col "$D" 3)' ]"

mkdir -p $MNT/c $MNT/d
mount_both() { mount -t virtiofs hostc $MNT/c && mount -t virtiofs hostd $MNT/d; }
# mounted T...: $MNT/T is share hostT, not the tmpfs under it (where writes
# would land, and read back fine, if the mount were missing).
mounted() {
	local t
	for t; do
		expect_eq "virtiofs host$t" findmnt -n -o FSTYPE,SOURCE "$MNT/$t" || return 1
	done
}
check "mount: hostc and hostd mount as virtiofs" mount_both

# --- traffic moves only the share's own counters, data crosses intact ---------
snap() { echo "$(pool_col "$C" 8) $(pool_col "$D" 8)"; }
grew() { # grew BEFORE AFTER WHICH: only column WHICH (1 hostc, 2 hostd) grew
	local i b a
	for i in 1 2; do
		b=$(echo "$1" | cut -d' ' -f$i) a=$(echo "$2" | cut -d' ' -f$i)
		if [ $i = "$3" ]; then [ "$a" -gt "$b" ] || { echo "column $i: $b -> $a"; return 1; }
		else [ "$a" = "$b" ] || { echo "column $i changed: $b -> $a"; return 1; }; fi
	done
}
host_sum() { awk -v f="$1" '$2 == f {print $1}' "$OUT/host-sums"; }

# write_share T N: 8 MiB of random data to T/guest.bin, fsync'd; checks
# the counters and remembers the sum for the host.
write_share() {
	local s0 s1 sum
	head -c $((8 * MIB)) /dev/urandom >/tmp/guest-$1.bin
	sum=$(sha256sum </tmp/guest-$1.bin | cut -d' ' -f1)
	s0=$(snap)
	dd if=/tmp/guest-$1.bin of=$MNT/$1/guest.bin bs=1M conv=fsync status=none || return 1
	s1=$(snap)
	echo "$sum  $1/guest.bin" >>"$OUT/guest-sums"
	grew "$s0" "$s1" "$2"
}
# read_share T N: read T/host.bin from the host (caches dropped): it has the
# sum the host recorded, and only share N's counters moved.
read_share() {
	local s0 s1 got want
	want=$(host_sum "$1/host.bin")
	echo 3 >/proc/sys/vm/drop_caches
	s0=$(snap)
	got=$(sha256sum <$MNT/$1/host.bin | cut -d' ' -f1)
	s1=$(snap)
	echo "host.bin on $1: guest reads $got, host wrote $want"
	[ -n "$want" ] && [ "$got" = "$want" ] && grew "$s0" "$s1" "$2"
}
check "traffic: 8 MiB written to hostc move hostc's counters only" write_share c 1
check "traffic: 8 MiB read from hostd equal the host's file, move hostd's counters only" read_share d 2
check "traffic: 8 MiB written to hostd move hostd's counters only" write_share d 2
check "traffic: 8 MiB read from hostc equal the host's file, move hostc's counters only" read_share c 1
# What went out comes back: read again from the host, not the page cache.
reread() {
	mounted c d || return 1
	echo 3 >/proc/sys/vm/drop_caches
	cmp /tmp/guest-c.bin $MNT/c/guest.bin && cmp /tmp/guest-d.bin $MNT/d/guest.bin
}
check "traffic: both files the guest wrote read back intact" reread
check "traffic: nothing left mapped, no failure" \
	expect_eq "0 0 0 0" echo "$(pool_col "$C" 6) $(pool_col "$D" 6) $(pool_col "$C" 9) $(pool_col "$D" 9)"

# --- a request above swiotlb's largest mapping ------------------------------------
# FUSE sizes requests by max_pages, not by the transport's largest DMA
# mapping (IO_TLB_SEGSIZE * IO_TLB_SIZE = 256 KiB): Microsoft's fix clamps
# max_pages by virtio_max_dma_size(), which 7.3.4 does not have. Measured
# here: 1 MiB of O_DIRECT from one huge page (physically contiguous) still
# works, because virtio-fs in 7.3.4 puts every page of a request in an sg
# entry of its own (fs/fuse/file.c fuse_get_user_pages(), one desc per page)
# and each entry is mapped on its own: no single bounce above 4 KiB. This
# check fails if a kernel ever maps a request's data in one piece above
# 256 KiB (EIO), the failure Microsoft's clamp is for.
bigio() {
	local h0 h1
	h0=$(pool_col "$D" 7)
	python3 - "$MNT/d/dio.bin" "$OUT/guest-sums" <<'EOF' || return 1
import ctypes, hashlib, mmap, os, sys
HUGE, SIZE = 2 << 20, 1 << 20
area = mmap.mmap(-1, 2 * HUGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
start = -ctypes.addressof(ctypes.c_char.from_buffer(area)) % HUGE
area.madvise(mmap.MADV_HUGEPAGE, start, HUGE)
buf = memoryview(area)[start:start + SIZE]
data = os.urandom(SIZE)
buf[:] = data
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_DIRECT)
try:
    n = os.pwrite(fd, buf, 0)
    print(f"O_DIRECT write of {SIZE} bytes from a huge page: {n}")
    buf[:] = b"\0" * SIZE
    n = os.preadv(fd, [buf], 0)
    print(f"O_DIRECT read of {SIZE} bytes into a huge page: {n}")
except OSError as e:
    print(f"1 MiB O_DIRECT request failed: {e}")
    sys.exit(1)
finally:
    os.close(fd)
huge = [l.split()[1] for l in open("/proc/meminfo") if l.startswith("AnonHugePages")]
print(f"AnonHugePages while mapped: {huge[0]} kB")
if n != SIZE or bytes(buf) != data:
    print("read back differs from what was written")
    sys.exit(1)
with open(sys.argv[2], "a") as sums:
    sums.write(f"{hashlib.sha256(data).hexdigest()}  d/dio.bin\n")
EOF
	h1=$(pool_col "$D" 7)
	echo "hostd high water: $h0 -> $h1 slots of 2 KiB"
	[ "$(pool_col "$D" 9)" = 0 ] || { echo "hostd's pool counted failures"; return 1; }
}
# The measurement goes to OUT/log as well: check keeps output only on failure.
bigio_logged() { (set -o pipefail; bigio 2>&1 | tee -a "$OUT/log"); }
check "bigio: 1 MiB O_DIRECT write and read on hostd from a huge page succeed intact (7.3.4 maps each page apart)" bigio_logged
check "bigio: no swiotlb mapping failure logged" sh -c "! dmesg | grep -i 'swiotlb buffer is full'"
hostd_works() { mounted d && echo after >$MNT/d/after && [ "$(cat $MNT/d/after)" = after ]; }
check "bigio: hostd keeps working afterwards" hostd_works

# --- unmount and mount again: the pool stays with the device --------------------
remount() {
	local base m0
	base=$(pool_col "$C" 3)
	umount $MNT/c || return 1
	[ "$(pool_col "$C" 3)" = "$base" ] || { echo "pool changed or gone on umount"; return 1; }
	mount -t virtiofs hostc $MNT/c || return 1
	echo 3 >/proc/sys/vm/drop_caches
	m0=$(pool_col "$C" 8)
	cmp /tmp/guest-c.bin $MNT/c/guest.bin && [ "$(pool_col "$C" 8)" -gt "$m0" ] &&
		[ "$(pool_col "$C" 3)" = "$base" ]
}
check "remount: hostc keeps its pool across umount/mount and reads through it" remount

# --- unbind and bind: the pool is released and a new one handed out --------------
rebind_share() {
	local m0 m1
	umount $MNT/d || return 1
	m0=$(pool_col "$D" 8)
	echo "$D" >$VIRTIO_PCI/unbind || return 1
	no_pool "$D" || return 1
	echo "$D" >$VIRTIO_PCI/bind || return 1
	wait_for 10 has_pool "$D" || { echo "no pool after bind"; return 1; }
	# The counters belong to the slice, not to the binding: measured, a
	# rebound device gets the same slice back and its counts go on.
	m1=$(pool_col "$D" 8)
	echo "hostd mappings: $m0 before unbind, $m1 after bind"
	mount -t virtiofs hostd $MNT/d || return 1
	cmp /tmp/guest-d.bin $MNT/d/guest.bin && [ "$(pool_col "$D" 8)" -gt "$m1" ]
}
check "rebind: unbind releases hostd's pool, bind hands out one it reads through" rebind_share
check "rebind: hostc untouched, both still listed" has_pool "$C" "$D"

# --- hot-plug a third share on rp1 (served by guest.sh's third virtiofsd) ---------
E=
hp_pool() { E=$(pci_of_vfs hoste); [ -n "$E" ] && has_pool "$E"; }
qmp_ok() { # qmp_ok JSON: the command was answered without an error
	local a
	a=$(qmp "$1") || { echo "$a"; return 1; }
	echo "$a" | grep -q '"return"' && ! echo "$a" | grep -q '"error"' || { echo "$a"; return 1; }
}
hotplug() {
	local n0 m0
	n0=$(table_devices)
	qmp_ok '{"execute":"chardev-add","arguments":{"id":"vfse","backend":{"type":"socket","data":{"addr":{"type":"unix","data":{"path":"'"$VFS_DIR"'/vfs/e.sock"}},"server":false}}}}' || return 1
	qmp_ok '{"execute":"device_add","arguments":{"driver":"vhost-user-fs-pci","id":"hpfs","chardev":"vfse","tag":"hoste","bus":"rp1","iommu_platform":true}}' || return 1
	wait_for 30 hp_pool || { echo "no pool for the hot-added share"; return 1; }
	[ "$(table_devices)" = $((n0 + 1)) ] || { echo "table: $n0 -> $(table_devices) devices"; return 1; }
	mkdir -p $MNT/e && mount -t virtiofs hoste $MNT/e || return 1
	m0=$(pool_col "$E" 8)
	dd if=/tmp/guest-c.bin of=$MNT/e/guest.bin bs=1M count=4 conv=fsync status=none || return 1
	echo "$(head -c $((4 * MIB)) /tmp/guest-c.bin | sha256sum | cut -d' ' -f1)  e/guest.bin" >>"$OUT/guest-sums"
	[ "$(pool_col "$E" 8)" -gt "$m0" ] || { echo "no bounces on $E"; return 1; }
	umount $MNT/e || return 1
	qmp_ok '{"execute":"device_del","arguments":{"id":"hpfs"}}' || return 1
	wait_for 30 test ! -e "/sys/bus/pci/devices/$E" || { echo "$E still there"; return 1; }
	no_pool "$E" && [ "$(table_devices)" = "$n0" ]
}
check "hotplug: a hot-added share gets a pool, bounces through it, device_del releases it" hotplug
check "hotplug: its release is logged" sh -c "[ -n '$E' ] && dmesg | grep -q '$E: SWIOTLB pool [0-9]* released'"
# The chardev goes too, so that the third virtiofsd sees QEMU leave. QEMU
# finishes unplugging the device (and lets go of the chardev) a little after
# the guest saw it go: "Chardev 'vfse' is busy" until then.
chardev_remove() {
	local i
	for i in $(seq 10); do
		qmp_ok '{"execute":"chardev-remove","arguments":{"id":"vfse"}}' && return 0
		sleep 1
	done
	return 1
}
check "hotplug: chardev-remove once QEMU let go of the device" chardev_remove

end_ok() { mounted c d && ls $MNT/c/guest.bin $MNT/d/guest.bin >/dev/null; }
check "end: hostc and hostd are still mounted and list the guest's files" end_ok
check "end: no failure on any share's pool" expect_eq "0 0" echo "$(pool_col "$C" 9) $(pool_col "$D" 9)"
umount $MNT/c $MNT/d
