"""The verification step of the pipeline: group the findings by key, ask each key once, fold the
answers into the findings, and keep the statuses asked for.

Findings are grouped by (rule, key) before any request, so duplicates share one request and a
cache entry never serves another rule. A finding is asked about only when its rule has a
``[rules.verify]`` table; the others are ``unknown``, not sent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from hvscan.verify.org import context_hints, org_for
from hvscan.verify.policy import Outcome, Settings, endpoint, not_sent, select, verified_severity

if TYPE_CHECKING:
    from hvscan.model import Finding, Match
    from hvscan.rules import Rule, Verify
    from hvscan.scan import ScanResult
    from hvscan.verify.cache import DiskCache


@dataclass(frozen=True)
class VerifyStep:
    """The pipeline step: hints to read during the scan, then verify and filter."""

    settings: Settings
    cache: DiskCache | None
    statuses: list[str]

    @property
    def annotate(self) -> Callable[[bytes, Match], dict[str, str]] | None:
        return context_hints if self.settings.org_id is None else None

    def apply(self, result: ScanResult) -> None:
        rules = result.engine.rules if result.engine is not None else []
        verify_findings(result.findings, rules, self.settings, self.cache)
        kept = select(result.findings, self.statuses)
        result.stats.findings_filtered = len(result.findings) - len(kept)
        result.findings = kept


def verify_findings(
    findings: list[Finding],
    rules: Sequence[Rule],
    settings: Settings,
    cache: DiskCache | None = None,
    *,
    sleep: Callable[[float], object] | None = None,
) -> None:
    """Set ``verification`` and the verified severity on each finding, one request per distinct
    (rule, endpoint, key) as its rule in ``rules`` says; answers found in ``cache`` are not
    asked again, new ones are saved to it. ``sleep`` replaces waiting (tests record the waits
    instead)."""
    specs: Mapping[str, Verify | None] = {rule.id: rule.verify for rule in rules}
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.rule_id, finding.secret_sha256), []).append(finding)
    if not groups:
        return
    from hvscan.verify.cache import cache_id

    pending: list[tuple[list[Finding], str, str | None, str, str, Verify]] = []
    for (rule_id, key_hash), group in groups.items():
        spec = specs.get(rule_id)
        if spec is None:
            _apply(group, not_sent(), None, "none")
            continue
        org_id, org_source = org_for(group, settings, spec)
        url = endpoint(settings.api_base, spec, org_id)
        entry_id = cache_id(rule_id, url, key_hash)
        hit = cache.get(entry_id, spec) if cache is not None else None
        if hit is not None:
            _apply(group, hit, org_id, org_source)
        else:
            pending.append((group, url, org_id, org_source, entry_id, spec))
    if pending:
        from hvscan.verify.client import Job, check_all

        jobs = [Job(group[0].secret, url, spec) for group, url, *_, spec in pending]
        outcomes = check_all(jobs, settings, sleep)
        for (group, _, org_id, org_source, entry_id, _), outcome in zip(pending, outcomes,
                                                                         strict=True):
            _apply(group, outcome, org_id, org_source)
            if cache is not None:
                cache.put(entry_id, outcome)
    if cache is not None:
        cache.save()


def _apply(group: list[Finding], outcome: Outcome, org_id: str | None, org_source: str) -> None:
    checked = datetime.fromtimestamp(outcome.checked_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for finding in group:
        finding.verification = {
            "status": outcome.status,
            "http_status": outcome.http_status,
            "org_id": org_id,
            "org_id_source": org_source,
            "checked_at": checked,
            "cached": outcome.cached,
            "detail": outcome.detail,
        }
        finding.severity = verified_severity(finding.severity, finding.key_type, outcome.status)
