"""Line and column of byte offsets, and line bounds, in one pass however long the lines."""

from __future__ import annotations

from unittest import mock

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reading import CountingBytes

from hvscan import lines
from hvscan.lines import Locator

BOM = "\ufeff".encode()


def reference_locate(data: bytes, offset: int) -> tuple[int, int]:
    """The definition: LF ends a line, a column counts the characters before it (an
    undecodable byte counts as one; a UTF-8 BOM that starts the data counts as none)."""
    line_start = data.rfind(b"\n", 0, offset) + 1
    if not line_start and data.startswith(BOM):
        line_start = min(len(BOM), offset)
    column = len(data[line_start:offset].decode("utf-8", "surrogateescape")) + 1
    return data.count(b"\n", 0, offset) + 1, column


def reference_bounds(data: bytes, start: int, end: int) -> tuple[int, int]:
    line_end = data.find(b"\n", end)
    return data.rfind(b"\n", 0, start) + 1, len(data) if line_end < 0 else line_end


# Pieces that make hard text: newlines, CR, multi-byte characters (whole and cut), bytes that
# never start a character, U+2028.
PIECES = [b"a", b"\n", b"\r\n", b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x94\x91", b"\xe2\x82",
          b"\xf0", b"\xff", b"\x80", "\u2028".encode(), b"  "]
TEXT = st.lists(st.sampled_from(PIECES), max_size=60).map(b"".join)


@pytest.mark.parametrize("piece", [1, 2, 3, 5, 1 << 20])
@given(data=TEXT, picks=st.lists(st.integers(0, 1 << 16), max_size=12))
def test_locate_agrees_with_the_definition(piece: int, data: bytes, picks: list[int]) -> None:
    # Small pieces make characters straddle the pieces the counting decodes.
    offsets = sorted(pick % (len(data) + 1) for pick in picks)
    with mock.patch.object(lines, "PIECE", piece):
        locator = Locator(data)
        assert [locator.locate(o) for o in offsets] == [reference_locate(data, o) for o in offsets]
        # Asked out of order, it starts over.
        for offset in reversed(offsets):
            assert locator.locate(offset) == reference_locate(data, offset)


@given(data=TEXT, picks=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 8)),
                                 max_size=12))
def test_line_bounds_agree_with_the_definition(data: bytes,
                                               picks: list[tuple[int, int]]) -> None:
    spans = sorted((start := pick % (len(data) + 1), min(len(data), start + width))
                   for pick, width in picks)
    locator = Locator(data)
    for start, end in spans:
        assert locator.line_bounds(start, end) == reference_bounds(data, start, end)
        assert locator.locate(start) == reference_locate(data, start)


def test_a_byte_order_mark_is_no_character() -> None:
    # A key at the start of a UTF-8 file with a BOM was reported at column 2.
    data = BOM + b"key\nBOM-less line\n"
    locator = Locator(data)
    assert [locator.locate(offset) for offset in (3, 4, 7)] == [(1, 1), (1, 2), (2, 1)]
    assert Locator(b"x" + BOM + b"y").locate(4) == (1, 3)


@given(data=st.binary(max_size=40).map(lambda data: BOM + data), pick=st.integers(0, 43))
def test_locate_after_a_bom_agrees_with_the_definition(data: bytes, pick: int) -> None:
    offset = min(pick, len(data))
    assert Locator(data).locate(offset) == reference_locate(data, offset)


def test_out_of_order_offsets() -> None:
    locator = Locator(b"a\nbb\nccc")
    assert locator.locate(7) == (3, 3)
    assert locator.locate(2) == (2, 1)
    assert locator.locate(0) == (1, 1)


def test_many_offsets_on_one_long_line_read_it_once() -> None:
    # 1,000 keys on a line of 4 MB: looking at the whole line again for each cost quadratic
    # time (a 100 MB line took minutes). Work is counted, not timed.
    data = CountingBytes(("é" + "x" * 3999).encode() * 1000)
    decoded = 0
    real_decode = lines.utf_8_decode

    def counting_decode(piece: memoryview, errors: str, final: bool) -> tuple[str, int]:
        nonlocal decoded
        decoded += len(piece)
        return real_decode(piece, errors, final)

    locator = Locator(data)
    with mock.patch.object(lines, "utf_8_decode", counting_decode):
        for index in range(1000):
            offset = index * 4001 + 7
            assert locator.locate(offset) == (1, index * 4000 + 7)
            assert locator.line_bounds(offset, offset + 40) == (0, len(data))
    assert decoded <= len(data)
    assert data.examined <= 3 * len(data)
