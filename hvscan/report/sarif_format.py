"""The SARIF 2.1.0 report, for GitHub code scanning and other SARIF viewers.

Shape choices, each for a consumer:
- one rule per rule that found something, with help text and remediation, ``level`` and GitHub's
  ``security-severity`` (the highest severity among its findings in this run; each result's own
  ``level`` follows its own finding, which verification may have raised or lowered);
- locations are relative URIs (percent-encoded) against ``%SRCROOT%``, the directory the scan's
  paths are relative to (the repository root for git scans), so the file is the same on every
  machine; a key in a commit or tag message, which has no file, is placed at the pseudo-path
  ``<source>/<commit>`` (``commit-message/<sha>``) with the line inside the message; a key in a
  file's or directory's name is placed at that path with no region (it is in no line of the
  file), the location's message saying it is in the name;
- ``partialFingerprints`` carry the finding's fingerprint and the key's SHA-256, never the key,
  so alerts stay matched when code moves;
- every JSON-report field not shown elsewhere (source, encoding, commit, author, date,
  verification, the remediation refined for its context, ...) is in the result's
  ``properties``, with ``key``: the JSON report's entry for its key (where the key stands, what
  to do about it); the run's ``properties`` carry the ``scan`` record;
- files that could not be scanned are error notifications and mark the invocation unsuccessful;
  skipped files, and the engine's notes (damaged archives, limits reached), are note
  notifications;
- with --show-suppressed, suppressed findings are results too, each with an accepted
  ``suppressions`` entry (``inSource`` for an ``hvscan:allow`` comment, else ``external``), which
  SARIF viewers and code scanning show as dismissed rather than open.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from hvscan import __version__
from hvscan.model import Finding
from hvscan.remediation import rule_default
from hvscan.report import ReportOptions, shown_secret
from hvscan.report.json_format import finding_dict, key_dict, scan_dict
from hvscan.rules import severity_rank
from hvscan.scan import ScanResult

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
SRCROOT = "%SRCROOT%"

LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
# GitHub's bands: 9.0+ critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low.
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "1.0"}
# Fields a result already shows as ruleId, message or location, or its rule as help.
_SHOWN_ELSEWHERE = {"rule_id", "description", "path", "line", "column"}


def render(result: ScanResult, options: ReportOptions) -> str:
    return json.dumps(sarif_dict(result, options), indent=2) + "\n"


def sarif_dict(result: ScanResult, options: ReportOptions) -> dict[str, Any]:
    shown = result.findings + (result.suppressed if options.show_suppressed else [])
    rule_ids = sorted({f.rule_id for f in shown})
    keys = {entry.secret_sha256: key_dict(entry, options) for entry in result.keys}
    notifications = [
        _notification("error", f"could not scan {e.path}: {e.message}") for e in result.errors
    ] + [_notification("note", f"skipped {s.path}: {s.reason}") for s in result.skipped] + [
        _notification("note", f"{n.path or n.source}: {n.message}") for n in result.notes
    ]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "hvscan",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": [_rule(rule_id, shown, result) for rule_id in rule_ids],
                    }
                },
                "invocations": [
                    {
                        "executionSuccessful": not result.errors,
                        "toolExecutionNotifications": notifications,
                    }
                ],
                "originalUriBaseIds": {
                    SRCROOT: {
                        "description": {
                            "text": "The directory the scanned paths are relative to "
                            "(the repository root for git scans)."
                        }
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": [_result(f, rule_ids.index(f.rule_id), options, keys)
                            for f in shown],
                "properties": {"scan": scan_dict(result.scan)},
            }
        ],
    }


def _rule(rule_id: str, findings: list[Finding], result: ScanResult) -> dict[str, Any]:
    own = [f for f in findings if f.rule_id == rule_id]
    first = own[0]
    remediation = rule_default(result, first)  # each result's own: in its properties
    severity = max((f.severity for f in own), key=severity_rank)
    return {
        "id": rule_id,
        "name": "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", rule_id)),
        "shortDescription": {"text": first.description},
        "fullDescription": {
            "text": f"{first.description.rstrip('.')}. Anyone who can read the file or the "
            "repository's history can use the key until it is revoked."
        },
        "help": {
            "text": f"Remediation: {remediation}",
            "markdown": f"**Remediation:** {remediation}\n\n"
            "Removing the key from the current code is not enough: it stays in git history "
            "and in every clone. Revoke it first.",
        },
        "defaultConfiguration": {"level": LEVELS[severity]},
        "properties": {
            "tags": ["security", "secret", "external/cwe/cwe-798", f"key-type/{first.key_type}"],
            "security-severity": SECURITY_SEVERITY[severity],
            "precision": "very-high",
        },
    }


def _result(finding: Finding, rule_index: int, options: ReportOptions,
            keys: dict[str, dict[str, Any]]) -> dict[str, Any]:
    secret = shown_secret(finding, options)
    text = f"{finding.description}: {secret}"
    if finding.in_name:
        text += " in the name of this path"
    if finding.commit:
        text += f" (commit {finding.commit})"
    properties = {
        name: value
        for name, value in finding_dict(finding, options).items()
        if value is not None and name not in _SHOWN_ELSEWHERE
    }
    if finding.suppression is None and finding.secret_sha256 in keys:
        properties["key"] = keys[finding.secret_sha256]
    found: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": text},
        "locations": [_location(finding)],
        "partialFingerprints": {
            "hvscanFingerprint/v1": finding.fingerprint,
            "secretSha256/v1": finding.secret_sha256,
        },
        "properties": properties,
    }
    if finding.suppression:
        found["suppressions"] = [{
            "kind": "inSource" if finding.suppression == "inline" else "external",
            "status": "accepted",
            "justification": f"suppressed by hvscan ({finding.suppression})",
        }]
    return found


def _location(finding: Finding) -> dict[str, Any]:
    region = {"startLine": finding.line, "startColumn": finding.column}
    if finding.path is not None and finding.in_name:
        return {
            "physicalLocation": {
                "artifactLocation": {"uri": _uri(finding.path), "uriBaseId": SRCROOT},
            },
            "message": {"text": f"in the name (line {finding.line}, column {finding.column} "
                                "of the name), not in the content"},
        }
    if finding.path is not None:
        return {
            "physicalLocation": {
                "artifactLocation": {"uri": _uri(finding.path), "uriBaseId": SRCROOT},
                "region": region,
            }
        }
    label = finding.source.replace("-", " ")
    if finding.commit:
        label += f" of commit {finding.commit}"
    return {
        "physicalLocation": {
            "artifactLocation": {
                "uri": _uri(f"{finding.source}/{finding.commit or 'unknown'}"),
                "uriBaseId": SRCROOT,
            },
            "region": region,
        },
        "message": {"text": label},
    }


def _notification(level: str, text: str) -> dict[str, Any]:
    return {"level": level, "message": {"text": text}}


def _uri(path: str) -> str:
    # A relative reference with "/" as the separator; everything else outside RFC 3986's
    # unreserved set ("%", "#", "?", ":", spaces, non-ASCII as UTF-8) is percent-encoded.
    return quote(path, safe="/")
