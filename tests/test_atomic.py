"""Writing a file whole or not at all (hvscan.atomic)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hvscan import atomic
from hvscan.atomic import write_atomically


@pytest.mark.parametrize("mode", [0o600, 0o644])
def test_replaces_the_file_with_the_mode_asked_for(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "out.json"
    path.write_bytes(b"old and longer\n")
    write_atomically(path, b"new\n", mode)
    assert path.read_bytes() == b"new\n"
    assert path.stat().st_mode & 0o777 == mode
    assert os.listdir(tmp_path) == ["out.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "out.json"
    path.write_bytes(b"old\n")

    def refuse(source: str, target: Path) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        write_atomically(path, b"new\n", 0o644)
    assert path.read_bytes() == b"old\n"
    assert os.listdir(tmp_path) == ["out.json"]


def test_a_missing_directory_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        write_atomically(tmp_path / "missing" / "out.json", b"new\n", 0o644)
