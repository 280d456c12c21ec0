#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install everything the build, boot and tests need. Idempotent; never edits
# the system's apt sources.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

BINDGEN_VERSION=0.73.2
VNG_VERSION=1.42
DOCUTILS_VERSION=0.21.2
# virtiofsd for the guests' virtio-fs shares, built from its crates.io source
# with tests/virtiofsd/*.patch (it offers VIRTIO_F_ACCESS_PLATFORM, which
# stock virtiofsd does not, so QEMU would refuse iommu_platform=on). Only for
# guests without a vIOMMU: see the patch. Kept in the cache, never on PATH:
# virtme-ng would take it for its own root share.
VIRTIOFSD_VERSION=1.14.0
VIRTIOFSD_SHA256=7051accc9cf2816e25945c8216e6d4be2b4e75fc5e77559cd7eed5e400245cc1
DEB_PKGS=(clang-19 lld-19 llvm-19 libclang-19-dev flex bison bc libelf-dev libdw-dev
	libssl-dev cpio dwarves busybox-static qemu-system-x86 ccache udev
	python3-venv xz-utils kmod make git rsync e2fsprogs socat iproute2 iputils-ping
	curl ca-certificates patch libcap-ng-dev libseccomp-dev pkg-config)

vfs_dir=$CACHE_DIR/virtiofsd
vfs_patches=("$TOP"/tests/virtiofsd/*.patch)
# What the installed virtiofsd was built from: the version and the patches.
vfs_want="$VIRTIOFSD_VERSION $(cat "${vfs_patches[@]}" | sha256sum | cut -d' ' -f1)"
virtiofsd_ok() {
	[ -x "$vfs_dir/bin/virtiofsd" ] && [ "$(cat "$vfs_dir/stamp" 2>/dev/null)" = "$vfs_want" ]
}

# build_virtiofsd: fetch the pinned crate, check its hash, apply the patches
# and build it with the crate's own Cargo.lock into $vfs_dir/bin. One builder
# at a time: sessions share the cache.
build_virtiofsd() {
	exec 9>"$CACHE_DIR/virtiofsd.lock"
	flock 9
	virtiofsd_ok && return 0
	local crate=$vfs_dir/virtiofsd-$VIRTIOFSD_VERSION.crate src=$vfs_dir/src p
	log "deps: virtiofsd $VIRTIOFSD_VERSION from crates.io, patched, into $vfs_dir/bin"
	mkdir -p "$vfs_dir"
	if ! echo "$VIRTIOFSD_SHA256  $crate" | sha256sum -c --status 2>/dev/null; then
		curl -sSfL -o "$crate.part" \
			"https://static.crates.io/crates/virtiofsd/virtiofsd-$VIRTIOFSD_VERSION.crate"
		echo "$VIRTIOFSD_SHA256  $crate.part" | sha256sum -c --status ||
			die "virtiofsd-$VIRTIOFSD_VERSION.crate: sha256 is not $VIRTIOFSD_SHA256"
		mv "$crate.part" "$crate"
	fi
	rm -rf "$src" && mkdir -p "$src"
	tar -xzf "$crate" -C "$src" --strip-components=1
	for p in "${vfs_patches[@]}"; do
		patch -d "$src" -p1 --batch --quiet <"$p" || die "virtiofsd: $p does not apply"
	done
	# The target directory stays: a new patch rebuilds only virtiofsd itself.
	cargo install --locked --quiet --force --path "$src" --root "$vfs_dir" \
		--target-dir "$vfs_dir/target"
	echo "$vfs_want" >"$vfs_dir/stamp"
	flock -u 9
}

stamp=$CACHE_DIR/deps.stamp
want="$BINDGEN_VERSION $VNG_VERSION $DOCUTILS_VERSION ${DEB_PKGS[*]}"
mkdir -p "$CACHE_DIR"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
	command -v clang-19 >/dev/null && [ -x "$CACHE_DIR/venv/bin/vng" ] && virtiofsd_ok; then
	log "deps: up to date"
	exit 0
fi

missing=()
for p in "${DEB_PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "deps: apt-get install ${missing[*]}"
	SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
	log "deps: rustup component add rust-src"
	rustup component add rust-src
fi

if ! bindgen --version 2>/dev/null | grep -q "$BINDGEN_VERSION"; then
	log "deps: cargo install bindgen-cli $BINDGEN_VERSION"
	cargo install --locked --quiet bindgen-cli --version "$BINDGEN_VERSION"
fi

if [ ! -x "$CACHE_DIR/venv/bin/vng" ] || [ ! -x "$CACHE_DIR/venv/bin/docutils" ]; then
	log "deps: virtme-ng $VNG_VERSION and docutils $DOCUTILS_VERSION into $CACHE_DIR/venv"
	python3 -m venv "$CACHE_DIR/venv"
	"$CACHE_DIR/venv/bin/pip" install -q "virtme-ng==$VNG_VERSION" "docutils==$DOCUTILS_VERSION"
fi

virtiofsd_ok || build_virtiofsd

echo "$want" >"$stamp"
log "deps: done"
