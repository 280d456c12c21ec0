# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the build and test scripts: cache layout and phase timing.

: "${CACHE_DIR:=${XDG_CACHE_HOME:-$HOME/.cache}/hv-swiotlb}"
: "${KVER_SERIES:=7.3}"
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
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

# virtme-ng mounts file systems of its own over these directories in the
# guests, hiding what the host keeps there: a tmpfs over most, and over
# /tmp an overlay that does not show the host's /tmp on every host.
GUEST_HIDDEN=(/tmp /var/tmp /var/cache /var/log /run /dev/shm)

# guest_hidden PATH: print the directory of GUEST_HIDDEN that hides PATH (as
# named, or as its symbolic links resolve) from the guests; false if none.
guest_hidden() {
	local p d
	for p in "$(realpath -ms -- "$1")" "$(realpath -m -- "$1")"; do
		for d in "${GUEST_HIDDEN[@]}"; do
			case "$p/" in "$d"/*) echo "$d"; return 0 ;; esac
		done
	done
	return 1
}

# checkout_copy DIR: the copy in the cache of a checkout at DIR.
checkout_copy() { echo "$CACHE_DIR/checkout/$(printf %s "$1" | tr / _)"; }

# guest_visible ARGS...: make sure that the guests see the cache and the
# checkout. The cache holds the kernels, the modules and every guest's
# output directory: if it is hidden, stop. The checkout is every guest's
# working directory (--cwd) and holds the scripts the guests run and
# swiotlbctl: if it is hidden, copy it into the cache (kept in sync, with
# its own tools/target) and run the script that sourced this file again
# from the copy, with the same arguments.
guest_visible() {
	local hidden script copy
	if hidden=$(guest_hidden "$CACHE_DIR"); then
		die "CACHE_DIR=$CACHE_DIR is under $hidden, which virtme-ng mounts over in the test guests: they could not see the kernels, modules and output directories kept there. Point CACHE_DIR at a directory outside ${GUEST_HIDDEN[*]}."
	fi
	hidden=$(guest_hidden "$TOP") || return 0
	script=$(cd "$(dirname -- "$0")" 2>/dev/null && pwd -P)/$(basename -- "$0")
	case $script in
	"$TOP"/*) [ -f "$script" ] || return 0 ;;
	*) return 0 ;; # sourced by something else than one of our scripts
	esac
	copy=$(checkout_copy "$TOP")
	log "the checkout $TOP is under $hidden, which virtme-ng mounts over in the test guests: running from a copy, $copy"
	mkdir -p "$copy" || die "cannot create $copy"
	if command -v rsync >/dev/null; then
		(flock 9 && rsync -a --delete --exclude=/tools/target/ "$TOP/" "$copy/") 9>"$copy.lock"
	else # a fresh machine: deps.sh has not installed rsync yet
		(flock 9 && find "$copy" -mindepth 1 -maxdepth 1 -exec rm -rf {} + &&
			tar -C "$TOP" --exclude=./tools/target -cf - . | tar -C "$copy" -xf -) 9>"$copy.lock"
	fi || die "cannot copy the checkout $TOP to $copy"
	exec bash "$copy/${script#"$TOP"/}" "$@"
}
guest_visible "$@"
