"""Parsing git's raw diff format with ``-z``: ``git diff --raw`` and ``git log --raw -c``.

The fields are read by hvscan/gitformat.py (shared with the hook's fast path); here they become
``Change`` records. Paths are bytes taken by count, never by looking at their content, so a file
name may hold any byte (newlines, colons) without confusing the parser.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple

from hvscan.gitformat import RawTokens, raw_entries, raw_entry

GITLINK = "160000"
NO_FILE = "000000"


class Change(NamedTuple):
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
    return [Change(*entry) for entry in raw_entries(output)]


def parse_log(output: bytes, marker: bytes) -> Iterator[tuple[bytes, list[Change]]]:
    """Parse ``git log --raw -z -c --combined-all-paths --format=<marker>...`` output into
    (formatted commit line without the marker, its changes)."""
    tokens = RawTokens(output)
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


def _change(header: bytes, tokens: RawTokens) -> Change:
    return Change(*raw_entry(header, tokens))
