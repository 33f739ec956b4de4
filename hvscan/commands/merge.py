"""``hvscan merge``: join the JSON reports of shards (``hvscan git --shard I/N``) into one
report in any format, with the key list across repositories (``hvscan.report.merge``, the
mechanism a many-repository run joins its repositories with). Its exit code is a scan's: 2 when
a shard had errors, 1 for findings at or above --fail-on, else 0."""

from __future__ import annotations

import gc
import os
from typing import TYPE_CHECKING, NoReturn

from hvscan.runner import HvscanError

if TYPE_CHECKING:
    from pathlib import Path

    from hvscan.runner import OutputOptions


def run(paths: tuple[Path, ...], output: OutputOptions) -> NoReturn:
    from hvscan.report import merge
    from hvscan.runner import deliver, report_options

    # The reports are trees of dicts without cycles, hundreds of thousands of them, and the
    # command ends once they are joined: the garbage collector's passes over them (again and
    # again as they are parsed and the findings rebuilt) cost as much as the parsing itself.
    gc.disable()
    try:
        reports = [merge.load(os.fspath(path)) for path in paths]
    except merge.ReportError as exc:
        raise HvscanError(str(exc)) from None
    merged = merge.merge(reports, "merge")
    deliver(merge.without_findings(merged),
            merge.render(merged, output.output_format, report_options(output)), output,
            merge.counts(merged))
