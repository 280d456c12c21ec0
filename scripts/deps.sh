#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install everything the build, boot and tests need. Idempotent; never edits
# the system's apt sources.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

BINDGEN_VERSION=0.73.2
VNG_VERSION=1.42
DOCUTILS_VERSION=0.21.2
DEB_PKGS=(clang-19 lld-19 llvm-19 libclang-19-dev flex bison bc libelf-dev libdw-dev
	libssl-dev cpio dwarves busybox-static qemu-system-x86 ccache udev
	python3-venv xz-utils kmod make git rsync e2fsprogs socat iproute2 iputils-ping)

stamp=$CACHE_DIR/deps.stamp
want="$BINDGEN_VERSION $VNG_VERSION $DOCUTILS_VERSION ${DEB_PKGS[*]}"
mkdir -p "$CACHE_DIR"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
	command -v clang-19 >/dev/null && [ -x "$CACHE_DIR/venv/bin/vng" ]; then
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

echo "$want" >"$stamp"
log "deps: done"
