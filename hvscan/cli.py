"""The command line: click parses the options and hands them over; nothing else happens here.

Each subcommand's option values are settled by hvscan/config.py (the environment and the
configuration file fill what the command line left at its default), taken into typed records
(hvscan/settings/options.py), and passed to its module in hvscan/commands/, which runs it.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from hvscan import __version__
from hvscan.commands.baseline import DEFAULT_BASELINE
from hvscan.report import FORMATS
from hvscan.runner import EXIT_ERROR, HvscanError, OutputOptions, guarded
from hvscan.settings import checks
from hvscan.settings.options import (
    OptionError,
    ScanOptions,
    VerifyOptions,
    take,
)
from hvscan.sources.files import DEFAULT_MAX_FILE_SIZE

# Path types shared by every option and argument: each click.Path looks up the translations of
# its name when it is made, which would cost every start-up a few ms over some 35 of them.
FILE = click.Path(dir_okay=False, path_type=Path)
EXISTING_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
DIRECTORY = click.Path(file_okay=False, path_type=Path)
ANY_PATH = click.Path(path_type=Path)

F = TypeVar("F", bound=Callable[..., Any])


class SizeType(click.ParamType):  # type: ignore[type-arg]
    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            return checks.size(value)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def _checked_by(check: checks.Convert) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback applying one of hvscan/settings/checks.py's checks (to each value of a
    repeated option), as hvscan/config.py does to values from a file or the environment."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        try:
            if isinstance(value, tuple):
                return tuple(check(v) for v in value)
            return None if value is None else check(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc), ctx, param) from None

    return callback


_VERIFY_OPTIONS = [
    click.option("--verify", is_flag=True,
                 help="Ask the HesedVid API whether each distinct key found is live (one HEAD "
                      "request per key; off by default)."),
    # Their environment variables are read by hvscan/config.py, and only with --verify.
    click.option("--api-base", metavar="URL",
                 callback=_checked_by(checks.verified("check_api_base")),
                 help="HesedVid API base URL [env HESEDVID_API_BASE, read only with --verify; "
                      "default https://api.hesedvid.com; http:// only for loopback hosts]."),
    click.option("--org-id", metavar="ID",
                 callback=_checked_by(checks.verified("check_org_id")),
                 help="Org ID for verification [env HESEDVID_ORG_ID, read only with --verify; "
                      "default: one written next to the key, else a placeholder]."),
    click.option("--only-verified", is_flag=True,
                 help="Report only keys verified live (same as --results live)."),
    click.option("--results", metavar="LIST",
                 help="Report only these verification results: comma-separated "
                      "live,unknown,invalid (default: all; trufflehog's verified and "
                      "unverified mean live and invalid)."),
    click.option("--verify-workers", type=click.IntRange(1, 16), default=4, show_default=True,
                 help="Verification requests in flight at once."),
    click.option("--verify-timeout", type=click.FloatRange(0, min_open=True), default=10.0,
                 show_default=True, metavar="SECONDS",
                 help="Timeout of each connect and read of a request."),
    click.option("--verify-key-deadline", type=click.FloatRange(0, min_open=True), default=30.0,
                 show_default=True, metavar="SECONDS",
                 help="Time for one key's answer, retries and waits included; past it the key "
                      "is unknown."),
    click.option("--verify-deadline", type=click.FloatRange(0, min_open=True), default=300.0,
                 show_default=True, metavar="SECONDS",
                 help="Time for all of verification; keys without an answer by then are "
                      "unknown."),
    click.option("--verify-retries", type=click.IntRange(0, 10), default=3, show_default=True,
                 help="Retries of a rate-limited (HTTP 429) request before the key is unknown."),
    click.option("--verify-cache", type=FILE,
                 metavar="FILE",
                 help="Keep live/invalid answers in FILE (hashes, statuses and times only)."),
    click.option("--verify-cache-ttl", type=click.IntRange(0), default=86400, show_default=True,
                 metavar="SECONDS", help="How long an answer in --verify-cache stays valid."),
]


def scan_options(function: F) -> F:
    """Options of every command that scans: what to look for and what to leave out. An option
    the command line leaves at its default takes its value from the environment or the
    configuration file (``hvscan/config.py``), for every command alike."""
    options = [
        click.option("--config", "config_file", envvar="HVSCAN_CONFIG",
                     type=FILE,
                     help="Configuration file (default: .hvscan.toml, or [tool.hvscan] in "
                          "pyproject.toml, looked up from the scanned directory to the "
                          "repository root)."),
        click.option("--rules", "rule_files", multiple=True,
                     type=EXISTING_FILE,
                     help="Extra rule file (TOML, same schema as the built-in rules). Repeatable."),
        click.option("--exclude", multiple=True, metavar="PATTERN",
                     callback=_checked_by(checks.pattern),
                     help="Leave out paths matching this gitignore-style pattern (matched "
                          "against reported paths; history paths too). Repeatable."),
        click.option("--ignore-file", type=FILE,
                     help="Fingerprints and key hashes to ignore, one a line (default: "
                          ".hvscanignore in the scanned directory or a parent, up to the "
                          "repository root)."),
        click.option("--foreign-allow-markers/--no-foreign-allow-markers", default=True,
                     show_default=True,
                     help="Honour other scanners' inline allow markers like hvscan:allow: "
                          "gitleaks:allow, trufflehog:ignore and detect-secrets' 'pragma: "
                          "allowlist secret' on the key's line, 'pragma: allowlist nextline "
                          "secret' on the line before."),
        *_decode_options(),
    ]
    function = _configured(function)
    for option in reversed(options):
        function = option(function)
    return function


def _decode_options() -> list[Callable[[F], F]]:
    from hvscan.engine import Limits

    default = Limits()
    return [
        click.option("--max-decode-depth", type=click.IntRange(*checks.DECODE_DEPTH),
                     default=default.decode_depth, show_default=True,
                     help="Decode encoded text (base64, UTF-16/32, percent, escapes) nested up "
                          "to this deep; 0: no decoding."),
        click.option("--max-archive-depth", type=click.IntRange(*checks.ARCHIVE_DEPTH),
                     default=default.archive_depth, show_default=True,
                     help="Open archives and compressed files (zip, jar, tar, gzip...) nested up "
                          "to this deep; 0: leave them closed."),
        click.option("--max-archive-size", type=SizeType(), default=default.archive_bytes,
                     help="Stop expanding a file's archives after this many bytes "
                          "[default: 256MB]."),
        click.option("--max-archive-ratio", type=click.IntRange(1), show_default=True,
                     default=default.archive_ratio,
                     help="Stop expanding an archive member beyond this compression ratio "
                          "(any member may expand to 1MB)."),
        click.option("--max-archive-members", type=click.IntRange(1), show_default=True,
                     default=default.archive_members,
                     help="Open at most this many archive members per scanned file."),
    ]


_STRICT_OPTION = click.option(
    "--strict/--no-strict", default=False,
    help="Exit 2 when anything was left unscanned (a file skipped, an archive limit reached, a "
         "damaged container), listing it on standard error; notes alone never change the exit "
         "code otherwise.")


REDACT_FLAG = "--redact"


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Keep a value that reaches no command (``--redact``) where ``_configured`` checks it."""
    ctx.meta[f"hvscan.{param.name}"] = value


def report_options(function: F) -> F:
    """Options every scan command that reports shares (``scan_options`` included)."""
    options = [
        click.option("--format", "output_format", default="text", show_default=True,
                     type=click.Choice(FORMATS),
                     help="Report format (see docs/report-format.md)."),
        click.option("--output", "-o", "output", type=FILE,
                     help="Write the report to FILE instead of standard output."),
        click.option("--fail-on", default="low", show_default=True,
                     type=click.Choice(checks.FAIL_ON),
                     help="Exit 1 when a finding has at least this severity."),
        click.option("--exit-zero", is_flag=True,
                     help="Exit 0 even when findings are reported (errors still exit 2)."),
        _STRICT_OPTION,
        click.option("--baseline", "baseline_file",
                     type=FILE,
                     help="Report only findings not recorded in this file by 'hvscan baseline'."),
        click.option("--show-suppressed", is_flag=True,
                     help="Also list suppressed findings (inline allow, ignore file, baseline)."),
        click.option("--show-secrets", is_flag=True,
                     help="Print full secrets in the report (redacted by default)."),
        # gitleaks' spelling of the default: accepted so that its command lines carry over.
        click.option(REDACT_FLAG, is_flag=True, expose_value=False, callback=_remember,
                     help="Redact secrets in the report: the default (for gitleaks' command "
                          "lines); refused with --show-secrets."),
        click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto",
                     show_default=True,
                     help="Colour the text report (auto: on a terminal, unless NO_COLOR is set)."),
        *_VERIFY_OPTIONS,
    ]
    function = scan_options(function)
    for option in reversed(options):
        function = option(function)
    return function


def max_file_size_option(help: str) -> Callable[[F], F]:
    return click.option("--max-file-size", type=SizeType(), default=DEFAULT_MAX_FILE_SIZE,
                        show_default=True, help=help)


def dir_options(function: F) -> F:
    """The paths and options of ``hvscan dir``, shared with ``hvscan baseline``."""
    function = max_file_size_option("Skip (and list) files larger than this.")(function)
    # Not a setting (hvscan/config.py): a scanned repository must not widen what is read.
    function = click.option("--follow-symlinks", is_flag=True,
                            help="Follow symbolic links that lead outside the scanned "
                                 "directories (skipped with a note by default; /proc, /sys and "
                                 "/dev are never read).")(function)
    return click.argument("paths", nargs=-1, type=ANY_PATH)(function)


def _configured(function: F) -> F:
    """Settle a scan command's options (hvscan/config.py fills what the command line left at
    its default) and hand them over as typed records: ``options`` (ScanOptions), and with the
    report options ``report`` (OutputOptions) and ``verify`` (VerifyOptions)."""

    @functools.wraps(function)
    def settled(**values: Any) -> Any:
        from hvscan import config

        ctx = click.get_current_context()
        if ctx.meta.get("hvscan.redact") and values.get("show_secrets"):
            raise click.UsageError(f"{REDACT_FLAG} and --show-secrets contradict each other: "
                                   "reports are redacted unless --show-secrets", ctx)
        given = {name for name in values
                 if ctx.get_parameter_source(name) is not ParameterSource.DEFAULT}
        config.resolve(values, given, _first_path(ctx))
        records: dict[str, Any] = {}
        if "output_format" in values:
            records["report"] = take(values, OutputOptions)
            records["verify"] = take(values, VerifyOptions)
        records["options"] = take(values, ScanOptions)
        try:
            return function(**values, **records)
        except OptionError as exc:
            if exc.option is not None:
                raise click.BadParameter(str(exc), ctx, param_hint=exc.option) from None
            raise click.UsageError(str(exc), ctx) from None

    return settled  # type: ignore[return-value]


def _first_path(ctx: click.Context) -> str | None:
    """The command's first path argument (the scanned directory or file, or the repository),
    where its configuration is looked up from; None for a command without one."""
    for param in ctx.command.params:
        # Only a path argument names where the scan happens (not, say, a push's remote name).
        if (isinstance(param, click.Argument) and isinstance(param.type, click.Path)
                and param.name is not None):
            value = ctx.params.get(param.name)
            first = value[0] if isinstance(value, tuple | list) and value else value
            if isinstance(first, str | bytes | os.PathLike) and first:
                return os.fsdecode(first)
            break
    return None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hvscan")
def cli() -> None:
    """Find leaked HesedVid API keys."""


HOOK_FLAG = "--hook"


class DirCommand(click.Command):
    """``hvscan dir``, whose ``--hook`` mode (the ``hvscan`` pre-commit hook's) reads an argument
    that names an existing path as that path, never as an option: the pre-commit framework
    appends the names of the files, which whoever commits chooses, after the user's options."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args[:1] == [HOOK_FLAG]:
            options = [param for param in self.get_params(ctx) if isinstance(param, click.Option)]
            names = {name for option in options for name in (*option.opts, *option.secondary_opts)}
            taking_values = {name for option in options if not option.is_flag
                             for name in option.opts}
            args = [HOOK_FLAG, *_names_as_paths(args[1:], names, taking_values)]
        elif HOOK_FLAG in args[:args.index("--") if "--" in args else len(args)]:
            raise click.UsageError(f"{HOOK_FLAG} must come first, right after 'dir'", ctx)
        return super().parse_args(ctx, args)


def _names_as_paths(args: list[str], option_names: set[str],
                    taking_values: set[str]) -> list[str]:
    """``args`` with each argument that starts with '-' and names an existing path moved after
    a ``--``, so that it is a path (unless it is the value of the option before it: ``--exclude
    -build``). One that also spells an option of the command fails the run (it might be the
    user's option or a file named after it: either reading could weaken the scan), so a file
    name can never turn the hook from failed to passed."""
    end = args.index("--") if "--" in args else len(args)
    options: list[str] = []
    paths: list[str] = []
    value_next = False
    for arg in args[:end]:
        if value_next:  # an option's value, whatever it looks like
            options.append(arg)
            value_next = False
        elif arg.startswith("-") and arg != "-" and os.path.lexists(os.fsencode(arg)):
            spelled = arg.split("=", 1)[0] if arg.startswith("--") else arg[:2]
            if spelled in option_names:
                raise HvscanError(f"{arg!r} is the name of an existing file and an option of "
                                  f"hvscan dir: with {HOOK_FLAG}, a file name is never read as "
                                  "an option; rename the file")
            paths.append(arg)
        else:
            options.append(arg)
            value_next = arg in taking_values
    return [*options, "--", *paths, *args[end + 1:]] if paths else args


@cli.command("dir", cls=DirCommand)
@click.option(HOOK_FLAG, is_flag=True, expose_value=False,
              help="Must come first. Every argument that names an existing file or directory is "
                   "a path, never an option (the pre-commit hook's mode: it appends file names "
                   "after your options); one that is also an option's name fails the run.")
@dir_options
@report_options
def dir_command(paths: tuple[Path, ...], max_file_size: int, follow_symlinks: bool,
                options: ScanOptions, report: OutputOptions, verify: VerifyOptions) -> None:
    """Scan files and directory trees (default: the current directory)."""
    from hvscan.commands.dir import run

    run(paths, max_file_size, follow_symlinks, options, report, verify)


@cli.command("stdin")
@max_file_size_option("Read at most this much of standard input; more is not scanned, and the "
                      "report says so.")
@report_options
def stdin_command(max_file_size: int, options: ScanOptions, report: OutputOptions,
                  verify: VerifyOptions) -> None:
    """Scan standard input."""
    from hvscan.commands.stdin import run

    run(max_file_size, options, report, verify)


@cli.command("baseline")
@dir_options
@click.option("--git", "history", is_flag=True,
              help="Also record the findings in the history of the repository holding the "
                   "first PATH (or the current directory), as 'hvscan git' reports them.")
@click.option("--output", "-o", type=FILE,
              default=DEFAULT_BASELINE, show_default=True, help="Baseline file to write.")
@click.option("--update", is_flag=True,
              help="Update the existing file instead of rewriting it: entries still found are "
                   "kept with their notes, others removed, new findings added; what changed "
                   "is listed on standard error.")
@click.option("--reason", metavar="TEXT",
              help="Why the findings this run adds were accepted (stored in their entries).")
@click.option("--accepted-by", metavar="NAME",
              help="Who accepted the findings this run adds (stored in their entries).")
@_STRICT_OPTION
@scan_options
def baseline_command(
    paths: tuple[Path, ...], max_file_size: int, follow_symlinks: bool, history: bool,
    output: Path, update: bool, reason: str | None, accepted_by: str | None, strict: bool,
    options: ScanOptions
) -> None:
    """Record the current findings as accepted, so that scans with --baseline FILE report only
    new ones. The file holds fingerprints and key hashes, never keys, and no line numbers:
    recording an unchanged tree again gives the same bytes."""
    from hvscan.commands.baseline import run

    run(paths, max_file_size, follow_symlinks, history, output, strict, update, reason,
        accepted_by, options)


@cli.command("git")
# Text, not a Path: a clone URL is no path (Path("https://h/x") would be "https:/h/x").
@click.argument("repos", nargs=-1, type=click.Path())
@click.option("--repos-file", type=EXISTING_FILE,
              help="Also audit the repositories listed in FILE: a path or clone URL a line, "
                   "'#' starts a comment.")
@click.option("--clone-dir", type=DIRECTORY,
              help="Keep the mirrors of remote repositories here (default: hvscan/repos in "
                   "the user's cache directory); later runs fetch them again.")
@click.option("--jobs", "-j", type=click.IntRange(1),
              help="Audit this many repositories at once (default: the number of cores).")
@click.option("--shard", metavar="I/N",
              help="Audit only the I-th of N stable shares of the repositories (1-based; by a "
                   "hash of each one's normalised URL or path); join reports with 'hvscan "
                   "merge'.")
@click.option("--since-commit", metavar="REV",
              help="Only commits that REV does not reach: what was added since REV.")
@click.option("--range", "commit_range", metavar="A..B",
              help="Only commits that B reaches and A does not (what B added since it forked "
                   "from A; the configuration is read from A). A...B is refused.")
@click.option("--branch", metavar="REF",
              help="Only the history of REF (branch, tag or commit) instead of every ref.")
@click.option("--all-occurrences", is_flag=True,
              help="List every commit and path that introduced a key, not only the first.")
@click.option("--include-unreachable", is_flag=True,
              help="Also report objects no ref reaches (amended, rebased or dropped commits), "
                   "labelled unreachable.")
@max_file_size_option("Do not read blobs, commits and tags larger than this; each is listed as "
                      "not scanned.")
@click.option("--progress/--no-progress", default=None,
              help="Progress line on standard error (default: when it is a terminal).")
@click.option("--staged", is_flag=True,
              help="Scan the staged change instead of the history (same as 'hvscan staged').")
# Incremental audits (docs/incremental.md). Not settings: a scanned repository's configuration
# must not choose where hvscan writes.
@click.option("--state", "state_file", type=FILE, metavar="FILE",
              help="Remember in FILE (SQLite) what this audit read and found in each "
                   "repository, and read only what is new since the last audit recorded there; "
                   "every finding is still reported. Whole-history audits only.")
@click.option("--incremental", is_flag=True,
              help="--state with the default file, $XDG_CACHE_HOME/hvscan/state.sqlite3 "
                   "(~/.cache/hvscan/state.sqlite3).")
@report_options
def git_command(repos: tuple[str, ...], repos_file: Path | None, clone_dir: Path | None,
                jobs: int | None, shard: str | None,
                since_commit: str | None, commit_range: str | None,
                branch: str | None, all_occurrences: bool, include_unreachable: bool,
                max_file_size: int, progress: bool | None, staged: bool,
                state_file: Path | None, incremental: bool, options: ScanOptions,
                report: OutputOptions, verify: VerifyOptions) -> None:
    """Audit the whole history of a repository (default: the one containing the current
    directory): every object reachable from any ref, each distinct blob read once; commit and
    tag messages too. A key is reported once per path, at the commit that introduced it.

    Several REPOs (paths or clone URLs: https://, ssh://, file://, user@host:path, or owner/name
    on github.com) are audited in parallel into one report, each finding naming its
    repository; remotes are cloned as mirrors (see docs/scale.md)."""
    from hvscan.commands.git import run
    from hvscan.commands.many import Repositories
    from hvscan.sources.history import HistoryOptions

    history = HistoryOptions(since_commit=since_commit, commit_range=commit_range,
                             branch=branch, all_occurrences=all_occurrences,
                             include_unreachable=include_unreachable,
                             max_file_size=max_file_size)
    repositories = Repositories(repos, repos_file, clone_dir, jobs, shard)
    state = _state_file(state_file, incremental)
    if repositories.many():
        from hvscan.commands import many

        if staged:
            raise click.UsageError("--staged scans one repository's index")
        many.run(repositories, history, progress, options, report, verify, state=state)
    run(Path(repos[0]) if repos else None, history, progress, staged, options, report, verify,
        state=state)


def _state_file(state_file: Path | None, incremental: bool) -> Path | None:
    """``hvscan git``'s state file: --state FILE, or with --incremental the default one."""
    if not incremental:
        return state_file
    if state_file is not None:
        raise HvscanError("use either --state FILE or --incremental, not both")
    from hvscan.state import default_path

    return default_path()


@cli.command("merge")
@click.argument("reports", nargs=-1, required=True, type=EXISTING_FILE)
@click.option("--format", "output_format", default="text", show_default=True,
              type=click.Choice(FORMATS), help="Report format (see docs/report-format.md).")
@click.option("--output", "-o", "output", type=FILE,
              help="Write the report to FILE instead of standard output.")
@click.option("--fail-on", default="low", show_default=True, type=click.Choice(checks.FAIL_ON),
              help="Exit 1 when a finding has at least this severity.")
@click.option("--exit-zero", is_flag=True,
              help="Exit 0 even when findings are reported (errors still exit 2).")
@_STRICT_OPTION
@click.option("--show-suppressed", is_flag=True,
              help="Also list the suppressed findings the reports hold (written with it).")
@click.option("--show-secrets", is_flag=True,
              help="Print the full secrets the reports hold (written with it).")
@click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto",
              show_default=True, help="Colour the text report (auto: on a terminal).")
def merge_command(reports: tuple[Path, ...], output_format: str, output: Path | None,
                  fail_on: str, exit_zero: bool, strict: bool, show_suppressed: bool,
                  show_secrets: bool, color: str) -> None:
    """Join JSON reports of 'hvscan git --shard I/N' runs (or any hvscan JSON reports of this
    major version) into one: findings of every report, one key entry per distinct key across
    repositories. Exit code as a scan's (2 when a report holds errors)."""
    from hvscan.commands.merge import run

    run(reports, OutputOptions(output_format, output, fail_on, exit_zero, strict,
                               show_suppressed, show_secrets, color))


@cli.command("purge-plan")
@click.argument("repo", required=False, type=ANY_PATH)
@click.option("--output", "-o", "output", type=DIRECTORY, required=True, metavar="DIR",
              help="Directory to write the plan into (made, mode 0700); it must be new or "
                   "empty, and outside the repository's work tree.")
@click.option("--force", is_flag=True,
              help="Write into DIR even if it is not empty (the plan's own files are replaced).")
@click.option("--skip-suppressed", is_flag=True,
              help="Leave out keys whose every finding is suppressed (inline allow markers, "
                   "--ignore-file); by default they are purged too: a suppression says a key "
                   "was accepted, not that it is not in the history.")
@_STRICT_OPTION
@max_file_size_option("Do not read blobs, commits and tags larger than this; each is listed in "
                      "the plan as not scanned.")
@click.option("--progress/--no-progress", default=None,
              help="Progress line on standard error (default: when it is a terminal).")
@scan_options
def purge_plan_command(repo: Path | None, output: Path, force: bool, skip_suppressed: bool,
                       strict: bool, max_file_size: int, progress: bool | None,
                       options: ScanOptions) -> None:
    """Write the plan that removes every key in REPO's history (default: the repository of the
    current directory) with git filter-repo: every ref, every object no ref reaches, every
    commit and tag message are audited, as 'hvscan git --include-unreachable' does.

    \b
    DIR gets:
      replacements.txt    the keys, in full (mode 0600; the only file that holds them):
                          git filter-repo's --replace-text and --replace-message file
      blobs-to-strip.txt  blobs that hold a key encoded (base64, in an archive...),
                          where text replacement cannot reach it (when there are any)
      refs-to-delete.txt  tags of blobs or trees holding a key, which git filter-repo
                          leaves as they are (when there are any)
      purge.sh            the one script to run, on a fresh 'git clone --mirror': it
                          checks the mirror, runs git filter-repo (2.47 or later), expires
                          reflogs, runs gc, checks the result with hvscan, and prints the
                          force-push and what each collaborator must do
      PLAN.md             every step in order: revoke the keys first, mirror clone,
                          purge.sh, verify, force-push, ask the host to drop cached
                          views and pull-request refs, re-clone, delete DIR

    Only redacted keys are printed. Exit 0 when the plan is written (or there is nothing to
    purge), 2 when the history could not be read whole or DIR cannot be used."""
    from hvscan.commands.purge_plan import run

    run(repo, output, force, skip_suppressed, strict, max_file_size, progress, options)


@cli.command("staged")
@click.argument("repo", required=False, type=DIRECTORY)
@report_options
def staged_command(repo: Path | None, options: ScanOptions, report: OutputOptions,
                   verify: VerifyOptions) -> None:
    """Scan the staged change (what `git commit` would record, read from the index) and report
    only the keys it adds. REPO defaults to the repository of the current directory."""
    from hvscan.commands.staged import run

    run(repo, options, report, verify)


@cli.command("pre-push")
@click.argument("remote", required=False)
@click.argument("url", required=False)
@report_options
def pre_push_command(remote: str | None, url: str | None, options: ScanOptions,
                     report: OutputOptions, verify: VerifyOptions) -> None:
    """Scan what a push from the repository of the current directory sends that the remote
    does not have yet, and report only the keys the pushed commits add. Run as a git pre-push
    hook (REMOTE and URL are git's arguments, the refs being pushed come on standard input) or
    from the pre-commit framework (which sets PRE_COMMIT_FROM_REF and PRE_COMMIT_TO_REF)."""
    from hvscan.commands.pre_push import run

    run(remote, options, report, verify)


@cli.command("install-hook")
@click.argument("repo", required=False, type=DIRECTORY)
@click.option("--pre-push", "pre_push", is_flag=True,
              help="Install a pre-push hook (scans the commits being pushed) instead of a "
                   "pre-commit hook (scans the staged change).")
@click.option("--force", is_flag=True, help="Replace an existing hook.")
def install_hook_command(repo: Path | None, pre_push: bool, force: bool) -> None:
    """Install a git hook that runs hvscan, for repositories that do not use the pre-commit
    framework. Refuses to replace an existing hook unless --force is given."""
    from hvscan.commands.install_hook import run

    run(repo, pre_push, force)


def main() -> None:
    guarded(_click_main)


def _click_main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):
            raise KeyboardInterrupt from None  # guarded() gives it exit code 130
        click.echo("hvscan: aborted", err=True)
        sys.exit(EXIT_ERROR)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_ERROR)
