"""The HTTP client: one request per key, each within its deadline and the run's.

Each key's request is the rule's method to its endpoint, the key in the rule's header only;
redirects are followed by hand and only to the same origin (a key is never sent on to another
host); rate-limited answers are retried after the wait the pacer and the server agree on.
httpx's timeouts bound each read, not the answer: a ``Cutoff`` shuts the connection down when
the deadline passes, and with keep-alive off every request has its own connection to shut.
A run stopped meanwhile (Ctrl-C, SIGTERM) shuts every request under way down at once
(``Cutoffs``): the interpreter waits for the threads sending them before it exits.
A failed request is described by its error class only, never a message that could carry what
was sent. httpx is imported here only.
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urljoin

import httpx

from hvscan import __version__
from hvscan.verify.pacer import Pacer, server_wait
from hvscan.verify.policy import Outcome, Settings, classify, from_api, origin

if TYPE_CHECKING:
    from hvscan.rules import Verify

MAX_REDIRECTS = 3


class Job(NamedTuple):
    """One key to ask about: the secret, the URL and the rule's verify table."""

    secret: str
    url: str
    spec: Verify


def check_all(jobs: list[Job], settings: Settings,
              sleep: Callable[[float], object] | None) -> list[Outcome]:
    """The outcome of each job, in order; ``sleep`` replaces waiting (tests record waits)."""
    run_ends = time.monotonic() + settings.run_deadline
    stop = threading.Event()
    pacer = Pacer(settings, stop, sleep or stop.wait)
    cutoffs = Cutoffs()
    headers = {"User-Agent": f"hvscan/{__version__} (key verification)"}
    # trust_env: a proxy configured in the environment is honoured; redirects are followed by
    # hand, and only to the same origin. No keep-alive: each request's own connection is what
    # its Cutoff can shut down.
    with httpx.Client(timeout=settings.timeout, headers=headers, follow_redirects=False,
                      trust_env=True, limits=httpx.Limits(max_keepalive_connections=0)) as client, \
            ThreadPoolExecutor(max_workers=settings.workers,
                               thread_name_prefix="hvscan-verify") as pool:
        futures = [pool.submit(check_key, client, job, settings, pacer, run_ends, cutoffs)
                   for job in jobs]
        try:
            return [future.result() for future in futures]
        except BaseException:
            stop.set()
            cutoffs.stop()
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


def check_key(client: httpx.Client, job: Job, settings: Settings, pacer: Pacer,
              run_ends: float, cutoffs: Cutoffs) -> Outcome:
    """One key's verification: the request, retries when rate limited, same-origin redirects,
    classification; all of it before the key's deadline or the run's (``run_ends``),
    whichever comes first, or until the run is stopped (``cutoffs``)."""
    spec, url = job.spec, job.url
    deadline = Deadline.first(settings, run_ends)
    attempt = redirects = 0
    last: int | None = None  # the status of the previous answer (rate limited, or a redirect)
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
        with cutoffs.until(deadline.at) as cutoff:
            try:
                # Streamed and closed unread: only the status and headers are wanted.
                with client.stream(spec.method, url, headers={spec.key_header: job.secret},
                                   timeout=timeout,
                                   extensions={"trace": cutoff.trace}) as response:
                    status = last = response.status_code
                    headers = response.headers
                    is_redirect = response.is_redirect
            except (httpx.HTTPError, OSError) as exc:
                if pacer.stopped:
                    return Outcome("unknown", last, "interrupted during the request")
                if cutoff.expired or deadline.left() <= 0:
                    return deadline.passed(last)
                # Messages of httpx exceptions name the request, never its headers; still,
                # only the class name is kept, so no detail can ever carry what was sent.
                if isinstance(exc, httpx.TimeoutException):
                    return Outcome("unknown", None, f"no answer within {settings.timeout:g} s: "
                                   f"{type(exc).__name__}")
                return Outcome("unknown", None, f"request failed: {type(exc).__name__}")
        api_answered = from_api(spec, headers)
        if api_answered:
            pacer.observe(headers, spec)
        if status == spec.rate_limited_status:
            if attempt >= settings.retries:
                return Outcome("unknown", status,
                               f"still rate limited (HTTP {status}) after {attempt} retries")
            delay = max(server_wait(headers, spec),
                        settings.backoff_base * 2**attempt * random.uniform(0.5, 1.5))  # noqa: S311
            if delay > settings.max_wait:
                return Outcome("unknown", status, f"rate limited (HTTP {status}) for "
                               f"{delay:.0f} s, longer than the {settings.max_wait:g} s hvscan "
                               "waits")
            if delay >= deadline.left():
                return Outcome("unknown", status, f"rate limited (HTTP {status}) for "
                               f"{delay:.0f} s, past {deadline.name}")
            pacer.hold(delay)
            attempt += 1
            continue
        if is_redirect:
            target = urljoin(url, headers["location"])
            if origin(target) != origin(url):
                return Outcome("unknown", status,
                               f"HTTP {status} redirect to another host: not followed")
            if redirects >= MAX_REDIRECTS:
                return Outcome("unknown", status, f"more than {MAX_REDIRECTS} redirects")
            url, redirects = target, redirects + 1
            continue
        return classify(spec, status, api_answered)


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
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self.expire)
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

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for made in self._sockets:
                _shut_down(made)


class Cutoffs:
    """The cutoffs of the requests under way in one ``check_all``, so that a stopped run
    expires them all at once (and any made after)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._under_way: set[Cutoff] = set()
        self._stopped = False

    @contextlib.contextmanager
    def until(self, deadline: float) -> Iterator[Cutoff]:
        """A cutoff for one request, at ``deadline`` (``time.monotonic()``) at the latest."""
        with Cutoff(deadline) as cutoff:
            with self._lock:
                self._under_way.add(cutoff)
                if self._stopped:
                    cutoff.expire()
            try:
                yield cutoff
            finally:
                with self._lock:
                    self._under_way.discard(cutoff)

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            for cutoff in self._under_way:
                cutoff.expire()


def _shut_down(made: socket.socket) -> None:
    # shutdown() wakes a read blocked in another thread (close() would not) and never touches
    # another file: a socket closed in the meantime has no descriptor left and just raises.
    # The plain socket's method, so a TLS socket's state is left to the thread using it.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(made, socket.SHUT_RDWR)
