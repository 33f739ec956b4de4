"""Finding the repository a git source reads, and saying in one line why there is none: the
directory is not in a repository, or git refuses the repository because another user owns it
(git's ``safe.directory`` check). Without this check git's own words mislead: outside a
repository ``git diff --cached`` falls back to comparing files and answers "unknown option
`cached'"."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from hvscan.sources.gitcmd import GitError, git

if TYPE_CHECKING:
    from pathlib import Path

_DUBIOUS = "detected dubious ownership in repository at '"


def rev_parse(path: Path | bytes | str, *queries: str,
              repository_settings: tuple[str, ...] = ()) -> list[str]:
    """git's answers, one a line, to ``git rev-parse QUERIES...`` in the repository at (or above)
    ``path``; GitError saying why when there is no repository there that git will read
    (``repository_settings``: see ``gitenv.command``)."""
    try:
        out = git(path, "rev-parse", *queries, repository_settings=repository_settings)
    except GitError as exc:
        raise GitError(explained(path, str(exc))) from None
    return out.decode("utf-8", "surrogateescape").splitlines()


def require_repository(path: Path | bytes | str) -> None:
    """GitError saying why, unless ``path`` is in a repository that git will read."""
    rev_parse(path, "--git-dir")


def explained(path: Path | bytes | str, message: str) -> str:
    """git's one-line ``message`` about the repository at ``path``, said plainly when it means
    that there is none or that git refuses it."""
    if "not a git repository" in message:
        return f"{os.path.abspath(os.fsdecode(path))}: not a git repository, nor inside one"
    if message.startswith(_DUBIOUS):
        import shlex

        where = message.removeprefix(_DUBIOUS).removesuffix("'")
        return (f"the repository at {where} belongs to another user, so git refuses to read it "
                "(dubious ownership); if you trust it: git config --global --add safe.directory "
                f"{shlex.quote(where)}")
    return message


def head_commit(path: Path | bytes | str) -> str | None:
    """The id of the commit HEAD names; None before the first commit."""
    try:
        return git(path, "rev-parse", "--verify", "--quiet", "HEAD^{commit}").decode(
            "ascii").strip() or None
    except GitError:
        return None
