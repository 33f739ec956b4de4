"""Mapped windows under a read lease: the whole file with overlaps, never a map that a writer
could shrink."""

from __future__ import annotations

import mmap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hvscan.sources import mapped

PAGE = mmap.ALLOCATIONGRANULARITY


@pytest.fixture
def content(tmp_path: Path) -> Iterator[tuple[Path, bytes]]:
    path = tmp_path / "big"
    data = bytes(range(256)) * (3 * PAGE // 256) + b"tail"
    path.write_bytes(data)
    with open(path, "rb", buffering=0) as handle:
        try:
            next(mapped.windows(handle.fileno(), PAGE, 0))
        except mapped.Unmappable:
            pytest.skip("no read lease on this system")
    yield path, data


def test_windows_cover_the_file_and_overlap(content: tuple[Path, bytes]) -> None:
    path, data = content
    with open(path, "rb", buffering=0) as handle:
        seen = [(offset, bytes(view)) for offset, view in mapped.windows(handle.fileno(), PAGE, 3)]
    assert [offset for offset, _ in seen] == [0, PAGE, 2 * PAGE, 3 * PAGE]
    assert [window for _, window in seen] == [
        data[offset:offset + PAGE + 3] for offset in range(0, len(data), PAGE)
    ]


def test_no_map_while_someone_has_the_file_open_to_write(content: tuple[Path, bytes]) -> None:
    path, _ = content
    with open(path, "r+b") as writer, open(path, "rb", buffering=0) as handle:
        with pytest.raises(mapped.Unmappable):
            next(mapped.windows(handle.fileno(), PAGE, 0))
        writer.write(b"still writable")


def test_a_writer_waits_and_the_next_window_is_refused(content: tuple[Path, bytes]) -> None:
    path, data = content
    opened: list[float] = []

    def write() -> None:
        with open(path, "r+b"):  # waits while the lease holds
            opened.append(time.monotonic())

    with open(path, "rb", buffering=0) as handle:
        windows = mapped.windows(handle.fileno(), PAGE, 0)
        _, view = next(windows)
        assert bytes(view) == data[:PAGE]
        writer = threading.Thread(target=write)
        writer.start()
        deadline = time.monotonic() + 10
        while not _breaking(handle.fileno()) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not opened  # the map is still there: the writer must wait
        # The lease is given up inside the call that refuses the next window, so the writer may
        # go on before that call returns, but never before it is made.
        asked = time.monotonic()
        with pytest.raises(mapped.Unmappable):
            next(windows)
    writer.join(timeout=30)
    assert opened and opened[0] >= asked


def test_the_lease_is_given_up_when_the_windows_are_left_early(
    content: tuple[Path, bytes]
) -> None:
    path, _ = content
    with open(path, "rb", buffering=0) as handle:
        windows = mapped.windows(handle.fileno(), PAGE, 0)
        next(windows)
        windows.close()
        assert _lease(handle.fileno()) == "none"
        with open(path, "r+b"):  # no wait
            pass


def _lease(fd: int) -> str:
    import fcntl

    held = fcntl.fcntl(fd, fcntl.F_GETLEASE)
    return {fcntl.F_RDLCK: "read", fcntl.F_UNLCK: "none"}.get(held, str(held))


def _breaking(fd: int) -> bool:
    return _lease(fd) != "read"
