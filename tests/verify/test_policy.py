"""Request policy and statuses: what each answer of the API means for the key and its severity, the
API base and the --results filter."""

from __future__ import annotations

import re

import pytest
from verify_servers import (
    DEAD,
    FIREWALL,
    LIVE_200,
    LIVE_403,
    OUTAGE,
    PLACEHOLDER_ORG_ID,
    SPEC,
    TEST_200,
    TEST_401,
    FakeApi,
    Reply,
    by_key,
    findings_in,
    settings,
    verify_findings,
)

from hvscan.verify import VerifyError, check_api_base, parse_statuses
from hvscan.verify.policy import classify, endpoint, from_api, verified_severity


def test_statuses_and_severities_follow_the_api(api: FakeApi) -> None:
    api.plan(LIVE_200, Reply(200))
    api.plan(LIVE_403, Reply(403))
    api.plan(TEST_200, Reply(200))
    api.plan(FIREWALL, Reply(403, api=False))
    api.plan(OUTAGE, Reply(500))
    keys = [LIVE_200, LIVE_403, DEAD, TEST_200, TEST_401, FIREWALL, OUTAGE]
    findings = findings_in("\n".join(keys))
    verify_findings(findings, settings(api))
    found = by_key(findings)
    expected = {
        LIVE_200: ("live", 200, "critical"),
        LIVE_403: ("live", 403, "critical"),
        DEAD: ("invalid", 401, "low"),
        TEST_200: ("live", 200, "high"),
        TEST_401: ("invalid", 401, "low"),
        FIREWALL: ("unknown", 403, "high"),
        OUTAGE: ("unknown", 500, "high"),
    }
    for key, (status, http_status, severity) in expected.items():
        result = found[key].verification
        assert result is not None
        assert (result["status"], result["http_status"], found[key].severity) == (
            status, http_status, severity), key[:8]
        assert result["org_id"] == PLACEHOLDER_ORG_ID
        assert result["org_id_source"] == "placeholder"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", result["checked_at"])
        assert result["detail"] and key not in result["detail"]
    assert "X-RateLimit" in found[FIREWALL].verification["detail"]  # type: ignore[index]
    for method, path, sent in api.requests:
        assert method == "HEAD"
        assert path == f"/v1/api/{PLACEHOLDER_ORG_ID}/environments"
        assert sent in keys
    assert sorted(api.count(k) for k in keys) == [1] * len(keys)


def test_401_without_the_api_headers_is_not_invalid(api: FakeApi) -> None:
    api.plan(DEAD, Reply(401, api=False))
    findings = findings_in(DEAD)
    verify_findings(findings, settings(api))
    assert findings[0].verification["status"] == "unknown"  # type: ignore[index]
    assert findings[0].severity == "high"


@pytest.mark.parametrize(("base", "key_type", "status", "expected"), [
    ("high", "live", "live", "critical"),
    ("medium", "test", "live", "high"),
    ("medium", "token", "live", "high"),
    ("critical", "test", "live", "critical"),
    ("high", "live", "invalid", "low"),
    ("info", "live", "invalid", "info"),
    ("medium", "test", "unknown", "medium"),
])
def test_verified_severity(base: str, key_type: str, status: str, expected: str) -> None:
    assert verified_severity(base, key_type, status) == expected


@pytest.mark.parametrize("base", [
    "https://api.hesedvid.com", "http://127.0.0.1:8080", "http://localhost:1/prefix/",
    "http://[::1]:9",
])
def test_api_base_accepted(base: str) -> None:
    assert check_api_base(base) == base.rstrip("/")


@pytest.mark.parametrize("base", [
    "http://api.hesedvid.com", "ftp://127.0.0.1", "https://user:pw@api.hesedvid.com",
    "https://api.hesedvid.com/?a=1", "api.hesedvid.com", "http://127.0.0.1.example.com",
])
def test_api_base_rejected(base: str) -> None:
    with pytest.raises(VerifyError):
        check_api_base(base)


def test_parse_statuses() -> None:
    assert parse_statuses("live, invalid") == ["live", "invalid"]
    # trufflehog's names: verified is live, unverified (checked, not live) invalid.
    assert parse_statuses("verified,unknown") == ["live", "unknown"]
    assert parse_statuses("unverified,live,verified") == ["invalid", "live"]
    for bad in ("", "Verified", "live,dead", "filtered_unverified"):
        with pytest.raises(VerifyError):
            parse_statuses(bad)


def test_answers_mean_what_the_rule_says() -> None:
    acme = SPEC._replace(live=((204, "fine"),), invalid=((410, "gone"), (401, "no")),
                         answer_headers=("X-Acme-Id",))
    assert [(o.status, o.detail) for o in (classify(acme, s, True) for s in (204, 410, 200))] == [
        ("live", "HTTP 204: fine"), ("invalid", "HTTP 410: gone"),
        ("unknown", "HTTP 200: not an answer about the key")]
    assert from_api(acme, {"X-Acme-Id": "1"}) and not from_api(acme, {"X-RateLimit-Limit": "1"})
    outcome = classify(acme, 204, False)
    assert (outcome.status, outcome.http_status) == ("unknown", 204)
    assert "X-Acme-Id" in outcome.detail


@pytest.mark.parametrize("base", ["https://api.hesedvid.com", "http://localhost:1/prefix"])
def test_the_endpoint_is_below_the_api_base(base: str) -> None:
    assert endpoint(base, SPEC, "acme") == f"{base}/v1/api/acme/environments"
    assert endpoint(base, SPEC._replace(path="/whoami"), None) == f"{base}/whoami"


@pytest.mark.parametrize("path", ["-collector.example/x", "@collector.example/x",
                                  ".collector.example/x", ":8443/x"])
def test_no_path_leads_a_key_to_another_origin(path: str) -> None:
    # The rule loader refuses such paths; this is the last check before any request.
    with pytest.raises(VerifyError, match="leads away from the API base"):
        endpoint("https://api.hesedvid.com", SPEC._replace(path=path), None)
