#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of `make run`: show the kernel, the virtio devices and what the
# companion driver does with them. Output goes to $OUT/demo.txt.
: "${OUT:?}" "${MOD:?}"
exec >"$OUT/demo.txt" 2>&1

echo "== kernel"
uname -r
echo "command line: $(cat /proc/cmdline | tr ' ' '\n' | grep -E '^(swiotlb|hv_pci_swiotlb)' | tr '\n' ' ')"

echo "== virtio PCI functions (ACCESS_PLATFORM = bounces through SWIOTLB)"
printf '%-14s %-8s %-12s %-8s %s\n' DEVICE ID DRIVER PLATFORM VIRTIO
for d in /sys/bus/pci/devices/*; do
	[ "$(cat "$d/vendor")" = 0x1af4 ] || continue
	drv=$(basename "$(readlink "$d/driver" 2>/dev/null)" 2>/dev/null)
	vdev=$(ls -d "$d"/virtio* 2>/dev/null | head -n1)
	plat=-
	if [ -n "$vdev" ]; then
		feat=$(cat "$vdev/features")
		plat=$([ "${feat:33:1}" = 1 ] && echo yes || echo no)
		vname=$(basename "$(readlink "$vdev/driver" 2>/dev/null)" 2>/dev/null)
	fi
	printf '%-14s %-8s %-12s %-8s %s\n' "$(basename "$d")" "$(cut -c3- "$d/device")" \
		"${drv:--}" "$plat" "${vname:--}"
done

echo "== insmod $(basename "$MOD")"
dmesg -C
insmod "$MOD"
dmesg -t | grep -E '^hv_pci_swiotlb' || echo "(no log lines)"
echo "== loaded: $(grep -c '^hv_pci_swiotlb ' /proc/modules) instance(s) in /proc/modules"
rmmod hv_pci_swiotlb
