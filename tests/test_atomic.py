"""Writing a file whole or not at all (hvscan.atomic)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hvscan import atomic
from hvscan.atomic import write_atomically, write_report


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


def test_a_report_replaces_the_file_keeping_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "report.txt"
    path.write_bytes(b"old and longer\n")
    path.chmod(0o640)
    write_report(path, b"new\n")
    assert path.read_bytes() == b"new\n" and path.stat().st_mode & 0o777 == 0o640


def test_a_new_report_gets_the_mode_of_the_umask(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        write_report(tmp_path / "report.txt", b"new\n")
    finally:
        os.umask(old)
    assert (tmp_path / "report.txt").stat().st_mode & 0o777 == 0o640


def test_a_report_through_a_link_replaces_the_file_it_points_to(tmp_path: Path) -> None:
    (tmp_path / "report.txt").write_bytes(b"old\n")
    (tmp_path / "link").symlink_to("report.txt")
    write_report(tmp_path / "link", b"new\n")
    assert (tmp_path / "link").is_symlink()
    assert (tmp_path / "report.txt").read_bytes() == b"new\n"


def test_a_report_to_a_device_or_a_pipe_is_written_into_it(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")
    reader = os.open(tmp_path / "fifo", os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_report(tmp_path / "fifo", b"through the pipe\n")
        assert os.read(reader, 100) == b"through the pipe\n"
    finally:
        os.close(reader)
    write_report(Path(os.devnull), b"gone\n")
    assert sorted(os.listdir(tmp_path)) == ["fifo"]
