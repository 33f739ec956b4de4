"""The file-system source: walk paths and yield file contents (``hvscan dir``, the hook).

Paths are handled as bytes end to end. Symbolic links are followed, but every real file and
directory is read once per run, so link loops end and linked duplicates are not reported
twice. ``.git`` directories are skipped (history is the git source's job). Files are read by
``readahead``, which screens and reads big ones in threads while earlier ones are scanned.
"""

from __future__ import annotations

import os
import stat

from hvscan.sources import Events, Excluded, Failed, Origin, Screen, Skipped, display_path
from hvscan.sources.readahead import Planned, Unread, read_ahead


def walk(roots: list[bytes], max_file_size: int, excluded: Excluded | None = None,
         screen: Screen | None = None) -> Events:
    """Walk ``roots``; paths that ``excluded`` matches are neither read nor reported, and an
    excluded directory is not entered. Big files pass ``screen`` first (see ``readahead``)."""
    return read_ahead(_walk(roots, max_file_size, excluded), screen)


def _walk(roots: list[bytes], max_file_size: int, excluded: Excluded | None) -> Planned:
    walker = _Walker(max_file_size, excluded)
    for root in roots:
        yield from walker.root(root)


class _Walker:
    def __init__(self, max_file_size: int, excluded: Excluded | None) -> None:
        self.max_file_size = max_file_size
        self.excluded = excluded
        # (device, inode) of every real file and directory met, so each is read once.
        self.seen: set[tuple[int, int]] = set()

    def root(self, root: bytes) -> Planned:
        try:
            info = os.stat(root)
        except OSError as exc:
            yield Failed(display_path(root), _reason(exc))
            return
        if stat.S_ISDIR(info.st_mode):
            base = b"" if os.path.normpath(root) == b"." or os.path.isabs(root) else _posix(root)
            if not (base and self._excluded(base, is_dir=True)):
                yield from self._dir(root, base, info)
        else:
            shown = os.path.basename(root) if os.path.isabs(root) else _posix(root)
            if not self._excluded(shown, is_dir=False):
                yield from self._file(root, shown, info)

    def _excluded(self, shown: bytes, *, is_dir: bool) -> bool:
        if self.excluded is None:
            return False
        return self.excluded(display_path(shown) + "/" * is_dir)

    def _dir(self, real: bytes, shown: bytes, info: os.stat_result) -> Planned:
        key = (info.st_dev, info.st_ino)
        if key in self.seen:
            return
        self.seen.add(key)
        try:
            with os.scandir(real) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            yield Failed(display_path(shown or b"."), f"cannot list directory: {_reason(exc)}")
            return
        for entry in entries:
            if entry.name == b".git":
                continue
            # Joined with "/" whatever the platform: reported paths and fingerprints are POSIX.
            child_shown = shown + b"/" + entry.name if shown else entry.name
            if self._excluded(child_shown, is_dir=entry.is_dir()):
                continue
            try:
                child = os.stat(entry.path)
            except FileNotFoundError:
                yield Skipped(display_path(child_shown), "broken symbolic link")
                continue
            except OSError as exc:
                yield Failed(display_path(child_shown), _reason(exc))
                continue
            if stat.S_ISDIR(child.st_mode):
                yield from self._dir(entry.path, child_shown, child)
            else:
                yield from self._file(entry.path, child_shown, child)

    def _file(self, real: bytes, shown: bytes, info: os.stat_result) -> Planned:
        path = display_path(shown)
        if not stat.S_ISREG(info.st_mode):
            yield Skipped(path, f"not a regular file ({_kind(info.st_mode)})")
            return
        key = (info.st_dev, info.st_ino)
        if key in self.seen:
            return
        self.seen.add(key)
        if info.st_size > self.max_file_size:
            yield Skipped(path, f"larger than --max-file-size ({info.st_size} > "
                          f"{self.max_file_size} bytes)")
            return
        yield Unread(real, Origin(source="file", path=path), info.st_size)


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
