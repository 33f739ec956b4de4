"""The needles written out for the fast path are the engine's."""

from __future__ import annotations

from hvscan import _needles, fastpath, needles
from hvscan.engine import Engine
from hvscan.rules import load_builtin_rules


def test_the_generated_needles_are_the_engines() -> None:
    computed = needles.builtin_needles()
    prefilter = Engine(load_builtin_rules()).prefilter
    assert set(computed[0]) == set(prefilter.needles)
    assert computed[1] == tuple((run.chars, run.length) for run in prefilter.runs)
    assert needles.GENERATED.read_text(encoding="utf-8") == needles.module_text(computed), (
        "the rules or decoders changed the prefilter's needles: run python -m hvscan.needles")


def test_the_fast_path_looks_for_the_generated_needles() -> None:
    assert fastpath.NEEDLES is _needles.NEEDLES
    assert fastpath.RUNS is _needles.RUNS
