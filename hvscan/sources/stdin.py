"""The standard-input source (``hvscan stdin``)."""

from __future__ import annotations

from typing import BinaryIO

from hvscan.sources import Blob, Events, Failed, Origin

STDIN_PATH = "<stdin>"


def read(stream: BinaryIO) -> Events:
    try:
        data = stream.read()
    except OSError as exc:
        yield Failed(STDIN_PATH, exc.strerror or str(exc))
        return
    yield Blob(data, Origin(source="stdin", path=STDIN_PATH))
