"""Reading ahead in threads: the same events in the same order, within the memory budget."""

from __future__ import annotations

import mmap
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hvscan.sources import (
    Blob,
    Event,
    Failed,
    Origin,
    Screen,
    Screened,
    Skipped,
    mapped,
    readahead,
)
from hvscan.sources.readahead import Planned, Unread, read_ahead

PAGE = mmap.ALLOCATIONGRANULARITY


def threads_for_all(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file counts as big, and the readers start at once."""
    monkeypatch.setattr(readahead, "BIG_FILE", 0)
    monkeypatch.setattr(readahead, "READERS_AFTER", 0)


def plan(tmp_path: Path, sizes: list[int]) -> list[Event | Unread]:
    """Files of the given sizes, each followed by a note, then a file that fails when read."""
    items: list[Event | Unread] = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"f{i:02d}"
        path.write_bytes(bytes([65 + i % 26]) * size)
        items.append(Unread(os.fsencode(path), Origin("file", path.name), size))
        items.append(Skipped(f"note{i}", "a note"))
    # A directory passes for a file until it is opened: a read error on every system.
    items.append(Unread(os.fsencode(tmp_path), Origin("file", "dir"), 10))
    return items


@pytest.mark.parametrize("budget", [1, 2500, 1 << 30])
def test_threaded_reads_keep_order_and_contents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget: int
) -> None:
    items = plan(tmp_path, [1000 * (i % 4) + i for i in range(12)])
    monkeypatch.setattr(readahead, "BIG_FILE", 1 << 62)
    in_line = list(read_ahead(iter(items)))
    threads_for_all(monkeypatch)
    monkeypatch.setattr(readahead, "READ_AHEAD_BYTES", budget)
    threaded = list(read_ahead(iter(items)))
    assert threaded == in_line
    blobs = [e for e in threaded if isinstance(e, Blob)]
    assert [b.origin.path for b in blobs] == [f"f{i:02d}" for i in range(12)]
    assert blobs[5].data == b"F" * 1005
    assert [type(e) for e in threaded[1::2]] == [Skipped] * 12
    assert isinstance(threaded[-1], Failed) and threaded[-1].path == "dir"


@pytest.mark.parametrize(("budget", "files"), [(3000, 1024), (2999, 1024), (1 << 30, 3)])
def test_read_ahead_stays_within_its_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget: int, files: int
) -> None:
    items = plan(tmp_path, [1000] * 20)[:-1]
    drawn = 0

    def counted() -> Planned:
        nonlocal drawn
        for item in items:
            drawn += isinstance(item, Unread)
            yield item

    read = readahead.read

    def slow_read(item: Unread, screen: Screen | None) -> Event | Unread:
        time.sleep(0.005)  # without the budget, the walk would run far ahead of the reads
        return read(item, screen)

    monkeypatch.setattr(readahead, "read", slow_read)
    threads_for_all(monkeypatch)
    monkeypatch.setattr(readahead, "READ_AHEAD_BYTES", budget)
    monkeypatch.setattr(readahead, "READ_AHEAD_FILES", files)
    # Three files (or two notes and a file) wait within 3000 bytes, or as three entries; one
    # byte less leaves room for two files.
    ahead = 2 if budget == 2999 else 3
    handed_out = 0
    for event in read_ahead(counted()):
        handed_out += isinstance(event, Blob)
        # The files waiting, one more held until there is room, and the one handed out.
        assert drawn <= handed_out + ahead + 1


def readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("hvscan-read")]


def test_abandoned_read_ahead_stops_its_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads_for_all(monkeypatch)
    events: Iterator[Event] = read_ahead(iter(plan(tmp_path, [100] * 50)))
    assert isinstance(next(events), Blob)
    events.close()
    assert not readers()


def test_small_files_start_no_thread(tmp_path: Path) -> None:
    events = read_ahead(iter(plan(tmp_path, [10, 20, 30])))
    assert isinstance(next(events), Blob)
    assert not readers()
    assert len(list(events)) == 6


def test_readers_start_once_big_files_add_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readahead, "BIG_FILE", 100)
    monkeypatch.setattr(readahead, "READERS_AFTER", 2500)
    events = read_ahead(iter(plan(tmp_path, [1000, 1000, 1000, 1000])))
    seen = [next(events), next(events), next(events)]  # two big files, 2000 bytes: in line
    assert not readers()
    while not readers():  # the third passes the mark: it is read in a thread
        seen.append(next(events))
    seen += list(events)
    assert [e.origin.path for e in seen if isinstance(e, Blob)] == ["f00", "f01", "f02", "f03"]


# --- screening big files ------------------------------------------------------------------


def keyword_screen(asked: list[tuple[bytes, bool]]) -> Screen:
    """Wants windows holding ``KEY``, and files opening with ``PK``; records what it saw."""

    def needs_engine(window: memoryview, at_start: bool) -> bool:
        seen = bytes(window)
        asked.append((seen, at_start))
        return b"KEY" in seen or (at_start and seen.startswith(b"PK"))

    def spans(window: memoryview) -> list[tuple[int, int]]:
        seen = bytes(window)
        return [(at, at + 3) for at in range(len(seen)) if seen.startswith(b"KEY", at)]

    return Screen(needs_engine, 2, spans, lambda window: bytes(window[:2]) == b"PK")


@pytest.fixture(params=["mapped", "read"])
def window(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Screened files looked at through a map, or (no read lease: another user's file, one open
    to write, not Linux) read into a buffer; the window size either way."""
    if request.param == "read":
        def no_lease(fd: int, window: int, overlap: int) -> Iterator[tuple[int, memoryview]]:
            raise mapped.Unmappable

        monkeypatch.setattr(mapped, "windows", no_lease)
        monkeypatch.setattr(readahead, "WINDOW", 16)
        return 16
    monkeypatch.setattr(readahead, "MAPPED_WINDOW", PAGE)
    return PAGE


@pytest.mark.parametrize("boundary", [1, 2])
@pytest.mark.parametrize("shift", range(-4, 3))
def test_screen_sees_every_window_and_what_straddles_two(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: int, boundary: int, shift: int
) -> None:
    threads_for_all(monkeypatch)
    key_at = boundary * window + shift
    content = b"." * key_at + b"KEY" + b"." * (3 * window - key_at)
    items = plan(tmp_path, [1])[:1]
    (tmp_path / "f00").write_bytes(content)
    asked: list[tuple[bytes, bool]] = []
    (event,) = read_ahead(iter(items), keyword_screen(asked))
    assert isinstance(event, Blob) and event.data == content
    assert [at_start for _, at_start in asked] == [True] + [False] * (len(asked) - 1)


@pytest.mark.parametrize("extra", [0, 1, 100])
def test_clean_big_file_is_screened_and_never_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: int, extra: int
) -> None:
    monkeypatch.setattr(readahead, "BIG_FILE", 10)
    size = 3 * window + extra
    items = plan(tmp_path, [size, 5])
    asked: list[tuple[bytes, bool]] = []
    events = list(read_ahead(iter(items), keyword_screen(asked)))
    assert events[0] == Screened(Origin("file", "f00"), size)
    # The small file is not screened: the engine gets it whole, as before.
    assert isinstance(events[2], Blob) and events[2].origin.path == "f01"
    assert isinstance(events[4], Failed)
    windows = [window for window, _ in asked]
    assert max(map(len, windows)) == window + 2
    # Every byte was looked at: the windows, less their overlaps, are the file.
    assert sum(map(len, windows)) - 2 * (len(windows) - 1) == size
    # They start every window bytes.
    content = (tmp_path / "f00").read_bytes()
    assert b"".join(w[:window] for w in windows[:-1]) + windows[-1] == content


def test_a_file_open_to_write_is_screened_all_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readahead, "BIG_FILE", 100)
    monkeypatch.setattr(readahead, "MAPPED_WINDOW", PAGE)
    items = plan(tmp_path, [3 * PAGE, 3 * PAGE])[:-1:2]
    (tmp_path / "f01").write_bytes(b"." * (2 * PAGE) + b"KEY" + b"." * (PAGE - 3))
    with open(tmp_path / "f00", "r+b"), open(tmp_path / "f01", "r+b"):  # no read lease
        events = list(read_ahead(iter(items), keyword_screen([])))
    assert events == [Screened(Origin("file", "f00"), 3 * PAGE),
                      Blob((tmp_path / "f01").read_bytes(), Origin("file", "f01"))]


def test_screen_can_ask_for_the_whole_file_at_its_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    threads_for_all(monkeypatch)
    (tmp_path / "a.zip").write_bytes(b"PK" + b"." * 100)
    (tmp_path / "b.txt").write_bytes(b"." * 20 + b"PK" + b"." * 100)
    items: list[Event | Unread] = [
        Unread(os.fsencode(tmp_path / name), Origin("file", name), 102 + 20 * (name == "b.txt"))
        for name in ("a.zip", "b.txt")
    ]
    first, second = read_ahead(iter(items), keyword_screen([]))
    assert isinstance(first, Blob)
    assert second == Screened(Origin("file", "b.txt"), 122)


def test_screened_files_take_no_budget_so_the_readers_screen_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads_for_all(monkeypatch)
    monkeypatch.setattr(readahead, "READ_AHEAD_BYTES", 1)
    items = plan(tmp_path, [1000] * 8)[:-1]
    asked: list[tuple[bytes, bool]] = []
    events = read_ahead(iter(items), keyword_screen(asked))
    first = next(events)
    # While the pipeline holds the first file, the readers screen the other seven: nothing
    # that waits holds memory. (Read whole, one file would be in flight at a time.)
    deadline = time.monotonic() + 10
    while sum(at_start for _, at_start in asked) < 8 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert sum(at_start for _, at_start in asked) == 8
    assert [first, *events] == [
        e for item in items
        for e in [Screened(item.origin, 1000) if isinstance(item, Unread) else item]
    ]


def test_queue_length_is_bounded_when_nothing_holds_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads_for_all(monkeypatch)
    monkeypatch.setattr(readahead, "READ_AHEAD_FILES", 5)
    items = plan(tmp_path, [1000] * 20)[:-1]
    drawn = 0

    def counted() -> Planned:
        nonlocal drawn
        for item in items:
            drawn += 1
            yield item

    for handed_out, _ in enumerate(read_ahead(counted(), keyword_screen([])), 1):
        assert drawn <= handed_out + 5


def test_a_file_the_screen_wants_is_read_whole_at_its_turn_by_the_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads_for_all(monkeypatch)
    monkeypatch.setattr(readahead, "WINDOW", 64)
    items = plan(tmp_path, [1000, 1000, 1000])[:-1]
    (tmp_path / "f01").write_bytes(b"." * 500 + b"KEY" + b"." * 497)
    whole_reads: list[tuple[str | None, bool]] = []
    read_whole = readahead.read_whole

    def recorded(item: Unread) -> Event:
        in_main = threading.current_thread() is threading.main_thread()
        whole_reads.append((item.origin.path, in_main))
        return read_whole(item)

    monkeypatch.setattr(readahead, "read_whole", recorded)
    events = list(read_ahead(iter(items), keyword_screen([])))
    assert events[0] == Screened(Origin("file", "f00"), 1000)
    assert events[2] == Blob((tmp_path / "f01").read_bytes(), Origin("file", "f01"))
    assert events[4] == Screened(Origin("file", "f02"), 1000)
    # Read whole once, by the thread that hands it out, not held by a reader meanwhile.
    assert whole_reads == [("f01", True)]
