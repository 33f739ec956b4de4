"""The settings' checks refuse a value in click's own words, so a value from a file or the
environment is refused as the command line refuses it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pytest

from hvscan.settings import checks

CASES = [
    (click.Choice(checks.FAIL_ON), checks.choice(checks.FAIL_ON), ["loud", "high"]),
    (click.IntRange(*checks.DECODE_DEPTH), checks.int_range(*checks.DECODE_DEPTH),
     ["x", "9", 3, -1]),
    (click.IntRange(1), checks.int_range(1), [0, "5"]),
    (click.BOOL, checks.boolean, ["maybe", "yes", "off", True, ""]),
]


@pytest.mark.parametrize(("click_type", "check", "values"), CASES)
def test_the_checks_answer_as_click_does(click_type: click.ParamType, check: checks.Convert,
                                         values: list[Any]) -> None:
    for value in values:
        try:
            expected: Any = click_type.convert(value, None, None)
        except click.BadParameter as exc:
            with pytest.raises(ValueError) as raised:
                check(value)
            assert str(raised.value) == exc.message
        else:
            assert check(value) == expected


def test_files(tmp_path: Path) -> None:
    existing = click.Path(exists=True, dir_okay=False, path_type=Path)
    for value in (str(tmp_path / "nope"), str(tmp_path)):
        with pytest.raises(click.BadParameter) as refused:
            existing.convert(value, None, None)
        with pytest.raises(ValueError) as raised:
            checks.existing_file(value)
        assert str(raised.value) == refused.value.message
    (tmp_path / "f").write_text("")
    assert checks.existing_file(str(tmp_path / "f")) == tmp_path / "f"
    assert checks.file_path(str(tmp_path / "new")) == tmp_path / "new"


def test_sizes_and_patterns() -> None:
    assert checks.size("1KB") == 1024 and checks.size(7) == 7
    with pytest.raises(ValueError, match="'lots' is not a size such as"):
        checks.size("lots")
    with pytest.raises(ValueError, match="not a valid gitignore-style pattern"):
        checks.pattern("!")
