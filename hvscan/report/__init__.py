"""Reporters: each module turns a ScanResult into one output format.

Modules are imported by name only when chosen, so a run pays only for the format it prints.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from hvscan.scan import ScanResult

# The command line's --format choice; each name has a module ``hvscan.report.<name>_format``.
FORMATS = ("text", "json", "jsonl", "sarif", "csv", "junit", "github")


@dataclass(frozen=True)
class ReportOptions:
    show_secrets: bool = False
    show_suppressed: bool = False
    color: bool = False


class Renderer(Protocol):
    def __call__(self, result: ScanResult, options: ReportOptions) -> str: ...


def renderer(name: str) -> Renderer:
    module = importlib.import_module(f"hvscan.report.{name}_format")
    render: Renderer = module.render
    return render
