"""The HTTP client against a real server on loopback: rate limits and retries, slow and dripping
servers, the key's and the run's deadlines, refused connections and redirects."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from verify_servers import (
    DEAD,
    LIVE_200,
    LIVE_403,
    DripServer,
    FakeApi,
    Reply,
    findings_in,
    settings,
    verify_bounded,
    verify_findings,
)

from hvscan.verify import Settings


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
    verify_findings(findings, settings(api), sleep=waits.append)
    assert findings[0].verification["status"] == "live"  # type: ignore[index]
    assert api.count(LIVE_200) == 2
    assert len(waits) == 1 and 5.5 < waits[0] <= 8


def test_429_forever_is_unknown_after_the_retries(api: FakeApi) -> None:
    api.plan(LIVE_200, Reply(429, headers={"Retry-After": "1"}))
    waits: list[float] = []
    findings = findings_in(LIVE_200)
    verify_findings(findings, settings(api, backoff_base=1.0), sleep=waits.append)
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
    verify_findings(findings, settings(api), sleep=waits.append)
    assert findings[0].verification["status"] == "unknown"  # type: ignore[index]
    assert api.count(LIVE_200) == 1 and waits == []


def test_a_slow_server_is_unknown(api: FakeApi) -> None:
    api.plan(LIVE_200, Reply(200, delay=1.5))
    findings = findings_in(LIVE_200)
    verify_findings(findings, settings(api, timeout=0.2))
    result = findings[0].verification
    assert result is not None
    assert (result["status"], result["http_status"]) == ("unknown", None)
    assert "no answer within 0.2 s" in result["detail"]


def test_a_dripping_server_is_unknown_at_the_key_deadline(drip: DripServer) -> None:
    findings = findings_in(LIVE_200)
    settings = Settings(api_base=drip.url, timeout=3.0, key_deadline=1.0)
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
    settings = Settings(api_base=drip.url, workers=1, timeout=3.0, key_deadline=60.0,
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
    verify_findings(findings, settings(api, key_deadline=key_deadline),
                           sleep=waits.append)
    result = findings[0].verification
    assert result is not None
    assert (result["status"], result["http_status"], result["detail"]) == (
        "unknown", 429, detail)
    assert api.count(LIVE_200) == 1 and waits == []


def test_a_refused_connection_is_unknown(api: FakeApi) -> None:
    findings = findings_in(LIVE_200)
    url = api.url
    api.server.stop()
    verify_findings(findings, Settings(api_base=url))
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
    verify_findings(findings, settings(api))
    result = findings[0].verification
    assert result is not None and (result["status"], result["http_status"]) == ("unknown", status)
    assert result["detail"] == f"HTTP {status} redirect to another host: not followed"
    assert other_host.requests == [] and api.count(LIVE_200) == 1


def test_redirect_on_the_same_host_is_followed(api: FakeApi) -> None:
    api.plan(LIVE_200, Reply(307, headers={"Location": "/v2/environments"}), Reply(200))
    findings = findings_in(LIVE_200)
    verify_findings(findings, settings(api))
    assert findings[0].verification["status"] == "live"  # type: ignore[index]
    assert [path for _, path, _ in api.requests][-1] == "/v2/environments"


class Stopped(BaseException):
    """What the test's signal raises in the main thread, as SIGTERM raises runner.Terminated."""


def test_a_stopped_run_shuts_its_requests_down_at_once(drip: DripServer) -> None:
    # Stopped (Ctrl-C, SIGTERM) while keys are asked about, from a server that never finishes
    # an answer: the requests under way end at once, not at their 60 s deadline, which the
    # interpreter would wait for (it joins the threads sending them before it exits).
    findings = findings_in(" ".join((LIVE_200, LIVE_403, DEAD)))
    settings = Settings(api_base=drip.url, workers=2, timeout=3.0, key_deadline=60.0)

    def stop(signum: int, frame: object) -> None:
        raise Stopped

    signalled: list[float] = []

    def signal_when_asked() -> None:
        while drip.connections < 2:
            time.sleep(0.05)
        signalled.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGUSR1)

    previous = signal.signal(signal.SIGUSR1, stop)
    try:
        threading.Thread(target=signal_when_asked, daemon=True).start()
        with pytest.raises(Stopped):
            verify_findings(findings, settings)
    finally:
        signal.signal(signal.SIGUSR1, previous)
    # At once: generous, it tells an end from a wait for the deadline, not a speed.
    assert time.monotonic() - signalled[0] < 10
    assert not any(t.name.startswith("hvscan-verify") for t in threading.enumerate())
    assert drip.connections == 2  # the third key was never sent
