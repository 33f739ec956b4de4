"""A bytes object that counts how many bytes its searches examine: for tests that check work
grows linearly with the input (a long line holding many keys) without timing anything."""

from __future__ import annotations

from typing import SupportsIndex


class CountingBytes(bytes):
    """``find``, ``rfind`` and ``count`` add the bytes they examine to ``examined``: up to the
    occurrence found, or their whole range."""

    examined: int = 0

    def _range(self, start: SupportsIndex | None, end: SupportsIndex | None) -> tuple[int, int]:
        return slice(start, end).indices(len(self))[:2]

    def find(self, sub: bytes, start: SupportsIndex | None = None,  # type: ignore[override]
             end: SupportsIndex | None = None) -> int:
        low, high = self._range(start, end)
        at = super().find(sub, low, high)
        self.examined += (at + len(sub) if at >= 0 else high) - low
        return at

    def rfind(self, sub: bytes, start: SupportsIndex | None = None,  # type: ignore[override]
              end: SupportsIndex | None = None) -> int:
        low, high = self._range(start, end)
        at = super().rfind(sub, low, high)
        self.examined += high - (at if at >= 0 else low)
        return at

    def count(self, sub: bytes, start: SupportsIndex | None = None,  # type: ignore[override]
              end: SupportsIndex | None = None) -> int:
        low, high = self._range(start, end)
        self.examined += max(0, high - low)
        return super().count(sub, low, high)
