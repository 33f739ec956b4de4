"""The command line: parse options, build the pipeline, print the report, choose the exit code.

Exit codes: 0 no finding at or above --fail-on; 1 findings at or above it; 2 usage error or
something asked for could not be scanned (2 wins over 1: an incomplete scan is never a verdict).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hvscan import __version__

if TYPE_CHECKING:
    from hvscan.scan import ScanResult
    from hvscan.verify import VerifyStep

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
DEFAULT_MAX_FILE_SIZE = "100MB"
_UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "M": 1024**2, "MB": 1024**2, "G": 1024**3,
          "GB": 1024**3}

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


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


_VERIFY_OPTIONS = [
    click.option("--verify", is_flag=True,
                 help="Ask the HesedVid API whether each distinct key found is live (one HEAD "
                      "request per key; off by default)."),
    click.option("--api-base", envvar="HESEDVID_API_BASE", metavar="URL",
                 help="HesedVid API base URL [env HESEDVID_API_BASE; default "
                      "https://api.hesedvid.com; http:// only for loopback hosts]."),
    click.option("--org-id", envvar="HESEDVID_ORG_ID", metavar="ID",
                 help="Org ID for verification [env HESEDVID_ORG_ID; default: one written next "
                      "to the key, else a placeholder]."),
    click.option("--only-verified", is_flag=True,
                 help="Report only keys verified live (same as --results live)."),
    click.option("--results", metavar="LIST",
                 help="Report only these verification results: comma-separated "
                      "live,unknown,invalid (default: all)."),
    click.option("--verify-workers", type=click.IntRange(1, 16), default=4, show_default=True,
                 help="Verification requests in flight at once."),
    click.option("--verify-timeout", type=click.FloatRange(0, min_open=True), default=10.0,
                 show_default=True, metavar="SECONDS", help="Timeout of each request."),
    click.option("--verify-retries", type=click.IntRange(0, 10), default=3, show_default=True,
                 help="Retries of a rate-limited (HTTP 429) request before the key is unknown."),
    click.option("--verify-cache", type=click.Path(dir_okay=False, path_type=Path),
                 metavar="FILE",
                 help="Keep live/invalid answers in FILE (hashes, statuses and times only)."),
    click.option("--verify-cache-ttl", type=click.IntRange(0), default=86400, show_default=True,
                 metavar="SECONDS", help="How long an answer in --verify-cache stays valid."),
]


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
        *_VERIFY_OPTIONS,
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


@cli.command("staged")
@click.argument("repo", required=False, default=".",
                type=click.Path(file_okay=False, path_type=Path))
@report_options
def staged_command(repo: Path, **options: Any) -> None:
    """Scan the staged change (what `git commit` would record, read from the index) and report
    only the keys it adds. REPO defaults to the repository of the current directory."""
    from hvscan.sources import staged

    _scan_git(lambda: staged.read(repo), **options)


@cli.command("pre-push")
@click.argument("remote", required=False)
@click.argument("url", required=False)
@click.option("--repo", default=".", show_default=True,
              type=click.Path(file_okay=False, path_type=Path), help="The repository pushing.")
@report_options
def pre_push_command(remote: str | None, url: str | None, repo: Path, **options: Any) -> None:
    """Scan what a push sends that the remote does not have yet, and report only the keys the
    pushed commits add. Run as a git pre-push hook (REMOTE and URL are git's arguments, the
    refs being pushed come on standard input) or from the pre-commit framework (which sets
    PRE_COMMIT_FROM_REF and PRE_COMMIT_TO_REF)."""
    from hvscan.sources import pushed

    push = pushed.from_pre_commit(os.environ)
    if push is None:
        if sys.stdin.isatty():
            raise HvscanError("hvscan pre-push reads the refs being pushed from standard input, "
                              "as git gives them to a pre-push hook")
        try:
            push = pushed.from_hook_input(sys.stdin.buffer.read(), remote)
        except pushed.PushInputError as exc:
            raise HvscanError(str(exc)) from None
    _scan_git(lambda: pushed.read(repo, push), **options)


@cli.command("install-hook")
@click.argument("repo", required=False, default=".",
                type=click.Path(file_okay=False, path_type=Path))
@click.option("--pre-push", "pre_push", is_flag=True,
              help="Install a pre-push hook (scans the commits being pushed) instead of a "
                   "pre-commit hook (scans the staged change).")
@click.option("--force", is_flag=True, help="Replace an existing hook.")
def install_hook_command(repo: Path, pre_push: bool, force: bool) -> None:
    """Install a git hook that runs hvscan, for repositories that do not use the pre-commit
    framework. Refuses to replace an existing hook unless --force is given."""
    from hvscan import hooks
    from hvscan.sources.gitcmd import GitError

    try:
        path, action = hooks.install(repo, hooks.PRE_PUSH if pre_push else hooks.PRE_COMMIT,
                                     force=force)
    except hooks.HookExistsError as exc:
        raise HvscanError(str(exc)) from None
    except GitError as exc:
        raise HvscanError(f"git: {exc}") from None
    except OSError as exc:
        raise HvscanError(f"cannot write the hook: {exc.strerror or exc}") from None
    click.echo(f"hvscan: {action} {path}")


def _scan_git(events: Callable[[], Any], **options: Any) -> None:
    from hvscan.sources.gitcmd import GitError

    try:
        _scan(events, **options)
    except GitError as exc:
        raise HvscanError(f"git: {exc}") from None


def _scan(
    events: Callable[[], Any],
    *,
    rule_files: tuple[Path, ...],
    output_format: str,
    output: Path | None,
    fail_on: str,
    show_secrets: bool,
    color: str,
    **verify_options: Any,
) -> None:
    from hvscan import scan
    from hvscan.engine import Engine
    from hvscan.report import ReportOptions, renderer
    from hvscan.rules import load_builtin_rules, load_rule_files, severity_rank

    rules = load_builtin_rules() + load_rule_files(list(rule_files))
    verification = _verification(**verify_options)
    result = scan.run(Engine(rules), events(),
                      annotate=verification.annotate if verification else None)
    if verification:
        _verify(verification, result)
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


def _verification(
    *,
    verify: bool,
    api_base: str | None,
    org_id: str | None,
    only_verified: bool,
    results: str | None,
    verify_workers: int,
    verify_timeout: float,
    verify_retries: int,
    verify_cache: Path | None,
    verify_cache_ttl: int,
) -> VerifyStep | None:
    """The verification step the options ask for; None when it is off."""
    if not verify:
        for given, name in ((only_verified, "--only-verified"), (results, "--results"),
                            (verify_cache, "--verify-cache")):
            if given:
                raise click.UsageError(f"{name} needs --verify")
        return None
    from hvscan import verify as verifying

    if only_verified and results:
        raise click.UsageError("use either --only-verified or --results, not both")
    statuses = _checked("--results", verifying.parse_statuses,
                       "live" if only_verified else results or ",".join(verifying.STATUSES))
    settings = verifying.Settings(
        api_base=_checked("--api-base", verifying.check_api_base,
                         api_base or verifying.DEFAULT_API_BASE),
        org_id=_checked("--org-id", verifying.check_org_id, org_id) if org_id else None,
        workers=verify_workers, timeout=verify_timeout, retries=verify_retries)
    try:
        cache = (verifying.DiskCache.load(verify_cache, verify_cache_ttl)
                 if verify_cache else None)
    except verifying.VerifyError as exc:
        raise HvscanError(str(exc)) from None
    return verifying.VerifyStep(settings, cache, statuses)


def _verify(step: VerifyStep, result: ScanResult) -> None:
    from hvscan.verify import VerifyError

    try:
        step.apply(result)
    except VerifyError as exc:
        raise HvscanError(str(exc)) from None


def _checked(param: str, check: Callable[[str], T], value: str) -> T:
    from hvscan.verify import VerifyError

    try:
        return check(value)
    except VerifyError as exc:
        raise click.BadParameter(str(exc), param_hint=param) from None


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
