"""Reading a ``git cat-file --batch`` stream fast: the part of a history audit every byte pays for.

git writes ``<id> <type> <size>\\n<content>\\n`` for each object. Several git processes may
produce parts of the stream at once (inflating objects is what costs most). A reader thread per
process copies its pipe into a few reused 4 MiB buffers (the read releases the GIL, so git never
waits for Python), and the consumer asks the pipeline's ``Screen`` where the engine's needles
occur in each whole buffer at once (the keyword prefilter; Hyperscan: one SIMD pass, GIL
released). Only then does it walk the object headers, and it hands on just the objects that a
needle hit lies inside, or blobs the screen ``needs_whole`` (compressed or UTF-16/32 blobs).
Trees are screened as the rest: one whose bytes hold a needle is handed on, for the names in it.
Everything else is counted and dropped without ever being split out of the buffer (its id noted
when the caller asks: what an audit of a mirror screened clean, others need not read again,
``hvscan/shared.py``). An object larger than ``max_size`` (``--max-file-size``) is not gathered
at all: it is handed on as ``Oversized``, for the report to list as not scanned, and its bytes
are dropped as they arrive (a blob is held whole while it is scanned: a 2 GiB one took 2 GiB).
"""

from __future__ import annotations

import io
import os
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO

from hvscan.sources import Screen
from hvscan.sources.gitcmd import GitError

CHUNK_SIZE = 4 << 20
# Buffers in flight: one being searched, the rest filling while it is.
BUFFERS = 4
SCANNED_KINDS = frozenset({b"blob", b"commit", b"tag", b"tree"})
# What --max-file-size limits: content. A tree (names) is read whatever its size.
LIMITED_KINDS = frozenset({b"blob", b"commit", b"tag"})


@dataclass(frozen=True)
class GitObject:
    oid: str
    kind: str
    data: bytes


@dataclass(frozen=True)
class Oversized:
    """An object not read because it is larger than the size limit."""

    oid: str
    kind: str
    size: int
    limit: int

    @property
    def reason(self) -> str:
        return (f"{self.kind} larger than --max-file-size ({self.size} > {self.limit} bytes): "
                "not scanned")


@dataclass
class StreamStats:
    objects: int = 0
    read_bytes: int = 0
    blobs: int = 0
    blob_bytes: int = 0
    missing: list[str] = field(default_factory=list)


def read_objects(
    streams: list[IO[bytes]],
    screen: Screen,
    stats: StreamStats,
    *,
    on_chunk: Callable[[StreamStats], None] | None = None,
    max_size: int | None = None,
    dropped: list[bytes] | None = None,
    room: int = 0,
) -> Iterator[GitObject | Oversized]:
    """The objects of the batch outputs on ``streams`` that need the engine: blobs, commits
    and tags in which a needle occurs, and blobs the ``screen`` needs whole; and the blobs,
    commits and tags larger than ``max_size``, unread. Every object is counted in ``stats``
    (one not read is not counted as scanned). The ids of the objects the screen dropped are
    appended to ``dropped``, when given, until it holds ``room`` (``hvscan/shared.py``)."""
    parsers = [_Parser(screen, stats, max_size, dropped, room) for _ in streams]
    for index, buffer, length in _chunks(streams):
        yield from parsers[index].feed(buffer, length)
        stats.read_bytes += length
        if on_chunk is not None:
            on_chunk(stats)
    for parser in parsers:
        parser.close()


class _Parser:
    def __init__(self, screen: Screen, stats: StreamStats, max_size: int | None = None,
                 dropped: list[bytes] | None = None, room: int = 0) -> None:
        self._screen = screen
        self._max_size = max_size
        # Gathered ids are bounded like the set they go to: a store of millions of objects
        # would otherwise hold them all for a set that has room for few.
        self._dropped = dropped
        self._room = room
        self._stats = stats
        self._header_part = b""  # a header cut by the end of the previous buffer
        # An object whose content (and the newline after it) runs past the buffer's end.
        self._pending: tuple[bytes, bytes, int] | None = None
        # Its content so far, gathered where it stays (its value is taken without a copy).
        self._content = io.BytesIO()
        self._need = 0

    def feed(self, buffer: bytearray, length: int) -> list[GitObject | Oversized]:
        found: list[GitObject | Oversized] = []
        view = memoryview(buffer)
        pos = 0
        if self._need:
            take = min(self._need, length)
            self._gather(view[:take])
            self._need -= take
            if self._need:
                return found
            pos = take
            self._finish_pending(found)
        if self._header_part:
            end = buffer.find(b"\n", 0, length)
            if end < 0:
                self._header_part += bytes(view[:length])
                return found
            header = self._header_part + bytes(view[:end])
            self._header_part = b""
            pos = self._start_object(header, end + 1, view, length, found)
            if pos < 0:
                return found
        spans = self._screen.spans(view[pos:length])
        span_index, span_count, base = 0, len(spans), pos
        stats, dropped, room = self._stats, self._dropped, self._room
        while pos < length:
            end = buffer.find(b"\n", pos, length)
            if end < 0:
                self._header_part = bytes(view[pos:length])
                break
            fields = bytes(view[pos:end]).split(b" ")
            if len(fields) != 3:
                self._missing(fields)
                pos = end + 1
                continue
            oid, kind, size_text = fields
            start = end + 1
            stop = start + int(size_text)
            if stop >= length:  # the content or its newline continues in the next buffer
                self._pending = (oid, kind, int(size_text))
                self._gather(view[start:length])
                self._need = stop + 1 - length
                break
            stats.objects += 1
            pos = stop + 1
            if kind not in SCANNED_KINDS:
                continue
            if self._oversized(oid, kind, stop - start, found):
                continue
            if kind == b"blob":
                stats.blobs += 1
                stats.blob_bytes += stop - start
            hit = False
            while span_index < span_count and spans[span_index][0] + base < start:
                span_index += 1
            probe = span_index
            while probe < span_count and spans[probe][0] + base < stop:
                if spans[probe][1] + base <= stop:
                    hit = True
                    break
                probe += 1
            if hit:
                found.append(GitObject(oid.decode(), kind.decode(), bytes(view[start:stop])))
            elif kind == b"blob" and self._screen.needs_whole(view[start:stop]):
                found.append(GitObject(oid.decode(), "blob", bytes(view[start:stop])))
            elif dropped is not None and len(dropped) < room:
                dropped.append(oid)
        return found

    def _start_object(self, header: bytes, start: int, view: memoryview, length: int,
                      found: list[GitObject | Oversized]) -> int:
        """Handle an object whose header was cut; return where the next header starts, or -1
        if this object runs past the buffer too."""
        fields = header.split(b" ")
        if len(fields) != 3:
            self._missing(fields)
            return start
        self._pending = (fields[0], fields[1], int(fields[2]))
        self._need = int(fields[2]) + 1
        take = min(self._need, length - start)
        self._gather(view[start:start + take])
        self._need -= take
        if self._need:
            return -1
        self._finish_pending(found)
        return start + take

    def _gather(self, piece: memoryview) -> None:
        """Keep a piece of the pending object's content, unless it is too large to be read."""
        assert self._pending is not None
        if not self._too_large(self._pending[1], self._pending[2]):
            self._content.write(piece)

    def _too_large(self, kind: bytes, size: int) -> bool:
        return kind in LIMITED_KINDS and self._max_size is not None and size > self._max_size

    def _oversized(self, oid: bytes, kind: bytes, size: int,
                   found: list[GitObject | Oversized]) -> bool:
        """Whether the object is too large to be read; if so, it is handed on as such."""
        if not self._too_large(kind, size):
            return False
        assert self._max_size is not None
        found.append(Oversized(oid.decode(), kind.decode(), size, self._max_size))
        return True

    def _finish_pending(self, found: list[GitObject | Oversized]) -> None:
        assert self._pending is not None
        oid, kind, size = self._pending
        self._content.truncate(size)  # the newline after the content
        data = self._content.getvalue()
        self._pending, self._content = None, io.BytesIO()
        stats = self._stats
        stats.objects += 1
        if kind not in SCANNED_KINDS or self._oversized(oid, kind, size, found):
            return
        if kind == b"blob":
            stats.blobs += 1
            stats.blob_bytes += size
        if self._screen.needs_engine(memoryview(data), kind == b"blob"):
            found.append(GitObject(oid.decode(), kind.decode(), data))
        elif self._dropped is not None and len(self._dropped) < self._room:
            self._dropped.append(oid)

    def _missing(self, fields: list[bytes] | list[bytearray]) -> None:
        if len(fields) == 2 and fields[1] in (b"missing", b"ambiguous"):
            self._stats.missing.append(bytes(fields[0]).decode("utf-8", "replace"))
            return
        raise GitError("unexpected output from git cat-file: "
                       + b" ".join(fields).decode("utf-8", "replace")[:80])

    def close(self) -> None:
        if self._need or self._header_part:
            raise GitError("git cat-file output ended in the middle of an object")


def _chunks(streams: list[IO[bytes]]) -> Iterator[tuple[int, bytearray, int]]:
    """``(stream index, buffer, length)`` as the streams' bytes arrive, each stream's in order,
    read ahead by a thread per stream into its own reused buffers. A buffer yielded is handed
    back for refilling when the consumer asks for the next one.

    Each thread reads a duplicate of its stream's descriptor, which it closes itself: when the
    consumer stops early and the caller closes the streams, a thread still reading can never
    read from a descriptor number the process has since reused for something else.
    """
    arrived: queue.Queue[tuple[int, bytearray, int] | BaseException] = queue.Queue()
    pools: list[queue.Queue[bytearray | None]] = []
    for index, stream in enumerate(streams):
        pool: queue.Queue[bytearray | None] = queue.Queue()
        for _ in range(BUFFERS):
            pool.put(bytearray(CHUNK_SIZE))
        pools.append(pool)
        threading.Thread(target=_fill, args=(index, os.dup(stream.fileno()), pool, arrived),
                         name=f"hvscan-git-reader-{index}", daemon=True).start()
    running = len(streams)
    try:
        while running:
            item = arrived.get()
            if isinstance(item, BaseException):
                raise item
            index, buffer, length = item
            if length == 0:
                running -= 1
                continue
            yield index, buffer, length
            pools[index].put(buffer)
    finally:
        for pool in pools:  # wake readers waiting for a buffer: they stop
            pool.put(None)


def _fill(index: int, descriptor: int, pool: queue.Queue[bytearray | None],
          arrived: queue.Queue[tuple[int, bytearray, int] | BaseException]) -> None:
    try:
        while True:
            buffer = pool.get()
            if buffer is None:
                return
            length = _read_full(descriptor, buffer)
            arrived.put((index, buffer, length))
            if length == 0:
                return
    except BaseException as exc:  # handed to the consumer, raised there
        arrived.put(exc)
    finally:
        os.close(descriptor)


def _read_full(descriptor: int, buffer: bytearray) -> int:
    view = memoryview(buffer)
    filled = 0
    while filled < len(buffer):
        count = os.readv(descriptor, [view[filled:]])
        if count == 0:
            break
        filled += count
    return filled
