"""``hvscan staged`` (and ``hvscan git --staged``): scan the staged change. Plain ``hvscan
staged`` is first tried by the fast path (hvscan/fastpath.py), which answers only when this
command would say the same."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from hvscan.commands.common import scan_git

if TYPE_CHECKING:
    from pathlib import Path

    from hvscan.settings.options import OutputOptions, ScanOptions, VerifyOptions


def run(repo: Path, options: ScanOptions, output: OutputOptions,
        verify: VerifyOptions) -> NoReturn:
    from hvscan.sources import staged

    scan_git(lambda pipeline: pipeline.run(staged.read(repo, pipeline.excluded)),
             options, output, verify)
