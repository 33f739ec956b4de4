"""The pre-push source: what a push sends that the remote does not have yet (``hvscan pre-push``).

Which commits: every local tip being pushed, minus what the remote already has (its current tip
of each pushed ref, when this repository has it, and every remote-tracking ref of the remote).
The tips come from git's pre-push lines on standard input (a plain git hook) or from the
pre-commit framework's ``PRE_COMMIT_FROM_REF`` / ``PRE_COMMIT_TO_REF``. A new branch (the
all-zero remote id) is scanned from where it leaves the remote's history, all of it for a push
to an empty remote. Deleting a ref sends nothing.

What: one ``git log --raw -c`` lists each pushed commit's changed files (for a merge, the files
that differ from every parent, which is where an "evil merge" adds lines) and one
``git cat-file --batch`` reads each changed blob once, with the commit messages and the messages
of annotated tags being pushed. A blob's previous versions are its parents' copies, so only keys
the pushed commits add are reported, attributed to the oldest pushed commit that introduced them.
The names along the paths the pushed commits add are scanned too (``sources/names.py``), each
path once, at the oldest commit adding it; a name a parent already has there, or that a rename
keeps, is not new. So are the names of the refs the push creates or updates, local and remote
(``source`` ``ref``, as ``hvscan git`` reports refs): a branch named with a key is a leak too,
unless the remote has a ref of that name already.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from hvscan.model import Origin
from hvscan.sources import Blob, Events, Excluded, Failed, Names, Skipped, display_path
from hvscan.sources.gitcmd import cat_objects, git, is_null_id, is_object_id, read_blobs
from hvscan.sources.gitrepository import require_repository
from hvscan.sources.names import named_refs, path_names, previous_names
from hvscan.sources.rawdiff import GITLINK, NO_FILE, Change, parse_log

_MARKER = b"\x01"
_FORMAT = "%x01%H %aI %P%x02%an <%ae>"


class PushInputError(ValueError):
    """The pre-push input is malformed; the message is one line."""


@dataclass(frozen=True)
class Push:
    """Revisions being pushed, revisions the remote already has, and the remote whose
    remote-tracking refs it has too (None: none); the names of the refs the push creates or
    updates (local and remote), each with the object pushed to it (None: not known), and
    those of them the remote has already."""

    tips: tuple[str, ...]
    remote_has: tuple[str, ...]
    remote: str | None = None
    refs: tuple[tuple[bytes, str | None], ...] = ()
    kept_refs: frozenset[bytes] = frozenset()


def from_hook_input(text: bytes, remote: str | None) -> Push:
    """git's pre-push input: ``<local ref> <local id> <remote ref> <remote id>`` per line."""
    tips: list[str] = []
    remote_has: list[str] = []
    refs: dict[bytes, str] = {}
    kept: set[bytes] = set()
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()  # ref names cannot contain white space
        if len(fields) != 4 or not all(is_object_id(f.decode("ascii", "replace"))
                                       for f in (fields[1], fields[3])):
            raise PushInputError(
                f"line {number} of the pre-push input is not "
                f"'<local ref> <local id> <remote ref> <remote id>': "
                f"{line.decode('utf-8', 'replace')[:120]!r}")
        local_ref, local_id, remote_ref, remote_id = (
            fields[0], fields[1].decode("ascii"), fields[2], fields[3].decode("ascii"))
        if not is_null_id(remote_id):
            remote_has.append(remote_id)
        if not is_null_id(local_id):  # all zeros: deleting the remote ref sends no content
            tips.append(local_id)
            refs.setdefault(local_ref, local_id)
            refs.setdefault(remote_ref, local_id)
            if not is_null_id(remote_id):  # an update: the remote has that name already
                kept.add(remote_ref)
    return Push(tuple(dict.fromkeys(tips)), tuple(dict.fromkeys(remote_has)), remote or None,
                tuple(refs.items()), frozenset(kept))


def from_pre_commit(environ: Mapping[str, str]) -> Push | None:
    """The pre-commit framework's pre-push variables, or None when they are not set. For a push
    whose history reaches a root commit it sets no range, only the local branch. Whether the
    remote has the remote branch already is not said: its name counts as new."""
    remote = environ.get("PRE_COMMIT_REMOTE_NAME") or None
    to_ref, from_ref = environ.get("PRE_COMMIT_TO_REF"), environ.get("PRE_COMMIT_FROM_REF")
    local = environ.get("PRE_COMMIT_LOCAL_BRANCH")
    names = (local, environ.get("PRE_COMMIT_REMOTE_BRANCH"))
    refs = tuple((os.fsencode(name), to_ref or None) for name in dict.fromkeys(names) if name)
    if to_ref and from_ref:
        return Push((to_ref,), (from_ref,), remote, refs)
    if local and remote:
        return Push((local,), (), remote, refs)
    return None


def read(repo: Path | bytes | str, push: Push, excluded: Excluded | None = None) -> Events:
    """The blobs and messages the push sends; blobs at paths that ``excluded`` matches are
    neither read nor reported (the names along them are, each filtered by its own path in the
    pipeline)."""
    require_repository(repo)
    if not push.tips:
        return
    # Ref names and revisions come from git's hook input, the remote's name from the repository's
    # configuration: after --end-of-options none of them can be an option, and the remote's
    # name is only ever the value of --remotes=.
    remote_refs = ["--not", f"--remotes={push.remote}", "--not"] if push.remote else []
    log = git(repo, "log", f"--format={_FORMAT}", "--raw", "-z", "-M", "-c",
              "--combined-all-paths", "--root", "--no-abbrev", "--no-relative", "--no-color",
              "--topo-order", "--reverse", "--ignore-missing", "--ignore-submodules=none",
              *remote_refs, "--end-of-options",
              *push.tips, *(f"^{revision}" for revision in push.remote_has), "--")
    commits: dict[str, Origin] = {}
    blobs: dict[tuple[str, bytes], tuple[Origin, Change]] = {}
    gitlinks: set[bytes] = set()
    names: list[Names] = []
    named: set[bytes] = set()
    for line, changes in parse_log(log, _MARKER):
        head, author = line.decode("utf-8", "replace").split("\x02", 1)
        commit, date, *parents = head.split(" ")
        commits[commit] = Origin("commit-message", None, commit, author, date)
        added = []
        for change in changes:
            shown = display_path(change.path)
            if change.new_mode == NO_FILE:
                continue
            # The names along an excluded path too: the pipeline drops each name's findings
            # by its own path, as ``dir`` does.
            if NO_FILE in change.old_modes or change.path not in change.old_paths:
                added.append((change.path, change.old_paths))  # a path new to some parent
            if excluded is not None and excluded(shown):
                continue
            if change.new_mode == GITLINK:
                gitlinks.add(change.path)
            else:
                origin = Origin("history", shown, commit, author, date)
                blobs.setdefault((change.new_id, change.path), (origin, change))
        if added:
            names.append(_names(repo, added, Origin("history", None, commit, author, date),
                                [parent for parent in parents if parent], named))
    for path in sorted(gitlinks):
        yield Skipped(display_path(path), "submodule commit (push the submodule separately)",
                      informational=True)
    # Tips that the log did not list are tags or commits the remote already has; reading them
    # also proves that each tip exists (the log ignores missing revisions, for the remote's).
    other_tips = [tip for tip in push.tips if tip not in commits]
    ids = [*other_tips, *commits, *(object_id for object_id, _ in blobs)]
    objects = cat_objects(repo, ids)
    for tip, kind, data in _take(objects, len(other_tips)):
        if data is None:
            yield Failed(tip, "the pushed revision is not in this repository")
        elif kind == "tag":
            yield Blob(_message(data), Origin("tag-message", None, tip))
    for origin, (_, _, data) in zip(commits.values(), _take(objects, len(commits)), strict=True):
        yield Blob(_message(data or b""), origin)
    for (origin, change), (object_id, _, data) in zip(blobs.values(), objects, strict=True):
        if data is None:
            yield Failed(origin.path or object_id, f"blob {object_id} of commit {origin.commit} "
                         "is missing from the object store")
        else:
            yield Blob(data, origin, previous=functools.partial(
                read_blobs, repo, change.old_blob_ids()))
    yield from names
    if push.refs:
        yield named_refs(push.refs, push.kept_refs)


def _names(repo: Path | bytes | str, added: list[tuple[bytes, tuple[bytes, ...]]],
           commit: Origin, parents: list[str], named: set[bytes]) -> Names:
    """The names along the paths a pushed commit adds that no earlier pushed commit added (in
    ``named``); a name one of ``parents`` has at its path is not new."""
    return path_names(added, lambda shown: commit._replace(path=shown),
                      lambda path, old_paths: previous_names(repo, parents, path, old_paths),
                      named)


def _take(objects: Iterator[tuple[str, str | None, bytes | None]], count: int,
          ) -> list[tuple[str, str | None, bytes | None]]:
    return [next(objects) for _ in range(count)]


def _message(raw_object: bytes) -> bytes:
    """The message of a raw commit or tag object: everything after the header block."""
    _, separator, message = raw_object.partition(b"\n\n")
    return message if separator else b""

