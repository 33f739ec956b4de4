"""The pipeline: source events through the engine into findings and run statistics.

Placeholder matches are counted, never reported: documentation examples must not block anyone,
but an audit can still see how many there were. Keys a blob's previous versions already held
(a staged edit of a file that had the key before) are counted too, and not reported again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from hvscan.engine import Engine, Match
from hvscan.findings import Finding, make_finding
from hvscan.sources import Blob, Events, Failed, Skipped


@dataclass
class Stats:
    files_scanned: int = 0
    bytes_scanned: int = 0
    files_skipped: int = 0
    errors: int = 0
    placeholders_ignored: int = 0
    preexisting_ignored: int = 0
    findings_filtered: int = 0


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[Failed] = field(default_factory=list)
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
            matches = engine.scan(event.data)
            if matches and event.previous is not None:
                known = {m.secret for old in event.previous() for m in engine.scan(old)}
                new = [m for m in matches if m.secret not in known]
                stats.preexisting_ignored += len(matches) - len(new)
                matches = new
            for match in matches:
                if match.placeholder:
                    stats.placeholders_ignored += 1
                else:
                    finding = make_finding(match, event.origin)
                    if annotate:
                        finding.hints = annotate(event.data, match)
                    result.findings.append(finding)
        elif isinstance(event, Skipped):
            stats.files_skipped += 1
            result.skipped.append(event)
        else:
            stats.errors += 1
            result.errors.append(event)
    return result
