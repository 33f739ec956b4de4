"""The JSON report: the stable contract documented in docs/report-format.md."""

from __future__ import annotations

import json
from typing import Any

from hvscan import __version__
from hvscan.model import Finding
from hvscan.report import ReportOptions
from hvscan.scan import ScanResult

# The per-finding fields of every structured report (JSON, JSONL, CSV columns, SARIF properties).
FINDING_FIELDS = (
    "rule_id",
    "description",
    "key_type",
    "severity",
    "path",
    "line",
    "column",
    "source",
    "encoding",
    "secret_redacted",
    "secret_sha256",
    "fingerprint",
    "commit",
    "author",
    "date",
    "verification",
    "remediation",
)


def finding_dict(finding: Finding, options: ReportOptions) -> dict[str, Any]:
    data: dict[str, Any] = {name: getattr(finding, name) for name in FINDING_FIELDS}
    data.update(finding.source_fields())
    if options.show_secrets:
        data["secret"] = finding.secret
    return data


def report_dict(result: ScanResult, options: ReportOptions) -> dict[str, Any]:
    stats = result.stats
    report = {
        "tool": "hvscan",
        "version": __version__,
        "findings": [finding_dict(f, options) for f in result.findings],
        "stats": {
            "files_scanned": stats.files_scanned,
            "bytes_scanned": stats.bytes_scanned,
            "files_skipped": stats.files_skipped,
            "errors": stats.errors,
            "placeholders_ignored": stats.placeholders_ignored,
            "preexisting_ignored": stats.preexisting_ignored,
            "suppressed": stats.suppressed,
            "archive_members": stats.archive_members,
            "bytes_decompressed": stats.bytes_decompressed,
            "notes": stats.notes,
            "limits_hit": stats.limits_hit,
            "findings": len(result.findings),
            "findings_filtered": stats.findings_filtered,
        },
        "skipped": [{"path": s.path, "reason": s.reason} for s in result.skipped],
        "errors": [{"path": e.path, "message": e.message} for e in result.errors],
        "notes": [{"path": n.path, "source": n.source, "commit": n.commit,
                   "message": n.message, "limit": n.limit} for n in result.notes],
    }
    if options.show_suppressed:
        report["suppressed"] = [
            {**finding_dict(f, options), "suppression": f.suppression} for f in result.suppressed
        ]
    return report


def render(result: ScanResult, options: ReportOptions) -> str:
    return json.dumps(report_dict(result, options), indent=2) + "\n"
