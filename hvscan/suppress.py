"""Suppression: findings the team has accepted, kept out of the verdict but never out of sight.

Three ways, checked in this order, the first one that applies named in ``Finding.suppression``:
- ``inline``: the key's line holds ``hvscan:allow`` (in a comment, typically), read from the scanned
  bytes themselves, so it works alike for files, standard input, staged blobs and history. The
  markers of other scanners count too, so a team switching keeps its accepted lines (unless
  ``--no-foreign-allow-markers``): ``gitleaks:allow``, detect-secrets' ``pragma: allowlist
  secret`` and trufflehog's ``trufflehog:ignore`` on the key's line, and detect-secrets'
  ``pragma: allowlist nextline secret`` on the line before it. Each is matched exactly as
  spelt here (detect-secrets' case and dash variants are not: an unsuppressed finding is the
  safe side of a misspelling);
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

from hvscan.buffers import Buffer, find, rfind

if TYPE_CHECKING:
    from collections.abc import Callable

    from hvscan.baseline import Baseline
    from hvscan.committed import CommittedFile
    from hvscan.model import Finding
    from hvscan.rules import StrPath

MARKER = b"hvscan:allow"
# Other scanners' markers, honoured unless --no-foreign-allow-markers: on the key's line, and
# (detect-secrets' nextline pragma) on the line before it.
FOREIGN_MARKERS = (b"gitleaks:allow", b"pragma: allowlist secret", b"trufflehog:ignore")
FOREIGN_LINE_BEFORE_MARKERS = (b"pragma: allowlist nextline secret",)
_ENTRY = re.compile(r"[0-9a-f]{32}|[0-9a-f]{64}")


def _forms(markers: tuple[bytes, ...], wide: bool) -> tuple[bytes, ...]:
    """Each marker as UTF-8, and with ``wide`` as UTF-16 too (LE and BE, spelt out so start-up
    imports no codec): a source that scans a UTF-16 file reports offsets into its original
    bytes."""
    return tuple(form for marker in markers for form in (
        marker,
        *((b"".join(bytes((c, 0)) for c in marker),
           b"".join(bytes((0, c)) for c in marker)) if wide else ()),
    ))


# The forms looked for on the key's line and on the line before it, by (foreign markers too,
# UTF-16 forms too).
_FORMS = {
    (foreign, wide): (_forms((MARKER, *FOREIGN_MARKERS) if foreign else (MARKER,), wide),
                      _forms(FOREIGN_LINE_BEFORE_MARKERS if foreign else (), wide))
    for foreign in (False, True) for wide in (False, True)
}


class IgnoreFileError(Exception):
    """An ignore file is unreadable or has a line that is neither a fingerprint nor a hash."""


class InlineAllow:
    """Whether a line of ``data`` carries an allow marker (or, for the nextline pragma, the
    line before it does). Lines asked in increasing order cost one pass over ``data`` per form
    of a marker in all (the UTF-16 forms only in data holding a NUL byte): a long line holding
    many keys is not searched again for each (its bounds come from ``hvscan.lines.Locator``),
    and only buffers with a match are searched at all. The pipeline hands it to the engine
    (``Engine(allow_marker=allow_marker(...))``), which asks it where the bytes are, for every
    source."""

    def __init__(self, data: Buffer, foreign: bool = True) -> None:
        self._data = data
        # Text without a NUL byte holds no UTF-16 form: one byte search saves a pass per form.
        self._on_line, self._on_line_before = _FORMS[foreign, find(data, b"\0") >= 0]
        # Per form of a marker, the last search: (where it started, where it found one or -1).
        self._found = [(len(data) + 1, -1)] * (len(self._on_line) + len(self._on_line_before))
        # The last line asked whose line before was needed: (its start, the line before's).
        self._before = (-1, 0)

    def __call__(self, line_start: int, line_end: int) -> bool:
        if self._any(0, self._on_line, line_start, line_end):
            return True
        if not self._on_line_before or line_start == 0:
            return False
        # The line before ends at the LF just before this one's start.
        return self._any(len(self._on_line), self._on_line_before,
                         self._start_of_line_before(line_start), line_start - 1)

    def _any(self, first: int, markers: tuple[bytes, ...], start: int, end: int) -> bool:
        for index, marker in enumerate(markers, first):
            since, at = self._found[index]
            if start < since or 0 <= at < start:
                at = find(self._data, marker, start)
                self._found[index] = (start, at)
            if at >= 0 and at + len(marker) <= end:
                return True
        return False

    def _start_of_line_before(self, line_start: int) -> int:
        # Searched back once per line asked: the lines before distinct lines are distinct, so
        # lines asked in increasing order read each line before once in all.
        asked, start = self._before
        if asked != line_start:
            start = rfind(self._data, b"\n", 0, line_start - 1) + 1
            self._before = (line_start, start)
        return start


def allow_marker(foreign: bool) -> Callable[[Buffer], InlineAllow]:
    """The engine's ``allow_marker``: ``InlineAllow`` with the foreign markers or without."""
    return InlineAllow if foreign else _native_only


def _native_only(data: Buffer) -> InlineAllow:
    return InlineAllow(data, foreign=False)


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
