"""The pacer: spaces the requests of all workers. After a rate-limited answer everyone waits,
and when the API says few requests remain (the rule's ``remaining_header``), the rest are spread
over the time to its reset (``reset_header``); no wait is longer than ``Settings.max_wait``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hvscan.rules import Verify
    from hvscan.verify.policy import Settings


class Pacer:
    def __init__(
        self, settings: Settings, stop: threading.Event, sleep: Callable[[float], object]
    ) -> None:
        self._settings = settings
        self._stop = stop
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0
        self._spacing = 0.0

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def wait(self, deadline: float) -> bool:
        """Wait for this request's turn; False when the run is being stopped, or when the turn
        would come at or after ``deadline`` (``time.monotonic()``)."""
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next)
            if at >= deadline:
                return False
            self._next = at + self._spacing
        if at > now:
            self._sleep(at - now)
        return not self._stop.is_set()

    def hold(self, delay: float) -> None:
        with self._lock:
            self._next = max(self._next, time.monotonic() + delay)

    def observe(self, headers: Mapping[str, str], spec: Verify) -> None:
        """Read the rate limit an answer of the API announces."""
        try:
            remaining = int(headers[spec.remaining_header])
        except (KeyError, ValueError):
            return
        spacing = 0.0
        if remaining <= self._settings.low_remaining:
            reset_in = reset_in_seconds(headers, spec)
            window = self._settings.max_wait if reset_in is None else reset_in
            spacing = min(window / (remaining + 1), self._settings.max_wait)
        with self._lock:
            self._spacing = spacing


def server_wait(headers: Mapping[str, str], spec: Verify) -> float:
    """Seconds the server asks to wait: ``Retry-After`` (seconds or date), else the rule's
    reset header."""
    retry_after = headers.get("retry-after", "").strip()
    if retry_after:
        if retry_after.isdigit():
            return float(retry_after)
        try:
            return max(0.0, parsedate_to_datetime(retry_after).timestamp() - time.time())
        except (TypeError, ValueError):
            pass
    return reset_in_seconds(headers, spec) or 0.0


def reset_in_seconds(headers: Mapping[str, str], spec: Verify) -> float | None:
    """When the rate limit resets, from now: the header holds epoch seconds, or (small values)
    seconds from now."""
    try:
        reset = float(headers.get(spec.reset_header, ""))
    except ValueError:
        return None
    return max(0.0, reset - time.time()) if reset > 1e9 else max(0.0, reset)
