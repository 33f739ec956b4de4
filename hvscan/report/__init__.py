"""Reporters: each module turns a ScanResult into one output format.

Modules are imported by name only when chosen, so a run pays only for the format it prints.
Each renders a result that ``renderer`` has passed through ``hvscan.shown.reported``: every
string from the scanned content is already escaped and key-free, and a format adds only its own
syntax's escaping.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from hvscan.model import Finding
    from hvscan.scan import ScanResult

# The command line's --format choice; each name has a module ``hvscan.report.<name>_format``.
FORMATS = ("text", "json", "jsonl", "sarif", "csv", "junit", "github", "html")


class ReportOptions(NamedTuple):
    show_secrets: bool = False
    show_suppressed: bool = False
    color: bool = False


class Renderer(Protocol):
    def __call__(self, result: ScanResult, options: ReportOptions) -> str: ...


def renderer(name: str) -> Renderer:
    """The format's ``render``, given only what reports may print of a result: names and
    messages escaped and keys in them redacted (``hvscan.shown.reported``), whoever calls it."""
    from hvscan.shown import reported

    module = importlib.import_module(f"hvscan.report.{name}_format")
    render: Renderer = module.render

    def render_shown(result: ScanResult, options: ReportOptions) -> str:
        return render(reported(result, options.show_secrets), options)

    return render_shown


def shown_secret(finding: Finding, options: ReportOptions) -> str:
    """The key as a report shows it: redacted, unless the user asked for full secrets."""
    return finding.secret if options.show_secrets else finding.secret_redacted


def finding_details(finding: Finding) -> dict[str, str]:
    """The facts the human-readable formats (text, github, junit) show under a finding, in
    their order, by name: ``repository`` (many-repository audits), ``commit`` (id, author and
    date), ``encoding`` (unless plain), ``verification`` (status and detail), ``fix`` (the
    remediation refined for the finding's context, hvscan/remediation.py) and ``fingerprint``
    (what .hvscanignore takes). A fact the finding lacks is left out; each format words and
    punctuates the rest in its own style."""
    details: dict[str, str] = {}
    if finding.repository is not None:
        details["repository"] = finding.repository
    if finding.commit:
        # A ref's name is at the commit it names, whose author the scan did not read.
        details["commit"] = (f"{finding.commit} by {finding.author} on {finding.date}"
                             if finding.author else finding.commit)
    if finding.encoding != "plain":
        details["encoding"] = finding.encoding
    if finding.verification:
        details["verification"] = (f"{finding.verification['status']} "
                                   f"({finding.verification['detail']})")
    details["fix"] = finding.remediation
    details["fingerprint"] = finding.fingerprint
    return details
