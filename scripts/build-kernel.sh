#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Configure and build the guest kernel plus the out-of-tree module.
#
# Usage: scripts/build-kernel.sh FLAVOR
#   FLAVOR names a fragment scripts/config/FLAVOR.config layered on top of
#   the guest base and .config.fragment ("default" adds nothing).
# Environment: KDIR (a user's own 7.x tree with Rust support instead of the
#   Debian source), CACHE_DIR, JOBS.
# Prints the build directory on stdout.
#
# Layout under $CACHE_DIR:
#   work/<ver>/          a copy of the pristine tree with the overlay applied
#   build/<ver>-<flavor>/ O= output for that flavor (incremental)
#   build/<ver>-<flavor>/extmod/  MO= output of the out-of-tree module build
set -euo pipefail
. "$(dirname "$0")/lib.sh"

flavor=${1:-default}

# One build at a time per cache: two makes in one tree corrupt each other.
mkdir -p "$CACHE_DIR"
exec 9>"$CACHE_DIR/build.lock"
flock -n 9 || { log "build: waiting for another build in $CACHE_DIR"; flock 9; }
jobs=${JOBS:-$(nproc)}
mk=(make -s LLVM=-19 "CC=ccache clang-19" -j"$jobs")
export CCACHE_DIR=${CCACHE_DIR:-$CACHE_DIR/ccache} CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-10G}
export CCACHE_BASEDIR=$CACHE_DIR CCACHE_SLOPPINESS=time_macros,include_file_mtime

# --- source tree ---------------------------------------------------------
if [ -n "${KDIR:-}" ]; then
	src=$(cd "$KDIR" && pwd) || die "KDIR=$KDIR does not exist"
	[ -f "$src/Makefile" ] || die "KDIR=$src is not a kernel tree (no Makefile)"
	major=$(sed -n 's/^VERSION = //p' "$src/Makefile")
	[ "${major:-0}" -ge 7 ] 2>/dev/null ||
		die "KDIR=$src is Linux ${major:-?}.x; this project needs Linux 7.x or newer"
	grep -q '^config RUST$' "$src/init/Kconfig" && [ -d "$src/rust/kernel" ] ||
		die "KDIR=$src has no Rust support (no CONFIG_RUST / rust/kernel)"
else
	src=$("$TOP/scripts/fetch-kernel.sh")
fi
ver=$(make -s -C "$src" kernelversion 2>/dev/null | tail -n1)
[ -n "$ver" ] || die "cannot read the kernel version of $src"
tag=$ver${KDIR:+-$(printf '%s' "$src" | sha1sum | cut -c1-8)}

work=$CACHE_DIR/work/$tag
if [ ! -f "$work/.copied" ]; then
	log "build: copying $src to $work (the source stays untouched)"
	rm -rf "$work"; mkdir -p "$work"
	rsync -a --exclude=.git --exclude=.hv-swiotlb-overlay "$src/" "$work/"
	make -s -C "$work" mrproper
	touch "$work/.copied"
fi
"$TOP/scripts/apply-overlay.sh" "$work"

# --- configuration ---------------------------------------------------------
out=$CACHE_DIR/build/$tag-$flavor
mkdir -p "$out"
frags=("$TOP/scripts/config/guest.config" "$TOP/.config.fragment")
[ "$flavor" = default ] || frags+=("$TOP/scripts/config/$flavor.config")
for f in "${frags[@]}"; do [ -f "$f" ] || die "missing config fragment $f"; done
cat "${frags[@]}" >"$out/.fragment"
# Reconfigure when a fragment or the overlay's Kconfig wiring changed.
cfgkey=$( { cat "$out/.fragment"; cat "$TOP"/patches/*.patch 2>/dev/null;
	find "$TOP/drivers" -name Kconfig -exec cat {} + 2>/dev/null; } | sha256sum | cut -c1-16)
if [ ! -f "$out/.config" ] || [ "$(cat "$out/.config-key" 2>/dev/null)" != "$cfgkey" ]; then
	log "build: configuring $flavor (allnoconfig + ${frags[*]##*/})"
	"${mk[@]}" -C "$work" O="$out" KCONFIG_ALLCONFIG="$out/.fragment" allnoconfig
	"${mk[@]}" -C "$work" O="$out" olddefconfig
	echo "$cfgkey" >"$out/.config-key"
fi
"$TOP/scripts/check-config.sh" "$out/.config" "${frags[@]}"

# --- build -----------------------------------------------------------------
# Skip make entirely when nothing that feeds the build changed: a no-op make of
# a Rust-enabled tree still costs a minute.
inputs=()
for f in patches drivers rust Kbuild; do [ -e "$TOP/$f" ] && inputs+=("$f"); done
key=$( { cat "$out/.config"; tar -C "$TOP" -cf - --sort=name --mtime=@0 --owner=0 --group=0 \
	"${inputs[@]}"; } | sha256sum | cut -c1-16)
if [ "$(cat "$out/.built" 2>/dev/null)" != "$key" ]; then
	log "build: make bzImage modules ($jobs jobs, flavor $flavor)"
	rm -f "$out/.built"
	# The kernel first, so that a broken module does not stop it half way.
	"${mk[@]}" -C "$work" O="$out" bzImage
	"${mk[@]}" -C "$work" O="$out" modules
	log "build: out-of-tree module (M=$TOP MO=$out/extmod)"
	mkdir -p "$out/extmod"
	"${mk[@]}" -C "$out" M="$TOP" MO="$out/extmod" modules
	echo "$key" >"$out/.built"
	ccache -s 2>/dev/null | grep -E 'Hits|Misses' | head -n2 | sed 's/^/  ccache: /' >&2 || true
else
	log "build: $flavor is up to date ($key)"
fi
echo "$out"
