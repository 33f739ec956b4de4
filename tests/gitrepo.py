"""A builder for real temporary git repositories with fixed authors and dates.

Every commit gets the next date of a fixed calendar (one day apart from 2024-01-01), so
"earliest commit" is deterministic and tests can state the exact ISO dates they expect.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

BASE_TIME = 1704067200  # 2024-01-01T00:00:00+00:00
DAY = 86400


def iso_date(index: int) -> str:
    """The ISO 8601 author date of the ``index``-th commit made by a GitRepo (from 0)."""
    import datetime

    moment = datetime.datetime.fromtimestamp(BASE_TIME + index * DAY, datetime.UTC)
    return moment.isoformat()


class GitRepo:
    def __init__(self, path: Path, *, init: bool = True) -> None:
        self.path = path
        self.commits = 0
        if init:
            path.mkdir(parents=True, exist_ok=True)
            self.git("init", "-q", "-b", "main")

    def env(self) -> dict[str, str]:
        stamp = f"{BASE_TIME + self.commits * DAY} +0000"
        return {
            **os.environ,
            "GIT_AUTHOR_NAME": "Alice Example",
            "GIT_AUTHOR_EMAIL": "alice@example.com",
            "GIT_COMMITTER_NAME": "Alice Example",
            "GIT_COMMITTER_EMAIL": "alice@example.com",
            "GIT_AUTHOR_DATE": stamp,
            "GIT_COMMITTER_DATE": stamp,
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "LC_ALL": "C",
        }

    def git(self, *args: str | os.PathLike[str], input: bytes | None = None) -> str:
        done = subprocess.run(["git", "-C", str(self.path), *map(str, args)], input=input,
                              capture_output=True, env=self.env(), check=False)
        if done.returncode != 0:
            raise AssertionError(f"git {args} failed: {done.stderr.decode(errors='replace')}")
        return done.stdout.decode("utf-8", "replace").strip()

    def write(self, name: str | bytes, content: str | bytes) -> None:
        target = os.path.join(os.fsencode(self.path), os.fsencode(name))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(content.encode() if isinstance(content, str) else content)

    def commit(self, message: str = "change", *files: str, all: bool = True) -> str:
        """Stage everything (or nothing with all=False), commit, return the commit id."""
        if all:
            self.git("add", "-A", *files)
        self.git("commit", "-q", "--allow-empty", "--no-verify", "-m", message)
        self.commits += 1
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD")

    def tick(self) -> None:
        """Advance the clock for a commit made through ``git`` directly (merge, tag)."""
        self.commits += 1
