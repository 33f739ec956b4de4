"""What each setting's value may be, checked without click: the converters that turn a value
from a configuration file (a TOML string, number or boolean) or an environment variable (a
string) into the option's value, and the domains (severities, ranges) the command line's options
are built from too. A bad value raises ``ValueError`` with a message in click's own words, so a
value is refused alike wherever it came from; hvscan/config.py prefixes the file and key or the
variable.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hvscan.units import parse_size

FAIL_ON = ("info", "low", "medium", "high", "critical", "none")
DECODE_DEPTH = (0, 4)
ARCHIVE_DEPTH = (0, 32)
SIZE_EXAMPLE = "a size such as 500000, 100MB or 1GB"

Convert = Callable[[Any], Any]

_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off", ""}


def size(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    parsed = parse_size(str(value))
    if parsed is None:
        raise ValueError(f"{value!r} is not {SIZE_EXAMPLE}")
    return parsed


def int_range(low: int, high: int | None = None) -> Convert:
    def convert(value: Any) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{value!r} is not a valid integer range.") from None
        if number < low or (high is not None and number > high):
            bounds = f"{low}<=x<={high}" if high is not None else f"x>={low}"
            raise ValueError(f"{number} is not in the range {bounds}.")
        return number

    return convert


def choice(choices: tuple[str, ...]) -> Convert:
    def convert(value: Any) -> str:
        if value not in choices:
            raise ValueError(f"{value!r} is not one of {', '.join(map(repr, choices))}.")
        return str(value)

    return convert


def boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"{value!r} is not a valid boolean. Recognized values: "
                     f"{', '.join(sorted(_TRUE | _FALSE))}")


def file_path(value: Any) -> Path:
    """A file that may not exist yet, but is no directory."""
    path = Path(str(value))
    if path.is_dir():
        raise ValueError(f"File {os.fsdecode(path)!r} is a directory.")
    return path


def existing_file(value: Any) -> Path:
    path = file_path(value)
    if not os.path.exists(path):
        raise ValueError(f"File {os.fsdecode(path)!r} does not exist.")
    return path


def pattern(value: Any) -> str:
    from hvscan.excludes import pattern_problem

    text = str(value)
    problem = pattern_problem(text)
    if problem is not None:
        raise ValueError(problem)
    return text


def verified(check: str) -> Convert:
    """A value checked by ``hvscan.verify.<check>`` (imported only then)."""

    def convert(value: Any) -> str:
        from hvscan import verify

        try:
            checked: str = getattr(verify, check)(str(value))
        except verify.VerifyError as exc:
            raise ValueError(str(exc)) from None
        return checked

    return convert
