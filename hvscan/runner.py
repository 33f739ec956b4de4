"""Running a scan once its options are settled: build the pipeline, run the source, settle and
verify the findings, write the report, choose the exit code, and turn failures into one line.

Nothing here parses a command line or imports click. The commands (``hvscan/commands/``) call in
with their settled options; ``fastpath.py`` calls in directly for ``hvscan dir`` without options
or configuration, where every parameter keeps the default below (tests/test_runner.py checks
that these are the command line's defaults), so both print the same report.

Exit codes: 0 no finding at or above --fail-on; 1 findings at or above it; 2 usage error or
something asked for could not be scanned, and with --strict also when part of it was left
unscanned (a file skipped, an archive limit reached, a damaged container): 2 wins over 1, an
incomplete scan is never a verdict; 130 interrupted (SIGINT, Ctrl-C: the shell's 128 + 2); 143
terminated (SIGTERM, what a CI runner sends to cancel a job: 128 + 15). An interrupted or
terminated run stops what it started (worker processes, requests under way) and writes no report.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, NamedTuple, NoReturn

from hvscan.engine import Limits
from hvscan.streams import write_stdout

if TYPE_CHECKING:
    from pathlib import Path

    from hvscan.committed import CommittedFile
    from hvscan.report import ReportOptions
    from hvscan.report.text_format import Counts
    from hvscan.scan import Annotate, Pipeline, ScanResult
    from hvscan.verify import VerifyStep

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143

# A source: given the pipeline the options built, it produces the scan's result (its events
# through ``pipeline.run``; the history audit then places the findings with its attribution).
Produce = Callable[["Pipeline"], "ScanResult"]


class ScanSettings(NamedTuple):
    """What to look for and what to leave out: the options every scan command shares. Files
    come from disk, or from the base commit of a range scan (``hvscan/committed.py``)."""

    rule_files: Sequence[Path | CommittedFile] = ()
    exclude: Sequence[str] = ()
    ignore_file: Path | CommittedFile | None = None
    baseline_file: Path | CommittedFile | None = None
    limits: Limits = Limits()
    # False when the scanned change wrote its own inline allow markers (a range scan): they do
    # not suppress its findings (docs/security.md).
    trust_inline: bool = True
    # Whether other scanners' allow markers count as hvscan:allow (hvscan/suppress.py).
    foreign_allow_markers: bool = True
    # The ignore file as the change under scan left it: never applied, only named on the
    # findings it would have suppressed.
    untrusted_ignore_file: Path | CommittedFile | None = None
    # The rule files were named by a configuration file, which the scanned repository may hold:
    # they may not say how to verify keys (which secrets are sent).
    rules_from_configuration: bool = False


# Immutable: one default serves every call.
DEFAULTS = ScanSettings()


class HvscanError(Exception):
    """A runtime failure reported as one line and exit code 2."""


def walker(paths: Sequence[bytes], max_file_size: int, follow_symlinks: bool = False) -> Produce:
    """The directory source over ``paths`` (default: the current directory)."""
    from hvscan.sources import files

    roots = list(paths) or [b"."]
    return lambda pipeline: pipeline.run(
        files.walk(roots, max_file_size, pipeline.excluded, pipeline.screen(),
                   follow_symlinks=follow_symlinks))


def run_scan(produce: Produce, settings: ScanSettings = DEFAULTS,
        annotate: Annotate | None = None, command: str | None = None) -> ScanResult:
    """Build the pipeline from the settings, run it over the source's events, settle the
    findings (excludes, suppressions), refine their remediation and list their keys; the scan
    record says ``command``, when it started and how long it took."""
    import time

    from hvscan import scan
    from hvscan.engine import Engine
    from hvscan.excludes import path_filter
    from hvscan.keys import ScanRecord, conclude, utc_now
    from hvscan.rules import load_rules
    from hvscan.suppress import Suppressor, allow_marker, load_ignore_file

    rules = load_rules(settings.rule_files, verify=not settings.rules_from_configuration)
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
    started, clock = utc_now(), time.monotonic()
    engine = Engine(rules, settings.limits,
                    allow_marker=allow_marker(settings.foreign_allow_markers))
    result = produce(scan.Pipeline(engine, excluded, annotate))
    result.engine = engine  # whatever the source: reports redact keys with it
    scan.settle(result, excluded, suppressor)
    result.scan = (result.scan or ScanRecord())._replace(
        command=command, started=started, duration=round(time.monotonic() - clock, 3))
    conclude(result)
    return result


class OutputOptions(NamedTuple):
    """How the result is reported and what the exit code says. The defaults are the command
    line's (tests/test_runner.py checks): the fast path reports with them. The command line
    builds it with the other option records (``hvscan/settings/options.py``)."""

    output_format: str = "text"
    output: Path | None = None
    fail_on: str = "low"
    exit_zero: bool = False
    strict: bool = False
    show_suppressed: bool = False
    show_secrets: bool = False
    color: str = "auto"


def scan_and_report(
    produce: Produce,
    settings: ScanSettings = DEFAULTS,
    *,
    verification: VerifyStep | None = None,
    output_options: OutputOptions | None = None,
    command: str | None = None,
) -> NoReturn:
    """Scan, report as ``output_options`` say (default: the command line's defaults), and exit
    with the scan's exit code (with ``strict``, 2 when anything was left unscanned, listed on
    standard error)."""
    from hvscan.report import renderer

    output_options = output_options or OutputOptions()
    result = scan_and_verify(produce, settings, verification, command)
    text = renderer(output_options.output_format)(result, report_options(output_options))
    deliver(result, text, output_options)


def scan_and_verify(produce: Produce, settings: ScanSettings, verification: VerifyStep | None,
                    command: str | None = None) -> ScanResult:
    """``run_scan``, then the verification step when asked for."""
    result = run_scan(produce, settings, verification.annotate if verification else None,
                      command)
    # After settling: a suppressed key is never sent to the API.
    if verification:
        import time

        from hvscan.keys import conclude
        from hvscan.verify import VerifyError

        clock = time.monotonic()
        try:
            verification.apply(result)
        except VerifyError as exc:
            raise HvscanError(str(exc)) from None
        if result.scan is not None and result.scan.duration is not None:
            result.scan = result.scan._replace(
                duration=round(result.scan.duration + time.monotonic() - clock, 3))
        conclude(result)  # verification changed statuses and severities
    return result


def report_options(output_options: OutputOptions) -> ReportOptions:
    """What the report formats need of the output options."""
    from hvscan.report import ReportOptions

    return ReportOptions(show_secrets=output_options.show_secrets,
                         show_suppressed=output_options.show_suppressed,
                         color=output_options.output is None and want_color(output_options.color))


def deliver(result: ScanResult, text: str, output_options: OutputOptions,
            tally: Counts | None = None) -> NoReturn:
    """Write the report ``text`` of ``result`` where the options say (a run that streamed
    part of it to standard output gives the rest) and exit with the result's exit code.
    ``tally`` counts the findings and keys when ``result`` does not hold them (a joined report,
    ``hvscan.report.merge.counts``)."""
    from hvscan.report.text_format import counts, summary
    from hvscan.rules import severity_rank

    output_format, output, fail_on, exit_zero, strict, _, show_secrets, _ = output_options
    if output is not None or output_format != "text":
        # Only the text report on standard output is sure to be read by a person (a CSV cannot
        # even hold them): say on stderr what could not be scanned.
        print_errors(result, show_secrets)
    if output is None:
        write_stdout(text)
    else:
        from hvscan.atomic import write_report

        try:
            write_report(output, text.encode("utf-8"))
        except OSError as exc:
            raise HvscanError(f"cannot write report to {output}: {exc.strerror}") from None
        if output_format != "text":
            print(summary(result, tally), file=sys.stderr)
    if strict:
        fail_if_incomplete(result, show_secrets=show_secrets)
    if result.errors:
        sys.exit(EXIT_ERROR)
    threshold = None if fail_on == "none" else severity_rank(fail_on)
    failing = threshold is not None and any(
        severity_rank(severity) >= threshold for severity in (tally or counts(result)).severities
    )
    sys.exit(EXIT_FINDINGS if failing and not exit_zero else EXIT_CLEAN)


def print_errors(result: ScanResult, show_secrets: bool = False) -> None:
    """What could not be scanned, one ``hvscan: error:`` line each on standard error, shown as
    reports show the names in it."""
    from hvscan.shown import shown

    for error in result.errors:
        path, message = (shown(text, result.engine, show_secrets) for text in error)
        print(f"hvscan: error: {path}: {message}", file=sys.stderr)


def fail_if_incomplete(result: ScanResult, consequence: str = "",
                       show_secrets: bool = False) -> None:
    """``--strict``: list what the run left unscanned and exit 2, if anything. The list names
    paths from the scanned content, so it is shown as reports show them."""
    from hvscan.scan import left_unscanned
    from hvscan.shown import shown
    from hvscan.units import counted

    unscanned = left_unscanned(result)
    if not unscanned:
        return
    print(f"hvscan: --strict: {counted(len(unscanned), 'part')} of the input left unscanned"
          f"{consequence}:", file=sys.stderr)
    for line in unscanned:
        print(f"  {shown(line, result.engine, show_secrets)}", file=sys.stderr)
    sys.exit(EXIT_ERROR)


def want_color(choice: str) -> bool:
    if choice != "auto":
        return choice == "always"
    return "NO_COLOR" not in os.environ and sys.stdout is not None and sys.stdout.isatty()


class Terminated(BaseException):
    """SIGTERM arrived (raised in the main thread by the handler ``guarded`` installs). Not an
    ``Exception``: nothing that handles failures may take it for one; every ``finally`` and
    context manager on the way out runs, as for Ctrl-C."""


def _terminate(signum: int, frame: object) -> NoReturn:
    raise Terminated


def guarded(main: Callable[[], None]) -> NoReturn:
    """Run ``main``; a failure becomes one line on standard error and exit code 2 (130 for an
    interrupt, 143 for SIGTERM), never a traceback (unless HVSCAN_DEBUG is set, for an internal
    error)."""
    # Imported here, not on the fast path's clean answers (its enum costs a millisecond or
    # two there): a run that gets this far has imported enum already.
    import signal

    # SIGTERM's default would end the process where it stands: worker processes, the
    # verification answers' manager and requests under way would outlive it.
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        main()
    except KeyboardInterrupt:
        interrupted()
    except Terminated:
        interrupted(EXIT_TERMINATED)
    except Exception as exc:
        from hvscan.shown import escape

        # Git's and the file system's messages may quote names from the scanned content.
        message = escape(str(exc))
        if isinstance(exc, (HvscanError, *_user_errors())):
            print(f"hvscan: error: {message}", file=sys.stderr)
            sys.exit(EXIT_ERROR)
        if os.environ.get("HVSCAN_DEBUG"):
            raise
        print(f"hvscan: {internal_error(exc)}", file=sys.stderr)
        sys.exit(EXIT_ERROR)
    finally:
        signal.signal(signal.SIGTERM, previous)  # for a caller in the same process (tests)
    sys.exit(EXIT_CLEAN)


def internal_error(exc: Exception) -> str:
    """A failure hvscan did not expect, in one line: its kind and, when it has one, its message
    (escaped: git's and the file system's messages may quote names from the scanned content)."""
    from hvscan.shown import escape

    message = escape(str(exc))
    return f"internal error: {type(exc).__name__}" + (f": {message}" if message else "")


def interrupted(code: int = EXIT_INTERRUPTED) -> NoReturn:
    """End a run that SIGINT (Ctrl-C; ``code`` 130) or SIGTERM (143) stopped: one line, and
    the shell's exit code for it."""
    print("hvscan: interrupted" if code == EXIT_INTERRUPTED else "hvscan: terminated",
          file=sys.stderr)
    sys.exit(code)


def _user_errors() -> tuple[type[Exception], ...]:
    """Errors in what the user gave us (one line, exit 2), as opposed to bugs. Imported once
    something has gone wrong: a run that needs no baseline never loads that module."""
    from hvscan.baseline import BaselineError
    from hvscan.config import ConfigError
    from hvscan.rules import RuleError
    from hvscan.suppress import IgnoreFileError

    return RuleError, ConfigError, BaselineError, IgnoreFileError
