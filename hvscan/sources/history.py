"""The history source (``hvscan git``): every object of the store, or of a range, read once.

Every blob, commit and tag in the store (or, for a range, the commits in it and the blobs they
add) is streamed by ``git cat-file --batch`` processes, one per core, each over a contiguous
part of the list, and screened through the pipeline's ``Screen`` in large buffers
(``gitstream``). An object the screen hands on is a ``Blob`` event: a blob (origin ``history``,
no path yet: its ``History`` record names the blob), or the message of a commit or annotated
tag (``commit-message``, ``tag-message``; no file). An object larger than ``max_file_size`` is
not read: a ``NotRead`` event, which attribution places at its path like the engine's notes.
The blobs the screen passed are summed up in one ``Screened`` event; a shallow clone's missing
history and objects the store lacks are ``Failed`` events. Like every source it knows nothing
about keys.

What the attribution step (``hvscan/attribution.py``) needs afterwards, the source keeps once
its events are read: the repository, which objects refs reach (objects no ref reaches are
read anyway, as skipping them would cost a second pass, and reported only with
``include_unreachable``), and for a range which blobs it adds.

A range (``--range``, ``--branch``, ``--since-commit``) also yields the names along the paths
its commits add (``Names``, from the same ``git log`` that lists its blobs;
``sources/names.py``), each path once at the oldest commit adding it, with that commit's origin:
a name a parent has there already, or along a path the commit removes (a rename's old path), is
not new. The whole-store audit streams trees with the other objects: a tree whose bytes hold a
needle is parsed, and its entries' names are a ``Names`` event (origin: the name alone, a
directory's with ``/``, and the tree's id as ``History.blob``), which attribution places at the
paths and commits where the tree first appears. It also scans the refs' names (``git
for-each-ref``: a branch or tag named with a key), each a finding of source ``ref`` at the ref's
full name, its commit the object the ref names.

In a many-repository run, the audit of a mirror hvscan fetched is handed the ids other audits
of mirrors in its worker process screened clean (``hvscan/shared.py``): the whole-store listing
leaves them out and counts their kinds and sizes (``list_objects``' ``skip``), so its events
and statistics are those of a full read; and it gathers the ids its own screen drops
(``dropped``) for the audits after it.

An incremental audit (``hvscan/incremental.py``) tells it what an earlier audit read
(``since``): then only the objects the refs reach that the earlier tips did not are read, and
the objects it flagged (``sources/delta.py``), and ``changes`` walks only the new commits.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from hvscan.model import History, Origin
from hvscan.sources import (
    Blob,
    Events,
    Failed,
    Names,
    NotRead,
    Screen,
    Screened,
    display_path,
)
from hvscan.sources.delta import (
    Since,
    delta_objects,
    grown_changes,
    lost,
    present,
    ref_tips,
)
from hvscan.sources.gitcmd import GitError, GitProcess, git
from hvscan.sources.githistory import (
    CommitChange,
    ObjectLists,
    Reach,
    ReachableObjects,
    Repository,
    changes,
    is_partial_clone,
    list_objects,
    open_repository,
    parse_message,
    range_objects,
    ref_names,
    ref_targets,
    resolve_commit,
    stash_entries,
    stream_objects,
    tree_names,
)
from hvscan.sources.gitstream import Oversized, StreamStats, read_objects
from hvscan.sources.names import named_refs, path_names, previous_names

ALL_REFS = "--all"
ProgressFactory = Callable[[int], Callable[[StreamStats], None]]


@dataclass(frozen=True)
class HistoryOptions:
    since_commit: str | None = None
    commit_range: str | None = None
    branch: str | None = None
    all_occurrences: bool = False
    include_unreachable: bool = False
    # Objects larger than this are not read: each is listed as not scanned (--max-file-size).
    max_file_size: int | None = None
    # How many git processes inflate objects at once (None: ``producers()``). Audits running
    # side by side (several repositories) share the cores: more would only take turns.
    producers: int | None = None

    @property
    def is_range(self) -> bool:
        """Whether only what some commits add is audited (--range, --since-commit)."""
        return self.commit_range is not None or self.since_commit is not None


def range_ends(commit_range: str) -> tuple[str, str]:
    """A and B of ``--range A..B``; GitError for anything else. ``A...B`` (git log's symmetric
    difference) is refused with the spelling to use: it also holds the commits of A that B does
    not have, which are no part of B's change, yet a range scan would report their keys as the
    change's own and not trust their markers. What a CI gate on B means by it, the commits B
    added since it forked from A, is exactly ``A..B``, whose configuration is read from A."""
    base, dots, tip = commit_range.partition("..")
    if tip.startswith(".") and base and tip[1:] and not tip[1:].startswith("."):
        raise GitError(f"--range: {commit_range!r} (A...B, a symmetric difference) is not "
                       f"supported; use {base}..{tip[1:]}: the commits {tip[1:]} added since it "
                       f"forked from {base}")
    if not dots or tip.startswith(".") or not base or not tip:
        raise GitError(f"--range: {commit_range!r} is not of the form A..B")
    return base, tip


def producers() -> int:
    """How many git processes inflate objects at once: one per core, up to four (beyond that
    this process's single consumer is the limit)."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(4, cores))


class HistorySource:
    """The objects of the repository at ``path`` that ``options`` select. GitError (here or
    while the events are read) for anything git refuses."""

    def __init__(self, path: Path, options: HistoryOptions,
                 progress: ProgressFactory | None = None,
                 shared: set[bytes] | None = None, room: int = 0) -> None:
        self.repo: Repository = open_repository(path)
        # Objects other audits screened clean (``hvscan/shared.py``): the whole-store listing
        # leaves them out, counting them; given it, the ids of the objects the screen drops here
        # are gathered in ``dropped`` (up to ``room`` of them), for the audits after this one.
        self.shared = shared
        self._room = room
        self.dropped: list[bytes] | None = None if shared is None or not room else []
        # An incremental audit (hvscan/incremental.py) sets these before the events are read:
        # what an earlier audit read (only what is new since is read, and what it flagged),
        # and whether to note the tips read, for the next one.
        self.since: Since | None = None
        self.remember = False
        self.tips: list[str] = []
        self.found: list[CommitChange] = []  # what ``changes`` found, for the next audit
        self.reach: Reach | None = None  # what attribution's walk learnt, for the next audit
        self.fresh: frozenset[str] = frozenset()  # commits of ``found`` no earlier tip reaches
        self._old_tips: list[str] | None = None  # the earlier tips, when history only grew
        self.options = options
        self._producers = options.producers or producers()
        self.revs = _revisions(self.repo, options)
        self.everything = self.revs == [ALL_REFS]
        if options.include_unreachable and not self.everything:
            raise GitError("--include-unreachable audits the whole store; it cannot be "
                           "combined with --range, --branch or --since-commit")
        self._progress = progress
        # Filled as the events are read, for the attribution.
        self.stash: list[str] = []
        self.handed_on: set[str] = set()  # the objects handed on as blobs to scan
        self.reachable: set[str] = set()  # those of them that refs reach (whole store only)
        self.unreachable_commits: list[str] = []  # with include_unreachable, when it matters
        self.added: set[str] = set()  # the blobs a range adds (range only)
        self._handed_blobs = self._handed_bytes = 0

    def scanned_refs(self) -> list[str]:
        """What the audit read, as the scan record lists it: every ref's full name for the
        whole store (also with --since-commit), else the --branch or --range as given."""
        options = self.options
        if options.commit_range is not None:
            return [options.commit_range]
        if options.branch is not None:
            # The name was checked when it was resolved (never one of git's options).
            full = git(self.repo.path, "rev-parse", "--symbolic-full-name", options.branch)
            return [full.decode("utf-8", "surrogateescape").strip() or options.branch]
        return ref_names(self.repo.path)

    def was_scanned(self, oid: str) -> bool:
        """Whether blob ``oid`` went through the screen (every blob of the store, or those
        the range adds)."""
        return self.everything or oid in self.added

    def events(self, screen: Screen) -> Events:
        repo = self.repo
        if repo.shallow_roots:
            yield Failed(os.fsdecode(repo.path), _shallow_message(repo))
        stats = StreamStats()
        if not self.everything:
            lists, self.added, added_paths = range_objects(repo.path, self.revs,
                                                           self._producers)
            yield from self._stream(lists, screen, stats)
            yield from _missing(stats.missing, repo)
            named: set[bytes] = set()
            # Oldest first: where a name arrived. A name along a path the commit removes (a
            # rename's old path) is kept, not new, as pre-push and staged count it.
            for commit, paths, removed in reversed(added_paths):
                if paths:
                    old_paths = tuple(removed)
                    yield path_names(
                        [(path, old_paths) for path in paths],
                        functools.partial(Origin, "history", commit=commit.oid,
                                          author=commit.author, date=commit.date),
                        functools.partial(previous_names, repo.path, commit.parents), named)
        elif self.since is not None:
            yield from self._since(self.since, screen, stats)
            yield _ref_names(repo.path)
        else:
            self.stash = stash_entries(repo.path)
            if self.remember:  # before the objects are listed: all they reach is read
                self.tips = ref_tips(repo.path, self.stash)
            reachable = ReachableObjects(repo.path, [ALL_REFS], self.stash)
            try:
                lists = list_objects(repo.path, self._producers,
                                     keep_commits=self.options.include_unreachable,
                                     skip=self.shared)
                yield from self._stream(lists, screen, stats)
                yield from _missing(reachable.finish(), repo)
                self._reachability(reachable, lists.commits)
                yield _ref_names(repo.path)
            finally:
                reachable.close()
        yield Screened(Origin("history", None), stats.blob_bytes - self._handed_bytes,
                       stats.blobs - self._handed_blobs)

    def _stream(self, lists: ObjectLists, screen: Screen, stats: StreamStats) -> Events:
        """Read the objects listed in ``lists``, one git process per part, and hand on those
        the screen asks for."""
        processes: list[GitProcess] = []
        try:
            on_chunk = self._progress(lists.count) if self._progress else None
            for ids in lists.files:
                processes.append(stream_objects(self.repo.path, ids))
            streams: list[IO[bytes]] = [p.stdout for p in processes if p.stdout is not None]
            for obj in read_objects(streams, screen, stats, on_chunk=on_chunk,
                                    max_size=self.options.max_file_size,
                                    dropped=self.dropped, room=self._room):
                self.handed_on.add(obj.oid)
                if isinstance(obj, Oversized):  # a note placed, like the engine's, at its path
                    yield NotRead(Origin("history", None, history=History(blob=obj.oid)),
                                  obj.reason)
                    continue
                if obj.kind == "blob":
                    self._handed_blobs += 1
                    self._handed_bytes += len(obj.data)
                    yield Blob(obj.data, Origin("history", None, history=History(blob=obj.oid)))
                    continue
                if obj.kind == "tree":
                    yield _tree_names(obj.oid, obj.data)
                    continue
                message = parse_message(obj.kind, obj.data)
                if obj.kind == "tag":
                    origin = Origin("tag-message", None, message.target, message.author,
                                    message.date, History(tag=message.tag, tag_object=obj.oid))
                else:
                    origin = Origin("commit-message", None, obj.oid, message.author,
                                    message.date)
                yield Blob(message.text, origin, file=False)
            for process in processes:
                process.finish()
            # What was left unread, as if it had been read and dropped.
            stats.objects += lists.skipped
            stats.blobs += lists.skipped_blobs
            stats.blob_bytes += lists.skipped_blob_bytes
        finally:
            for process in processes:
                process.kill()
            lists.close()

    def _since(self, since: Since, screen: Screen, stats: StreamStats) -> Events:
        """Only the objects the tips reach that the earlier tips did not, and those the earlier
        audit flagged. When every object the earlier tips reached still is reached (history
        only grew), what is read is reached; else, as for the whole store, git lists what the
        refs reach (history was rewritten: a flagged object may be left behind)."""
        path = self.repo.path
        self.stash = stash_entries(path)
        self.tips = ref_tips(path, self.stash)
        old_tips = present(path, since.tips)
        grown = len(old_tips) == len(since.tips) and not lost(path, old_tips, self.tips)
        lists, missing = delta_objects(path, self.tips, old_tips, since.flagged,
                                       self._producers)
        if grown:
            self._old_tips = old_tips
            yield from self._stream(lists, screen, stats)
            yield from _missing(missing + stats.missing, self.repo)
            self.reachable = set(self.handed_on)
            return
        reachable = ReachableObjects(path, [ALL_REFS], self.stash)
        try:
            yield from self._stream(lists, screen, stats)
            yield from _missing(reachable.finish(), self.repo)
            self._reachability(reachable, [])
        finally:
            reachable.close()

    def changes(self, blobs: set[str]) -> list[CommitChange]:
        """Every change in the history the refs and the stash reach that sets a file to one of
        ``blobs`` (whole store only): after an earlier audit whose history only grew since,
        only the new commits are walked."""
        known = self.since.changes if self.since is not None else None
        if known is None or self._old_tips is None:
            self.found = changes(self.repo.path, [ALL_REFS], blobs, stdin_revs=self.stash)
        else:
            self.found = grown_changes(self.repo.path, known, self.tips, self._old_tips, blobs)
            # Those not walked last time: no earlier tip reaches them.
            self.fresh = frozenset({change.commit.oid for change in self.found}
                                   - {change.commit.oid for change in known})
        return self.found

    def _reachability(self, reachable: ReachableObjects, commits: list[str]) -> None:
        """Which of the objects handed on refs reach; with include_unreachable, and when an
        object handed on (a blob, a tree whose names hold a needle) is not reached, the commits
        no ref reaches (where it may sit)."""
        self.reachable = reachable.subset(self.handed_on) if self.handed_on else set()
        if self.options.include_unreachable and self.handed_on - self.reachable:
            commit_ids = set(commits)
            self.unreachable_commits = sorted(commit_ids - reachable.subset(commit_ids))


def _ref_names(repo: Path) -> Names:
    """The refs' full names (``refs/heads/...``), each at the object it names."""
    return named_refs(ref_targets(repo))


def _tree_names(oid: str, data: bytes) -> Names:
    """The names in tree ``oid``, each a blob placed in the tree, not yet at a path."""
    entries = tree_names(data, len(oid) // 2)

    def blob(index: int) -> Blob:
        name, is_dir = entries[index]
        return Blob(name, Origin("history", display_path(name) + "/" * is_dir,
                                 history=History(blob=oid, in_tree=True), in_name=True),
                    file=False)

    return Names([name for name, _ in entries], blob)


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


def _shallow_message(repo: Repository) -> str:
    roots = repo.shallow_roots
    return (f"shallow clone: the history behind {len(roots)} boundary commit(s) (e.g. "
            f"{roots[0][:12]}) is not in this repository and was not scanned; run "
            "'git fetch --unshallow' and scan again")


def _missing(missing: list[str], repo: Repository) -> Events:
    if missing:
        kind = "partial clone" if is_partial_clone(repo.path) else "damaged repository"
        yield Failed(f"object {missing[0]}",
                     f"{len(missing)} object(s) that refs reach are missing from the repository "
                     f"({kind}; e.g. {missing[0]}) and were not scanned")
