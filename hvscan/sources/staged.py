"""The staged source: the change ``git commit`` would record (``hvscan staged``, the hooks).

Content comes from the index, never from the working tree, so partial staging (``git add -p``)
is scanned as staged and a file edited or deleted after ``git add`` is scanned as added. Two git
processes do the whole job: ``git diff --cached --raw`` lists the staged files (renames
detected; before the first commit everything is an addition) and one ``git cat-file --batch``
reads their staged blobs. Each blob carries its earlier versions (HEAD's copy of the same file or
of its rename source, and the merged branch's copy during a merge) so that only keys the staged
change adds are reported; those are read only for the rare blob that has a match. When the
hook's fast path has already listed the change and read its blobs (hvscan/fastpath.py), it hands
them over and git is not asked again. The names along the staged paths are scanned too
(``sources/names.py``): a key in a name HEAD already has there, or in the name a renamed file
had, is not new.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

from hvscan.gitformat import STAGED_DIFF
from hvscan.model import Origin
from hvscan.sources import Blob, Events, Excluded, Failed, Skipped, display_path
from hvscan.sources.gitcmd import GitError, cat_objects, git, is_object_id, read_blobs
from hvscan.sources.gitrepository import head_commit, require_repository
from hvscan.sources.names import path_names, previous_names, tree_entries
from hvscan.sources.rawdiff import GITLINK, Change, parse_changes

if TYPE_CHECKING:
    from pathlib import Path


def read(repo: Path | bytes | str, excluded: Excluded | None = None, *,
         listing: bytes | None = None, blobs: Mapping[str, bytes] | None = None) -> Events:
    """The staged blobs; paths that ``excluded`` matches are neither read nor reported (the
    names along them are, each filtered by its own path in the pipeline). The
    hook's fast path hands over what it has read already: git's ``listing`` of the staged
    change, and the ``blobs`` it holds, by id."""
    changes = parse_changes(listing) if listing is not None else staged_changes(repo)
    to_read: list[Change] = []
    named: list[tuple[bytes, tuple[bytes, ...]]] = []
    for change in changes:
        shown = display_path(change.path)
        if change.status == "D":
            continue  # a deletion records no content for this path
        # Every name along the path, an excluded file's too: the pipeline drops each name's
        # findings by its own path, as ``dir`` does (a directory holding only excluded files).
        named.append((change.path, change.old_paths))
        if excluded is not None and excluded(shown):
            continue
        if change.status == "U":
            yield Failed(shown, "unmerged (the conflict is not resolved and staged yet)")
        elif change.new_mode == GITLINK:
            yield Skipped(shown, "submodule commit (scan the submodule's own repository)",
                          informational=True)
        else:
            to_read.append(change)
    ids = [change.new_id for change in to_read]
    objects: Iterable[tuple[str, str | None, bytes | None]]
    if blobs is not None and all(object_id in blobs for object_id in ids):
        objects = [(object_id, "blob", blobs[object_id]) for object_id in ids]
    else:
        objects = cat_objects(repo, ids)
    for change, (object_id, _kind, data) in zip(to_read, objects, strict=True):
        shown = display_path(change.path)
        if data is None:
            yield Failed(shown, f"staged blob {object_id} is missing from the object store")
            continue
        yield Blob(data, Origin(source="staged", path=shown),
                   previous=_previous_versions(repo, change))
    if named:
        # Asked only for a name holding a match, and then once for them all.
        replaced = functools.cache(lambda: _replaced_commits(repo))
        yield path_names(named, lambda shown: Origin(source="staged", path=shown),
                         lambda path, old_paths: previous_names(repo, replaced(), path,
                                                                old_paths))


def staged_changes(repo: Path | bytes | str) -> list[Change]:
    require_repository(repo)
    output = git(repo, *STAGED_DIFF)
    return parse_changes(output)


def _previous_versions(repo: Path | bytes | str, change: Change) -> Callable[[], list[bytes]]:
    def load() -> list[bytes]:
        ids = change.old_blob_ids()
        paths = list(dict.fromkeys((change.path, *change.old_paths)))
        for head in merge_heads(repo):
            ids.extend(_blob_ids(repo, head, paths))
        return read_blobs(repo, ids)

    return load


def _replaced_commits(repo: Path | bytes | str) -> list[str]:
    """The commits whose names the staged change replaces (a name one of them has at a path
    is not new there): HEAD, and the merged branches during a merge; none before the first
    commit."""
    head = head_commit(repo)
    return [head, *merge_heads(repo)] if head is not None else []


def merge_heads(repo: Path | bytes | str) -> list[str]:
    """The other parents of the commit being made while a merge is in progress."""
    where = git(repo, "rev-parse", "--git-path", "MERGE_HEAD").rstrip(b"\n")
    # git prints the path relative to the directory it ran in (an absolute one joins as is).
    path = os.path.join(os.fsdecode(repo), os.fsdecode(where))
    try:
        with open(path, "rb") as handle:
            heads = handle.read().decode("ascii", "replace").split()
    except FileNotFoundError:
        return []
    for head in heads:
        if not is_object_id(head):  # then it could be read as an option or a ref name
            raise GitError(f"MERGE_HEAD holds {head[:80]!r}, which is not an object id")
    return heads


def _blob_ids(repo: Path | bytes | str, commit: str, paths: list[bytes]) -> list[str]:
    return [object_id for kind, object_id in tree_entries(repo, commit, paths)
            if kind == "blob"]
