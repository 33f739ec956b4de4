"""``hvscan stdin``: scan standard input."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from hvscan.commands.common import scan, standard_input

if TYPE_CHECKING:
    from hvscan.runner import OutputOptions
    from hvscan.settings.options import ScanOptions, VerifyOptions


def run(max_file_size: int, options: ScanOptions, output: OutputOptions,
        verify: VerifyOptions) -> NoReturn:
    from hvscan.sources import stdin

    scan(lambda pipeline: pipeline.run(stdin.read(standard_input(), max_file_size)),
         options, output, verify, command="stdin")
