#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Fetch Debian's linux-source-$KVER_SERIES from trixie-backports with a private
# apt configuration (own sources list, lists and archive dirs in the cache),
# verify it and extract it once. Prints the pristine tree's path.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

pkg=linux-source-$KVER_SERIES
apt_dir=$CACHE_DIR/apt
src_root=$CACHE_DIR/src

existing=$(ls -d "$src_root"/linux-source-"$KVER_SERIES".*/.extracted 2>/dev/null | tail -n1 || true)
if [ -n "$existing" ]; then
	dirname "$existing"
	exit 0
fi

# Reuse the mirror the system already trusts, without touching its config.
mirror=$(grep -hoE '^URIs: *http[^ ]+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1 | awk '{print $2}')
[ -n "$mirror" ] || mirror=$(grep -hoE '^deb +http[^ ]+/debian/? ' /etc/apt/sources.list 2>/dev/null | head -n1 | awk '{print $2}')
[ -n "$mirror" ] || die "cannot find a Debian mirror in the system's apt configuration"

mkdir -p "$apt_dir"/{lists/partial,archives/partial,etc/preferences.d} "$src_root"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie-backports main" \
	>"$apt_dir/etc/sources.list"
opts=(-o Dir::Etc::SourceList="$apt_dir/etc/sources.list" -o Dir::Etc::SourceParts=/dev/null
	-o Dir::Etc::Preferences="$apt_dir/etc/preferences" -o Dir::Etc::PreferencesParts="$apt_dir/etc/preferences.d"
	-o Dir::State::Lists="$apt_dir/lists" -o Dir::Cache="$apt_dir" -o Dir::Cache::Archives="$apt_dir/archives"
	-o Dir::State::Status=/var/lib/dpkg/status -o APT::Get::List-Cleanup=0 -o Debug::NoLocking=1)
log "fetch: apt-get update (private config, trixie-backports)"
apt-get "${opts[@]}" update -qq 2>&1 | grep -v -e '^W: Download is performed unsandboxed' >&2 || true
( cd "$apt_dir/archives" && apt-get "${opts[@]}" download -qq "$pkg" 2>&1 | grep -v unsandboxed >&2 || true )
deb=$(ls "$apt_dir"/archives/"$pkg"_*.deb 2>/dev/null | tail -n1)
[ -n "$deb" ] || die "apt-get download $pkg failed"

# apt-get download verified the .deb against the signed Release file; check
# the package's own checksums of its content too.
work=$(mktemp -d "$src_root/.x.XXXXXX")
dpkg-deb -x "$deb" "$work"
( cd "$work" && dpkg-deb -I "$deb" md5sums >/dev/null 2>&1 && dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./md5sums | md5sum -c --quiet ) \
	|| die "checksum mismatch in $deb"
tarball=$(ls "$work"/usr/src/linux-source-"$KVER_SERIES".tar.xz)
ver=$(dpkg-deb -f "$deb" Version | sed 's/[-+~].*//')
dest=$src_root/linux-source-$ver
log "fetch: extracting $(basename "$deb") to $dest"
rm -rf "$dest"
tar -C "$work" -xf "$tarball"
mv "$work/linux-source-$KVER_SERIES" "$dest"
rm -rf "$work"
touch "$dest/.extracted"
echo "$dest"
