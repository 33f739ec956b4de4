"""``hvscan baseline``: record the current findings as accepted, in a file of fingerprints and
key hashes (never keys), so that scans with ``--baseline FILE`` report only new ones. With
``--update`` it reviews the file instead of rewriting it: kept entries keep their notes, and what
was added and removed is listed on standard error."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hvscan.commands.common import directory_walker, named_repository
from hvscan.runner import HvscanError, fail_if_incomplete
from hvscan.settings.options import OptionError, ScanOptions
from hvscan.units import counted

if TYPE_CHECKING:
    from hvscan.baseline import Change, Entry

DEFAULT_BASELINE = ".hvscan-baseline.json"


def run(paths: tuple[Path, ...], max_file_size: int, follow_symlinks: bool, history: bool,
        output: Path, strict: bool, update: bool, reason: str | None, accepted_by: str | None,
        options: ScanOptions) -> None:
    from hvscan import baseline
    from hvscan.report.text_format import summary
    from hvscan.runner import run_scan
    from hvscan.shown import reported

    for value, option in ((reason, "--reason"), (accepted_by, "--accepted-by")):
        if value is not None and not value.strip():
            raise OptionError("must not be empty", option)
    notes = baseline.Notes(reason, accepted_by)
    # Read before scanning: a file that cannot be updated stops the run before its cost.
    old = _entries_to_update(output) if update else None
    produce = directory_walker(paths, max_file_size, follow_symlinks)
    if history:
        from hvscan.commands.git import with_history

        first = paths[0] if paths else None
        repo = None if first is None else first if first.is_dir() else first.parent
        produce = with_history(produce, named_repository(repo), max_file_size)
    result = reported(run_scan(produce, options.settings()))  # the file holds no key, ever
    for skipped in result.skipped:
        print(f"note: skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    for error in result.errors:
        print(f"error: {error.path}: {error.message}", file=sys.stderr)
    print(summary(result), file=sys.stderr)
    if strict:
        fail_if_incomplete(result, f" ({output} not written)")
    if result.errors:
        raise HvscanError(f"scan incomplete: {output} not written")
    if old is None:
        count = baseline.write(output, baseline.entries(result.findings, notes))
        print(f"hvscan: recorded {counted(count, 'finding')} in {output}", file=sys.stderr)
        return
    items, change = baseline.update(old, result.findings, notes)
    baseline.write(output, items)
    _print_change(output, change)


def _entries_to_update(output: Path) -> list[Entry]:
    from hvscan import baseline

    if not output.exists():
        raise HvscanError(f"{output}: no baseline to update; record one first with "
                          "'hvscan baseline' (without --update)")
    return baseline.read_entries(output)


def _print_change(output: Path, change: Change) -> None:
    """What the update changed, one line each, for the review; the file's own strings are
    shown escaped (a baseline is a file the repository holds)."""
    from hvscan.shown import escape

    print(f"hvscan: updated {output}: added {len(change.added)}, removed "
          f"{len(change.removed)}, kept {change.kept}", file=sys.stderr)
    for label, entries in (("added", change.added), ("removed", change.removed)):
        for entry in entries:
            where = entry.get("path") or "(no path)"
            print(escape(f"  {label}: {where}: {entry['rule_id']} "
                         f"{entry.get('secret_redacted', entry['secret_sha256'])}"),
                  file=sys.stderr)
