"""The cat-file batch stream reader: objects are split out exactly when they need a scan,
wherever the buffer boundaries fall."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import tempfile
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hvscan.prefilter import Prefilter
from hvscan.sources import Screen, gitstream
from hvscan.sources.gitcmd import GitError
from hvscan.sources.gitstream import GitObject, Oversized, StreamStats, read_objects

NEEDLES = (b"hv_live_", b"hv_test_")
KINDS = ("blob", "tree", "commit", "tag")


def record(o: GitObject) -> bytes:
    """``o`` as ``git cat-file --batch`` writes it."""
    return f"{o.oid} {o.kind} {len(o.data)}\n".encode() + o.data + b"\n"


def batch(objects: list[tuple[str, bytes]], missing: tuple[str, ...] = ()) -> tuple[
        bytes, list[GitObject]]:
    """The batch output for ``objects`` (kind, content) and the GitObjects they make."""
    out = b""
    made = []
    for index, (kind, content) in enumerate(objects):
        oid = hashlib.sha1(b"%d" % index + content).hexdigest()
        made.append(GitObject(oid, kind, content))
        out += record(made[-1])
        if index < len(missing):
            out += f"{missing[index]} missing\n".encode()
    return out, made


def wants_whole(data: bytes | memoryview) -> bool:
    return bytes(data[:2]) == b"ZZ"


def needle_screen() -> Screen:
    """A pipeline's screen (``scan.Pipeline.screen``) for ``NEEDLES`` and ``wants_whole``."""
    prefilter = Prefilter(NEEDLES)

    def needs_engine(window: memoryview, at_start: bool) -> bool:
        return bool(prefilter.hits(window)) or (at_start and wants_whole(window))

    return Screen(needs_engine, prefilter.overlap, prefilter.spans, wants_whole)


def read(data: bytes | list[bytes], chunk: int, monkeypatch: pytest.MonkeyPatch,
         max_size: int | None = None, dropped: list[bytes] | None = None, room: int = 1 << 30,
         ) -> tuple[list[GitObject | Oversized], StreamStats]:
    """Read one stream, or several side by side (as from several git processes); the ids of
    the objects the screen dropped appended to ``dropped``, when given, up to ``room``."""
    monkeypatch.setattr(gitstream, "CHUNK_SIZE", chunk)
    stats = StreamStats()
    with contextlib.ExitStack() as stack:
        handles = []
        for part in data if isinstance(data, list) else [data]:
            handle = stack.enter_context(tempfile.TemporaryFile())
            handle.write(part)
            handle.seek(0)
            handles.append(handle)
        found = list(read_objects(handles, needle_screen(), stats, max_size=max_size,
                                  dropped=dropped, room=room))
    return found, stats


def expected(objects: list[GitObject]) -> list[GitObject]:
    """What is handed on: an object holding a needle (a tree too: the names in it), or a blob
    the screen wants whole."""
    return [o for o in objects if
            any(n in o.data for n in NEEDLES) or (o.kind == "blob" and wants_whole(o.data))]


def test_a_blob_across_many_buffers_is_held_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Its pieces used to be kept, joined and cut: three times its size (1.5 GB for a 500 MB
    # blob in history). Python's own allocations are traced, nothing is timed.
    data, made = batch([("blob", b"x" * (24 << 20) + NEEDLES[0])])
    tracemalloc.start()
    try:
        found, _ = read(data, 1 << 20, monkeypatch)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert found == made
    assert peak < 1.5 * len(made[0].data)


def test_an_object_over_the_size_limit_is_handed_on_unread(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A blob was held whole while it was scanned, whatever its size (a 470 MB one took more
    # than 500 MB): one over --max-file-size is dropped as it streams by, and listed.
    data, made = batch([("blob", NEEDLES[0] + b"x" * (24 << 20)), ("blob", NEEDLES[1])])
    tracemalloc.start()
    try:
        found, stats = read(data, 1 << 20, monkeypatch, max_size=1 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    big, small = made
    assert found == [Oversized(big.oid, "blob", len(big.data), 1 << 20), small]
    assert peak < len(big.data) / 3  # the read buffers, not the blob
    assert (stats.objects, stats.blobs, stats.blob_bytes) == (2, 1, len(small.data))


@pytest.mark.parametrize("chunk", [1, 5, 16, 64, 4096])
def test_the_size_limit_holds_wherever_the_buffers_end(chunk: int,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    objects = [("blob", NEEDLES[0] + b"a" * 30), ("commit", b"c" * 31 + NEEDLES[1]),
               ("tree", b"t" * 40), ("tree", b"t" * 40 + NEEDLES[0]),
               ("blob", NEEDLES[1] + b"b" * 3), ("tag", b"ZZ" * 20),
               ("blob", b"ZZ" + b"y" * 40), ("blob", b"ZZ")]
    data, made = batch(objects)
    dropped: list[bytes] = []
    found, stats = read(data, chunk, monkeypatch, max_size=32, dropped=dropped)

    def oversized(o: GitObject) -> bool:  # a tree is names, read whatever its size
        return len(o.data) > 32 and o.kind != "tree"

    assert found == [
        Oversized(o.oid, o.kind, len(o.data), 32) if oversized(o) else o
        for o in made if oversized(o) or o in expected(made)]
    # What another audit may skip: never an object too large to be read (it is a note).
    assert dropped == [o.oid.encode() for o in made
                       if not oversized(o) and o not in expected(made)]
    assert stats.objects == len(made)
    assert stats.blobs == sum(o.kind == "blob" and len(o.data) <= 32 for o in made)


@pytest.mark.parametrize("chunk", [7, 4096])
def test_the_ids_gathered_stop_at_the_room_given(chunk: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # The shared set takes at most its room: gathering every id of a store of millions of
    # objects for it would hold them all (a list, unbounded, found by review).
    data, made = batch([("blob", b"plain %d" % n) for n in range(20)])
    dropped: list[bytes] = []
    found, stats = read(data, chunk, monkeypatch, dropped=dropped, room=5)
    assert found == []
    assert dropped == [o.oid.encode() for o in made[:5]]
    assert stats.objects == stats.blobs == 20  # all still read and counted


content = st.one_of(
    st.binary(max_size=40),
    st.builds(lambda a, n, b: a + n + b, st.binary(max_size=20), st.sampled_from(
        [*NEEDLES, b"hv_liv", b"ZZ"]), st.binary(max_size=20)),
)


@settings(max_examples=150)
@given(objects=st.lists(st.tuples(st.sampled_from(KINDS), content), max_size=12),
       chunk=st.integers(min_value=1, max_value=90))
def test_any_buffer_size_gives_the_objects_a_scan_needs(objects: list[tuple[str, bytes]],
                                                        chunk: int) -> None:
    data, made = batch(objects)
    dropped: list[bytes] = []
    with pytest.MonkeyPatch.context() as monkeypatch:
        found, stats = read(data, chunk, monkeypatch, dropped=dropped)
    assert found == expected(made)
    # Every other object is dropped, its id noted (for hvscan/shared.py), whatever the buffers.
    assert dropped == [o.oid.encode() for o in made if o not in expected(made)]
    assert stats.objects == len(made)
    assert stats.read_bytes == len(data)
    blobs = [o for o in made if o.kind == "blob"]
    assert (stats.blobs, stats.blob_bytes) == (len(blobs), sum(len(o.data) for o in blobs))


@settings(max_examples=60)
@given(objects=st.lists(st.tuples(st.sampled_from(KINDS), content), max_size=12),
       cuts=st.lists(st.integers(min_value=0, max_value=12), max_size=3),
       chunk=st.integers(min_value=1, max_value=90))
def test_several_streams_together_give_every_object_once(objects: list[tuple[str, bytes]],
                                                         cuts: list[int], chunk: int) -> None:
    data, made = batch(objects)
    bounds = [0, *sorted({min(cut, len(made)) for cut in cuts}), len(made)]
    parts = []
    for start, stop in itertools.pairwise(bounds):
        parts.append(b"".join(record(o) for o in made[start:stop]))
    with pytest.MonkeyPatch.context() as monkeypatch:
        found, stats = read(parts, chunk, monkeypatch)
    assert sorted(found, key=repr) == sorted(expected(made), key=repr)
    assert stats.objects == len(made) and stats.read_bytes == len(data)


def test_needle_split_across_two_objects_is_not_a_hit(monkeypatch: pytest.MonkeyPatch) -> None:
    data, _ = batch([("blob", b"xx hv_li"), ("blob", b"ve_ yy")])
    assert read(data, 1 << 20, monkeypatch)[0] == []


def test_missing_objects_are_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    data, made = batch([("blob", b"a"), ("blob", b"hv_test_")], missing=("f" * 40,))
    found, stats = read(data, 7, monkeypatch)
    assert stats.missing == ["f" * 40]
    assert found == [made[1]]


@pytest.mark.parametrize("data", [b"nonsense line\n", b"abc blob 10\nshort"])
def test_garbled_or_truncated_output_is_an_error(data: bytes,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(GitError):
        read(data, 64, monkeypatch)
