"""The file-system source: walk paths and yield file contents (``hvscan dir``, the hook).

Paths are handled as bytes end to end. Symbolic links are followed, but every real file and
directory is read once per run, so link loops end and linked duplicates are not reported
twice. ``.git`` directories are skipped (history is the git source's job).

Big files are read ahead by a few threads while the consumer scans the files before them: file
reads release the GIL, and so does the prefilter's pass over a big buffer, so on a tree of big
files a scan costs about one read of the tree instead of a read plus a scan. Events still come
out in walk order, so reports do not depend on thread timing.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hvscan.sources import Blob, Event, Events, Failed, Origin, Skipped, display_path

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

# Files at least this big go to a reader thread; smaller ones are read in line, where handing
# them over would cost more than the read itself.
THREADED_READ = 256 << 10
# File contents read ahead and not yet handed to the consumer stay under this (except that one
# file is always in flight, however big), so memory stays bounded whatever the tree holds.
READ_AHEAD_BYTES = 64 << 20
READERS = 2


@dataclass(frozen=True)
class _Unread:
    """A regular file the walk has accepted and nobody has read yet."""

    real: bytes
    path: str
    size: int


def walk(roots: list[bytes], max_file_size: int) -> Events:
    return _read_ahead(_plan(roots, max_file_size))


def _plan(roots: list[bytes], max_file_size: int) -> Iterator[Event | _Unread]:
    seen: set[tuple[int, int]] = set()
    for root in roots:
        yield from _walk_root(root, max_file_size, seen)


def _read_ahead(planned: Iterator[Event | _Unread]) -> Events:
    waiting: deque[tuple[Event | Future[Event], int]] = deque()
    waiting_bytes = 0
    executor: ThreadPoolExecutor | None = None
    try:
        for item in planned:
            size = item.size if isinstance(item, _Unread) else 0
            # Hand out what is ready; wait for the oldest read only when the budget is spent.
            while waiting and (
                _is_ready(waiting[0][0]) or waiting_bytes + size > READ_AHEAD_BYTES
            ):
                entry, entry_size = waiting.popleft()
                waiting_bytes -= entry_size
                yield _result(entry)
            if not isinstance(item, _Unread):
                waiting.append((item, 0))
                continue
            if item.size >= THREADED_READ:
                if executor is None:
                    from concurrent.futures import ThreadPoolExecutor

                    executor = ThreadPoolExecutor(READERS, thread_name_prefix="hvscan-read")
                waiting.append((executor.submit(_read, item), size))
            else:
                waiting.append((_read(item), size))
            waiting_bytes += size
        while waiting:
            yield _result(waiting.popleft()[0])
    finally:
        if executor is not None:
            executor.shutdown(cancel_futures=True)


def _is_ready(entry: Event | Future[Event]) -> bool:
    return isinstance(entry, Event) or entry.done()


def _result(entry: Event | Future[Event]) -> Event:
    return entry if isinstance(entry, Event) else entry.result()


def _read(item: _Unread) -> Event:
    try:
        with open(item.real, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        return Failed(item.path, _reason(exc))
    return Blob(data, Origin(source="file", path=item.path.replace(os.sep, "/")))


def _walk_root(
    root: bytes, max_file_size: int, seen: set[tuple[int, int]]
) -> Iterator[Event | _Unread]:
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
) -> Iterator[Event | _Unread]:
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
) -> Iterator[Event | _Unread]:
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
    yield _Unread(real, path, info.st_size)


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
