"""Reading git's machine formats: ``--raw -z`` diff entries and ``cat-file --batch`` answers.

The sources (hvscan/sources/rawdiff.py, hvscan/sources/gitcmd.py) and the hook's fast path
(hvscan/fastpath.py) read git's answers with these same functions, so both understand the same
output the same way. Paths are bytes taken by count, never by looking at their content, so a
file name may hold any byte (newlines, colons). Imports nothing: the fast path pays for no
more than it reads.
"""

from __future__ import annotations

# What the staged change is: the index against HEAD, renames found, as raw entries. The staged
# source reads the fast path's listing as its own (hvscan/sources/staged.py), so both ask git
# with these very arguments.
STAGED_DIFF = ("diff", "--cached", "--raw", "-z", "-M", "--no-abbrev", "--no-relative",
               "--ignore-submodules=none")

# One raw diff entry: status (one letter per parent for a merge's combined entry, else one
# letter), old modes, new mode, old ids, new id, path, old paths (one per parent).
RawEntry = tuple[str, tuple[str, ...], str, tuple[str, ...], str, bytes, tuple[bytes, ...]]


class RawTokens:
    """The NUL-separated fields of ``--raw -z`` output, consumed in order."""

    def __init__(self, output: bytes) -> None:
        self._fields = output.split(b"\0")
        self._index = 0

    def next_header(self) -> bytes | None:
        """The next commit line or change header: separators (empty fields, the newline git
        puts after a commit line) are dropped."""
        while self._index < len(self._fields):
            field = self._fields[self._index].lstrip(b"\n")
            self._index += 1
            if field:
                return field
        return None

    def path(self) -> bytes:
        field = self._fields[self._index] if self._index < len(self._fields) else b""
        if not field:  # git never prints an empty path
            raise ValueError("git raw diff output ends before a path")
        self._index += 1
        return field


def raw_entry(header: bytes, tokens: RawTokens) -> RawEntry:
    """The entry whose header line is ``header``, its paths taken from ``tokens``; ValueError
    for output git does not write."""
    parents = len(header) - len(header.lstrip(b":"))
    words = header[parents:].decode("ascii").split()
    if parents < 1 or len(words) != 2 * (parents + 1) + 1:
        raise ValueError(f"unexpected git raw diff line: {header[:80]!r}")
    modes, ids, status = words[: parents + 1], words[parents + 1: -1], words[-1]
    old_paths: tuple[bytes, ...]
    if parents == 1:
        letter = status[0]
        old_path = tokens.path() if letter in "RC" else None
        path = tokens.path()
        old_paths = (old_path or path,)
        status = letter
    else:
        old_paths = tuple(tokens.path() for _ in range(parents))
        path = tokens.path()
    return status, tuple(modes[:-1]), modes[-1], tuple(ids[:-1]), ids[-1], path, old_paths


def raw_entries(output: bytes) -> list[RawEntry]:
    """Every entry of ``git diff --raw -z`` output."""
    tokens = RawTokens(output)
    entries = []
    while (header := tokens.next_header()) is not None:
        entries.append(raw_entry(header, tokens))
    return entries


def batch_objects(output: bytes, count: int) -> list[tuple[str, bytes] | None]:
    """The ``count`` answers in the whole output of ``git cat-file --batch``: ``(type,
    content)``, None for a name without an object; ValueError for output git does not write."""
    objects: list[tuple[str, bytes] | None] = []
    offset = 0
    for _ in range(count):
        end = output.find(b"\n", offset) + 1
        found = batch_header(output[offset:end])
        if found is None:
            objects.append(None)
            offset = end
            continue
        kind, size = found
        if output[end + size:end + size + 1] != b"\n":
            raise ValueError("git cat-file output ends inside an object")
        objects.append((kind, output[end:end + size]))
        offset = end + size + 1
    return objects


def batch_header(header: bytes) -> tuple[str, int] | None:
    """``(type, size)`` from the line ``git cat-file --batch`` writes before an object, None
    for a name the repository has no (single) object for; ValueError for anything else."""
    if header.endswith((b" missing\n", b" ambiguous\n")):
        return None
    fields = header.split()
    if len(fields) != 3 or not fields[2].isdigit():
        raise ValueError(f"unexpected git cat-file header: {header[:80]!r}")
    return fields[1].decode("ascii"), int(fields[2])
