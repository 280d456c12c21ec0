#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Fail, naming each one, if an option requested by a fragment did not land in
# the final .config (Kconfig silently drops options whose dependencies fail).
# Fragments are read in order; a later one overrides an earlier one.
#
# Usage: scripts/check-config.sh .config FRAGMENT...
set -euo pipefail
config=${1:?usage: check-config.sh .config FRAGMENT...}
shift
declare -A want=()
order=()
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*) sym=${line%%=*} ;;
	"# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *} ;;
	*) continue ;;
	esac
	[ -n "${want[$sym]+x}" ] || order+=("$sym")
	want[$sym]=$line
done < <(cat "$@")

bad=0
for sym in "${order[@]}"; do
	w=${want[$sym]}
	got=$(grep -E "^($sym=|# $sym is not set)" "$config" || true)
	# An unset option may also be simply absent (its menu is hidden).
	if [ "$got" != "$w" ] && ! { [ "${w#\#}" != "$w" ] && [ -z "$got" ]; }; then
		echo "config: $sym: requested '$w', got '${got:-absent}'" >&2
		bad=1
	fi
done
[ $bad = 0 ] || { echo "config: the options above did not land in $config (check their dependencies)" >&2; exit 1; }
