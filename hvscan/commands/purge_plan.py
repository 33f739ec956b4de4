"""``hvscan purge-plan``: audit a repository's whole history (every ref, every unreachable
object, every occurrence) through the one pipeline, and write the plan that removes every key
found from it with git filter-repo (``hvscan/purge.py``).

The plan must leave nothing behind: suppressed findings (inline markers, ignore file) are keys
too, and are purged unless ``--skip-suppressed``; an audit that could not read everything
writes no plan. Only redacted keys are printed."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, NoReturn

from hvscan.commands.git import audit_history
from hvscan.runner import EXIT_CLEAN, HvscanError, fail_if_incomplete, run_scan

if TYPE_CHECKING:
    from pathlib import Path

    from hvscan.purge import Plan
    from hvscan.settings.options import ScanOptions


def run(repo: Path, output: Path, force: bool, skip_suppressed: bool, strict: bool,
        max_file_size: int, progress: bool | None, options: ScanOptions) -> NoReturn:
    from hvscan import purge
    from hvscan.scan import left_unscanned
    from hvscan.shown import shown
    from hvscan.sources.history import HistoryOptions

    try:
        purge.check_output(output, force)
    except purge.PlanError as exc:
        raise HvscanError(str(exc)) from None
    _refuse_inside_work_tree(repo, output)
    history = HistoryOptions(all_occurrences=True, include_unreachable=True,
                             max_file_size=max_file_size)
    show_progress = sys.stderr.isatty() if progress is None else progress
    hidden = purge.HiddenBlobs()
    result = run_scan(lambda pipeline: audit_history(pipeline, repo, history, show_progress,
                                                     hidden), options.settings())
    if result.errors:
        for error in result.errors:
            print(f"hvscan: error: {shown(error.path, result.engine)}: "
                  f"{shown(error.message, result.engine)}", file=sys.stderr)
        raise HvscanError("the history could not be read whole: no purge plan written")
    if strict:
        fail_if_incomplete(result, " (no purge plan written)")
    plan = purge.make_plan(result, hidden, skip_suppressed=skip_suppressed,
                           repository=os.path.abspath(repo), origin=_origin_url(repo),
                           excluded=tuple(options.exclude), unscanned=left_unscanned(result))
    shown_dir = purge.sh_word(os.fsdecode(output))
    if not plan.keys:
        print(f"hvscan: no key in the history of {shown(os.fsdecode(repo), None)}: nothing to "
              f"purge, {shown_dir} not written")
        _excluded_note(plan)
        sys.exit(EXIT_CLEAN)
    try:
        written = purge.write(output, plan)
    except purge.PlanError as exc:
        raise HvscanError(str(exc)) from None
    _summary(plan, written, shown_dir)
    sys.exit(EXIT_CLEAN)


def _summary(plan: Plan, written: list[str], shown_dir: str) -> None:
    from hvscan import purge
    from hvscan.units import counted

    print(f"hvscan: purge plan for {counted(len(plan.keys), 'key')} written to {shown_dir}: "
          f"{', '.join(written)}")
    for key in plan.keys:
        extra = " (suppressed: purged anyway)" if key.suppressed else ""
        print(f"  {key.redacted} {key.rule_id} [{key.severity}], "
              f"{counted(len(key.places), 'place')}{extra}")
    if plan.blobs:
        print(f"  {counted(len(plan.blobs), 'blob')} holding a key only encoded: stripped whole "
              f"({purge.BLOBS})")
    by_hand = sum(len(key.by_hand) for key in plan.keys)
    if by_hand:
        print(f"  warning: {counted(by_hand, 'message')} holding a key only encoded: fix by "
              f"hand ({purge.PLAN})")
    if plan.unscanned:
        print(f"  warning: {counted(len(plan.unscanned), 'part')} of the history not scanned: "
              f"keys in them are not in the plan ({purge.PLAN})")
    _excluded_note(plan)
    print(f"next: revoke the keys first, then follow {shown_dir}/{purge.PLAN}; "
          f"{purge.REPLACEMENTS} holds the full keys: delete the directory afterwards")


def _excluded_note(plan: Plan) -> None:
    """Excludes (the command line's or the configuration's) keep keys out of a purge: say so."""
    from hvscan.units import counted

    if plan.excluded:
        print(f"  note: {counted(len(plan.excluded), 'exclude pattern')} in effect (--exclude or "
              "the configuration): keys found only at those paths are not in the plan")


def _work_tree(repo: Path) -> str | None:
    from hvscan.gitenv import run_git

    done = run_git(os.fsdecode(repo), "rev-parse", "--show-toplevel")
    if done.returncode != 0:
        return None  # a bare repository, or none (the audit says so)
    return os.fsdecode(done.stdout.rstrip(b"\n"))


def _refuse_inside_work_tree(repo: Path, output: Path) -> None:
    """The plan holds the keys: inside the work tree, a later ``git add -A`` would commit them
    again."""
    top = _work_tree(repo)
    if top is None:
        return
    top = os.path.realpath(top)
    target = os.path.realpath(output)
    if os.path.commonpath([top, target]) == top:
        raise HvscanError(f"{os.fsdecode(output)} is inside the work tree of the repository: "
                          "the plan holds the keys, write it outside (e.g. in your home "
                          "directory)")


def _origin_url(repo: Path) -> str | None:
    """The repository's ``origin`` URL (for the plan's ``git clone --mirror``), if it has one."""
    from hvscan.gitenv import run_git

    done = run_git(os.fsdecode(repo), "config", "--get", "remote.origin.url")
    url = os.fsdecode(done.stdout.rstrip(b"\n"))
    return url if done.returncode == 0 and url else None
