"""Parsing git's raw diff format: plain entries, renames, merges' combined entries, odd paths."""

from __future__ import annotations

import pytest
from gitrepo import GitRepo

from hvscan.sources.rawdiff import Change, parse_changes, parse_log

A = "a" * 40
B = "b" * 40
C = "c" * 40
Z = "0" * 40


def test_plain_entries_and_rename() -> None:
    output = (
        f":000000 100644 {Z} {A} A\0new.txt\0".encode()
        + f":100644 100644 {A} {B} R087\0old name\0new\nname\0".encode()
        + f":100644 000000 {C} {Z} D\0gone\0".encode()
    )
    assert parse_changes(output) == [
        Change("A", ("000000",), "100644", (Z,), A, b"new.txt", (b"new.txt",)),
        Change("R", ("100644",), "100644", (A,), B, b"new\nname", (b"old name",)),
        Change("D", ("100644",), "000000", (C,), Z, b"gone", (b"gone",)),
    ]
    assert [c.old_blob_ids() for c in parse_changes(output)] == [[], [A], [C]]


def test_paths_are_taken_by_count_whatever_their_bytes() -> None:
    odd = b"\n:100644 100644 \x01weird\xff"
    output = f":000000 100644 {Z} {A} A\0".encode() + odd + b"\0"
    assert [c.path for c in parse_changes(output)] == [odd]


def test_empty_output() -> None:
    assert parse_changes(b"") == []


def test_log_with_combined_merge_entry() -> None:
    output = (
        b"\x01first\0\n"
        + f":000000 100644 {Z} {A} A\0f\0".encode()
        + b"\x01empty\0"
        + b"\x01merge\0\0"
        + f"::100644 100644 100644 {A} {B} {C} MR\0f\0g\0f\0".encode()
    )
    commits = list(parse_log(output, b"\x01"))
    assert [line for line, _ in commits] == [b"first", b"empty", b"merge"]
    assert commits[1][1] == []
    merge = commits[2][1][0]
    assert merge.status == "MR" and merge.old_ids == (A, B) and merge.new_id == C
    assert merge.path == b"f" and merge.old_paths == (b"f", b"g")
    assert merge.old_blob_ids() == [A, B]


@pytest.mark.parametrize("output", [
    f":100644 100644 {A} {B}\0f\0".encode(),  # no status
    f":000000 100644 {Z} {A} A\0".encode(),  # no path
])
def test_malformed_output_is_an_error(output: bytes) -> None:
    with pytest.raises(ValueError, match="git raw diff"):
        parse_changes(output)


def test_parses_real_git_output(repo: GitRepo) -> None:
    repo.commit_file("a.txt", "one\n" * 20, "one")
    repo.git("mv", "a.txt", "b.txt")
    repo.write(b"line\nbreak", "x")
    repo.add(b"line\nbreak")
    output = repo.git("diff", "--cached", "--raw", "-z", "-M", "--no-abbrev").stdout
    changes = {c.path: c for c in parse_changes(output)}
    assert changes[b"b.txt"].status == "R" and changes[b"b.txt"].old_paths == (b"a.txt",)
    assert changes[b"line\nbreak"].status == "A"
