"""Fixtures for report tests: the sample ScanResult and golden-file comparison.

Regenerate the golden files after an intended change with
``HVSCAN_UPDATE_GOLDEN=1 pytest tests/report`` and review the diff.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from report_sample import GOLDEN, sample_keys, sample_result

from hvscan import __version__
from hvscan.report import ReportOptions, renderer
from hvscan.scan import ScanResult

# Read once, before the fixture that clears the caller's HVSCAN_* variables runs for a test.
UPDATE_GOLDEN = bool(os.environ.get("HVSCAN_UPDATE_GOLDEN"))


@pytest.fixture
def result() -> ScanResult:
    return sample_result()


@pytest.fixture
def keys() -> dict[str, str]:
    return sample_keys()


@pytest.fixture
def render() -> Callable[..., str]:
    def render_format(name: str, result: ScanResult, **options: bool) -> str:
        return renderer(name)(result, ReportOptions(**options))

    return render_format


@pytest.fixture
def golden() -> Callable[[str, str], None]:
    """Compare ``text`` with ``tests/report/golden/<name>`` (the tool version masked)."""

    def check(name: str, text: str) -> None:
        text = text.replace(f'"{__version__}"', '"<version>"')
        path = GOLDEN / name
        if UPDATE_GOLDEN:
            path.write_bytes(text.encode("utf-8"))
        assert text == path.read_bytes().decode("utf-8"), f"{name} differs from its golden file"

    return check
