"""The process's standard streams: a stream the caller closed, and the report written to
standard output. Shared by the entry point's fast path and the full command line (``runner.py``),
and cheap to import (``os`` and ``sys`` only)."""

from __future__ import annotations

import os
import sys


def hold_closed_streams() -> None:
    """Python makes a standard stream that was closed (``2>&-``) None. Its descriptor is given
    /dev/null, so that no file opened later takes its number (git's messages or a report would
    be written into that file). Messages for a closed standard error go nowhere (they would fail,
    or print them into the report on standard output); the exit code still tells. A closed
    standard input or output stays None: the commands that need it say so."""
    for name in ("stdin", "stdout", "stderr"):
        if getattr(sys, name) is None:
            held = os.open(os.devnull, os.O_RDWR)  # the lowest free descriptor: this one
            if name == "stderr":
                sys.stderr = open(held, "w", closefd=False)  # noqa: SIM115 (for the whole run)


def write_stdout(text: str) -> None:
    """Write ``text`` (a report) to standard output, flushed. A report that cannot be written (a
    full disk, a reader that closed the pipe, standard output closed) ends the run with one line
    and exit code 2: a verdict nobody received is no verdict."""
    try:
        if sys.stdout is None:
            import errno

            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        sys.stdout.write(text)
        sys.stdout.flush()
    except OSError as exc:
        # What is still buffered would fail again when Python exits, with a traceback.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (for the rest of the run)
        sys.stderr.write("hvscan: error: cannot write the report to standard output: "
                         f"{exc.strerror or exc}\n")
        sys.exit(2)
