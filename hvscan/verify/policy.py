"""Request policy and statuses: the options of verification, where a key's request goes, and
what an answer says about the key.

What a rule asks and how to read the answer is the rule's ``[rules.verify]`` table
(``hvscan/rules.py``); this module applies it. Only the API's own answers count: a response
without the rule's ``answer_headers`` (a proxy, a firewall, a captive portal) is ``unknown``,
never ``live`` or ``invalid``; so is every status the rule does not name. A key goes only to the
API base the operator set (command line or environment): a rule gives a path below it.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from hvscan.rules import ORG_ID, SEVERITIES, severity_rank

if TYPE_CHECKING:
    from hvscan.model import Finding
    from hvscan.rules import Verify

STATUSES = ("live", "unknown", "invalid")
# trufflehog's names for them in its --results (its 'unverified': checked and not live).
STATUS_ALIASES = {"verified": "live", "unverified": "invalid"}
DEFAULT_API_BASE = "https://api.hesedvid.com"

_LOOPBACK_NAMES = ("localhost", "localhost.")
# Severity of a key the API accepted, by the rule's key type; other key types go one step up.
_LIVE_SEVERITY = {"live": "critical", "test": "high"}


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


def not_sent() -> Outcome:
    """The outcome of a secret whose rule does not say how to verify it."""
    return Outcome("unknown", None, "its rule has no [rules.verify] table: not sent")


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
    if not ORG_ID.fullmatch(org_id):
        raise VerifyError(f"{org_id!r} is not an org ID (letters, digits, '.', '_', '~', '-')")
    return org_id


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def endpoint(api_base: str, spec: Verify, org_id: str | None) -> str:
    """The URL a key's request goes to: the rule's path below the API base. The rule's path was
    checked when it was loaded; the result is checked again, so that no rule and no org ID can
    ever lead a key to another origin."""
    url = api_base + spec.path.replace("{org_id}", org_id or "")
    if origin(url) != origin(api_base):
        raise VerifyError(f"{spec.path!r} leads away from the API base {api_base}")
    return url


def origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, parts.hostname, parts.port or default


def from_api(spec: Verify, headers: Mapping[str, str]) -> bool:
    """Whether a response carries the headers every answer of the rule's API carries."""
    return all(name in headers for name in spec.answer_headers)


def classify(spec: Verify, status: int, api_answered: bool) -> Outcome:
    if not api_answered:
        return Outcome("unknown", status, f"HTTP {status} without the API's "
                       f"{', '.join(spec.answer_headers)} headers: not an answer of the API "
                       "(proxy or firewall?)")
    meaning = spec.meaning(status)
    if meaning is None:
        return Outcome("unknown", status, f"HTTP {status}: not an answer about the key")
    verdict, said = meaning
    return Outcome(verdict, status, f"HTTP {status}: {said}")


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
    names = [s.strip() for s in text.split(",") if s.strip()]
    statuses = list(dict.fromkeys(STATUS_ALIASES.get(name, name) for name in names))
    bad = [s for s in statuses if s not in STATUSES]
    if bad or not statuses:
        raise VerifyError(f"{text!r}: expected a comma-separated list of {', '.join(STATUSES)} "
                          "(or trufflehog's verified, unverified)")
    return statuses
