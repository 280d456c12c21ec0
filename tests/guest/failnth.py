#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Run one load, sysfs write or unload with its Nth counted allocation failed.

Usage: failnth.py N load MODULE [PARAMS]
       failnth.py N write PATH VALUE
       failnth.py N unload NAME

Sets /proc/self/fail-nth to N and makes the system call in this same task,
so that the fault injection framework counts its allocations (those that
pass the failslab / fail_page_alloc filters), then reads fail-nth back:
0 means the Nth allocation was failed, anything else that the call made
fewer. A shell that execs a tool cannot tell: a failure injected into an
allocation made with __GFP_NOWARN (kvmalloc's first try) prints nothing.

Prints "injected" or "clean", then the call's result; exit status 0.
"""

import ctypes
import os
import sys

SYS_FINIT_MODULE = 313
SYS_DELETE_MODULE = 176


def main():
    n, action, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    libc = ctypes.CDLL(None, use_errno=True)
    fd = None
    if action == "load":
        fd = os.open(args[0], os.O_RDONLY)
        params = " ".join(args[1:]).encode()
    elif action == "write":
        fd = os.open(args[0], os.O_WRONLY)
    with open("/proc/self/fail-nth", "w") as f:
        f.write(n)
    if action == "load":
        ret = libc.syscall(SYS_FINIT_MODULE, fd, ctypes.c_char_p(params), 0)
    elif action == "write":
        try:
            os.write(fd, args[1].encode())
            ret = 0
        except OSError as e:
            ret, ctypes_errno = -1, e.errno
            ctypes.set_errno(ctypes_errno)
    elif action == "unload":
        ret = libc.syscall(SYS_DELETE_MODULE, ctypes.c_char_p(args[0].encode()),
                           os.O_NONBLOCK)
    else:
        print(f"unknown action {action}")
        return 2
    err = ctypes.get_errno() if ret != 0 else 0
    with open("/proc/self/fail-nth") as f:
        left = int(f.read())
    with open("/proc/self/fail-nth", "w") as f:
        f.write("0")
    if fd is not None:
        os.close(fd)
    print("injected" if left == 0 else "clean")
    print(f"result {ret} errno {err} ({os.strerror(err) if err else 'ok'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
