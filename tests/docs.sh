#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Lint the project's reStructuredText with docutils (the kernel's htmldocs
# needs Sphinx and the whole tree): every warning fails. One line per file.
set -uo pipefail
. "$(dirname "$0")/../scripts/lib.sh"

py=$CACHE_DIR/venv/bin/python
cd "$TOP"
for f in $(find Documentation -name '*.rst' | sort); do
	if out=$("$py" "$TOP/tests/rstcheck.py" "$f" 2>&1); then
		echo "ok - docs: $f builds without warnings"
	else
		echo "not ok - docs: $f builds without warnings"
		echo "$out" | head -n 5 | sed 's/^/#   /'
	fi
done
