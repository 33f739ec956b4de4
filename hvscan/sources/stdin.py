"""The standard-input source (``hvscan stdin``): at most ``--max-file-size`` bytes of it are
read and scanned, so memory stays bounded however much is piped in; when there was more, the
report lists standard input as skipped, with the reason, and the rest is never read."""

from __future__ import annotations

import io
from typing import BinaryIO

from hvscan.model import Origin
from hvscan.sources import Blob, Events, Failed, Skipped

STDIN_PATH = "<stdin>"
# Read this much at a time: asking for the whole limit at once would allocate all of it up
# front, which the system may refuse for a large limit.
_CHUNK = 16 << 20


def read(stream: BinaryIO, max_size: int) -> Events:
    # Gathered in a BytesIO, whose value is handed over without a copy (joining pieces would
    # hold the input twice).
    gathered = io.BytesIO()
    try:
        while (left := max_size - gathered.tell()) > 0 and (
                chunk := stream.read(min(left, _CHUNK))):
            gathered.write(chunk)
        more = bool(stream.read(1))
    except OSError as exc:
        yield Failed(STDIN_PATH, exc.strerror or str(exc))
        return
    yield Blob(gathered.getvalue(), Origin(source="stdin", path=STDIN_PATH))
    if more:
        yield Skipped(STDIN_PATH, f"larger than --max-file-size ({max_size} bytes): only the "
                      f"first {max_size} bytes were scanned")
