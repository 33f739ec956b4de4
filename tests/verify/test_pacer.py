"""The pacer: turns shared by all workers, rate-limit headers, no turn past a deadline."""

from __future__ import annotations

import math
import threading
import time

import httpx
from verify_servers import (
    SPEC,
)

from hvscan.verify import Settings
from hvscan.verify.pacer import Pacer


def test_the_pacer_gives_no_turn_past_the_deadline() -> None:

    waits: list[float] = []
    pacer = Pacer(Settings(), threading.Event(), waits.append)
    pacer.hold(5.0)
    assert not pacer.wait(time.monotonic() + 4.0)
    assert pacer.wait(time.monotonic() + 6.0) and len(waits) == 1
    assert not pacer.wait(time.monotonic() - 1.0)
    pacer.observe(httpx.Headers({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "3"}),
                  SPEC)
    assert pacer.wait(math.inf) and not pacer.stopped


def test_pacer_spreads_requests_when_few_remain() -> None:

    waits: list[float] = []
    pacer = Pacer(Settings(), threading.Event(), waits.append)
    pacer.observe(httpx.Headers({"X-RateLimit-Remaining": "2",
                                 "X-RateLimit-Reset": str(time.time() + 30)}), SPEC)
    assert pacer.wait(math.inf) and pacer.wait(math.inf)
    assert len(waits) == 1 and 9 < waits[0] <= 10
    relaxed = Pacer(Settings(), threading.Event(), waits.append)
    relaxed.observe(httpx.Headers({"X-RateLimit-Remaining": "11", "X-RateLimit-Reset": "60"}),
                    SPEC)
    assert relaxed.wait(math.inf) and relaxed.wait(math.inf) and len(waits) == 1
