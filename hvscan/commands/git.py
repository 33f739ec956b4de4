"""``hvscan git``: audit a repository's history (or a range of it); ``--staged`` hands over to
``hvscan staged``. Also the history part of ``hvscan baseline --git``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from hvscan.commands import staged
from hvscan.commands.common import named_repository, scan
from hvscan.runner import HvscanError, Produce
from hvscan.settings.options import OptionError

if TYPE_CHECKING:
    from pathlib import Path

    from hvscan.runner import OutputOptions
    from hvscan.scan import Pipeline, ScanResult
    from hvscan.settings.options import ScanOptions, VerifyOptions
    from hvscan.shared import SharedObjects
    from hvscan.sources.history import HistoryOptions, ProgressFactory


def run(given: Path | None, history: HistoryOptions, progress: bool | None, staged_only: bool,
        options: ScanOptions, output: OutputOptions, verify: VerifyOptions,
        state: Path | None = None) -> NoReturn:
    """Audit the repository ``given`` (REPO), else the current one."""
    if state is not None:
        refuse_partial_with_state(history, staged_only)
    if staged_only:
        if any((history.since_commit, history.commit_range, history.branch,
                history.all_occurrences, history.include_unreachable)):
            raise OptionError("--staged cannot be combined with history options")
        staged.run(given, options, output, verify)
    repo = named_repository(given)
    if history.commit_range is not None and (history.since_commit is not None
                                             or history.branch is not None):
        raise OptionError("--range cannot be combined with --since-commit or --branch")
    show_progress = sys.stderr.isatty() if progress is None else progress
    # A range is a change under scan: its own inline allow markers (hvscan:allow, gitleaks:allow
    # and the like) do not suppress what it adds (its configuration, read from the base commit,
    # may; see hvscan/config.py).
    scan(lambda pipeline: audit_history(pipeline, repo, history, show_progress,
                                        state=state),
         options, output, verify, command="git", trust_inline=not history.is_range)


def refuse_partial_with_state(history: HistoryOptions, staged_only: bool) -> None:
    """A state file records what a whole-history audit read: no other audit uses one (one
    line, exit 2)."""
    for given, name in ((staged_only, "--staged"), (history.commit_range, "--range"),
                        (history.since_commit, "--since-commit"), (history.branch, "--branch"),
                        (history.include_unreachable, "--include-unreachable")):
        if given:
            raise HvscanError(f"--state and --incremental audit the whole history (every ref, "
                              f"reachable objects): they cannot be combined with {name}")


def audit_history(pipeline: Pipeline, repo: Path, options: HistoryOptions,
                  show_progress: bool,
                  scanned: Callable[[ScanResult], None] | None = None,
                  report: ProgressFactory | None = None,
                  state: Path | None = None,
                  shared: SharedObjects | None = None) -> ScanResult:
    """The history audit (``hvscan.history.audit``, ``scanned`` included; with a state
    file ``hvscan.incremental.audit``) with a progress line when ``show_progress``, or its
    progress handed to ``report`` (a many-repository audit's one display), and the objects
    ``shared`` between the audits of verified mirrors (``hvscan/shared.py``); a git or state
    file failure becomes one line."""
    from hvscan.history import audit
    from hvscan.progress import Progress
    from hvscan.sources.gitcmd import GitError

    bars: list[Progress] = []

    def progress(total: int) -> Callable[[Any], None]:
        bar = Progress(total)
        bars.append(bar)
        return lambda stats: bar.update(stats.objects, stats.read_bytes)

    shown = progress if show_progress else report
    try:
        if state is None:
            return audit(repo, pipeline, options, shown, scanned, shared)
        # sqlite3 and the state file's code: only for an audit that asked for them.
        from hvscan import incremental
        from hvscan.state import StateError

        try:
            return incremental.audit(repo, pipeline, options, state, shown, shared)
        except StateError as exc:
            raise HvscanError(str(exc)) from None
    except GitError as exc:
        raise HvscanError(str(exc)) from None
    finally:
        for bar in bars:
            bar.close()


def with_history(produce: Produce, repo: Path, max_file_size: int) -> Produce:
    """``produce``, then the whole history of ``repo`` into the same result (objects larger
    than ``max_file_size`` listed, not read)."""
    from hvscan.sources.history import HistoryOptions

    def both(pipeline: Pipeline) -> ScanResult:
        result = produce(pipeline)
        result.add(audit_history(pipeline, repo, HistoryOptions(max_file_size=max_file_size),
                                 show_progress=sys.stderr.isatty()))
        return result

    return both
