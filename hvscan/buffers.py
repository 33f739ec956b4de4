"""Scanned bytes that may be a view into a larger buffer, searched as bytes methods search.

An archive member is handed on as a ``memoryview`` of its archive's bytes (a tar member's data
lies in one piece in the tar): a copy would hold it twice, and once more per level of nesting.
A memoryview has no ``find``, ``rfind`` or ``count``: these functions do what the bytes
methods do, on ``bytes`` directly, and on a view a piece at a time, never copying more than
``PIECE`` bytes of it at once. The regex engines and the prefilter take views as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

Buffer = bytes | memoryview

# The most of a view copied at once by a search.
PIECE = 1 << 20


def find(data: Buffer | bytearray, sub: bytes, start: int = 0, end: int | None = None) -> int:
    """``data.find(sub, start, end)``."""
    if isinstance(data, bytes | bytearray):
        return data.find(sub, start, end)
    start, end, _ = slice(start, end).indices(len(data))
    at = start
    while at + len(sub) <= end:
        # A piece holds every occurrence that starts in its first PIECE bytes.
        found = bytes(data[at:min(end, at + PIECE + len(sub) - 1)]).find(sub)
        if found >= 0:
            return at + found
        at += PIECE
    return -1


def rfind(data: Buffer, sub: bytes, start: int = 0, end: int | None = None) -> int:
    """``data.rfind(sub, start, end)``."""
    if isinstance(data, bytes):
        return data.rfind(sub, start, end)
    start, end, _ = slice(start, end).indices(len(data))
    high = end - len(sub) + 1  # occurrences start below this
    while high > start:
        low = max(start, high - PIECE)
        found = bytes(data[low:high + len(sub) - 1]).rfind(sub)
        if found >= 0:
            return low + found
        high = low
    return -1


def count(data: Buffer, byte: bytes, start: int = 0, end: int | None = None) -> int:
    """``data.count(byte, start, end)``, for a single byte (pieces then never cut one)."""
    assert len(byte) == 1
    if isinstance(data, bytes):
        return data.count(byte, start, end)
    start, end, _ = slice(start, end).indices(len(data))
    return sum(bytes(data[at:min(end, at + PIECE)]).count(byte)
               for at in range(start, end, PIECE))


def startswith(data: Buffer, prefix: bytes, start: int = 0) -> bool:
    """``data.startswith(prefix, start)``."""
    return data[start:start + len(prefix)] == prefix


def runs(data: Buffer | bytearray, chars: bytes, length: int) -> Iterator[tuple[int, int]]:
    """Every run of ``length`` or more bytes in a row, each one of ``chars``, as (start, end):
    two C passes (``translate`` to one byte for the class and another for the rest, then
    ``find``), a piece of a view at a time; only the runs themselves are visited in Python."""
    table = _run_table(chars)
    whole = b"A" * length
    size, pos, carried = len(data), 0, -1  # carried: start of a run reaching the piece's end
    while pos < size:
        mapped = bytes(data[pos:pos + PIECE]).translate(table)
        tail = mapped.rfind(b"\n") + 1
        at = 0
        if carried >= 0:
            if not tail:
                pos += len(mapped)
                continue
            at = mapped.find(b"\n")
            if pos + at - carried >= length:
                yield carried, pos + at
            carried = -1
        while (at := mapped.find(whole, at, tail)) >= 0:
            stop = mapped.find(b"\n", at)
            yield pos + at, pos + stop
            at = stop
        if tail < len(mapped):
            carried = pos + tail
        pos += len(mapped)
    if carried >= 0 and size - carried >= length:
        yield carried, size


@cache
def _run_table(chars: bytes) -> bytes:
    return bytes(0x41 if byte in chars else 0x0A for byte in range(256))
