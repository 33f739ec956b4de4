"""The CSV report: one row per finding, for spreadsheets and ad-hoc tooling.

Columns are the JSON report's finding fields in the same order, then any source-specific extra
fields (sorted by name), then ``secret`` with --show-secrets. With --show-suppressed, suppressed
findings follow as rows of their own and a last column, ``suppression``, says why (empty for
active findings). Quoting follows RFC 4180 (the ``csv`` module's defaults: CRLF line ends,
fields with a comma, quote or line break quoted). Empty cells mean null; structured values
(``verification``) are compact JSON. Paths and author names come from the scanned content (as
``hvscan.shown`` shows them): a cell that a spreadsheet would take for a formula (it begins with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a leading ``'``, as OWASP's advice
on CSV injection has it, so opening the file never evaluates one. Skipped files and scan
errors are not rows; errors are named on standard error (see ``hvscan/runner.py``) and make the
run exit 2.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from hvscan.report import ReportOptions
from hvscan.report.json_format import FINDING_FIELDS, finding_dict
from hvscan.scan import ScanResult

# What makes a spreadsheet read a cell as a formula.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def render(result: ScanResult, options: ReportOptions) -> str:
    rows = [finding_dict(f, options) for f in result.findings]
    if options.show_suppressed:
        rows += [{**finding_dict(f, options), "suppression": f.suppression}
                 for f in result.suppressed]
    special = ["secret"] * options.show_secrets + ["suppression"] * options.show_suppressed
    extras = sorted({name for row in rows for name in row} - {*FINDING_FIELDS, *special})
    columns = [*FINDING_FIELDS, *extras, *special]
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
    text = str(value)
    return "'" + text if text.startswith(_FORMULA) else text
