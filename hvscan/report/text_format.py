"""The text report, for people: one block per finding, the keys to revoke (one short block per
distinct key: where it stands and what to do), notes, errors and a summary line."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, NamedTuple

from hvscan.model import place
from hvscan.report import ReportOptions, finding_details, shown_secret
from hvscan.rules import SEVERITIES
from hvscan.summary import line, scanned
from hvscan.units import counted

if TYPE_CHECKING:
    from hvscan.keys import KeyEntry
    from hvscan.model import Finding
    from hvscan.scan import ScanResult

_DETAILS = {"repository": "  repository {}", "commit": "  commit {}", "encoding": "  encoded as {}",
            "verification": "  verification: {}", "fix": "  fix: {}",
            "fingerprint": "  fingerprint: {}"}
# What suppressed a finding that the change under scan added (hvscan/suppress.py).
_UNTRUSTED = {"inline": "inline allow marker", "ignore-file": "ignore-file entry"}
_COLORS = {"critical": "1;31", "high": "31", "medium": "33", "low": "36", "info": "2"}


def _paint(text: str, code: str, options: ReportOptions) -> str:
    return f"\033[{code}m{text}\033[0m" if options.color else text


def render(result: ScanResult, options: ReportOptions) -> str:
    lines: list[str] = []
    for f in result.findings:
        lines += _finding(f, options)
    if result.keys and result.findings:
        lines.append(f"Keys to revoke ({counted(len(result.keys), 'distinct key')}):")
        for entry in result.keys:
            lines += _key(entry, options)
    if options.show_suppressed:
        for f in result.suppressed:
            lines += _finding(f, options, f"suppressed ({f.suppression}): ")
    for skipped in result.skipped:
        lines.append(f"note: skipped {skipped.path}: {skipped.reason}")
    for note in result.notes:
        lines.append(f"note: {note.place}: {note.message}")
    for error in result.errors:
        lines.append(_paint(f"error: {error.path}: {error.message}", "31", options))
    lines.append(summary(result))
    return "\n".join(lines) + "\n"


def _history_notes(f: Finding) -> list[str]:
    notes = []
    history = f.history
    if history is not None:
        if history.tag:
            notes.append(f"  in the message of tag {history.tag}")
        if history.unreachable:
            notes.append("  unreachable: no ref reaches it (amended, rebased or dropped history)")
        others = [counted(count, f"other {what}")
                  for what, count in (("commit", history.other_commits),
                                      ("path", history.other_paths))
                  if count]
        if others:
            notes.append(f"  also introduced in {' and at '.join(others)}")
    untrusted = _UNTRUSTED.get(str(f.untrusted_suppression))
    if untrusted:
        notes.append(f"  not suppressed: the change under scan added its own {untrusted}")
    return notes


def _key(entry: KeyEntry, options: ReportOptions) -> list[str]:
    severity = _paint(entry.severity, _COLORS.get(entry.severity, "0"), options)
    secret = entry.secret if options.show_secrets else entry.secret_redacted
    head = (f"  {secret} [{severity}] {entry.rule_id}: "
            f"{counted(entry.findings, 'finding')}, "
            f"{counted(len(entry.introductions), 'introduction')}")
    if entry.verification:
        head += f", verified {entry.verification['status']}"
    lines = [head]
    if entry.repositories:  # a report of several repositories
        count = len(entry.repositories)
        lines.append(f"    in {count} {'repository' if count == 1 else 'repositories'}: "
                     f"{', '.join(entry.repositories)}")
    first = entry.first
    if first is not None and first.commit:
        where = f" at {first.path}" if first.path else f"'s {first.source.replace('-', ' ')}"
        when = f" on {first.date}" if first.date else ""  # a ref's name has no date
        lines.append(f"    first introduced in {first.commit[:12]}{where}{when}")
    if entry.in_head is not None:
        lines.append(f"    in HEAD: {', '.join(entry.head_paths)}" if entry.in_head
                     else "    not in HEAD")
    for removal in entry.removed_in:
        lines.append(f"    removed from {removal.path} in {removal.commit[:12]} on {removal.date}")
    if entry.refs:
        pushed = " (pushed)" if entry.pushed else ""
        lines.append(f"    reached by {', '.join(entry.refs)}{pushed}")
    lines.append(f"    fix: {entry.remediation}")
    return lines


def _finding(f: Finding, options: ReportOptions, label: str = "") -> list[str]:
    where = f"{place(f.path, f.source, f.history, f.in_name)}:{f.line}:{f.column}"
    severity = _paint(f.severity, _COLORS.get(f.severity, "0"), options)
    secret = shown_secret(f, options)
    lines = [f"{label}{_paint(where, '1', options)}: {f.rule_id} [{severity}] {secret}"]
    details = finding_details(f)
    if "repository" in details:
        lines.append(_DETAILS["repository"].format(details.pop("repository")))
    if "commit" in details:
        lines.append(_DETAILS["commit"].format(details.pop("commit")))
    lines += _history_notes(f)  # about the commit: right under it
    if label:  # a suppressed finding: nothing to fix
        del details["fix"]
    lines += [_DETAILS[name].format(text) for name, text in details.items()]
    return lines


class Counts(NamedTuple):
    """What the summary line and the exit code read of a report's findings and keys: how many
    findings of each severity and of each verification status, and how many keys. Counted from
    a result (``counts``) or from a report's dict (``hvscan.report.merge.counts``: a joined
    report written as JSON need not rebuild its findings to be summed up)."""

    severities: Counter[str]
    verified: Counter[str]
    keys: int


def counts(result: ScanResult) -> Counts:
    return Counts(Counter(f.severity for f in result.findings),
                  Counter(f.verification["status"] for f in result.findings if f.verification),
                  len(result.keys))


def summary(result: ScanResult, tally: Counts | None = None) -> str:
    """The summary line of ``result``, whose findings and keys ``tally`` counts (by default,
    counted from the result)."""
    stats = result.stats
    tally = tally or counts(result)
    found = sum(tally.severities.values())
    by_severity = ", ".join(
        f"{tally.severities[s]} {s}" for s in reversed(SEVERITIES) if tally.severities[s]
    )
    findings = counted(found, "finding")
    if by_severity:
        findings += f" ({by_severity})"
    parts = [
        scanned(stats.files_scanned, stats.bytes_scanned),
        findings,
    ]
    if 0 < tally.keys < found:  # what to revoke: 8 findings, 7 keys
        parts.append(counted(tally.keys, "distinct key"))
    if stats.archive_members:
        parts.append(f"{counted(stats.archive_members, 'archive member')} opened")
    if stats.files_skipped:
        parts.append(f"{stats.files_skipped} skipped")
    if stats.notes:
        limits = f", {stats.limits_hit} of them limits reached" if stats.limits_hit else ""
        parts.append(f"{counted(stats.notes, 'note')}{limits}")
    if tally.verified:
        parts.append("verification: " + ", ".join(f"{n} {s}"
                                                  for s, n in sorted(tally.verified.items())))
    if stats.findings_filtered:
        parts.append(f"{stats.findings_filtered} not shown (verification filter)")
    if stats.suppressed:
        parts.append(f"{stats.suppressed} suppressed")
    if stats.placeholders_ignored:
        parts.append(f"{stats.placeholders_ignored} placeholder(s) ignored")
    if stats.preexisting_ignored:
        parts.append(f"{stats.preexisting_ignored} key(s) already there before the change")
    if stats.errors:
        parts.append(f"{counted(stats.errors, 'error')}: scan incomplete")
    return line(parts)
