"""Where configuration is looked up: the same directories for the fast path and config.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hvscan.config import project_dirs
from hvscan.settings import discovery


def test_links_are_resolved_before_walking_up(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "link").symlink_to(Path("..", "real", "sub"))
    (tmp_path / "work" / "link" / "f.txt").write_text("x\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HVSCAN_FAIL_ON", raising=False)
    start = discovery.start_dir("work/link/f.txt")
    assert start == "work/link"
    real = tmp_path.resolve()
    assert discovery.project_dirs(start) == [str(real / "real" / "sub"), str(real / "real"),
                                             str(real)]
    assert project_dirs(Path(start)) == [Path(d) for d in discovery.project_dirs(start)]
    assert not discovery.configuration_may_apply(start)
    (tmp_path / "real" / ".hvscan.toml").write_text("")
    assert discovery.configuration_may_apply(start)


def test_start_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d").mkdir()
    assert discovery.start_dir("d/") == "d"
    assert discovery.start_dir("d/missing.txt") == "d"
    assert discovery.start_dir("f.txt") == "."
    assert discovery.start_dir("gone/f.txt") == os.getcwd()
    assert discovery.start_dir(None) == os.getcwd()
