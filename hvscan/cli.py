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


class SizeType(click.ParamType):  # type: ignore[type-arg]
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
    from hvscan import scan
    from hvscan.sources import files

    roots = [os.fsencode(p) for p in paths] or [b"."]
    _scan(lambda engine: files.walk(roots, max_file_size, scan.screen(engine)), **options)


@cli.command("stdin")
@report_options
def stdin_command(**options: Any) -> None:
    """Scan standard input."""
    from hvscan.sources import stdin

    _scan(lambda engine: stdin.read(sys.stdin.buffer), **options)


def _scan(
    events: Callable[[Any], Any],
    *,
    rule_files: tuple[Path, ...],
    output_format: str,
    output: Path | None,
    fail_on: str,
    show_secrets: bool,
    color: str,
) -> None:
    from hvscan import scan
    from hvscan.engine import Engine
    from hvscan.report import ReportOptions, renderer
    from hvscan.rules import load_builtin_rules, load_rule_files, severity_rank

    rules = load_builtin_rules() + load_rule_files(list(rule_files))
    engine = Engine(rules)
    # The source gets the engine to build what it may lend from it (files: a Screen).
    result = scan.run(engine, events(engine))
    use_color = output is None and _want_color(color)
    text = renderer(output_format)(result, ReportOptions(show_secrets=show_secrets,
                                                         color=use_color))
    if output is None:
        click.echo(text, nl=False, color=use_color)
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
