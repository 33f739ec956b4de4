"""The keyword prefilter: the same answer on its per-needle path and its large-buffer path
(the Teddy searcher, then Hyperscan; either may be missing), from any number of threads at
once."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hvscan import prefilter as prefilter_module
from hvscan.prefilter import LARGE_BUFFER, Prefilter, Run

# The third overlaps the first: the Teddy searcher reports one of two overlapping needles.
NEEDLES = (b"hv_live_", b"hv_test_", b"live_x", b"\x00nul|*")


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


@pytest.fixture(params=["all", "no-teddy", "no-hyperscan"])
def engines(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The large-buffer path with both engines, or with one missing (no wheel)."""
    if request.param == "all":
        pytest.importorskip("ahocorasick_rs")
        pytest.importorskip("hyperscan")
    elif request.param == "no-teddy":
        monkeypatch.setattr(prefilter_module, "_compile_searcher", lambda needles: None)
    else:
        monkeypatch.setattr(prefilter_module, "_compile_hyperscan", lambda *args, **kw: None)
        monkeypatch.setattr(prefilter_module, "_run_scanner", lambda run: None)
    return str(request.param)


@settings(max_examples=60, suppress_health_check=[
    *settings.default.suppress_health_check, HealthCheck.function_scoped_fixture])
@given(data=pieces)
def test_both_paths_agree(engines: str, data: bytes) -> None:
    assert Prefilter(NEEDLES).hits(data) == expected(data)
    assert warmed().hits(data) == expected(data)
    assert warmed().hits(memoryview(data)) == expected(data)


@pytest.mark.parametrize("at", range(0, 30))
def test_a_needle_across_two_search_chunks_is_found(
    engines: str, monkeypatch: pytest.MonkeyPatch, at: int
) -> None:
    monkeypatch.setattr(prefilter_module, "SEARCH_CHUNK", 16)
    data = b"." * at + b"hv_live_" + b"." * (30 - at)
    assert warmed().hits(data) == {b"hv_live_"}
    assert warmed().hits(data.replace(b"_", b".")) == frozenset()


def test_a_buffer_full_of_needles(engines: str) -> None:
    data = b"hv_live_x" * (LARGE_BUFFER // 4)
    assert Prefilter(NEEDLES).hits(data) == {b"hv_live_", b"live_x"}


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


@pytest.mark.parametrize("count", [1, 2, 3])
def test_needles_inside_other_matches_are_found_up_to_the_match_limit_and_past_it(
    engines: str, monkeypatch: pytest.MonkeyPatch, count: int
) -> None:
    # "live_x" starts inside "hv_live_", which the Teddy searcher reports in its stead; past
    # two matches Hyperscan (or the per-needle path) answers for the whole buffer.
    monkeypatch.setattr(prefilter_module, "MATCHES_LOOKED_AT", 2)
    data = b"." * 1000 + b"hv_live_x." * count + b"." * LARGE_BUFFER
    assert Prefilter(NEEDLES).hits(data) == {b"hv_live_", b"live_x"}
    assert Prefilter(NEEDLES).hits(data.replace(b"hv_", b"hx_")) == {b"live_x"}


@given(needle=st.binary(min_size=1, max_size=8).map(lambda b: bytes(c % 3 + 97 for c in b)),
       other=st.binary(min_size=1, max_size=8).map(lambda b: bytes(c % 3 + 97 for c in b)))
def test_which_needles_can_start_inside_another(needle: bytes, other: bytes) -> None:
    # The definition: at some place of ``needle``, the two agree on the bytes they share.
    expected = any(needle[at:at + len(other)] == other[:len(needle) - at]
                   for at in range(len(needle)))
    assert prefilter_module._can_start_inside(needle, other) == expected


RUN = Run(b"ab", 5)


@settings(max_examples=60, suppress_health_check=[
    *settings.default.suppress_health_check, HealthCheck.function_scoped_fixture])
@given(data=st.lists(st.sampled_from([b"a", b"b", b"ab" * 3, b"\n", b"hv_live_", b"."]),
                     max_size=40).map(b"".join))
def test_runs_are_found_on_every_path(engines: str, data: bytes) -> None:
    # A run is no literal: Hyperscan's scan of its own, or two C passes, on every path.
    import re

    spans = [found.span() for found in re.finditer(rb"[ab]{5,}", data)]
    wanted = expected(data) | ({RUN.pattern} if spans else set())
    prefilter = Prefilter(NEEDLES, [RUN])
    assert prefilter.hits(data) == wanted
    for _ in range(2):
        prefilter.hits(b"\n" * (LARGE_BUFFER - 1))  # warmed: the large path from now on
    assert prefilter.hits(data) == prefilter.hits(memoryview(data)) == wanted
    assert list(prefilter_module.run_spans(RUN, data)) == spans
    assert list(prefilter_module.run_spans(RUN, data, large=False)) == spans
    assert {(start, start + RUN.length) for start, _ in spans} <= set(prefilter.spans(data))


@settings(max_examples=60, suppress_health_check=[
    *settings.default.suppress_health_check, HealthCheck.function_scoped_fixture])
@given(data=st.lists(st.sampled_from([b"a", b"b", b"aaaaa", b"\n", b"hv_live_"]),
                     max_size=40).map(b"".join))
def test_runs_their_accept_rules_out_are_no_hits(engines: str, data: bytes) -> None:
    # Only runs holding a "b" count: a buffer whose runs are all "a" is no hit of the run.
    import re

    picky = Run(b"ab", 5, lambda run: b"b" in bytes(run))
    spans = [found.span() for found in re.finditer(rb"[ab]{5,}", data) if b"b" in found[0]]
    wanted = expected(data) | ({picky.pattern} if spans else set())
    prefilter = Prefilter(NEEDLES, [picky])
    assert prefilter.hits(data) == wanted
    for _ in range(2):
        prefilter.hits(b"\n" * (LARGE_BUFFER - 1))
    assert prefilter.hits(data) == prefilter.hits(memoryview(data)) == wanted
    assert list(prefilter_module.run_spans(picky, data)) == spans
    assert list(prefilter_module.run_spans(picky, data, large=False)) == spans
    assert sorted(set(prefilter.spans(data)) - set(Prefilter(NEEDLES).spans(data))) == [
        (start, start + picky.length) for start, _ in spans]
