"""Writing a file whole or not at all: a failed or interrupted run never leaves half a file
where a baseline, a verification cache or a report was, and never leaves its temporary file
behind."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes, mode: int) -> None:
    """Replace ``path`` with ``data``, file mode ``mode``; raises OSError."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def write_report(path: Path, data: bytes) -> None:
    """Write a report to ``path`` (``--output``): atomically when it is a regular file or does not
    exist yet (through a symbolic link, the file it points to), so that a failed write keeps the
    previous report; straight into anything else (``/dev/stdout``, a pipe). A replaced file keeps
    its mode; a new one gets what ``open`` would give it. Raises OSError."""
    try:
        mode: int | None = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        with open(path, "wb") as out:
            out.write(data)
        return
    write_atomically(Path(os.path.realpath(path)), data,
                     stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0o077)  # reading it means setting it: put it straight back
    os.umask(mask)
    return mask
