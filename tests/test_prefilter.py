"""The keyword prefilter: the same answer on its small-buffer and its Hyperscan path."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hvscan.prefilter import LARGE_BUFFER, Prefilter

# Needles with a shared prefix (searched alone first) and needles without one.
GATED = (b"hv_live_", b"hv_test_")
NEEDLES = (*GATED, b"\x00nul|*")


def expected(needles: tuple[bytes, ...], data: bytes) -> frozenset[bytes]:
    return frozenset(n for n in needles if n in data)


def warmed(needles: tuple[bytes, ...]) -> Prefilter:
    """A prefilter that has seen LARGE_BUFFER bytes, so every later buffer takes the fast path."""
    prefilter = Prefilter(needles)
    assert prefilter.hits(b"\n" * LARGE_BUFFER) == frozenset()
    return prefilter


pieces = st.lists(st.sampled_from([*NEEDLES, b"hv_", b"live_", b"x", b"\n", b"\x00"]),
                  max_size=30).map(b"".join)


@settings(max_examples=60, deadline=None)
@given(data=pieces)
def test_small_and_fast_paths_agree(data: bytes) -> None:
    for needles in (NEEDLES, GATED):
        assert Prefilter(needles).hits(data) == expected(needles, data)
        assert warmed(needles).hits(data) == expected(needles, data)


def test_small_buffers_switch_to_hyperscan_once_the_run_is_large() -> None:
    pytest.importorskip("hyperscan")
    prefilter = Prefilter(NEEDLES)
    chunk = b"a" * (64 << 10)
    for _ in range(LARGE_BUFFER // len(chunk) - 1):
        assert prefilter.hits(chunk) == frozenset()
    assert prefilter._database is None  # a short run never pays for the import
    assert prefilter.hits(chunk + b"hv_test_") == {b"hv_test_"}
    assert prefilter._database  # from here on, every buffer takes one Hyperscan pass
    assert prefilter.hits(b"hv_live_") == {b"hv_live_"}
    assert prefilter.hits(b"") == frozenset()


def test_memoryview_is_accepted() -> None:
    data = b"..hv_live_.."
    for needles in (NEEDLES, GATED):
        assert Prefilter(needles).hits(memoryview(data)) == {b"hv_live_"}
        assert warmed(needles).hits(memoryview(data)) == {b"hv_live_"}


def test_shared_prefix_alone_is_no_hit() -> None:
    assert warmed(GATED).hits(b"hv_ hv_li hv_tes") == frozenset()
    assert warmed(GATED).hits(b"hv_ hv_test_") == {b"hv_test_"}


def test_threads_can_search_at_once() -> None:
    pytest.importorskip("hyperscan")
    prefilter = warmed(GATED)
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
