"""Parsing git's raw diff format with ``-z``: ``git diff --raw`` and ``git log --raw -c``.

Paths are bytes taken by count, never by looking at their content, so a file name may hold any
byte (newlines, colons) without confusing the parser.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

GITLINK = "160000"
NO_FILE = "000000"


@dataclass(frozen=True)
class Change:
    """One changed path. A merge's combined entry has one old mode, id and path per parent
    (``status`` then has one letter per parent); a plain entry has one of each. ``old_paths``
    differ from ``path`` for a rename or copy."""

    status: str
    old_modes: tuple[str, ...]
    new_mode: str
    old_ids: tuple[str, ...]
    new_id: str
    path: bytes
    old_paths: tuple[bytes, ...]

    def old_blob_ids(self) -> list[str]:
        """The blobs this change replaces (none for an added file; a submodule's commit is not
        a blob of this repository)."""
        return [object_id for object_id, mode in zip(self.old_ids, self.old_modes, strict=True)
                if mode not in (NO_FILE, GITLINK)]


def parse_changes(output: bytes) -> list[Change]:
    """Parse ``git diff --raw -z`` output."""
    tokens = _Tokens(output)
    changes = []
    while (header := tokens.next_header()) is not None:
        changes.append(_change(header, tokens))
    return changes


def parse_log(output: bytes, marker: bytes) -> Iterator[tuple[bytes, list[Change]]]:
    """Parse ``git log --raw -z -c --combined-all-paths --format=<marker>...`` output into
    (formatted commit line without the marker, its changes)."""
    tokens = _Tokens(output)
    commit: bytes | None = None
    changes: list[Change] = []
    while (header := tokens.next_header()) is not None:
        if header.startswith(marker):
            if commit is not None:
                yield commit, changes
            commit, changes = header[len(marker):], []
        elif commit is None:
            raise ValueError("git log output does not start with a commit line")
        else:
            changes.append(_change(header, tokens))
    if commit is not None:
        yield commit, changes


class _Tokens:
    def __init__(self, output: bytes) -> None:
        self._fields = output.split(b"\0")
        self._index = 0

    def next_header(self) -> bytes | None:
        """The next commit line or change header: separators (empty fields, the newline git
        puts after a commit line) are dropped."""
        while self._index < len(self._fields):
            field = self._fields[self._index].lstrip(b"\n")
            self._index += 1
            if field:
                return field
        return None

    def path(self) -> bytes:
        field = self._fields[self._index] if self._index < len(self._fields) else b""
        if not field:  # git never prints an empty path
            raise ValueError("git raw diff output ends before a path")
        self._index += 1
        return field


def _change(header: bytes, tokens: _Tokens) -> Change:
    parents = len(header) - len(header.lstrip(b":"))
    words = header[parents:].decode("ascii").split()
    if parents < 1 or len(words) != 2 * (parents + 1) + 1:
        raise ValueError(f"unexpected git raw diff line: {header[:80]!r}")
    modes, ids, status = words[: parents + 1], words[parents + 1: -1], words[-1]
    old_paths: tuple[bytes, ...]
    if parents == 1:
        letter = status[0]
        old_path = tokens.path() if letter in "RC" else None
        path = tokens.path()
        old_paths = (old_path or path,)
        status = letter
    else:
        old_paths = tuple(tokens.path() for _ in range(parents))
        path = tokens.path()
    return Change(status, tuple(modes[:-1]), modes[-1], tuple(ids[:-1]), ids[-1], path,
                  old_paths)
