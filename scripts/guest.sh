#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boot a built kernel with virtme-ng and run one command inside it.
#
# Usage: scripts/guest.sh BUILD_DIR OUT_DIR COMMAND
#   OUT_DIR is shared read-write with the guest; the whole console goes to
#   OUT_DIR/console.log. Exit status is the command's, or 124 on timeout.
# Environment:
#   GUEST_APPEND   extra kernel parameters
#   GUEST_SWIOTLB  the swiotlb= parameter (default force,track_hiwater: a
#                  default pool; "track_hiwater" leaves a 1G guest without)
#   GUEST_MEM      memory (default 1G);  GUEST_CPUS  vCPUs (default 2)
#   GUEST_TIMEOUT  seconds before the guest is killed (default 600)
#   GUEST_QEMU     extra QEMU options (after the standard devices)
#   ACCEL          kvm|tcg to skip the probe
#
# Standard devices (the host's root, shared by vng, is another virtio
# device without an IOMMU platform, like vng's console ports):
#   net0  virtio-net, iommu_platform=on       (bounces through SWIOTLB)
#   net1  virtio-net, no iommu_platform       (control device, net0's peer
#         on a QEMU-internal hub: no traffic leaves QEMU)
#   blk0, blk1  virtio-blk, iommu_platform=on, 64 MiB files in OUT_DIR/disks
#   vfsc, vfsd  virtio-fs (vhost-user-fs-pci), iommu_platform=on, mount tags
#         "hostc" and "hostd" exporting OUT_DIR/c and OUT_DIR/d: WSL's /mnt/c
#         and /mnt/d. Served by the patched virtiofsd of make deps (one per
#         share, sockets OUT_DIR/vfs/*.sock, logs OUT_DIR/virtiofsd-*.log);
#         guest memory is a shared memfd so that virtiofsd can map it.
#         A third virtiofsd waits on OUT_DIR/vfs/e.sock, exporting OUT_DIR/e,
#         for a hot-plugged share (chardev-add, then device_add
#         vhost-user-fs-pci tag "hoste" on rp1; see tests/guest/virtiofs.sh).
#   rp1   an empty pcie-root-port for hot-plug, with drive "hpdrive" ready
#         (native PCIe hot-plug: QEMU's ACPI hot-plug of root ports is off,
#         and pcie_ports=native since the lean kernel has no ASPM for _OSC)
#
# QEMU monitor: the guest may write a QMP command to OUT_DIR/qmp/N.cmd; the
# host runs it and answers in OUT_DIR/qmp/N.done (see tests/guest/lib.sh).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

build=${1:?usage: guest.sh BUILD_DIR OUT_DIR COMMAND}
out=${2:?usage: guest.sh BUILD_DIR OUT_DIR COMMAND}
cmd=${3:?usage: guest.sh BUILD_DIR OUT_DIR COMMAND}
bz=$build/arch/x86/boot/bzImage
[ -f "$bz" ] || die "no kernel at $bz (run make kernel)"
mkdir -p "$out"
out=$(cd "$out" && pwd)
export PATH=$CACHE_DIR/venv/bin:$PATH

# Disks and the shares belong to this guest: guests may run side by side
# (QEMU locks disk images).
disks=$out/disks
mkdir -p "$disks" "$out/qmp" "$out/c" "$out/d" "$out/e" "$out/vfs"
for d in blk0 blk1 hp0; do
	[ -f "$disks/$d.img" ] || truncate -s 64M "$disks/$d.img"
done

accel=$("$TOP/scripts/accel.sh" "$bz")
vng_accel=(--disable-kvm)
cpu_opt=""
if [ "${accel%% *}" = kvm ]; then
	vng_accel=()
	cpu_opt="-cpu ${accel#kvm }"
fi
echo "$accel" >"$out/accel"

# The virtiofsd of make deps offers VIRTIO_F_ACCESS_PLATFORM, which is only
# right without a vIOMMU (QEMU then hands it guest-physical addresses):
# never add an intel-iommu or virtio-iommu device to these guests.
virtiofsd=$CACHE_DIR/virtiofsd/bin/virtiofsd
[ -x "$virtiofsd" ] || die "no $virtiofsd (run make deps)"
# QEMU maps all guest memory into virtiofsd: it must be a shared memfd of
# exactly the size given to -m (vng adds "M" to a bare number).
mem=${GUEST_MEM:-1G}
case $mem in *[0-9]) mem=${mem}M ;; esac
[ ${#out} -le 96 ] || die "OUT_DIR $out is too long for the virtiofsd sockets in it (unix socket paths: 107 bytes)"

qemu_opts="$cpu_opt
 -netdev hubport,id=hn0,hubid=0 -netdev hubport,id=hn1,hubid=0
 -device virtio-net-pci,netdev=hn0,mac=52:54:00:00:00:10,disable-legacy=on,iommu_platform=on
 -device virtio-net-pci,netdev=hn1,mac=52:54:00:00:00:11
 -drive file=$disks/blk0.img,if=none,id=blk0,format=raw,cache=unsafe
 -device virtio-blk-pci,drive=blk0,serial=blk0,disable-legacy=on,iommu_platform=on
 -drive file=$disks/blk1.img,if=none,id=blk1,format=raw,cache=unsafe
 -device virtio-blk-pci,drive=blk1,serial=blk1,disable-legacy=on,iommu_platform=on
 -global ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off
 -object memory-backend-memfd,id=hvmem,size=$mem,share=on -numa node,memdev=hvmem
 -chardev socket,id=vfsc,path=$out/vfs/c.sock
 -device vhost-user-fs-pci,chardev=vfsc,tag=hostc,iommu_platform=on
 -chardev socket,id=vfsd,path=$out/vfs/d.sock
 -device vhost-user-fs-pci,chardev=vfsd,tag=hostd,iommu_platform=on
 -device pcie-root-port,id=rp1,chassis=1,slot=1
 -drive file=$disks/hp0.img,if=none,id=hpdrive,format=raw,cache=unsafe
 -qmp unix:$out/qmp.sock,server=on,wait=off
 ${GUEST_QEMU:-}"

# Serve the guest's QMP requests while it runs.
qmp_server() {
	local f n
	while :; do
		for f in "$out"/qmp/*.cmd; do
			[ -e "$f" ] || continue
			n=${f%.cmd}
			{ echo '{"execute":"qmp_capabilities"}'; cat "$f"; sleep 1; } |
				socat -t 2 - "UNIX-CONNECT:$out/qmp.sock" >"$n.out" 2>&1
			rm -f "$f"
			mv "$n.out" "$n.done"
		done
		sleep 0.2
	done
}
qmp_server &
qmp_pid=$!
# timeout --foreground signals vng alone: a guest that outlived it would keep
# its QEMU running. Every QEMU of this guest names $out on its command line.
reap_qemu() {
	pkill -KILL -f "qemu-system-x86_64 .*initmount0=${out#/}( |$)" 2>/dev/null || true
}
# One virtiofsd per share. Each serves one connection and exits when QEMU
# goes, but the hot-plug one may never be connected and a wedged one may not
# notice: all are killed with the guest, QEMU first so that none is busy.
vfs_pids=()
reap_virtiofsd() {
	local p
	for p in "${vfs_pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	for p in "${vfs_pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap 'kill $qmp_pid 2>/dev/null; reap_qemu; reap_virtiofsd' EXIT
# A signal ends the script (and runs the EXIT trap) instead of leaving the
# daemons behind.
trap 'exit 143' TERM
trap 'exit 130' INT
for t in c d e; do
	rm -f "$out/vfs/$t.sock" "$out/vfs/$t.sock.pid"
	# --sandbox none: we run as root and need no namespaces for test data.
	"$virtiofsd" --socket-path="$out/vfs/$t.sock" --shared-dir="$out/$t" \
		--sandbox none --log-level warn >"$out/virtiofsd-$t.log" 2>&1 &
	vfs_pids+=($!)
done
# QEMU connects to the sockets at start: wait until they are there.
for t in c d e; do
	for _ in $(seq 100); do [ -S "$out/vfs/$t.sock" ] && break; sleep 0.05; done
	[ -S "$out/vfs/$t.sock" ] || die "virtiofsd for $out/$t did not start: $(cat "$out/virtiofsd-$t.log")"
done

# --force-9p: vng would serve its root over virtiofs if it found a virtiofsd,
# and add a memfd backend of its own next to ours.
rc=0
timeout --foreground -k 10 "${GUEST_TIMEOUT:-600}" \
	vng -r "$bz" "${vng_accel[@]}" --disable-microvm --force-9p --verbose \
	--cpus "${GUEST_CPUS:-2}" --memory "${GUEST_MEM:-1G}" \
	--rwdir "$out" --cwd "$TOP" \
	--append="swiotlb=${GUEST_SWIOTLB:-force,track_hiwater} pcie_ports=native ${GUEST_APPEND:-}" \
	--qemu-opts="$(echo $qemu_opts)" \
	--exec "export CACHE_DIR=$CACHE_DIR VFS_DIR=$out HP_DISK=$disks/hp0.img; $cmd" </dev/null >"$out/console.log" 2>&1 || rc=$?
exit $rc
