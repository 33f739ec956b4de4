"""Fixtures of the verification tests: no proxy or API variables from the caller, fake APIs on
loopback, a server that never finishes an answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from verify_servers import PROXY_VARIABLES, DripServer, FakeApi, serving


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("HESEDVID_API_BASE", raising=False)
    monkeypatch.delenv("HESEDVID_ORG_ID", raising=False)


@pytest.fixture
def api() -> Iterator[FakeApi]:
    for server in serving():
        yield FakeApi(server)


@pytest.fixture
def other_host() -> Iterator[FakeApi]:
    for server in serving():
        yield FakeApi(server)


@pytest.fixture
def drip() -> Iterator[DripServer]:
    server = DripServer()
    yield server
    server.close()
