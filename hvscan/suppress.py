"""Suppression: findings the team has accepted, kept out of the verdict but never out of sight.

Three ways, checked in this order, the first one that applies named in ``Finding.suppression``:
- ``inline``: the key's line holds ``hvscan:allow`` (in a comment, typically), read from the scanned
  bytes themselves, so it works alike for files, standard input, staged blobs and history;
- ``ignore-file``: the finding's fingerprint (one key in one file) or its key's SHA-256 (that key
  anywhere) is listed in ``.hvscanignore``;
- ``baseline``: the key was recorded by ``hvscan baseline`` (see ``hvscan/baseline.py``).
Suppressed findings are counted in the stats and listed with ``--show-suppressed``.

A range scan does not trust inline markers (``trust_inline=False``): the line holding a key that
the range adds is part of the change under scan, and so is a marker on it. Nor does it read the
ignore file the change leaves: its entries (``untrusted``) suppress nothing. Such a finding stays
active, and ``settle`` records what would have suppressed it (``untrusted_suppression``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple

from hvscan.buffers import Buffer, find

if TYPE_CHECKING:
    from hvscan.baseline import Baseline
    from hvscan.committed import CommittedFile
    from hvscan.model import Finding
    from hvscan.rules import StrPath

MARKER = b"hvscan:allow"
# UTF-16 too (LE and BE, spelt out so start-up imports no codec): a source that scans a UTF-16
# file reports offsets into its original bytes.
_MARKERS = (
    MARKER,
    b"".join(bytes((c, 0)) for c in MARKER),
    b"".join(bytes((0, c)) for c in MARKER),
)
_ENTRY = re.compile(r"[0-9a-f]{32}|[0-9a-f]{64}")


class IgnoreFileError(Exception):
    """An ignore file is unreadable or has a line that is neither a fingerprint nor a hash."""


class InlineAllow:
    """Whether a line of ``data`` carries the allow marker. Lines asked in increasing order
    cost one pass over ``data`` per form of the marker in all: a long line holding many keys
    is not searched again for each (its bounds come from ``hvscan.lines.Locator``). The
    pipeline hands it to the engine (``Engine(allow_marker=...)``), which asks it where the
    bytes are, for every source."""

    def __init__(self, data: Buffer) -> None:
        self._data = data
        # Per form of the marker, the last search: (where it started, where it found one or -1).
        self._found = [(len(data) + 1, -1)] * len(_MARKERS)

    def __call__(self, line_start: int, line_end: int) -> bool:
        for index, marker in enumerate(_MARKERS):
            since, at = self._found[index]
            if line_start < since or 0 <= at < line_start:
                at = find(self._data, marker, line_start)
                self._found[index] = (line_start, at)
            if at >= 0 and at + len(marker) <= line_end:
                return True
        return False


def load_ignore_file(path: StrPath | CommittedFile) -> frozenset[str]:
    """Fingerprints (32 hex digits) and key hashes (64), one a line; ``#`` starts a comment."""
    from hvscan.committed import read_bytes

    try:
        text = read_bytes(path).decode("utf-8")
    except OSError as exc:
        raise IgnoreFileError(f"{path}: cannot read ignore file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise IgnoreFileError(f"{path}: ignore file is not UTF-8 text") from None
    entries: set[str] = set()
    for number, line in enumerate(text.splitlines(), 1):
        entry = line.split("#", 1)[0].strip().lower()
        if not entry:
            continue
        if not _ENTRY.fullmatch(entry):
            raise IgnoreFileError(
                f"{path}:{number}: {entry[:80]!r} is neither a fingerprint (32 hex digits) nor "
                "a key's secret_sha256 (64 hex digits)"
            )
        entries.add(entry)
    return frozenset(entries)


class Suppressor(NamedTuple):
    ignored: frozenset[str] = frozenset()
    baseline: Baseline | None = None
    trust_inline: bool = True
    untrusted: frozenset[str] = frozenset()

    def reason(self, finding: Finding) -> str | None:
        """Why ``finding`` is suppressed, or None. The inline marker was read by the engine."""
        if finding.suppression is not None and self.trust_inline:
            return finding.suppression
        if finding.fingerprint in self.ignored or finding.secret_sha256 in self.ignored:
            return "ignore-file"
        if self.baseline is not None and self.baseline.contains(finding):
            return "baseline"
        return None

    def untrusted_reason(self, finding: Finding) -> str | None:
        """For an active finding, the suppression the change under scan gave it, if any."""
        if finding.suppression is not None:
            return finding.suppression  # a marker reason() did not trust
        if finding.fingerprint in self.untrusted or finding.secret_sha256 in self.untrusted:
            return "ignore-file"
        return None
