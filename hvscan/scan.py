"""The pipeline: source events through the engine into findings and run statistics.

Placeholder matches are counted, never reported: documentation examples must not block anyone,
but an audit can still see how many there were. Findings on excluded paths are dropped (a source
that can prune them earlier, like the directory walker, does); suppressed findings are kept apart
from the active ones, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hvscan.engine import Engine
from hvscan.findings import Finding, make_finding
from hvscan.sources import Blob, Events, Excluded, Failed, Skipped
from hvscan.suppress import Suppressor


@dataclass
class Stats:
    files_scanned: int = 0
    bytes_scanned: int = 0
    files_skipped: int = 0
    errors: int = 0
    placeholders_ignored: int = 0
    suppressed: int = 0


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    suppressed: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[Failed] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)


def run(
    engine: Engine,
    events: Events,
    *,
    excluded: Excluded | None = None,
    suppressor: Suppressor | None = None,
) -> ScanResult:
    result = ScanResult()
    stats = result.stats
    suppressor = suppressor or Suppressor()
    for event in events:
        if isinstance(event, Blob):
            stats.files_scanned += 1
            stats.bytes_scanned += len(event.data)
            for match in engine.scan(event.data):
                if match.placeholder:
                    stats.placeholders_ignored += 1
                    continue
                finding = make_finding(match, event.origin)
                if excluded is not None and finding.path and excluded(finding.path):
                    continue
                finding.suppression = suppressor.reason(finding, event.data, match.start,
                                                        match.end)
                if finding.suppression is None:
                    result.findings.append(finding)
                else:
                    stats.suppressed += 1
                    result.suppressed.append(finding)
        elif isinstance(event, Skipped):
            stats.files_skipped += 1
            result.skipped.append(event)
        else:
            stats.errors += 1
            result.errors.append(event)
    return result
