"""Running git: one place that starts git processes, without a shell, and turns failures into
one-line errors. Sources build on this; nothing here knows about keys."""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

# Bigger than the default 64 KiB so git rarely waits for the reader (Linux caps it at
# /proc/sys/fs/pipe-max-size, 1 MiB by default; elsewhere the request is ignored).
PIPE_SIZE = 1 << 20


class GitError(Exception):
    """git failed or the path is not a readable repository; the message is one line."""


def git(repo: Path | bytes | str, *args: str | bytes, input: bytes | None = None) -> bytes:
    """Run ``git -C repo args...`` and return its standard output."""
    command = ["git", "-C", os.fsdecode(repo), *map(os.fsdecode, args)]
    try:
        done = subprocess.run(command, input=input, capture_output=True, check=False,
                              env=_environment())
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    if done.returncode != 0:
        raise GitError(_first_line(done.stderr) or f"git {os.fsdecode(args[0])} failed "
                       f"(exit {done.returncode})")
    return done.stdout


def _environment() -> dict[str, str]:
    # Stable, parseable output whatever the user's locale and pager settings are.
    return {**os.environ, "LC_ALL": "C", "GIT_PAGER": "cat", "GIT_TERMINAL_PROMPT": "0"}


def _first_line(stderr: bytes) -> str:
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
                 pipe_input: bool = False, stdout: Any = subprocess.PIPE) -> None:
        import tempfile

        self.what = f"git {os.fsdecode(args[0])}" if args else "git"
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed by finish or kill)
        command = ["git", "-C", os.fsdecode(repo), *map(os.fsdecode, args)]
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
                                stdout=stdout, stderr=self._stderr, env=_environment(),
                                pipesize=pipe_size)

    def finish(self) -> None:
        """Wait for git to exit; raise GitError (with git's own message) if it failed."""
        for stream in (self.process.stdin, self.stdout):
            if stream:
                stream.close()
        code = self.process.wait()
        self._stderr.seek(0)
        stderr = self._stderr.read()
        self._stderr.close()
        if code != 0:
            raise GitError(_first_line(stderr) or f"{self.what} failed (exit {code})")

    def kill(self) -> None:
        """Stop git early (the reader gave up); errors after this are not reported."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.stdout, self._stderr):
            if stream:
                stream.close()

    def __enter__(self) -> GitProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


class CatFile:
    """One ``git cat-file --batch`` process answering object reads one at a time, for the few
    objects a source needs by id (a blob at a path, an old version to compare with)."""

    def __init__(self, repo: Path | bytes | str) -> None:
        self._git = GitProcess(repo, "cat-file", "--batch", pipe_input=True)

    def read(self, name: str) -> tuple[str, bytes] | None:
        """``(type, content)`` of the object ``name`` (an id or ``rev:path``), None if missing."""
        stdin = self._git.process.stdin
        assert stdin is not None
        if "\n" in name:
            return None
        stdout = self._git.stdout
        assert stdout is not None
        try:
            stdin.write(name.encode("utf-8", "surrogateescape") + b"\n")
            stdin.flush()
            header = stdout.readline()
        except BrokenPipeError:
            header = b""
        if not header:
            self._git.kill()
            raise GitError("git cat-file stopped unexpectedly")
        if header.endswith((b" missing\n", b" ambiguous\n")):
            return None
        fields = header.split()
        size = int(fields[2])
        content = stdout.read(size + 1)[:size]
        return fields[1].decode("ascii"), content

    def close(self) -> None:
        self._git.finish()

    def __enter__(self) -> CatFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._git.kill()


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
    command = ["git", "-C", os.fsdecode(repo), "cat-file", "--batch"]
    try:
        process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, env=_environment())
    except FileNotFoundError:
        raise GitError("git is not installed or not on PATH") from None
    assert process.stdin and process.stdout and process.stderr
    # A writer thread keeps git's input and output flowing together: writing every name first
    # would deadlock once both pipe buffers are full.
    writer = threading.Thread(target=_write_names, args=(process.stdin, ids), daemon=True)
    writer.start()
    try:
        for name in ids:
            header = process.stdout.readline()
            if not header:
                process.wait()
                raise GitError(_first_line(process.stderr.read())
                               or f"git cat-file stopped before {name} (exit {process.returncode})")
            if header.endswith(b" missing\n"):
                yield name, None, None
                continue
            _, kind, size_field = header.split()
            size = int(size_field)
            data = process.stdout.read(size)
            if len(data) != size or process.stdout.read(1) != b"\n":
                raise GitError(f"git cat-file output ended inside object {name}")
            yield name, kind.decode("ascii"), data
    finally:
        process.stdout.close()
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stderr.close()
        writer.join()


def read_blobs(repo: Path | bytes | str, ids: Sequence[str]) -> list[bytes]:
    """The contents of the objects in ``ids`` that the repository has."""
    return [data for _, _, data in cat_objects(repo, ids) if data is not None]


def _write_names(stream: IO[bytes], ids: Sequence[str]) -> None:
    try:
        for name in ids:
            stream.write(name.encode("ascii") + b"\n")
        stream.close()
    except (BrokenPipeError, ValueError):
        pass  # git exited early; the reader reports why
