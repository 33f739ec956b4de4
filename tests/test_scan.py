"""The pipeline: ``settle`` applies excludes and suppressions to findings from any source; the
screen it lends to sources that read big content."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import pytest
from keygen import make_key

from hvscan import scan
from hvscan.engine import Engine
from hvscan.excludes import path_filter
from hvscan.model import Origin
from hvscan.rules import load_builtin_rules
from hvscan.sources import Blob, Names, Screened, files, readahead
from hvscan.suppress import Suppressor

ENGINE = Engine(load_builtin_rules())


def test_excludes_apply_to_findings_of_sources_that_do_not_prune() -> None:
    # A history source may learn a blob's paths only after the scan: the pipeline filters.
    key = make_key("live", 21).encode()
    blobs = [
        Blob(key, Origin(source="history", path="vendor/lib/x.py", commit="a" * 40)),
        Blob(key, Origin(source="history", path="src/app.py", commit="a" * 40)),
        Blob(key, Origin(source="commit-message", path=None, commit="b" * 40)),
    ]
    result = scan.Pipeline(ENGINE).run(iter(blobs))
    scan.settle(result, path_filter(["vendor/"]), Suppressor())
    assert [(f.source, f.path) for f in result.findings] == [
        ("history", "src/app.py"), ("commit-message", None)]
    assert result.stats.files_scanned == 3 and result.stats.suppressed == 0


def test_without_excludes_every_finding_is_kept() -> None:
    key = make_key("test", 22).encode()
    result = scan.Pipeline(ENGINE).run(iter([Blob(key, Origin(source="file", path="vendor/x"))]))
    scan.settle(result, None, Suppressor())
    assert len(result.findings) == 1 and result.suppressed == []


def test_results_of_several_sources_add_up() -> None:
    key = make_key("live", 23).encode()
    first = scan.Pipeline(ENGINE).run(iter([Blob(key, Origin(source="file", path="a"))]))
    second = scan.Pipeline(ENGINE).run(iter([Blob(b"clean", Origin(source="history", path="b")),
                                    Blob(key, Origin(source="history", path="a"))]))
    first.add(second)
    assert [f.source for f in first.findings] == ["file", "history"]
    assert first.stats.files_scanned == 3
    assert first.stats.bytes_scanned == 2 * len(key) + len(b"clean")


# --- screening big content ----------------------------------------------------------------

PIPELINE = scan.Pipeline(ENGINE)


def test_screened_content_counts_as_scanned() -> None:
    origin = Origin("file", "big.log")
    result = scan.Pipeline(ENGINE).run(iter([Screened(origin, 5_000_000), Blob(b"small", origin)]))
    assert (result.stats.files_scanned, result.stats.bytes_scanned) == (2, 5_000_005)
    assert result.findings == [] and result.errors == []


def test_screen_wants_windows_holding_a_needle_and_containers() -> None:
    screen = PIPELINE.screen()
    # No needle, and no run (a long base64 run, looked for whole), is cut in two unseen.
    assert screen.overlap == max(*map(len, ENGINE.prefilter.needles),
                                 *(run.length for run in ENGINE.prefilter.runs)) - 1
    assert screen.needs_engine(memoryview(b"x = 'hv_test_'"), False)
    assert screen.needs_engine(memoryview(b"x: " + b"QUJD" * 18), False)
    assert not screen.needs_engine(memoryview(b"x: " + b"QUJD" * 17), False)
    # (``hv_`` alone is a needle: an escape may follow it inside the prefix.)
    assert not screen.needs_engine(memoryview(b"v_tes"), True)
    assert not screen.needs_engine(memoryview(b"nothing to see"), False)
    archive = memoryview(gzip.compress(b"nothing to see"))
    assert screen.needs_engine(archive, True) and not screen.needs_engine(archive, False)


def test_big_files_are_screened_and_keys_across_windows_found(tmp_path: Path) -> None:
    key = make_key("live", 31)
    line = b"some ordinary text, nothing secret in it\n"
    # The key starts a few bytes before the end of the first window.
    window = readahead.WINDOW + PIPELINE.screen().overlap
    head = (line * (window // len(line)) + b"k=" * 20)[: window - 4]
    (tmp_path / "keyed.log").write_bytes(head + key.encode() + b"\n" + line * 1000)
    (tmp_path / "clean.log").write_bytes(line * (3 * window // len(line)))
    events = list(files.walk([os.fsencode(tmp_path)], 1 << 30, screen=PIPELINE.screen()))
    assert isinstance(events[1], Screened) and events[1].origin.path == "clean.log"
    result = PIPELINE.run(iter(events))
    (finding,) = result.findings
    assert (finding.path, finding.secret) == ("keyed.log", key)
    assert finding.line == head.count(b"\n") + 1
    assert result.stats.bytes_scanned == sum(p.stat().st_size for p in tmp_path.iterdir())


def test_only_names_holding_a_needle_are_inspected() -> None:
    key = make_key("live", 60)
    names = [b"plain.txt", b"hv_but_no_key", f"k-{key}".encode(), b"\xff\n", b"x" * 200]
    assert scan.named(ENGINE, names) == [1, 2]
    assert scan.named(ENGINE, [b"plain", b"names"]) == [] and scan.named(ENGINE, []) == []
    asked: list[int] = []

    def blob(index: int) -> Blob:
        asked.append(index)
        return Blob(names[index], Origin("file", names[index].decode(), in_name=True),
                    file=False)

    result = PIPELINE.run(iter([Names(names[:3], blob)]))
    assert asked == [1, 2]
    (finding,) = result.findings
    assert (finding.path, finding.in_name, finding.column) == (f"k-{key}", True, 3)
    assert result.stats.files_scanned == 0


def test_a_name_met_many_times_is_looked_at_once_and_found_at_each_origin(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # A file's name comes once per version of its directory's tree: the engine's answer on it
    # is kept for the run, and each occurrence still makes its own finding.
    key = make_key("live", 61)
    names = [b"plain.txt", f"k-{key}".encode(), b"other.txt"]
    inspected: list[bytes] = []
    hits: list[bytes] = []
    engine = Engine(load_builtin_rules())
    inspect, prefilter_hits = engine.inspect, engine.prefilter.hits
    monkeypatch.setattr(engine, "inspect", lambda data: inspected.append(data) or inspect(data))
    monkeypatch.setattr(engine.prefilter, "hits",
                        lambda data: hits.append(bytes(data)) or prefilter_hits(data))

    def version(number: int) -> Names:
        def blob(index: int) -> Blob:
            return Blob(names[index], Origin("file", f"v{number}/{names[index].decode()}",
                                             in_name=True), file=False)
        return Names(names, blob)

    result = scan.Pipeline(engine).run(version(number) for number in range(50))
    assert inspected == [names[1]]
    # The first version's names joined, then each alone, then the engine's own look: none later.
    assert len(hits) == len(names) + 2
    assert [f.path for f in result.findings] == [f"v{n}/k-{key}" for n in range(50)]


def test_a_known_name_with_a_key_is_still_named_beside_new_clean_names() -> None:
    key = f"k-{make_key('live', 62)}".encode()
    needled: dict[bytes, bool] = {}
    assert scan.named(ENGINE, [b"a.txt", key], needled) == [1]
    assert scan.named(ENGINE, [b"new.txt", key], needled) == [1]  # the new name is clean
    assert b"new.txt" not in needled  # a clean list's names are not kept
