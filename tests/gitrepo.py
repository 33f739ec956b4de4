"""Temporary git repositories for tests: isolated from the user's git configuration, with a
fixed identity and fixed dates so commit ids are stable within a run."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def is_caller_setting(name: str) -> bool:
    """Whether the environment variable ``name`` would change what hvscan or git does, so that a
    test must not inherit it from whoever runs the suite (conftest.py clears these)."""
    return name.startswith(("HVSCAN_", "HESEDVID_", "GIT_")) or name == "NO_COLOR"


def isolated_environ() -> dict[str, str]:
    """The process environment without the caller's hvscan, HesedVid and git settings."""
    return {name: value for name, value in os.environ.items() if not is_caller_setting(name)}


def git_env(home: Path) -> dict[str, str]:
    """An environment in which git reads no user or system configuration (the global one is an
    empty file in ``home``)."""
    home.mkdir(parents=True, exist_ok=True)
    config = home / "gitconfig"
    config.touch()
    return {
        **isolated_environ(),
        "GIT_CONFIG_GLOBAL": str(config),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Ada Tester",
        "GIT_AUTHOR_EMAIL": "ada@example.invalid",
        "GIT_COMMITTER_NAME": "Ada Tester",
        "GIT_COMMITTER_EMAIL": "ada@example.invalid",
        "GIT_AUTHOR_DATE": "2024-03-01T12:00:00+00:00",
        "GIT_COMMITTER_DATE": "2024-03-01T12:00:00+00:00",
        "NO_COLOR": "1",
    }


class GitRepo:
    def __init__(self, path: Path, env: dict[str, str], *, bare: bool = False) -> None:
        self.path = path
        self.env = env
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main", *(["--bare"] if bare else []))

    def git(self, *args: str | bytes, input: bytes | None = None, check: bool = True,
            ) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run(["git", *args], cwd=self.path, env=self.env, input=input,
                              capture_output=True, check=False, timeout=300)
        if check and done.returncode != 0:
            raise AssertionError(f"git {args!r} failed: {done.stderr.decode(errors='replace')}")
        return done

    def write(self, name: str | bytes, content: str | bytes) -> Path:
        path = Path(os.fsdecode(self.path / os.fsdecode(name)))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return path

    def add(self, *names: str | bytes) -> None:
        self.git("add", "--", *names)

    def commit(self, message: str = "change", *options: str) -> str:
        self.git("commit", "-q", "--no-verify", "-m", message, *options)
        return self.head()

    def commit_file(self, name: str | bytes, content: str | bytes, message: str = "change",
                    ) -> str:
        """Write ``name``, stage it and commit it; the new commit's id."""
        self.write(name, content)
        self.add(name)
        return self.commit(message)

    def out(self, *args: str | bytes, input: bytes | None = None, check: bool = True) -> str:
        """git's output, as text without the final newline."""
        return self.git(*args, input=input, check=check).stdout.decode("utf-8", "replace").strip()

    def head(self) -> str:
        return self.out("rev-parse", "HEAD")


BASE_TIME = 1704067200  # 2024-01-01T00:00:00+00:00
DAY = 86400


def iso_date(index: int) -> str:
    """The ISO 8601 date of the ``index``-th commit (from 0) of a DatedRepo."""
    import datetime

    return datetime.datetime.fromtimestamp(BASE_TIME + index * DAY, datetime.UTC).isoformat()


class DatedRepo(GitRepo):
    """A GitRepo for history tests: every commit gets the next day of a fixed calendar, so
    "earliest commit" is deterministic and tests can name the exact dates they expect, and
    ``commit`` records the whole work tree."""

    def __init__(self, path: Path, env: dict[str, str], *, bare: bool = False) -> None:
        self.commits = 0
        super().__init__(path, {**env}, bare=bare)
        self._set_clock()

    def _set_clock(self) -> None:
        stamp = f"{BASE_TIME + self.commits * DAY} +0000"
        self.env["GIT_AUTHOR_DATE"] = self.env["GIT_COMMITTER_DATE"] = stamp

    def commit(self, message: str = "change", *options: str) -> str:
        self.git("add", "-A")
        commit = super().commit(message, "--allow-empty", *options)
        self.tick()
        return commit

    def tick(self) -> None:
        """Move the clock to the next day: after a commit made with ``git`` directly (a merge,
        a commit in another worktree)."""
        self.commits += 1
        self._set_clock()


def disown(path: Path) -> None:
    """Give ``path`` and everything in it to another user, so that git refuses the repository
    there (its ``safe.directory`` ownership check). Only root can; the test is skipped
    otherwise."""
    import pytest

    if os.geteuid() != 0:
        pytest.skip("giving a repository to another user (to meet git's ownership check) "
                    "needs root")
    stranger = 4242 if os.geteuid() != 4242 else 4243
    for directory, _, names in os.walk(path):
        for name in [directory, *(os.path.join(directory, n) for n in names)]:
            os.chown(name, stranger, stranger, follow_symlinks=False)
