#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# The host's half of tests/guest/virtiofs.sh.
#
#   virtiofs-host.sh prepare OUT  before the boot: 8 MiB of random data in
#                                 OUT/c/host.bin and OUT/d/host.bin (the
#                                 shares hostc and hostd), their sums in
#                                 OUT/host-sums, for the guest to compare;
#   virtiofs-host.sh verify OUT   after the guest ended: every file the guest
#                                 listed in OUT/guest-sums has, on the host,
#                                 the sum the guest computed before writing
#                                 it. Prints "ok - " / "not ok - " lines.
#   virtiofs-host.sh sums OUT LIST NAME
#                                 after the guest ended: every file in LIST
#                                 (sha256sum lines, paths relative to OUT),
#                                 however many, has that sum on the host; one
#                                 "ok - NAME" or "not ok - NAME" line, the
#                                 mismatches as "# " lines under it. An empty
#                                 or missing LIST fails: the guest wrote
#                                 nothing it could vouch for.
set -euo pipefail
cmd=${1:?usage: virtiofs-host.sh prepare|verify OUT, or sums OUT LIST NAME}
out=${2:?usage: virtiofs-host.sh prepare|verify OUT}

case $cmd in
prepare)
	mkdir -p "$out/c" "$out/d"
	: >"$out/host-sums"
	for t in c d; do
		head -c $((8 << 20)) /dev/urandom >"$out/$t/host.bin"
		(cd "$out" && sha256sum "$t/host.bin") >>"$out/host-sums"
	done
	;;
verify)
	# The guest writes c/guest.bin, d/guest.bin, d/dio.bin (1 MiB O_DIRECT)
	# and e/guest.bin (the hot-plugged share): a missing line is a failure.
	for f in c/guest.bin d/guest.bin d/dio.bin e/guest.bin; do
		name="virtiofs(host): $f as the guest wrote it"
		want=$(awk -v f="$f" '$2 == f {print $1}' "$out/guest-sums" 2>/dev/null || true)
		if [ -z "$want" ]; then
			echo "not ok - $name"
			echo "# the guest recorded no sum for $f"
		elif [ ! -f "$out/$f" ]; then
			echo "not ok - $name"
			echo "# $out/$f is not on the host"
		elif [ "$(sha256sum <"$out/$f" | cut -d' ' -f1)" = "$want" ]; then
			echo "ok - $name"
		else
			echo "not ok - $name"
			echo "# guest: $want, host: $(sha256sum <"$out/$f" | cut -d' ' -f1)"
		fi
	done
	;;
sums)
	list=${3:?usage: virtiofs-host.sh sums OUT LIST NAME}
	name=${4:?usage: virtiofs-host.sh sums OUT LIST NAME}
	if [ ! -s "$list" ]; then
		echo "not ok - $name"
		echo "# $list is missing or empty"
		exit 0
	fi
	# sha256sum -c reads the paths relative to OUT, as the guest wrote them.
	if bad=$(cd "$out" && sha256sum --quiet -c "$list" 2>&1); then
		echo "ok - $name"
	else
		echo "not ok - $name"
		echo "$bad" | head -n 20 | sed 's/^/# /'
	fi
	;;
*)
	echo "usage: virtiofs-host.sh prepare|verify OUT, or sums OUT LIST NAME" >&2
	exit 2
	;;
esac
