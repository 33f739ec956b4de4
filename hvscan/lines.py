"""Lines in scanned bytes: the 1-based (line, column) of a byte offset, and the bounds of the
line that holds a span, for offsets asked in increasing order at the cost of one pass over the
bytes in all.

Lines end at LF only, columns count characters (undecodable bytes count as one each), so CRLF,
form feeds and U+2028 behave as editors and other scanners show them. A UTF-8 byte-order mark at
the start is no character: editors do not show it, so the first line's columns count after it.
A file may be a single line of a hundred megabytes holding a thousand keys: nothing here reads a
line again for each offset on it, and nothing copies or decodes more than ``PIECE`` bytes of it
at once.
"""

from __future__ import annotations

from codecs import utf_8_decode

from hvscan.buffers import Buffer, count, find, rfind, startswith

# Characters are counted by decoding this much at a time: the text of a long line is never
# held whole.
PIECE = 1 << 20
_BOM = b"\xef\xbb\xbf"


class Locator:
    def __init__(self, data: Buffer) -> None:
        self._data = data
        self._view = memoryview(data)
        # The last newline search: (where it started, the LF it found or -1).
        self._newline = (len(data) + 1, -1)
        self._start_over()

    def _start_over(self) -> None:
        self._offset = 0  # the last offset asked,
        self._line = 1  # its line,
        self._line_start = 0  # where that line starts;
        # the line's characters are counted up to here (a character's start),
        self._counted = len(_BOM) if startswith(self._data, _BOM) else 0
        self._chars = 0  # and there are this many.

    def _advance(self, offset: int) -> None:
        if offset < self._offset:
            self._start_over()
        data = self._data
        newlines = count(data, b"\n", self._offset, offset)
        if newlines:
            self._line += newlines
            self._line_start = self._counted = rfind(data, b"\n", self._offset, offset) + 1
            self._chars = 0
        self._offset = offset

    def locate(self, offset: int) -> tuple[int, int]:
        self._advance(offset)
        counted, chars = self._counted, self._chars
        while counted < offset:
            # Three bytes more than a piece: a piece not cut by ``offset`` then holds at least
            # one whole character, however small the piece.
            text, used = utf_8_decode(self._view[counted:min(offset, counted + PIECE + 3)],
                                      "surrogateescape", False)
            if not used:  # the start of a character that ``offset`` cuts
                break
            chars += len(text)
            counted += used
        self._counted, self._chars = counted, chars
        # The bytes of a character cut at ``offset`` count one each, as when the line up to
        # ``offset`` is decoded on its own.
        return self._line, max(chars + offset - counted + 1, 1)

    def line_bounds(self, start: int, end: int) -> tuple[int, int]:
        """Where the line holding ``data[start:end]`` starts, and where it ends (at its LF, or
        the end of the data). A span across lines (a wrapped encoded key) gets the first line's
        start and the last one's end."""
        self._advance(start)
        since, found = self._newline
        if end < since or 0 <= found < end:
            found = find(self._data, b"\n", end)
            self._newline = (end, found)
        return self._line_start, len(self._data) if found < 0 else found
