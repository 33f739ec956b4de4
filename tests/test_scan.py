"""The pipeline: ``settle`` applies excludes and suppressions to findings from any source."""

from __future__ import annotations

from keygen import make_key

from hvscan import scan
from hvscan.config import path_filter
from hvscan.engine import Engine
from hvscan.rules import load_builtin_rules
from hvscan.sources import Blob, Origin
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
    result = scan.run(ENGINE, iter(blobs))
    scan.settle(result, path_filter(["vendor/"]), Suppressor())
    assert [(f.source, f.path) for f in result.findings] == [
        ("history", "src/app.py"), ("commit-message", None)]
    assert result.stats.files_scanned == 3 and result.stats.suppressed == 0


def test_without_excludes_every_finding_is_kept() -> None:
    key = make_key("test", 22).encode()
    result = scan.run(ENGINE, iter([Blob(key, Origin(source="file", path="vendor/x"))]))
    scan.settle(result, None, Suppressor())
    assert len(result.findings) == 1 and result.suppressed == []


def test_results_of_several_sources_add_up() -> None:
    key = make_key("live", 23).encode()
    first = scan.run(ENGINE, iter([Blob(key, Origin(source="file", path="a"))]))
    second = scan.run(ENGINE, iter([Blob(b"clean", Origin(source="history", path="b")),
                                    Blob(key, Origin(source="history", path="a"))]))
    first.add(second)
    assert [f.source for f in first.findings] == ["file", "history"]
    assert first.stats.files_scanned == 3
    assert first.stats.bytes_scanned == 2 * len(key) + len(b"clean")
