# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the build and test scripts: cache layout and phase timing.

: "${CACHE_DIR:=${XDG_CACHE_HOME:-$HOME/.cache}/hv-swiotlb}"
: "${KVER_SERIES:=7.3}"
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CACHE_DIR TOP

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# phase NAME CMD...: run CMD and print how long the phase took.
phase() {
	local name=$1 t0 rc
	shift
	t0=$(date +%s)
	log "== phase $name: start"
	"$@"
	rc=$?
	log "== phase $name: $((($(date +%s) - t0)))s (rc=$rc)"
	return $rc
}
