"""The verification step of the pipeline: group the findings by key, ask each key once, fold the
answers into the findings, and keep the statuses asked for.

Findings are grouped by (rule, key) before any request, so duplicates share one request and a
cache entry never serves another rule. A finding is asked about only when its rule has a
``[rules.verify]`` table; the others are ``unknown``, not sent. The audits of one run over
several repositories share their answers (``RunAnswers``): each request (rule, endpoint with
its org ID, key) is sent once per run, and every finding it answers, in every repository,
carries the same answer. An audit sends its requests without holding the run's lock, and waits
only for the answers another audit is asking for.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from hvscan.keys import utc_time
from hvscan.verify.org import context_hints, org_for
from hvscan.verify.policy import Outcome, Settings, endpoint, not_sent, select, verified_severity

if TYPE_CHECKING:
    from hvscan.model import Finding, Match
    from hvscan.rules import Rule, Verify
    from hvscan.scan import ScanResult
    from hvscan.verify.cache import DiskCache


class Answer(NamedTuple):
    """What a key's findings are given: the outcome, and the org ID asked about and its
    source."""

    outcome: Outcome
    org_id: str | None
    org_source: str


class Claim(NamedTuple):
    """A request under way in one audit: the process sending it, and since when
    (``time.time()``). Audits needing its answer wait for it, not for the lock."""

    pid: int
    since: float


class RunAnswers(NamedTuple):
    """The answers of one run, shared by its audits (a many-repository ``hvscan git``: worker
    processes share them through a multiprocessing manager): ``answers`` by request, as the
    cache keys them (rule, endpoint with its org ID, key SHA-256: the answer depends on all
    three), each an outcome or the claim of the audit asking; ``lock``, held only to look
    requests up, claim them and record their answers, never while a request is sent. Neither
    holds a key."""

    answers: MutableMapping[str, Outcome | Claim]
    lock: contextlib.AbstractContextManager[Any]


class _Request(NamedTuple):
    """The request about one group of findings (one rule, one key)."""

    group: list[Finding]
    url: str
    org_id: str | None
    org_source: str
    spec: Verify

    def apply(self, outcome: Outcome) -> None:
        _apply(self.group, Answer(outcome, self.org_id, self.org_source))


# How often an audit looks whether the answer another audit is asking for has come.
_POLL = 0.05


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
    (rule, endpoint with its org ID, key) as its rule in ``rules`` says; answers in
    ``shared`` (the run's, from other audits) or in ``cache`` are not asked again, new ones are
    saved to both. A request another audit is sending is waited for, not sent again.
    ``sleep`` replaces waiting for the API (tests record the waits instead)."""
    from hvscan.verify.cache import cache_id

    specs: Mapping[str, Verify | None] = {rule.id: rule.verify for rule in rules}
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.rule_id, finding.secret_sha256), []).append(finding)
    requests: dict[str, _Request] = {}
    for (rule_id, key_hash), group in groups.items():
        spec = specs.get(rule_id)
        if spec is None:
            _apply(group, Answer(not_sent(), None, "none"))
            continue
        org_id, org_source = org_for(group, settings, spec)
        url = endpoint(settings.api_base, spec, org_id)
        requests[cache_id(rule_id, url, key_hash)] = _Request(group, url, org_id, org_source,
                                                              spec)
    if not requests:
        return
    run = shared if shared is not None else RunAnswers({}, contextlib.nullcontext())
    while requests:
        with run.lock:
            claimed = _claim(requests, run.answers, cache, settings)
        if claimed:
            _ask(claimed, run, cache, settings, sleep)
        elif requests:
            time.sleep(_POLL)  # another audit is asking: wait for its answer only
    if cache is not None:
        cache.save()


def _claim(requests: dict[str, _Request], answers: MutableMapping[str, Outcome | Claim],
           cache: DiskCache | None, settings: Settings) -> dict[str, _Request]:
    """Under the run's lock: answer the requests the run or the cache has an answer for,
    leave those another audit is asking about, and claim and return the others (taken out of
    ``requests``)."""
    claimed: dict[str, _Request] = {}
    for entry_id, request in list(requests.items()):
        held = answers.get(entry_id)
        if isinstance(held, Claim) and not _abandoned(held, settings):
            continue
        if isinstance(held, Outcome):
            outcome: Outcome | None = held
        else:
            outcome = cache.get(entry_id, request.spec) if cache is not None else None
            if outcome is not None:
                answers[entry_id] = outcome
        del requests[entry_id]
        if outcome is None:
            answers[entry_id] = Claim(os.getpid(), time.time())
            claimed[entry_id] = request
        else:
            request.apply(outcome)
    return claimed


def _abandoned(claim: Claim, settings: Settings) -> bool:
    """Whether the audit that claimed a request will never answer it: its process is gone, or
    it has had longer than the run's deadline (and a request's timeout), so it is asked
    again rather than waited for forever."""
    if time.time() - claim.since > settings.run_deadline + settings.timeout:
        return True
    try:
        os.kill(claim.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    return False


def _ask(claimed: dict[str, _Request], run: RunAnswers, cache: DiskCache | None,
         settings: Settings, sleep: Callable[[float], object] | None) -> None:
    """Send the claimed requests, without the run's lock, then record their answers; when
    asking fails, the claims are withdrawn so that other audits ask themselves."""
    from hvscan.verify.client import Job, check_all

    jobs = [Job(request.group[0].secret, request.url, request.spec)
            for request in claimed.values()]
    try:
        outcomes = check_all(jobs, settings, sleep)
    except BaseException:
        # Best effort: the manager may be gone already (an interrupted run).
        with contextlib.suppress(Exception), run.lock:
            for entry_id in claimed:
                if isinstance(run.answers.get(entry_id), Claim):
                    del run.answers[entry_id]
        raise
    with run.lock:
        for entry_id, outcome in zip(claimed, outcomes, strict=True):
            run.answers[entry_id] = outcome
    for (entry_id, request), outcome in zip(claimed.items(), outcomes, strict=True):
        request.apply(outcome)
        if cache is not None:
            cache.put(entry_id, outcome)


def _apply(group: list[Finding], answer: Answer) -> None:
    outcome, org_id, org_source = answer
    checked = utc_time(outcome.checked_at)
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
