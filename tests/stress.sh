#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make stress` (and `make test-debug` with FLAVOR=debug): the slow abuse
# tests of tests/guest/stress.sh in one guest, reported like `make test`.
# CYCLES, PASSES, HOTPLUGS, NET_MIB and VFS_MIB (virtio-fs data, default
# 1024) scale it down for a quick look;
# MODARGS adds module parameters to every load (e.g. max_devices=3).
set -uo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

for v in CYCLES PASSES HOTPLUGS NET_MIB VFS_MIB; do
	case ${!v-1} in '' | *[!0-9]*) die "$v=${!v}: want a number" ;; esac
done

flavor=${FLAVOR:-default}
work=$CACHE_DIR/stress-$flavor
rm -rf "$work"; mkdir -p "$work"
command -v fio >/dev/null || {
	SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq fio >/dev/null
}
build=$(phase "build:$flavor" "$TOP/scripts/build-kernel.sh" "$flavor") || exit 1
mod=$build/extmod/drivers/pci/controller/hv_pci_swiotlb/hv_pci_swiotlb.ko
: >"$work/results"
rc=0
# KUnit would run the module's suites at each of the many loads: off here.
GUEST_APPEND="kunit.enable=0 ${GUEST_APPEND:-}" GUEST_TIMEOUT=${GUEST_TIMEOUT:-5400} \
	phase stress "$TOP/scripts/guest.sh" "$build" "$work" \
	"OUT=$work MOD=$mod CYCLES=${CYCLES:-1000} PASSES=${PASSES:-16} HOTPLUGS=${HOTPLUGS:-100} NET_MIB=${NET_MIB:-512} VFS_MIB=${VFS_MIB:-1024} MODARGS='${MODARGS:-}' bash tests/guest/stress.sh" ||
	rc=$?
# What the guest wrote through hostc, checked on the host's side of the
# share now that the guest is gone; the GiB is deleted unless it is needed
# to look into a mismatch.
"$TOP/tests/virtiofs-host.sh" sums "$work" "$work/vfs-sums" \
	"virtiofs(host): the files the guest wrote through hostc have the guest's sums" >"$work/vfs-host.txt"
cat "$work/vfs-host.txt" >>"$work/results"
grep -q '^ok - ' "$work/vfs-host.txt" && rm -rf "$work/c/stress"
n=0 passed=0 failed=0
while IFS= read -r line; do
	case "$line" in
	"ok - "*) n=$((n + 1)); passed=$((passed + 1)); echo "ok $n - ${line#ok - }" ;;
	"not ok - "*) n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - ${line#not ok - }" ;;
	"#"*) echo "$line" ;;
	esac
done <"$work/results"
if [ $rc != 0 ] || [ $n = 0 ]; then
	failed=$((failed + 1))
	echo "not ok $((n + 1)) - stress guest ran to completion (exit $rc)"
	tail -n 40 "$work/console.log" | sed 's/^/#   /'
fi
echo "# figures:"; sed 's/^/#   /' "$work/figures" 2>/dev/null
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
