#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write and verify mixed-size direct I/O on a block device from one CPU.

Usage: dio_verify.py DEVICE CPU OFFSET LENGTH SECONDS [THREADS]

Pinned to CPU, for SECONDS, each of THREADS threads (default 4) writes a
block of a size between 4 KiB and 256 KiB with O_DIRECT at a position in its
own share of [OFFSET, OFFSET + LENGTH), reads it back with O_DIRECT and
compares. Every 512-byte sector starts with a stamp naming the CPU, the
thread, the round and the sector, so a block that comes back with someone
else's data says whose. Several of these on different CPUs map through the
same device's bounce buffer pool at once: if two CPUs ever got the same
slots, one of them reads back the other's data. Prints one summary line;
exit status 1 on the first mismatch.

The buffers sit in transparent huge pages where the kernel has them, so a
block is physically contiguous and becomes one bounce buffer of its whole
size (otherwise every 4 KiB page is a bounce buffer of its own, and slots
near the end of an area are rarely touched).
"""

import ctypes
import mmap
import os
import sys
import threading
import time

SIZES = [4 << 10, 8 << 10, 12 << 10, 32 << 10, 60 << 10, 64 << 10, 100 << 10,
         128 << 10, 192 << 10, 252 << 10, 256 << 10]
MAX = max(SIZES)
HUGE = 2 << 20
SECTOR = 512


def huge_buffers(count):
    """Page-aligned buffers of MAX bytes, each inside one 2 MiB huge page."""
    area = mmap.mmap(-1, (count + 1) * HUGE,
                     flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(area))
    start = -addr % HUGE
    if hasattr(mmap, "MADV_HUGEPAGE"):
        try:
            area.madvise(mmap.MADV_HUGEPAGE, start, count * HUGE)
        except OSError:
            pass
    view = memoryview(area)
    return area, [view[start + i * HUGE:start + i * HUGE + MAX]
                  for i in range(count)]


class Worker(threading.Thread):
    """One stream of write, read back, compare."""

    def __init__(self, fd, cpu, tid, offset, length, end, bufs):
        super().__init__()
        self.fd, self.cpu, self.tid = fd, cpu, tid
        self.offset, self.length, self.end = offset, length, end
        self.wbuf, self.rbuf = bufs
        self.filler = os.urandom(MAX)
        self.ops = self.nbytes = 0
        self.error = None

    def pattern(self, rnd, size):
        stamps = (b"c%02dt%02dr%07ds%04d" % (self.cpu % 100, self.tid % 100,
                                             rnd % 10**7, i % 10**4)
                  for i in range(size // SECTOR))
        return b"".join(s + self.filler[i * SECTOR + len(s):(i + 1) * SECTOR]
                        for i, s in enumerate(stamps))

    def run(self):
        rnd, pos = 0, self.offset
        while time.monotonic() < self.end:
            size = SIZES[(rnd + self.tid) % len(SIZES)]
            if pos + size > self.offset + self.length:
                pos = self.offset
            data = self.pattern(rnd, size)
            self.wbuf[:size] = data
            if os.pwritev(self.fd, [self.wbuf[:size]], pos) != size:
                self.error = f"short write at {pos}"
                return
            self.rbuf[:size] = bytes(size)
            if os.preadv(self.fd, [self.rbuf[:size]], pos) != size:
                self.error = f"short read at {pos}"
                return
            got = bytes(self.rbuf[:size])
            if got != data:
                bad = next(i for i in range(size) if got[i] != data[i])
                sec = bad - bad % SECTOR
                self.error = (f"MISMATCH round {rnd} size {size} at disk offset "
                              f"{pos + bad}: wrote {data[sec:sec + 24]!r}, read "
                              f"{got[sec:sec + 24]!r}")
                return
            self.ops += 1
            self.nbytes += size
            pos += size
            rnd += 1


def main():
    dev, cpu, offset, length, seconds = sys.argv[1], int(sys.argv[2]), \
        int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    nthreads = int(sys.argv[6]) if len(sys.argv) > 6 else 4
    os.sched_setaffinity(0, {cpu})
    fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
    _area, bufs = huge_buffers(2 * nthreads)
    share = length // nthreads // SECTOR * SECTOR
    end = time.monotonic() + seconds
    workers = [Worker(fd, cpu, t, offset + t * share, share, end,
                      bufs[2 * t:2 * t + 2]) for t in range(nthreads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    os.close(fd)
    ops = sum(w.ops for w in workers)
    nbytes = sum(w.nbytes for w in workers)
    errors = [f"cpu {cpu} thread {w.tid}: {w.error}" for w in workers if w.error]
    for e in errors:
        print(e)
    print(f"cpu {cpu}: {nthreads} threads, {ops} blocks, {nbytes >> 20} MiB "
          "written and verified")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
