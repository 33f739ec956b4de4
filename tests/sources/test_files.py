"""The file-system source: walking, skipping and reporting what cannot be read."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hvscan.sources import Blob, Failed, Skipped, files
from hvscan.sources.files import walk


def events(*roots: bytes | str, max_size: int = 1 << 30) -> list[object]:
    return list(walk([os.fsencode(r) for r in roots], max_size))


def blobs(evts: list[object]) -> dict[str, bytes]:
    return {e.origin.path: e.data for e in evts if isinstance(e, Blob)}  # type: ignore[union-attr]


def test_walks_sorted_and_skips_git_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.txt").write_bytes(b"x")
    (tmp_path / "a.txt").write_bytes(b"a")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "config").write_bytes(b"secret")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".git").write_bytes(b"gitdir: elsewhere")
    monkeypatch.chdir(tmp_path)
    assert list(blobs(events("."))) == ["a.txt", "b/x.txt"]
    assert list(blobs(events("b"))) == ["b/x.txt"]
    assert list(blobs(events("b/x.txt"))) == ["b/x.txt"]
    assert list(blobs(events(str(tmp_path)))) == ["a.txt", "b/x.txt"]


def test_symlink_loops_end_and_duplicates_are_read_once(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f.txt").write_bytes(b"f")
    (tmp_path / "d" / "loop").symlink_to(tmp_path)
    (tmp_path / "link.txt").symlink_to(tmp_path / "d" / "f.txt")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    evts = events(str(tmp_path))
    assert list(blobs(evts).values()) == [b"f"]
    assert Skipped("dangling", "broken symbolic link") in evts


def test_fifo_and_socket_are_skipped_with_a_note(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    try:
        evts = events(str(tmp_path))
    finally:
        sock.close()
    reasons = {e.path: e.reason for e in evts if isinstance(e, Skipped)}
    assert reasons == {"pipe": "not a regular file (FIFO)", "sock": "not a regular file (socket)"}


def test_device_is_skipped() -> None:
    (event,) = events("/dev/null")
    assert isinstance(event, Skipped)
    assert "device" in event.reason


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read anything")
def test_unreadable_file_is_an_error(tmp_path: Path) -> None:
    target = tmp_path / "locked.txt"
    target.write_bytes(b"x")
    target.chmod(0)
    assert any(isinstance(e, Failed) for e in events(str(tmp_path)))


def test_read_error_is_reported_and_the_walk_goes_on(tmp_path: Path) -> None:
    (tmp_path / "ok.txt").write_bytes(b"ok")
    (tmp_path / "zz").mkdir()
    # A directory handed to open() fails with a read error on every system, root included.
    evts = list(walk([os.fsencode(tmp_path / "zz") + b"/../ok.txt", b"/proc/self/mem"], 1 << 30))
    assert any(isinstance(e, Blob) for e in evts)
    assert any(isinstance(e, Failed) for e in evts)


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    (event,) = events(str(tmp_path / "missing"))
    assert isinstance(event, Failed)


def test_oversized_file_is_listed(tmp_path: Path) -> None:
    (tmp_path / "big.bin").write_bytes(b"x" * 100)
    (tmp_path / "small.txt").write_bytes(b"x")
    evts = events(str(tmp_path), max_size=10)
    assert list(blobs(evts)) == ["small.txt"]
    (skip,) = [e for e in evts if isinstance(e, Skipped)]
    assert skip.path == "big.bin" and "max-file-size" in skip.reason


def test_undecodable_file_names(tmp_path: Path) -> None:
    raw = os.fsencode(tmp_path) + b"/caf\xe9\n.txt"
    with open(raw, "wb") as handle:
        handle.write(b"data")
    assert blobs(events(str(tmp_path))) == {"caf\\xe9\n.txt": b"data"}


# --- reading ahead in threads ------------------------------------------------------------


def make_tree(root: Path) -> None:
    for i in range(12):
        sub = root / f"d{i % 3}"
        sub.mkdir(exist_ok=True)
        (sub / f"f{i:02d}.txt").write_bytes(bytes([65 + i]) * (1000 * (i % 4) + i))
    os.mkfifo(root / "d1" / "pipe")
    (root / "d2" / "dangling").symlink_to(root / "nowhere")


@pytest.mark.parametrize("budget", [1, 2500, 1 << 30])
def test_threaded_reads_keep_walk_order_and_contents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, budget: int
) -> None:
    make_tree(tmp_path)
    roots = [os.fsencode(tmp_path), b"/proc/self/mem"]  # the last one fails when read
    monkeypatch.setattr(files, "THREADED_READ", 1 << 62)
    in_line = list(walk(roots, 1 << 30))
    monkeypatch.setattr(files, "THREADED_READ", 0)
    monkeypatch.setattr(files, "READ_AHEAD_BYTES", budget)
    threaded = list(walk(roots, 1 << 30))
    assert threaded == in_line
    assert [type(e) for e in threaded].count(Blob) == 12
    assert isinstance(threaded[-1], Failed)


def test_read_ahead_stays_within_its_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(20):
        (tmp_path / f"f{i:02d}").write_bytes(b"x" * 1000)
    planned = 0
    plan, read = files._plan, files._read

    def counting_plan(roots: list[bytes], max_file_size: int) -> Iterator[object]:
        nonlocal planned
        for item in plan(roots, max_file_size):
            planned += 1
            yield item

    def slow_read(item: files._Unread) -> object:
        time.sleep(0.005)  # without the budget, the walk would run far ahead of the reads
        return read(item)

    monkeypatch.setattr(files, "_plan", counting_plan)
    monkeypatch.setattr(files, "_read", slow_read)
    monkeypatch.setattr(files, "THREADED_READ", 0)
    monkeypatch.setattr(files, "READ_AHEAD_BYTES", 3000)
    for handed_out, _ in enumerate(walk([os.fsencode(tmp_path)], 1 << 30), start=1):
        # Three files wait within the budget, and the walk holds the one that did not fit.
        assert planned <= handed_out + 4


def test_abandoned_walk_stops_its_readers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(50):
        (tmp_path / f"f{i:02d}").write_bytes(b"x" * 100)
    monkeypatch.setattr(files, "THREADED_READ", 0)
    events_ = walk([os.fsencode(tmp_path)], 1 << 30)
    assert isinstance(next(events_), Blob)
    events_.close()
    assert not [t for t in threading.enumerate() if t.name.startswith("hvscan-read")]
