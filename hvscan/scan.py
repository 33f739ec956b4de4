"""The pipeline: source events through the engine into findings and run statistics, the one
way from every source (files, standard input, staged and pushed changes, git history) to a
result. ``settle`` (suppression) and verification follow it; the history audit places its
findings with an attribution step in between (``hvscan/attribution.py``).

Names come many times over (a file's name in every version of its directory's tree), so the
engine's answer on a name is kept for the run: each distinct name is looked at once, and each
occurrence still makes its own findings at its own origin (suppression applies to each).

Placeholder matches are counted, never reported: documentation examples must not block anyone,
but an audit can still see how many there were. Keys a blob's previous versions already held
(a staged edit of a file that had the key before) are counted too, and not reported again.
``settle`` then applies the user's policy to the findings of any source: findings on excluded
paths are dropped (a source that can prune them earlier, like the directory walker, does),
suppressed ones are kept apart with the reason. The engine's notes (a damaged archive, a decoding
limit reached) are kept with the path of the member they concern. Content a source screened
clean (see ``Pipeline.screen``) counts as scanned.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from hvscan.model import BlobNote, Finding, Match, Note, Origin, member_path
from hvscan.sources import (
    Blob,
    Events,
    Excluded,
    Failed,
    Names,
    NotRead,
    Screen,
    Screened,
    Skipped,
)

if TYPE_CHECKING:
    from hvscan.engine import Engine, Inspection
    from hvscan.keys import Exposure, KeyEntry, ScanRecord
    from hvscan.suppress import Suppressor


class Stats:
    """The run's counters, all starting at 0. Mutable state on every run's path is a plain
    class: a dataclass would cost every start-up about 1 ms to define (docs/performance.md)."""

    files_scanned: int
    bytes_scanned: int
    files_skipped: int
    errors: int
    placeholders_ignored: int
    preexisting_ignored: int
    suppressed: int
    findings_filtered: int
    archive_members: int
    bytes_decompressed: int
    notes: int
    limits_hit: int

    def __init__(self) -> None:
        for name in self.__annotations__:
            setattr(self, name, 0)

    def add(self, other: Stats) -> None:
        for name in self.__annotations__:
            setattr(self, name, getattr(self, name) + getattr(other, name))


class ScanResult:
    def __init__(self, engine: Engine | None = None) -> None:
        # The engine the scan ran with: reports look with it for keys in the names and
        # messages they print, to redact them (hvscan/shown.py).
        self.engine = engine
        self.findings: list[Finding] = []
        self.suppressed: list[Finding] = []
        self.skipped: list[Skipped] = []
        self.errors: list[Failed] = []
        self.notes: list[Note] = []
        self.stats = Stats()
        # What a history audit learned about each key (by secret_sha256): where it stands.
        self.exposure: dict[str, Exposure] = {}
        # One entry per distinct key of the active findings (hvscan.keys.conclude fills it).
        self.keys: list[KeyEntry] = []
        # What was scanned, when and for how long (the sources of git commands and
        # hvscan/runner.py fill it).
        self.scan: ScanRecord | None = None

    def add(self, other: ScanResult) -> None:
        """Fold in the result of another source, for a run over several (``baseline --git``)."""
        self.findings += other.findings
        self.suppressed += other.suppressed
        self.skipped += other.skipped
        self.errors += other.errors
        self.notes += other.notes
        self.stats.add(other.stats)
        self.exposure.update(other.exposure)
        self.scan = self.scan or other.scan


Annotate = Callable[[bytes, Match], dict[str, str]]


class Pipeline(NamedTuple):
    """What a source needs to produce a ScanResult: the engine, the user's excludes (so it can
    skip excluded paths before reading them) and the hook reading hints next to each match."""

    engine: Engine
    excluded: Excluded | None = None
    annotate: Annotate | None = None

    def run(self, events: Events) -> ScanResult:
        """Scan a source's events: the one way from events to a result, for every source.
        ``annotate`` reads hints for later steps from the content around each match while the
        blob is still in memory (verification looks for the org ID next to the key)."""
        engine, annotate = self.engine, self.annotate
        result = ScanResult(engine)
        stats = result.stats
        # The run's names: whether each holds a needle, and the engine's answer on those that do
        # (the same bytes always give the same answer).
        needled: dict[bytes, bool] = {}
        answers: dict[bytes, Inspection] = {}

        def inspect(event: Blob, answer: Inspection | None = None) -> None:
            if event.file:
                stats.files_scanned += 1
                stats.bytes_scanned += len(event.data)
            inspection = engine.inspect(event.data) if answer is None else answer
            matches = inspection.matches
            if matches and event.previous is not None:
                known = {m.secret for old in event.previous() for m in engine.scan(old)}
                new = [m for m in matches if m.secret not in known]
                stats.preexisting_ignored += len(matches) - len(new)
                matches = new
            for match in matches:
                if match.placeholder:
                    stats.placeholders_ignored += 1
                else:
                    # Imported once there is a finding: a clean run never needs it.
                    from hvscan.findings import make_finding

                    finding = make_finding(match, event.origin)
                    # A member's offsets point into the member, not into the blob.
                    if annotate and match.member is None:
                        finding.hints = annotate(event.data, match)
                    result.findings.append(finding)
            record_notes(result, inspection, event.origin)

        for event in events:
            if isinstance(event, Blob):
                inspect(event)
            elif isinstance(event, Names):
                for index in named(engine, event.names, needled):
                    blob = event.blob(index)
                    if blob.data not in answers:
                        answers[blob.data] = engine.inspect(blob.data)
                    inspect(blob, answers[blob.data])
            elif isinstance(event, Screened):
                stats.files_scanned += event.files
                stats.bytes_scanned += event.size
            elif isinstance(event, Skipped):
                stats.files_skipped += 1
                result.skipped.append(event)
            elif isinstance(event, NotRead):
                _place_note(result, BlobNote(None, event.reason, limit=True), event.origin)
            else:
                stats.errors += 1
                result.errors.append(event)
        return result

    def screen(self) -> Screen:
        """The engine's look at big content, for sources that read it window by window: a
        window needs the engine when one of the prefilter's needles occurs in it or, opening
        the content, when the engine wants the content whole anyway (an archive, UTF-16 text)."""
        engine = self.engine
        prefilter = engine.prefilter

        def needs_engine(window: memoryview, at_start: bool) -> bool:
            return bool(prefilter.hits(window)) or (at_start and engine.needs_full_scan(window))

        return Screen(needs_engine, prefilter.overlap, prefilter.spans, engine.needs_full_scan)


def named(engine: Engine, names: list[bytes],
          needled: dict[bytes, bool] | None = None) -> list[int]:
    """Which of ``names`` the engine must see: those holding one of the prefilter's needles.
    ``needled`` (updated) holds the answer for names seen before: only the others are looked at.
    One pass over them all, joined by NUL (which no name holds), answers the common case, names
    with none, and keeps nothing (a directory scan's millions of names are never held); only
    then is each looked at alone, and kept. A name holds no NUL, so no UTF-16/32 text, and is no
    container: the needles say all."""
    prefilter = engine.prefilter
    needled = {} if needled is None else needled
    new = [name for name in dict.fromkeys(names) if name not in needled]
    if new and prefilter.hits(b"\0".join(new)):
        for name in new:
            needled[name] = bool(prefilter.hits(name))
    return [index for index, name in enumerate(names) if needled.get(name, False)]


def record_notes(result: ScanResult, inspection: Inspection, origin: Origin) -> None:
    """Keep the engine's notes on one blob, placed at ``origin``; count them and the archive
    work."""
    stats = result.stats
    stats.archive_members += inspection.members
    stats.bytes_decompressed += inspection.expanded_bytes
    for note in inspection.notes:
        _place_note(result, note, origin)


def _place_note(result: ScanResult, note: BlobNote, origin: Origin) -> None:
    result.stats.notes += 1
    result.stats.limits_hit += note.limit
    result.notes.append(Note(member_path(origin.path, note.member), note.message, note.limit,
                             origin.source, origin.commit, note.informational, origin.history))


def left_unscanned(result: ScanResult) -> list[str]:
    """What the run could not scan, one line each (what ``--strict`` fails on): unreadable
    paths, skipped content, and the notes about parts not looked into (a limit reached, a
    damaged container); not the notes that only inform."""
    lines = [f"{error.path}: {error.message}" for error in result.errors]
    lines += [f"{skipped.path}: skipped: {skipped.reason}" for skipped in result.skipped
              if not skipped.informational]
    lines += [f"{note.place}: {note.message}" for note in result.notes if not note.informational]
    return lines


def settle(result: ScanResult, excluded: Excluded | None, suppressor: Suppressor) -> None:
    """Drop findings on excluded paths; move suppressed findings to ``result.suppressed``.
    A suppression the suppressor does not trust is kept as ``untrusted_suppression``."""
    active: list[Finding] = []
    for finding in result.findings:
        if excluded is not None and finding.path and excluded(finding.path):
            continue
        reason = suppressor.reason(finding)
        if reason is None:
            # Before the assignment below: it reads the marker the engine set on the finding.
            untrusted = suppressor.untrusted_reason(finding)
            finding.untrusted_suppression = untrusted
        finding.suppression = reason
        if finding.suppression is None:
            active.append(finding)
        else:
            result.suppressed.append(finding)
    result.findings = active
    result.stats.suppressed = len(result.suppressed)
