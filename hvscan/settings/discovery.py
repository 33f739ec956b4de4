"""Where configuration is looked up: the directories from a scan's start up to the top of its
repository, and whether any file or variable there could set something.

Imports nothing but ``os``: the hook's fast path (hvscan/fastpath.py) decides with these very
functions whether the full command line's configuration (hvscan/config.py, which calls them too)
could apply, so both look in the same places. Symbolic links in the start directory are resolved
first: a scan of ``work/link/f.txt`` where ``work/link`` leads to ``real/sub`` reads the
configuration of ``real/``.
"""

from __future__ import annotations

import os

CONFIG_NAME = ".hvscan.toml"
PYPROJECT_NAME = "pyproject.toml"
IGNORE_NAME = ".hvscanignore"
ENV_PREFIX = "HVSCAN_"


def start_dir(first_path: str | None) -> str:
    """Where to look for the configuration of a scan whose first path argument is
    ``first_path``: that directory, or a file's directory, else the current directory."""
    if first_path:
        path = first_path.rstrip("/") or "/"
        if os.path.isdir(path):
            return path
        parent = os.path.dirname(path) or "."
        if os.path.isdir(parent):
            return parent
    return os.getcwd()


def project_dirs(start: str) -> list[str]:
    """``start`` (links resolved) and its parents up to the repository's top level (the first
    directory holding ``.git``), or up to the file-system root outside a repository."""
    directory = os.path.realpath(start)
    dirs = [directory]
    while not os.path.exists(os.path.join(directory, ".git")):
        parent = os.path.dirname(directory)
        if parent == directory:
            break
        directory = parent
        dirs.append(directory)
    return dirs


def configuration_may_apply(start: str) -> bool:
    """Whether a setting could come from the environment or a file: any ``HVSCAN_*`` variable
    (not ``HESEDVID_*``: only ``--verify`` reads them), or in one of ``project_dirs(start)`` a
    ``.hvscan.toml``, a ``pyproject.toml`` with a ``tool.hvscan`` table (or one that cannot be
    read), or a ``.hvscanignore`` (it cannot change a clean answer, but a malformed one must
    fail the run)."""
    if any(name.startswith(ENV_PREFIX) for name in os.environ):
        return True
    return any(
        os.path.lexists(os.path.join(directory, CONFIG_NAME))
        or os.path.lexists(os.path.join(directory, IGNORE_NAME))
        or _pyproject_configures_hvscan(os.path.join(directory, PYPROJECT_NAME))
        for directory in project_dirs(start))


def _pyproject_configures_hvscan(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return False
    except OSError:
        return True
    if b"hvscan" not in data:
        return False
    import tomllib

    try:
        tool = tomllib.loads(data.decode("utf-8")).get("tool")
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return True
    return isinstance(tool, dict) and "hvscan" in tool
