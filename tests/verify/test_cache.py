"""The verification cache: answers, never keys; expiry; runs sharing the file merge answers."""

from __future__ import annotations

import json
import multiprocessing
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from verify_servers import (
    DEAD,
    LIVE_200,
    OUTAGE,
    SPEC,
    FakeApi,
    Reply,
    by_key,
    findings_in,
    settings,
    verify_findings,
)

from hvscan.verify import DiskCache, VerifyError
from hvscan.verify.policy import classify


def test_disk_cache_keeps_answers_not_keys(api: FakeApi, tmp_path: Path) -> None:
    api.plan(LIVE_200, Reply(200))
    api.plan(OUTAGE, Reply(503))
    path = tmp_path / "cache.json"
    for run in range(2):
        findings = by_key(findings_in(f"{LIVE_200} {DEAD} {OUTAGE}"))
        cache = DiskCache.load(path, ttl=3600)
        verify_findings(list(findings.values()), settings(api), cache)
        assert findings[LIVE_200].verification["cached"] is (run == 1)  # type: ignore[index]
        assert findings[LIVE_200].verification["status"] == "live"  # type: ignore[index]
        assert findings[DEAD].verification["status"] == "invalid"  # type: ignore[index]
    # Live and invalid answers were asked once; an outage is asked again on every run.
    assert (api.count(LIVE_200), api.count(DEAD), api.count(OUTAGE)) == (1, 1, 2)
    text = path.read_text()
    for key in (LIVE_200, DEAD, OUTAGE):
        assert key not in text and key[8:] not in text
    stored = json.loads(text)["entries"]
    assert sorted(e["status"] for e in stored.values()) == ["invalid", "live"]
    assert all(set(e) == {"status", "http_status", "time"} for e in stored.values())
    assert path.stat().st_mode & 0o077 == 0


def test_disk_cache_entries_expire(api: FakeApi, tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    for _ in range(2):
        findings = findings_in(DEAD)
        verify_findings(findings, settings(api), DiskCache.load(path, ttl=0))
    assert api.count(DEAD) == 2


def _save_after_all_loaded(path: Path, cache_id: str, barrier: Any) -> None:
    cache = DiskCache.load(path, ttl=3600)
    barrier.wait()  # every process has read the file before any writes it
    cache.put(cache_id, classify(SPEC, 200, True))
    cache.save()


def test_concurrent_runs_sharing_a_cache_merge_their_answers(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    earlier = DiskCache.load(path, ttl=3600)
    earlier.put("earlier", classify(SPEC, 401, True))
    earlier.save()
    context = multiprocessing.get_context("fork")
    runs = 6
    barrier = context.Barrier(runs)
    processes = [context.Process(target=_save_after_all_loaded,
                                 args=(path, f"run-{i}", barrier)) for i in range(runs)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
    assert [process.exitcode for process in processes] == [0] * runs
    entries = DiskCache.load(path, ttl=3600).entries
    assert sorted(entries) == ["earlier", *(f"run-{i}" for i in range(runs))]
    assert path.stat().st_mode & 0o077 == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache.json", "cache.json.lock"]


def test_disk_cache_keeps_the_newer_answer(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    older, newer = (DiskCache.load(path, ttl=3600) for _ in range(2))
    newer.put("k", classify(SPEC, 401, True))
    older.put("k", replace(classify(SPEC, 200, True), checked_at=time.time() - 60))
    newer.save()
    older.save()
    assert DiskCache.load(path, ttl=3600).entries["k"]["status"] == "invalid"


def test_disk_cache_that_is_not_one_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "cache.json"
    for text in ("not json", "[1]", '{"version": 99, "entries": {}}'):
        path.write_text(text)
        with pytest.raises(VerifyError):
            DiskCache.load(path, ttl=60)
