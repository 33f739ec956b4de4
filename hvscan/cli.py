"""The command line: parse options, build the pipeline, print the report, choose the exit code.

Exit codes: 0 no finding at or above --fail-on; 1 findings at or above it; 2 usage error or
something asked for could not be scanned (2 wins over 1: an incomplete scan is never a verdict).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hvscan import __version__

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
DEFAULT_MAX_FILE_SIZE = "100MB"
_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "M": 1024**2, "MB": 1024**2, "G": 1024**3,
          "GB": 1024**3}

F = TypeVar("F", bound=Callable[..., Any])


class HvscanError(Exception):
    """A runtime failure reported as one line and exit code 2."""


class SizeType(click.ParamType):
    name = "size"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().upper()
        number = text.rstrip("KMGB")
        unit = text[len(number):]
        if not number.isdigit() or unit not in _UNITS:
            self.fail(f"{value!r} is not a size such as 500000, 100MB or 1GB", param, ctx)
        return int(number) * _UNITS[unit]


def report_options(function: F) -> F:
    """Options every scan command shares."""
    options = [
        click.option("--rules", "rule_files", multiple=True,
                     type=click.Path(dir_okay=False, path_type=Path),
                     help="Extra rule file (TOML, same schema as the built-in rules). Repeatable."),
        click.option("--format", "output_format", default="text", show_default=True,
                     type=click.Choice(["text", "json"]), help="Report format."),
        click.option("--output", "-o", "output", type=click.Path(dir_okay=False, path_type=Path),
                     help="Write the report to FILE instead of standard output."),
        click.option("--fail-on", default="low", show_default=True,
                     type=click.Choice(["info", "low", "medium", "high", "critical", "none"]),
                     help="Exit 1 when a finding has at least this severity."),
        click.option("--show-secrets", is_flag=True,
                     help="Print full secrets in the report (redacted by default)."),
        click.option("--color", type=click.Choice(["auto", "always", "never"]), default="auto",
                     show_default=True,
                     help="Colour the text report (auto: on a terminal, unless NO_COLOR is set)."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="hvscan")
def cli() -> None:
    """Find leaked HesedVid API keys."""


@cli.command("dir")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--max-file-size", type=SizeType(), default=DEFAULT_MAX_FILE_SIZE,
              show_default=True, help="Skip (and list) files larger than this.")
@report_options
def dir_command(paths: tuple[Path, ...], max_file_size: int, **options: Any) -> None:
    """Scan files and directory trees (default: the current directory)."""
    from hvscan.sources import files

    roots = [os.fsencode(p) for p in paths] or [b"."]
    _scan(lambda: files.walk(roots, max_file_size), **options)


@cli.command("stdin")
@report_options
def stdin_command(**options: Any) -> None:
    """Scan standard input."""
    from hvscan.sources import stdin

    _scan(lambda: stdin.read(sys.stdin.buffer), **options)


@cli.command("git")
@click.argument("repo", required=False, type=click.Path(path_type=Path))
@click.option("--since-commit", metavar="REV",
              help="Only commits that REV does not reach: what was added since REV.")
@click.option("--range", "commit_range", metavar="A..B",
              help="Only commits that B reaches and A does not.")
@click.option("--branch", metavar="REF",
              help="Only the history of REF (branch, tag or commit) instead of every ref.")
@click.option("--all-occurrences", is_flag=True,
              help="List every commit and path that introduced a key, not only the first.")
@click.option("--include-unreachable", is_flag=True,
              help="Also report objects no ref reaches (amended, rebased or dropped commits), "
                   "labelled unreachable.")
@click.option("--progress/--no-progress", default=None,
              help="Progress line on standard error (default: when it is a terminal).")
@report_options
def git_command(repo: Path | None, since_commit: str | None, commit_range: str | None,
                branch: str | None, all_occurrences: bool, include_unreachable: bool,
                progress: bool | None, **options: Any) -> None:
    """Audit the whole history of a repository (default: the one containing the current
    directory): every object reachable from any ref, each distinct blob read once; commit and
    tag messages too. A key is reported once per path, at the commit that introduced it."""
    from hvscan.history import HistoryOptions

    if commit_range is not None and (since_commit is not None or branch is not None):
        raise click.UsageError("--range cannot be combined with --since-commit or --branch")
    history_options = HistoryOptions(since_commit=since_commit, commit_range=commit_range,
                                     branch=branch, all_occurrences=all_occurrences,
                                     include_unreachable=include_unreachable)
    show_progress = sys.stderr.isatty() if progress is None else progress
    _run(lambda engine: _audit_history(engine, repo or Path(), history_options,
                                       show_progress), **options)


def _audit_history(engine: Any, repo: Path, options: Any, show_progress: bool) -> Any:
    from hvscan.history import audit
    from hvscan.progress import Progress
    from hvscan.sources.gitcmd import GitError

    bars: list[Progress] = []

    def progress(total: int) -> Callable[[Any], None]:
        bar = Progress(total)
        bars.append(bar)
        return lambda stats: bar.update(stats.objects, stats.read_bytes)

    try:
        return audit(repo, engine, options, progress if show_progress else None)
    except GitError as exc:
        raise HvscanError(str(exc)) from None
    finally:
        for bar in bars:
            bar.close()


def _scan(events: Callable[[], Any], **options: Any) -> None:
    from hvscan import scan

    _run(lambda engine: scan.run(engine, events()), **options)


def _run(
    produce: Callable[[Any], Any],
    *,
    rule_files: tuple[Path, ...],
    output_format: str,
    output: Path | None,
    fail_on: str,
    show_secrets: bool,
    color: str,
) -> None:
    """Build the engine, let ``produce`` turn it into a ScanResult, report, and exit."""
    from hvscan.engine import Engine
    from hvscan.report import ReportOptions, renderer
    from hvscan.rules import load_builtin_rules, load_rule_files, severity_rank

    rules = load_builtin_rules() + load_rule_files(list(rule_files))
    result = produce(Engine(rules))
    use_color = output is None and _want_color(color)
    text = renderer(output_format)(result, ReportOptions(show_secrets=show_secrets,
                                                         color=use_color))
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise HvscanError(f"cannot write report to {output}: {exc.strerror}") from None
        if output_format != "text":
            from hvscan.report.text_format import summary

            click.echo(summary(result), err=True)
    if result.errors:
        sys.exit(EXIT_ERROR)
    threshold = None if fail_on == "none" else severity_rank(fail_on)
    failing = threshold is not None and any(
        severity_rank(f.severity) >= threshold for f in result.findings
    )
    sys.exit(EXIT_FINDINGS if failing else EXIT_CLEAN)


def _want_color(choice: str) -> bool:
    if choice != "auto":
        return choice == "always"
    return "NO_COLOR" not in os.environ and sys.stdout.isatty()


def main() -> None:
    from hvscan.rules import RuleError

    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("hvscan: aborted", err=True)
        sys.exit(EXIT_ERROR)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_ERROR)
    except (HvscanError, RuleError) as exc:
        click.echo(f"hvscan: error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        click.echo("hvscan: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:
        if os.environ.get("HVSCAN_DEBUG"):
            raise
        click.echo(f"hvscan: internal error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(EXIT_ERROR)
