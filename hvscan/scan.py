"""The pipeline: source events through the engine into findings and run statistics.

Placeholder matches are counted, never reported: documentation examples must not block anyone,
but an audit can still see how many there were. Content a source screened (see ``screen``) counts
as scanned like any blob.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hvscan.engine import Engine
from hvscan.findings import Finding, make_finding
from hvscan.sources import Blob, Events, Failed, Screen, Screened, Skipped


@dataclass
class Stats:
    files_scanned: int = 0
    bytes_scanned: int = 0
    files_skipped: int = 0
    errors: int = 0
    placeholders_ignored: int = 0


@dataclass
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[Failed] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)


def run(engine: Engine, events: Events) -> ScanResult:
    result = ScanResult()
    stats = result.stats
    for event in events:
        if isinstance(event, Blob):
            stats.files_scanned += 1
            stats.bytes_scanned += len(event.data)
            for match in engine.scan(event.data):
                if match.placeholder:
                    stats.placeholders_ignored += 1
                else:
                    result.findings.append(make_finding(match, event.origin))
        elif isinstance(event, Screened):
            stats.files_scanned += 1
            stats.bytes_scanned += event.size
        elif isinstance(event, Skipped):
            stats.files_skipped += 1
            result.skipped.append(event)
        else:
            stats.errors += 1
            result.errors.append(event)
    return result


def screen(engine: Engine) -> Screen:
    """The engine's look at big content, for sources that read it window by window: a window
    needs the engine when one of the prefilter's needles occurs in it or, opening the content,
    when the engine wants the content whole anyway (``needs_full_scan``)."""

    def needs_engine(window: memoryview, at_start: bool) -> bool:
        return bool(engine.prefilter.hits(window)) or (
            at_start and engine.needs_full_scan(window)
        )

    longest = max((len(needle) for needle in engine.prefilter.needles), default=1)
    return Screen(needs_engine, overlap=longest - 1)
