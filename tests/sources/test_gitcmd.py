"""Running git and reading ``git cat-file --batch`` answers (hvscan.sources.gitcmd): objects by
name one at a time, or a list streamed through one process."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import IO

import pytest
from gitrepo import GitRepo

from hvscan.sources import gitcmd
from hvscan.sources.gitcmd import CatFile, GitError, cat_objects, read_blobs


def test_cat_file_reads_objects_by_name_and_reports_missing(repo: GitRepo) -> None:
    commit = repo.commit_file("dir name/a b.txt", "content\n", "x")
    with CatFile(repo.path) as cat_file:
        assert cat_file.read(f"{commit}:dir name/a b.txt") == ("blob", b"content\n")
        assert cat_file.read("0" * 40) is None
        assert cat_file.read("no such name with spaces") is None
        kind, data = cat_file.read(commit) or ("", b"")
        assert kind == "commit" and data.startswith(b"tree ")
        cat_file.close()


def blob_id(repo: GitRepo, content: bytes) -> str:
    return repo.out("hash-object", "-w", "--stdin", input=content)


def test_cat_objects_answers_every_name_in_order(repo: GitRepo) -> None:
    commit = repo.commit_file("café.txt", "accented\n", "x")
    first, second = blob_id(repo, b"one\n"), blob_id(repo, b"two\n")
    names = [second, "0" * 40, "two\nlines", first, f"{commit}:café.txt", second]
    assert list(cat_objects(repo.path, names)) == [
        (second, "blob", b"two\n"),
        ("0" * 40, None, None),
        ("two\nlines", None, None),  # one name cannot be sent as two requests
        (first, "blob", b"one\n"),
        (f"{commit}:café.txt", "blob", b"accented\n"),
        (second, "blob", b"two\n"),
    ]
    assert read_blobs(repo.path, [first, "0" * 40, "two\nlines", second]) == [b"one\n", b"two\n"]


def test_cat_objects_streams_more_than_the_pipes_hold_and_can_stop_early(repo: GitRepo) -> None:
    # More than a pipe holds each way: writing every name before reading would leave git and
    # the reader both waiting.
    small, big = blob_id(repo, b"small\n"), blob_id(repo, b"A" * (3 << 20))
    names = [small] * 40000 + [big]
    read = [(kind, len(data or b"")) for _, kind, data in cat_objects(repo.path, names)]
    assert read == [("blob", 6)] * 40000 + [("blob", 3 << 20)]
    stream = cat_objects(repo.path, [big, *names])
    assert next(stream)[2] == b"A" * (3 << 20)
    stream.close()  # stops git; must not wait for the rest


def test_cat_objects_outside_a_repository_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not a git repository") as raised:
        list(cat_objects(tmp_path, ["0" * 40]))
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("in_repository", [True, False])
def test_cat_objects_input_is_closed_only_by_its_writer_thread(
    repo: GitRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_repository: bool
) -> None:
    # Closing a buffered stream while another thread writes to it can fail inside CPython
    # ("PyMemoryView_FromBuffer(): info->buf must not be NULL"), now and then, when git exits
    # early: so the reader must never close the input the writer thread owns.
    input_closed_by: list[int] = []  # threads that closed a pipe hvscan writes to
    real_close = gitcmd._close

    def recording_close(*streams: IO[bytes] | None) -> None:
        pipes_to_git = [s for s in streams
                        if s and not s.closed and s.writable() and not s.seekable()]
        input_closed_by.extend(threading.get_ident() for _ in pipes_to_git)
        real_close(*streams)

    monkeypatch.setattr(gitcmd, "_close", recording_close)
    names = [blob_id(repo, b"one\n")] * 1000
    if in_repository:
        assert len(list(cat_objects(repo.path, names))) == 1000
    else:
        with pytest.raises(GitError):
            list(cat_objects(tmp_path, names))
    assert input_closed_by and threading.get_ident() not in input_closed_by
