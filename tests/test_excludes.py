"""Path excludes: gitignore-style patterns over reported paths."""

from __future__ import annotations

import pytest

from hvscan.excludes import path_filter, pattern_problem


def test_no_patterns_no_filter() -> None:
    assert path_filter(()) is None


def test_gitignore_semantics() -> None:
    excluded = path_filter(["build/", "*.lock", "/top.txt", "docs/**/*.md", "!keep.lock"])
    assert excluded is not None
    assert excluded("build/") and excluded("build/x.py") and excluded("a/build/x.py")
    assert not excluded("build")  # a file named build: the pattern names directories
    assert excluded("poetry.lock") and not excluded("keep.lock")
    assert excluded("top.txt") and not excluded("a/top.txt")
    assert excluded("docs/a/b/c.md") and not excluded("docs/a/b/c.txt")


@pytest.mark.parametrize("pattern, problem", [
    ("build/", None), ("*.lock", None), ("!keep.lock", None),
    ("", "an empty pattern matches nothing"), ("   ", "an empty pattern matches nothing"),
])
def test_pattern_problems(pattern: str, problem: str | None) -> None:
    assert pattern_problem(pattern) == problem
