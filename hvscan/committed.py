"""Files read from a commit instead of the file system.

A range scan takes its configuration, ignore file, baseline and rule files from the base commit
of the range, never from the working tree that the change under scan controls (see
docs/security.md). ``CommitTree`` looks those files up in the base commit by the path they would
have in the working tree; ``read_bytes`` reads a path or a committed file alike, so the loaders
of ignore files, baselines and rules take either.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from pathlib import Path

    from hvscan.rules import StrPath


class CommittedFile(NamedTuple):
    """A file as a commit holds it; shown as git names it, ``<commit>:<path>``."""

    commit: str
    path: str  # POSIX, relative to the repository's top level
    data: bytes

    def __str__(self) -> str:
        return f"{self.commit[:12]}:{self.path}"


def read_bytes(file: StrPath | CommittedFile) -> bytes:
    """The content of a file on disk or in a commit; OSError as ``open`` raises it."""
    if isinstance(file, CommittedFile):
        return file.data
    with open(file, "rb") as handle:
        return handle.read()


class CommitTree:
    """The files of ``commit``, looked up by the path they would have in the working tree whose
    top level is ``top``. Paths outside ``top``, directories, and symbolic links are absent:
    only regular files of the commit are read."""

    def __init__(self, repo: Path, top: Path, commit: str) -> None:
        self.repo = repo
        self.top = top.resolve()
        self.commit = commit
        self._read: dict[str, CommittedFile | None] = {}

    def relative(self, path: Path) -> str | None:
        """``path`` relative to the top level (POSIX), None when it is outside."""
        import os.path
        from pathlib import Path

        try:
            relative = Path(os.path.normpath(path)).relative_to(self.top)
        except ValueError:
            return None
        return relative.as_posix()

    def read(self, path: Path) -> CommittedFile | None:
        relative = self.relative(path)
        if relative is None or relative == ".":
            return None
        if relative not in self._read:
            self._read[relative] = self._load(relative)
        return self._read[relative]

    def shown(self, path: Path) -> str:
        return f"{self.commit[:12]}:{self.relative(path) or path}"

    def _load(self, relative: str) -> CommittedFile | None:
        from hvscan.sources.gitcmd import git

        # ls-tree first: a name that is a tree, a submodule or a symbolic link is no file here.
        listing = git(self.repo, "ls-tree", "-z", "--full-tree", self.commit, "--", relative)
        wanted = relative.encode("utf-8", "surrogateescape")
        for entry in listing.split(b"\0"):
            meta, _, name = entry.partition(b"\t")
            if name != wanted:
                continue
            mode, kind, oid = meta.split()
            if kind != b"blob" or mode not in (b"100644", b"100755"):
                return None
            data = git(self.repo, "cat-file", "blob", oid.decode("ascii"))
            return CommittedFile(self.commit, relative, data)
        return None
