"""The JSON report: the stable contract documented in docs/report-format.md. Its parts (a
finding, a key, the scan record) are the other structured formats' too."""

from __future__ import annotations

import json
from typing import Any

from hvscan import __version__
from hvscan.keys import Introduction, KeyEntry, ScanRecord
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


def introduction_dict(introduction: Introduction) -> dict[str, Any]:
    return introduction._asdict()


def key_dict(entry: KeyEntry, options: ReportOptions) -> dict[str, Any]:
    """A ``keys`` entry (docs/report-format.md, "Keys")."""
    data: dict[str, Any] = {
        "secret_sha256": entry.secret_sha256,
        "rule_id": entry.rule_id,
        "key_type": entry.key_type,
        "severity": entry.severity,
        "secret_redacted": entry.secret_redacted,
        "verification": entry.verification,
        "findings": entry.findings,
        "first": introduction_dict(entry.first) if entry.first else None,
        "introductions": [introduction_dict(i) for i in entry.introductions],
        "in_head": entry.in_head,
        "head_paths": list(entry.head_paths),
        "removed_in": [removal._asdict() for removal in entry.removed_in],
        "refs": list(entry.refs),
        "pushed": entry.pushed,
        "remediation": entry.remediation,
    }
    if options.show_secrets:
        data["secret"] = entry.secret
    if entry.repositories:  # last, as a many-repository report places it
        data["repositories"] = list(entry.repositories)
    return data


def scan_dict(record: ScanRecord | None) -> dict[str, Any]:
    """The ``scan`` record (docs/report-format.md, "Scan"); all null but the version for a
    result that did not come from a command."""
    record = record or ScanRecord()
    data = record._asdict()
    data["refs"] = list(record.refs) if record.refs is not None else None
    return data


def report_dict(result: ScanResult, options: ReportOptions) -> dict[str, Any]:
    stats = result.stats
    report = {
        "tool": "hvscan",
        "version": __version__,
        "scan": scan_dict(result.scan),
        "findings": [finding_dict(f, options) for f in result.findings],
        "keys": [key_dict(entry, options) for entry in result.keys],
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
        "skipped": [{"path": s.path, "reason": s.reason, "informational": s.informational}
                    for s in result.skipped],
        "errors": [{"path": e.path, "message": e.message} for e in result.errors],
        "notes": [{"path": n.path, "source": n.source, "commit": n.commit,
                   "message": n.message, "limit": n.limit, "informational": n.informational}
                  for n in result.notes],
    }
    if options.show_suppressed:
        report["suppressed"] = [
            {**finding_dict(f, options), "suppression": f.suppression} for f in result.suppressed
        ]
    return report


def render(result: ScanResult, options: ReportOptions) -> str:
    return json.dumps(report_dict(result, options), indent=2) + "\n"
