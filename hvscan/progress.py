"""A one-line progress display on standard error, for scans long enough to need one.

The command decides whether to show it (only when standard error is a terminal); this module
only draws: objects and bytes done, read rate and estimated time left, redrawn ten times a
second at most and erased at the end so the report starts on a clean line.
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

    def update(self, done: int, done_bytes: int) -> None:
        now = time.monotonic()
        if now - self._drawn < _INTERVAL:
            return
        self._drawn = now
        elapsed = max(now - self._started, 1e-6)
        parts = [f"hvscan: {done:,}/{self._total:,} {self._unit}" if self._total
                 else f"hvscan: {done:,} {self._unit}",
                 f"{format_size(done_bytes)}", f"{format_size(int(done_bytes / elapsed))}/s"]
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
