"""git plumbing for incremental history audits: the refs' tips now, and the objects they reach
that the tips of an earlier audit did not.

An audit that remembers the tips it read (``hvscan/state.py`` keeps them) reads next time only
what ``git rev-list --objects`` lists from the tips now, less what the earlier tips reach: every
object those reached was read then, and objects are named by their content, so what was read
then is what is there now. Whether any object the earlier tips reached is no longer reached (a
force-pushed or deleted branch) says whether what was found then still is in history. It
knows nothing about keys.
"""

from __future__ import annotations

import dataclasses
import tempfile
from typing import TYPE_CHECKING, NamedTuple

from hvscan.sources.gitcmd import GitProcess, git
from hvscan.sources.githistory import (
    CommitChange,
    ObjectLists,
    Reach,
    changes,
    lines_file,
    split_lists,
)

if TYPE_CHECKING:
    from pathlib import Path


class Since(NamedTuple):
    """What an earlier audit of a repository read: every object its ``tips`` reached; the
    ``flagged`` objects, those of them the engine found something in (findings or notes), which
    are read again (the store never holds a full key: reading them recovers the keys); and the
    ``changes`` setting a file to a flagged blob in the history those tips reach (None: not
    known, walk the whole history again); and what attribution's walk of the commit graph
    learnt (``githistory.tips_reaching``; None: walk it all)."""

    tips: tuple[str, ...]
    flagged: tuple[str, ...]
    changes: tuple[CommitChange, ...] | None = None
    reach: Reach | None = None


def ref_tips(repo: Path, stash: list[str]) -> list[str]:
    """What ``--all`` starts from (every ref's object, and the HEAD of every worktree, which
    only ``rev-list`` lists) and the older stash entries, each once, sorted."""
    tips = set(git(repo, "for-each-ref", "--format=%(objectname)").decode("ascii").split())
    tips |= set(git(repo, "rev-list", "--no-walk", "--all").decode("ascii").split())
    return sorted(tips | set(stash))


def present(repo: Path, oids: tuple[str, ...]) -> list[str]:
    """Those of ``oids`` that are in the store (an earlier tip may have been pruned since)."""
    if not oids:
        return []
    out = git(repo, "cat-file", "--batch-check=%(objectname)",
              input="".join(f"{oid}\n" for oid in oids).encode("ascii"))
    return [line for line in out.decode("ascii").split("\n") if line and " " not in line]


def lost(repo: Path, old_tips: list[str], tips: list[str]) -> bool:
    """Whether anything ``old_tips`` (all present) reach is no longer reached from ``tips``."""
    if not old_tips:
        return False
    revs = "".join([*(f"{tip}\n" for tip in old_tips), *(f"^{tip}\n" for tip in tips)])
    out = git(repo, "rev-list", "--objects", "--no-object-names", "--max-count=1", "--stdin",
              input=revs.encode("ascii"))
    return bool(out.strip())


def delta_objects(repo: Path, tips: list[str], old_tips: list[str], flagged: tuple[str, ...],
                  parts: int) -> tuple[ObjectLists, list[str]]:
    """The objects ``tips`` reach and ``old_tips`` (all present) do not, then ``flagged``, each
    once, split like ``githistory.list_objects`` (trees included: git lists them without their
    type, and the stream skips them); and the ids of objects the tips reach that the store
    lacks."""
    again = set(flagged)
    whole = tempfile.TemporaryFile()  # noqa: SIM115 (owned by the ObjectLists returned)
    count, width = 0, 0
    missing: list[str] = []
    revs = [*tips, *(f"^{tip}" for tip in old_tips)]
    try:
        with lines_file(revs) as listed:
            process = GitProcess(repo, "rev-list", "--objects", "--no-object-names",
                                 "--missing=print", "--stdin", stdin=listed)
        assert process.stdout is not None
        try:
            for line in process.stdout:
                oid = line.rstrip(b"\n")
                if oid.startswith(b"?"):
                    missing.append(oid[1:].decode("ascii"))
                elif oid.decode("ascii") not in again:
                    whole.write(oid + b"\n")
                    count, width = count + 1, len(oid)
            process.finish()
        finally:
            process.kill()
        for oid_text in flagged:
            whole.write(oid_text.encode("ascii") + b"\n")
            count, width = count + 1, len(oid_text)
    except BaseException:
        whole.close()
        raise
    return ObjectLists(split_lists(whole, count, width + 1, parts), count, []), missing


def grown_changes(repo: Path, known: tuple[CommitChange, ...], tips: list[str],
                  old_tips: list[str], blobs: set[str]) -> list[CommitChange]:
    """``githistory.changes`` over all of ``tips``' history, for a history that only grew since
    ``old_tips``, whose ``known`` changes (of every blob flagged then) hold: only the new
    commits are walked (a blob read for the first time now is in no old commit). The new
    commits' changes come first in git log's order, as they would in a walk of everything."""
    walked = changes(repo, [], blobs, stdin_revs=[*tips, *(f"^{tip}" for tip in old_tips)])
    if walked:
        shift = min((change.sequence for change in known), default=1) - 1 - max(
            change.sequence for change in walked)
        walked = [dataclasses.replace(change, sequence=change.sequence + shift)
                  for change in walked]
    return walked + [change for change in known if change.new in blobs or change.old in blobs]
