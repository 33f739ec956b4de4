"""Shared fixtures: run-time keys, the installed console script and isolated git repositories."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))

from gitrepo import DatedRepo, GitRepo, git_env, is_caller_setting, isolated_environ
from keygen import make_key

# Property tests judge hvscan, not the machine: on a loaded two-core CI runner, generating
# examples may be slow, which says nothing about the code under test.
settings.register_profile("hvscan", deadline=None, suppress_health_check=[HealthCheck.too_slow])
# A long fuzzing run: HVSCAN_FUZZ_EXAMPLES=100000 pytest tests/test_engine.py -k hidden_any_way
# (properties with no example count of their own run that many examples).
settings.register_profile("fuzz", parent=settings.get_profile("hvscan"),
                          max_examples=int(os.environ.get("HVSCAN_FUZZ_EXAMPLES") or 0) or 100)
settings.load_profile("fuzz" if os.environ.get("HVSCAN_FUZZ_EXAMPLES") else "hvscan")

# A key's prefix and body, as the rules define it; only its shape, so that test ids (printed by
# pytest and kept in .pytest_cache) never carry a generated key.
_KEY_SHAPE = re.compile(r"(hv_(?:live|test)_)[A-Za-z0-9]{32}")


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    text = val.decode("latin-1") if isinstance(val, bytes) else val
    if isinstance(text, str) and _KEY_SHAPE.search(text):
        return _KEY_SHAPE.sub(r"\1<key>", text)
    return None


@pytest.fixture(autouse=True)
def _isolated_from_the_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts without the caller's ``HVSCAN_*``, ``HESEDVID_*``, ``GIT_*`` and
    ``NO_COLOR``: an ``HVSCAN_FAIL_ON`` or a ``GIT_DIR`` in the shell that runs pytest must not
    change what the tests see (a test sets what it needs with monkeypatch or ``env=``)."""
    for name in list(os.environ):
        if is_caller_setting(name):
            monkeypatch.delenv(name)


@pytest.fixture
def key() -> Callable[..., str]:
    return make_key


@pytest.fixture
def hvscan_exe() -> str:
    exe = shutil.which("hvscan", path=str(Path(sys.executable).parent)) or shutil.which("hvscan")
    assert exe, "the hvscan console script is not installed"
    return exe


@pytest.fixture
def run_hvscan(hvscan_exe: str) -> Callable[..., subprocess.CompletedProcess[bytes]]:
    def run(*args: str | os.PathLike[str], input: bytes | None = None,
            cwd: Path | None = None, env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[bytes]:
        full_env = {**isolated_environ(), "NO_COLOR": "1", **(env or {})}
        return subprocess.run([hvscan_exe, *map(str, args)], input=input, capture_output=True,
                              cwd=cwd, env=full_env, timeout=300, check=False)

    return run


@pytest.fixture
def gitenv(tmp_path: Path) -> dict[str, str]:
    """An environment in which git reads no user or system configuration."""
    return git_env(tmp_path / "home")


@pytest.fixture
def repo(tmp_path: Path, gitenv: dict[str, str]) -> GitRepo:
    """An empty repository (branch main) in ``tmp_path / "repo"``."""
    return GitRepo(tmp_path / "repo", gitenv)


@pytest.fixture
def remote(tmp_path: Path, repo: GitRepo) -> GitRepo:
    """An empty bare repository in ``tmp_path / "remote.git"``, the ``repo`` fixture's remote
    ``origin``."""
    bare = GitRepo(tmp_path / "remote.git", repo.env, bare=True)
    repo.git("remote", "add", "origin", str(bare.path))
    return bare


@pytest.fixture
def dated_repo(tmp_path: Path, gitenv: dict[str, str]) -> DatedRepo:
    """An empty repository (branch main) in ``tmp_path / "repo"``, with one day per commit."""
    return DatedRepo(tmp_path / "repo", gitenv)
