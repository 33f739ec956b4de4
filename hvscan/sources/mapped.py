"""A file's bytes where the kernel keeps them: a memory map held under a read lease (Linux).

Reading a file copies it from the page cache into the reader's buffer, which costs about half
as much again as searching it. A memory map shows the page cache itself, without the copy, but
when a mapped file shrinks, touching its lost pages kills the process (SIGBUS). A read lease
closes that gap: the kernel grants one only while nobody has the file open to write, and then
makes whoever opens it to write, or truncates it, wait until the lease is given up (at most
``/proc/sys/fs/lease-break-time``, 45 s by default). The holder is told by a signal, set here to
one whose default is to be ignored, and sees the break with F_GETLEASE: no window is mapped
after that, and the caller reads the file the ordinary way. Where no lease can be had (not
Linux, another user's file without CAP_LEASE, a file open to write, a file system without
leases), nothing is mapped at all.
"""

from __future__ import annotations

import os
from collections.abc import Generator


class Unmappable(Exception):
    """The file cannot be looked at through a map (now): read it instead."""


def windows(fd: int, window: int, overlap: int) -> Generator[tuple[int, memoryview], None, None]:
    """The open file ``fd``, as ``(offset, bytes)`` for every ``window`` bytes from its start
    (a multiple of the page size), each running ``overlap`` bytes into the next. Raises
    ``Unmappable`` before the first window when no lease can be had, and before a later one
    when someone waits to write. A window is valid until the next is asked for."""
    try:
        import fcntl
        import mmap
        import signal

        fcntl.fcntl(fd, fcntl.F_SETSIG, signal.SIGURG)  # before the lease: never SIGIO, fatal
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_RDLCK)
    except (ImportError, AttributeError, OSError) as exc:
        raise Unmappable from exc
    try:
        # Fixed while the lease holds: changing the size needs the file open to write.
        size = os.fstat(fd).st_size
        for offset in range(0, size, window):
            if fcntl.fcntl(fd, fcntl.F_GETLEASE) != fcntl.F_RDLCK:
                raise Unmappable
            length = min(window + overlap, size - offset)
            try:
                mapped = mmap.mmap(fd, length, offset=offset, access=mmap.ACCESS_READ)
            except OSError as exc:  # a file system that cannot map files
                raise Unmappable from exc
            with mapped, memoryview(mapped) as view:
                yield offset, view
            if offset + length == size:  # the rest was in this window's overlap
                break
    finally:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
