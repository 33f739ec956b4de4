"""The pipeline: events through the engine into findings and statistics, and the screen it
lends to sources that read big content."""

from __future__ import annotations

import os
from pathlib import Path

from keygen import make_key

from hvscan import scan
from hvscan.engine import Engine
from hvscan.rules import load_builtin_rules
from hvscan.sources import Blob, Origin, Screened, files, readahead

ENGINE = Engine(load_builtin_rules())


def test_screened_content_counts_as_scanned() -> None:
    origin = Origin("file", "big.log")
    result = scan.run(ENGINE, iter([Screened(origin, 5_000_000), Blob(b"small", origin)]))
    assert (result.stats.files_scanned, result.stats.bytes_scanned) == (2, 5_000_005)
    assert result.findings == [] and result.errors == []


def test_screen_wants_windows_holding_a_needle() -> None:
    screen = scan.screen(Engine(load_builtin_rules()))
    assert screen.overlap == len("hv_live_") - 1
    assert screen.needs_engine(memoryview(b"x = 'hv_test_'"), False)
    assert not screen.needs_engine(memoryview(b"hv_tes"), True)
    assert not screen.needs_engine(memoryview(b"nothing to see"), False)


def test_big_files_are_screened_and_keys_across_windows_found(tmp_path: Path) -> None:
    key = make_key("live", 31)
    line = b"some ordinary text, nothing secret in it\n"
    # The key starts a few bytes before the end of the first window.
    window = readahead.WINDOW + scan.screen(ENGINE).overlap
    head = (line * (window // len(line)) + b"k=" * 20)[: window - 4]
    (tmp_path / "keyed.log").write_bytes(head + key.encode() + b"\n" + line * 1000)
    (tmp_path / "clean.log").write_bytes(line * (3 * window // len(line)))
    events = list(files.walk([os.fsencode(tmp_path)], 1 << 30, scan.screen(ENGINE)))
    assert isinstance(events[0], Screened) and events[0].origin.path == "clean.log"
    result = scan.run(ENGINE, iter(events))
    (finding,) = result.findings
    assert (finding.path, finding.secret) == ("keyed.log", key)
    assert finding.line == head.count(b"\n") + 1
    assert result.stats.bytes_scanned == sum(p.stat().st_size for p in tmp_path.iterdir())
