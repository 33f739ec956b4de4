"""What the verification tests share: a real HTTP server on loopback that behaves as the vendor
documents (and as proxies, firewalls and outages do), a server that never finishes an answer,
findings made by scanning text, and the keys they use."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from keygen import make_key
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from hvscan import scan
from hvscan.engine import Engine
from hvscan.model import Finding, Origin
from hvscan.rules import Rule, Verify, load_builtin_rules
from hvscan.sources import Blob
from hvscan.verify import DiskCache, Settings, step
from hvscan.verify.org import context_hints

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                   "all_proxy", "NO_PROXY", "no_proxy")


@dataclass
class Reply:
    status: int
    api: bool = True  # carries the API's X-RateLimit-* headers
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class FakeApi:
    """The HesedVid API as documented: answers by key (and path, when planned for one),
    rate-limit headers on every response. A key's replies are served in order; the last one
    repeats. Unknown keys get 401. ``spans``: when each request came and was answered."""

    def __init__(self, server: HTTPServer) -> None:
        self.server = server
        self.plans: dict[tuple[str, str | None], list[Reply]] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.spans: list[tuple[float, float]] = []
        server.expect_request(re.compile(".*")).respond_with_handler(self.handle)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.port}"

    def plan(self, key: str, *replies: Reply, path: str | None = None) -> None:
        self.plans[key, path] = list(replies)

    def count(self, key: str) -> int:
        return sum(1 for _, _, sent in self.requests if sent == key)

    def handle(self, request: Request) -> Response:
        came = time.time()
        key = request.headers.get("X-Api-Key")
        self.requests.append((request.method, request.path, key))
        replies = self.plans.get((key or "", request.path)) or self.plans.get((key or "", None),
                                                                               [Reply(401)])
        reply = replies.pop(0) if len(replies) > 1 else replies[0]
        time.sleep(reply.delay)
        self.spans.append((came, time.time()))
        headers = {"X-RateLimit-Limit": "10000", "X-RateLimit-Remaining": "9999",
                   "X-RateLimit-Reset": str(int(time.time()) + 3600)} if reply.api else {}
        headers.update(reply.headers)
        return Response(status=reply.status, headers=headers)


def serving() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    yield server
    if server.is_running():
        server.stop()


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


def builtin_verify() -> Verify:
    """The built-in rules' verify table (both rules share it)."""
    specs = {rule.verify for rule in load_builtin_rules()}
    assert len(specs) == 1
    (spec,) = specs
    assert spec is not None
    return spec


SPEC = builtin_verify()
PLACEHOLDER_ORG_ID = SPEC.org_id_placeholder


def verify_findings(findings: list[Finding], settings: Settings, cache: DiskCache | None = None,
                    *, sleep: Callable[[float], object] | None = None,
                    rules: Sequence[Rule] | None = None) -> None:
    """Verify ``findings`` as the scan's rules say (default: the built-in rules)."""
    step.verify_findings(findings, load_builtin_rules() if rules is None else rules, settings,
                         cache, sleep=sleep)


def verify_bounded(findings: list[Finding], settings: Settings, within: float) -> None:
    """verify_findings, failing the test (not hanging it) when it takes longer than ``within``
    seconds: generous, it tells an end from none, not a speed."""
    worker = threading.Thread(target=verify_findings, args=(findings, settings), daemon=True)
    worker.start()
    worker.join(within)
    assert not worker.is_alive(), f"verification still running after {within} s"


def findings_in(*texts: str, rules: list[Rule] | None = None) -> list[Finding]:
    blobs = (Blob(text.encode(), Origin("file", f"f{i}.txt")) for i, text in enumerate(texts))
    engine = Engine(rules or load_builtin_rules())
    return scan.Pipeline(engine, annotate=context_hints).run(iter(blobs)).findings


def settings(api: FakeApi, **changes: object) -> Settings:
    return Settings(api_base=api.url, **{"backoff_base": 0.01, **changes})  # type: ignore[arg-type]


def by_key(findings: list[Finding]) -> dict[str, Finding]:
    return {f.secret: f for f in findings}


LIVE_200, LIVE_403, DEAD = make_key("live", 200), make_key("live", 403), make_key("live", 401)
TEST_200, TEST_401 = make_key("test", 200), make_key("test", 401)
FIREWALL, OUTAGE = make_key("live", 4030), make_key("live", 500)


# Another vendor's key type, verified from rule data alone.
ACME_RULES = """
[[rules]]
id = "acme-token"
description = "Acme API token"
regex = '''acme_(?P<body>[A-Za-z0-9]{24})(?![A-Za-z0-9])'''
keywords = ["acme_"]
key_type = "token"
severity = "medium"
remediation = "Revoke the token in the Acme console."

[rules.verify]
method = "GET"
path = "/api/v2/tokens/self"
key_header = "X-Acme-Token"
answer_headers = ["X-Acme-Request-Id"]

[rules.verify.live]
204 = "the token is valid"

[rules.verify.invalid]
401 = "Acme rejects the token"
410 = "the token was revoked"

[rules.verify.rate_limit]
status = 503
remaining_header = "X-Acme-Left"
reset_header = "X-Acme-Reset-In"
"""


def acme_token(seed: int) -> str:
    return "acme_" + make_key("live", seed)[-24:]
