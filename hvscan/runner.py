"""Running a scan once its options are settled: build the pipeline, run the source, settle and
verify the findings, write the report, choose the exit code, and turn failures into one line.

Nothing here parses a command line or imports click. ``cli.py`` parses and settles the options
and calls in; ``fastpath.py`` calls in directly for ``hvscan dir`` without options or
configuration, where every parameter keeps the default below (tests/test_runner.py checks that
these are the command line's defaults), so both print the same report.

Exit codes: 0 no finding at or above --fail-on; 1 findings at or above it; 2 usage error or
something asked for could not be scanned (2 wins over 1: an incomplete scan is never a verdict).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple, NoReturn

from hvscan.engine import Limits

if TYPE_CHECKING:
    from pathlib import Path

    from hvscan.committed import CommittedFile
    from hvscan.scan import Annotate, Pipeline, ScanResult
    from hvscan.verify import VerifyStep

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

# A source: given the pipeline the options built, it produces the scan's result (event sources
# through ``pipeline.run``; the history audit its own way).
Produce = Callable[["Pipeline"], "ScanResult"]


class Settings(NamedTuple):
    """What to look for and what to leave out: the options every scan command shares. Files
    come from disk, or from the base commit of a range scan (``hvscan/committed.py``)."""

    rule_files: Sequence[Path | CommittedFile] = ()
    exclude: Sequence[str] = ()
    ignore_file: Path | CommittedFile | None = None
    baseline_file: Path | CommittedFile | None = None
    limits: Limits = Limits()
    # False when the scanned change wrote its own hvscan:allow markers (a range scan): they do
    # not suppress its findings (docs/security.md).
    trust_inline: bool = True
    # The ignore file as the change under scan left it: never applied, only named on the
    # findings it would have suppressed.
    untrusted_ignore_file: Path | CommittedFile | None = None


# Immutable: one default serves every call.
DEFAULTS = Settings()


class HvscanError(Exception):
    """A runtime failure reported as one line and exit code 2."""


def walker(paths: Sequence[bytes], max_file_size: int, follow_symlinks: bool = False) -> Produce:
    """The directory source over ``paths`` (default: the current directory)."""
    from hvscan.sources import files

    roots = list(paths) or [b"."]
    return lambda pipeline: pipeline.run(
        files.walk(roots, max_file_size, pipeline.excluded, pipeline.screen(),
                   follow_symlinks=follow_symlinks))


def run(produce: Produce, settings: Settings = DEFAULTS,
        annotate: Annotate | None = None) -> ScanResult:
    """Build the pipeline from the settings, run it over the source's events and settle the
    findings (excludes, suppressions)."""
    from hvscan import scan
    from hvscan.engine import Engine
    from hvscan.excludes import path_filter
    from hvscan.rules import load_builtin_rules, load_rule_files
    from hvscan.suppress import Suppressor, load_ignore_file

    rules = load_builtin_rules() + load_rule_files(settings.rule_files)
    baseline = None
    if settings.baseline_file is not None:  # imported only when asked for: start-up time
        from hvscan.baseline import load as load_baseline

        baseline = load_baseline(settings.baseline_file)
    ignore_file, untrusted = settings.ignore_file, settings.untrusted_ignore_file
    suppressor = Suppressor(
        ignored=load_ignore_file(ignore_file) if ignore_file is not None else frozenset(),
        baseline=baseline,
        trust_inline=settings.trust_inline,
        untrusted=load_ignore_file(untrusted) if untrusted is not None else frozenset(),
    )
    excluded = path_filter(settings.exclude)
    result = produce(scan.Pipeline(Engine(rules, settings.limits), excluded, annotate))
    scan.settle(result, excluded, suppressor)
    return result


def scan_and_report(
    produce: Produce,
    settings: Settings = DEFAULTS,
    *,
    verification: VerifyStep | None = None,
    output_format: str = "text",
    output: Path | None = None,
    fail_on: str = "low",
    exit_zero: bool = False,
    show_suppressed: bool = False,
    show_secrets: bool = False,
    color: str = "auto",
) -> NoReturn:
    """Scan, report, and exit with the scan's exit code."""
    from hvscan.report import ReportOptions, renderer
    from hvscan.rules import severity_rank

    result = run(produce, settings, verification.annotate if verification else None)
    # After settling: a suppressed key is never sent to the API.
    if verification:
        from hvscan.verify import VerifyError

        try:
            verification.apply(result)
        except VerifyError as exc:
            raise HvscanError(str(exc)) from None
    use_color = output is None and want_color(color)
    text = renderer(output_format)(result, ReportOptions(show_secrets=show_secrets,
                                                         show_suppressed=show_suppressed,
                                                         color=use_color))
    if output is not None or output_format != "text":
        # Only the text report on standard output is sure to be read by a person (a CSV cannot
        # even hold them): say on stderr what could not be scanned.
        for error in result.errors:
            print(f"hvscan: error: {error.path}: {error.message}", file=sys.stderr)
    if output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise HvscanError(f"cannot write report to {output}: {exc.strerror}") from None
        if output_format != "text":
            from hvscan.report.text_format import summary

            print(summary(result), file=sys.stderr)
    if result.errors:
        sys.exit(EXIT_ERROR)
    threshold = None if fail_on == "none" else severity_rank(fail_on)
    failing = threshold is not None and any(
        severity_rank(f.severity) >= threshold for f in result.findings
    )
    sys.exit(EXIT_FINDINGS if failing and not exit_zero else EXIT_CLEAN)


def want_color(choice: str) -> bool:
    if choice != "auto":
        return choice == "always"
    return "NO_COLOR" not in os.environ and sys.stdout.isatty()


def guarded(main: Callable[[], None]) -> NoReturn:
    """Run ``main``; a failure becomes one line on standard error and exit code 2 (130 for an
    interrupt), never a traceback (unless HVSCAN_DEBUG is set, for an internal error)."""
    try:
        main()
    except KeyboardInterrupt:
        print("hvscan: interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:
        if isinstance(exc, (HvscanError, *_user_errors())):
            print(f"hvscan: error: {exc}", file=sys.stderr)
            sys.exit(EXIT_ERROR)
        if os.environ.get("HVSCAN_DEBUG"):
            raise
        print(f"hvscan: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    sys.exit(EXIT_CLEAN)


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors in what the user gave us (one line, exit 2), as opposed to bugs. Imported once
    something has gone wrong: a run that needs no baseline never loads that module."""
    from hvscan.baseline import BaselineError
    from hvscan.config import ConfigError
    from hvscan.rules import RuleError
    from hvscan.suppress import IgnoreFileError

    return RuleError, ConfigError, BaselineError, IgnoreFileError
