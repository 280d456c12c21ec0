#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The driver's KUnit suites the way a kernel developer runs them, with the
# .kunitconfig of the driver's directory:
#
#   tools/testing/kunit/kunit.py run --arch=x86_64 \
#       --kunitconfig=drivers/pci/controller/hv_pci_swiotlb
#
# in the overlaid tree (the series applied), in kunit.py's own QEMU guest.
# That kernel is nothing like the project's guests: allnoconfig plus the
# .kunitconfig, so one CPU, no module support, no VMBus and no default
# SWIOTLB pool. The suites that need the pool API or memory below 4 GiB
# may skip there; none may fail.
#
# Usage: tests/kunit.sh WORK_DIR   (prints "ok - ..." / "not ok - ..." lines)
set -uo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

work=${1:?usage: kunit.sh WORK_DIR}
mkdir -p "$work"
# The overlaid tree, as make kernel leaves it (build-kernel.sh applies the
# overlay and prints the build directory, $CACHE_DIR/build/<tag>-default).
build=$("$TOP/scripts/build-kernel.sh" default 2>>"$work/kunit.log") ||
	{ echo "not ok - kunit.py: the overlaid tree"; exit 0; }
tree=$CACHE_DIR/work/$(basename "$build" | sed 's/-default$//')
out=$CACHE_DIR/build/$(basename "$tree")-kunit

export CCACHE_DIR=${CCACHE_DIR:-$CACHE_DIR/ccache}
# kunit.py asks QEMU for KVM first (-accel kvm -accel hvf -accel tcg). Where
# KVM does not work (scripts/accel.sh; here it hangs), a wrapper first in
# PATH drops the two, and QEMU uses TCG.
read -r accel _ <<<"$("$TOP/scripts/accel.sh" "$build/arch/x86/boot/bzImage")"
if [ "$accel" = tcg ]; then
	mkdir -p "$work/bin"
	cat >"$work/bin/qemu-system-x86_64" <<EOF
#!/usr/bin/env bash
args=()
while [ \$# -gt 0 ]; do
	if [ "\$1" = -accel ] && { [ "\$2" = kvm ] || [ "\$2" = hvf ]; }; then
		shift 2
		continue
	fi
	args+=("\$1")
	shift
done
exec $(command -v qemu-system-x86_64) "\${args[@]}"
EOF
	chmod +x "$work/bin/qemu-system-x86_64"
	export PATH=$work/bin:$PATH
fi
rc=0
(cd "$tree" && nice ./tools/testing/kunit/kunit.py run --arch=x86_64 --build_dir="$out" \
	--jobs="${JOBS:-$(nproc)}" --make_options LLVM=-19 --make_options "CC=ccache clang-19" \
	--kunitconfig=drivers/pci/controller/hv_pci_swiotlb --timeout=900 --raw_output=kunit) \
	>"$work/kunit.log" 2>&1 || rc=$?
if [ $rc = 0 ]; then
	echo "ok - kunit.py: run --kunitconfig=drivers/pci/controller/hv_pci_swiotlb"
else
	echo "not ok - kunit.py: run --kunitconfig=drivers/pci/controller/hv_pci_swiotlb (exit $rc)"
	grep -E 'error|warning|FAILED|not ok' "$work/kunit.log" | head -n 10 | sed 's/^/#   /'
fi
# The driver must build clean in every configuration it accepts.
# (clang names the file on the warning's line, rustc on one of the next.)
if grep -A3 'warning:' "$work/kunit.log" | grep -q 'hv_pci_swiotlb/'; then
	echo "not ok - kunit.py: the driver builds without warnings in kunit.py's configuration"
	grep -A3 'warning:' "$work/kunit.log" | head -n 8 | sed 's/^/#   /'
else
	echo "ok - kunit.py: the driver builds without warnings in kunit.py's configuration"
fi
python3 "$TOP/tests/ktap.py" "$work/kunit.log" --expect hv_pci_swiotlb_size \
	--expect hv_pci_swiotlb_params --expect hv_pci_swiotlb_slices \
	--expect hv_pci_swiotlb_devices --expect hv_pci_swiotlb_pool \
	--expect rust_kernel_page_contiguous |
	sed 's/^\(\(not \)\{0,1\}ok - \)kunit: /\1kunit(kunit.py): /'
