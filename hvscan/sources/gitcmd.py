"""Running git: one place that starts git processes, without a shell, with the command line and
environment hvscan/gitenv.py builds (the scanned repository's configuration runs nothing), and
turns failures into one-line errors. Sources build on this; nothing here knows about keys."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
from collections.abc import Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any

from hvscan import gitenv
from hvscan.gitformat import batch_header, batch_objects

if TYPE_CHECKING:
    from pathlib import Path

# Bigger than the default 64 KiB so git rarely waits for the reader (Linux caps it at
# /proc/sys/fs/pipe-max-size, 1 MiB by default; elsewhere the request is ignored).
PIPE_SIZE = 1 << 20


class GitError(Exception):
    """git failed or the path is not a readable repository; the message is one line."""


def git(repo: Path | bytes | str, *args: str | bytes, input: bytes | None = None,
        repository_settings: tuple[str, ...] = ()) -> bytes:
    """Run ``git -C repo args...`` and return its standard output (``repository_settings``:
    see ``gitenv.command``)."""
    try:
        done = gitenv.run_git(os.fsdecode(repo), *map(os.fsdecode, args), input=input,
                          repository_settings=repository_settings)
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    if done.returncode != 0:
        raise GitError(_message(done.stderr) or f"git {os.fsdecode(args[0])} failed "
                       f"(exit {done.returncode})")
    return done.stdout


# git's words when a partial clone lacks an object and the lazy fetch (never allowed) failed.
_NOT_FETCHED = re.compile(rb"could not fetch ([0-9a-f]+) from promisor remote")


def _message(stderr: bytes) -> str:
    """The one line that says why git failed."""
    missing = _NOT_FETCHED.search(stderr)
    if missing:
        return (f"object {missing[1].decode('ascii')} is missing from this partial clone and "
                "hvscan never fetches objects: scan a complete clone")
    for line in stderr.decode("utf-8", "backslashreplace").splitlines():
        line = line.strip()
        if line:
            return line.removeprefix("fatal: ").removeprefix("error: ")
    return ""


class GitProcess:
    """A long-lived ``git -C repo args...`` whose output is read as a stream.

    Standard error goes to a temporary file, not a pipe: a chatty git must never block on a
    full stderr pipe while we read stdout. ``finish()`` waits and turns a failure into GitError.
    """

    def __init__(self, repo: Path | bytes | str, *args: str | bytes, stdin: Any = None,
                 pipe_input: bool = False, stdout: Any = subprocess.PIPE,
                 input_closed_by_writer: bool = False) -> None:
        import tempfile

        # A buffered stream is not safe to close while another thread writes to it (CPython
        # can fail inside the write), so a writer thread that owns git's input closes it itself.
        self._input_closed_by_writer = input_closed_by_writer

        self.what = f"git {os.fsdecode(args[0])}" if args else "git"
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by finish or kill)
        command = gitenv.command(os.fsdecode(repo), *map(os.fsdecode, args))
        try:
            self.process = self._start(command, stdin, pipe_input, stdout, PIPE_SIZE)
        except FileNotFoundError:
            self._stderr.close()
            raise GitError("git is not installed or not on PATH") from None
        except OSError:  # the system refused the pipe size: the default one still works
            self.process = self._start(command, stdin, pipe_input, stdout, -1)
        self.stdout: IO[bytes] | None = self.process.stdout

    def _start(self, command: list[str], stdin: Any, pipe_input: bool, stdout: Any,
               pipe_size: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, stdin=subprocess.PIPE if pipe_input else stdin,
                                stdout=stdout, stderr=self._stderr, env=gitenv.environment(),
                                pipesize=pipe_size)

    def finish(self) -> None:
        """Wait for git to exit; raise GitError (with git's own message) if it failed."""
        _close(self._input(), self.stdout)
        code = self.process.wait()
        self._stderr.seek(0)
        stderr = self._stderr.read()
        self._stderr.close()
        if code != 0:
            raise GitError(_message(stderr) or f"{self.what} failed (exit {code})")

    def kill(self) -> None:
        """Stop git early (the reader gave up); errors after this are not reported."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        _close(self._input(), self.stdout, self._stderr)

    def _input(self) -> IO[bytes] | None:
        return None if self._input_closed_by_writer else self.process.stdin

    def __enter__(self) -> GitProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def _close(*streams: IO[bytes] | None) -> None:
    for stream in streams:
        # git may exit before reading all its input: its exit status says why, not the pipe.
        if stream:
            with contextlib.suppress(BrokenPipeError):
                stream.close()


class CatFile:
    """One ``git cat-file --batch`` process, and the one reader of its answers for the objects a
    source names: one at a time (``read``: a blob at a path, an old version to compare with) or a
    list streamed through (``cat_objects``). The history audit's bulk stream, where most objects
    are never split out at all, has its own reader (hvscan/sources/gitstream.py)."""

    def __init__(self, repo: Path | bytes | str, *, input_closed_by_writer: bool = False) -> None:
        self._git = GitProcess(repo, "cat-file", "--batch", pipe_input=True,
                               input_closed_by_writer=input_closed_by_writer)
        assert self._git.process.stdin is not None and self._git.stdout is not None
        self.stdin: IO[bytes] = self._git.process.stdin
        self._stdout: IO[bytes] = self._git.stdout

    def read(self, name: str) -> tuple[str, bytes] | None:
        """``(type, content)`` of the object ``name`` (an id or ``rev:path``), None if missing."""
        request = _request(name)
        if request is None:
            return None
        try:
            self.stdin.write(request)
            self.stdin.flush()
        except BrokenPipeError:
            pass  # git has stopped: reading its answer reports why
        return self.answer(name)

    def answer(self, name: str) -> tuple[str, bytes] | None:
        """Read git's answer to the request for ``name``: ``(type, content)``, None if the
        repository has no such object (or the name is ambiguous)."""
        if _request(name) is None:
            return None  # never sent: it would be two requests
        header = self._stdout.readline()
        if not header:
            self._git.finish()
            raise GitError(f"git cat-file stopped before {name}")
        try:
            found = batch_header(header)
        except ValueError as exc:
            raise GitError(str(exc)) from None
        if found is None:
            return None
        kind, size = found
        data = self._stdout.read(size)
        if len(data) != size or self._stdout.read(1) != b"\n":
            raise GitError(f"git cat-file output ended inside object {name}")
        return kind, data

    def close(self) -> None:
        """Wait for git to exit; raise GitError if it failed."""
        self._git.finish()

    def kill(self) -> None:
        self._git.kill()

    def __enter__(self) -> CatFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._git.kill()


def _request(name: str) -> bytes | None:
    """The line that asks git for ``name``; None for a name no line can carry."""
    if "\n" in name:
        return None
    return name.encode("utf-8", "surrogateescape") + b"\n"


def is_object_id(text: str) -> bool:
    """A full object name (SHA-1 or SHA-256, lowercase hex), never an option or a ref name."""
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def is_null_id(object_id: str) -> bool:
    """git's all-zero object name: "no object" (a new file, a deleted branch, an unborn ref)."""
    return bool(object_id) and object_id.count("0") == len(object_id)


def cat_objects(
    repo: Path | bytes | str, ids: Sequence[str]
) -> Iterator[tuple[str, str | None, bytes | None]]:
    """Stream ``(id, type, contents)`` for each object name in ``ids``, in order, from one
    ``git cat-file --batch`` process; type and contents are None for an object the repository
    lacks."""
    if not ids:
        return
    cat_file = CatFile(repo, input_closed_by_writer=True)
    # A writer thread keeps git's input and output flowing together: writing every name first
    # would deadlock once both pipe buffers are full.
    writer = threading.Thread(target=_write_names, args=(cat_file.stdin, ids), daemon=True)
    writer.start()
    try:
        for name in ids:
            found = cat_file.answer(name)
            yield (name, *found) if found else (name, None, None)
        writer.join()
        cat_file.close()
    finally:
        cat_file.kill()  # first: a writer blocked on a full pipe then stops too
        writer.join()


def read_blobs(repo: Path | bytes | str, ids: Sequence[str]) -> list[bytes]:
    """The contents of the objects in ``ids`` that the repository has: the few earlier versions
    of a blob with a match, read by one ``git cat-file --batch`` answered whole (no reader
    thread or stream)."""
    requests = [request for request in map(_request, ids) if request is not None]
    if not requests:
        return []
    try:
        objects = batch_objects(git(repo, "cat-file", "--batch", input=b"".join(requests)),
                                len(requests))
    except ValueError as exc:
        raise GitError(str(exc)) from None
    return [found[1] for found in objects if found is not None]


def _write_names(stream: IO[bytes], ids: Sequence[str]) -> None:
    try:
        for name in ids:
            request = _request(name)
            if request is not None:
                stream.write(request)
    except BrokenPipeError:
        pass  # git exited early; the reader reports why
    finally:
        _close(stream)
