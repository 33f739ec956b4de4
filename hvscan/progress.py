"""A one-line progress display on standard error, for scans long enough to need one.

The command decides whether to show it (only when standard error is a terminal); this module
only draws: objects (or repositories) and bytes done, read rate and estimated time left, redrawn
ten times a second at most and erased at the end so the report starts on a clean line.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from hvscan.units import format_size

_INTERVAL = 0.1


class Progress:
    def __init__(self, total: int, unit: str = "objects", stream: TextIO | None = None) -> None:
        self._total = max(total, 0)
        self._unit = unit
        self._stream = stream or sys.stderr
        self._started = time.monotonic()
        self._drawn = 0.0
        self._width = 0

    def update(self, done: int, done_bytes: int, detail: str = "", *, now: bool = False) -> None:
        """Redraw with ``done`` units and ``done_bytes`` bytes done (``detail`` after the count:
        a many-repository audit's objects); at most ten times a second unless ``now``."""
        at = time.monotonic()
        if at - self._drawn < _INTERVAL and not now:
            return
        self._drawn = at
        elapsed = max(at - self._started, 1e-6)
        parts = [f"hvscan: {done:,}/{self._total:,} {self._unit}" if self._total
                 else f"hvscan: {done:,} {self._unit}",
                 *([detail] if detail else []), f"{format_size(done_bytes)}",
                 f"{format_size(int(done_bytes / elapsed))}/s"]
        if self._total and done:
            remaining = max(self._total - done, 0) * elapsed / done
            parts.append(f"ETA {int(remaining) // 60}:{int(remaining) % 60:02d}")
        line = "  ".join(parts)
        self._stream.write("\r" + line.ljust(self._width))
        self._stream.flush()
        self._width = len(line)

    def close(self) -> None:
        if self._width:
            self._stream.write("\r" + " " * self._width + "\r")
            self._stream.flush()
