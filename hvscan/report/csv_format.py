"""The CSV report: one row per finding, for spreadsheets and ad-hoc tooling.

Columns are the JSON report's finding fields in the same order, then any source-specific extra
fields (sorted by name), then ``secret`` with --show-secrets. Quoting follows RFC 4180 (the
``csv`` module's defaults: CRLF line ends, fields with a comma, quote or line break quoted).
Empty cells mean null; structured values (``verification``) are compact JSON. Cells are written
as found: paths and author names come from the scanned content, so import them as text rather
than letting a spreadsheet evaluate them. Scan errors and skipped files are not rows: they go to
standard error and the exit code like for every machine-readable format.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from hvscan.report import ReportOptions
from hvscan.report.json_format import FINDING_FIELDS, finding_dict
from hvscan.scan import ScanResult


def render(result: ScanResult, options: ReportOptions) -> str:
    rows = [finding_dict(f, options) for f in result.findings]
    extras = sorted({name for row in rows for name in row} - {*FINDING_FIELDS, "secret"})
    columns = [*FINDING_FIELDS, *extras, *(["secret"] if options.show_secrets else [])]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True, separators=(",", ":"))
    return str(value)
