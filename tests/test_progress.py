"""The progress line: what it shows, and that it erases itself."""

from __future__ import annotations

import io

import pytest

from hvscan import progress
from hvscan.progress import Progress


def test_line_shows_counts_size_rate_and_eta(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 102.0, 102.05, 104.0])
    monkeypatch.setattr(progress.time, "monotonic", lambda: next(clock))
    out = io.StringIO()
    bar = Progress(1000, stream=out)
    bar.update(250, 4 * 1024 * 1024)  # 2 s in: a quarter done, 2 MB/s
    bar.update(260, 5 * 1024 * 1024)  # 50 ms later: not redrawn
    text = out.getvalue()
    assert text == "\rhvscan: 250/1,000 objects  4.0 MB  2.0 MB/s  ETA 0:06"
    bar.update(1000, 8 * 1024 * 1024)
    bar.close()
    assert out.getvalue().endswith("\r" + " " * len(text.strip("\r").replace("250", "1,000",
                                                                             1)) + "\r")


def test_nothing_drawn_means_nothing_erased() -> None:
    out = io.StringIO()
    Progress(10, stream=out).close()
    assert out.getvalue() == ""

