"""The pipeline: source events through the engine into findings and run statistics.

Placeholder matches are counted, never reported: documentation examples must not block anyone,
but an audit can still see how many there were. The engine's notes (a damaged archive, a decoding
limit reached) are kept with the path of the member they concern.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hvscan.engine import Engine, Inspection, Match
from hvscan.findings import Finding, make_finding, member_path
from hvscan.sources import Blob, Events, Failed, Origin, Skipped


@dataclass
class Stats:
    files_scanned: int = 0
    bytes_scanned: int = 0
    files_skipped: int = 0
    errors: int = 0
    placeholders_ignored: int = 0
    findings_filtered: int = 0
    archive_members: int = 0
    bytes_decompressed: int = 0
    notes: int = 0
    limits_hit: int = 0


@dataclass(frozen=True)
class Note:
    """Part of a blob that could not be fully looked into; ``limit`` when a --max-* limit
    stopped decoding or expansion (raise it to look further)."""

    path: str | None
    message: str
    limit: bool
    source: str
    commit: str | None = None


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[Failed] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)


Annotate = Callable[[bytes, Match], dict[str, str]]


def run(engine: Engine, events: Events, *, annotate: Annotate | None = None) -> ScanResult:
    """``annotate`` reads hints for later steps from the content around each match while the
    blob is still in memory (verification looks for the org ID next to the key)."""
    result = ScanResult()
    stats = result.stats
    for event in events:
        if isinstance(event, Blob):
            stats.files_scanned += 1
            stats.bytes_scanned += len(event.data)
            inspection = engine.inspect(event.data)
            for match in inspection.matches:
                if match.placeholder:
                    stats.placeholders_ignored += 1
                else:
                    finding = make_finding(match, event.origin)
                    # A member's offsets point into the member, not into the blob.
                    if annotate and match.member is None:
                        finding.hints = annotate(event.data, match)
                    result.findings.append(finding)
            _record_notes(result, inspection, event.origin)
        elif isinstance(event, Skipped):
            stats.files_skipped += 1
            result.skipped.append(event)
        else:
            stats.errors += 1
            result.errors.append(event)
    return result


def _record_notes(result: ScanResult, inspection: Inspection, origin: Origin) -> None:
    stats = result.stats
    stats.archive_members += inspection.members
    stats.bytes_decompressed += inspection.expanded_bytes
    for note in inspection.notes:
        stats.notes += 1
        stats.limits_hit += note.limit
        result.notes.append(Note(member_path(origin.path, note.member), note.message, note.limit,
                                 origin.source, origin.commit))
