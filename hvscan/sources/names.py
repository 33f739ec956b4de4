"""The names along changed paths, for the git sources that know a change's paths (``hvscan
staged``, ``--range``, ``pre-push``): ``a/b/c.txt`` names the directories ``a/`` and ``a/b/``
and the file ``a/b/c.txt``. Each name is scanned once per change however many of its paths pass
through it (a new directory of many files), as a ``Names`` event: its ``Blob`` carries the
names the change replaces there (the same path's name in the version before, the names of a
rename's old path), so that only a key the change adds to a name is reported. And the names
of refs (``hvscan git``, the refs a push creates or updates), each whole.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from pathlib import Path

from hvscan.model import Origin
from hvscan.sources import Blob, Names, display_path
from hvscan.sources.gitcmd import git

# The names a change replaces at a path (given the path, and the change's old paths there):
# read only for a name holding a match.
Known = Callable[[bytes, tuple[bytes, ...]], list[bytes]]


def path_names(paths: Iterable[tuple[bytes, tuple[bytes, ...]]], origin: Callable[[str], Origin],
               known: Known | None = None, seen: set[bytes] | None = None) -> Names:
    """The names along ``paths`` (each a path and the old paths it replaces, for a rename or
    copy) not in ``seen`` (updated), their origins from ``origin`` (given the reported path, a
    directory's ending with ``/``)."""
    seen = set() if seen is None else seen
    # (path of the name, is a directory, the change's old paths)
    places: list[tuple[bytes, bool, tuple[bytes, ...]]] = []
    for path, old_paths in paths:
        old_paths = tuple(old for old in old_paths if old != path)  # a rename's or copy's
        end = path.find(b"/")
        while end >= 0:
            _add(places, seen, path[:end], True, old_paths)
            end = path.find(b"/", end + 1)
        _add(places, seen, path, False, old_paths)

    def blob(index: int) -> Blob:
        path, is_dir, old_paths = places[index]
        previous = None if known is None else lambda: known(path, old_paths)
        return Blob(path.rpartition(b"/")[2],
                    origin(display_path(path) + "/" * is_dir)._replace(in_name=True),
                    previous=previous, file=False)

    return Names([path.rpartition(b"/")[2] for path, _, _ in places], blob)


def named_refs(refs: Sequence[tuple[bytes, str | None]], kept: Collection[bytes] = ()) -> Names:
    """Refs' full names (``refs/heads/...``, as bytes), each at the object it names: a key in
    one is a finding of ``source`` ``ref`` whose path is the name. A name in ``kept`` (one the
    remote of a push holds already) is not new."""

    def blob(index: int) -> Blob:
        name, target = refs[index]
        return Blob(name, Origin("ref", display_path(name), target, in_name=True),
                    previous=(lambda: [name]) if name in kept else None, file=False)

    return Names([name for name, _ in refs], blob)


def _add(places: list[tuple[bytes, bool, tuple[bytes, ...]]], seen: set[bytes], path: bytes,
         is_dir: bool, old_paths: tuple[bytes, ...]) -> None:
    if path not in seen:
        seen.add(path)
        places.append((path, is_dir, old_paths))


def previous_names(repo: Path | bytes | str, commits: Iterable[str], path: bytes,
                   old_paths: tuple[bytes, ...]) -> list[bytes]:
    """The names a change from ``commits`` (its parents, or HEAD) replaces at ``path``: its
    name, when one of them has something there already, and every name along the old paths of
    a rename or copy."""
    held = any(tree_entries(repo, commit, [path]) for commit in commits)
    return [path.rpartition(b"/")[2]] * held + [
        part for old in old_paths for part in old.split(b"/")]


def tree_entries(repo: Path | bytes | str, commit: str,
                 paths: list[bytes]) -> list[tuple[str, str]]:
    """(type, id) of what ``commit`` has at ``paths`` (a directory is a tree)."""
    listing = git(repo, "--literal-pathspecs", "ls-tree", "-z", "--full-tree", commit, "--",
                  *paths)
    entries = []
    for entry in listing.split(b"\0"):
        if entry:
            _mode, kind, object_id = entry.split(b"\t", 1)[0].decode("ascii").split()
            entries.append((kind, object_id))
    return entries
