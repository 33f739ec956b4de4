"""The file-system source: walk paths and yield file contents (``hvscan dir``, the hook).

Paths are handled as bytes end to end. Symbolic links are followed, but every real file and
directory is read once per run, so link loops end and linked duplicates are not reported
twice. ``.git`` directories are skipped (history is the git source's job). Files are read by
``readahead``, which screens and reads big ones in threads while earlier ones are scanned.
"""

from __future__ import annotations

import os
import stat

from hvscan.sources import Events, Failed, Origin, Screen, Skipped, display_path
from hvscan.sources.readahead import Planned, Unread, read_ahead


def walk(roots: list[bytes], max_file_size: int, screen: Screen | None = None) -> Events:
    """The files under ``roots``; big ones pass ``screen`` first (see ``readahead``)."""
    return read_ahead(_walk(roots, max_file_size), screen)


def _walk(roots: list[bytes], max_file_size: int) -> Planned:
    seen: set[tuple[int, int]] = set()
    for root in roots:
        yield from _walk_root(root, max_file_size, seen)


def _walk_root(root: bytes, max_file_size: int, seen: set[tuple[int, int]]) -> Planned:
    try:
        info = os.stat(root)
    except OSError as exc:
        yield Failed(display_path(root), _reason(exc))
        return
    if stat.S_ISDIR(info.st_mode):
        base = b"" if os.path.normpath(root) == b"." or os.path.isabs(root) else root
        yield from _walk_dir(root, base, max_file_size, seen, info)
    else:
        shown = os.path.basename(root) if os.path.isabs(root) else os.path.normpath(root)
        yield from _file_events(root, shown, info, max_file_size, seen)


def _walk_dir(
    real: bytes,
    shown: bytes,
    max_file_size: int,
    seen: set[tuple[int, int]],
    info: os.stat_result,
) -> Planned:
    key = (info.st_dev, info.st_ino)
    if key in seen:
        return
    seen.add(key)
    try:
        with os.scandir(real) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        yield Failed(display_path(shown or b"."), f"cannot list directory: {_reason(exc)}")
        return
    for entry in entries:
        if entry.name == b".git":
            continue
        child_shown = os.path.join(shown, entry.name) if shown else entry.name
        try:
            child = os.stat(entry.path)
        except FileNotFoundError:
            yield Skipped(display_path(child_shown), "broken symbolic link")
            continue
        except OSError as exc:
            yield Failed(display_path(child_shown), _reason(exc))
            continue
        if stat.S_ISDIR(child.st_mode):
            yield from _walk_dir(entry.path, child_shown, max_file_size, seen, child)
        else:
            yield from _file_events(entry.path, child_shown, child, max_file_size, seen)


def _file_events(
    real: bytes,
    shown: bytes,
    info: os.stat_result,
    max_file_size: int,
    seen: set[tuple[int, int]],
) -> Planned:
    path = display_path(shown)
    if not stat.S_ISREG(info.st_mode):
        yield Skipped(path, f"not a regular file ({_kind(info.st_mode)})")
        return
    key = (info.st_dev, info.st_ino)
    if key in seen:
        return
    seen.add(key)
    if info.st_size > max_file_size:
        yield Skipped(path, f"larger than --max-file-size ({info.st_size} > {max_file_size} bytes)")
        return
    yield Unread(real, Origin(source="file", path=path.replace(os.sep, "/")), info.st_size)


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
