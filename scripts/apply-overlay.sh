#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Apply the project's overlay to a kernel tree, idempotently:
#   - patches/*.patch (changes to existing kernel files), in order;
#   - new files from drivers/, rust/ and Documentation/, copied only when
#     their content changed so that kbuild rebuilds just what changed.
# A patch that changed since it was applied is reverted first and re-applied.
#
# Usage: scripts/apply-overlay.sh [-n] TREE     (-n: only check, change nothing)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

check=0
[ "${1:-}" = -n ] && { check=1; shift; }
tree=${1:?usage: apply-overlay.sh [-n] TREE}
[ -f "$tree/Makefile" ] && [ -d "$tree/kernel" ] || die "$tree is not a kernel tree"
state=$tree/.hv-swiotlb-overlay
mkdir -p "$state/applied"

# Revert applied patches that are gone or changed, newest first.
for old in $(ls -r "$state/applied" 2>/dev/null); do
	new=$TOP/patches/$old
	if [ ! -f "$new" ] || ! cmp -s "$new" "$state/applied/$old"; then
		[ $check = 0 ] || die "overlay out of date: $old"
		log "overlay: reverting changed or removed $old"
		patch -d "$tree" -p1 -R -s --no-backup-if-mismatch <"$state/applied/$old"
		rm "$state/applied/$old"
	fi
done

for p in "$TOP"/patches/*.patch; do
	[ -e "$p" ] || continue
	name=$(basename "$p")
	[ -f "$state/applied/$name" ] && continue
	[ $check = 0 ] || die "overlay not applied: $name"
	if patch -d "$tree" -p1 -R -s -f --dry-run <"$p" >/dev/null 2>&1; then
		log "overlay: $name already present in the tree"
	else
		log "overlay: applying $name"
		patch -d "$tree" -p1 -s -N --no-backup-if-mismatch <"$p" ||
			die "$name does not apply to $tree"
	fi
	cp "$p" "$state/applied/$name"
done

for d in drivers rust Documentation; do
	[ -d "$TOP/$d" ] || continue
	if [ $check = 1 ]; then
		out=$(rsync -rcni "$TOP/$d/" "$tree/$d/") || die "rsync failed"
		[ -z "$out" ] || die "overlay files out of date in $d"
	else
		rsync -rc "$TOP/$d/" "$tree/$d/"
	fi
done
