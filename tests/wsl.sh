#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make test-wsl: the 6.18 series and the driver on a Linux 6.18.y tree, the
# kernel that WSL users build, with a WSL configuration.
#
# Usage: make test-wsl KSRC=<6.18.y tree> [MS_PATCH=<file>] [WSL_CONFIG=<file>]
#                      [WSL_LEAN=2|1|0] [WSL_BUILTIN=1]
#
#   KSRC        a Linux 6.18.y tree; only read. It is copied into the cache
#               once (work/<version>-<hash of its path>), as a git
#               repository tagged pristine; each run resets it to that,
#               applies MS_PATCH with git am (patch -p1 if it is no mbox),
#               then the series of `make patches KVER=6.18 KSRC=...` (with
#               patches/ms-pool/ last when MS_PATCH is given) with git am.
#               Runs with and without MS_PATCH share the copy and build tree.
#   MS_PATCH    Microsoft's hv_pci SWIOTLB pool patch (e.g. Locietta's
#               0005-swiotlb-pool.patch), to test a tree that carries it.
#   WSL_CONFIG  the WSL configuration (default $KSRC/Microsoft/config-wsl).
#               Merged with scripts/config/wsl.config, it must give every
#               option wsl.config asks for: that is checked on the full
#               configuration whatever WSL_LEAN says (a configuration only,
#               no build).
#   WSL_LEAN    what the test kernel is built from (2 cores do not build a
#               full config-wsl in reasonable time: see wsl-core.config):
#               2 (default): allnoconfig + scripts/config/guest.config +
#                 .config.fragment + wsl-core.config (config-wsl's CFI,
#                 hardening, DWARF/BTF, preemption, NUMA, confidential-guest
#                 and Hyper-V options) + wsl.config;
#               1: WSL_CONFIG without its modules (every =m off) and without
#                 what wsl-lean.config lists (debugging information, so no
#                 MODVERSIONS; DRM, sound, Bluetooth, wireless, media, KVM,
#                 btrfs, XFS, F2FS) + wsl.config + wsl-guest.config;
#               0: WSL_CONFIG + wsl.config + wsl-guest.config, untouched.
#   WSL_BUILTIN=1 also builds a kernel with the driver built in
#               (wsl-builtin.config) and boots it with tests/guest/builtin.sh.
#
# Prints TAP-style cases like tests/run.sh ("ok N - name"), the time each
# phase took, and "N passed, N failed" last. Kernel builds and guests run
# under nice -n 19 with JOBS (default 2) jobs.
set -uo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

: "${KSRC:?usage: make test-wsl KSRC=<6.18.y tree> [MS_PATCH=<file>] [WSL_CONFIG=<file>]}"
ksrc=$(cd "$KSRC" && pwd -P) || die "KSRC=$KSRC does not exist"
ms=${MS_PATCH:+$(realpath "$MS_PATCH")}
lean=${WSL_LEAN:-2}
jobs=${JOBS:-2}
wslcfg=${WSL_CONFIG:-$ksrc/Microsoft/config-wsl}
[ -f "$ksrc/Makefile" ] || die "KSRC=$ksrc is not a kernel tree"
[ -z "$ms" ] || [ -f "$ms" ] || die "MS_PATCH=$MS_PATCH does not exist"
case $lean in 0 | 1 | 2) ;; *) die "WSL_LEAN=$lean: 0, 1 or 2" ;; esac
[ "$lean" = 2 ] || [ -f "$wslcfg" ] || die "WSL_LEAN=$lean needs WSL_CONFIG=<config-wsl> (no $wslcfg)"
ver=$(sed -n 's/^VERSION = //p; s/^PATCHLEVEL = //p; s/^SUBLEVEL = //p' "$ksrc/Makefile" | paste -sd.)
case $ver in 6.18.*) ;; *) die "KSRC=$ksrc is Linux $ver, not 6.18.y" ;; esac

export CCACHE_DIR=${CCACHE_DIR:-$CACHE_DIR/ccache} CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-10G}
export CCACHE_BASEDIR=$CACHE_DIR CCACHE_SLOPPINESS=time_macros,include_file_mtime
mk=(nice -n 19 make -s LLVM=-19 "CC=ccache clang-19" -j"$jobs")
cfgdir=$TOP/scripts/config
rel=drivers/pci/controller/hv_pci_swiotlb/hv_pci_swiotlb.ko

t_start=$(date +%s)
n=0 passed=0 failed=0 skipped=
work=$CACHE_DIR/test-wsl
rm -rf "$work"
mkdir -p "$work"

# --- TAP output, as in tests/run.sh ---------------------------------------------
. "$TOP/tests/tap.sh"
GUEST_NICE=19

step() { # NAME CMD...: a phase that is one case; its output goes to a log
	local name=$1 log=$work/$(printf %s "$1" | tr -c 'A-Za-z0-9.-' _).log
	shift
	if timed "$name" "$@" >"$log" 2>&1; then
		case_result ok "$name"
	else
		case_result fail "$name" "$log"
		return 1
	fi
}

# --- the series -------------------------------------------------------------------
series=$work/series
# With MS_PATCH the series ends with patches/ms-pool/ (MS_POOL=1), which
# lets the built-in driver replace Microsoft's pool.
step "wsl: make patches KVER=6.18 writes the series for $ver${ms:+ with the patch for Microsoft pool trees}" \
	env KVER=6.18 KSRC="$ksrc" MS_POOL=${ms:+1} "$TOP/scripts/mkpatches.sh" "$series" || finish
# The key leaves out the Date: lines, which change at every run.
series_key=$( { cat "$series"/*.patch | grep -v '^Date: '; [ -z "$ms" ] || cat "$ms"; } |
	sha256sum | cut -c1-16)

# --- the copy of KSRC: pristine, then MS_PATCH, then the series --------------------
# One copy and one build tree per KSRC, with and without MS_PATCH: switching
# rewrites only the files the two differ in, so the kernel rebuilds what
# includes them (minutes) instead of everything (most of an hour on 2 cores).
tag=$ver-$(printf '%s\n' "$ksrc" | sha1sum | cut -c1-8)
src=$CACHE_DIR/work/$tag
# No automatic gc in the copy: it would repack 1.4 GB in the background.
git_() { git -C "$src" -c gc.auto=0 -c maintenance.auto=false -c user.name=hv-swiotlb \
	-c user.email=hv-swiotlb@localhost "$@"; }

copy_tree() {
	rm -rf "$src"
	mkdir -p "$src"
	rsync -a --exclude=.git "$ksrc/" "$src/" || return
	make -s -C "$src" mrproper || return
	git_ init -q && git_ add -A && git_ commit -q -m "Linux $ver (copy of $ksrc)" &&
		git_ tag pristine || return
	touch "$src/.hv-copied"
}
if [ ! -f "$src/.hv-copied" ]; then
	step "wsl: copy $ksrc into the cache" copy_tree || finish
else
	log "wsl: $src is there already"
fi
git_ rev-parse -q --verify pristine >/dev/null || die "$src has no tag pristine: rm -rf it"

# apply_ms: MS_PATCH on top of pristine, with git am (patch -p1 if it is no
# mbox); the result is tagged base.
apply_ms() {
	if [ -n "$ms" ]; then
		if grep -q '^From [0-9a-f]\{40\} ' "$ms"; then
			git_ am -q "$ms" || { git_ am --abort; return 1; }
		else
			(cd "$src" && patch -p1 -s --no-backup-if-mismatch <"$ms") &&
				git_ add -A && git_ commit -q -m "MS_PATCH $(basename "$ms")" || return
		fi
	fi
	git_ tag -f base >/dev/null
}

# apply_series: pristine, MS_PATCH and the series, unless they are there
# already. A file that comes out the same gets its old time back, so that a
# change to the driver does not rebuild everything that includes swiotlb.h.
apply_series() {
	local f blob t
	local -A old=()
	[ "$(cat "$src/.hv-series-key" 2>/dev/null)" != "$series_key" ] || return 0
	rm -f "$src/.hv-series-key"
	while IFS= read -r f; do
		old[$f]="$(git_ rev-parse -q --verify "HEAD:$f") $(stat -c %Y "$src/$f" 2>/dev/null)"
	done < <(git_ diff --name-only pristine HEAD)
	git_ reset -q --hard pristine || return
	apply_ms || return
	if ! git_ am -q "$series"/*.patch; then
		git_ am --abort
		return 1
	fi
	for f in "${!old[@]}"; do
		read -r blob t <<<"${old[$f]}"
		[ -n "$t" ] && [ "$(git_ rev-parse -q --verify "HEAD:$f")" = "$blob" ] &&
			touch -d "@$t" "$src/$f"
	done
	echo "$series_key" >"$src/.hv-series-key"
}
step "wsl: the 6.18 series applies with git am${ms:+ on top of $(basename "$ms")}" apply_series ||
	finish

# --- configuration ------------------------------------------------------------------
# check_full: wsl.config on the full WSL configuration lands entirely (only
# a configuration, in a directory of its own).
check_full() {
	local o=$CACHE_DIR/build/$tag-wslconfig
	mkdir -p "$o"
	cp "$wslcfg" "$o/.base"
	(cd "$src" && nice -n 19 scripts/kconfig/merge_config.sh -m -O "$o" "$o/.base" \
		"$cfgdir/wsl.config") || return
	"${mk[@]}" -C "$src" O="$o" olddefconfig || return
	"$TOP/scripts/check-config.sh" "$o/.config" "$cfgdir/wsl.config"
}
if [ -f "$wslcfg" ]; then
	step "config: wsl.config lands on the full $(basename "$wslcfg")" check_full
else
	case_result skip "config: wsl.config lands on the full config-wsl # SKIP no WSL_CONFIG"
fi

# configure OUT FRAGMENT...: the test kernel's configuration (WSL_LEAN), then
# check that every requested option landed.
configure() {
	local o=$1 key
	shift
	mkdir -p "$o"
	cat "$@" >"$o/.fragment"
	key=$( { echo "lean=$lean"; cat "$o/.fragment"; [ "$lean" = 2 ] || cat "$wslcfg";
		grep -h '^+' "$series"/*.patch | grep -A20 '^+config '; } | sha256sum | cut -c1-16)
	if [ ! -f "$o/.config" ] || [ "$(cat "$o/.config-key" 2>/dev/null)" != "$key" ]; then
		if [ "$lean" = 2 ]; then
			"${mk[@]}" -C "$src" O="$o" KCONFIG_ALLCONFIG="$o/.fragment" allnoconfig || return
		else
			if [ "$lean" = 1 ]; then # every module off: the guest loads ours only
				sed -E 's/^(CONFIG_[A-Za-z0-9_]+)=m$/# \1 is not set/' "$wslcfg" >"$o/.base"
			else
				cp "$wslcfg" "$o/.base"
			fi
			(cd "$src" && nice -n 19 scripts/kconfig/merge_config.sh -m -O "$o" "$o/.base" \
				"$o/.fragment") || return
		fi
		"${mk[@]}" -C "$src" O="$o" olddefconfig || return
		echo "$key" >"$o/.config-key"
	fi
	"$TOP/scripts/check-config.sh" "$o/.config" "$@"
}

# build OUT: the kernel, its modules and the out-of-tree module; skipped when
# nothing that feeds it changed.
build() {
	local o=$1 key inputs=()
	for f in drivers rust Kbuild tests/bench; do [ -e "$TOP/$f" ] && inputs+=("$f"); done
	key=$( { cat "$o/.config"; echo "$series_key"; tar -C "$TOP" -cf - --sort=name --mtime=@0 \
		--owner=0 --group=0 "${inputs[@]}"; } | sha256sum | cut -c1-16)
	[ "$(cat "$o/.built" 2>/dev/null)" != "$key" ] || { log "build: $o is up to date"; return 0; }
	rm -f "$o/.built"
	timed "build:bzImage:$(basename "$o")" "${mk[@]}" -C "$src" O="$o" bzImage || return
	timed "build:modules:$(basename "$o")" "${mk[@]}" -C "$src" O="$o" modules || return
	mkdir -p "$o/extmod"
	timed "build:extmod:$(basename "$o")" "${mk[@]}" -C "$o" M="$TOP" MO="$o/extmod" modules ||
		return
	echo "$key" >"$o/.built"
}

case $lean in
2) frags=("$cfgdir/guest.config" "$TOP/.config.fragment" "$cfgdir/wsl-core.config"
	"$cfgdir/wsl.config") ;;
1) frags=("$cfgdir/wsl.config" "$cfgdir/wsl-lean.config" "$cfgdir/wsl-guest.config") ;;
0) frags=("$cfgdir/wsl.config" "$cfgdir/wsl-guest.config") ;;
esac
build=$CACHE_DIR/build/$tag-wsl$lean
step "config: every option of the test kernel landed (WSL_LEAN=$lean)" \
	configure "$build" "${frags[@]}" || finish
step "build: kernel, in-tree and out-of-tree module (WSL_LEAN=$lean)" build "$build" || finish
for f in "$build/extmod/$rel" "$build/$rel"; do
	if [ -f "$f" ]; then case_result ok "build: ${f#"$build"/} exists"
	else case_result fail "build: ${f#"$build"/} exists"; fi
done
mod=$build/extmod/$rel

# The benchmark module, a direct C caller of the pool API, builds there too.
if "${mk[@]}" -C "$build" M="$TOP/tests/bench" MO="$work/bench" modules \
	>"$work/bench-build.log" 2>&1; then
	case_result ok "build: tests/bench (a direct caller of the pool API) builds"
else
	case_result fail "build: tests/bench (a direct caller of the pool API) builds" \
		"$work/bench-build.log"
fi

# --- guests ---------------------------------------------------------------------------

SUITES=(--expect hv_pci_swiotlb_size --expect hv_pci_swiotlb_params --expect hv_pci_swiotlb_slices
	--expect hv_pci_swiotlb_devices --expect hv_pci_swiotlb_pool)

# The module finds the API on 6.18 and its KUnit suites pass there. With
# MS_PATCH the module steps aside instead: the coexistence cases below.
plain_cases() {
	guest_cases wsl-pool-api "$build" "MOD=$mod bash tests/guest/pool-api.sh"
	kunit_results wsl "$work/wsl-pool-api/dmesg-load.txt" --no-skip "${SUITES[@]}"
	# The kernel crate's suites that the series adds, from the boot log.
	boot_suites wsl-boot "$work/wsl-pool-api/dmesg-boot.txt" "${SERIES_RUST_SUITES[@]}"

	[ -x "$TOP/tools/target/debug/swiotlbctl" ] ||
		timed swiotlbctl nice -n 19 cargo build --manifest-path "$TOP/tools/Cargo.toml" --locked \
			>"$work/swiotlbctl.log" 2>&1
	guest_cases wsl-driver "$build" \
		"MOD=$mod SWIOTLBCTL=$TOP/tools/target/debug/swiotlbctl bash tests/guest/driver.sh"

	# The two virtio-fs shares (/mnt/c and /mnt/d in WSL), each with its own
	# pool; the host checks what the guest wrote.
	"$TOP/tests/virtiofs-host.sh" prepare "$work/wsl-virtiofs"
	guest_cases wsl-virtiofs "$build" "MOD=$mod bash tests/guest/virtiofs.sh"
	"$TOP/tests/virtiofs-host.sh" verify "$work/wsl-virtiofs" >"$work/wsl-virtiofs-host.txt"
	results_from "$work/wsl-virtiofs-host.txt"

	if [ "${WSL_BUILTIN:-0}" = 1 ]; then
		builtin=$CACHE_DIR/build/$tag-wsl$lean-builtin
		if step "config: every option of the built-in kernel landed (WSL_LEAN=$lean)" \
			configure "$builtin" "${frags[@]}" "$cfgdir/wsl-builtin.config" &&
			step "build: kernel with the driver built in (WSL_LEAN=$lean)" build "$builtin"; then
			GUEST_APPEND="hv_pci_swiotlb=32M hv_pci_swiotlb.test_mode=1" \
				guest_cases wsl-builtin "$builtin" "bash tests/guest/builtin.sh"
		fi
	fi
}

# --- coexistence with Microsoft's pool (MS_PATCH trees) -------------------------------
# names_apart: no function, export or variable that MS_PATCH defines has a
# namesake among the series' definitions (C and Rust), so neither can be
# taken for the other at link, symbol_get() or kallsyms time.
names_apart() {
	python3 - "$ms" "$series"/*.patch <<'PY'
import re, sys
def defined(path):
    names = set()
    for line in open(path, errors="replace"):
        if not line.startswith("+") or line.startswith("+++"):
            continue
        l = line[1:]
        for m in re.finditer(r"EXPORT_SYMBOL(?:_GPL)?\((\w+)\)", l):
            names.add(m.group(1))
        m = re.match(r"(?:static\s+)?(?:inline\s+)?(?:const\s+)?(?:struct\s+)?[\w\s\*]+?\b(\w+)\s*\([^;]*$", l)
        if m and not l[0].isspace() and not l.startswith(("#", "/", "*", "}")):
            names.add(m.group(1))
        m = re.match(r"(?:static\s+)?(?:struct\s+)?\w[\w\s\*]*?\b(\w+)(?:\s*=.*)?;\s*$", l)
        if m and not l[0].isspace() and not l.startswith(("#", "/", "*", "}", "return")):
            names.add(m.group(1))
        m = re.match(r"(?:pub(?:\(crate\))?\s+)?(?:extern \"C\"\s+)?fn\s+(\w+)", l.strip())
        if m:
            names.add(m.group(1))
    return names
ms = defined(sys.argv[1])
ours = set().union(*(defined(p) for p in sys.argv[2:]))
ms.discard("")
both = sorted(ms & ours)
print(f"Microsoft's patch defines {len(ms)} names: {' '.join(sorted(ms))}")
print(f"shared with the series: {' '.join(both) or 'none'}")
sys.exit(1 if both else 0)
PY
}

# coexistence_cases BUILD MODULE: which pool owns hv_pci_swiotlb= on a tree
# with MS_PATCH, as a module and built in (tests/guest/ms-coexist.sh).
coexistence_cases() {
	local b=$1 m=$2
	step "ms: no name of Microsoft's patch is defined by the series" names_apart
	GUEST_APPEND="hv_pci_swiotlb=64M" \
		guest_cases wsl-ms-module "$b" "MOD=$m MODE=module SIZE=64 bash tests/guest/ms-coexist.sh"
	# The module's KUnit suites ran at that load, beside Microsoft's pool.
	kunit_results wsl-ms "$work/wsl-ms-module/dmesg-module.txt" --no-skip "${SUITES[@]}"
	# Built in, in the same tree: only what depends on the driver's options
	# rebuilds. The next run switches it back.
	if step "config: the driver built in, with Microsoft's pool in the tree" \
		configure "$b" "${frags[@]}" "$cfgdir/wsl-builtin.config" &&
		step "build: the driver built in, with Microsoft's pool in the tree" build "$b"; then
		check_replaced() {
			grep -qx 'CONFIG_PCI_HYPERV_SWIOTLB_REPLACES_SHARED=y' "$b/.config"
		}
		step "config: PCI_HYPERV_SWIOTLB_REPLACES_SHARED=y with the driver built in" check_replaced
		GUEST_APPEND="hv_pci_swiotlb=64M hv_pci_swiotlb.test_mode=1" \
			guest_cases wsl-ms-builtin "$b" "MODE=builtin SIZE=64 bash tests/guest/ms-coexist.sh"
	fi
}

if [ -z "$ms" ]; then
	plain_cases
else
	coexistence_cases "$build" "$mod"
fi
finish
