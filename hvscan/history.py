"""The history audit (``hvscan git``): the history source's events through the one pipeline,
then the attribution step.

1. Read (``hvscan/sources/history.py``): every blob, commit and tag in the store once (or, for
   a range, the commits in it and the blobs they add), screened through the pipeline's
   ``Screen`` as they stream by; only the objects with a needle hit (or that the engine wants
   whole) become events.
2. Scan (``scan.Pipeline``): the same engine, placeholders, notes, hints and statistics as
   every source.
3. Attribute (``hvscan/attribution.py``), only for blobs with matches: at which commits and
   paths each key was introduced, and where each key stands now (HEAD, refs, removals); the
   scan record names the repository, its HEAD and the refs audited.

Suppression and verification follow, as for every source.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hvscan.attribution import attribute
from hvscan.sources.history import HistoryOptions, HistorySource, ProgressFactory

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from hvscan.scan import Pipeline, ScanResult
    from hvscan.shared import SharedObjects


def audit(path: Path, pipeline: Pipeline, options: HistoryOptions,
          progress: ProgressFactory | None = None,
          scanned: Callable[[ScanResult], None] | None = None,
          shared: SharedObjects | None = None) -> ScanResult:
    """Audit the history of the repository at ``path``. GitError for anything git refuses.
    ``scanned`` sees the result before attribution, when each finding on a blob is still one
    per blob holding the key (attribution keeps only the blobs that introduced it): the purge
    plan needs every blob a key is hidden in. ``shared``: the objects earlier audits of
    verified mirrors screened clean, not read again, and where this audit's are added (only
    for a mirror hvscan fetched: ``hvscan/shared.py``)."""
    source, screen = sharing_source(path, pipeline, options, progress, shared)
    result = pipeline.run(source.events(pipeline.screen()))
    if scanned is not None:
        scanned(result)
    place(path, source, result, pipeline)
    share(source, result, shared, screen)
    return result


def sharing_source(path: Path, pipeline: Pipeline, options: HistoryOptions,
                   progress: ProgressFactory | None,
                   shared: SharedObjects | None) -> tuple[HistorySource, str]:
    """The history source of ``path``, leaving out what ``shared`` holds for the pipeline's
    screen; and that screen's key ("" without ``shared``)."""
    if shared is None:
        return HistorySource(path, options, progress), ""
    from hvscan.shared import screen_key

    screen = screen_key(pipeline.engine, options.max_file_size)
    return (HistorySource(path, options, progress, shared.clean(screen), shared.room(screen)),
            screen)


def share(source: HistorySource, result: ScanResult, shared: SharedObjects | None,
          screen: str) -> None:
    """Add to ``shared`` what ``source``'s screen dropped, if the audit ended without error."""
    if shared is not None and source.dropped is not None and not result.errors:
        shared.publish(screen, source.dropped)


def place(path: Path, source: HistorySource, result: ScanResult, pipeline: Pipeline) -> None:
    """Attribute ``result``, which the pipeline made of ``source``'s events, and name the
    repository, HEAD and refs in its scan record: the end of every history audit."""
    import os

    from hvscan.keys import ScanRecord
    from hvscan.sources.gitrepository import head_commit

    head = head_commit(path)
    attribute(result, source, pipeline.engine, head)
    result.scan = ScanRecord(repository=os.path.abspath(path), head=head,
                             refs=tuple(source.scanned_refs()))
