"""Searching a view as bytes methods search bytes, a piece at a time."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hvscan import buffers

data = st.lists(st.sampled_from(b"ab\n"), max_size=40).map(bytes)
bounds = st.one_of(st.none(), st.integers(min_value=-45, max_value=45))


@settings(max_examples=300)
@given(haystack=data, sub=st.sampled_from([b"a", b"\n", b"ab", b"ba\n", b"aab"]),
       start=st.integers(min_value=-45, max_value=45), end=bounds,
       piece=st.integers(min_value=1, max_value=6))
def test_a_view_is_searched_as_bytes_are(haystack: bytes, sub: bytes, start: int,
                                         end: int | None, piece: int) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(buffers, "PIECE", piece)
        view = memoryview(haystack)
        assert buffers.find(view, sub, start, end) == haystack.find(sub, start, end)
        assert buffers.rfind(view, sub, start, end) == haystack.rfind(sub, start, end)
        if len(sub) == 1:
            assert buffers.count(view, sub, start, end) == haystack.count(sub, start, end)
        assert buffers.startswith(view, sub, max(start, 0)) == haystack.startswith(
            sub, max(start, 0))


@settings(max_examples=300)
@given(haystack=st.lists(st.sampled_from(b"abc\n"), max_size=60).map(bytes),
       length=st.integers(min_value=1, max_value=7), piece=st.integers(min_value=1, max_value=9))
def test_runs_are_found_across_pieces(haystack: bytes, length: int, piece: int) -> None:
    import re

    expected = [found.span() for found in re.finditer(rb"[ab]{%d,}" % length, haystack)]
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setattr(buffers, "PIECE", piece)
        assert list(buffers.runs(memoryview(haystack), b"ab", length)) == expected
    assert list(buffers.runs(haystack, b"ab", length)) == expected
