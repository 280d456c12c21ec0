#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write and verify mixed-size direct I/O on a block device from one CPU.

Usage: dio_verify.py DEVICE CPU OFFSET LENGTH SECONDS

Pinned to CPU, for SECONDS, write a block of a size between 4 KiB and
256 KiB (each a fresh pattern naming the CPU and the round) with O_DIRECT at
a position in [OFFSET, OFFSET + LENGTH), read it back with O_DIRECT and
compare. Several of these on different CPUs map through the same device's
bounce buffer pool at once: if two CPUs ever got the same slots, one of them
reads back the other's data. Prints one summary line; exit status 1 on the
first mismatch (with where it was and whose data was there instead).

The buffers sit in transparent huge pages where the kernel has them, so a
block is physically contiguous and becomes one bounce buffer of its whole
size (otherwise every 4 KiB page is a bounce buffer of its own, and slots
near the end of an area are rarely touched).
"""

import ctypes
import mmap
import os
import sys
import time

SIZES = [4 << 10, 8 << 10, 12 << 10, 32 << 10, 60 << 10, 64 << 10, 100 << 10,
         128 << 10, 192 << 10, 252 << 10, 256 << 10]
MAX = max(SIZES)
HUGE = 2 << 20


def huge_buffers(count):
    """Page-aligned buffers of MAX bytes, each inside one 2 MiB huge page."""
    area = mmap.mmap(-1, (count + 1) * HUGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    addr = ctypes.addressof(ctypes.c_char.from_buffer(area))
    start = -addr % HUGE
    if hasattr(mmap, "MADV_HUGEPAGE"):
        try:
            area.madvise(mmap.MADV_HUGEPAGE, start, count * HUGE)
        except OSError:
            pass
    view = memoryview(area)
    return area, [view[start + i * HUGE:start + i * HUGE + MAX] for i in range(count)]


def pattern(cpu, rnd, size):
    """Every 16-byte cell says which CPU and round wrote it, and where."""
    cells = bytearray(size)
    for off in range(0, size, 16):
        cells[off:off + 16] = b"c%02dr%06do%05x" % (cpu % 100, rnd % 10**6, (off >> 4) & 0xfffff)
    return bytes(cells)


def main():
    dev, cpu, offset, length, seconds = sys.argv[1], int(sys.argv[2]), \
        int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
    os.sched_setaffinity(0, {cpu})
    fd = os.open(dev, os.O_RDWR | os.O_DIRECT)
    # Page-aligned buffers, as O_DIRECT needs.
    _area, (wbuf, rbuf) = huge_buffers(2)
    end = time.monotonic() + seconds
    rnd = ops = nbytes = 0
    pos = offset
    while time.monotonic() < end:
        size = SIZES[rnd % len(SIZES)]
        if pos + size > offset + length:
            pos = offset
        data = pattern(cpu, rnd, size)
        wbuf[:size] = data
        if os.pwritev(fd, [wbuf[:size]], pos) != size:
            print(f"cpu {cpu}: short write at {pos}")
            return 1
        rbuf[:size] = b"\0" * size
        if os.preadv(fd, [rbuf[:size]], pos) != size:
            print(f"cpu {cpu}: short read at {pos}")
            return 1
        got = bytes(rbuf[:size])
        if got != data:
            bad = next(i for i in range(size) if got[i] != data[i])
            cell = bad & ~15
            print(f"cpu {cpu}: MISMATCH round {rnd} size {size} at disk offset "
                  f"{pos + bad}: wrote {data[cell:cell + 16]!r}, read "
                  f"{got[cell:cell + 16]!r}")
            return 1
        ops += 1
        nbytes += size
        pos += size
        rnd += 1
    os.close(fd)
    del wbuf, rbuf
    print(f"cpu {cpu}: {ops} blocks, {nbytes >> 20} MiB written and verified")
    return 0


if __name__ == "__main__":
    sys.exit(main())
