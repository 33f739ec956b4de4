"""The JSON report: the stable contract documented in docs/report-format.md."""

from __future__ import annotations

import json
from typing import Any

from hvscan import __version__
from hvscan.findings import Finding
from hvscan.report import ReportOptions
from hvscan.scan import ScanResult


def finding_dict(finding: Finding, options: ReportOptions) -> dict[str, Any]:
    data: dict[str, Any] = {
        "rule_id": finding.rule_id,
        "description": finding.description,
        "key_type": finding.key_type,
        "severity": finding.severity,
        "path": finding.path,
        "line": finding.line,
        "column": finding.column,
        "source": finding.source,
        "encoding": finding.encoding,
        "secret_redacted": finding.secret_redacted,
        "secret_sha256": finding.secret_sha256,
        "fingerprint": finding.fingerprint,
        "commit": finding.commit,
        "author": finding.author,
        "date": finding.date,
        "verification": finding.verification,
        "remediation": finding.remediation,
    }
    data.update(finding.extra)
    if options.show_secrets:
        data["secret"] = finding.secret
    return data


def report_dict(result: ScanResult, options: ReportOptions) -> dict[str, Any]:
    stats = result.stats
    return {
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
            "findings": len(result.findings),
            "findings_filtered": stats.findings_filtered,
        },
        "skipped": [{"path": s.path, "reason": s.reason} for s in result.skipped],
        "errors": [{"path": e.path, "message": e.message} for e in result.errors],
    }


def render(result: ScanResult, options: ReportOptions) -> str:
    return json.dumps(report_dict(result, options), indent=2) + "\n"
