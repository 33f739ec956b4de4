"""Standard input: read up to --max-file-size, and the report says when there was more."""

from __future__ import annotations

import io
import json
from unittest import mock

from hvscan_run import Run
from keygen import key_sha256, make_key

from hvscan.model import Origin
from hvscan.sources import Blob, Skipped, stdin


class Feed(io.BytesIO):
    """A stream that records how much was read from it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.asked = 0

    def read(self, size: int | None = -1) -> bytes:
        chunk = super().read(size)
        self.asked += len(chunk)
        return chunk


def test_input_within_the_limit_is_one_blob() -> None:
    events = list(stdin.read(io.BytesIO(b"x" * 100), 100))
    assert events == [Blob(b"x" * 100, Origin("stdin", "<stdin>"))]


def test_more_than_the_limit_is_not_read_and_is_reported() -> None:
    feed = Feed(b"abcdefghij" * 10)
    with mock.patch.object(stdin, "_CHUNK", 7):  # in pieces, as a big input is
        events = list(stdin.read(feed, 25))
    assert events == [
        Blob(b"abcdefghij" * 2 + b"abcde", Origin("stdin", "<stdin>")),
        Skipped("<stdin>", "larger than --max-file-size (25 bytes): only the first 25 bytes "
                "were scanned"),
    ]
    assert feed.asked == 26  # the limit, and one byte to tell there is more


def test_command_scans_up_to_the_limit_and_lists_the_rest(run_hvscan: Run) -> None:
    first, late = make_key("live", 40), make_key("live", 41)
    data = f"{first}\n".encode() + b"y" * 2000 + f"\n{late}\n".encode()
    done = run_hvscan("stdin", "--max-file-size", "1000", "--format", "json", input=data)
    report = json.loads(done.stdout)
    assert [f["secret_sha256"][:8] for f in report["findings"]] == [
        key_sha256(first)[:8]]
    assert report["skipped"] == [{"path": "<stdin>", "reason": "larger than --max-file-size "
                                  "(1000 bytes): only the first 1000 bytes were scanned",
                                  "informational": False}]
    everything = run_hvscan("stdin", "--max-file-size", "3000", "--format", "json", input=data)
    assert len(json.loads(everything.stdout)["findings"]) == 2
