"""Reading files ahead in threads, for sources that list many files (``hvscan dir``).

A source yields ``Unread`` for each file it has decided to scan, mixed with its other events;
``read_ahead`` turns them into ``Blob`` (or ``Screened``, or ``Failed``) in the same order while
a few threads screen the next big files. Given a ``Screen``, a big file is looked at window by
window where the kernel keeps it (``mapped``), or where it cannot be mapped, read the way ``cat``
reads, through one small reused buffer; the screen is asked about each window, and only a file
it wants is read again, whole, into a Blob, when its turn comes. Reading whole files costs twice
what ``cat`` does (fresh memory to fault in and fill, for every file), and most big files are
clean. Maps, file reads and the prefilter behind the screen release the GIL, so two readers
keep two cores busy. Order is kept, so reports never depend
on thread timing, and the bytes held ahead are bounded, so memory does not grow with the tree.
"""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

from hvscan.model import Origin
from hvscan.sources import Blob, Event, Events, Failed, Screen, Screened, mapped

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor
    from io import FileIO

# Files at least this big are screened (given a Screen) and go to a reader thread; smaller ones
# are read whole in line, where handing them over would cost more than the read itself.
BIG_FILE = 256 << 10
# Starting the reader threads costs a few ms (importing concurrent.futures, starting threads):
# they start only once big files have added up to this much, so a source tree with a few big
# files never pays for them.
READERS_AFTER = 16 << 20
# Memory the queue of files read ahead may hold: the contents of big files read whole by the
# readers (there is no screen). A screened file holds nothing while it waits (its windows go
# through its thread's one buffer, and a file the screen wants is read whole in line at its
# turn), nor does a small file (read in line at its turn): so the readers screen far ahead
# while the pipeline spends long on one file. One file is always in flight, however big.
READ_AHEAD_BYTES = 64 << 20
# And the queue holds at most this many entries (a few KiB of objects each; more of them would
# only make the garbage collector's passes longer).
READ_AHEAD_FILES = 1024
READERS = 2
# Screened files are looked at through a memory map (see ``mapped``) in windows of this size
# (plus the screen's overlap; a multiple of the page size), or where they cannot be mapped, read
# in windows of WINDOW into one buffer per thread that stays in the CPU cache.
MAPPED_WINDOW = 16 << 20
WINDOW = 1 << 20
_buffers = threading.local()


class Unread(NamedTuple):
    """A regular file a source has decided to scan, not read yet."""

    real: bytes
    origin: Origin
    size: int


Planned = Iterator[Event | Unread]


def read_ahead(planned: Planned, screen: Screen | None = None) -> Events:
    waiting: deque[tuple[Event | Unread | Future[Event | Unread], int]] = deque()
    waiting_bytes = big_bytes = 0
    executor: ThreadPoolExecutor | None = None
    try:
        for item in planned:
            threaded = False
            if isinstance(item, Unread) and item.size >= BIG_FILE:
                big_bytes += item.size
                threaded = big_bytes > READERS_AFTER
            if not waiting and not threaded:
                # Nothing in flight and nothing to start: the common case in a source tree,
                # kept free of queueing (it costs every small file a few microseconds).
                yield _result(item, screen)
                continue
            held = _held(item, screen) if isinstance(item, Unread) else 0
            # Nothing is handed out before the queue is full: the pipeline may spend long on one
            # file (one the screen wanted), and the readers must have work queued meanwhile.
            while waiting and (
                len(waiting) >= READ_AHEAD_FILES or waiting_bytes + held > READ_AHEAD_BYTES
            ):
                entry, entry_held = waiting.popleft()
                waiting_bytes -= entry_held
                yield _result(entry, screen)
            if threaded and isinstance(item, Unread):
                if executor is None:
                    # Imported here: a run without big files never starts a thread.
                    from concurrent.futures import ThreadPoolExecutor

                    executor = ThreadPoolExecutor(READERS, thread_name_prefix="hvscan-read")
                waiting.append((executor.submit(read, item, screen), held))
            else:
                waiting.append((item, held))
            waiting_bytes += held
        while waiting:
            yield _result(waiting.popleft()[0], screen)
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)


def read(item: Unread, screen: Screen | None = None) -> Event | Unread:
    """The file's contents; for a big file given a screen, ``Screened`` when the screen passes
    every window, and ``item`` itself when it wants the file (to be read whole at its turn)."""
    if screen is None or item.size < BIG_FILE:
        return read_whole(item)
    try:
        with open_regular(item.real) as handle:
            size = _screen(handle, screen)
    except OSError as exc:
        return _failed(item, exc)
    return item if size is None else Screened(item.origin, size)


def read_whole(item: Unread) -> Event:
    try:
        with open_regular(item.real) as handle:
            data = handle.read()
    except OSError as exc:
        return _failed(item, exc)
    return Blob(data, item.origin)


def open_regular(path: bytes) -> FileIO:
    """Open a file the source found to be regular, unbuffered. Should it have been replaced by a
    FIFO or a device since, opening it must not wait (for a writer, a terminal, a device) and it
    is not read: OSError."""
    handle = open(path, "rb", buffering=0, opener=_without_waiting)  # noqa: SIM115
    if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
        handle.close()
        raise OSError(errno.EINVAL, "no longer a regular file")
    return handle


def _without_waiting(path: str, flags: int) -> int:
    return os.open(path, flags | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))


def _failed(item: Unread, exc: OSError) -> Failed:
    return Failed(item.origin.path or "", exc.strerror or str(exc))


def _held(item: Unread, screen: Screen | None) -> int:
    return item.size if screen is None and item.size >= BIG_FILE else 0


def _screen(handle: FileIO, screen: Screen) -> int | None:
    """The number of bytes looked at when no window needs the engine; None as soon as one does."""
    try:
        total = 0
        windows = mapped.windows(handle.fileno(), MAPPED_WINDOW, screen.overlap)
        try:
            for offset, window in windows:
                if screen.needs_engine(window, offset == 0):
                    return None
                total = offset + len(window)
        finally:  # whatever happens: the lease is given up while the file is still open
            windows.close()
        return total
    except mapped.Unmappable:
        handle.seek(0)
        return _screen_read(handle, screen)


def _screen_read(handle: FileIO, screen: Screen) -> int | None:
    buffer = getattr(_buffers, "buffer", None)
    if buffer is None or len(buffer) != WINDOW + screen.overlap:
        buffer = _buffers.buffer = bytearray(WINDOW + screen.overlap)
    view = memoryview(buffer)
    total = kept = 0
    while got := handle.readinto(view[kept:]):
        total += got
        filled = kept + got
        if screen.needs_engine(view[:filled], total == got):
            return None
        # The next window starts with the end of this one: a needle cut here is seen whole.
        kept = min(screen.overlap, filled)
        buffer[:kept] = buffer[filled - kept:filled]
    return total


def _result(entry: Event | Unread | Future[Event | Unread], screen: Screen | None) -> Event:
    """The event for a queue entry: an ``Unread`` is read in line now, and a file the screen
    wanted is read whole."""
    if isinstance(entry, Unread):
        entry = read(entry, screen)
    elif not isinstance(entry, Event):
        entry = entry.result()
    return read_whole(entry) if isinstance(entry, Unread) else entry
