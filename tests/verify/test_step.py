"""The verification step: one request per distinct (rule, key), only for rules that say how, and
the key nowhere but in its request; a second key type needs only rule data."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hvscan_run import Run
from pytest_httpserver import HTTPServer
from verify_servers import (
    ACME_RULES,
    DEAD,
    FIREWALL,
    LIVE_200,
    LIVE_403,
    OUTAGE,
    PLACEHOLDER_ORG_ID,
    FakeApi,
    Reply,
    acme_token,
    findings_in,
    serving,
    settings,
    verify_findings,
)
from werkzeug import Request, Response

from hvscan.rules import Rule, load_builtin_rules
from hvscan.verify import step
from hvscan.verify.cache import cache_id
from hvscan.verify.policy import Outcome


def test_each_distinct_key_is_requested_once(api: FakeApi) -> None:
    api.plan(LIVE_200, Reply(200))
    text = f"a={LIVE_200}\nb={LIVE_200}\nc={DEAD}\n"
    findings = findings_in(text, text, text)
    assert len(findings) == 9
    verify_findings(findings, settings(api, workers=4))
    assert api.count(LIVE_200) == 1 and api.count(DEAD) == 1
    assert [f.verification["status"] for f in findings if f.secret == LIVE_200] == ["live"] * 6  # type: ignore[index]


def test_audits_sharing_the_runs_answers_ask_each_key_once(api: FakeApi) -> None:
    # The audits of a many-repository run, at the same time: the first to claim a request
    # asks, the others wait for its answer, so every finding carries the same one.
    api.plan(LIVE_200, Reply(200, delay=0.2))
    shared = step.RunAnswers({}, threading.Lock())
    audits = [findings_in(f"a={LIVE_200}\n", f"b={DEAD}\n") for _ in range(3)]
    threads = [threading.Thread(target=step.verify_findings,
                                args=(found, load_builtin_rules(), settings(api)),
                                kwargs={"shared": shared}) for found in audits]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (api.count(LIVE_200), api.count(DEAD)) == (1, 1)
    answers = {json.dumps(f.verification, sort_keys=True) for found in audits for f in found
               if f.secret == LIVE_200}
    assert len(answers) == 1 and '"status": "live"' in answers.pop()
    assert len(shared.answers) == 2  # by (rule, endpoint, key hash): no key in them
    assert all(isinstance(answer, Outcome) for answer in shared.answers.values())


def _gone_pid() -> int:
    """The process ID of a process that has ended (and been waited for)."""
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)
    return int(ended.stdout)


@pytest.mark.parametrize("claim", [
    pytest.param(lambda: step.Claim(_gone_pid(), time.time()), id="its-process-ended"),
    pytest.param(lambda: step.Claim(os.getpid(), time.time() - 3600), id="past-the-deadline"),
])
def test_a_request_claimed_by_an_audit_that_will_never_answer_is_asked(
    api: FakeApi, claim: Callable[[], step.Claim]
) -> None:
    # An audit that claimed the request and died (or hung) must not hold the others forever:
    # the claim is given up and the request sent.
    api.plan(LIVE_200, Reply(200))
    findings = findings_in(f"a={LIVE_200}\n")
    (rule,) = {f.rule_id for f in findings}
    shared = step.RunAnswers({}, threading.Lock())
    url = f"{api.url}/v1/api/{PLACEHOLDER_ORG_ID}/environments"
    shared.answers[cache_id(rule, url, findings[0].secret_sha256)] = claim()
    step.verify_findings(findings, load_builtin_rules(), settings(api, run_deadline=60.0),
                         shared=shared)
    assert api.count(LIVE_200) == 1
    assert findings[0].verification["status"] == "live"  # type: ignore[index]
    assert [answer.status for answer in shared.answers.values()] == ["live"]  # type: ignore[union-attr]


def test_the_cache_is_per_rule(api: FakeApi) -> None:
    api.plan(LIVE_200, Reply(200))
    builtin = load_builtin_rules()
    mine = Rule(id="my-hesedvid", description="mine", pattern=builtin[0].pattern,
                keywords=builtin[0].keywords, key_type="live", severity="medium",
                remediation="rotate", verify=builtin[0].verify)
    findings = findings_in(LIVE_200, rules=[*builtin, mine])
    verify_findings(findings, settings(api), rules=[*builtin, mine])
    assert api.count(LIVE_200) == 2
    assert {f.rule_id: f.severity for f in findings} == {
        "hesedvid-live-key": "critical", "my-hesedvid": "critical"}


def test_secrets_of_other_rules_are_never_sent(api: FakeApi) -> None:
    other = Rule(id="other-token", description="other", pattern=r"tok_[a-z0-9]{20}",
                 keywords=(b"tok_",), key_type="token", severity="medium", remediation="rotate")
    findings = findings_in("tok_" + "a1b2c3d4e5f6g7h8i9j0", rules=[other])
    verify_findings(findings, settings(api), rules=[other])
    assert api.requests == []
    result = findings[0].verification
    assert result is not None and result["status"] == "unknown"
    assert findings[0].severity == "medium"


def test_a_rule_without_a_verify_table_is_not_sent_even_for_a_hesedvid_key(api: FakeApi) -> None:
    # What is sent is the rule's to say: a user rule matching HesedVid keys without a
    # [rules.verify] table of its own does not borrow the built-in one.
    builtin = load_builtin_rules()
    mine = builtin[0]._replace(id="my-hesedvid", verify=None)
    findings = findings_in(LIVE_200, rules=[mine])
    verify_findings(findings, settings(api), rules=[mine])
    assert api.requests == []
    result = findings[0].verification
    assert result is not None
    assert (result["status"], result["org_id"], result["org_id_source"]) == (
        "unknown", None, "none")
    assert result["detail"] == "its rule has no [rules.verify] table: not sent"


def test_the_key_never_reaches_logs_or_output(
    api: FakeApi, other_host: FakeApi, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    api.plan(LIVE_200, Reply(200))
    api.plan(LIVE_403, Reply(302, headers={"Location": other_host.url + "/"}))
    api.plan(OUTAGE, Reply(200, delay=1.0))
    api.plan(FIREWALL, Reply(429, headers={"Retry-After": "0"}))
    keys = (LIVE_200, LIVE_403, OUTAGE, FIREWALL, DEAD)
    findings = findings_in(" ".join(keys))
    verify_findings(findings, settings(api, timeout=0.3))
    out = capsys.readouterr()
    shown = caplog.text + out.out + out.err + repr(findings) + json.dumps(
        [f.verification for f in findings])
    assert "HEAD" in caplog.text  # httpx did log its requests, without the key
    for key in keys:
        assert key not in shown and key[8:] not in shown


# A second key type: rule data alone ----------------------------------------------------------

class AcmeApi:
    """Another vendor's API: its own path, method, key header, statuses and headers."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.answers: dict[str, list[int]] = {}
        self.requests: list[tuple[str, str, str | None, str | None]] = []
        server.expect_request(re.compile(".*")).respond_with_handler(self.handle)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def handle(self, request: Request) -> Response:
        token = request.headers.get("X-Acme-Token")
        self.requests.append((request.method, request.path, token,
                              request.headers.get("X-Api-Key")))
        answers = self.answers.get(token or "", [401])
        status = answers.pop(0) if len(answers) > 1 else answers[0]
        return Response(status=status, headers={"X-Acme-Request-Id": "r1", "X-Acme-Left": "5000",
                                                "X-Acme-Reset-In": "1"})


@pytest.fixture
def acme() -> Iterator[AcmeApi]:
    for server in serving():
        yield AcmeApi(server)


def test_a_second_key_type_is_verified_from_rule_data_alone(
    acme: AcmeApi, tmp_path: Path, run_hvscan: Run
) -> None:
    live, revoked, dead, busy = (acme_token(i) for i in range(4))
    acme.answers = {live: [204], revoked: [410], busy: [503, 204], dead: [401]}
    (tmp_path / "acme.toml").write_text(ACME_RULES)
    tokens = (live, revoked, dead, busy)
    (tmp_path / "app.cfg").write_text("\n".join(f"t{i} = {t}" for i, t in enumerate(tokens)))
    done = run_hvscan("dir", "app.cfg", "--rules", "acme.toml", "--verify", "--api-base",
                      acme.url, "--format", "json", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    results = {f["line"]: (f["verification"]["status"], f["verification"]["http_status"],
                           f["verification"]["org_id_source"], f["severity"],
                           f["verification"]["detail"])
               for f in json.loads(done.stdout)["findings"]}
    assert results == {
        1: ("live", 204, "none", "high", "HTTP 204: the token is valid"),
        2: ("invalid", 410, "none", "low", "HTTP 410: the token was revoked"),
        3: ("invalid", 401, "none", "low", "HTTP 401: Acme rejects the token"),
        # Its rate limit (503, with its own headers) was waited for and retried.
        4: ("live", 204, "none", "high", "HTTP 204: the token is valid"),
    }
    assert sorted(acme.requests) == sorted(
        [("GET", "/api/v2/tokens/self", token, None) for token in (live, revoked, dead)]
        + [("GET", "/api/v2/tokens/self", busy, None)] * 2)
    for token in tokens:
        assert token.encode() not in done.stdout + done.stderr



@pytest.mark.parametrize("named_by", [".hvscan.toml", "pyproject.toml"])
def test_a_repositorys_configuration_cannot_choose_what_is_sent(
    acme: AcmeApi, tmp_path: Path, run_hvscan: Run, named_by: str
) -> None:
    # A rule file that the scanned repository names may look for its secrets, but a verify
    # table in it would send them to the operator's API: refused, nothing sent.
    acme.answers = {acme_token(0): [204]}
    (tmp_path / "acme.toml").write_text(ACME_RULES)
    (tmp_path / "app.cfg").write_text(f"t = {acme_token(0)}\n")
    if named_by == ".hvscan.toml":
        (tmp_path / ".hvscan.toml").write_text('rules = ["acme.toml"]\n')
    else:
        (tmp_path / "pyproject.toml").write_text('[tool.hvscan]\nrules = ["acme.toml"]\n')
    done = run_hvscan("dir", "app.cfg", "--verify", "--api-base", acme.url, cwd=tmp_path)
    assert done.returncode == 2 and acme.requests == []
    [line] = done.stderr.decode().splitlines()
    assert line.endswith("acme.toml: rules[0]: field 'verify' is not allowed in a rule file "
                         "named by a configuration file (the scanned repository would choose "
                         "which secrets are sent); name the file with --rules or HVSCAN_RULES")
    # The same file named by the person running hvscan (the environment) is verified.
    os.remove(tmp_path / named_by)
    done = run_hvscan("dir", "app.cfg", "--verify", "--api-base", acme.url, "--format", "json",
                      cwd=tmp_path, env={"HVSCAN_RULES": "acme.toml"})
    assert done.returncode == 1, done.stderr
    assert [f["verification"]["status"] for f in json.loads(done.stdout)["findings"]] == ["live"]
