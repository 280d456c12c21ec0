#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The `make patches` series applies to a clean copy of the pristine tree
# (git apply, the engine of git am) and the result configures with the
# project's fragments. Prints "ok - ..." / "not ok - ..." lines.
set -uo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

work=${1:?usage: series.sh WORK_DIR}
mkdir -p "$work"
src=$("$TOP/scripts/fetch-kernel.sh") || exit 1
copy=$work/series-tree
series=$work/series
rm -rf "$copy" "$work/series-build"

if "$TOP/scripts/mkpatches.sh" "$series" >/dev/null 2>"$work/series.log"; then
	echo "ok - patches: make patches writes a $(ls "$series" | wc -l)-patch series"
else
	echo "not ok - patches: make patches writes a series"
	sed 's/^/#   /' "$work/series.log"
	exit 0
fi

rsync -a "$src/" "$copy/"
ok=1
for p in "$series"/*.patch; do
	if ! (cd "$copy" && git apply --whitespace=error-all "$p") 2>>"$work/series.log"; then
		echo "not ok - patches: $(basename "$p") applies to a pristine tree"
		sed 's/^/#   /' "$work/series.log" | tail -n 10
		ok=0
		break
	fi
done
[ $ok = 1 ] && echo "ok - patches: the series applies to a pristine $(basename "$src") tree"

if [ $ok = 1 ]; then
	frags=("$TOP/scripts/config/guest.config" "$TOP/.config.fragment")
	mkdir -p "$work/series-build"
	cat "${frags[@]}" >"$work/series-build/.fragment"
	if make -s -C "$copy" O="$work/series-build" LLVM=-19 \
		KCONFIG_ALLCONFIG="$work/series-build/.fragment" allnoconfig >>"$work/series.log" 2>&1 &&
		make -s -C "$copy" O="$work/series-build" LLVM=-19 olddefconfig >>"$work/series.log" 2>&1 &&
		"$TOP/scripts/check-config.sh" "$work/series-build/.config" "${frags[@]}" \
			>>"$work/series.log" 2>&1; then
		echo "ok - patches: the patched tree configures with .config.fragment"
	else
		echo "not ok - patches: the patched tree configures with .config.fragment"
		sed 's/^/#   /' "$work/series.log" | tail -n 10
	fi
fi
rm -rf "$copy" "$work/series-build"
