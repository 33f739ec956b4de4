"""``hvscan staged`` (and ``hvscan git --staged``): scan the staged change. Plain ``hvscan
staged`` is run by the fast path (hvscan/fastpath.py) when no configuration applies: it answers
a clean change itself, and runs any other with this module's source and the defaults."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from hvscan.commands.common import named_repository, scan_git

if TYPE_CHECKING:
    from pathlib import Path

    from hvscan.fastpath import Staged
    from hvscan.runner import OutputOptions, Produce
    from hvscan.settings.options import ScanOptions, VerifyOptions


def run(given: Path | None, options: ScanOptions, output: OutputOptions,
        verify: VerifyOptions) -> NoReturn:
    """Scan the staged change of the repository ``given`` (REPO), else of the current one
    (with the index a hook was handed)."""
    scan_git(staged_change(named_repository(given)), options, output, verify, command="staged")


def staged_change(repo: Path | str, read: Staged | None = None) -> Produce:
    """The staged source of ``repo``, for the pipeline; ``read``: the listing and blobs the fast
    path has already read, so that they are not asked of git again."""
    from hvscan.commands.common import in_repository
    from hvscan.sources import staged

    listing, blobs = (read[0], read[2]) if read is not None else (None, None)
    return in_repository(repo, lambda pipeline: pipeline.run(
        staged.read(repo, pipeline.excluded, listing=listing, blobs=blobs)))
