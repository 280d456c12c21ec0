#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make patches`: turn the overlay into a `git format-patch` series for a
# pristine Linux 7.3.x tree (e.g. a WSL kernel tree), to apply with `git am`:
#
#   0001 swiotlb: Add pools for individual devices      (patches/0001)
#   0002 PCI: hv: Add hv_pci_swiotlb, per-device SWIOTLB pools for virtio
#        (the Rust driver, its safe pool types and C shim, Kconfig and
#        Makefile wiring from patches/0002)
#   0003 Documentation: hv_pci_swiotlb admin guide, ABI and tools
#
# Usage: scripts/mkpatches.sh [OUT_DIR]   (default $CACHE_DIR/patches)
# Prints the directory holding the series.
#
# Environment: KVER=6.18 with KSRC=<a 6.18.y tree> writes the series for
# Linux 6.18 LTS instead (default $CACHE_DIR/patches-6.18): the files in
# patches/6.18/ replace their namesakes in patches/ (see patches/6.18/README).
# The pristine files are always taken from KSRC (or KDIR), which is only read.
# A tree that carries Microsoft's hv_pci pool patch (or MS_POOL=1) also gets
# patches/ms-pool/, last.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kver=${KVER:-}
case $kver in
'') out=${1:-$CACHE_DIR/patches} ;;
6.18) out=${1:-$CACHE_DIR/patches-$kver} ;;
*) die "KVER=$kver: series exist for 7.3 (no KVER) and KVER=6.18" ;;
esac
src=${KSRC:-${KDIR:-}}
if [ -z "$src" ]; then
	[ -z "$kver" ] || die "KVER=$kver needs KSRC=<a Linux $kver.y tree>"
	src=$("$TOP/scripts/fetch-kernel.sh")
fi
[ -f "$src/Makefile" ] || die "$src is not a kernel tree (no Makefile)"
if [ -n "$kver" ]; then
	have=$(sed -n 's/^VERSION = //p; s/^PATCHLEVEL = //p' "$src/Makefile" | paste -sd.)
	[ "$have" = "$kver" ] || die "KVER=$kver, but $src is Linux $have"
fi

# The series' patches: patches/NNNN-*.patch, or patches/$kver/NNNN-*.patch
# where that exists.
series_patch() {
	local p
	if [ -n "$kver" ]; then
		for p in "$TOP/patches/$kver/$1"-*.patch; do
			[ -f "$p" ] && { echo "$p"; return; }
		done
	fi
	for p in "$TOP/patches/$1"-*.patch; do
		[ -f "$p" ] && { echo "$p"; return; }
	done
	die "no patch $1 in patches/${kver:+$kver/ or patches/}"
}
p1=$(series_patch 0001)
p2=$(series_patch 0002)
# What a version needs before the series proper (patches/$kver/0000-*.patch).
p0=()
[ -z "$kver" ] || for p in "$TOP/patches/$kver"/0000-*.patch; do [ -f "$p" ] && p0+=("$p"); done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git_() { git -C "$tmp" -c user.name="$(git -C "$TOP" config user.name)" \
	-c user.email="$(git -C "$TOP" config user.email)" "$@"; }

# A repository holding only the pristine versions of the files we touch.
git_ init -q
for f in MAINTAINERS $(sed -n 's|^diff --git a/\([^ ]*\) b/.*|\1|p' "${p0[@]}" "$p1" "$p2" | sort -u); do
	mkdir -p "$tmp/$(dirname "$f")"
	cp "$src/$f" "$tmp/$f"
done
git_ add -A
git_ commit -q -m base
base=$(git_ rev-parse HEAD)

[ ${#p0[@]} = 0 ] || git_ am -q "${p0[@]}"
git_ am -q "$p1"
# 6.18.52 gave swiotlb_init_io_tlb_pool() the vaddr argument 7.x has: the
# 6.18 patch calls the older form, so adapt that one call to the tree.
if [ -n "$kver" ] && grep -A1 '^static void swiotlb_init_io_tlb_pool(' "$src/kernel/dma/swiotlb.c" |
	grep -q 'void \*vaddr'; then
	sed -i 's/^\tswiotlb_init_io_tlb_pool(pool, base, nslabs, false, nareas);$/\tswiotlb_init_io_tlb_pool(pool, base, phys_to_virt(base), nslabs,\n\t\t\t\t false, nareas);/' \
		"$tmp/kernel/dma/swiotlb.c"
	grep -q 'swiotlb_init_io_tlb_pool(pool, base, phys_to_virt(base), nslabs,' "$tmp/kernel/dma/swiotlb.c" ||
		die "cannot adapt $p1 to the 6-argument swiotlb_init_io_tlb_pool() of $src"
	git_ commit -q -a --amend --no-edit
	log "patches: $src has the 6-argument swiotlb_init_io_tlb_pool() (6.18.52 or later): adapted 0001"
fi

git_ apply "$p2"
mkdir -p "$tmp/drivers"
rsync -a "$TOP/drivers/" "$tmp/drivers/"
python3 - "$tmp/MAINTAINERS" "$(git -C "$TOP" config user.name)" "$(git -C "$TOP" config user.email)" <<'PY'
import sys
path, name, email = sys.argv[1:]
entry = f"""HYPER-V PCI SWIOTLB COMPANION DRIVER
M:	{name} <{email}>
L:	linux-hyperv@vger.kernel.org
S:	Maintained
F:	drivers/pci/controller/hv_pci_swiotlb/

"""
text = open(path).read()
anchor = "Hyper-V/Azure CORE AND DRIVERS\n"
assert anchor in text
open(path, "w").write(text.replace(anchor, entry + anchor, 1))
PY
git_ add -A
git_ commit -q -s -F - <<'MSG'
PCI: hv: Add hv_pci_swiotlb, per-device SWIOTLB pools for virtio

In a WSL 2 guest every virtio device behind Hyper-V vPCI (virtiofs for
/mnt/c, virtio-net) bounces its streaming DMA through SWIOTLB, and they
all share the one default pool.

hv_pci_swiotlb reserves one contiguous range below 4 GiB (built in, at
core_initcall; as a module, at load), cuts it into pools with
swiotlb_devpool_create(), and gives each virtio PCI function its own when
virtio-pci is about to bind to it (BUS_NOTIFY_BIND_DRIVER). The pool is
taken back when the driver unbinds, binding fails, the device goes away,
or the device turns out not to use the DMA API (no
VIRTIO_F_ACCESS_PLATFORM). Each device with a pool holds a module
reference, so a device that may be mapping never loses its pool.

The range is published as swiotlb_base (0400) and swiotlb_size (0444) in
/sys/bus/vmbus/drivers/hv_pci/, where the WSL host reads it; a debugfs
table shows each device's pool and counters.

The driver is written in Rust with a thin C shim for what Rust cannot
express (string and early parameters, initcall levels, driver attributes,
symbol_get() of the pool API). It looks the pool API up at run time, so
one module binary runs on kernels without it and says so:

  The running kernel is missing a patch that significantly improves
  virtio device performance. Update to a more recent WSL kernel to enable
  this optimization.

Parameters: hv_pci_swiotlb=<size> / size=, layout=per-device|shared,
max_devices=, test_mode= (any virtio-pci function, for QEMU guests
without VMBus).
MSG

mkdir -p "$tmp/Documentation"
rsync -a "$TOP/Documentation/" "$tmp/Documentation/"
docs=$(cd "$TOP" && find Documentation -type f | sort | sed 's/^/F:\t/')
python3 - "$tmp/MAINTAINERS" "$docs" <<'PY'
import sys
path, docs = sys.argv[1], sys.argv[2].replace("\\t", "\t")
text = open(path).read()
anchor = "F:\tdrivers/pci/controller/hv_pci_swiotlb/\n"
assert anchor in text
open(path, "w").write(text.replace(anchor, docs + "\n" + anchor, 1))
PY
git_ add -A
git_ commit -q -s -F - <<'MSG'
Documentation: Add hv_pci_swiotlb admin guide, ABI and tools pages

Document the driver's parameters, files and their modes, what happens on
a kernel without the SWIOTLB device pool API, the sysfs ABI the WSL host
reads, the swiotlbctl tool and how the driver is built and tested.
MSG

rm -rf "$out"
mkdir -p "$out"
git_ format-patch -q --zero-commit -o "$out" "$base"..HEAD

# A tree with Microsoft's hv_pci pool patch (WSL kernels from 6.18.26.3 on)
# gets the patch that lets the built-in driver replace that pool, last: it
# applies on top of Microsoft's pci-hyperv.c and our Kconfig. MS_POOL=1 adds
# it for a tree that will get Microsoft's patch first (make test-wsl).
if [ "${MS_POOL:-}" = 1 ] ||
	grep -qs hv_pci_swiotlb_alloc_pool "$src/drivers/pci/controller/pci-hyperv.c"; then
	n=$(find "$out" -name '*.patch' | wc -l)
	for p in "$TOP"/patches/ms-pool/*.patch; do
		n=$((n + 1))
		cp "$p" "$out/$(printf %04d "$n")-${p#"$TOP"/patches/ms-pool/[0-9][0-9][0-9][0-9]-}"
	done
	log "patches: added the patch for trees with Microsoft's hv_pci pool"
fi
echo "$out"
