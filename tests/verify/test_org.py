"""The org ID of a request: the option, else one written next to the key, else the placeholder."""

from __future__ import annotations

import pytest
from verify_servers import (
    LIVE_200,
    TEST_200,
    FakeApi,
    Reply,
    by_key,
    findings_in,
    settings,
    verify_findings,
)

from hvscan.engine import Engine
from hvscan.rules import load_builtin_rules
from hvscan.verify.org import context_hints


def test_org_id_from_the_content_near_the_key(api: FakeApi) -> None:
    api.plan(LIVE_200, Reply(200))
    api.plan(TEST_200, Reply(200))
    near_url = f'url = "https://api.hesedvid.com/v1/api/acme-7/videos"\nkey = "{LIVE_200}"\n'
    near_assignment = f'HESEDVID_ORG_ID="org_9f3"\nHESEDVID_API_KEY="{TEST_200}"\n'
    findings = by_key(findings_in(near_url, near_assignment))
    verify_findings(list(findings.values()), settings(api))
    assert findings[LIVE_200].verification["org_id"] == "acme-7"  # type: ignore[index]
    assert findings[LIVE_200].verification["org_id_source"] == "content"  # type: ignore[index]
    assert findings[TEST_200].verification["org_id"] == "org_9f3"  # type: ignore[index]
    assert {path for _, path, _ in api.requests} == {
        "/v1/api/acme-7/environments", "/v1/api/org_9f3/environments"}


def test_org_id_option_wins(api: FakeApi) -> None:
    api.plan(LIVE_200, Reply(200))
    findings = findings_in(f"/v1/api/acme-7/videos {LIVE_200}")
    verify_findings(findings, settings(api, org_id="mine"))
    assert findings[0].verification["org_id_source"] == "option"  # type: ignore[index]
    assert api.requests[0][1] == "/v1/api/mine/environments"


@pytest.mark.parametrize(("text", "expected"), [
    ('fetch("/v1/api/{orgID}/videos")', None),
    ("ORG_ID = os.getenv('X')", None),
    ('org_id: "your-org-id"', None),
    ("orgId: 'team-42',", "team-42"),
    ('"organization_id": "abc123"', "abc123"),
    ("org_id := \"go-org\"", "go-org"),
    ("/v1/api/near/ x\n" * 2 + "y" * 3000 + "/v1/api/far-away/", "near"),
    ("x" * 3000 + "/v1/api/too-far/", None),
])
def test_context_hints(text: str, expected: str | None) -> None:
    data = f"KEY={LIVE_200}\n{text}".encode()
    (match,) = Engine(load_builtin_rules()).scan(data)
    assert context_hints(data, match).get("org_id") == expected


def test_a_key_is_never_taken_for_an_org_id() -> None:
    data = f"org_id = {TEST_200} {LIVE_200}".encode()
    for match in Engine(load_builtin_rules()).scan(data):
        assert context_hints(data, match) == {}


def test_org_urls_are_those_of_the_rules_path() -> None:
    (live,) = (rule for rule in load_builtin_rules() if rule.id == "hesedvid-live-key")
    assert live.verify is not None
    teams = live._replace(verify=live.verify._replace(path="/teams/{org_id}/whoami"))
    data = f"see /v1/api/acme-7/videos and /teams/team-9/x\nKEY={LIVE_200}\n".encode()
    (match,) = Engine([teams]).scan(data)
    assert context_hints(data, match) == {"org_id": "team-9"}
    # A rule whose request has no org ID, or that is never verified, reads no hints.
    for rule in (teams._replace(verify=live.verify._replace(path="/whoami")),
                 teams._replace(verify=None)):
        (match,) = Engine([rule]).scan(data)
        assert context_hints(data, match) == {}
