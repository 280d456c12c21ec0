#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make bench`: the mapping microbenchmark and the end-to-end disk benchmark,
# global vs shared vs per-device pools, side by side in the same run.
# Results: a table on stdout, bench.json and bench.md in $CACHE_DIR/bench/.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

REPS=${REPS:-5}
MS=${MS:-500}
out=$CACHE_DIR/bench
rm -rf "$out"; mkdir -p "$out"

command -v fio >/dev/null || {
	log "bench: installing fio"
	SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fio >/dev/null
}
build=$(phase build "$TOP/scripts/build-kernel.sh" default)
phase bench-module make -s -C "$build" M="$TOP/tests/bench" MO="$build/bench" LLVM=-19 modules >&2
mod=$build/extmod/drivers/pci/controller/hv_pci_swiotlb/hv_pci_swiotlb.ko

# The module prints its results and refuses to stay loaded (-ECANCELED).
phase micro "$TOP/scripts/guest.sh" "$build" "$out/micro" \
	"insmod $build/bench/swiotlb_bench.ko reps=$REPS ms=$MS; dmesg >$out/micro/dmesg.txt" || true
phase e2e "$TOP/scripts/guest.sh" "$build" "$out/e2e" \
	"OUT=$out/e2e MOD=$mod REPS=$REPS bash tests/bench/e2e.sh" || true
cp "$out/micro/dmesg.txt" "$out/micro.txt" 2>/dev/null || true
cp "$out/e2e/e2e.txt" "$out/e2e.txt" 2>/dev/null || true

accel=$(cat "$out/micro/accel" 2>/dev/null || echo unknown)
python3 - "$out/machine.json" "$accel" "$(basename "$build")" "$REPS" "$MS" <<'PY'
import json, os, sys, datetime
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
json.dump({"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "host_cpu": cpu, "host_cpus": os.cpu_count(), "vcpus": 2, "accel": sys.argv[2],
           "kernel": sys.argv[3], "reps": int(sys.argv[4]), "ms": int(sys.argv[5])},
          open(sys.argv[1], "w"), indent=2)
PY
grep -q 'swiotlb_bench: done' "$out/micro.txt" 2>/dev/null ||
	{ log "bench: the microbenchmark did not finish; console tail:"; tail -n 30 "$out/micro/console.log"; }
python3 "$TOP/tests/bench/report.py" "$out"
log "bench: results in $out/bench.md and $out/bench.json"
