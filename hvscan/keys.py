"""Keys, not only findings: what a report says about each distinct key, and about the scan.

A key is one ``secret_sha256`` among the active findings, however many commits, paths and rules
carry it: what an auditor revokes. ``key_entries`` builds one ``KeyEntry`` per key from the
settled (and verified) findings and what the history audit learned about where the key stands
(``Exposure``, filled by ``hvscan/attribution.py``: every commit and path that introduced it,
whether HEAD still holds it, the commits that removed it, the refs that reach it). ``ScanRecord``
is the report's ``scan`` record: what was scanned, when and for how long. The JSON contract of
both is docs/report-format.md ("Keys" and "Scan").
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from hvscan import __version__
from hvscan.model import moment

if TYPE_CHECKING:
    from hvscan.model import Finding
    from hvscan.scan import ScanResult


class Introduction(NamedTuple):
    """A commit and path (either may be None) that introduced a key; ``source`` as a finding's.
    ``unreachable``: no ref reaches it (``--include-unreachable``)."""

    commit: str | None
    path: str | None
    author: str | None
    date: str | None
    source: str
    unreachable: bool = False


class Removal(NamedTuple):
    """A commit on HEAD's history whose change removed the key from ``path``."""

    commit: str
    path: str
    date: str | None


class Exposure(NamedTuple):
    """Where a key stands in a repository's history (a history audit only)."""

    introductions: tuple[Introduction, ...] = ()
    in_head: bool | None = None
    head_paths: tuple[str, ...] = ()
    removed_in: tuple[Removal, ...] = ()
    refs: tuple[str, ...] = ()
    pushed: bool | None = None


class KeyEntry(NamedTuple):
    """One distinct key of a report (docs/report-format.md, "Keys"). ``secret`` is the key
    itself; reports show it only with --show-secrets (``hvscan.shown.reported`` replaces it).
    ``repositories``: those the key is in, for a report that spans several (a many-repository
    audit or ``hvscan merge``, ``hvscan.report.merge``); empty for one repository's."""

    secret_sha256: str
    rule_id: str
    key_type: str
    severity: str
    secret_redacted: str
    secret: str
    verification: dict[str, str] | None
    findings: int
    first: Introduction | None
    introductions: tuple[Introduction, ...]
    in_head: bool | None
    head_paths: tuple[str, ...]
    removed_in: tuple[Removal, ...]
    refs: tuple[str, ...]
    pushed: bool | None
    remediation: str
    repositories: tuple[str, ...] = ()

    def __repr__(self) -> str:  # never the key, as Finding's
        shown = ", ".join(f"{name}={value!r}" for name, value in self._asdict().items()
                          if name != "secret")
        return f"KeyEntry({shown})"


class ScanRecord(NamedTuple):
    """The report's ``scan`` record. Sources of git commands fill ``repository``, ``head`` and
    (history audits) ``refs``; ``hvscan.runner`` the rest."""

    command: str | None = None
    repository: str | None = None
    head: str | None = None
    refs: tuple[str, ...] | None = None
    version: str = __version__
    started: str | None = None
    duration: float | None = None


# Verification statuses, the most alarming first (as verify.policy.STATUSES, which imports the
# rules: not on a report's path); another rule's own statuses rank with "unknown".
_ALARM = ("live", "unknown", "invalid")


def most_alarming(answers: Iterable[Mapping[str, Any] | None]) -> Any:
    """Of the answers about one key (its findings', or one per shard), the one a key entry
    shows: the most alarming, the first of those. The same key asked about under two
    organisations can be live for one and invalid for the other: it is live."""
    given = [answer for answer in answers if answer]
    return min(given, default=None, key=lambda answer: _ALARM.index(answer["status"])
               if answer["status"] in _ALARM else _ALARM.index("unknown"))


def utc_now() -> str:
    """The current UTC time as the scan record writes it (ISO 8601, seconds, ``Z``)."""
    return utc_time(time.time())


def utc_time(at: float) -> str:
    """``at`` (``time.time()``) as hvscan writes times: in UTC, ISO 8601 to the second, ``Z``
    (the scan record, verification answers, the state file)."""
    return datetime.datetime.fromtimestamp(at, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def conclude(result: ScanResult) -> None:
    """The last step before reports, once findings are settled (and verified): refine each
    finding's remediation by its context and list the keys. Run again after a later step
    changes the findings (verification): the result is the same as running it once."""
    if not result.findings:  # the clean run imports nothing more
        result.keys = []
        return
    from hvscan.remediation import refine_findings

    refine_findings(result)
    result.keys = key_entries(result)


def key_entries(result: ScanResult) -> list[KeyEntry]:
    """One entry per distinct key among ``result``'s active findings, most urgent first:
    severity, then pushed, then still in HEAD, then the number of introductions (more first)."""
    from hvscan.remediation import for_key, rule_default
    from hvscan.rules import severity_rank

    by_key: dict[str, list[Finding]] = {}
    for finding in result.findings:
        by_key.setdefault(finding.secret_sha256, []).append(finding)
    entries = []
    for key_hash, findings in by_key.items():
        worst = max(findings, key=lambda f: severity_rank(f.severity))
        exposure = result.exposure.get(key_hash)
        if exposure is None:
            exposure = Exposure(introductions=_introductions(findings))
        verification = most_alarming(f.verification for f in findings)
        entries.append(KeyEntry(
            secret_sha256=key_hash, rule_id=worst.rule_id, key_type=worst.key_type,
            severity=worst.severity, secret_redacted=worst.secret_redacted, secret=worst.secret,
            verification=({"status": verification["status"], "detail": verification["detail"]}
                          if verification else None),
            findings=len(findings),
            first=exposure.introductions[0] if exposure.introductions else None,
            introductions=exposure.introductions, in_head=exposure.in_head,
            head_paths=exposure.head_paths, removed_in=exposure.removed_in, refs=exposure.refs,
            pushed=exposure.pushed,
            remediation=for_key(findings, exposure, result.scan, rule_default(result, worst))))
    entries.sort(key=_urgency)
    return entries


def _urgency(entry: KeyEntry) -> tuple[int, bool, bool, int, str]:
    from hvscan.rules import severity_rank

    return (-severity_rank(entry.severity), not entry.pushed, not entry.in_head,
            -len(entry.introductions), entry.secret_sha256)


def _introductions(findings: list[Finding]) -> tuple[Introduction, ...]:
    """Where the findings of a scan without history exposure place the key: one per distinct
    place, oldest first (those without a date last, in report order)."""
    seen: dict[tuple[str | None, str | None, str], Introduction] = {}
    for f in findings:
        unreachable = bool(f.history and f.history.unreachable)
        seen.setdefault((f.commit, f.path, f.source),
                        Introduction(f.commit, f.path, f.author, f.date, f.source, unreachable))
    return tuple(sorted(seen.values(), key=lambda i: moment(i.date)))
