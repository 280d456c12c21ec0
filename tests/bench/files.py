#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""A build-like small-file workload on one directory (a virtio-fs share).

Usage: files.py DIR FILES SEED

Creates FILES files of 2 KiB to 320 KiB (log-uniform sizes, contents from
random.Random(SEED): the same tree in every run) in 32 subdirectories of
DIR, then stats every file, then reads every file back and compares it with
what was written, as `cargo build` on /mnt/c writes objects, checks mtimes
and reads sources. The guest's caches are dropped before the stat and read
phases, so that both go to the host (through the share's bounce buffers)
instead of being served from the page cache and the dentry cache.

Prints one line of key=value pairs: files, bytes, create_s, stat_s, read_s,
p50_us and p99_us (the read phase's per-file open+read+close latency) and
errors (files that did not read back as written). Exits 1 if any did.
"""

import hashlib
import math
import os
import random
import sys
import time


def drop_caches():
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def pct(sorted_values, p):
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * p / 100))]


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    top, nfiles, seed = sys.argv[1], sys.argv[2], sys.argv[3]
    if not os.path.isdir(top):
        sys.exit(f"files.py: {top} is not a directory")
    try:
        nfiles, seed = int(nfiles), int(seed)
    except ValueError:
        sys.exit(f"files.py: FILES and SEED must be integers, got {sys.argv[2]!r} {sys.argv[3]!r}")
    if nfiles < 1:
        sys.exit("files.py: FILES must be at least 1")

    rng = random.Random(seed)
    paths, digests, total = [], [], 0
    for d in range(32):
        os.makedirs(os.path.join(top, f"d{d:02}"), exist_ok=True)
    t0 = time.monotonic()
    for i in range(nfiles):
        size = int(2 ** rng.uniform(11, math.log2(320 << 10)))
        data = rng.randbytes(size)
        path = os.path.join(top, f"d{i % 32:02}", f"f{i:05}.o")
        with open(path, "wb") as f:
            f.write(data)
        paths.append(path)
        digests.append(hashlib.sha1(data).digest())
        total += size
    create_s = time.monotonic() - t0

    drop_caches()
    t0 = time.monotonic()
    statted = sum(os.stat(p).st_size for p in paths)
    stat_s = time.monotonic() - t0
    errors = int(statted != total)

    drop_caches()
    lat = []
    t0 = time.monotonic()
    for path, digest in zip(paths, digests):
        t = time.monotonic_ns()
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            print(f"files.py: {path}: {e}", file=sys.stderr)
            data = b""
        lat.append(time.monotonic_ns() - t)
        if hashlib.sha1(data).digest() != digest:
            errors += 1
    read_s = time.monotonic() - t0
    lat.sort()
    print(f"files={nfiles} bytes={total} create_s={create_s:.3f} stat_s={stat_s:.3f} "
          f"read_s={read_s:.3f} p50_us={pct(lat, 50) // 1000} p99_us={pct(lat, 99) // 1000} "
          f"errors={errors}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
