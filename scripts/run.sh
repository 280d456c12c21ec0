#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make run`: build the kernel and module, boot a guest with the standard
# virtio devices and show what the driver does there.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

t0=$(date +%s)
build=$(phase build "$TOP/scripts/build-kernel.sh" "${FLAVOR:-default}")
phase tools cargo build --quiet --locked --manifest-path "$TOP/tools/Cargo.toml" >&2
out=$CACHE_DIR/run
rm -rf "$out"; mkdir -p "$out"
mod=$build/extmod/drivers/pci/controller/hv_pci_swiotlb/hv_pci_swiotlb.ko
rc=0
# The module's KUnit suites belong to `make test`; keep the demo's log short.
GUEST_APPEND="kunit.enable=0 ${GUEST_APPEND:-}" phase boot "$TOP/scripts/guest.sh" "$build" "$out" \
	"OUT=$out MOD=$mod SWIOTLBCTL=$TOP/tools/target/debug/swiotlbctl bash tests/guest/demo.sh" || rc=$?
echo "accelerator: $(cat "$out/accel")"
if [ -s "$out/demo.txt" ]; then
	cat "$out/demo.txt"
fi
if [ $rc != 0 ]; then
	echo "guest failed (exit $rc); console tail:"
	tail -n 40 "$out/console.log"
	exit $rc
fi
log "run: done in $(($(date +%s) - t0))s (full console: $out/console.log)"
