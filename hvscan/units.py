"""Sizes and counts as people write and read them: sizes parsed from options and configuration
(``100MB``), sizes and counts of things formatted in reports and the progress line. Shared by the
command line, the text report, the progress line and the hook's fast path (so it imports
nothing)."""

from __future__ import annotations

_MULTIPLIERS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "M": 1024**2, "MB": 1024**2,
                "G": 1024**3, "GB": 1024**3}


def parse_size(text: str) -> int | None:
    """Bytes in ``500000``, ``100MB``, ``1G`` (binary multiples, any case); None if malformed."""
    text = text.strip().upper()
    number = text.rstrip("KMGB")
    unit = text[len(number):]
    if not number.isdigit() or unit not in _MULTIPLIERS:
        return None
    return int(number) * _MULTIPLIERS[unit]


def counted(count: int, noun: str) -> str:
    """``1 file``, ``2 files``: the noun in the plural unless the count is one."""
    return f"{count} {noun}{'s' * (count != 1)}"


def format_size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    value = count / 1024
    for unit in ("KB", "MB", "GB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"
