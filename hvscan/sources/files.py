"""The file-system source: walk paths and yield file contents (``hvscan dir``, the hook).

Paths are handled as bytes end to end. Every real file and directory is read once per run, so
link loops end and linked duplicates are not reported twice. ``.git`` directories are skipped
(history is the git source's job). Files are read by ``readahead``, which screens and reads big
ones in threads while earlier ones are scanned. The names of what is walked (each directory's
entries, links and special files included, and the parts of a root's reported path) are scanned
too (``Names``): a directory's names in one event, each name once.

What the scanned tree may make hvscan read is bounded (docs/security.md, "Files"):
- The scanned roots are the directories named (their real paths; default: the current
  directory) and, when files are named, the current directory. A symbolic link, met in the walk
  or named itself (the hook passes the changed files' names, links included), is followed only
  when its target is inside a root, unless ``follow_symlinks``; otherwise it is skipped with a
  note. Any other named path is read wherever it is (links in the directories leading to it
  included, such as /tmp on macOS): the user named it.
- Nothing under /proc, /sys or /dev is read, even named or with ``follow_symlinks``: such files
  can block forever or hand over the scanning process's own secrets (its environment).
- Only regular files are opened (``readahead`` opens them without blocking and checks again).
"""

from __future__ import annotations

import os
import stat

from hvscan.model import Origin
from hvscan.sources import Blob, Events, Excluded, Failed, Names, Screen, Skipped, display_path
from hvscan.sources.readahead import Planned, Unread, read_ahead

# --max-file-size when none is given, as the option is written.
DEFAULT_MAX_FILE_SIZE = "100MB"


# Never read, whatever the links say: the kernel's and the devices' pseudo-files.
SYSTEM_DIRS = (b"/proc", b"/sys", b"/dev")
# The target is not shown: the scanned tree chose it, and it could even hold a key.
LINK_OUTSIDE = ("symbolic link leading outside the scanned directories: not followed "
                "(--follow-symlinks follows it)")


def walk(roots: list[bytes], max_file_size: int, excluded: Excluded | None = None,
         screen: Screen | None = None, *, follow_symlinks: bool = False) -> Events:
    """Walk ``roots``; paths that ``excluded`` matches are neither read nor reported, and an
    excluded directory is not entered. Big files pass ``screen`` first (see ``readahead``)."""
    return read_ahead(_walk(roots, max_file_size, excluded, follow_symlinks), screen)


def _walk(roots: list[bytes], max_file_size: int, excluded: Excluded | None,
          follow_symlinks: bool) -> Planned:
    walker = _Walker(max_file_size, excluded, roots, follow_symlinks)
    for root in roots:
        yield from walker.root(root)


def shown_root(root: bytes, *, is_dir: bool, alone: bool) -> bytes:
    """How a root is reported: the start of the paths under it, b"" for none. A relative root
    is shown as given (normalised). An absolute root scanned alone is what its paths are
    relative to (a file shows its name). Among several roots, an absolute one is shown relative
    to the current directory when it lies below it, else whole, so that two different files
    never share a reported path (``/a/x/config.py`` and ``/b/y/config.py``)."""
    if os.path.isabs(root):
        if alone:
            return b"" if is_dir else os.path.basename(root)
        root = os.path.normpath(root)
        cwd = os.getcwdb()
        if _inside(root, [cwd]):
            root = os.path.relpath(root, cwd)
        else:
            return _posix(root)
    return b"" if os.path.normpath(root) == b"." else _posix(root)


def _scanned_roots(paths: list[bytes], here: bytes) -> list[bytes]:
    """The real paths of the named directories, inside which the walk follows links; one that
    is itself a link counts when it leads inside ``here`` (the current directory's real path)."""
    roots = []
    for path in paths:
        if os.path.isdir(path):
            real = os.path.realpath(path)
            if not _is_link(path) or _inside(real, [here]):
                roots.append(real)
    return roots


def _is_link(path: bytes) -> bool:
    """Whether the named ``path`` is itself a symbolic link (``dir/`` names the link too)."""
    return os.path.islink(os.path.normpath(path))


def _system_dir(real: bytes) -> bytes | None:
    """The one of /proc, /sys and /dev that the real path ``real`` is in, if any."""
    return next((top for top in SYSTEM_DIRS if _inside(real, [top])), None)


def _inside(real: bytes, roots: list[bytes]) -> bool:
    return any(real == root or real.startswith(root.rstrip(b"/") + b"/") for root in roots)


class _Walker:
    def __init__(self, max_file_size: int, excluded: Excluded | None, paths: list[bytes],
                 follow_symlinks: bool) -> None:
        self.max_file_size = max_file_size
        self.excluded = excluded
        here = os.path.realpath(b".")
        self.roots = _scanned_roots(paths, here)
        # A named link may also lead into the current directory.
        self.named_roots = [*self.roots, here]
        self.follow_symlinks = follow_symlinks
        # Whether this is the only root: how absolute roots are shown (see shown_root).
        self.alone = len(paths) == 1
        # (device, inode) of every real file and directory met, so each is read once.
        self.seen: set[tuple[int, int]] = set()
        # The paths whose names were scanned: the parts of the roots' reported paths (``a``,
        # ``a/b``) and, with several roots, the entries the walk lists (``_listed_names``).
        self.named: set[bytes] = set()

    def root(self, root: bytes) -> Planned:
        real = os.path.realpath(root)
        refused = self._refused(real, os.path.normpath(root), linked=_is_link(root),
                                roots=self.named_roots)
        if refused is not None:
            yield refused
            return
        try:
            info = os.stat(root)
        except OSError as exc:
            yield Failed(display_path(root), _reason(exc))
            return
        is_dir = stat.S_ISDIR(info.st_mode)
        shown = shown_root(root, is_dir=is_dir, alone=self.alone)
        names = self._root_names(shown, is_dir)
        if names.names:
            yield names
        if is_dir:
            if not (shown and self._excluded(shown, is_dir=True)):
                yield from self._dir(root, shown, real, info)
        else:
            planned = None if self._excluded(shown, is_dir=False) else self._file(root, shown, info)
            if planned is not None:
                yield planned

    def _listed_names(self, listing: list[os.DirEntry[bytes]], parent: bytes) -> Names:
        """The names of a directory's entries (not ``.git``, which is not walked); excluded ones
        too, whose findings the pipeline drops (one call of the excludes per entry is enough).
        With several roots, a name another root's path already named (``hvscan dir .
        sub/dir``) is not named again, and the entries' paths are kept for the roots to come:
        a directory is listed once, but a root's path may pass through it."""
        entries = [entry for entry in listing if entry.name != b".git"]
        paths = [parent + b"/" + entry.name if parent else entry.name for entry in entries]
        if not self.alone:
            fresh = [index for index, path in enumerate(paths) if path not in self.named]
            self.named.update(paths)
            entries, paths = [entries[i] for i in fresh], [paths[i] for i in fresh]
        return Names([entry.name for entry in entries],
                     lambda index: _name_blob(paths[index], is_dir=entries[index].is_dir()))

    def _root_names(self, shown: bytes, is_dir: bool) -> Names:
        """The names along a root's reported path (``src/app`` names ``src/`` and ``src/app``),
        each once whatever the roots: the pre-commit hook names files, whose directories' names
        are committed as well."""
        parts = shown.split(b"/") if shown else []
        prefixes = [b"/".join(parts[:depth]) for depth in range(1, len(parts) + 1)]
        fresh = [(prefix, depth == len(parts) and not is_dir)
                 for depth, prefix in enumerate(prefixes, 1)
                 if prefix not in self.named and parts[depth - 1] not in (b"", b".", b"..")]
        self.named.update(prefix for prefix, _ in fresh)
        return Names([prefix.rpartition(b"/")[2] for prefix, _ in fresh],
                     lambda index: _name_blob(fresh[index][0], is_dir=not fresh[index][1]))

    def _refused(self, real: bytes, shown: bytes, *, linked: bool,
                 roots: list[bytes]) -> Skipped | None:
        """Why the path at ``real`` (reached through a link when ``linked``) is not read."""
        top = _system_dir(real)
        if top is not None:
            return Skipped(display_path(shown), f"in {display_path(top)}, which hvscan never "
                                                "reads (/proc, /sys and /dev)")
        if linked and not self.follow_symlinks and not _inside(real, roots):
            return Skipped(display_path(shown), LINK_OUTSIDE)
        return None

    def _excluded(self, shown: bytes, *, is_dir: bool) -> bool:
        if self.excluded is None:
            return False
        return self.excluded(display_path(shown) + "/" * is_dir)

    def _dir(self, path: bytes, shown: bytes, real: bytes, info: os.stat_result) -> Planned:
        """Depth first, each directory's entries in name order (a subdirectory's files come
        where its name sorts). The directories being listed are kept on a stack, not in one
        generator per level, so a file deep in the tree is not handed up through every level.
        Each carries its real path, which tells where a link-free entry really is."""
        if self._seen_before(info):
            return
        listing = self._list(path, shown)
        if isinstance(listing, Failed):
            yield listing
            return
        if (names := self._listed_names(listing, shown)).names:
            yield names
        stack = [(iter(listing), shown, real)]
        while stack:
            entries, parent, parent_real = stack[-1]
            entry = next(entries, None)
            if entry is None:
                stack.pop()
                continue
            if entry.name == b".git":
                continue
            # Joined with "/" whatever the platform: reported paths and fingerprints are POSIX.
            child_shown = parent + b"/" + entry.name if parent else entry.name
            if self.excluded is not None and self._excluded(child_shown, is_dir=entry.is_dir()):
                continue
            linked = entry.is_symlink()
            child_real = (os.path.realpath(entry.path) if linked
                          else os.path.join(parent_real, entry.name))
            refused = self._refused(child_real, child_shown, linked=linked, roots=self.roots)
            if refused is not None:
                yield refused
                continue
            try:
                child = os.stat(entry.path)
            except FileNotFoundError:
                yield Skipped(display_path(child_shown), "broken symbolic link",
                              informational=True)
                continue
            except OSError as exc:
                yield Failed(display_path(child_shown), _reason(exc))
                continue
            if not stat.S_ISDIR(child.st_mode):
                planned = self._file(entry.path, child_shown, child)
                if planned is not None:
                    yield planned
            elif not self._seen_before(child):
                listing = self._list(entry.path, child_shown)
                if isinstance(listing, Failed):
                    yield listing
                else:
                    if (names := self._listed_names(listing, child_shown)).names:
                        yield names
                    stack.append((iter(listing), child_shown, child_real))

    def _seen_before(self, info: os.stat_result) -> bool:
        key = (info.st_dev, info.st_ino)
        if key in self.seen:
            return True
        self.seen.add(key)
        return False

    @staticmethod
    def _list(real: bytes, shown: bytes) -> list[os.DirEntry[bytes]] | Failed:
        try:
            with os.scandir(real) as it:
                return sorted(it, key=lambda e: e.name)
        except OSError as exc:
            return Failed(display_path(shown or b"."), f"cannot list directory: {_reason(exc)}")

    def _file(self, real: bytes, shown: bytes, info: os.stat_result) -> Unread | Skipped | None:
        path = display_path(shown)
        if not stat.S_ISREG(info.st_mode):
            return Skipped(path, f"not a regular file ({_kind(info.st_mode)})")
        if self._seen_before(info):
            return None
        if info.st_size > self.max_file_size:
            return Skipped(path, f"larger than --max-file-size ({info.st_size} > "
                           f"{self.max_file_size} bytes)")
        return Unread(real, Origin("file", path), info.st_size)


def _name_blob(shown: bytes, *, is_dir: bool) -> Blob:
    """The name at the reported path ``shown``, as the pipeline scans it: a directory's path
    ends with ``/`` (as the excludes see it)."""
    return Blob(shown.rpartition(b"/")[2],
                Origin("file", display_path(shown) + "/" * is_dir, in_name=True), file=False)


def _posix(path: bytes) -> bytes:
    """A relative path as reported: normalised (no ``./``), with ``/`` separators."""
    return os.path.normpath(path).replace(os.sep.encode(), b"/")


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "FIFO"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special file"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
