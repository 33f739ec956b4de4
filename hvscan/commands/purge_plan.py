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

from hvscan.commands.common import named_repository
from hvscan.commands.git import audit_history
from hvscan.runner import EXIT_CLEAN, HvscanError, fail_if_incomplete, print_errors, run_scan

if TYPE_CHECKING:
    from pathlib import Path

    from hvscan.purge import Plan
    from hvscan.settings.options import ScanOptions


def run(given: Path | None, output: Path, force: bool, skip_suppressed: bool, strict: bool,
        max_file_size: int, progress: bool | None, options: ScanOptions) -> NoReturn:
    """The purge plan of the repository ``given`` (REPO), else of the current one."""
    from hvscan import purge
    from hvscan.scan import left_unscanned
    from hvscan.shown import shown
    from hvscan.sources.history import HistoryOptions

    try:
        purge.check_output(output, force)
    except purge.PlanError as exc:
        raise HvscanError(str(exc)) from None
    repo = named_repository(given)
    _refuse_inside_work_tree(repo, output)
    history = HistoryOptions(all_occurrences=True, include_unreachable=True,
                             max_file_size=max_file_size)
    show_progress = sys.stderr.isatty() if progress is None else progress
    blobs = purge.KeyBlobs()
    result = run_scan(lambda pipeline: audit_history(pipeline, repo, history, show_progress,
                                                     blobs), options.settings())
    if result.errors:
        print_errors(result)
        raise HvscanError("the history could not be read whole: no purge plan written")
    if strict:
        fail_if_incomplete(result, " (no purge plan written)")
    findings = purge.purged_findings(result, skip_suppressed)
    refs, loose = (_refs_to(repo, purge.objects_holding_keys(findings, blobs)) if findings
                   else ([], []))
    plan = purge.make_plan(result, blobs, findings, repository=os.path.abspath(repo),
                           origin=_origin_url(repo), refs=refs, loose=loose,
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
        print(f"  {counted(len(plan.blobs), 'blob')} holding a key encoded: stripped whole "
              f"({purge.BLOBS})")
    if plan.refs:
        print(f"  {counted(len(plan.refs), 'ref')} pointing at a blob or tree holding a key: "
              f"deleted ({purge.REFS})")
    if plan.refs_named:
        print(f"  {counted(len(plan.refs_named), 'ref')} named with a key, pointing at a blob "
              f"or tree: deleted, found by name as purge.sh runs ({purge.PLAN})")
    names = len(purge.renamed(plan, "path")) + len(purge.renamed(plan, "ref"))
    if names:
        print(f"  {counted(names, 'name')} of files, directories or refs holding a key: "
              f"renamed ({purge.PLAN})")
    by_hand = [place for key in plan.keys for place in key.by_hand]
    for what in ("message", "name"):
        count = sum(1 for place in by_hand if (place.name is not None) == (what == "name"))
        if count:
            print(f"  warning: {counted(count, what)} holding a key encoded: fix by hand "
                  f"({purge.PLAN})")
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


def _refs_to(repo: Path, objects: set[str]) -> tuple[list[str], list[str]]:
    """The refs that reach one of ``objects`` (blobs and tag objects holding keys) without a
    commit on the way: a tag of a blob or a tree, directly or through other tags; and every
    ref that reaches a blob or a tree (the plan keeps those named with a key). git
    filter-repo rewrites the history of commits and leaves such refs as they are."""
    from hvscan.gitenv import run_git

    path = os.fsdecode(repo)
    listing = run_git(path, "for-each-ref", "--format=%(objecttype) %(*objecttype) %(refname)")
    candidates = []
    for line in listing.stdout.decode("utf-8", "surrogateescape").splitlines():
        kind, peeled, ref = line.split(" ", 2)  # ref names hold no spaces
        if "commit" not in (kind, peeled):
            candidates.append(ref)
    if listing.returncode != 0 or not candidates:
        return [], []  # the audit has read these refs already: it would have said
    # A tag of a tag peels one level in the listing: ask git for the object at the end.
    ends = run_git(path, "cat-file", "--batch-check",
                   input="".join(f"{ref}^{{}}\n" for ref in candidates)
                   .encode("utf-8", "surrogateescape"))
    found, loose = [], []
    for ref, answer in zip(candidates, ends.stdout.splitlines(), strict=False):
        if answer.split()[1:2] not in ([b"blob"], [b"tree"]):
            continue  # a commit at the end: git filter-repo rewrites it
        loose.append(ref)
        # Bounded: no commit on the way, so this lists the tags, trees and blobs it reaches.
        reached = run_git(path, "rev-list", "--objects", ref, "--")
        if any(entry.split(b" ", 1)[0].decode() in objects
               for entry in reached.stdout.splitlines()):
            found.append(ref)
    return found, loose


def _origin_url(repo: Path) -> str | None:
    """The repository's ``origin`` URL (for the plan's ``git clone --mirror``), if it has one."""
    from hvscan.gitenv import run_git

    done = run_git(os.fsdecode(repo), "config", "--get", "remote.origin.url")
    url = os.fsdecode(done.stdout.rstrip(b"\n"))
    return url if done.returncode == 0 and url else None
