#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make patches`: turn the overlay into a `git format-patch` series for a
# pristine Linux 7.3.x tree (e.g. a WSL kernel tree), to apply with `git am`.
# Every prefix of it builds (tests/series.sh checks that):
#
#   0001 swiotlb: Search a restricted pool's areas without a default pool
#        (a fix for SWIOTLB_DYNAMIC on its own, with a Fixes: tag)
#   0002 swiotlb: Add pools for individual devices
#   0003 swiotlb: Report the usage and the failures of a device pool
#   0004 rust: device: Add bus notifiers
#   0005 rust: kunit: Add skip()
#   0006 rust: device: Add the device lock
#   0007 rust: dma: Add SWIOTLB device pools
#   0008 rust: page: Add physically contiguous ranges
#   0009 rust: device: Walk a bus, and tell where a device sits
#   0010 rust: virtio: Add the transport features of a device
#   0011 rust: dma: Add mapping_error()
#   0012 Drivers: hv: vmbus: Add vmbus_bus_type()
#   0013 rust: hyperv: Tell a Hyper-V guest, and find the VMBus
#   0014 rust: driver: Add read-only files in a driver's directory
#   0015 rust: param: Add module parameters of C's types, and early
#        parameters
#   0016 rust: Add initcalls at a chosen level
#                                       (patches/0001 to 0016)
#   0017 PCI: hv: Add hv_pci_swiotlb, per-device SWIOTLB pools for virtio
#        (the Rust driver, with the Kconfig and Makefile wiring of the
#        last patch in patches/; not its tests)
#   0018 PCI: hv: hv_pci_swiotlb: Add KUnit tests (drivers/.../kunit/,
#        CONFIG_HV_PCI_SWIOTLB_KUNIT_TEST, .kunitconfig)
#   0019 Documentation: hv_pci_swiotlb admin guide, ABI, testing and tools
#        (linked from the admin-guide, dev-tools and tools indexes)
#   0020 MAINTAINERS: Add hv_pci_swiotlb
#
# Usage: scripts/mkpatches.sh [OUT_DIR]   (default $CACHE_DIR/patches)
# Prints the directory holding the series.
#
# Environment: KVER=6.18 with KSRC=<a 6.18.y tree> writes the series for
# Linux 6.18 LTS instead (default $CACHE_DIR/patches-6.18): the files in
# patches/6.18/ replace their namesakes in patches/, and its 0000 patches
# go first (see patches/6.18/README). The pristine files are always taken
# from KSRC (or KDIR), which is only read. A tree that carries Microsoft's
# hv_pci pool patch (or MS_POOL=1) also gets patches/ms-pool/, last.
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
# patches/: the kernel changes in order; the last one wires the driver into
# Kconfig and the Makefile and goes into the driver's own commit.
core=()
for p in "$TOP"/patches/[0-9][0-9][0-9][0-9]-*.patch; do
	core+=("$(series_patch "$(basename "$p" | cut -c1-4)")")
done
wiring=${core[-1]}
unset 'core[-1]'
case $wiring in *-PCI-hv-Build-the-Rust-SWIOTLB-pool-companion-driver.patch) ;;
*) die "the last patch in patches/ must be the driver's Kconfig and Makefile wiring, not $wiring" ;;
esac
# The one that adds the pool API, which 6.18.52 and later need adapted.
api=$(grep -l '^+struct io_tlb_mem \*swiotlb_devpool_create(' "${core[@]}") ||
	die "no patch in patches/ adds swiotlb_devpool_create()"
# What a version needs before the series proper (patches/$kver/0000-*.patch).
p0=()
[ -z "$kver" ] || for p in "$TOP/patches/$kver"/0000-*.patch; do [ -f "$p" ] && p0+=("$p"); done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git_() { git -C "$tmp" -c user.name="$(git -C "$TOP" config user.name)" \
	-c user.email="$(git -C "$TOP" config user.email)" "$@"; }

# The documentation indexes that link our pages.
indexes=(Documentation/admin-guide/index.rst Documentation/dev-tools/index.rst
	Documentation/tools/index.rst)

# A repository holding only the pristine versions of the files we touch.
git_ init -q
for f in MAINTAINERS "${indexes[@]}" \
	$(sed -n 's|^diff --git a/\([^ ]*\) b/.*|\1|p' "${p0[@]}" "${core[@]}" "$wiring" | sort -u); do
	[ -f "$src/$f" ] || continue # a file the series adds
	mkdir -p "$tmp/$(dirname "$f")"
	cp "$src/$f" "$tmp/$f"
done
git_ add -A
git_ commit -q -m base
base=$(git_ rev-parse HEAD)

[ ${#p0[@]} = 0 ] || git_ am -q "${p0[@]}"
for p in "${core[@]}"; do
	git_ am -q "$p"
	[ "$p" = "$api" ] || continue
	# 6.18.52 gave swiotlb_init_io_tlb_pool() the vaddr argument 7.x has:
	# the 6.18 patch calls the older form, so adapt that one call to the
	# tree, in the commit that adds it.
	if [ -n "$kver" ] && grep -A1 '^static void swiotlb_init_io_tlb_pool(' "$src/kernel/dma/swiotlb.c" |
		grep -q 'void \*vaddr'; then
		sed -i 's/^\tswiotlb_init_io_tlb_pool(pool, base, nslabs, false, nareas);$/\tswiotlb_init_io_tlb_pool(pool, base, phys_to_virt(base), nslabs,\n\t\t\t\t false, nareas);/' \
			"$tmp/kernel/dma/swiotlb.c"
		grep -q 'swiotlb_init_io_tlb_pool(pool, base, phys_to_virt(base), nslabs,' "$tmp/kernel/dma/swiotlb.c" ||
			die "cannot adapt $p to the 6-argument swiotlb_init_io_tlb_pool() of $src"
		git_ commit -q -a --amend --no-edit
		log "patches: $src has the 6-argument swiotlb_init_io_tlb_pool() (6.18.52 or later): adapted $(basename "$p")"
	fi
done

# The driver without its KUnit tests: no kunit/ directory, no .kunitconfig,
# no KUnit flags in the Makefile, no "mod kunit;" declarations and no
# Kconfig option for the tests. The next commit adds them back as they are
# in drivers/.
git_ apply "$wiring"
mkdir -p "$tmp/drivers"
rsync -a --exclude=kunit/ --exclude=.kunitconfig "$TOP/drivers/" "$tmp/drivers/"
python3 - "$tmp/drivers/pci/controller/hv_pci_swiotlb" <<'PY'
import pathlib, re, sys
d = pathlib.Path(sys.argv[1])
decl = re.compile(r'\n\n#\[cfg\(hvps_kunit\)\]\n#\[path = "kunit/\w+\.rs"\]\n(pub\(crate\) )?mod kunit;\n$')
for f in d.glob("*.rs"):
    s = f.read_text()
    if "mod kunit;" in s:
        s, n = decl.subn("\n", s)
        assert n == 1, f"{f}: the kunit module must be declared last"
        f.write_text(s)
m = d / "Makefile"
s = m.read_text()
kunit_flags = "\n# The KUnit suites likewise (CONFIG_HV_PCI_SWIOTLB_KUNIT_TEST=n).\n" \
    "rustflags-$(CONFIG_HV_PCI_SWIOTLB_KUNIT_TEST) += --cfg hvps_kunit\n"
assert s.count(kunit_flags) == 1, "the Makefile's KUnit flags changed"
m.write_text(s.replace(kunit_flags, ""))
k = d / "Kconfig"
s = k.read_text()
i = s.index("\nconfig HV_PCI_SWIOTLB_KUNIT_TEST\n")
assert "\nconfig " not in s[i + 1:].split("\n", 1)[1], "the KUnit option must come last in Kconfig"
k.write_text(s[:i])
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

The driver is written in Rust only, on the kernel crate: the pools are
kernel::dma::swiotlb's, the range kernel::page::contiguous's, the files
kernel::driver::attr's, the parameters kernel::param's and the early
reservation an initcall!. hv_pci's directory is looked up by name, which
is safe because hv_pci is built in (PCI_HYPERV=y; the KUnit-only
configuration has no hv_pci), as virtio-pci is where test mode publishes
(VIRTIO_PCI=y). Built with CONFIG_SWIOTLB_DEVICE_POOL=n, it has no pools
and says so:

  The running kernel is missing a patch that significantly improves
  virtio device performance. Update to a more recent WSL kernel to enable
  this optimization.

Parameters: hv_pci_swiotlb=<size> / size=, max_devices=. With
CONFIG_HV_PCI_SWIOTLB_DEBUG, for tests and comparisons only, also
layout=shared (one pool for all devices, the layout WSL kernels have)
and test_mode= (any virtio-pci function, for QEMU guests without VMBus).
MSG

rsync -a "$TOP/drivers/" "$tmp/drivers/"
git_ add -A
git_ commit -q -s -F - <<'MSG'
PCI: hv: hv_pci_swiotlb: Add KUnit tests

Test the size and parameter parsers, the slice planner and the device
decisions on their own, and pools on faux devices against the SWIOTLB
device pool API: creation and its argument checks, attaching and the
refusals that keep a device from losing a pool it maps through, bounces
that land in the device's own pool and nowhere else, statistics, and
teardown while buffers are mapped. The pool suites reserve a few MiB
below 4 GiB while they run and skip, saying why, where the API or the
memory is missing.

The suites build with CONFIG_HV_PCI_SWIOTLB_KUNIT_TEST (default
KUNIT_ALL_TESTS) and run when the driver loads, or with

  tools/testing/kunit/kunit.py run --arch=x86_64 \
      --kunitconfig=drivers/pci/controller/hv_pci_swiotlb
MSG

mkdir -p "$tmp/Documentation"
rsync -a "$TOP/Documentation/" "$tmp/Documentation/"
python3 - "$tmp" <<'PY'
import sys
top = sys.argv[1]
def link(index, after, entry):
    path = f"{top}/{index}"
    text = open(path).read()
    anchor = f"\n   {after}\n"
    assert text.count(anchor) == 1, f"{index}: no single toctree entry {after}"
    open(path, "w").write(text.replace(anchor, f"{anchor}   {entry}\n", 1))
# Device-specific guides (alphabetical there); the page links its own.
link("Documentation/admin-guide/index.rst", "hw_random", "hv-pci-swiotlb")
link("Documentation/dev-tools/index.rst", "kunit/index", "hv-pci-swiotlb-testing")
link("Documentation/tools/index.rst", "rv/index", "swiotlbctl")
PY
git_ add -A
git_ commit -q -s -F - <<'MSG'
Documentation: Add hv_pci_swiotlb admin guide, ABI, testing and tools pages

Document the driver's parameters, files and their modes, what happens on
a kernel without the SWIOTLB device pool API or with Microsoft's hv_pci
pool, its design, how to build it for a WSL kernel and what was measured;
the sysfs ABI the WSL host reads; the swiotlbctl tool; and how the driver
is built and tested. Link the pages from the admin-guide, dev-tools and
tools indexes.
MSG

docs=$(cd "$TOP" && find Documentation -type f | sort | sed 's/^/F:\t/')
python3 - "$tmp/MAINTAINERS" "$(git -C "$TOP" config user.name)" "$(git -C "$TOP" config user.email)" "$docs" <<'PY'
import sys
path, name, email, docs = sys.argv[1:]
entry = f"""HYPER-V PCI SWIOTLB COMPANION DRIVER
M:	{name} <{email}>
L:	linux-hyperv@vger.kernel.org
S:	Maintained
{docs}
F:	drivers/pci/controller/hv_pci_swiotlb/

"""
text = open(path).read()
anchor = "Hyper-V/Azure CORE AND DRIVERS\n"
assert anchor in text
open(path, "w").write(text.replace(anchor, entry + anchor, 1))
PY
git_ add -A
git_ commit -q -s -F - <<'MSG'
MAINTAINERS: Add hv_pci_swiotlb

List the driver, its documentation and the list that reviews Hyper-V
drivers.
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
