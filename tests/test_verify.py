"""Verification against a real HTTP server on loopback that behaves as the vendor documents
(and as proxies, firewalls and outages do), in process and through the console script."""

from __future__ import annotations

import json
import logging
import math
import multiprocessing
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from gitrepo import GitRepo
from hvscan_run import Run
from keygen import make_key
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from hvscan import scan, verify
from hvscan.engine import Engine
from hvscan.model import Finding, Origin
from hvscan.rules import Rule, load_builtin_rules
from hvscan.sources import Blob

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                   "all_proxy", "NO_PROXY", "no_proxy")


@dataclass
class Reply:
    status: int
    api: bool = True  # carries the API's X-RateLimit-* headers
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class FakeApi:
    """The HesedVid API as documented: answers by key, rate-limit headers on every response.
    A key's replies are served in order; the last one repeats. Unknown keys get 401."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.plans: dict[str, list[Reply]] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        server.expect_request(re.compile(".*")).respond_with_handler(self.handle)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def plan(self, key: str, *replies: Reply) -> None:
        self.plans[key] = list(replies)

    def count(self, key: str) -> int:
        return sum(1 for _, _, sent in self.requests if sent == key)

    def handle(self, request: Request) -> Response:
        key = request.headers.get("X-Api-Key")
        self.requests.append((request.method, request.path, key))
        replies = self.plans.get(key or "", [Reply(401)])
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        time.sleep(reply.delay)
        headers = {"X-RateLimit-Limit": "10000", "X-RateLimit-Remaining": "9999",
                   "X-RateLimit-Reset": str(int(time.time()) + 3600)} if reply.api else {}
        headers.update(reply.headers)
        return Response(status=reply.status, headers=headers)


def _server() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    if server.is_running():
        server.stop()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("HESEDVID_API_BASE", raising=False)
    monkeypatch.delenv("HESEDVID_ORG_ID", raising=False)


@pytest.fixture
def api() -> Iterator[FakeApi]:
    for server in _server():
        yield FakeApi(server)


@pytest.fixture
def other_host() -> Iterator[FakeApi]:
    for server in _server():
        yield FakeApi(server)


class DripServer:
    """A server on loopback that reads a request, then sends an endless header block one byte
    at a time: every read gets a byte long before any timeout, and no answer ever ends."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.connections = 0
        self.closed = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.2)
        self.acceptor = threading.Thread(target=self._accept, daemon=True)
        self.acceptor.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            threading.Thread(target=self._drip, args=(conn,), daemon=True).start()

    def _drip(self, conn: socket.socket) -> None:
        with conn:
            received = b""
            while b"\r\n\r\n" not in received:
                received += conn.recv(4096) or b"\r\n\r\n"
            answer = b"HTTP/1.1 200 OK\r\n"
            while not self.closed.is_set():
                try:
                    conn.sendall(answer[:1])
                except OSError:
                    return  # the client gave up
                answer = answer[1:] or b"X-Drip: on\r\n"
                time.sleep(self.interval)

    def close(self) -> None:
        self.closed.set()
        self.acceptor.join()
        self.listener.close()


@pytest.fixture
def drip() -> Iterator[DripServer]:
    server = DripServer()
    yield server
    server.close()


def verify_bounded(findings: list[Finding], settings: verify.Settings, within: float) -> None:
    """verify_findings, failing the test (not hanging it) when it takes longer than ``within``
    seconds: generous, it tells an end from none, not a speed."""
    worker = threading.Thread(target=verify.verify_findings, args=(findings, settings),
                              daemon=True)
    worker.start()
    worker.join(within)
    assert not worker.is_alive(), f"verification still running after {within} s"


def findings_in(*texts: str, rules: list[Rule] | None = None) -> list[Finding]:
    blobs = (Blob(text.encode(), Origin("file", f"f{i}.txt")) for i, text in enumerate(texts))
    engine = Engine(rules or load_builtin_rules())
    return scan.Pipeline(engine, annotate=verify.context_hints).run(iter(blobs)).findings


def settings(api: FakeApi, **changes: object) -> verify.Settings:
    return verify.Settings(api_base=api.url, **{"backoff_base": 0.01, **changes})  # type: ignore[arg-type]


def by_key(findings: list[Finding]) -> dict[str, Finding]:
    return {f.secret: f for f in findings}


LIVE_200, LIVE_403, DEAD = make_key("live", 200), make_key("live", 403), make_key("live", 401)
TEST_200, TEST_401 = make_key("test", 200), make_key("test", 401)
FIREWALL, OUTAGE = make_key("live", 4030), make_key("live", 500)


def test_statuses_and_severities_follow_the_api(api: FakeApi) -> None:
    api.plan(LIVE_200, Reply(200))
    api.plan(LIVE_403, Reply(403))
    api.plan(TEST_200, Reply(200))
    api.plan(FIREWALL, Reply(403, api=False))
    api.plan(OUTAGE, Reply(500))
    keys = [LIVE_200, LIVE_403, DEAD, TEST_200, TEST_401, FIREWALL, OUTAGE]
    findings = findings_in("\n".join(keys))
    verify.verify_findings(findings, settings(api))
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
        assert result["org_id"] == verify.PLACEHOLDER_ORG_ID
        assert result["org_id_source"] == "placeholder"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", result["checked_at"])
        assert result["detail"] and key not in result["detail"]
    assert "X-RateLimit" in found[FIREWALL].verification["detail"]  # type: ignore[index]
    for method, path, sent in api.requests:
        assert method == "HEAD"
        assert path == f"/v1/api/{verify.PLACEHOLDER_ORG_ID}/environments"
        assert sent in keys
    assert sorted(api.count(k) for k in keys) == [1] * len(keys)


def test_each_distinct_key_is_requested_once(api: FakeApi) -> None:
    api.plan(LIVE_200, Reply(200))
    text = f"a={LIVE_200}\nb={LIVE_200}\nc={DEAD}\n"
    findings = findings_in(text, text, text)
    assert len(findings) == 9
    verify.verify_findings(findings, settings(api, workers=4))
    assert api.count(LIVE_200) == 1 and api.count(DEAD) == 1
    assert [f.verification["status"] for f in findings if f.secret == LIVE_200] == ["live"] * 6  # type: ignore[index]


def test_the_cache_is_per_rule(api: FakeApi) -> None:
    api.plan(LIVE_200, Reply(200))
    builtin = load_builtin_rules()
    mine = Rule(id="my-hesedvid", description="mine", pattern=builtin[0].pattern,
                keywords=builtin[0].keywords, key_type="live", severity="medium",
                remediation="rotate")
    findings = findings_in(LIVE_200, rules=[*builtin, mine])
    verify.verify_findings(findings, settings(api))
    assert api.count(LIVE_200) == 2
    assert {f.rule_id: f.severity for f in findings} == {
        "hesedvid-live-key": "critical", "my-hesedvid": "critical"}


@pytest.mark.parametrize(("name", "value"), [
    ("Retry-After", lambda: "7"),
    ("Retry-After",
     lambda: format_datetime(datetime.now(UTC) + timedelta(seconds=8), usegmt=True)),
    ("X-RateLimit-Reset", lambda: "7"),
    ("X-RateLimit-Reset", lambda: str(int(time.time()) + 8)),
])
def test_429_with_retry_after_then_success(
    api: FakeApi, name: str, value: Callable[[], str]
) -> None:
    api.plan(LIVE_200, Reply(429, headers={name: value()}), Reply(200))
    waits: list[float] = []
    findings = findings_in(LIVE_200)
    verify.verify_findings(findings, settings(api), sleep=waits.append)
    assert findings[0].verification["status"] == "live"  # type: ignore[index]
    assert api.count(LIVE_200) == 2
    assert len(waits) == 1 and 5.5 < waits[0] <= 8


def test_429_forever_is_unknown_after_the_retries(api: FakeApi) -> None:
    api.plan(LIVE_200, Reply(429, headers={"Retry-After": "1"}))
    waits: list[float] = []
    findings = findings_in(LIVE_200)
    verify.verify_findings(findings, settings(api, backoff_base=1.0), sleep=waits.append)
    result = findings[0].verification
    assert result is not None
    assert (result["status"], result["http_status"]) == ("unknown", 429)
    assert findings[0].severity == "high"
    assert api.count(LIVE_200) == 4  # the first try and 3 retries
    # Exponential backoff with jitter (factor 0.5 to 1.5), never shorter than Retry-After.
    assert len(waits) == 3 and all(w >= 0.99 for w in waits)
    assert 1.99 <= waits[2] <= 6


def test_429_that_asks_for_too_long_a_wait_is_unknown_at_once(api: FakeApi) -> None:
    api.plan(LIVE_200, Reply(429))  # X-RateLimit-Reset is an hour away
    waits: list[float] = []
    findings = findings_in(LIVE_200)
    verify.verify_findings(findings, settings(api), sleep=waits.append)
    assert findings[0].verification["status"] == "unknown"  # type: ignore[index]
    assert api.count(LIVE_200) == 1 and waits == []


def test_a_slow_server_is_unknown(api: FakeApi) -> None:
    api.plan(LIVE_200, Reply(200, delay=1.5))
    findings = findings_in(LIVE_200)
    verify.verify_findings(findings, settings(api, timeout=0.2))
    result = findings[0].verification
    assert result is not None
    assert (result["status"], result["http_status"]) == ("unknown", None)
    assert "no answer within 0.2 s" in result["detail"]


def test_a_dripping_server_is_unknown_at_the_key_deadline(drip: DripServer) -> None:
    findings = findings_in(LIVE_200)
    settings = verify.Settings(api_base=drip.url, timeout=3.0, key_deadline=1.0)
    verify_bounded(findings, settings, within=30)
    result = findings[0].verification
    assert result is not None
    assert (result["status"], result["http_status"]) == ("unknown", None)
    assert result["detail"] == "no complete answer within the 1 s deadline per key"
    assert findings[0].severity == "high"


def test_the_run_deadline_leaves_the_keys_not_asked_unknown(drip: DripServer) -> None:
    keys = (LIVE_200, LIVE_403, DEAD)
    findings = findings_in(" ".join(keys))
    # One worker: the first key holds it until the run's deadline; the others never go out.
    settings = verify.Settings(api_base=drip.url, workers=1, timeout=3.0, key_deadline=60.0,
                               run_deadline=1.0)
    verify_bounded(findings, settings, within=30)
    details = sorted(f.verification["detail"] for f in findings)  # type: ignore[index]
    assert details == ["no complete answer within the 1 s deadline of the run",
                       *["not sent: the 1 s deadline of the run came before its turn"] * 2]
    assert {f.verification["status"] for f in findings} == {"unknown"}  # type: ignore[index]
    assert drip.connections == 1


@pytest.mark.parametrize(("retry_after", "key_deadline", "detail"), [
    # The cap on Retry-After: 59 s made two keys take 177 s.
    ("59", 600.0, "rate limited (HTTP 429) for 59 s, longer than the 10 s hvscan waits"),
    ("5", 3.0, "rate limited (HTTP 429) for 5 s, past the 3 s deadline per key"),
])
def test_a_429_asking_too_long_a_wait_is_unknown_at_once(
    api: FakeApi, retry_after: str, key_deadline: float, detail: str
) -> None:
    api.plan(LIVE_200, Reply(429, headers={"Retry-After": retry_after}), Reply(200))
    waits: list[float] = []
    findings = findings_in(LIVE_200)
    verify.verify_findings(findings, settings(api, key_deadline=key_deadline),
                           sleep=waits.append)
    result = findings[0].verification
    assert result is not None
    assert (result["status"], result["http_status"], result["detail"]) == (
        "unknown", 429, detail)
    assert api.count(LIVE_200) == 1 and waits == []


def test_the_pacer_gives_no_turn_past_the_deadline() -> None:
    import httpx

    waits: list[float] = []
    pacer = verify.Pacer(verify.Settings(), verify.threading.Event(), waits.append)
    pacer.hold(5.0)
    assert not pacer.wait(time.monotonic() + 4.0)
    assert pacer.wait(time.monotonic() + 6.0) and len(waits) == 1
    assert not pacer.wait(time.monotonic() - 1.0)
    pacer.observe(httpx.Headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3"}))
    assert pacer.wait(math.inf) and not pacer.stopped


def test_a_refused_connection_is_unknown(api: FakeApi) -> None:
    findings = findings_in(LIVE_200)
    url = api.url
    api.server.stop()
    verify.verify_findings(findings, verify.Settings(api_base=url))
    result = findings[0].verification
    assert result is not None and result["status"] == "unknown"
    assert result["detail"] == "request failed: ConnectError"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("where", ["other port", "other host name"])
def test_redirect_to_another_host_is_not_followed(
    api: FakeApi, other_host: FakeApi, status: int, where: str
) -> None:
    # The key goes to the configured API base only: whatever the answer, it is never sent on.
    other_host.plan(LIVE_200, Reply(200))
    origin = other_host.url if where == "other port" else f"http://localhost:{api.server.port}"
    api.plan(LIVE_200, Reply(status, headers={"Location": f"{origin}/v1/api/x/environments"}))
    findings = findings_in(LIVE_200)
    verify.verify_findings(findings, settings(api))
    result = findings[0].verification
    assert result is not None and (result["status"], result["http_status"]) == ("unknown", status)
    assert result["detail"] == f"HTTP {status} redirect to another host: not followed"
    assert other_host.requests == [] and api.count(LIVE_200) == 1


def test_redirect_on_the_same_host_is_followed(api: FakeApi) -> None:
    api.plan(LIVE_200, Reply(307, headers={"Location": "/v2/environments"}), Reply(200))
    findings = findings_in(LIVE_200)
    verify.verify_findings(findings, settings(api))
    assert findings[0].verification["status"] == "live"  # type: ignore[index]
    assert [path for _, path, _ in api.requests][-1] == "/v2/environments"


def test_401_without_the_api_headers_is_not_invalid(api: FakeApi) -> None:
    api.plan(DEAD, Reply(401, api=False))
    findings = findings_in(DEAD)
    verify.verify_findings(findings, settings(api))
    assert findings[0].verification["status"] == "unknown"  # type: ignore[index]
    assert findings[0].severity == "high"


def test_org_id_from_the_content_near_the_key(api: FakeApi) -> None:
    api.plan(LIVE_200, Reply(200))
    api.plan(TEST_200, Reply(200))
    near_url = f'url = "https://api.hesedvid.com/v1/api/acme-7/videos"\nkey = "{LIVE_200}"\n'
    near_assignment = f'HESEDVID_ORG_ID="org_9f3"\nHESEDVID_API_KEY="{TEST_200}"\n'
    findings = by_key(findings_in(near_url, near_assignment))
    verify.verify_findings(list(findings.values()), settings(api))
    assert findings[LIVE_200].verification["org_id"] == "acme-7"  # type: ignore[index]
    assert findings[LIVE_200].verification["org_id_source"] == "content"  # type: ignore[index]
    assert findings[TEST_200].verification["org_id"] == "org_9f3"  # type: ignore[index]
    assert {path for _, path, _ in api.requests} == {
        "/v1/api/acme-7/environments", "/v1/api/org_9f3/environments"}


def test_org_id_option_wins(api: FakeApi) -> None:
    api.plan(LIVE_200, Reply(200))
    findings = findings_in(f"/v1/api/acme-7/videos {LIVE_200}")
    verify.verify_findings(findings, settings(api, org_id="mine"))
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
    assert verify.context_hints(data, match).get("org_id") == expected


def test_a_key_is_never_taken_for_an_org_id() -> None:
    data = f"org_id = {TEST_200} {LIVE_200}".encode()
    for match in Engine(load_builtin_rules()).scan(data):
        assert verify.context_hints(data, match) == {}


def test_secrets_of_other_rules_are_never_sent(api: FakeApi) -> None:
    other = Rule(id="other-token", description="other", pattern=r"tok_[a-z0-9]{20}",
                 keywords=(b"tok_",), key_type="token", severity="medium", remediation="rotate")
    findings = findings_in("tok_" + "a1b2c3d4e5f6g7h8i9j0", rules=[other])
    verify.verify_findings(findings, settings(api))
    assert api.requests == []
    result = findings[0].verification
    assert result is not None and result["status"] == "unknown"
    assert findings[0].severity == "medium"


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
    assert verify.verified_severity(base, key_type, status) == expected


def test_pacer_spreads_requests_when_few_remain() -> None:
    import httpx

    waits: list[float] = []
    pacer = verify.Pacer(verify.Settings(), verify.threading.Event(), waits.append)
    pacer.observe(httpx.Headers({"X-RateLimit-Remaining": "2",
                                 "X-RateLimit-Reset": str(time.time() + 30)}))
    assert pacer.wait(math.inf) and pacer.wait(math.inf)
    assert len(waits) == 1 and 9 < waits[0] <= 10
    relaxed = verify.Pacer(verify.Settings(), verify.threading.Event(), waits.append)
    relaxed.observe(httpx.Headers({"X-RateLimit-Remaining": "11", "X-RateLimit-Reset": "60"}))
    assert relaxed.wait(math.inf) and relaxed.wait(math.inf) and len(waits) == 1


@pytest.mark.parametrize("base", [
    "https://api.hesedvid.com", "http://127.0.0.1:8080", "http://localhost:1/prefix/",
    "http://[::1]:9",
])
def test_api_base_accepted(base: str) -> None:
    assert verify.check_api_base(base) == base.rstrip("/")


@pytest.mark.parametrize("base", [
    "http://api.hesedvid.com", "ftp://127.0.0.1", "https://user:pw@api.hesedvid.com",
    "https://api.hesedvid.com/?a=1", "api.hesedvid.com", "http://127.0.0.1.example.com",
])
def test_api_base_rejected(base: str) -> None:
    with pytest.raises(verify.VerifyError):
        verify.check_api_base(base)


def test_parse_statuses() -> None:
    assert verify.parse_statuses("live, invalid") == ["live", "invalid"]
    for bad in ("", "verified", "live,dead"):
        with pytest.raises(verify.VerifyError):
            verify.parse_statuses(bad)


def test_disk_cache_keeps_answers_not_keys(api: FakeApi, tmp_path: Path) -> None:
    api.plan(LIVE_200, Reply(200))
    api.plan(OUTAGE, Reply(503))
    path = tmp_path / "cache.json"
    for run in range(2):
        findings = by_key(findings_in(f"{LIVE_200} {DEAD} {OUTAGE}"))
        cache = verify.DiskCache.load(path, ttl=3600)
        verify.verify_findings(list(findings.values()), settings(api), cache)
        assert findings[LIVE_200].verification["cached"] is (run == 1)  # type: ignore[index]
        assert findings[LIVE_200].verification["status"] == "live"  # type: ignore[index]
        assert findings[DEAD].verification["status"] == "invalid"  # type: ignore[index]
    # Live and invalid answers were asked once; an outage is asked again on every run.
    assert (api.count(LIVE_200), api.count(DEAD), api.count(OUTAGE)) == (1, 1, 2)
    text = path.read_text()
    for key in (LIVE_200, DEAD, OUTAGE):
        assert key not in text and key[8:] not in text
    stored = json.loads(text)["entries"]
    assert sorted(e["status"] for e in stored.values()) == ["invalid", "live"]
    assert all(set(e) == {"status", "http_status", "time"} for e in stored.values())
    assert path.stat().st_mode & 0o077 == 0


def test_disk_cache_entries_expire(api: FakeApi, tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    for _ in range(2):
        findings = findings_in(DEAD)
        verify.verify_findings(findings, settings(api), verify.DiskCache.load(path, ttl=0))
    assert api.count(DEAD) == 2


def _save_after_all_loaded(path: Path, cache_id: str, barrier: Any) -> None:
    cache = verify.DiskCache.load(path, ttl=3600)
    barrier.wait()  # every process has read the file before any writes it
    cache.put(cache_id, verify.classify(200, True))
    cache.save()


def test_concurrent_runs_sharing_a_cache_merge_their_answers(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    earlier = verify.DiskCache.load(path, ttl=3600)
    earlier.put("earlier", verify.classify(401, True))
    earlier.save()
    context = multiprocessing.get_context("fork")
    runs = 6
    barrier = context.Barrier(runs)
    processes = [context.Process(target=_save_after_all_loaded,
                                 args=(path, f"run-{i}", barrier)) for i in range(runs)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [process.exitcode for process in processes] == [0] * runs
    entries = verify.DiskCache.load(path, ttl=3600).entries
    assert sorted(entries) == ["earlier", *(f"run-{i}" for i in range(runs))]
    assert path.stat().st_mode & 0o077 == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.json", "cache.json.lock"]


def test_disk_cache_keeps_the_newer_answer(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    older, newer = (verify.DiskCache.load(path, ttl=3600) for _ in range(2))
    newer.put("k", verify.classify(401, True))
    older.put("k", replace(verify.classify(200, True), checked_at=time.time() - 60))
    newer.save()
    older.save()
    assert verify.DiskCache.load(path, ttl=3600).entries["k"]["status"] == "invalid"


def test_disk_cache_that_is_not_one_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    for text in ("not json", "[1]", '{"version": 99, "entries": {}}'):
        path.write_text(text)
        with pytest.raises(verify.VerifyError):
            verify.DiskCache.load(path, ttl=60)


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
    verify.verify_findings(findings, settings(api, timeout=0.3))
    out = capsys.readouterr()
    shown = caplog.text + out.out + out.err + repr(findings) + json.dumps(
        [f.verification for f in findings])
    assert "HEAD" in caplog.text  # httpx did log its requests, without the key
    for key in keys:
        assert key not in shown and key[8:] not in shown


# Through the console script -------------------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(f'LIVE = "{LIVE_200}"\nDEAD = "{DEAD}"\n')
    (tmp_path / "dev.env").write_text(f"HV={TEST_401}\nAGAIN={LIVE_200}\nDOWN={OUTAGE}\n")
    return tmp_path


def test_cli_verify_json_report(api: FakeApi, repo: Path, run_hvscan: Run) -> None:
    api.plan(LIVE_200, Reply(200))
    api.plan(OUTAGE, Reply(500))
    report_file, cache_file = repo / "report.json", repo / "cache.json"
    done = run_hvscan("dir", "app.py", "dev.env", "--verify", "--api-base", api.url,
                      "--format", "json", "-o", report_file, "--verify-cache", cache_file,
                      cwd=repo)
    assert done.returncode == 1, done.stderr
    report = json.loads(report_file.read_text())
    results = {(f["path"], f["line"]): (f["verification"]["status"], f["severity"])
               for f in report["findings"]}
    assert results == {
        ("app.py", 1): ("live", "critical"),
        ("app.py", 2): ("invalid", "low"),
        ("dev.env", 1): ("invalid", "low"),
        ("dev.env", 2): ("live", "critical"),
        ("dev.env", 3): ("unknown", "high"),
    }
    assert [api.count(k) for k in (LIVE_200, DEAD, TEST_401, OUTAGE)] == [1, 1, 1, 1]
    outputs = done.stdout + done.stderr + report_file.read_bytes() + cache_file.read_bytes()
    for key in (LIVE_200, DEAD, TEST_401, OUTAGE):
        assert key.encode() not in outputs


def test_cli_text_report_shows_the_verification(api: FakeApi, repo: Path, run_hvscan: Run) -> None:
    api.plan(LIVE_200, Reply(200))
    done = run_hvscan("dir", "app.py", "--verify", cwd=repo, env={"HESEDVID_API_BASE": api.url})
    out = done.stdout.decode()
    assert done.returncode == 1
    assert "hesedvid-live-key [critical]" in out and "verification: live (HTTP 200" in out
    assert "verification: invalid (HTTP 401" in out
    assert "verification: 1 invalid, 1 live" in out
    assert LIVE_200 not in out + done.stderr.decode()


@pytest.mark.parametrize(("filters", "shown", "code"), [
    (["--only-verified"], {"live"}, 1),
    (["--results", "invalid"], {"invalid"}, 1),
    (["--results", "invalid", "--fail-on", "medium"], {"invalid"}, 0),
    (["--results", "unknown,live", "--fail-on", "critical"], {"live", "unknown"}, 1),
    (["--results", "unknown", "--fail-on", "critical"], {"unknown"}, 0),
])
def test_cli_filters_and_exit_codes(api: FakeApi, repo: Path, run_hvscan: Run,
                                    filters: list[str], shown: set[str], code: int) -> None:
    api.plan(LIVE_200, Reply(200))
    api.plan(OUTAGE, Reply(500))
    done = run_hvscan("dir", ".", "--verify", "--api-base", api.url, "--format", "json",
                      *filters, cwd=repo)
    report = json.loads(done.stdout)
    assert done.returncode == code, done.stderr
    assert {f["verification"]["status"] for f in report["findings"]} == shown
    assert report["stats"]["findings"] + report["stats"]["findings_filtered"] == 5


def test_cli_only_verified_with_no_live_key_exits_clean(
    api: FakeApi, tmp_path: Path, run_hvscan: Run
) -> None:
    (tmp_path / "old.txt").write_text(DEAD)
    done = run_hvscan("dir", ".", "--verify", "--only-verified", "--api-base", api.url,
                      cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "0 findings" in done.stdout.decode() and "1 not shown" in done.stdout.decode()


def test_cli_org_id_option_and_environment(api: FakeApi, repo: Path, run_hvscan: Run) -> None:
    run_hvscan("dir", "app.py", "--verify", "--api-base", api.url, "--org-id", "acme", cwd=repo)
    run_hvscan("dir", "app.py", "--verify", "--api-base", api.url, cwd=repo,
               env={"HESEDVID_ORG_ID": "from-env"})
    assert {path for _, path, _ in api.requests} == {
        "/v1/api/acme/environments", "/v1/api/from-env/environments"}


def test_cli_honours_the_proxy_environment(
    other_host: FakeApi, repo: Path, run_hvscan: Run
) -> None:
    # The API base is a closed port: only the proxy can answer.
    other_host.plan(LIVE_200, Reply(200))
    done = run_hvscan("dir", "app.py", "--verify", "--api-base", "http://127.0.0.1:9",
                      "--format", "json", cwd=repo, env={"HTTP_PROXY": other_host.url})
    statuses = [f["verification"]["status"] for f in json.loads(done.stdout)["findings"]]
    assert statuses == ["live", "invalid"]
    assert other_host.count(LIVE_200) == 1


@pytest.mark.parametrize(("args", "message"), [
    (["--only-verified"], "--only-verified needs --verify"),
    (["--results", "live"], "--results needs --verify"),
    (["--verify", "--results", "verified"], "expected a comma-separated list"),
    (["--verify", "--only-verified", "--results", "live"], "either --only-verified"),
    (["--verify", "--api-base", "http://api.hesedvid.com"], "only for loopback hosts"),
    (["--verify", "--org-id", "a/b"], "is not an org ID"),
])
def test_cli_bad_options_exit_2(repo: Path, run_hvscan: Run, args: list[str],
                                message: str) -> None:
    done = run_hvscan("dir", ".", *args, cwd=repo)
    assert done.returncode == 2
    assert message in done.stderr.decode() and "Traceback" not in done.stderr.decode()
    assert done.stdout == b""


def test_cli_bad_cache_file_exits_2(api: FakeApi, repo: Path, run_hvscan: Run) -> None:
    (repo / "cache.json").write_text("garbage")
    done = run_hvscan("dir", "app.py", "--verify", "--api-base", api.url, "--verify-cache",
                      "cache.json", cwd=repo)
    assert done.returncode == 2
    assert done.stderr.decode().startswith("hvscan: error: ") and api.requests == []


def run_bounded(hvscan_exe: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """The console script, failing the test (not hanging it) when it does not end in a minute:
    generous, it tells a bounded run from an unbounded one, not a speed."""
    return subprocess.run([hvscan_exe, *args], cwd=cwd, capture_output=True, timeout=60,
                          check=False)


def statuses_and_details(done: subprocess.CompletedProcess[bytes]) -> list[tuple[str, str]]:
    return [(f["verification"]["status"], f["verification"]["detail"])
            for f in json.loads(done.stdout)["findings"]]


def test_cli_a_dripping_server_holds_a_key_no_longer_than_its_deadline(
    drip: DripServer, repo: Path, hvscan_exe: str
) -> None:
    done = run_bounded(hvscan_exe, "dir", "app.py", "--verify", "--api-base", drip.url,
                       "--verify-timeout", "3", "--verify-key-deadline", "2", "--format",
                       "json", cwd=repo)
    assert done.returncode == 1, done.stderr
    assert statuses_and_details(done) == [
        ("unknown", "no complete answer within the 2 s deadline per key")] * 2


def test_cli_the_run_deadline_ends_verification(
    drip: DripServer, repo: Path, hvscan_exe: str
) -> None:
    done = run_bounded(hvscan_exe, "dir", ".", "--verify", "--api-base", drip.url,
                       "--verify-workers", "2", "--verify-deadline", "2", "--format", "json",
                       cwd=repo)
    assert done.returncode == 1, done.stderr
    # Two workers: two keys are cut short, the other two never sent (one key is twice there).
    assert sorted(statuses_and_details(done)) == [
        *[("unknown", "no complete answer within the 2 s deadline of the run")] * 3,
        *[("unknown", "not sent: the 2 s deadline of the run came before its turn")] * 2]
    assert drip.connections == 2


def test_cli_long_retry_after_is_not_waited_for(api: FakeApi, repo: Path, hvscan_exe: str
                                                ) -> None:
    for key in (LIVE_200, DEAD):
        api.plan(key, Reply(429, headers={"Retry-After": "59"}), Reply(200))
    done = run_bounded(hvscan_exe, "dir", "app.py", "--verify", "--api-base", api.url,
                       "--format", "json", cwd=repo)
    assert done.returncode == 1, done.stderr
    assert [status for status, _ in statuses_and_details(done)] == ["unknown"] * 2
    assert api.count(LIVE_200) == api.count(DEAD) == 1


@pytest.fixture
def git_repo(tmp_path: Path, gitenv: dict[str, str]) -> GitRepo:
    """A repository with a key in its history and another one staged."""
    repository = GitRepo(tmp_path / "git", gitenv)
    repository.commit_file("old.py", f'KEY = "{DEAD}"\n')
    repository.write("new.py", f'KEY = "{LIVE_200}"\n')
    repository.add("new.py")
    return repository


SCANS = [["dir", "."], ["dir", ".", "--format", "json"], ["stdin"], ["staged"], ["git"]]


@pytest.mark.parametrize("args", SCANS, ids=" ".join)
def test_cli_without_verify_nothing_is_sent(
    api: FakeApi, git_repo: GitRepo, run_hvscan: Run, args: list[str]
) -> None:
    env = {**git_repo.env, "HESEDVID_API_BASE": api.url, "HVSCAN_API_BASE": api.url,
           "HESEDVID_ORG_ID": "acme"}
    done = run_hvscan(*args, cwd=git_repo.path, env=env, input=f"{LIVE_200}\n".encode())
    assert done.returncode == 1, done.stderr
    assert api.requests == []


@pytest.mark.parametrize("args", SCANS, ids=" ".join)
@pytest.mark.parametrize(("variable", "value", "message"), [
    ("HESEDVID_API_BASE", "http://staging.internal", "only for loopback hosts"),
    ("HVSCAN_API_BASE", "ftp://api.example", "is not an http(s) URL"),
    ("HESEDVID_ORG_ID", "a/b", "is not an org ID"),
])
def test_cli_verification_variables_are_read_only_with_verify(
    git_repo: GitRepo, run_hvscan: Run, args: list[str], variable: str, value: str,
    message: str,
) -> None:
    env = {**git_repo.env, variable: value}
    stdin = f"{LIVE_200}\n".encode()
    done = run_hvscan(*args, cwd=git_repo.path, env=env, input=stdin)
    assert done.returncode == 1, done.stderr
    done = run_hvscan(*args, "--verify", cwd=git_repo.path, env=env, input=stdin)
    assert done.returncode == 2 and done.stdout == b""
    error = done.stderr.decode()
    assert error.startswith(f"hvscan: error: environment variable {variable}: {value!r}")
    assert message in error and error.count("\n") == 1


def test_httpx_is_imported_only_with_verify(repo: Path) -> None:
    code = ("import sys\nfrom hvscan.cli import main\nsys.argv[1:] = ['dir', 'app.py']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('httpx' in sys.modules, 'hvscan.verify' in sys.modules, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True,
                          check=False)
    assert done.stderr.decode().strip().splitlines()[-1] == "False False"
