"""Sizes: parsed from options and configuration, formatted in reports; counts of things."""

from __future__ import annotations

import pytest

from hvscan.units import counted, format_size, parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [("500000", 500000), ("100MB", 100 << 20), ("1g", 1 << 30), (" 64k ", 64 << 10), ("7B", 7)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "1.5MB", "-1", "10TB", "MB"])
def test_malformed_sizes(text: str) -> None:
    assert parse_size(text) is None


@pytest.mark.parametrize(
    ("count", "shown"),
    [(0, "0 B"), (1023, "1023 B"), (1536, "1.5 KB"), (1 << 20, "1.0 MB"), (5 << 30, "5.0 GB"),
     (3 << 40, "3.0 TB")],
)
def test_format_size(count: int, shown: str) -> None:
    assert format_size(count) == shown


@pytest.mark.parametrize(("count", "text"), [(0, "0 files"), (1, "1 file"), (2, "2 files")])
def test_counted(count: int, text: str) -> None:
    assert counted(count, "file") == text
