"""Incremental history audits (``hvscan git --state FILE``, ``--incremental``): the history
audit of ``hvscan/history.py`` with a state file (``hvscan/state.py``) around its read.

1. The state file says what the last audit of the repository read, with the same fingerprint
   (version, code, rules, limits): the tips it started from, and the objects it flagged.
2. The history source reads only the objects the tips reach now that those did not, and the
   flagged objects again (``HistorySource.since``); with no earlier audit, everything, noting
   the tips (``remember``). Either way its events go through the one pipeline.
3. Attribution places every finding in the whole history, as in a full audit: the flagged
   objects read again carry the old keys, so a new commit that brings an old key back is an
   introduction like any other, and a report lists every finding, old and new. The changes
   that set files to flagged blobs are known from the last audit: only new commits are walked
   (``HistorySource.changes``), unless history was rewritten. Which refs reach the commits
   introducing or removing a key is known for the earlier tips: only the commits they do not
   reach are walked (``githistory.tips_reaching``).
4. What the engine found is recorded (tips, flagged objects, key hashes and redacted keys, the
   changes, which tips reach which of those commits), only when the read was complete (no
   error: no missing objects, not shallow). A record that cannot be written (the disk full,
   the file made read-only) is an error of the audit (exit 2), whose findings are still
   reported: the file keeps the last audit's entry, so the next audit reads this one's
   objects again.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from hvscan.history import place, share, sharing_source
from hvscan.sources import Failed
from hvscan.sources.history import HistoryOptions, ProgressFactory
from hvscan.state import NotRecorded, Store, fingerprint, flagged_objects

if TYPE_CHECKING:
    from pathlib import Path

    from hvscan.scan import Pipeline, ScanResult
    from hvscan.shared import SharedObjects


def audit(path: Path, pipeline: Pipeline, options: HistoryOptions, state: Path,
          progress: ProgressFactory | None = None,
          shared: SharedObjects | None = None) -> ScanResult:
    """Audit the history of the repository at ``path`` with the state file ``state``. GitError
    for anything git refuses, StateError for a state file that cannot be used. ``shared`` as
    for ``history.audit``: a whole read leaves out what it holds; a read of what is new since
    the last audit adds to it, and leaves nothing out."""
    source, screen = sharing_source(path, pipeline, options, progress, shared)
    if not source.everything or options.include_unreachable:
        raise ValueError("incremental audits read the whole history, reachable objects only")
    repository = os.path.realpath(source.repo.git_dir)
    mark = fingerprint(pipeline.engine, options.max_file_size)
    with Store(state) as store:
        source.since = store.since(repository, mark)
        source.remember = True
        result = pipeline.run(source.events(pipeline.screen()))
        flagged = flagged_objects(result.findings, result.notes, source.reachable)
        place(path, source, result, pipeline)
        # Before the record: what the read screened clean is so whether or not it is saved.
        share(source, result, shared, screen)
        if not result.errors:
            try:
                store.record(repository, mark, source.tips, flagged, source.found,
                             pipeline.engine, source.reach)
            except NotRecorded as exc:
                result.errors.append(Failed(str(exc.path), exc.detail))
                result.stats.errors += 1
    return result
