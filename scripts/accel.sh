#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Decide how to run guests: KVM if /dev/kvm works with some -cpu model, else
# TCG. Prints "kvm <cpu model>" or "tcg". The verdict is cached per host
# kernel and QEMU version; ACCEL=tcg or ACCEL=kvm forces it.
#
# Usage: scripts/accel.sh BZIMAGE
set -euo pipefail
. "$(dirname "$0")/lib.sh"

bz=${1:?usage: accel.sh BZIMAGE}
case "${ACCEL:-auto}" in
tcg) echo tcg; exit 0 ;;
kvm) echo "kvm ${KVM_CPU:-host}"; exit 0 ;;
esac

key="$(uname -r) $(qemu-system-x86_64 --version | head -n1)"
cache=$CACHE_DIR/accel.probe
if [ -f "$cache" ] && [ "$(head -n1 "$cache")" = "$key" ]; then
	tail -n1 "$cache"
	exit 0
fi

verdict=tcg
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	# "host" aborts on some hosts ("failed to set MSR 0x10a"); on others KVM
	# starts but the guest crawls through decompression. Only a guest that
	# reaches the kernel's own console output in time counts as working.
	for cpu in host host,-arch-capabilities; do
		log "accel: probing KVM with -cpu $cpu"
		out=$(timeout 25 qemu-system-x86_64 -machine q35,accel=kvm -cpu "$cpu" -m 256M \
			-kernel "$bz" -append "console=ttyS0 earlyprintk=serial panic=-1 noapic" \
			-nographic -no-reboot -nodefaults -serial stdio 2>&1 || true)
		if grep -q 'Kernel panic\|VFS: Unable\|Linux version' <<<"$out" &&
			grep -q 'Run /init\|Kernel panic\|VFS: Unable' <<<"$out"; then
			verdict="kvm $cpu"
			break
		fi
	done
fi
log "accel: using ${verdict}"
printf '%s\n%s\n' "$key" "$verdict" >"$cache"
echo "$verdict"
