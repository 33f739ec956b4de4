"""``hvscan baseline``: record the current findings as accepted, in a file of fingerprints and
key hashes (never keys), so that scans with ``--baseline FILE`` report only new ones."""

from __future__ import annotations

import sys
from pathlib import Path

from hvscan.commands.common import directory_walker
from hvscan.runner import HvscanError, fail_if_incomplete
from hvscan.settings.options import ScanOptions
from hvscan.units import counted

DEFAULT_BASELINE = ".hvscan-baseline.json"


def run(paths: tuple[Path, ...], max_file_size: int, follow_symlinks: bool, history: bool,
        output: Path, strict: bool, options: ScanOptions) -> None:
    from hvscan import baseline
    from hvscan.report.text_format import summary
    from hvscan.runner import run_scan
    from hvscan.shown import reported

    produce = directory_walker(paths, max_file_size, follow_symlinks)
    if history:
        from hvscan.commands.git import with_history

        first = paths[0] if paths else Path()
        produce = with_history(produce, first if first.is_dir() else first.parent, max_file_size)
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
    count = baseline.write(output, result.findings)
    print(f"hvscan: recorded {counted(count, 'finding')} in {output}", file=sys.stderr)
