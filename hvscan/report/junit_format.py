"""The JUnit XML report, for the test-report views of GitLab, Jenkins and other CI systems.

One test suite, ``hvscan``. Each finding is a failed test case (class ``hvscan.<rule id>``,
named after where the key is, with ``file`` and ``line`` attributes); each file that could not be
scanned is a test case in error, each skipped file a skipped one, and with --show-suppressed each
suppressed finding a skipped one too. A scan with none of these has
one passing test case, so a clean run shows as passed rather than as an empty report. XML
escaping is the standard library's; the characters XML 1.0 cannot carry at all (control
characters in a file or author name) never reach it: ``hvscan.shown`` has written them as
``\\xNN``, like undecodable bytes in paths, as in every format.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hvscan.model import Finding, place
from hvscan.report import ReportOptions, finding_details, shown_secret
from hvscan.scan import ScanResult

# The fingerprint is not among them: it heads the details, with the key's other identifiers.
_DETAILS = {"repository": "repository: {}", "commit": "commit: {}", "encoding": "encoded as: {}",
            "verification": "verification: {}", "fix": "fix: {}"}


def render(result: ScanResult, options: ReportOptions) -> str:
    suite = ET.Element("testsuite", name="hvscan")
    for finding in result.findings:
        case = _case(suite, f"hvscan.{finding.rule_id}", _where(finding), finding.path)
        if finding.path is not None and not finding.in_name:  # a name has no line in the file
            case.set("line", str(finding.line))
        secret = shown_secret(finding, options)
        failure = ET.SubElement(case, "failure", type=finding.severity,
                                message=f"{finding.description}: {secret}")
        failure.text = _details(finding, secret)
    suppressed = result.suppressed if options.show_suppressed else []
    for finding in suppressed:
        case = _case(suite, f"hvscan.{finding.rule_id}", _where(finding), finding.path)
        secret = shown_secret(finding, options)
        ET.SubElement(case, "skipped", message=f"suppressed ({finding.suppression}): {secret}")
    for error in result.errors:
        case = _case(suite, "hvscan.scan", error.path, error.path)
        ET.SubElement(case, "error", type="scan-error", message=error.message)
    for skipped in result.skipped:
        case = _case(suite, "hvscan.scan", skipped.path, skipped.path)
        ET.SubElement(case, "skipped", message=skipped.reason)
    if not len(suite):
        _case(suite, "hvscan.scan", "no secrets found", None)
    counts = {
        "tests": len(suite),
        "failures": len(result.findings),
        "errors": len(result.errors),
        "skipped": len(result.skipped) + len(suppressed),
    }
    suites = ET.Element("testsuites", name="hvscan")
    for element in (suites, suite):
        for name, count in counts.items():
            element.set(name, str(count))
    suites.append(suite)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


def _case(suite: ET.Element, classname: str, name: str, path: str | None) -> ET.Element:
    case = ET.SubElement(suite, "testcase", classname=classname, name=name)
    if path is not None:
        case.set("file", path)
    return case


def _where(finding: Finding) -> str:
    if finding.path is not None:
        return f"{place(finding.path, finding.source, None, finding.in_name)}:{finding.line}:" \
               f"{finding.column}"
    return f"{finding.source} {finding.commit}:{finding.line}:{finding.column}"


def _details(finding: Finding, secret: str) -> str:
    lines = [
        f"rule: {finding.rule_id} ({finding.key_type} key, severity {finding.severity})",
        f"location: {_where(finding)}",
        f"secret: {secret}",
        f"secret sha256: {finding.secret_sha256}",
        f"fingerprint: {finding.fingerprint}",
        f"source: {finding.source}",
    ]
    lines += [_DETAILS[name].format(text) for name, text in finding_details(finding).items()
              if name in _DETAILS]
    return "\n".join(lines) + "\n"

