"""The verification step of the pipeline: group the findings by key, ask each key once, fold the
answers into the findings, and keep the statuses asked for.

Findings are grouped by (rule, key) before any request, so duplicates share one request and a
cache entry never serves another rule. A finding is asked about only when its rule has a
``[rules.verify]`` table; the others are ``unknown``, not sent. The audits of one run over
several repositories share their answers (``RunAnswers``): each key is asked once per run, and
every finding of it, in every repository, carries the same answer.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from hvscan.verify.org import context_hints, org_for
from hvscan.verify.policy import Outcome, Settings, endpoint, not_sent, select, verified_severity

if TYPE_CHECKING:
    from hvscan.model import Finding, Match
    from hvscan.rules import Rule, Verify
    from hvscan.scan import ScanResult
    from hvscan.verify.cache import DiskCache


class Answer(NamedTuple):
    """What a key's findings are given: the outcome, and the org ID asked about and its
    source. Holds no key: it may cross processes."""

    outcome: Outcome
    org_id: str | None
    org_source: str


class RunAnswers(NamedTuple):
    """The answers of one run, shared by its audits (a many-repository ``hvscan git``: worker
    processes share them through a multiprocessing manager): ``answers`` by (rule ID, key
    SHA-256), and ``lock``, held by an audit while it looks its keys up, asks about the others
    and records their answers, so that no two audits ask about the same key."""

    answers: MutableMapping[tuple[str, str], Answer]
    lock: contextlib.AbstractContextManager[Any]


@dataclass(frozen=True)
class VerifyStep:
    """The pipeline step: hints to read during the scan, then verify and filter; ``shared``:
    the run's answers, when several audits share them."""

    settings: Settings
    cache: DiskCache | None
    statuses: list[str]
    shared: RunAnswers | None = None

    @property
    def annotate(self) -> Callable[[bytes, Match], dict[str, str]] | None:
        return context_hints if self.settings.org_id is None else None

    def apply(self, result: ScanResult) -> None:
        rules = result.engine.rules if result.engine is not None else []
        verify_findings(result.findings, rules, self.settings, self.cache, shared=self.shared)
        kept = select(result.findings, self.statuses)
        result.stats.findings_filtered = len(result.findings) - len(kept)
        result.findings = kept


def verify_findings(
    findings: list[Finding],
    rules: Sequence[Rule],
    settings: Settings,
    cache: DiskCache | None = None,
    *,
    shared: RunAnswers | None = None,
    sleep: Callable[[float], object] | None = None,
) -> None:
    """Set ``verification`` and the verified severity on each finding, one request per distinct
    (rule, key) as its rule in ``rules`` says; answers in ``shared`` (the run's, from other
    audits) or in ``cache`` are not asked again, new ones are saved to both. ``sleep`` replaces
    waiting (tests record the waits instead)."""
    specs: Mapping[str, Verify | None] = {rule.id: rule.verify for rule in rules}
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.rule_id, finding.secret_sha256), []).append(finding)
    if not groups:
        return
    known: MutableMapping[tuple[str, str], Answer] = {} if shared is None else shared.answers
    with contextlib.nullcontext() if shared is None else shared.lock:
        _answer(groups, specs, settings, cache, known, sleep)
    if cache is not None:
        cache.save()


def _answer(groups: dict[tuple[str, str], list[Finding]], specs: Mapping[str, Verify | None],
            settings: Settings, cache: DiskCache | None,
            known: MutableMapping[tuple[str, str], Answer],
            sleep: Callable[[float], object] | None) -> None:
    """Give each group its answer: ``known`` already, else cached, else asked; every answer
    given is added to ``known``."""
    from hvscan.verify.cache import cache_id

    pending: list[tuple[tuple[str, str], str, str | None, str, str, Verify]] = []
    for group_id, group in groups.items():
        answer = known.get(group_id)
        if answer is None:
            rule_id, key_hash = group_id
            spec = specs.get(rule_id)
            if spec is None:
                answer = Answer(not_sent(), None, "none")
            else:
                org_id, org_source = org_for(group, settings, spec)
                url = endpoint(settings.api_base, spec, org_id)
                entry_id = cache_id(rule_id, url, key_hash)
                hit = cache.get(entry_id, spec) if cache is not None else None
                if hit is None:
                    pending.append((group_id, url, org_id, org_source, entry_id, spec))
                    continue
                answer = Answer(hit, org_id, org_source)
            known[group_id] = answer
        _apply(group, answer)
    if pending:
        from hvscan.verify.client import Job, check_all

        jobs = [Job(groups[group_id][0].secret, url, spec)
                for group_id, url, *_, spec in pending]
        outcomes = check_all(jobs, settings, sleep)
        for (group_id, _, org_id, org_source, entry_id, _), outcome in zip(pending, outcomes,
                                                                            strict=True):
            known[group_id] = answer = Answer(outcome, org_id, org_source)
            _apply(groups[group_id], answer)
            if cache is not None:
                cache.put(entry_id, outcome)


def _apply(group: list[Finding], answer: Answer) -> None:
    outcome, org_id, org_source = answer
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
