"""``hvscan dir``: scan files and directory trees."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from hvscan.commands.common import directory_walker, scan

if TYPE_CHECKING:
    from pathlib import Path

    from hvscan.runner import OutputOptions
    from hvscan.settings.options import ScanOptions, VerifyOptions


def run(paths: tuple[Path, ...], max_file_size: int, follow_symlinks: bool,
        options: ScanOptions, output: OutputOptions, verify: VerifyOptions) -> NoReturn:
    scan(directory_walker(paths, max_file_size, follow_symlinks), options, output, verify,
         command="dir")
