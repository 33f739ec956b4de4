"""Plain git hooks for people who do not use the pre-commit framework (``hvscan install-hook``).

The hook runs the Python that installed it (so it works from a virtualenv that is not on the
PATH of a GUI git client), falls back to ``hvscan`` on the PATH, and fails closed when neither is
there: a hook that cannot run its scanner must not let the commit or push through.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from hvscan.sources.gitrepository import rev_parse


class HookExistsError(Exception):
    """Another hook is already installed and replacing it was not asked for."""


@dataclass(frozen=True)
class HookKind:
    git_name: str
    command: str
    purpose: str


PRE_COMMIT = HookKind("pre-commit", "staged", "blocks a commit that adds a HesedVid API key")
# Strict: a push is the last check before keys leave the machine, so a push whose content could
# not all be scanned is stopped too (the pre-commit hook is not: see docs/ci.md). git passes the
# remote's name (from the repository's configuration) and URL: never options.
PRE_PUSH = HookKind("pre-push", 'pre-push --strict -- "$@"',
                    "blocks a push that carries a HesedVid API key the remote does not have, or "
                    "whose content could not all be scanned")


def hook_path(repo: Path | str, kind: HookKind) -> Path:
    """Where git looks for the hook: honours core.hooksPath and linked worktrees."""
    # The one git call that takes core.hooksPath from the repository: it only asks for a path.
    [where] = rev_parse(repo, "--git-path", f"hooks/{kind.git_name}",
                        repository_settings=("core.hooksPath",))
    return Path(repo) / where


def script(kind: HookKind, python: str = sys.executable) -> str:
    python = shlex.quote(python)
    return f"""#!/bin/sh
# Installed by `hvscan install-hook`: {kind.purpose}.
# Bypass once with --no-verify; delete this file to uninstall.
if [ -x {python} ]; then
    exec {python} -m hvscan {kind.command}
fi
if command -v hvscan >/dev/null 2>&1; then
    exec hvscan {kind.command}
fi
echo "hvscan {kind.git_name} hook: hvscan is not installed (tried {python} and the PATH)" >&2
exit 2
"""


def install(repo: Path | str, kind: HookKind, *, force: bool = False) -> tuple[Path, str]:
    """Write the hook; returns its path and what happened ("installed", "replaced" or
    "already installed")."""
    path = hook_path(repo, kind)
    text = script(kind)
    action = "installed"
    if path.exists() or path.is_symlink():
        if path.is_file() and path.read_text(encoding="utf-8", errors="replace") == text:
            return path, "already installed"
        if not force:
            raise HookExistsError(f"{path} already exists; use --force to replace it "
                                  f"(or call `hvscan {kind.command}` from that hook)")
        path.unlink()
        action = "replaced"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)
    return path, action
