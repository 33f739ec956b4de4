"""Reading files ahead in threads, for sources that list many files (``hvscan dir``).

A source yields ``Unread`` for each file it has decided to scan, mixed with its other events;
``read_ahead`` turns them into ``Blob`` (or ``Screened``, or ``Failed``) in the same order while
a few threads read the next big files. Given a ``Screen``, a big file is first read the way
``cat`` reads, window by window through one small reused buffer, and the screen is asked about
each window; only a file the screen wants is read again, whole, into a Blob. Reading whole files
costs twice what ``cat`` does (fresh memory to fault in and fill, for every file), and most big
files are clean. File reads release the GIL, and so does the prefilter behind the screen, so two
readers keep two cores busy. Order is kept, so reports never depend on thread timing, and the
bytes read ahead are bounded, so memory does not grow with the tree.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, NamedTuple

from hvscan.sources import Blob, Event, Events, Failed, Origin, Screen, Screened

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
# File contents read ahead and not yet handed out stay under this (except that one file is
# always in flight, however big).
READ_AHEAD_BYTES = 64 << 20
READERS = 2
# Screened files are read in windows of this size (plus the screen's overlap), into one buffer
# per thread that stays in the CPU cache.
WINDOW = 1 << 20
_buffers = threading.local()


class Unread(NamedTuple):
    """A regular file a source has decided to scan, not read yet."""

    real: bytes
    origin: Origin
    size: int


Planned = Iterator[Event | Unread]


def read_ahead(planned: Planned, screen: Screen | None = None) -> Events:
    waiting: deque[tuple[Event | Future[Event], int]] = deque()
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
                yield read(item, screen) if isinstance(item, Unread) else item
                continue
            size = item.size if isinstance(item, Unread) else 0
            # Hand out what is ready; wait for the oldest read only when the budget is spent.
            while waiting and (
                _is_ready(waiting[0][0]) or waiting_bytes + size > READ_AHEAD_BYTES
            ):
                entry, entry_size = waiting.popleft()
                waiting_bytes -= entry_size
                yield _result(entry)
            if not isinstance(item, Unread):
                waiting.append((item, 0))
            elif threaded:
                if executor is None:
                    # Imported here: a run without big files never starts a thread.
                    from concurrent.futures import ThreadPoolExecutor

                    executor = ThreadPoolExecutor(READERS, thread_name_prefix="hvscan-read")
                waiting.append((executor.submit(read, item, screen), size))
            else:
                waiting.append((read(item, screen), size))
            waiting_bytes += size
        while waiting:
            yield _result(waiting.popleft()[0])
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)


def read(item: Unread, screen: Screen | None = None) -> Event:
    try:
        with open(item.real, "rb", buffering=0) as handle:
            if screen is not None and item.size >= BIG_FILE:
                size = _screen(handle, screen)
                if size is not None:
                    return Screened(item.origin, size)
                handle.seek(0)
            data = handle.read()
    except OSError as exc:
        return Failed(item.origin.path or "", exc.strerror or str(exc))
    return Blob(data, item.origin)


def _screen(handle: FileIO, screen: Screen) -> int | None:
    """The number of bytes read when no window needs the engine; None as soon as one does."""
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


def _is_ready(entry: Event | Future[Event]) -> bool:
    return isinstance(entry, Event) or entry.done()


def _result(entry: Event | Future[Event]) -> Event:
    return entry if isinstance(entry, Event) else entry.result()
