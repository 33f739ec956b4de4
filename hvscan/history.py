"""The history audit (``hvscan git``): every object once, then attribution for the few that hit.

1. Read: every blob, commit and tag in the store once (or, for a range, the commits in it and
   the blobs they add), streamed by ``git cat-file --batch`` processes, one per core, each over
   a contiguous part of the list. The streams are prefiltered in large buffers; only objects
   with a needle hit (or that the engine wants whole) are inspected, through the same
   ``Pipeline`` as every source (decoders, archive limits, hints for verification).
2. Attribute, only for blobs with matches: one ``git log --find-object`` pass lists the
   commits that set a file to one of those blobs. A key is *introduced* at (commit, path) when
   the commit's version has it and no parent's version of that path has it, which catches keys
   a merge adds by itself. Each (key, path) is one finding, attributed to its earliest
   introduction, with counts of the other commits and paths carrying it.
3. Messages of commits and annotated tags are scanned as they stream by. The engine's notes on
   a blob (an archive it could not fully open) are placed at its earliest commit and path.

Objects that no ref reaches are read anyway (skipping them would cost a second pass) but are
reported only with ``include_unreachable``, and then labelled.
"""

from __future__ import annotations

import datetime
import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from hvscan.engine import Engine, Inspection, Match, Note
from hvscan.findings import Finding, make_finding
from hvscan.scan import Pipeline, ScanResult, record_notes
from hvscan.sources import Failed, Origin
from hvscan.sources.gitcmd import CatFile, GitError, GitProcess
from hvscan.sources.githistory import (
    Change,
    Commit,
    Message,
    ReachableObjects,
    Repository,
    changes,
    list_objects,
    open_repository,
    parse_message,
    range_objects,
    resolve_commit,
    stash_entries,
    stream_objects,
)
from hvscan.sources.gitstream import Oversized, StreamStats, read_objects

ALL_REFS = "--all"
Key = tuple[str, str]  # (rule id, secret)


@dataclass(frozen=True)
class HistoryOptions:
    since_commit: str | None = None
    commit_range: str | None = None
    branch: str | None = None
    all_occurrences: bool = False
    include_unreachable: bool = False
    # Objects larger than this are not read: each is listed as not scanned (--max-file-size).
    max_file_size: int | None = None


ProgressFactory = Callable[[int], Callable[[StreamStats], None]]


@dataclass
class _Scanned:
    """What the stream's scan found: real matches per blob and per message, the engine's notes
    per object (placed once attribution knows where the object is), and the hints
    ``Pipeline.annotate`` read next to each match while the content was at hand."""

    blobs: dict[str, list[Match]] = field(default_factory=dict)
    messages: list[tuple[str, str, list[Match], Message]] = field(default_factory=list)
    notes: dict[str, Inspection] = field(default_factory=dict)
    hints: dict[tuple[str, int, str], dict[str, str]] = field(default_factory=dict)


def audit(path: Path, pipeline: Pipeline, options: HistoryOptions,
          progress: ProgressFactory | None = None) -> ScanResult:
    """Audit the history of the repository at ``path``. GitError for anything git refuses."""
    repo = open_repository(path)
    result = ScanResult()
    if repo.shallow_roots:
        _fail(result, Failed(os.fsdecode(path), _shallow_message(repo)))
    revs = _revisions(repo, options)
    if revs == [ALL_REFS]:
        _audit_everything(repo, pipeline, options, result, progress)
    else:
        _audit_range(repo, revs, pipeline, options, result, progress)
    return result


def _revisions(repo: Repository, options: HistoryOptions) -> list[str]:
    """The commits to audit, as arguments for rev-list/log (ids only: nothing a user typed
    reaches git's command line unresolved)."""
    if options.commit_range is not None:
        base, tip = range_ends(options.commit_range)
        return [resolve_commit(repo.path, tip, "--range"),
                "^" + resolve_commit(repo.path, base, "--range")]
    revs = [resolve_commit(repo.path, options.branch, "--branch")] if options.branch else []
    if options.since_commit:
        revs = (revs or [ALL_REFS]) + ["^" + resolve_commit(repo.path, options.since_commit,
                                                            "--since-commit")]
    return revs or [ALL_REFS]


def range_ends(commit_range: str) -> tuple[str, str]:
    """A and B of ``--range A..B``; GitError for anything else."""
    base, dots, tip = commit_range.partition("..")
    if not dots or tip.startswith(".") or not base or not tip:
        raise GitError(f"--range: {commit_range!r} is not of the form A..B")
    return base, tip


def _shallow_message(repo: Repository) -> str:
    roots = repo.shallow_roots
    return (f"shallow clone: the history behind {len(roots)} boundary commit(s) (e.g. "
            f"{roots[0][:12]}) is not in this repository and was not scanned; run "
            "'git fetch --unshallow' and scan again")


def _scan_stream(pipeline: Pipeline, repo: Repository, id_files: list[IO[bytes]],
                 stats: StreamStats, scanned: _Scanned, result: ScanResult,
                 on_chunk: Callable[[StreamStats], None] | None,
                 max_size: int | None) -> None:
    """Read the objects listed in ``id_files``, one git process per file, and scan those the
    stream hands on."""
    engine = pipeline.engine
    processes: list[GitProcess] = []
    try:
        for ids in id_files:
            processes.append(stream_objects(repo.path, ids))
        streams = [p.stdout for p in processes if p.stdout is not None]
        for obj in read_objects(streams, engine.prefilter, engine.needs_full_scan, stats,
                                on_chunk=on_chunk, max_size=max_size):
            if isinstance(obj, Oversized):  # placed, like the engine's notes, at its path
                scanned.notes[obj.oid] = Inspection(notes=[Note(None, obj.reason, limit=True)])
                continue
            message = parse_message(obj.kind, obj.data) if obj.kind != "blob" else None
            text = message.text if message else obj.data
            inspection = engine.inspect(text)
            result.stats.archive_members += inspection.members
            result.stats.bytes_decompressed += inspection.expanded_bytes
            if inspection.notes:
                scanned.notes[obj.oid] = Inspection(notes=inspection.notes)
            matches = _real(inspection.matches, result)
            if pipeline.annotate is not None:
                for match in matches:
                    if match.member is None:  # a member's offsets are not the blob's
                        scanned.hints[(obj.oid, match.start, match.rule.id)] = (
                            pipeline.annotate(text, match))
            if message is not None and (matches or inspection.notes):
                scanned.messages.append((obj.oid, obj.kind, matches, message))
            elif message is None and matches:
                scanned.blobs[obj.oid] = matches
        for process in processes:
            process.finish()
    finally:
        for process in processes:
            process.kill()


def producers() -> int:
    """How many git processes inflate objects at once: one per core, up to four (beyond that
    this process's single consumer is the limit)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


def _real(matches: list[Match], result: ScanResult) -> list[Match]:
    real = [m for m in matches if not m.placeholder]
    result.stats.placeholders_ignored += len(matches) - len(real)
    return real


def _audit_everything(repo: Repository, pipeline: Pipeline, options: HistoryOptions,
                      result: ScanResult, progress: ProgressFactory | None) -> None:
    stash = stash_entries(repo.path)
    reachable_objects = ReachableObjects(repo.path, [ALL_REFS], stash)
    try:
        stats, scanned = StreamStats(), _Scanned()
        lists = list_objects(repo.path, producers(), keep_commits=options.include_unreachable)
        try:
            on_chunk = progress(lists.count) if progress else None
            _scan_stream(pipeline, repo, lists.files, stats, scanned, result, on_chunk,
                         options.max_file_size)
        finally:
            lists.close()
        _report_missing(reachable_objects.finish(), repo, result)
        located = set(scanned.blobs) | set(scanned.notes)
        wanted = located | {oid for oid, *_ in scanned.messages}
        reachable = reachable_objects.subset(wanted) if wanted else set()
        unreachable_commits: list[str] = []
        if options.include_unreachable and located - reachable:
            commit_ids = set(lists.commits)
            unreachable_commits = sorted(commit_ids - reachable_objects.subset(commit_ids))
    finally:
        reachable_objects.close()
    _count(stats, result)
    blobs = located & reachable
    found = changes(repo.path, [ALL_REFS], blobs, stdin_revs=stash)
    lost = located - blobs
    if options.include_unreachable and lost and unreachable_commits:
        found += [_unreachable(c) for c in changes(repo.path, [], lost, no_walk=True,
                                                   stdin_revs=unreachable_commits)]
    report = _Attribution(pipeline.engine, repo, scanned, lambda oid: True, options)
    report.add_changes(found)
    for oid in sorted(set(scanned.blobs) - report.placed):
        if oid in reachable or options.include_unreachable:
            report.add_unplaced(oid, unreachable=oid not in reachable)
    report.add_messages(reachable, result)
    report.place_notes(found, lambda oid: oid in reachable or options.include_unreachable,
                       result)
    report.finish(result)


def _audit_range(repo: Repository, revs: list[str], pipeline: Pipeline,
                 options: HistoryOptions, result: ScanResult,
                 progress: ProgressFactory | None) -> None:
    if options.include_unreachable:
        raise GitError("--include-unreachable audits the whole store; it cannot be combined "
                       "with --range, --branch or --since-commit")
    stats, scanned = StreamStats(), _Scanned()
    lists, added = range_objects(repo.path, revs, producers())
    try:
        on_chunk = progress(lists.count) if progress else None
        _scan_stream(pipeline, repo, lists.files, stats, scanned, result, on_chunk,
                     options.max_file_size)
    finally:
        lists.close()
    _report_missing(stats.missing, repo, result)
    _count(stats, result)
    found = changes(repo.path, revs, set(scanned.blobs) | set(scanned.notes))
    report = _Attribution(pipeline.engine, repo, scanned, lambda oid: oid in added, options)
    report.add_changes(found)
    report.add_messages({oid for oid, *_ in scanned.messages}, result)
    report.place_notes(found, lambda oid: True, result)
    report.finish(result)


def _unreachable(change: Change) -> Change:
    return Change(change.commit, change.sequence, change.path, change.old, change.new,
                  unreachable=True)


def _count(stats: StreamStats, result: ScanResult) -> None:
    result.stats.files_scanned += stats.blobs
    result.stats.bytes_scanned += stats.blob_bytes


def _report_missing(missing: list[str], repo: Repository, result: ScanResult) -> None:
    if not missing:
        return
    kind = "partial clone" if repo.partial_clone else "damaged repository"
    _fail(result, Failed(
        f"object {missing[0]}",
        f"{len(missing)} object(s) that refs reach are missing from the repository ({kind}; "
        f"e.g. {missing[0]}) and were not scanned"))


def _fail(result: ScanResult, failure: Failed) -> None:
    result.errors.append(failure)
    result.stats.errors += 1


class _Attribution:
    """Turns matches and changes into findings: introductions per (key, path), earliest first."""

    def __init__(self, engine: Engine, repo: Repository, scanned: _Scanned,
                 was_scanned: Callable[[str], bool], options: HistoryOptions) -> None:
        self._engine = engine
        self._repo = repo
        self._scanned = scanned
        self._was_scanned = was_scanned
        self._options = options
        self._old_keys: dict[str, set[Key]] = {}
        self._cat_file: CatFile | None = None
        self.placed: set[str] = set()
        self._findings: list[Finding] = []

    def keys(self, oid: str) -> set[Key]:
        matches = self._scanned.blobs.get(oid)
        if matches is not None:
            return {(m.rule.id, m.secret) for m in matches}
        if self._was_scanned(oid):
            return set()
        if oid not in self._old_keys:  # an old version outside the range: read it now
            self._cat_file = self._cat_file or CatFile(self._repo.path)
            got = self._cat_file.read(oid)
            data = got[1] if got else b""
            self._old_keys[oid] = {(m.rule.id, m.secret) for m in self._engine.scan(data)
                                   if not m.placeholder}
        return self._old_keys[oid]

    def add_changes(self, found: list[Change]) -> None:
        # One commit and path can show up once per parent (merges are diffed against each).
        sides: dict[tuple[str, str, str], list[Change]] = defaultdict(list)
        for change in found:
            sides[(change.commit.oid, change.path, change.new)].append(change)
        introductions: dict[tuple[Key, str], list[Change]] = defaultdict(list)
        for (_, path, new), listed in sides.items():
            self.placed.add(new)
            if new not in self._scanned.blobs:
                continue  # only notes to place: no key
            commit = listed[0].commit
            if len(listed) < max(1, len(commit.parents)):
                continue  # some parent has this very blob at this path
            before: set[Key] = set()
            for change in listed:
                if change.old:
                    before |= self.keys(change.old)
            for key in self.keys(new) - before:
                introductions[(key, path)].append(listed[0])
        paths_per_key: dict[Key, set[str]] = defaultdict(set)
        for key, path in introductions:
            paths_per_key[key].add(path)
        for (key, path), occurrences in introductions.items():
            occurrences.sort(key=lambda c: (c.commit.time, -c.sequence))
            commits = {c.commit.oid for c in occurrences}
            shown = occurrences if self._options.all_occurrences else occurrences[:1]
            for change in shown:
                match = next(m for m in self._scanned.blobs[change.new]
                             if (m.rule.id, m.secret) == key)
                extra: dict[str, Any] = {
                    "blob": change.new,
                    "other_commits": len(commits) - 1,
                    "other_paths": len(paths_per_key[key]) - 1,
                }
                if change.unreachable:
                    extra["unreachable"] = True
                self._add(match, _origin("history", path, change.commit, extra), change.new)

    def add_unplaced(self, oid: str, *, unreachable: bool) -> None:
        """A matched blob no commit adds: reached only through a tag, or not at all."""
        seen: set[Key] = set()
        for match in self._scanned.blobs[oid]:
            if (match.rule.id, match.secret) in seen:
                continue
            seen.add((match.rule.id, match.secret))
            extra: dict[str, Any] = {"blob": oid}
            if unreachable:
                extra["unreachable"] = True
            self._add(match, Origin(source="history", path=None, extra=extra), oid)

    def add_messages(self, reachable: set[str], result: ScanResult) -> None:
        for oid, kind, matches, message in self._scanned.messages:
            unreachable = oid not in reachable
            if unreachable and not self._options.include_unreachable:
                continue
            extra: dict[str, Any] = {"unreachable": True} if unreachable else {}
            if kind == "tag":
                extra.update({"tag": message.tag, "tag_object": oid})
                origin = Origin("tag-message", None, message.target, message.author,
                                message.date, extra)
            else:
                origin = Origin("commit-message", None, oid, message.author, message.date,
                                extra)
            for match in matches:
                self._add(match, origin, oid)
            if oid in self._scanned.notes:
                record_notes(result, self._scanned.notes[oid], origin)

    def place_notes(self, found: list[Change], wanted: Callable[[str], bool],
                    result: ScanResult) -> None:
        """Keep the engine's notes on blobs, at the earliest commit and path holding them."""
        messages = {oid for oid, *_ in self._scanned.messages}  # placed by add_messages
        first: dict[str, Change] = {}
        for change in sorted(found, key=lambda c: (c.commit.time, -c.sequence)):
            first.setdefault(change.new, change)
        for oid, inspection in sorted(self._scanned.notes.items()):
            if oid in first:
                change = first[oid]
                extra: dict[str, Any] = {"unreachable": True} if change.unreachable else {}
                origin = _origin("history", change.path, change.commit, extra)
            elif oid in messages or not wanted(oid):
                continue
            else:
                origin = Origin("history", None, extra={"blob": oid})
            record_notes(result, inspection, origin)

    def _add(self, match: Match, origin: Origin, oid: str) -> None:
        finding = make_finding(match, origin)
        hints = self._scanned.hints.get((oid, match.start, match.rule.id))
        if hints:
            finding.hints = hints
        self._findings.append(finding)

    def finish(self, result: ScanResult) -> None:
        """Hand the findings over, oldest first (those with no date last)."""
        if self._cat_file is not None:
            self._cat_file.close()
        self._findings.sort(key=_chronological)
        result.findings.extend(self._findings)


def _origin(source: str, path: str, commit: Commit, extra: dict[str, Any]) -> Origin:
    return Origin(source, path, commit.oid, commit.author, commit.date, extra)


def _chronological(finding: Finding) -> tuple[float, str, int, int]:
    moment = float("inf")
    if finding.date:
        moment = datetime.datetime.fromisoformat(finding.date).timestamp()
    return moment, finding.path or "", finding.line, finding.column
