"""Path excludes: gitignore-style patterns matched against the paths hvscan reports (relative
to the scanned directory, or to the repository for git sources). ``pathspec`` is imported only
when there are patterns."""

from __future__ import annotations

from collections.abc import Sequence

from hvscan.sources import Excluded


def pattern_problem(pattern: str) -> str | None:
    """What is wrong with an exclude pattern, or None if it is a valid one."""
    if not pattern.strip():
        return "an empty pattern matches nothing"
    import pathspec

    try:
        pathspec.GitIgnoreSpec.from_lines([pattern])
    except ValueError:
        return f"{pattern!r} is not a valid gitignore-style pattern"
    return None


def path_filter(patterns: Sequence[str]) -> Excluded | None:
    """A predicate telling whether a reported path (POSIX, relative) is excluded; None when
    there are no patterns. A directory is asked with a trailing slash, so ``build/`` prunes the
    tree."""
    if not patterns:
        return None
    import pathspec

    spec = pathspec.GitIgnoreSpec.from_lines(patterns)

    def excluded(path: str) -> bool:
        return bool(spec.match_file(path))

    return excluded
