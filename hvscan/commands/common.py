"""What the scan commands share: running a source through the pipeline and reporting it with
the command's settled options, a git failure as one line, the directory source, standard input.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, NoReturn

from hvscan.runner import HvscanError, Produce, scan_and_report, walker

if TYPE_CHECKING:
    from collections.abc import Callable

    from hvscan.runner import OutputOptions
    from hvscan.scan import Pipeline, ScanResult
    from hvscan.settings.options import ScanOptions, VerifyOptions


def scan(produce: Produce, options: ScanOptions, output: OutputOptions, verify: VerifyOptions,
         *, command: str, trust_inline: bool = True) -> NoReturn:
    """Scan what ``produce`` yields, report (the scan record naming ``command``), and exit
    with the scan's exit code."""
    verification = verify.step()
    scan_and_report(produce, options.settings(trust_inline), verification=verification,
                    output_options=output, command=command)


def scan_git(produce: Produce, options: ScanOptions, output: OutputOptions,
             verify: VerifyOptions, *, command: str) -> NoReturn:
    """``scan`` of a git source."""
    git_errors_as_one_line(lambda: scan(produce, options, output, verify, command=command))


def git_errors_as_one_line(run: Callable[[], NoReturn]) -> NoReturn:
    """``run()``, a git failure in it becoming one line that names git."""
    from hvscan.sources.gitcmd import GitError

    try:
        run()
    except GitError as exc:
        raise HvscanError(f"git: {exc}") from None


def named_repository(repo: Path | None) -> Path:
    """The repository a command with an optional REPO argument works on: REPO, never the
    caller's repository that git's variables designate inside a hook or an alias (unless REPO
    is that one: ``gitenv.forget_callers_repository_unless``); without REPO, the current
    one, as those variables say (a hook's index, ``git --git-dir``)."""
    if repo is None:
        return Path()
    from hvscan import gitenv

    gitenv.forget_callers_repository_unless(os.fsdecode(repo))
    return repo


def in_repository(repo: Path | str, produce: Produce) -> Produce:
    """``produce``, its result's scan record naming the repository at ``repo`` and its HEAD
    (null before the first commit)."""
    def scanned(pipeline: Pipeline) -> ScanResult:
        from hvscan.keys import ScanRecord
        from hvscan.sources.gitrepository import head_commit

        result = produce(pipeline)
        result.scan = ScanRecord(repository=os.path.abspath(repo), head=head_commit(repo))
        return result

    return scanned


def directory_walker(paths: tuple[Path, ...], max_file_size: int,
                     follow_symlinks: bool) -> Produce:
    return walker([os.fsencode(p) for p in paths], max_file_size, follow_symlinks)


def standard_input() -> BinaryIO:
    if sys.stdin is None:  # closed (``<&-``): not the same as empty
        raise HvscanError("standard input is closed")
    return sys.stdin.buffer
