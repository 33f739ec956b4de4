"""Attribution: the history audit's step between the pipeline and suppression, for the few blobs
with a match, which commits and paths introduced each key.

The pipeline turns the history source's events into findings and notes like any source's: a
blob's have no path yet (its ``History`` record names the blob). Attribution places them:

- One ``git log --find-object`` pass lists the commits that set a file to one of those blobs.
  A key is *introduced* at (commit, path) when the commit's version has it and no parent's
  version of that path has it, which catches keys a merge adds by itself. Each (key, path) is
  one finding, attributed to its earliest introduction (every introduction with
  ``all_occurrences``), with counts of the other commits and paths carrying it.
- A blob no commit adds (only a tag reaches it, or with ``include_unreachable`` nothing does)
  keeps one finding per key, with no path.
- The engine's notes on a blob are placed at its earliest commit and path.
- What no ref reaches is dropped, or with ``include_unreachable`` labelled.

It also records where each key stands (``hvscan.keys.Exposure``, by key hash): every commit and
path that introduced it (whatever ``all_occurrences`` says), which paths of HEAD's tree hold
it, in their content or their names (one ``git ls-tree``), the commits of HEAD's history whose
change took it out of a path (the same ``git log`` pass lists the changes that replace or delete
a blob with a key), and the refs that reach a commit introducing it (the stash's reflog
included), or name a blob or tree holding it that no commit holds (a tag of a tree or blob):
pushed when a remote-tracking ref is among them. Which refs, and whether HEAD, reach
those commits takes one walk of the commit graph for all of them (``githistory.tips_reaching``);
after an incremental audit that noted what its walk learnt (``HistorySource.reach``), only the
commits new since.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from hvscan.findings import fingerprint
from hvscan.keys import Exposure, Introduction, Removal
from hvscan.model import Finding, History, Note, member_path, moment
from hvscan.sources.gitcmd import CatFile, GitError
from hvscan.sources.githistory import (
    Commit,
    CommitChange,
    changes,
    refs_naming,
    root_trees,
    tips_reaching,
    tree_blobs,
)
from hvscan.sources.history import ALL_REFS, HistorySource

if TYPE_CHECKING:
    from hvscan.engine import Engine
    from hvscan.scan import ScanResult

Key = tuple[str, str]  # (rule id, secret)
Placed = TypeVar("Placed", Finding, Note)


def attribute(result: ScanResult, source: HistorySource, engine: Engine,
              head: str | None) -> None:
    """Place ``result``'s findings and notes, which the pipeline made of ``source``'s events
    (read to the end), in history, and record where each key stands (``head``: HEAD's commit,
    None before the first); ``engine`` reads the older versions a range does not hold."""
    options = source.options
    # A key in a name the source met: a range's source placed it (the commit adding the path,
    # reached by the range's tip); one in a tree is placed where the tree first appears. One in
    # an archive member's name is in the blob (or message) holding the archive, as content is.
    met = [_met_name(f) for f in result.findings]
    named = [f for f, name in zip(result.findings, met, strict=True)
             if name and f.commit is not None]
    in_trees = [f for f, name in zip(result.findings, met, strict=True)
                if name and f.commit is None]
    blobs, messages = _by_blob([f for f, name in zip(result.findings, met, strict=True)
                                if not name])
    blob_notes, message_notes = _by_blob(result.notes)
    located = set(blobs) | set(blob_notes)
    repo = source.repo.path
    if source.everything:
        reachable = source.reachable
        placed = located & reachable
        found = source.changes(placed)
        lost = located - placed
        if options.include_unreachable and lost and source.unreachable_commits:
            found += [dataclasses.replace(change, unreachable=True) for change in changes(
                repo, [], lost, no_walk=True, stdin_revs=source.unreachable_commits)]
    else:
        reachable = source.handed_on  # a range's commits are reached by its tip
        found = changes(repo, source.revs, located)
    wanted = {oid for oid in located if oid in reachable or options.include_unreachable}
    adding = [change for change in found if change.new in located]
    introductions = _Introductions(engine, source, blobs)
    try:
        introductions.add_changes(adding)
        if source.everything:
            for oid in sorted(set(blobs) - introductions.placed):
                if oid in wanted:
                    introductions.add_unplaced(oid, unreachable=oid not in reachable)
        for finding in messages:
            labelled = _labelled_message(finding, reachable, options.include_unreachable)
            if labelled is not None:
                introductions.findings.append(labelled)
                introductions.add_message(labelled)
        for finding in named + _placed_in_trees(in_trees, source):
            introductions.findings.append(finding)
            introductions.add_message(finding)
        removals = introductions.removals(found)
    finally:
        introductions.close()
    result.findings = sorted(introductions.findings, key=_chronological)
    result.exposure = _exposure(introductions, removals, head, source)
    result.notes = [note for note in message_notes
                    if options.include_unreachable
                    or message_oid(note.source, note.commit, note.history) in reachable]
    result.notes += _placed_notes(blob_notes, adding, wanted)
    # Notes on what is not reported are not counted either.
    result.stats.notes = len(result.notes)
    result.stats.limits_hit = sum(note.limit for note in result.notes)


def _met_name(finding: Finding) -> bool:
    """Whether ``finding`` is in a name the history source met: a path's a range adds, a tree
    entry's, a ref's (not an archive member's, which the engine found in a blob's content)."""
    if not finding.in_name or finding.source not in ("history", "ref"):
        return False
    return finding.history is None or finding.history.in_tree


def _exposure(introductions: _Introductions, removals: dict[str, list[Removal]],
              head: str | None, source: HistorySource) -> dict[str, Exposure]:
    """Where each key stands, by key hash, from its introductions and removals: HEAD's paths
    holding it, the removals on HEAD's history, and the refs reaching a commit that
    introduced it."""
    every = introductions.every
    if not every:
        return {}
    repo = source.repo.path
    head_paths: dict[str, set[str]] = defaultdict(set)
    if head is not None:
        held = tree_blobs(repo, head)
        for path, oid in held.items():
            for finding in introductions.on_blob(oid):
                head_paths[finding.secret_sha256].add(member_path(path, finding.path) or path)
        if introductions.names:  # a name HEAD's tree has at its path: HEAD holds the key
            in_head = held.keys() | _directories(held)
            for key_hash, paths in introductions.names.items():
                head_paths[key_hash] |= paths & in_head
    commits = {i.commit for found in every.values() for _, i in found
               if i.commit is not None and not i.unreachable}
    commits |= {removal.commit for listed in removals.values() for removal in listed}
    extra = [("refs/stash", entry) for entry in source.stash]
    if head is not None:
        extra.append((_HEAD, head))
    known = True
    reaching: dict[str, set[str]] = {}
    objects = set().union(*introductions.objects.values())
    naming: dict[str, set[str]] = {}
    try:
        if objects:
            naming = refs_naming(repo, objects)
        if commits:
            earlier = source.since.reach if source.since is not None else None
            reaching, source.reach = tips_reaching(repo, sorted(commits), extra, earlier,
                                                   source.fresh)
    except GitError:  # a commit the store lacks (reported as missing): refs unknown
        known = False
    exposure: dict[str, Exposure] = {}
    for key_hash, found in every.items():
        ordered = tuple(introduction for _, introduction in sorted(found, key=_first_item))
        refs = {ref for introduction in ordered if introduction.commit in reaching
                for ref in reaching[introduction.commit] if ref != _HEAD}
        refs |= {ref for oid in introductions.objects.get(key_hash, ())
                 for ref in naming.get(oid, ())}
        removed = {removal for removal in removals.get(key_hash, ())
                   if _HEAD in reaching.get(removal.commit, ())}
        exposure[key_hash] = Exposure(
            introductions=ordered, in_head=bool(head_paths[key_hash]),
            head_paths=tuple(sorted(head_paths[key_hash])),
            removed_in=tuple(sorted(removed, key=lambda r: (moment(r.date), r.path))),
            refs=tuple(sorted(refs)),
            pushed=any(ref.startswith("refs/remotes/") for ref in refs) if known else None)
    return exposure


def _directories(paths: Iterable[str]) -> set[str]:
    """The directories along ``paths``, each ending with ``/`` (as a name's path does)."""
    directories: set[str] = set()
    for path in paths:
        cut = path.rfind("/")
        while cut > 0 and path[:cut + 1] not in directories:
            directories.add(path[:cut + 1])
            cut = path.rfind("/", 0, cut)
    return directories


# The name tips_reaching gives HEAD: it is not a ref, only asked about for removals.
_HEAD = "HEAD"


def _first_item(item: tuple[tuple[float, int, str], Introduction]) -> tuple[float, int, str]:
    return item[0]


def _earliest(change: CommitChange) -> tuple[int, int]:
    """Sort key: the earliest commit first; among equal times, git log's later line (older)."""
    return change.commit.time, -change.sequence


def _placed_notes(on_blobs: dict[str, list[Note]], found: list[CommitChange],
                  wanted: set[str]) -> list[Note]:
    """The notes on blobs, at the earliest commit and path holding each blob; a blob no commit
    adds keeps its notes unplaced when it is ``wanted``."""
    first: dict[str, CommitChange] = {}
    for change in sorted(found, key=_earliest):
        if change.new is not None:
            first.setdefault(change.new, change)
    notes: list[Note] = []
    for oid in sorted(on_blobs):
        earliest = first.get(oid)
        if earliest is not None:
            notes += [note._replace(path=member_path(earliest.path, note.path),
                                    commit=earliest.commit.oid) for note in on_blobs[oid]]
        elif oid in wanted:
            notes += on_blobs[oid]
    return notes


def _placed_in_trees(findings: list[Finding], source: HistorySource) -> list[Finding]:
    """Keys in the names of trees (``path`` the name, ``history.blob`` the tree), placed at the
    earliest commit where each path holds the name: where a commit's change sets a directory
    to the tree, or the tree is a commit's root. One finding per (rule, key, path), which keeps
    the tree as its ``History.blob``: the object an incremental audit reads again. With
    ``include_unreachable``, a tree no ref reaches is placed so in the commits no ref reaches,
    labelled unreachable. A tree no commit holds (only a tag reaches it; with
    ``include_unreachable``, a dangling tree) keeps its findings at the name alone, with the
    tree, as a blob no commit adds does."""
    if not findings:
        return []
    trees = {f.history.blob for f in findings if f.history and f.history.blob}
    repo = source.repo.path
    stash = source.stash if source.everything else []
    revs = [ALL_REFS] if source.everything else source.revs
    where = _tree_places(repo, revs, trees, stash)
    lost: set[str] = set()
    if source.options.include_unreachable:
        lost = trees - source.reachable
        if lost and source.unreachable_commits:
            # Only those commits: their ancestors that refs reach hold no lost tree.
            for tree, places in _tree_places(repo, [], lost, source.unreachable_commits,
                                             no_walk=True).items():
                where[tree] += places
    earliest: dict[tuple[str, str, str, str], Finding] = {}
    ranks: dict[tuple[str, str, str, str], tuple[float, int]] = {}
    for finding in findings:
        held_by = finding.history.blob if finding.history and finding.history.blob else ""
        history = (finding.history or History())._replace(unreachable=held_by in lost)
        places = where.get(held_by, [])
        if not places and (held_by in lost or held_by in source.reachable):
            # At the tree: its name, with no commit (a tree only a tag reaches, or none).
            place = (finding.rule_id, finding.secret_sha256, finding.path or "", held_by)
            ranks[place] = (float("inf"), 0)
            earliest[place] = finding.replace(history=history)
        for commit, directory, sequence in places:
            path = directory + (finding.path or "")
            place = (finding.rule_id, finding.secret_sha256, path, "")
            rank = (commit.time, -sequence)
            if place in ranks and ranks[place] <= rank:
                continue
            ranks[place] = rank
            earliest[place] = finding.replace(
                path=path, commit=commit.oid, author=commit.author, date=commit.date,
                fingerprint=fingerprint(finding.rule_id, path, finding.secret_sha256, True),
                history=history)
    # In the order of where they arrived, then of their paths: the same whatever order the
    # trees were read in (an incremental audit reads them in another).
    return [earliest[place] for place in sorted(earliest, key=lambda p: (ranks[p], p))]


def _tree_places(repo: Path, revs: list[str], trees: set[str], stdin_revs: list[str], *,
                 no_walk: bool = False) -> dict[str, list[tuple[Commit, str, int]]]:
    """Each of ``trees``' places in the commits ``revs`` and ``stdin_revs`` reach (with
    ``no_walk``, in those commits alone): (commit, directory, position in git log's output:
    among commits of one time, a later one is older)."""
    where: dict[str, list[tuple[Commit, str, int]]] = defaultdict(list)
    for change in changes(repo, revs, trees, stdin_revs=stdin_revs, topo_order=not no_walk,
                          no_walk=no_walk, trees=True):
        if change.new is not None and change.new in trees:
            where[change.new].append((change.commit, change.path + "/", change.sequence))
    for sequence, (commit, tree) in enumerate(root_trees(repo, revs, trees, stdin_revs,
                                                         no_walk=no_walk)):
        where[tree].append((commit, "", sequence))
    return where


def _by_blob(items: list[Placed]) -> tuple[dict[str, list[Placed]], list[Placed]]:
    """Findings or notes on a blob, by blob id; and the others (on a commit or tag message)."""
    on_blobs: dict[str, list[Placed]] = defaultdict(list)
    on_messages: list[Placed] = []
    for item in items:
        if item.source == "history" and item.history and item.history.blob:
            on_blobs[item.history.blob].append(item)
        else:
            on_messages.append(item)
    return on_blobs, on_messages


def message_oid(source: str, commit: str | None, history: History | None) -> str | None:
    """The commit or tag object whose message it is."""
    if source == "tag-message":
        return history.tag_object if history else None
    return commit


def _labelled_message(finding: Finding, reachable: set[str],
             include_unreachable: bool) -> Finding | None:
    """A finding in a message, labelled when no ref reaches the message (None: not wanted)."""
    if message_oid(finding.source, finding.commit, finding.history) in reachable:
        return finding
    if not include_unreachable:
        return None
    return finding.replace(history=(finding.history or History())._replace(unreachable=True))


class _Introductions:
    """Turns the findings on blobs and the changes setting paths to them into findings placed
    in history: introductions per (key, path), earliest first."""

    def __init__(self, engine: Engine, source: HistorySource,
                 blobs: dict[str, list[Finding]]) -> None:
        self._engine = engine
        self._source = source
        self._blobs = blobs
        self._old_keys: dict[str, set[Key]] = {}
        self._cat_file: CatFile | None = None
        self.placed: set[str] = set()
        self.findings: list[Finding] = []
        # The paths whose names introduced each key (by key hash), placed in a commit.
        self.names: dict[str, set[str]] = defaultdict(set)
        # The blobs and trees holding each key (by key hash) that no commit holds: a tag
        # names them, or nothing does.
        self.objects: dict[str, set[str]] = defaultdict(set)
        # Every introduction of each key, by key hash, with its sort key (oldest first).
        self.every: dict[str, list[tuple[tuple[float, int, str], Introduction]]] = (
            defaultdict(list))

    def on_blob(self, oid: str) -> list[Finding]:
        """The findings on blob ``oid`` (of any key)."""
        return self._blobs.get(oid, [])

    def _introduced(self, finding: Finding, order: tuple[float, int, str],
                    introduction: Introduction) -> None:
        self.every[finding.secret_sha256].append((order, introduction))

    def keys(self, oid: str) -> set[Key]:
        found = self._blobs.get(oid)
        if found is not None:
            return {(f.rule_id, f.secret) for f in found}
        if self._source.was_scanned(oid):
            return set()
        if oid not in self._old_keys:  # an old version outside the range: read it now
            self._cat_file = self._cat_file or CatFile(self._source.repo.path)
            got = self._cat_file.read(oid)
            data = got[1] if got else b""
            self._old_keys[oid] = {(m.rule.id, m.secret) for m in self._engine.scan(data)
                                   if not m.placeholder}
        return self._old_keys[oid]

    def add_changes(self, found: list[CommitChange]) -> None:
        # One commit and path can show up once per parent (merges are diffed against each).
        sides: dict[tuple[str, str, str], list[CommitChange]] = defaultdict(list)
        for change in found:
            if change.new is not None:
                sides[(change.commit.oid, change.path, change.new)].append(change)
        introductions: dict[tuple[Key, str], list[CommitChange]] = defaultdict(list)
        for (_, path, new), listed in sides.items():
            self.placed.add(new)
            if new not in self._blobs:
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
        all_occurrences = self._source.options.all_occurrences
        for (key, path), occurrences in introductions.items():
            occurrences.sort(key=_earliest)
            commits = {c.commit.oid for c in occurrences}
            for index, change in enumerate(occurrences):
                assert change.new is not None  # only changes adding a blob are introductions
                finding = next(f for f in self._blobs[change.new]
                               if (f.rule_id, f.secret) == key)
                placed = member_path(path, finding.path) or path  # the finding's member in it
                commit = change.commit
                self._introduced(finding, (commit.time, -change.sequence, placed), Introduction(
                    commit.oid, placed, commit.author, commit.date, "history",
                    change.unreachable))
                if index and not all_occurrences:
                    continue
                self.findings.append(finding.replace(
                    path=placed, commit=commit.oid, author=commit.author, date=commit.date,
                    fingerprint=fingerprint(finding.rule_id, placed, finding.secret_sha256,
                                            finding.in_name),
                    history=History(blob=change.new, other_commits=len(commits) - 1,
                                    other_paths=len(paths_per_key[key]) - 1,
                                    unreachable=change.unreachable)))

    def add_unplaced(self, oid: str, *, unreachable: bool) -> None:
        """A blob with findings no commit adds: reached only through a tag, or not at all."""
        seen: set[Key] = set()
        for finding in self._blobs[oid]:
            if (finding.rule_id, finding.secret) in seen:
                continue
            seen.add((finding.rule_id, finding.secret))
            self.findings.append(finding.replace(
                history=History(blob=oid, unreachable=unreachable)))
            self.objects[finding.secret_sha256].add(oid)
            self._introduced(finding, (float("inf"), 0, ""),
                             Introduction(None, None, None, None, "history", unreachable))

    def add_message(self, finding: Finding) -> None:
        """A key in a commit or tag message, or in a name: introduced by that commit or tag
        (at the name's path)."""
        unreachable = bool(finding.history and finding.history.unreachable)
        if finding.source == "history" and finding.commit is not None and finding.path:
            self.names[finding.secret_sha256].add(finding.path)
        elif finding.source == "history" and finding.history and finding.history.blob:
            self.objects[finding.secret_sha256].add(finding.history.blob)  # a tree's name
        self._introduced(finding, (moment(finding.date), 0, ""), Introduction(
            finding.commit, finding.path, finding.author, finding.date, finding.source,
            unreachable))

    def removals(self, found: list[CommitChange]) -> dict[str, list[Removal]]:
        """The commits whose change took a key out of a path, by key hash: every parent's
        version of the path had the key (a merge that keeps one side's removal is not one) and
        the commit's version does not (or the file is gone)."""
        sides: dict[tuple[str, str], list[CommitChange]] = defaultdict(list)
        for change in found:
            if change.old in self._blobs:
                sides[(change.commit.oid, change.path)].append(change)
        removed: dict[str, list[Removal]] = defaultdict(list)
        for (oid, path), listed in sides.items():
            commit = listed[0].commit
            if len(listed) < max(1, len(commit.parents)):
                continue  # some parent already lacks the blob that had the key
            had = set.intersection(*(self.keys(c.old) for c in listed if c.old))
            new = listed[0].new
            gone = had - (self.keys(new) if new is not None else set())
            for key in gone:
                finding = next(f for f in self._blobs[listed[0].old or ""]
                               if (f.rule_id, f.secret) == key)
                removed[finding.secret_sha256].append(
                    Removal(oid, member_path(path, finding.path) or path, commit.date))
        return removed

    def close(self) -> None:
        if self._cat_file is not None:
            self._cat_file.close()


def _chronological(finding: Finding) -> tuple[float, str, int, int]:
    """Oldest first, those with no date last."""
    return moment(finding.date), finding.path or "", finding.line, finding.column
