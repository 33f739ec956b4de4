"""git's machine formats, read the same way by the sources and the fast path."""

from __future__ import annotations

import pytest

from hvscan import fastpath
from hvscan.gitformat import batch_header, batch_objects, raw_entries
from hvscan.sources.rawdiff import Change, parse_changes

A = "a" * 40
Z = "0" * 40


def test_batch_headers() -> None:
    assert batch_header(f"{A} blob 12\n".encode()) == ("blob", 12)
    assert batch_header(b"nope missing\n") is None
    assert batch_header(b"ab ambiguous\n") is None
    for bad in (b"", b"\n", f"{A} blob\n".encode(), f"{A} blob -1\n".encode()):
        with pytest.raises(ValueError):
            batch_header(bad)


def test_the_fast_path_and_the_staged_source_read_one_listing_alike() -> None:
    listing = (f":000000 100644 {Z} {A} A\0new\0".encode()
               + f":100644 100644 {Z} {A} R100\0old\0re\nnamed\0".encode()
               + f":100644 000000 {A} {Z} D\0gone\0".encode())
    assert [Change(*entry) for entry in raw_entries(listing)] == parse_changes(listing)
    assert fastpath._staged_blob_ids(listing) == [A, A]
    for undecided in (listing + f":100644 100644 {Z} {A} U\0u\0".encode(),
                      listing + f":000000 160000 {Z} {A} A\0sub\0".encode(),
                      listing + f":000000 100644 {Z} {A} A\0".encode()):  # no path
        assert fastpath._staged_blob_ids(undecided) is None


def test_batch_objects_read_a_whole_answer() -> None:
    output = (f"{A} blob 3\n".encode() + b"a\nb\n" + b"nope missing\n"
              + f"{Z} tree 0\n".encode() + b"\n")
    assert batch_objects(output, 3) == [("blob", b"a\nb"), None, ("tree", b"")]
    for cut in (output[:-1], output[:10], f"{A} blob 3\nabcd".encode()):
        with pytest.raises(ValueError):
            batch_objects(cut, 3 if cut is not output[:10] else 1)
