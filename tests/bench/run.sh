#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make bench`: the mapping microbenchmark and the end-to-end benchmark,
# global vs shared vs per-device pools, side by side in the same run; each
# twice, with pools of an area per CPU (the default) and of one area
# (swiotlb=,1), the design before per-CPU areas.
# PROFILE=1 adds a perf profile and lock statistics (a lockstat kernel).
# The microbenchmark maps for NDEV devices (default 3: the case per-device
# pools exist for, two file shares and a NIC; at most 7); end to end, the
# guest's two disks and its NIC are three devices as well. The file
# benchmark (tests/bench/files.sh) is the build-on-/mnt/c case: FILES small
# files (default 2000) on virtio-fs share hostc, alone, while hostd and the
# NIC are busy, and while the disks flood their pools too (FLOOD_FILES
# files, default FILES/4), FILES_REPS times (default 3).
# BENCH picks parts: any of "micro e2e files" (default all three); e.g.
# BENCH=files FILES=200 FILES_REPS=1 is a quick look of a few minutes.
# Results: a table on stdout, bench.json and bench.md in $CACHE_DIR/bench/.
set -euo pipefail
. "$(dirname "$0")/../../scripts/lib.sh"

REPS=${REPS:-5}
MS=${MS:-500}
NDEV=${NDEV:-3}
FILES=${FILES:-2000}
FILES_REPS=${FILES_REPS:-3}
FLOOD_FILES=${FLOOD_FILES:-$((FILES / 4 > 0 ? FILES / 4 : 1))}
BENCH=${BENCH:-micro e2e files}
for v in REPS MS NDEV FILES FILES_REPS FLOOD_FILES; do
	case ${!v} in '' | *[!0-9]*) die "$v=${!v}: want a number" ;; esac
done
for b in $BENCH; do
	case $b in micro | e2e | files) ;; *) die "BENCH=$BENCH: want some of micro, e2e, files" ;; esac
done
want() { [[ " $BENCH " == *" $1 "* ]]; }
out=$CACHE_DIR/bench
rm -rf "$out"; mkdir -p "$out"

for tool in fio iperf3; do
	command -v $tool >/dev/null && continue
	log "bench: installing $tool"
	SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $tool >/dev/null
done

# bench_module BUILD: the swiotlb_bench module for that kernel.
bench_module() {
	make -s -C "$1" M="$TOP/tests/bench" MO="$1/bench" LLVM=-19 modules >&2 && echo "$1/bench/swiotlb_bench.ko"
}

# Under TCG the clocksource watchdog finds the TSC skewed a few seconds
# after boot and switches to the HPET, whose every read is an emulated MMIO
# access: in the middle of a measurement, and costly in every timestamp.
# Keep the TSC (QEMU derives it from the host's clock).
export GUEST_APPEND="tsc=reliable ${GUEST_APPEND:-}"

build=$(phase build "$TOP/scripts/build-kernel.sh" default)
bench=
if want micro || [ "${PROFILE:-0}" = 1 ]; then
	bench=$(phase bench-module bench_module "$build")
fi
mod=$build/extmod/drivers/pci/controller/hv_pci_swiotlb/hv_pci_swiotlb.ko

for cfg in percpu 1area; do
	sw=force,track_hiwater
	[ $cfg = 1area ] && sw=,1,force,track_hiwater
	# The module prints its results and refuses to stay loaded (-ECANCELED).
	if want micro; then
		GUEST_SWIOTLB=$sw phase micro-$cfg "$TOP/scripts/guest.sh" "$build" "$out/micro-$cfg" \
			"insmod $bench ndev=$NDEV reps=$REPS ms=$MS; dmesg >$out/micro-$cfg/dmesg.txt" || true
		cp "$out/micro-$cfg/dmesg.txt" "$out/micro-$cfg.txt" 2>/dev/null || true
		grep -q 'swiotlb_bench: done' "$out/micro-$cfg.txt" 2>/dev/null ||
			{ log "bench: the $cfg microbenchmark did not finish; console tail:"; tail -n 30 "$out/micro-$cfg/console.log"; }
	fi
	if want e2e; then
		GUEST_SWIOTLB=$sw phase e2e-$cfg "$TOP/scripts/guest.sh" "$build" "$out/e2e-$cfg" \
			"OUT=$out/e2e-$cfg MOD=$mod REPS=$REPS bash tests/bench/e2e.sh" || true
		cp "$out/e2e-$cfg/e2e.txt" "$out/e2e-$cfg.txt" 2>/dev/null || true
	fi
	if want files; then
		# Each repetition runs three layouts under three loads; under the
		# flood the guest does about 16 files/s. Generous, so that only a
		# guest that hangs is stopped.
		GUEST_TIMEOUT=${GUEST_TIMEOUT:-$((600 + FILES_REPS * 3 * (60 + FILES / 20 + FLOOD_FILES / 5)))} \
			GUEST_SWIOTLB=$sw phase files-$cfg "$TOP/scripts/guest.sh" "$build" "$out/files-$cfg" \
			"OUT=$out/files-$cfg MOD=$mod REPS=$FILES_REPS FILES=$FILES FLOOD_FILES=$FLOOD_FILES bash tests/bench/files.sh" || true
		cp "$out/files-$cfg/files.txt" "$out/files-$cfg.txt" 2>/dev/null || true
		[ -s "$out/files-$cfg.txt" ] ||
			{ log "bench: the $cfg file benchmark recorded nothing; console tail:"; tail -n 30 "$out/files-$cfg/console.log"; }
	fi
done

if [ "${PROFILE:-0}" = 1 ]; then
	GUEST_SWIOTLB=force,track_hiwater phase perf "$TOP/scripts/guest.sh" "$build" "$out/perf" \
		"OUT=$out/perf BENCH=$bench NDEV=$NDEV bash tests/bench/profile.sh perf" || true
	lockstat=$(phase build:lockstat "$TOP/scripts/build-kernel.sh" lockstat)
	lbench=$(phase bench-module:lockstat bench_module "$lockstat")
	for cfg in percpu 1area; do
		sw=force,track_hiwater
		[ $cfg = 1area ] && sw=,1,force,track_hiwater
		GUEST_SWIOTLB=$sw phase lockstat-$cfg "$TOP/scripts/guest.sh" "$lockstat" "$out/lockstat-$cfg" \
			"OUT=$out/lockstat-$cfg BENCH=$lbench NDEV=$NDEV CONFIG=$cfg bash tests/bench/profile.sh lockstat" || true
	done
	cat "$out/perf/profile.txt" "$out"/lockstat-{percpu,1area}/profile.txt >"$out/profile.txt" 2>/dev/null || true
fi

# Not "cat ... | head -n1": with pipefail, cat's SIGPIPE (once there are two
# files) would end the run with status 141 after all the measurements.
accel=
for f in "$out"/*-percpu/accel; do
	[ -f "$f" ] && { accel=$(cat "$f"); break; }
done
python3 - "$out/machine.json" "${accel:-unknown}" "$(basename "$build")" "$REPS" "$MS" "$FILES" "$FILES_REPS" <<'PY'
import json, os, sys, datetime
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
json.dump({"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "host_cpu": cpu, "host_cpus": os.cpu_count(), "vcpus": 2, "accel": sys.argv[2],
           "kernel": sys.argv[3], "reps": int(sys.argv[4]), "ms": int(sys.argv[5]),
           "files": int(sys.argv[6]), "files_reps": int(sys.argv[7])},
          open(sys.argv[1], "w"), indent=2)
PY
python3 "$TOP/tests/bench/report.py" "$out"
log "bench: results in $out/bench.md and $out/bench.json"
