#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check the case numbering and the totals of a tests/run.sh output.

Usage: numbering.py OUTPUT

OUTPUT is what tests/run.sh printed (other lines, e.g. its log on stderr,
may be mixed in). Every case line, "ok N - name" or "not ok N - name", must
be numbered one more than the one before it, starting at 1, so that every
number appears once; and the last "P passed, F failed[, S skipped]" line
must count them: P the "ok" lines without "# SKIP", F the "not ok" lines,
S the skipped ones. Prints what is wrong; exit status 0 if nothing is,
1 otherwise.
"""

import re
import sys

CASE = re.compile(r"^(not ok|ok) (\d+) - (.*)$")
TOTALS = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$")
MAX_REPORTED = 10


def check(lines):
    """Return the list of problems found in the output's lines."""
    problems = []
    seen = {}  # number -> line number of its first use
    expect = 1
    counts = {"passed": 0, "failed": 0, "skipped": 0}
    totals = None
    for lineno, line in enumerate(lines, 1):
        line = line.rstrip("\n")
        m = TOTALS.match(line)
        if m:
            totals = (lineno, int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
            continue
        m = CASE.match(line)
        if not m:
            continue
        num = int(m.group(2))
        if num in seen:
            problems.append(f"line {lineno}: case {num} numbered again (first on line "
                            f"{seen[num]}): {line}")
        elif num != expect:
            problems.append(f"line {lineno}: case {num} where {expect} was due: {line}")
        seen.setdefault(num, lineno)
        expect = num + 1
        if m.group(1) == "not ok":
            counts["failed"] += 1
        elif "# SKIP" in m.group(3):
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    ncases = sum(counts.values())
    if not ncases:
        problems.append("no case lines")
    if totals is None:
        problems.append("no \"N passed, N failed\" line")
    else:
        lineno, passed, failed, skipped = totals
        said = {"passed": passed, "failed": failed, "skipped": skipped}
        for what in ("passed", "failed", "skipped"):
            if said[what] != counts[what]:
                problems.append(f"line {lineno}: the totals say {said[what]} {what}, "
                                f"the case lines {counts[what]}")
    return problems


def main(path):
    with open(path, errors="replace") as f:
        problems = check(f)
    for p in problems[:MAX_REPORTED]:
        print(p)
    if len(problems) > MAX_REPORTED:
        print(f"... and {len(problems) - MAX_REPORTED} more")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
