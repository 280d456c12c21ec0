#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The `make patches` series as a maintainer takes it: every patch passes
# checkpatch --strict, the series applies to a pristine tree (git apply, the
# engine of git am), the result configures with the project's fragments, and
# every prefix of the series builds (allnoconfig + the fragments, the driver
# and its KUnit tests built in). Prints "ok - ..." / "not ok - ..." lines.
#
# The prefixes are built newest first in one build directory, so that each
# step rebuilds only what the patch it takes away touched: the whole series
# first (compiled like `make kernel FLAVOR=builtin`, so ccache has it), then
# without its last patch, and so on down to the first patch alone. A patch
# that touches only Documentation/ and MAINTAINERS changes nothing that is
# built; the prefix before it is not built again.
#
# Tree and build directory: $CACHE_DIR/series/{work,build}/<version>, with
# their own ccache base directory, which makes the paths the compiler sees
# the same as in $CACHE_DIR/{work,build} and lets ccache reuse those objects.
set -uo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

work=${1:?usage: series.sh WORK_DIR}
mkdir -p "$work"
src=$("$TOP/scripts/fetch-kernel.sh") || exit 1
series=$work/series
log=$work/series.log
: >"$log"

if "$TOP/scripts/mkpatches.sh" "$series" >/dev/null 2>>"$log"; then
	echo "ok - patches: make patches writes a $(ls "$series" | wc -l)-patch series"
else
	echo "not ok - patches: make patches writes a series"
	sed 's/^/#   /' "$log"
	exit 0
fi
patches=("$series"/*.patch)

# Drivers are Rust only: the driver's patch adds no C file (what it needs
# from C is in the kernel crate's patches before it).
drv_patch=$(grep -l '^Subject: \[PATCH[^]]*\] PCI: hv: Add hv_pci_swiotlb' "${patches[@]}")
c_files=$(sed -n 's|^+++ b/\(drivers/pci/controller/hv_pci_swiotlb/.*\.[ch]\)$|\1|p' $drv_patch)
if [ -n "$drv_patch" ] && [ -z "$c_files" ]; then
	echo "ok - patches: the driver's patch adds no C file under drivers/pci/controller/hv_pci_swiotlb/"
else
	echo "not ok - patches: the driver's patch adds no C file under drivers/pci/controller/hv_pci_swiotlb/"
	echo "${c_files:-no driver patch found}" | sed 's/^/#   /'
fi

# checkpatch as a maintainer runs it on a posting. Two warnings are left out:
# FILE_PATH_CHANGES (MAINTAINERS gets its own patch, the last one) and
# UNKNOWN_COMMIT_ID (the Debian source has no git history to look the Fixes:
# commit up in).
for p in "${patches[@]}"; do
	if out=$(cd / && "$src/scripts/checkpatch.pl" --strict --terse --no-tree \
		--ignore FILE_PATH_CHANGES,UNKNOWN_COMMIT_ID "$p" 2>&1); then
		echo "ok - patches: $(basename "$p" .patch) passes checkpatch --strict"
	else
		echo "not ok - patches: $(basename "$p" .patch) passes checkpatch --strict"
		echo "$out" | head -n 10 | sed 's/^/#   /'
	fi
done

ver=$(make -s -C "$src" kernelversion 2>/dev/null | tail -n1)
base=$CACHE_DIR/series
tree=$base/work/$ver
out=$base/build/$ver
if [ ! -f "$tree/.series-ready" ]; then
	log "series: making $tree, a git copy of $src (once)"
	rm -rf "$tree" && mkdir -p "$(dirname "$tree")"
	# Hard links where it can: git apply and git checkout write new files
	# rather than change them in place, so the source stays untouched.
	cp -al "$src" "$tree" 2>/dev/null || { rm -rf "$tree" && rsync -a --exclude=.git "$src/" "$tree/"; }
	(cd "$tree" && git init -q && git add -A -f && git -c user.name=series -c user.email=series@localhost \
		commit -q -m pristine && git tag pristine) >>"$log" 2>&1 || { echo "not ok - patches: a copy of $src"; exit 0; }
	touch "$tree/.series-ready"
fi
# Back to pristine; files that the last run left patched get a new mtime,
# which is what make needs to see.
git -C "$tree" checkout -q -f pristine && git -C "$tree" clean -q -fdx -e .series-ready

applied=0
for p in "${patches[@]}"; do
	if ! (cd "$tree" && git apply --whitespace=error-all "$p") 2>>"$log"; then
		echo "not ok - patches: $(basename "$p") applies to a pristine tree"
		sed 's/^/#   /' "$log" | tail -n 10
		exit 0
	fi
	applied=$((applied + 1))
done
echo "ok - patches: the series applies to a pristine $(basename "$src") tree"

mk=(make -s -C "$tree" O="$out" LLVM=-19 "CC=ccache clang-19" -j"${JOBS:-$(nproc)}")
export CCACHE_DIR=${CCACHE_DIR:-$CACHE_DIR/ccache} CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-10G}
export CCACHE_BASEDIR=$base CCACHE_SLOPPINESS=time_macros,include_file_mtime
frags=("$TOP/scripts/config/guest.config" "$TOP/.config.fragment" "$TOP/scripts/config/builtin.config")
mkdir -p "$out"
cat "${frags[@]}" >"$out/.fragment"
configure() { "${mk[@]}" KCONFIG_ALLCONFIG="$out/.fragment" allnoconfig >>"$log" 2>&1; }

if configure && "$TOP/scripts/check-config.sh" "$out/.config" "${frags[@]}" >>"$log" 2>&1; then
	echo "ok - patches: the patched tree configures with .config.fragment, built in"
else
	echo "not ok - patches: the patched tree configures with .config.fragment, built in"
	sed 's/^/#   /' "$log" | tail -n 10
	exit 0
fi

# only_docs PATCH: it touches nothing but Documentation/ and MAINTAINERS.
only_docs() {
	! sed -n 's|^diff --git a/\([^ ]*\) b/.*|\1|p' "$1" | grep -qvE '^(Documentation/|MAINTAINERS$)'
}

same_as= last_built= last_ok=
for ((i = ${#patches[@]}; i >= 1; i--)); do
	name="$(printf '%04d' 1)..$(basename "${patches[i - 1]}" .patch)"
	if [ -n "$same_as" ]; then
		echo "${last_ok}ok - patches: $name builds (the same build inputs as $same_as)"
	else
		t0=$(date +%s) last_built=$name last_ok=
		if configure && "${mk[@]}" vmlinux >>"$log" 2>&1; then
			echo "ok - patches: $name builds ($(($(date +%s) - t0)) s)"
		else
			last_ok="not "
			echo "not ok - patches: $name builds"
			grep -E 'error|Error' "$log" | tail -n 10 | sed 's/^/#   /'
		fi
		: >"$log" # so that the next failure shows its own errors
	fi
	# Take the patch back for the next, shorter prefix.
	(cd "$tree" && git apply -R "${patches[i - 1]}") 2>>"$log" ||
		{ echo "not ok - patches: $(basename "${patches[i - 1]}") comes off again"; exit 0; }
	if only_docs "${patches[i - 1]}"; then
		same_as=$last_built
	else
		same_as=
	fi
done
