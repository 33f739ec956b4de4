"""Verification: ask the HesedVid API whether each key found still works, without lying or leaking.

One ``HEAD {api}/v1/api/{orgID}/environments`` with the key in ``X-Api-Key`` per distinct key:
findings are grouped by (rule, key) before any request, so duplicates share one request and a
cache entry never serves another rule. Only the API's own answers count: every response of the
HesedVid API carries its ``X-RateLimit-*`` headers, so a response without them (a proxy, a
firewall, a captive portal) is ``unknown``, never ``live`` or ``invalid``; so is every outage,
and so is a key whose answer did not come within its deadline: each key has one, and so has the
run, however slowly a server answers or however long it asks to wait.

The key is sent only in the ``X-Api-Key`` header to the configured API, only when it has the
HesedVid key shape (a user rule's secret is never sent), and it never reaches a detail, a log
line or the cache file, which holds only hashes, statuses and times. httpx is imported here only.
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
import os
import random
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from hvscan import __version__
from hvscan.model import Finding
from hvscan.rules import SEVERITIES, severity_rank
from hvscan.scan import ScanResult

if TYPE_CHECKING:
    import httpx

    from hvscan.model import Match

STATUSES = ("live", "unknown", "invalid")
DEFAULT_API_BASE = "https://api.hesedvid.com"
# Sent when no org ID is known: the API answers 401 for a dead key and 403 for a working key
# outside its org, so even a wrong org tells live from invalid.
PLACEHOLDER_ORG_ID = "hvscan-no-org-id"
RATE_LIMIT_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset")
MAX_REDIRECTS = 3

_KEY_SHAPE = re.compile(r"hv_(?:live|test)_[A-Za-z0-9]{32}")
_ORG_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,127}")
_LOOPBACK_NAMES = ("localhost", "localhost.")
# Severity of a key the API accepted, by the rule's key type; other key types go one step up.
_LIVE_SEVERITY = {"live": "critical", "test": "high"}

# Org IDs next to the key: an API URL, or an assignment such as ORG_ID=..., "orgId": "...".
_NEAR = 2048
_ORG_URL = re.compile(rb"/v1/api/([A-Za-z0-9][A-Za-z0-9_-]{2,63})/")
_ORG_ASSIGNMENT = re.compile(
    rb"(?i)(?<![A-Za-z0-9])(?:hesedvid[_-]?)?org(?:ani[sz]ation)?[_-]?id[\"']?\s*(?::=|=>|[:=])"
    rb"\s*[\"']?([A-Za-z0-9][A-Za-z0-9_-]{2,63})(?=[\"'\s,;)}\]]|\Z)"
)
_NOT_AN_ORG = re.compile(r"(?i)^hv_|your|example|sample|placeholder|changeme|xxx|^org_?id$")


class VerifyError(ValueError):
    """An option of verification is unusable (reported as a usage error)."""


@dataclass(frozen=True)
class Settings:
    api_base: str = DEFAULT_API_BASE
    org_id: str | None = None
    workers: int = 4
    timeout: float = 10.0
    retries: int = 3
    backoff_base: float = 1.0
    # No key's answer is awaited longer than this, retries and waits included ...
    key_deadline: float = 30.0
    # ... and no answer at all after this long from the start of verification.
    run_deadline: float = 300.0
    # Never wait longer than this for a rate limit to reset (the cap on Retry-After); past it
    # the key stays unknown.
    max_wait: float = 10.0
    # From this many remaining requests on, requests are spread over the time to the reset.
    low_remaining: int = 10


@dataclass(frozen=True)
class Outcome:
    status: str
    http_status: int | None
    detail: str
    checked_at: float = field(default_factory=time.time)
    cached: bool = False


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
        verify_findings(result.findings, self.settings, self.cache)
        kept = select(result.findings, self.statuses)
        result.stats.findings_filtered = len(result.findings) - len(kept)
        result.findings = kept


def check_api_base(url: str) -> str:
    """The API base URL, without a trailing slash; https, or plain http to a loopback host."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise VerifyError(f"{url!r} is not an http(s) URL such as {DEFAULT_API_BASE}")
    if parts.username is not None or parts.query or parts.fragment:
        raise VerifyError(f"{url!r}: credentials, query and fragment are not allowed")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise VerifyError(
            f"{url!r}: plain http:// is accepted only for loopback hosts (localhost, "
            "127.0.0.0/8, ::1); use https://"
        )
    return url.rstrip("/")


def check_org_id(org_id: str) -> str:
    if not _ORG_ID.fullmatch(org_id):
        raise VerifyError(f"{org_id!r} is not an org ID (letters, digits, '.', '_', '~', '-')")
    return org_id


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def context_hints(data: bytes, match: Match) -> dict[str, str]:
    """The org ID written nearest to the key in the scanned content, if any (read during the
    scan, so whole files are never kept for verification)."""
    start = max(0, match.start - _NEAR)
    window = data[start : match.end + _NEAR]
    where = match.start - start
    candidates = [
        (abs(found.start(1) - where), value)
        for pattern in (_ORG_URL, _ORG_ASSIGNMENT)
        for found in pattern.finditer(window)
        if not _NOT_AN_ORG.search(value := found.group(1).decode("ascii"))
    ]
    return {"org_id": min(candidates)[1]} if candidates else {}


def verify_findings(
    findings: list[Finding],
    settings: Settings,
    cache: DiskCache | None = None,
    *,
    sleep: Callable[[float], object] | None = None,
) -> None:
    """Set ``verification`` and the verified severity on each finding, one request per distinct
    (rule, endpoint, key); answers found in ``cache`` are not asked again, new ones are saved to
    it. ``sleep`` replaces waiting (tests record the waits instead)."""
    groups: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        groups.setdefault((finding.rule_id, finding.secret_sha256), []).append(finding)
    if not groups:
        return
    pending: list[tuple[list[Finding], str, str, str, str]] = []
    for (rule_id, key_hash), group in groups.items():
        if not _KEY_SHAPE.fullmatch(group[0].secret):
            _apply(group, Outcome("unknown", None, "not a HesedVid API key: not sent"), None,
                   "none")
            continue
        org_id, org_source = _org_for(group, settings)
        endpoint = f"{settings.api_base}/v1/api/{org_id}/environments"
        cache_id = _cache_id(rule_id, endpoint, key_hash)
        hit = cache.get(cache_id) if cache is not None else None
        if hit is not None:
            _apply(group, hit, org_id, org_source)
        else:
            pending.append((group, endpoint, org_id, org_source, cache_id))
    if pending:
        outcomes = _check_all([(g[0].secret, url) for g, url, *_ in pending], settings, sleep)
        for (group, _, org_id, org_source, cache_id), outcome in zip(pending, outcomes,
                                                                      strict=True):
            _apply(group, outcome, org_id, org_source)
            if cache is not None:
                cache.put(cache_id, outcome)
    if cache is not None:
        cache.save()


def _org_for(group: list[Finding], settings: Settings) -> tuple[str, str]:
    if settings.org_id:
        return settings.org_id, "option"
    found = sorted({f.hints["org_id"] for f in group if "org_id" in f.hints})
    if found:
        return found[0], "content"
    return PLACEHOLDER_ORG_ID, "placeholder"


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


def verified_severity(base: str, key_type: str, status: str) -> str:
    rank = severity_rank(base)
    if status == "live":
        one_up = SEVERITIES[min(rank + 1, len(SEVERITIES) - 1)]
        return SEVERITIES[max(rank, severity_rank(_LIVE_SEVERITY.get(key_type, one_up)))]
    if status == "invalid":
        return SEVERITIES[min(rank, severity_rank("low"))]
    return base


def select(findings: Iterable[Finding], statuses: Iterable[str]) -> list[Finding]:
    """The findings whose verification status is one of ``statuses``."""
    wanted = set(statuses)
    return [f for f in findings if (f.verification or {}).get("status", "unknown") in wanted]


def parse_statuses(text: str) -> list[str]:
    statuses = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in statuses if s not in STATUSES]
    if bad or not statuses:
        raise VerifyError(f"{text!r}: expected a comma-separated list of {', '.join(STATUSES)}")
    return statuses


def _check_all(
    jobs: list[tuple[str, str]], settings: Settings, sleep: Callable[[float], object] | None
) -> list[Outcome]:
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    run_ends = time.monotonic() + settings.run_deadline
    stop = threading.Event()
    pacer = Pacer(settings, stop, sleep or stop.wait)
    headers = {"User-Agent": f"hvscan/{__version__} (key verification)"}
    # trust_env: a proxy configured in the environment is honoured; redirects are followed by
    # hand, and only to the same origin. No keep-alive: each request's own connection is what
    # its Cutoff can shut down.
    with httpx.Client(timeout=settings.timeout, headers=headers, follow_redirects=False,
                      trust_env=True, limits=httpx.Limits(max_keepalive_connections=0)) as client, \
            ThreadPoolExecutor(max_workers=settings.workers,
                               thread_name_prefix="hvscan-verify") as pool:
        futures = [pool.submit(check_key, client, secret, endpoint, settings, pacer, run_ends)
                   for secret, endpoint in jobs]
        try:
            return [future.result() for future in futures]
        except BaseException:
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
            raise


@dataclass(frozen=True)
class Deadline:
    """When one key's verification ends at the latest (``time.monotonic()``), and which
    deadline that is, for the detail of a key it cuts short."""

    at: float
    name: str

    @classmethod
    def first(cls, settings: Settings, run_ends: float) -> Deadline:
        key_ends = time.monotonic() + settings.key_deadline
        if key_ends < run_ends:
            return cls(key_ends, f"the {settings.key_deadline:g} s deadline per key")
        return cls(run_ends, f"the {settings.run_deadline:g} s deadline of the run")

    def left(self) -> float:
        return self.at - time.monotonic()

    def passed(self, http_status: int | None) -> Outcome:
        return Outcome("unknown", http_status, f"no complete answer within {self.name}")


def check_key(
    client: httpx.Client, secret: str, url: str, settings: Settings, pacer: Pacer,
    run_ends: float,
) -> Outcome:
    """One key's verification: HEAD ``url`` (the key's endpoint), retries on 429, same-origin
    redirects, classification; all of it before the key's deadline or the run's
    (``run_ends``), whichever comes first."""
    import httpx

    deadline = Deadline.first(settings, run_ends)
    attempt = redirects = 0
    last: int | None = None  # the status of the previous answer (a 429 or a redirect)
    while True:
        if not pacer.wait(deadline.at):
            if pacer.stopped:
                return Outcome("unknown", last, "interrupted before the request")
            if last is None:
                return Outcome("unknown", None, f"not sent: {deadline.name} came before its "
                               "turn")
            return deadline.passed(last)
        # No single read or connect may outlast the deadline either (a TLS handshake is one).
        timeout = max(0.001, min(settings.timeout, deadline.left()))
        with Cutoff(deadline.at) as cutoff:
            try:
                response = client.head(url, headers={"X-Api-Key": secret}, timeout=timeout,
                                       extensions={"trace": cutoff.trace})
            except (httpx.HTTPError, OSError) as exc:
                if cutoff.expired or deadline.left() <= 0:
                    return deadline.passed(last)
                # Messages of httpx exceptions name the request, never its headers; still,
                # only the class name is kept, so no detail can ever carry what was sent.
                if isinstance(exc, httpx.TimeoutException):
                    return Outcome("unknown", None, f"no answer within {settings.timeout:g} s: "
                                   f"{type(exc).__name__}")
                return Outcome("unknown", None, f"request failed: {type(exc).__name__}")
        from_api = all(h in response.headers for h in RATE_LIMIT_HEADERS)
        if from_api:
            pacer.observe(response.headers)
        status = last = response.status_code
        if status == 429:
            if attempt >= settings.retries:
                return Outcome("unknown", 429,
                               f"still rate limited (HTTP 429) after {attempt} retries")
            delay = max(_server_wait(response.headers),
                        settings.backoff_base * 2**attempt * random.uniform(0.5, 1.5))  # noqa: S311
            if delay > settings.max_wait:
                return Outcome("unknown", 429, f"rate limited (HTTP 429) for {delay:.0f} s, "
                               f"longer than the {settings.max_wait:g} s hvscan waits")
            if delay >= deadline.left():
                return Outcome("unknown", 429, f"rate limited (HTTP 429) for {delay:.0f} s, "
                               f"past {deadline.name}")
            pacer.hold(delay)
            attempt += 1
            continue
        if response.is_redirect:
            target = urljoin(url, response.headers["location"])
            if _origin(target) != _origin(url):
                return Outcome("unknown", status,
                               f"HTTP {status} redirect to another host: not followed")
            if redirects >= MAX_REDIRECTS:
                return Outcome("unknown", status, f"more than {MAX_REDIRECTS} redirects")
            url, redirects = target, redirects + 1
            continue
        return classify(status, from_api)


class Cutoff:
    """Shuts the connection of one request down when its deadline passes. httpx's timeouts
    bound each read, not the answer: a server that drips its headers a byte a second never
    trips them. httpx's ``trace`` extension hands over the request's connection (the TCP one,
    then the TLS one) as it is made; with keep-alive off every request makes its own."""

    _MADE = ("connection.connect_tcp.complete", "connection.start_tls.complete")

    def __init__(self, deadline: float) -> None:
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Cutoff:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event not in self._MADE:
            return
        made = info["return_value"].get_extra_info("socket")
        if made is None:
            return
        with self._lock:
            self._sockets.append(made)
            if self.expired:
                _shut_down(made)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for made in self._sockets:
                _shut_down(made)


def _shut_down(made: socket.socket) -> None:
    # shutdown() wakes a read blocked in another thread (close() would not) and never touches
    # another file: a socket closed in the meantime has no descriptor left and just raises.
    # The plain socket's method, so a TLS socket's state is left to the thread using it.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(made, socket.SHUT_RDWR)


def classify(status: int, from_api: bool) -> Outcome:
    if not from_api:
        return Outcome("unknown", status, f"HTTP {status} without the API's X-RateLimit-* "
                       "headers: not an answer of the HesedVid API (proxy or firewall?)")
    if status == 200:
        return Outcome("live", status, "HTTP 200: the key is valid")
    if status == 403:
        return Outcome("live", status, "HTTP 403: the key is valid but has no access to this "
                       "org's environments (or the org ID is not its own)")
    if status == 401:
        return Outcome("invalid", status, "HTTP 401: the API rejects the key")
    return Outcome("unknown", status, f"HTTP {status}: not an answer about the key")


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, parts.hostname, parts.port or default


def _server_wait(headers: httpx.Headers) -> float:
    """Seconds the server asks to wait: ``Retry-After`` (seconds or date), else the
    ``X-RateLimit-Reset`` time (epoch seconds; small values are read as seconds from now)."""
    retry_after = headers.get("retry-after", "").strip()
    if retry_after:
        if retry_after.isdigit():
            return float(retry_after)
        try:
            return max(0.0, parsedate_to_datetime(retry_after).timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    return _reset_in(headers) or 0.0


def _reset_in(headers: httpx.Headers) -> float | None:
    try:
        reset = float(headers.get("x-ratelimit-reset", ""))
    except ValueError:
        return None
    return max(0.0, reset - time.time()) if reset > 1e9 else max(0.0, reset)


class Pacer:
    """Spaces requests across all workers: after a 429 everyone waits, and when the API says
    few requests remain, the rest are spread over the time to its reset."""

    def __init__(
        self, settings: Settings, stop: threading.Event, sleep: Callable[[float], object]
    ) -> None:
        self._settings = settings
        self._stop = stop
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0
        self._spacing = 0.0

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def wait(self, deadline: float) -> bool:
        """Wait for this request's turn; False when the run is being stopped, or when the turn
        would come at or after ``deadline`` (``time.monotonic()``)."""
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next)
            if at >= deadline:
                return False
            self._next = at + self._spacing
        if at > now:
            self._sleep(at - now)
        return not self._stop.is_set()

    def hold(self, delay: float) -> None:
        with self._lock:
            self._next = max(self._next, time.monotonic() + delay)

    def observe(self, headers: httpx.Headers) -> None:
        try:
            remaining = int(headers["x-ratelimit-remaining"])
        except ValueError:
            return
        spacing = 0.0
        if remaining <= self._settings.low_remaining:
            reset_in = _reset_in(headers)
            window = self._settings.max_wait if reset_in is None else reset_in
            spacing = min(window / (remaining + 1), self._settings.max_wait)
        with self._lock:
            self._spacing = spacing


def _cache_id(rule_id: str, endpoint: str, key_hash: str) -> str:
    return hashlib.sha256("\0".join((rule_id, endpoint, key_hash)).encode()).hexdigest()


@dataclass
class DiskCache:
    """``--verify-cache FILE``: live and invalid answers by the SHA-256 of (rule, endpoint, key
    hash), with the HTTP status and the time; entries expire. Unknown answers are never kept:
    an outage must not outlive the run. Runs sharing the file add to it: each merges its answers
    into what the file holds when it saves, under a lock (``FILE.lock``, which stays)."""

    path: Path
    ttl: float
    entries: dict[str, dict[str, Any]]

    @classmethod
    def load(cls, path: Path, ttl: float) -> DiskCache:
        return cls(path, ttl, _read_entries(path, ttl))

    def get(self, cache_id: str) -> Outcome | None:
        entry = self.entries.get(cache_id)
        if entry is None:
            return None
        status, http_status = entry["status"], entry["http_status"]
        detail = classify(http_status, True).detail + " (cached answer)"
        return Outcome(status, http_status, detail, entry["time"], cached=True)

    def put(self, cache_id: str, outcome: Outcome) -> None:
        if outcome.status in ("live", "invalid") and not outcome.cached:
            self.entries[cache_id] = {"status": outcome.status,
                                      "http_status": outcome.http_status,
                                      "time": outcome.checked_at}

    def save(self) -> None:
        """Merge the entries into the file (the newer answer wins), read again under the lock
        and replaced whole, so that a run writing at the same time loses nothing."""
        import fcntl

        from hvscan.atomic import write_atomically

        lock = self.path.with_name(self.path.name + ".lock")
        try:
            # Private: which keys were found, by hash, is nobody else's business.
            handle = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise VerifyError(f"cannot lock verification cache {lock}: {exc.strerror}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX)
            merged = _read_entries(self.path, self.ttl)
            for cache_id, entry in self.entries.items():
                if cache_id not in merged or merged[cache_id]["time"] < entry["time"]:
                    merged[cache_id] = entry
            text = json.dumps({"version": 1, "entries": merged}, indent=1, sort_keys=True)
            write_atomically(self.path, (text + "\n").encode("utf-8"), 0o600)
        except OSError as exc:
            raise VerifyError(f"cannot write verification cache {self.path}: "
                              f"{exc.strerror}") from None
        finally:
            os.close(handle)  # releases the lock


def _read_entries(path: Path, ttl: float) -> dict[str, dict[str, Any]]:
    """The unexpired entries of the cache file; none when it does not exist yet."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise VerifyError(f"cannot read verification cache {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise VerifyError(f"{path} is not a verification cache (not JSON)") from None
    if not isinstance(data, dict) or data.get("version") != 1 \
            or not isinstance(data.get("entries"), dict):
        raise VerifyError(f"{path} is not a verification cache of this hvscan version")
    now = time.time()
    return {k: v for k, v in data["entries"].items() if _valid_entry(v) and now - v["time"] < ttl}


def _valid_entry(entry: Any) -> bool:
    return (isinstance(entry, dict) and entry.get("status") in ("live", "invalid")
            and isinstance(entry.get("http_status"), int)
            and isinstance(entry.get("time"), (int, float)))
