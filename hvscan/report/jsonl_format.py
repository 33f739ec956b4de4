"""The JSON Lines report: one self-contained JSON object per line, for streaming consumers.

Every line carries a ``type``: ``finding`` lines hold exactly the fields of the JSON report's
findings, ``skipped``, ``error`` and ``note`` lines those of its ``skipped``, ``errors`` and
``notes`` lists, ``key`` lines (after them) those of its ``keys``, and the last line,
``summary``, the tool, version, scan record and run statistics. A reader that only wants findings
filters on ``type`` and still sees, at the end, whether the scan was complete. With
--show-suppressed, ``suppressed`` lines hold the JSON report's ``suppressed`` entries.
"""

from __future__ import annotations

import json
from typing import Any

from hvscan.report import ReportOptions
from hvscan.report.json_format import report_dict
from hvscan.scan import ScanResult


def render(result: ScanResult, options: ReportOptions) -> str:
    return lines(report_dict(result, options))


def lines(report: dict[str, Any], *, findings: bool = True) -> str:
    """The JSON report ``report`` as JSON Lines (without its findings when ``findings`` is
    false: a many-repository run has streamed them already)."""
    records: list[dict[str, Any]] = [
        *({"type": "finding", **finding} for finding in report["findings"] if findings),
        *({"type": "suppressed", **finding} for finding in report.get("suppressed", [])),
        *({"type": "skipped", **skipped} for skipped in report["skipped"]),
        *({"type": "error", **error} for error in report["errors"]),
        *({"type": "note", **note} for note in report["notes"]),
        *({"type": "key", **key} for key in report["keys"]),
        {"type": "summary", "tool": report["tool"], "version": report["version"],
         "scan": report["scan"], "stats": report["stats"]},
    ]
    return "".join(record_line(record) for record in records)


def record_line(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":")) + "\n"
