"""The org ID of a key's request: the option, else one written next to the key in the scanned
content (read during the scan, so whole files are never kept for verification), else the rule's
placeholder. Content only ever fills the path's ``{org_id}``, with an org ID's characters."""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hvscan.model import Finding, Match
    from hvscan.rules import Verify
    from hvscan.verify.policy import Settings

# Org IDs next to the key: a URL of the rule's API (its path up to ``{org_id}``: for HesedVid
# ``/v1/api/<org>/``), or an assignment such as ORG_ID=..., "orgId": "...".
_NEAR = 2048
_ORG_VALUE = rb"([A-Za-z0-9][A-Za-z0-9_-]{2,63})"
_ORG_ASSIGNMENT = re.compile(
    rb"(?i)(?<![A-Za-z0-9])(?:hesedvid[_-]?)?org(?:ani[sz]ation)?[_-]?id[\"']?\s*(?::=|=>|[:=])"
    rb"\s*[\"']?" + _ORG_VALUE + rb"(?=[\"'\s,;)}\]]|\Z)"
)
_NOT_AN_ORG = re.compile(r"(?i)^hv_|your|example|sample|placeholder|changeme|xxx|^org_?id$")


def context_hints(data: bytes, match: Match) -> dict[str, str]:
    """The org ID written nearest to the key in the scanned content, if any (only for a rule
    whose request has an org ID)."""
    spec = match.rule.verify
    if spec is None or "{org_id}" not in spec.path:
        return {}
    start = max(0, match.start - _NEAR)
    window = data[start : match.end + _NEAR]
    where = match.start - start
    candidates = [
        (abs(found.start(1) - where), value)
        for pattern in (_org_url(spec.path), _ORG_ASSIGNMENT)
        for found in pattern.finditer(window)
        if not _NOT_AN_ORG.search(value := found.group(1).decode("ascii"))
    ]
    return {"org_id": min(candidates)[1]} if candidates else {}


@cache
def _org_url(path: str) -> re.Pattern[bytes]:
    """The rule's path up to its ``{org_id}``, then an org ID and a slash."""
    prefix = path.split("{org_id}", 1)[0].encode()
    return re.compile(re.escape(prefix) + _ORG_VALUE + rb"/")


def org_for(group: list[Finding], settings: Settings, spec: Verify) -> tuple[str | None, str]:
    """The org ID for the request about one key, and where it came from (``none`` when the
    rule's path has no ``{org_id}``)."""
    if "{org_id}" not in spec.path:
        return None, "none"
    if settings.org_id:
        return settings.org_id, "option"
    found = sorted({f.hints["org_id"] for f in group if "org_id" in f.hints})
    if found:
        return found[0], "content"
    return spec.org_id_placeholder, "placeholder"
