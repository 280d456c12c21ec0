#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Extract KUnit results from a kernel log and print one line per case.

Usage: ktap.py LOG [--no-skip] [--expect SUITE]...

Reads KTAP as KUnit prints it to the console (with or without printk
timestamps), and prints, for every test case of every suite:

    ok - kunit: SUITE.CASE
    not ok - kunit: SUITE.CASE

A suite whose plan (1..N) does not match the cases seen, or an expected suite
that never ran, is reported as a failed case of its own, so that a crash in
the middle of a suite or a suite that was not built cannot pass silently.
With --no-skip, a skipped case counts as failed (where nothing may be skipped).
Exit status: 0 if everything passed, 1 otherwise.
"""

import re
import sys

TS = re.compile(r"^\[\s*\d+\.\d+\]\s?")
SUBTEST = re.compile(r"^(\s*)# Subtest: (\S+)")
PLAN = re.compile(r"^(\s*)1\.\.(\d+)$")
RESULT = re.compile(r"^(\s*)(ok|not ok) \d+ (\S+)(.*)$")


def parse(lines):
    """Yield (suite, case, passed, note) tuples and plan mismatches."""
    suites = {}  # indent -> [name, planned, seen]
    for raw in lines:
        line = TS.sub("", raw.rstrip("\n"))
        m = SUBTEST.match(line)
        if m:
            suites[len(m.group(1))] = [m.group(2), None, 0]
            continue
        m = PLAN.match(line)
        if m and len(m.group(1)) in suites:
            suites[len(m.group(1))][1] = int(m.group(2))
            continue
        m = RESULT.match(line)
        if not m:
            continue
        indent = len(m.group(1))
        if indent in suites:
            # A case of the innermost suite at this indentation.
            suite = suites[indent]
            if m.group(3) == suite[0] and indent == 0:
                continue
            suite[2] += 1
            skipped = "# SKIP" in m.group(4)
            yield ("case", suite[0], m.group(3), m.group(2) == "ok", skipped)
        elif indent + 4 in suites:
            # The suite's own result line closes it.
            name, planned, seen = suites.pop(indent + 4)
            if planned is not None and planned != seen:
                yield ("plan", name, f"planned {planned}, ran {seen}", False, False)
            yield ("suite", name, None, m.group(2) == "ok", False)


def main(argv):
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    log, expect, no_skip = argv[0], [], False
    rest = argv[1:]
    while rest:
        if rest[0] == "--no-skip":
            no_skip = True
            rest = rest[1:]
        elif rest[0] == "--expect" and len(rest) > 1:
            expect.append(rest[1])
            rest = rest[2:]
        else:
            print(f"ktap.py: unknown argument {rest[0]}", file=sys.stderr)
            return 2
    try:
        with open(log, errors="replace") as f:
            events = list(parse(f))
    except OSError as e:
        print(f"not ok - kunit: cannot read {log}: {e.strerror}")
        return 1
    ok = True
    seen = set()
    for kind, suite, case, passed, skipped in events:
        if kind == "case":
            seen.add(suite)
            note = " # SKIP" if skipped else ""
            if skipped and no_skip:
                passed, note = False, " (skipped where it must run)"
            print(f"{'ok' if passed else 'not ok'} - kunit: {suite}.{case}{note}")
            ok &= passed
        elif kind == "plan":
            print(f"not ok - kunit: {suite} incomplete ({case})")
            ok = False
    for suite in expect:
        if suite not in seen:
            print(f"not ok - kunit: suite {suite} did not run")
            ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
