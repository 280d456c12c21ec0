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
set -euo pipefail
cmd=${1:?usage: virtiofs-host.sh prepare|verify OUT}
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
*)
	echo "usage: virtiofs-host.sh prepare|verify OUT" >&2
	exit 2
	;;
esac
