"""The keyword prefilter: the same answer on its per-needle and its Hyperscan path, from any
number of threads at once."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hvscan.prefilter import LARGE_BUFFER, Prefilter

NEEDLES = (b"hv_live_", b"hv_test_", b"\x00nul|*")


def expected(data: bytes) -> frozenset[bytes]:
    return frozenset(n for n in NEEDLES if n in data)


def warmed() -> Prefilter:
    """A prefilter that has done enough work per needle that every later buffer, however
    small, takes the Hyperscan path."""
    prefilter = Prefilter(NEEDLES)
    for _ in range(2):
        assert prefilter.hits(b"\n" * (LARGE_BUFFER - 1)) == frozenset()
    return prefilter


pieces = st.lists(st.sampled_from([*NEEDLES, b"hv_", b"live_", b"x", b"\n", b"\x00"]),
                  max_size=30).map(b"".join)


@settings(max_examples=60, deadline=None)
@given(data=pieces)
def test_both_paths_agree(data: bytes) -> None:
    assert Prefilter(NEEDLES).hits(data) == expected(data)
    assert warmed().hits(data) == expected(data)
    assert warmed().hits(memoryview(data)) == expected(data)


def test_threads_can_search_at_once() -> None:
    pytest.importorskip("hyperscan")
    prefilter = warmed()
    clean, dirty = b"a" * (2 << 20), b"a" * (2 << 20) + b"hv_live_"
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(20):
                assert prefilter.hits(clean) == frozenset()
                assert prefilter.hits(dirty) == {b"hv_live_"}
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
