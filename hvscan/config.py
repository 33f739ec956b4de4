"""Configuration: where settings come from, and how they fill the options of scan commands.

A setting is named like its long option (``fail-on`` is ``--fail-on``) and resolved in this order:
the command line, the environment (``HVSCAN_FAIL_ON``; a few settings also read a vendor variable),
the configuration file, the option's default. The file is ``.hvscan.toml`` or the ``[tool.hvscan]``
table of ``pyproject.toml``, looked up from the scanned directory up to the repository's top
level, or the one named by ``--config``. Values from the file and the environment go through the
option's own click type and callback, so they are checked like the command line, and a bad one is
reported as one line naming where it came from, the key and what is allowed.

What the scanned content may set is limited (docs/security.md): ``api-base`` is never read from
a file, and a range scan (``hvscan git --range A..B``, ``--since-commit A``) looks the file, the
ignore file and the files they name up in the base commit A, not in the working tree that the
change under scan controls (``--config`` and the other options still name files on disk).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import click
from click.core import ParameterSource

if TYPE_CHECKING:
    from hvscan.committed import CommittedFile, CommitTree

from hvscan.settings import discovery
from hvscan.settings.discovery import CONFIG_NAME, ENV_PREFIX, IGNORE_NAME, PYPROJECT_NAME


class ConfigError(Exception):
    """A configuration file or environment variable is unreadable or holds a bad setting."""


class Setting(NamedTuple):
    """A configurable option. ``key`` is both the name in the file and the long option."""

    key: str
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

    @property
    def env(self) -> tuple[str, ...]:
        return (ENV_PREFIX + self.key.upper().replace("-", "_"), *self.env_aliases)


SETTINGS: dict[str, Setting] = {
    s.key: s
    for s in (
        Setting("rules", file_relative=True),
        Setting("exclude"),
        Setting("fail-on"),
        Setting("strict"),
        Setting("max-file-size"),
        Setting("max-decode-depth"),
        Setting("max-archive-depth"),
        Setting("max-archive-size"),
        Setting("max-archive-ratio"),
        Setting("max-archive-members"),
        Setting("api-base", env_aliases=("HESEDVID_API_BASE",), only_with="verify",
                in_file=False),
        Setting("org-id", env_aliases=("HESEDVID_ORG_ID",), only_with="verify"),
        Setting("ignore-file", file_relative=True, discover=IGNORE_NAME),
        Setting("baseline", file_relative=True),
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
            raise ConfigError(f"{shown(path, tree)}: no [tool.hvscan] table")
        return None
    if not isinstance(table, dict):
        raise ConfigError(f"{shown(path, tree)}: 'tool.hvscan' must be a table")
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
        raise ConfigError(f"{shown(path)}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{shown(path, tree)}: not UTF-8 text") from None


def _parse_toml(path: Path, tree: CommitTree | None, text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{shown(path, tree)}: invalid TOML: {exc}") from None


def shown(path: Path, tree: CommitTree | None = None) -> str:
    """A path as messages show it: relative to the current directory when below it; in a
    commit, as git names it (``<commit>:<path>``)."""
    if tree is not None:
        return tree.shown(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def resolve(ctx: click.Context, values: dict[str, Any]) -> None:
    """Fill ``values`` (a command's keyword arguments) for every configurable option that the
    command line left at its default, from the environment, then the file, then discovery.
    Pops ``config_file`` (the ``--config`` option)."""
    explicit: Path | None = values.pop("config_file", None)
    start = _start_dir(ctx)
    dirs = project_dirs(start)
    trees = _range_trees(start, dirs, values)
    if trees is None:
        _fill(ctx, values, explicit, dirs, None)
        return
    base, tip = trees
    from hvscan.sources.gitcmd import GitError

    try:
        dirs = [d for d in dirs if base.relative(d) is not None]
        _fill(ctx, values, explicit, dirs, base)
        if tip is not None:
            # The change's own ignore file is never applied; the findings it would have
            # suppressed say so (hvscan/suppress.py).
            values["untrusted_ignore_file"] = _discover(dirs, IGNORE_NAME, tip)
    except GitError as exc:
        raise ConfigError(f"{base.commit[:12]}: cannot read the configuration: {exc}") from None


def _fill(ctx: click.Context, values: dict[str, Any], explicit: Path | None, dirs: list[Path],
          tree: CommitTree | None) -> None:
    config = load_config(explicit) if explicit is not None else find_config(dirs, tree)
    options = _configurable_options(ctx)
    from_file = _file_values(ctx, config, options) if config is not None else {}
    for param in ctx.command.params:
        key = _key(param)
        if key not in options or param.name is None:
            continue
        if ctx.get_parameter_source(param.name) is not ParameterSource.DEFAULT:
            continue
        setting = SETTINGS[key]
        value = None
        if setting.only_with is None or values.get(setting.only_with):
            value = _env_value(ctx, param, setting)
        if value is None:
            value = from_file.get(key)
        if value is None and setting.discover is not None:
            value = _discover(dirs, setting.discover, tree)
        if value is not None:
            values[param.name] = value


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
    from hvscan.history import range_ends
    from hvscan.sources.gitcmd import GitError
    from hvscan.sources.githistory import open_repository, resolve_commit

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


def _start_dir(ctx: click.Context) -> Path:
    """Where to look for the configuration: the command's first path argument (the scanned
    directory, or a scanned file's directory, or the repository), else the current directory
    (``discovery.start_dir``, as the fast path does)."""
    first: str | None = None
    for param in ctx.command.params:
        # Only a path argument names where the scan happens (not, say, a push's remote name).
        if (isinstance(param, click.Argument) and isinstance(param.type, click.Path)
                and param.name is not None):
            value = ctx.params.get(param.name)
            given = value[0] if isinstance(value, tuple | list) and value else value
            if isinstance(given, str | bytes | os.PathLike) and given:
                first = os.fsdecode(given)
            break
    return Path(discovery.start_dir(first))


def _key(param: click.Parameter) -> str | None:
    for opt in param.opts:
        if opt.startswith("--"):
            return opt[2:]
    return None


def _configurable_options(ctx: click.Context) -> dict[str, click.Parameter]:
    """Settings that some scan command has as an option: the current command's own option
    first, then its siblings', so a file shared by all commands is checked as a whole."""
    commands: list[click.Command] = [ctx.command]
    if ctx.parent is not None and isinstance(ctx.parent.command, click.Group):
        commands += ctx.parent.command.commands.values()
    options: dict[str, click.Parameter] = {}
    for command in commands:
        for param in command.params:
            key = _key(param)
            if key in SETTINGS and key not in options:
                options[key] = param
    return options


def _file_values(
    ctx: click.Context, config: ConfigFile, options: dict[str, click.Parameter]
) -> dict[str, Any]:
    where = shown(config.path, config.tree)
    converted: dict[str, Any] = {}
    for key, raw in config.values.items():
        name = config.key_prefix + key
        if key in SETTINGS and not SETTINGS[key].in_file:
            raise ConfigError(
                f"{where}: key {name!r} is not allowed in a configuration file (a scanned "
                f"repository must not choose where keys are sent); use --{key} or "
                f"{' or '.join(SETTINGS[key].env)}"
            )
        if key not in options:
            allowed = sorted(k for k in options if SETTINGS[k].in_file)
            raise ConfigError(f"{where}: unknown key {name!r}; allowed: {', '.join(allowed)}")
        param = options[key]
        if param.multiple:
            raw = [raw] if isinstance(raw, str) else raw  # one pattern or file needs no list
            if not isinstance(raw, list) or any(isinstance(v, list | dict) for v in raw):
                raise ConfigError(f"{where}: key {name!r} must be a list of values")
        elif isinstance(raw, list | dict):
            raise ConfigError(f"{where}: key {name!r} must be a single value, not a "
                              f"{'list' if isinstance(raw, list) else 'table'}")
        if SETTINGS[key].file_relative:
            base = config.path.parent
            if config.tree is not None:
                files = [_committed(config.tree, base / str(v), f"{where}: key {name!r}")
                         for v in (raw if param.multiple else [raw])]
                converted[key] = tuple(files) if param.multiple else files[0]
                continue
            raw = [str(base / str(v)) for v in raw] if param.multiple else str(base / str(raw))
        converted[key] = _convert(ctx, param, raw, f"{where}: key {name!r}")
    return converted


def _committed(tree: CommitTree, path: Path, where: str) -> CommittedFile:
    found = tree.read(path)
    if found is None:
        raise ConfigError(f"{where}: {tree.shown(path)} is not a file in that commit")
    return found


def _env_value(ctx: click.Context, param: click.Parameter, setting: Setting) -> Any:
    for variable in setting.env:
        raw = os.environ.get(variable)
        if raw is None or raw == "":
            continue
        value: Any = param.type.split_envvar_value(raw) if param.multiple else raw
        return _convert(ctx, param, value, f"environment variable {variable}")
    return None


def _convert(ctx: click.Context, param: click.Parameter, value: Any, where: str) -> Any:
    try:
        value = param.type_cast_value(ctx, value)
        return value if param.callback is None else param.callback(ctx, param, value)
    except click.BadParameter as exc:
        raise ConfigError(f"{where}: {exc.message}") from None


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


def check_patterns(
    ctx: click.Context, param: click.Parameter, patterns: tuple[str, ...]
) -> tuple[str, ...]:
    """Click callback of ``--exclude``: a typo in a pattern fails with the option's name (and,
    through ``resolve``, the file's or variable's)."""
    from hvscan.excludes import pattern_problem

    for pattern in patterns:
        problem = pattern_problem(pattern)
        if problem is not None:
            raise click.BadParameter(problem, ctx, param)
    return patterns
