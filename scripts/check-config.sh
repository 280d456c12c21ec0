#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Fail, naming each one, if an option requested by a fragment did not land in
# the final .config (Kconfig silently drops options whose dependencies fail).
#
# Usage: scripts/check-config.sh .config FRAGMENT...
set -euo pipefail
config=${1:?usage: check-config.sh .config FRAGMENT...}
shift
bad=0
while IFS= read -r line; do
	case "$line" in
	CONFIG_*=*) sym=${line%%=*} want=$line ;;
	"# CONFIG_"*" is not set") sym=${line#\# }; sym=${sym%% *}; want=$line ;;
	*) continue ;;
	esac
	got=$(grep -E "^($sym=|# $sym is not set)" "$config" || true)
	# An unset option may also be simply absent (its menu is hidden).
	if [ "$got" != "$want" ] && ! { [ "${want#\#}" != "$want" ] && [ -z "$got" ]; }; then
		echo "config: $sym: requested '${want}', got '${got:-absent}'" >&2
		bad=1
	fi
done < <(cat "$@")
[ $bad = 0 ] || { echo "config: the options above did not land in $config (check their dependencies)" >&2; exit 1; }
