"""Running git: one place that starts git processes, without a shell, and turns failures into
one-line errors. Sources build on this; nothing here knows about keys."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


class GitError(Exception):
    """git failed or the path is not a readable repository; the message is one line."""


def git(repo: Path | bytes | str, *args: str | bytes, input: bytes | None = None) -> bytes:
    """Run ``git -C repo args...`` and return its standard output."""
    command = ["git", "-C", os.fsdecode(repo), *map(os.fsdecode, args)]
    try:
        done = subprocess.run(command, input=input, capture_output=True, check=False,
                              env=_environment())
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    if done.returncode != 0:
        raise GitError(_first_line(done.stderr) or f"git {os.fsdecode(args[0])} failed "
                       f"(exit {done.returncode})")
    return done.stdout


def _environment() -> dict[str, str]:
    # Stable, parseable output whatever the user's locale and pager settings are.
    return {**os.environ, "LC_ALL": "C", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"}


def _first_line(stderr: bytes) -> str:
    for line in stderr.decode("utf-8", "backslashreplace").splitlines():
        line = line.strip()
        if line:
            return line.removeprefix("fatal: ").removeprefix("error: ")
    return ""
