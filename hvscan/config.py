"""Configuration: where settings come from, and how they fill the options of scan commands.

A setting is named like its long option (``fail-on`` is ``--fail-on``) and resolved in this order:
the command line, the environment (``HVSCAN_FAIL_ON``; a few settings also read a vendor variable),
the configuration file, the option's default. The file is ``.hvscan.toml`` or the ``[tool.hvscan]``
table of ``pyproject.toml``, looked up from the scanned directory up to the repository's top
level (``hvscan/settings/discovery.py``, which the fast path uses too), or the one named by
``--config``. Values from the file and the environment go through the setting's converter
(``hvscan/settings/checks.py``), so they are checked like the command line, and a bad one is
reported as one line naming where it came from, the key and what is allowed.

Nothing here knows click: ``resolve`` takes the command's option values by name and the names the
command line set, and fills in the others; the command line (``hvscan/cli.py``) only parses.

What the scanned content may set is limited (docs/security.md): ``api-base`` is never read from
a file, and a range scan (``hvscan git --range A..B``, ``--since-commit A``) looks the file, the
ignore file and the files they name up in the base commit A, not in the working tree that the
change under scan controls (``--config`` and the other options still name files on disk).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Collection, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from hvscan.committed import CommittedFile, CommitTree

from hvscan.settings import checks, discovery
from hvscan.settings.discovery import CONFIG_NAME, ENV_PREFIX, IGNORE_NAME, PYPROJECT_NAME


class ConfigError(Exception):
    """A configuration file or environment variable is unreadable or holds a bad setting."""


class Setting(NamedTuple):
    """A configurable option. ``key`` is both the name in the file and the long option."""

    key: str
    # What a value from a file or the environment must be (hvscan/settings/checks.py).
    convert: checks.Convert
    # A list of values (``--exclude`` again and again); one value in a file is a list of one.
    multiple: bool = False
    # Environment variables read after HVSCAN_<KEY>, for names other tools already use.
    env_aliases: tuple[str, ...] = ()
    # Path values written in a configuration file are relative to that file's directory.
    file_relative: bool = False
    # A file looked up in the project directories when nothing else sets this option.
    discover: str | None = None
    # Read from the environment only when this flag option is on: the vendor's variables may
    # be set for other tools, and must not stop a run that does not use them.
    only_with: str | None = None
    # False for settings that decide where keys are sent: only the person or job running hvscan
    # sets them (command line, environment), never a file that the scanned repository can hold.
    in_file: bool = True
    # The command's parameter this setting fills, when not named like the key.
    parameter: str | None = None

    @property
    def env(self) -> tuple[str, ...]:
        return (ENV_PREFIX + self.key.upper().replace("-", "_"), *self.env_aliases)

    @property
    def name(self) -> str:
        """The name of the command's parameter (``fail_on`` for ``fail-on``)."""
        return self.parameter or self.key.replace("-", "_")


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting("rules", checks.existing_file, multiple=True, file_relative=True,
                parameter="rule_files"),
        Setting("exclude", checks.pattern, multiple=True),
        Setting("fail-on", checks.choice(checks.FAIL_ON)),
        Setting("strict", checks.boolean),
        Setting("foreign-allow-markers", checks.boolean),
        Setting("max-file-size", checks.size),
        Setting("max-decode-depth", checks.int_range(*checks.DECODE_DEPTH)),
        Setting("max-archive-depth", checks.int_range(*checks.ARCHIVE_DEPTH)),
        Setting("max-archive-size", checks.size),
        Setting("max-archive-ratio", checks.int_range(1)),
        Setting("max-archive-members", checks.int_range(1)),
        Setting("api-base", checks.verified("check_api_base"),
                env_aliases=("HESEDVID_API_BASE",), only_with="verify", in_file=False),
        Setting("org-id", checks.verified("check_org_id"), env_aliases=("HESEDVID_ORG_ID",),
                only_with="verify"),
        Setting("ignore-file", checks.file_path, file_relative=True, discover=IGNORE_NAME),
        Setting("baseline", checks.file_path, file_relative=True, parameter="baseline_file"),
    )
}


class ConfigFile(NamedTuple):
    path: Path
    values: dict[str, Any]
    # How keys are named in messages: "fail-on" in .hvscan.toml, "tool.hvscan.fail-on" in
    # pyproject.toml, so the user finds the line.
    key_prefix: str = ""
    # The commit the file was read from (the base of a range scan); None: the file system.
    tree: CommitTree | None = None


def project_dirs(start: Path) -> list[Path]:
    """``start`` (links resolved) and its parents up to the repository's top level (the first
    directory holding ``.git``), or up to the file-system root outside a repository; the fast
    path looks in the same ones (``hvscan/settings/discovery.py``)."""
    return [Path(directory) for directory in discovery.project_dirs(os.fspath(start))]


def find_config(dirs: Iterable[Path], tree: CommitTree | None = None) -> ConfigFile | None:
    """The nearest ``.hvscan.toml``, or ``pyproject.toml`` with a ``[tool.hvscan]`` table; at one
    level, ``.hvscan.toml`` wins. A ``pyproject.toml`` without the table is passed over. With
    ``tree``, the files are those of its commit."""
    for directory in dirs:
        candidate = directory / CONFIG_NAME
        if _is_file(candidate, tree):
            return load_config(candidate, tree)
        candidate = directory / PYPROJECT_NAME
        if _is_file(candidate, tree):
            found = _load_pyproject(candidate, tree, required=False)
            if found is not None:
                return found
    return None


def load_config(path: Path, tree: CommitTree | None = None) -> ConfigFile:
    """Read a configuration file named by the user or found by ``find_config``."""
    if path.name == PYPROJECT_NAME:
        found = _load_pyproject(path, tree, required=True)
        assert found is not None
        return found
    return ConfigFile(path, _parse_toml(path, tree, _read_text(path, tree)), tree=tree)


def _load_pyproject(path: Path, tree: CommitTree | None, *, required: bool) -> ConfigFile | None:
    text = _read_text(path, tree)
    # Another project's pyproject.toml (one that never mentions hvscan) is not parsed, so a
    # file hvscan does not own cannot break a scan.
    if not required and "hvscan" not in text:
        return None
    tool = _parse_toml(path, tree, text).get("tool", {})
    table = tool.get("hvscan") if isinstance(tool, dict) else None
    if table is None:
        if required:
            raise ConfigError(f"{shown_path(path, tree)}: no [tool.hvscan] table")
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{shown_path(path, tree)}: 'tool.hvscan' must be a table")
    return ConfigFile(path, table, key_prefix="tool.hvscan.", tree=tree)


def _is_file(path: Path, tree: CommitTree | None) -> bool:
    return path.is_file() if tree is None else tree.read(path) is not None


def _read_text(path: Path, tree: CommitTree | None) -> str:
    try:
        if tree is None:
            return path.read_text(encoding="utf-8")
        committed = tree.read(path)
        assert committed is not None  # found by _is_file
        return committed.data.decode("utf-8")
    except OSError as exc:
        raise ConfigError(f"{shown_path(path)}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{shown_path(path, tree)}: not UTF-8 text") from None


def _parse_toml(path: Path, tree: CommitTree | None, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{shown_path(path, tree)}: invalid TOML: {exc}") from None


def shown_path(path: Path, tree: CommitTree | None = None) -> str:
    """A path as messages show it: relative to the current directory when below it; in a
    commit, as git names it (``<commit>:<path>``)."""
    if tree is not None:
        return tree.shown(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def resolve(values: dict[str, Any], given: Collection[str], first_path: str | None) -> None:
    """Fill ``values`` (a command's option values by parameter name) for every configurable
    option of the command that the command line did not set (its name is not in ``given``),
    from the environment, then the file, then discovery. ``first_path`` is the command's first
    path argument, where the configuration is looked up from. Pops ``config_file`` (the
    ``--config`` option)."""
    explicit: Path | None = values.pop("config_file", None)
    start = Path(discovery.start_dir(first_path))
    dirs = project_dirs(start)
    trees = _range_trees(start, dirs, values)
    if trees is None:
        _fill(values, given, explicit, dirs, None)
        return
    base, tip = trees
    from hvscan.sources.gitcmd import GitError

    try:
        dirs = [d for d in dirs if base.relative(d) is not None]
        _fill(values, given, explicit, dirs, base)
        if tip is not None:
            # The change's own ignore file is never applied; the findings it would have
            # suppressed say so (hvscan/suppress.py).
            values["untrusted_ignore_file"] = _discover(dirs, IGNORE_NAME, tip)
    except GitError as exc:
        raise ConfigError(f"{base.commit[:12]}: cannot read the configuration: {exc}") from None


def _fill(values: dict[str, Any], given: Collection[str], explicit: Path | None,
          dirs: list[Path], tree: CommitTree | None) -> None:
    config = load_config(explicit) if explicit is not None else find_config(dirs, tree)
    from_file = _file_values(config) if config is not None else {}
    for setting in SETTINGS.values():
        if setting.name not in values or setting.name in given:
            continue
        value = None
        if setting.only_with is None or values.get(setting.only_with):
            value = _env_value(setting)
        if value is None:
            value = from_file.get(setting.key)
            if value is not None and setting.key == "rules":
                # The scanned repository named these rule files: they may look for keys, not
                # decide which secrets are sent to the API (hvscan/rules.py).
                values["rules_from_configuration"] = True
        if value is None and setting.discover is not None:
            value = _discover(dirs, setting.discover, tree)
        if value is not None:
            values[setting.name] = value


# Options of ``hvscan git`` naming the base of a range scan, whose commit holds the configuration.
RANGE_OPTIONS = {"commit_range": "--range", "since_commit": "--since-commit"}


def _range_trees(start: Path, dirs: list[Path],
                 values: dict[str, Any]) -> tuple[CommitTree, CommitTree | None] | None:
    """For a range scan of the repository at ``start``: its base commit, as a tree to read the
    configuration from, and its tip (``--range`` only); None for any other scan."""
    given = [name for name in RANGE_OPTIONS if values.get(name)]
    if not given:
        return None
    name, value, option = given[0], values[given[0]], RANGE_OPTIONS[given[0]]
    from hvscan.committed import CommitTree
    from hvscan.sources.gitcmd import GitError
    from hvscan.sources.githistory import open_repository, resolve_commit
    from hvscan.sources.history import range_ends

    try:
        open_repository(start)  # says so when there is none
        base, tip = range_ends(value) if name == "commit_range" else (value, None)
        base_commit = resolve_commit(start, base, option)
        tip_commit = resolve_commit(start, tip, option) if tip else None
    except GitError as exc:
        raise ConfigError(str(exc)) from None
    # The top level is where project_dirs stopped (the directory holding .git); a repository
    # without a working tree has only its commit's root.
    top = dirs[-1] if (dirs[-1] / ".git").exists() else dirs[0]
    return (CommitTree(start, top, base_commit),
            CommitTree(start, top, tip_commit) if tip_commit else None)


def _file_values(config: ConfigFile) -> dict[str, Any]:
    """Every setting of the file, checked (also those the running command has no option for:
    a file shared by all commands is checked as a whole)."""
    where = shown_path(config.path, config.tree)
    converted: dict[str, Any] = {}
    for key, raw in config.values.items():
        name = config.key_prefix + key
        setting = SETTINGS.get(key)
        if setting is not None and not setting.in_file:
            raise ConfigError(
                f"{where}: key {name!r} is not allowed in a configuration file (a scanned "
                f"repository must not choose where keys are sent); use --{key} or "
                f"{' or '.join(setting.env)}"
            )
        if setting is None:
            allowed = sorted(k for k, s in SETTINGS.items() if s.in_file)
            raise ConfigError(f"{where}: unknown key {name!r}; allowed: {', '.join(allowed)}")
        if setting.multiple:
            raw = [raw] if isinstance(raw, str) else raw  # one pattern or file needs no list
            if not isinstance(raw, list) or any(isinstance(v, list | dict) for v in raw):
                raise ConfigError(f"{where}: key {name!r} must be a list of values")
        elif isinstance(raw, list | dict):
            raise ConfigError(f"{where}: key {name!r} must be a single value, not a "
                              f"{'list' if isinstance(raw, list) else 'table'}")
        if setting.file_relative:
            base = config.path.parent
            if config.tree is not None:
                files = [_committed(config.tree, base / str(v), f"{where}: key {name!r}")
                         for v in (raw if setting.multiple else [raw])]
                converted[key] = tuple(files) if setting.multiple else files[0]
                continue
            raw = ([str(base / str(v)) for v in raw] if setting.multiple
                   else str(base / str(raw)))
        converted[key] = _convert(setting, raw, f"{where}: key {name!r}")
    return converted


def _committed(tree: CommitTree, path: Path, where: str) -> CommittedFile:
    found = tree.read(path)
    if found is None:
        raise ConfigError(f"{where}: {tree.shown(path)} is not a file in that commit")
    return found


def _env_value(setting: Setting) -> Any:
    for variable in setting.env:
        raw = os.environ.get(variable)
        if raw is None or raw == "":
            continue
        # A list in a variable: paths separated as in PATH, patterns by white space.
        value: Any = raw
        if setting.multiple:
            value = raw.split(os.pathsep) if setting.file_relative else raw.split()
        return _convert(setting, value, f"environment variable {variable}")
    return None


def _convert(setting: Setting, value: Any, where: str) -> Any:
    try:
        if setting.multiple:
            return tuple(setting.convert(v) for v in value)
        return setting.convert(value)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _discover(dirs: Sequence[Path], name: str,
              tree: CommitTree | None) -> Path | CommittedFile | None:
    for directory in dirs:
        candidate = directory / name
        if tree is not None:
            found = tree.read(candidate)
            if found is not None:
                return found
        elif candidate.is_file():
            return candidate
    return None
