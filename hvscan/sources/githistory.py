"""git plumbing for the history audit: which objects to read, and where a blob sits in history.

It decides *which* objects exist for a scan (every object in the store, or the blobs a range of
commits adds) and splits their list into parts, starts the long-lived ``cat-file`` processes
that stream them (one per part), lists what refs reach, and, for the few blobs that matched,
walks the commits that added them (``git log --find-object``, one pass for all of them, merges
diffed against each parent). It knows nothing about keys.
"""

from __future__ import annotations

import datetime
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NamedTuple

from hvscan.sources import display_path
from hvscan.sources.gitcmd import GitError, GitProcess, git
from hvscan.sources.gitrepository import rev_parse

# Above this many objects, filter `git log` output here instead of passing --find-object per
# object on the command line (argument lists are limited).
MAX_FIND_OBJECT_ARGS = 2000
# Splitting the object list costs a git process per part: not worth it for small stores.
MIN_OBJECTS_PER_PART = 2000
_GITLINK_MODE = b"160000"
_LOG_FORMAT = "--format=%x01%H %P%x02%ct%x02%aI%x02%an <%ae>"


@dataclass(frozen=True)
class Repository:
    path: Path
    git_dir: Path
    shallow_roots: tuple[str, ...]


@dataclass(frozen=True)
class Commit:
    oid: str
    parents: tuple[str, ...]
    time: int  # committer time: orders introductions
    date: str  # author date, ISO 8601
    author: str  # "Name <email>"


@dataclass(frozen=True)
class CommitChange:
    """One side of one commit's diff against one parent (or the empty tree for a root
    commit): the file at ``path`` became blob ``new`` (None: deleted, or a submodule), and was
    ``old`` (None: added)."""

    commit: Commit
    sequence: int  # position in git log's output: later means older among equal times
    path: str
    old: str | None
    new: str | None
    unreachable: bool = False  # the commit is in the store but no ref reaches it


def open_repository(path: Path) -> Repository:
    """The repository at (or containing) ``path``; GitError if there is none."""
    if not path.exists():
        raise GitError(f"{path}: no such directory")
    if not path.is_dir():
        raise GitError(f"{path}: not a directory")
    git_dir_text, shallow = rev_parse(path, "--absolute-git-dir", "--is-shallow-repository")[:2]
    git_dir = Path(git_dir_text)
    roots: tuple[str, ...] = ()
    if shallow == "true":
        shallow_file = git_dir / "shallow"
        try:
            roots = tuple(shallow_file.read_text(encoding="ascii").split())
        except OSError:
            roots = ("(unknown)",)
    return Repository(path, git_dir, roots)


def is_partial_clone(path: Path) -> bool:
    """Whether the repository is a partial clone, which lacks objects by design (asked only to
    explain missing objects: two git processes)."""
    # A partial clone names its promisor remote (git 2.39 writes only remote.<name>.promisor).
    promisors = _config(path, "--type=bool", "--get-regexp", r"^remote\..*\.promisor$")
    return bool(_config(path, "--get", "extensions.partialclone")) or any(
        line.endswith(" true") for line in promisors.splitlines())


def _config(repo: Path, *query: str) -> str:
    try:
        return git(repo, "config", *query).decode("utf-8", "replace").strip()
    except GitError:  # unset
        return ""


def stash_entries(repo: Path) -> list[str]:
    """Every stash entry's commit: ``--all`` sees only the newest (refs/stash itself), the
    older ones live in its reflog."""
    try:
        git(repo, "rev-parse", "--quiet", "--verify", "refs/stash")
    except GitError:
        return []
    out = git(repo, "log", "--walk-reflogs", "--format=%H", "refs/stash", "--")
    return out.decode("ascii").split()


def ref_names(repo: Path) -> list[str]:
    """Every ref's full name, sorted."""
    out = git(repo, "for-each-ref", "--format=%(refname)")
    return sorted(out.decode("utf-8", "surrogateescape").splitlines())


def ref_targets(repo: Path) -> list[tuple[bytes, str]]:
    """Every ref's full name, as bytes, and the object it names (an annotated tag's tagged
    object), sorted by name."""
    out = git(repo, "for-each-ref", "--format=%(objectname) %(*objectname) %(refname)")
    targets = []
    for line in out.splitlines():
        named, peeled, name = line.split(b" ", 2)
        targets.append((name, (peeled or named).decode("ascii")))
    return sorted(targets)


class Reach(NamedTuple):
    """What one walk learnt of the commit graph, kept by incremental audits for the next one:
    the ``tips`` (commit ids) it started from and, for each commit asked about, the tips among
    them whose history holds it. Commits never change, so this stays true whatever the refs
    do later, for as long as the commits are in the store."""

    tips: frozenset[str]
    reaching: dict[str, frozenset[str]]


def tips_reaching(repo: Path, commits: list[str], extra_tips: Iterable[tuple[str, str]] = (),
                  earlier: Reach | None = None, fresh: frozenset[str] = frozenset()
                  ) -> tuple[dict[str, set[str]], Reach]:
    """For each of ``commits``, the names of the tips whose history holds it: every ref (a tag
    peeled to its commit) and the ``extra_tips``, (name, commit id) pairs (HEAD, the stash's
    older entries); and what the walk learnt, for the next audit. One walk of the history,
    oldest first, carrying for every commit which of ``commits`` it reaches as one bit each:
    the same work for any number of commits, where ``git for-each-ref --contains`` walks once
    per commit (seconds each with many refs). With an ``earlier`` walk's ``Reach``, only the
    commits between the new tips and the earlier ones are read, when that is enough (see
    ``_walk_since``; ``fresh``: commits known to be new to the earlier tips)."""
    bits = {commit: 1 << index for index, commit in enumerate(commits)}
    listing = git(repo, "for-each-ref",
                  "--format=%(objectname) %(objecttype) %(*objectname) %(*objecttype) %(refname)")
    tips: list[tuple[str, str]] = []
    tagged: list[tuple[str, str]] = []  # tags of tags: for-each-ref peels one level only
    for line in listing.decode("utf-8", "surrogateescape").splitlines():
        oid, kind, peeled, peeled_kind, name = line.split(" ", 4)
        if kind == "commit" or peeled_kind == "commit":
            tips.append((name, oid if kind == "commit" else peeled))
        elif peeled_kind == "tag":
            tagged.append((name, peeled))
    tips += _peeled_commits(repo, tagged)
    tips += extra_tips
    starts = sorted({oid for _, oid in tips})
    if earlier is not None and all(c in earlier.reaching or c in fresh for c in commits):
        reach = _walk_since(repo, bits, starts, earlier)
    else:  # an old commit asked about for the first time: which earlier tips reach it?
        reach = _walk(repo, bits, starts)
    found: dict[str, set[str]] = {commit: set() for commit in commits}
    reaching: dict[str, set[str]] = {commit: set() for commit in commits}
    for name, oid in tips:
        held = reach.get(oid, 0)
        while held:  # each set bit: as many steps as commits the tip reaches
            low = held & -held
            commit = commits[low.bit_length() - 1]
            found[commit].add(name)
            reaching[commit].add(oid)
            held ^= low
    return found, Reach(frozenset(starts), {c: frozenset(t) for c, t in reaching.items()})


def _peeled_commits(repo: Path, tags: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Those of ``tags``, (name, tag object id) pairs, that end at a commit, with its id."""
    return [(name, oid) for name, oid, kind in _peeled(repo, tags) if kind == "commit"]


def _peeled(repo: Path, tags: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    """Each of ``tags``, (name, tag object id) pairs, with the id and type of the object it
    ends at (through tags of tags)."""
    if not tags:
        return []
    out = git(repo, "cat-file", "--batch-check=%(objectname) %(objecttype)",
              input="".join(f"{oid}^{{}}\n" for _, oid in tags).encode("ascii"))
    peeled = []
    for (name, _), line in zip(tags, out.decode("ascii").splitlines(), strict=True):
        oid, _, kind = line.partition(" ")
        peeled.append((name, oid, kind))
    return peeled


def refs_naming(repo: Path, objects: set[str]) -> dict[str, set[str]]:
    """For each of ``objects`` (trees, blobs) the refs that name it itself: a ref to it, or
    a tag that ends at it. What reaches a commit is ``tips_reaching``'s answer."""
    listing = git(repo, "for-each-ref", "--format=%(objectname) %(objecttype) %(refname)")
    naming: dict[str, set[str]] = {}
    tags: list[tuple[str, str]] = []
    for line in listing.decode("utf-8", "surrogateescape").splitlines():
        oid, kind, name = line.split(" ", 2)
        if oid in objects:
            naming.setdefault(oid, set()).add(name)
        elif kind == "tag":
            tags.append((name, oid))
    for name, oid, _ in _peeled(repo, tags):
        if oid in objects:
            naming.setdefault(oid, set()).add(name)
    return naming


def _walk(repo: Path, bits: dict[str, int], starts: list[str]) -> dict[str, int]:
    """Every commit ``starts`` reach that reaches one of ``bits``' commits, with their bits."""
    reach: dict[str, int] = {}
    with lines_file(starts) as ids:
        walk = GitProcess(repo, "rev-list", "--reverse", "--topo-order", "--parents", "--stdin",
                          stdin=ids)
    assert walk.stdout is not None
    try:
        for entry in walk.stdout:  # oldest first: a commit's parents came before it
            commit, *parents = entry.decode("ascii").split()
            held = bits.get(commit, 0)
            for parent in parents:
                held |= reach.get(parent, 0)
            if held:
                reach[commit] = held
        walk.finish()
    finally:
        walk.kill()
    return reach


def _walk_since(repo: Path, bits: dict[str, int], starts: list[str],
                earlier: Reach) -> dict[str, int]:
    """``_walk``'s answer for ``starts``, walking from the starts that are no ``earlier`` tip
    only until every path down meets an earlier tip, when each of ``bits``' commits was asked
    about before or is new to the earlier tips (the caller knows).

    Why it holds: a commit's history is itself and its parents' histories, so its bits are its
    own and its parents'. git lists the commits the new starts reach, newest first, and the
    reading stops once every parent of every commit read was read or is an earlier tip: the
    commits read then hold every path from a new start down to an earlier tip (or, if no path
    meets one, to the roots: all of them), and an earlier tip's bits are known
    (``earlier.reaching`` says which tips reach each commit asked about before, and none
    reaches a commit new to them)."""
    known = dict.fromkeys(earlier.tips, 0)
    for commit, bit in bits.items():
        for tip in earlier.reaching.get(commit, ()):
            if tip in known:
                known[tip] |= bit
    new = [tip for tip in starts if tip not in known]
    parents_of: dict[str, list[str]] = {}
    wanted = set(new)  # commits some path down still has to read
    if wanted:
        with lines_file(new) as ids:
            walk = GitProcess(repo, "rev-list", "--parents", "--stdin", stdin=ids)
        assert walk.stdout is not None
        try:
            for entry in walk.stdout:
                commit, *parents = entry.decode("ascii").split()
                if commit in known:
                    continue  # an earlier tip, on another path: its bits are known
                parents_of[commit] = parents
                wanted.discard(commit)
                wanted.update(parent for parent in parents
                              if parent not in parents_of and parent not in known)
                if not wanted:
                    break  # git's listing runs on, into what earlier tips reach: not needed
            else:
                walk.finish()
        finally:
            walk.kill()
    reach = known
    for start in new:  # each commit's bits after its parents', depth first without recursion
        stack = [start]
        while stack:
            commit = stack[-1]
            if commit in reach:
                stack.pop()
                continue
            later = [parent for parent in parents_of[commit]
                     if parent in parents_of and parent not in reach]
            if later:
                stack += later
                continue
            stack.pop()
            held = bits.get(commit, 0)
            for parent in parents_of[commit]:
                held |= reach.get(parent, 0)
            reach[commit] = held
    return reach


def tree_blobs(repo: Path, commit: str) -> dict[str, str]:
    """The blobs of ``commit``'s tree (and its submodules' commits, whose names are scanned
    too), by path (shown as reports show paths)."""
    out = git(repo, "ls-tree", "-r", "-z", "--full-tree", commit)
    blobs: dict[str, str] = {}
    for entry in out.split(b"\0"):
        if entry:
            meta, _, path = entry.partition(b"\t")
            oid = meta.decode("ascii").split()[2]
            blobs[display_path(path)] = oid  # -r without -t: no tree is listed
    return blobs


def resolve_commit(repo: Path, rev: str, option: str) -> str:
    if not rev or rev.startswith("-"):
        raise GitError(f"{option}: {rev!r} is not a revision")
    try:
        return git(repo, "rev-parse", "--verify", "--end-of-options",
                   f"{rev}^{{commit}}").decode("ascii").strip()
    except GitError:
        raise GitError(f"{option}: {rev!r} does not name a commit in this repository") from None


@dataclass
class ObjectLists:
    """Every blob, commit and tag id in the store, in pack order (the cheapest order to read),
    split into contiguous parts, one temporary file per git process that will read them."""

    files: list[IO[bytes]]
    count: int
    commits: list[str]
    # The objects left out of the list because another audit screened them clean
    # (``list_objects``' ``skip``): how many, and the blobs among them, with their bytes.
    skipped: int = 0
    skipped_blobs: int = 0
    skipped_blob_bytes: int = 0

    def close(self) -> None:
        for handle in self.files:
            handle.close()


def list_objects(repo: Path, parts: int, *, keep_commits: bool = False,
                 skip: set[bytes] | None = None) -> ObjectLists:
    """List the store's objects (trees too: the names in them are scanned) and split the list
    into up to ``parts`` contiguous parts, so that each git process inflates its own stretch of
    the pack and its delta bases stay in its own cache. The ids in ``skip`` are left out, and
    counted (git lists their sizes then)."""
    sizes = " %(objectsize)" if skip else ""
    listing = GitProcess(repo, "cat-file", "--batch-all-objects",
                         f"--batch-check=%(objectname) %(objecttype){sizes}", "--unordered")
    assert listing.stdout is not None
    whole = tempfile.TemporaryFile()  # noqa: SIM115 (owned by the ObjectLists returned)
    count, width, rest = 0, 0, b""
    commits: list[str] = []
    skipped = [0, 0, 0]  # objects, blobs, blob bytes
    try:
        for block in iter(lambda: listing.stdout.read(1 << 20), b""):  # type: ignore[union-attr]
            block = rest + block
            cut = block.rfind(b"\n") + 1
            block, rest = block[:cut], block[cut:]
            lines = block.split(b"\n")
            lines.pop()  # after the last newline: nothing
            if lines and not width:
                width = lines[0].index(b" ")  # 40 hex digits, or 64 in a SHA-256 repository
            kept = ([line[:width] for line in lines] if not skip
                    else _unskipped(lines, width, skip, skipped))
            if kept:
                whole.write(b"\n".join(kept) + b"\n")
                count += len(kept)
            if keep_commits:
                commits += [line[:width].decode("ascii") for line in lines
                            if line[width + 1:width + 7] == b"commit"]
        listing.finish()
    except BaseException:
        listing.kill()
        whole.close()
        raise
    return ObjectLists(split_lists(whole, count, width + 1, parts), count, commits, *skipped)


def _unskipped(lines: list[bytes], width: int, skip: set[bytes], skipped: list[int]
               ) -> list[bytes]:
    """The ids of ``lines`` (``<id> <type> <size>``) not in ``skip``; those in it counted in
    ``skipped`` (objects, blobs, blob bytes)."""
    kept = []
    for line in lines:
        oid = line[:width]
        if oid not in skip:
            kept.append(oid)
            continue
        skipped[0] += 1
        if line[width + 1:width + 5] == b"blob":
            skipped[1] += 1
            skipped[2] += int(line[width + 6:])
    return kept


def split_lists(whole: IO[bytes], count: int, line_size: int, parts: int) -> list[IO[bytes]]:
    """``whole``, a file of ``count`` object ids of ``line_size`` bytes a line, cut into at most
    ``parts`` files of consecutive lines (``whole`` keeps the first), one for each git process
    that reads objects."""
    parts = max(1, min(parts, count // MIN_OBJECTS_PER_PART))
    per_part = -(-count // parts)
    files = [whole]
    for part in range(1, parts):
        whole.seek(part * per_part * line_size)
        piece = tempfile.TemporaryFile()  # noqa: SIM115 (owned by the ObjectLists returned)
        piece.write(whole.read(per_part * line_size))
        piece.seek(0)
        files.append(piece)
    whole.truncate(min(count, per_part) * line_size)
    whole.seek(0)
    return files


def stream_objects(repo: Path, oids: IO[bytes]) -> GitProcess:
    """The objects listed one per line in the file ``oids``, in that order."""
    return GitProcess(repo, "cat-file", "--batch", stdin=oids)


class ReachableObjects:
    """What the refs reach, listed by ``git rev-list --objects`` into a temporary file while
    the object stream runs; read back only for the ids that matched, and to find objects that
    refs reach but the store lacks (a damaged or partial clone)."""

    def __init__(self, repo: Path, revs: list[str], extra_tips: list[str]) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed by close())
        with lines_file(extra_tips) as tips:
            self._git = GitProcess(repo, "rev-list", "--objects", "--missing=print",
                                   "--no-object-names", *revs, "--stdin", stdin=tips,
                                   stdout=self._file)

    def finish(self) -> list[str]:
        """Wait for git; return the ids of missing objects."""
        self._git.finish()
        self._file.seek(0)
        if not any(b"?" in block for block in iter(lambda: self._file.read(1 << 20), b"")):
            return []  # the common case, found at memory speed
        return [line[1:].decode("ascii", "replace") for line in self._lines()
                if line.startswith(b"?")]

    def subset(self, oids: set[str]) -> set[str]:
        wanted = {oid.encode("ascii") for oid in oids}
        return {line.decode("ascii") for line in self._lines() if line in wanted}

    def _lines(self) -> Iterator[bytes]:
        self._file.seek(0)
        for line in self._file:
            yield line.rstrip(b"\n")

    def close(self) -> None:
        self._git.kill()
        self._file.close()


# The paths a commit adds (new to one of its parents at least), for the names along them, and
# the paths it removes: a rename's old path, whose names the new one keeps (renames are not
# detected: any name the commit removes counts as kept, as cheap as it is close).
AddedPaths = tuple[Commit, list[bytes], list[bytes]]


def range_objects(repo: Path, revs: list[str],
                  parts: int) -> tuple[ObjectLists, set[str], list[AddedPaths]]:
    """The commits of ``revs`` and every blob their changes add (each once), split like
    ``list_objects``; the set of those blobs; and each commit's added and removed paths."""
    whole = tempfile.TemporaryFile()  # noqa: SIM115 (owned by the ObjectLists returned)
    count, width = 0, 0
    blobs: set[str] = set()
    added: list[AddedPaths] = []
    process = GitProcess(repo, "log", *_diff_options(), _LOG_FORMAT, *revs, "--")
    assert process.stdout is not None
    try:
        tokens = _tokens(process.stdout)
        for token in tokens:
            if token.startswith(b"\x01"):
                commit = _parse_commit_header(token[1:])
                if not added or added[-1][0].oid != commit.oid:  # -m: once per parent
                    added.append((commit, [], []))
                oid = commit.oid.encode("ascii")
            elif token.startswith(b":"):
                # With --no-renames, one path follows (taken by place: it may start with ":").
                path = next(tokens)
                status = token.rstrip()[-2:]
                if status == b" A":
                    added[-1][1].append(path)
                elif status == b" D":
                    added[-1][2].append(path)
                new = _meta_new_blob(token)
                if not new or new in blobs:
                    continue
                blobs.add(new)
                oid = new.encode("ascii")
            else:
                continue
            whole.write(oid + b"\n")
            count += 1
            width = len(oid)
        process.finish()
    except BaseException:
        whole.close()
        raise
    finally:
        process.kill()
    return ObjectLists(split_lists(whole, count, width + 1, parts), count, []), blobs, added


def changes(repo: Path, revs: list[str], blobs: set[str], *,
            stdin_revs: Iterable[str] = (), no_walk: bool = False,
            topo_order: bool = False, trees: bool = False) -> list[CommitChange]:
    """Every change, in the commits ``revs`` (and ``stdin_revs``) reach, that sets a file to
    one of ``blobs`` or changes a file that was one of them (with ``trees``, ``blobs`` are
    trees, and a directory's changes are listed too). Merges are diffed against each parent,
    so a merge's own additions are seen; renames are not followed, so a renamed file counts as
    added at its new path."""
    if not blobs:
        return []
    options = [*_diff_options(), _LOG_FORMAT, *revs]
    if trees:  # --find-object shows them, but is left out for many objects (below)
        options.append("-t")
    if no_walk:
        options.append("--no-walk=unsorted")
    if topo_order:  # each commit after its descendants, whatever the times
        options.append("--topo-order")
    if len(blobs) <= MAX_FIND_OBJECT_ARGS:
        options += [f"--find-object={oid}" for oid in sorted(blobs)]
    with lines_file(stdin_revs) as tips:
        process = GitProcess(repo, "log", *options, "--stdin", "--", stdin=tips)
    assert process.stdout is not None
    found: list[CommitChange] = []
    commit: Commit | None = None
    sequence = 0
    try:
        tokens = _tokens(process.stdout)
        for token in tokens:
            if token.startswith(b"\x01"):
                commit = _parse_commit_header(token[1:])
                sequence += 1
            elif token.startswith(b":"):
                path = next(tokens, b"")
                new = _meta_new_blob(token)
                old: str | None = token[1:].split(b" ")[2].decode("ascii")
                old = old if old and old.strip("0") else None
                if commit is None or (new not in blobs and old not in blobs):
                    continue
                found.append(CommitChange(commit, sequence, display_path(path), old, new))
        process.finish()
    finally:
        process.kill()
    return found


def lines_file(lines: Iterable[str]) -> IO[bytes]:
    """A temporary file holding ``lines``, ready to be a child's standard input."""
    handle = tempfile.TemporaryFile()  # noqa: SIM115 (the caller closes it)
    handle.write("".join(f"{line}\n" for line in lines).encode("ascii"))
    handle.seek(0)
    return handle


def _diff_options() -> list[str]:
    # --no-relative: the repository's diff.relative would hide what is outside the directory
    # hvscan runs git in.
    return ["-m", "--raw", "-z", "--no-renames", "--no-abbrev", "--no-relative", "--root",
            "--no-color"]


def _meta_new_blob(meta: bytes) -> str | None:
    """The blob a raw diff line sets the file to: None for deletions and submodule entries."""
    fields = meta[1:].split(b" ")
    if len(fields) < 5 or fields[1] == _GITLINK_MODE or fields[4].startswith(b"D"):
        return None
    new = fields[3]
    return new.decode("ascii") if new.strip(b"0") else None


def _parse_commit_header(header: bytes) -> Commit:
    ids, time, date, author = header.split(b"\x02", 3)
    oid, *parents = ids.decode("ascii").split()
    return Commit(oid, tuple(parents), int(time), date.decode("ascii"),
                  author.decode("utf-8", "replace").strip())


def _tokens(stream: IO[bytes]) -> Iterator[bytes]:
    """NUL-separated tokens of ``stream`` (``-z`` output), leading newlines stripped."""
    rest = b""
    while True:
        block = stream.read(1 << 20)
        if not block:
            break
        parts = (rest + block).split(b"\0")
        rest = parts.pop()
        for part in parts:
            yield part.lstrip(b"\n")
    if rest.strip(b"\n"):
        yield rest.lstrip(b"\n")


@dataclass(frozen=True)
class Message:
    """The message of a commit or annotated tag, with who wrote it and when."""

    text: bytes
    author: str | None
    date: str | None
    target: str | None  # a tag's object
    tag: str | None  # a tag's name


def tree_names(data: bytes, id_size: int) -> list[tuple[bytes, bool]]:
    """The entries of a raw tree object (``<mode> <name>\\0<id>`` each, the id ``id_size``
    bytes): each name, and whether it names a tree (a directory)."""
    # One regular expression pass (an id is any bytes: taken by its size): a directory with
    # many versions is parsed once per version, and a loop of index calls took twice as long.
    pattern = _TREE_ENTRY.get(id_size) or _TREE_ENTRY.setdefault(
        id_size, re.compile(rb"([0-7]+) ([^\0]*)\0.{%d}" % id_size, re.DOTALL))
    return [(name, mode == b"40000") for mode, name in pattern.findall(data)]


_TREE_ENTRY: dict[int, re.Pattern[bytes]] = {}


def root_trees(repo: Path, revs: list[str], trees: set[str], stdin_revs: Iterable[str] = (),
               *, no_walk: bool = False) -> list[tuple[Commit, str]]:
    """The commits of ``revs`` (and ``stdin_revs``; with ``no_walk`` those alone, not their
    ancestors) whose root tree is one of ``trees``, each after its descendants (among commits
    of one time, a later one is older)."""
    walk = ["--no-walk=unsorted"] if no_walk else ["--topo-order"]
    out = git(repo, "log", *walk, f"{_LOG_FORMAT}%x02%T", *revs, "--stdin", "--",
              input="".join(f"{rev}\n" for rev in stdin_revs).encode("ascii"))
    found = []
    for line in out.split(b"\n"):
        if line.startswith(b"\x01"):
            header, _, tree = line[1:].rpartition(b"\x02")
            if tree.decode("ascii") in trees:
                found.append((_parse_commit_header(header), tree.decode("ascii")))
    return found


def parse_message(kind: str, data: bytes) -> Message:
    head, _, text = data.partition(b"\n\n")
    fields: dict[bytes, bytes] = {}
    for line in head.split(b"\n"):
        name, _, value = line.partition(b" ")
        fields.setdefault(name, value)
    who, date = signature(fields.get(b"tagger" if kind == "tag" else b"author", b""))
    target = fields.get(b"object")
    tag = fields.get(b"tag")
    return Message(text, who, date, target.decode("ascii", "replace") if target else None,
                   tag.decode("utf-8", "replace") if tag else None)


def signature(value: bytes) -> tuple[str | None, str | None]:
    """``Name <email> 1700000000 +0100`` -> ("Name <email>", "2023-11-14T23:13:20+01:00")."""
    if not value:
        return None, None
    who, _, when = value.rpartition(b">")
    parts = when.split()
    name = (who + b">").decode("utf-8", "replace").strip()
    if len(parts) != 2 or not parts[0].isdigit():
        return name, None
    offset = parts[1].decode("ascii", "replace")
    try:
        sign = -1 if offset.startswith("-") else 1
        minutes = sign * (int(offset[1:3]) * 60 + int(offset[3:5]))
        zone = datetime.timezone(datetime.timedelta(minutes=minutes))
        moment = datetime.datetime.fromtimestamp(int(parts[0]), zone)
    except (ValueError, OverflowError, OSError):
        return name, None
    return name, moment.isoformat()

