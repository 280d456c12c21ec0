#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Style and lint gates: rustfmt and clippy (make CLIPPY=1) on the driver,
# checkpatch --strict on the test modules' C and on patches/, rustfmt and
# clippy on tools/.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

build=$("$TOP/scripts/build-kernel.sh" default) || exit 1
src=$CACHE_DIR/work/$(basename "$build" | sed 's/-default$//')
drv=$TOP/drivers/pci/controller/hv_pci_swiotlb
rc=0

log "check: rustfmt"
rustfmt --check --config-path "$src/.rustfmt.toml" --edition 2021 "$drv"/*.rs "$drv"/kunit/*.rs || rc=1

log "check: clippy (make CLIPPY=1)"
out=$(mktemp -d)
make -s -C "$build" M="$TOP" MO="$out" LLVM=-19 CLIPPY=1 modules 2>&1 | tee "$out/clippy.log" >&2
grep -qE '^(warning|error)' "$out/clippy.log" && rc=1
rm -rf "$out"

log "check: checkpatch --strict"
# From outside the checkout: inside a git tree checkpatch reads a tracked
# patch file as if it were being added by the patch.
(cd / && "$src/scripts/checkpatch.pl" --strict --no-tree --terse -f \
	"$TOP"/tests/bench/*.c "$TOP"/tests/shared-pool/*.c) || rc=1
# FILE_PATH_CHANGES: MAINTAINERS is a patch of its own (make patches);
# UNKNOWN_COMMIT_ID: the Debian source has no git history to look up the
# commit that patches/0001 fixes (tests/series.sh does the same).
(cd / && "$src/scripts/checkpatch.pl" --strict --no-tree --terse --ignore FILE_PATH_CHANGES,UNKNOWN_COMMIT_ID \
	"$TOP"/patches/*.patch "$TOP"/patches/*/*.patch) || rc=1

log "check: tools (cargo fmt, clippy)"
cargo fmt --manifest-path "$TOP/tools/Cargo.toml" --all --check || rc=1
cargo clippy --manifest-path "$TOP/tools/Cargo.toml" --locked --all-targets -- -D warnings || rc=1

[ $rc = 0 ] && log "check: all clean" || log "check: problems above"
exit $rc
