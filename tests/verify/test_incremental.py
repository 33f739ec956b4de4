"""Verification in an incremental history audit: keys found by an earlier audit are not in the
state file, but the objects holding them are read again, so they are verified as on a full run."""

from __future__ import annotations

import json
from pathlib import Path

from gitrepo import DatedRepo
from hvscan_run import Run
from verify_servers import LIVE_200, FakeApi, Reply


def test_keys_from_an_earlier_audit_are_verified(api: FakeApi, dated_repo: DatedRepo,
                                                 run_hvscan: Run, tmp_path: Path) -> None:
    dated_repo.write("app.py", f'LIVE = "{LIVE_200}"\n')
    dated_repo.commit("key")
    api.plan(LIVE_200, Reply(200), Reply(200))
    store = tmp_path / "state.sqlite3"
    for run in (1, 2):
        done = run_hvscan("git", dated_repo.path, "--state", store, "--verify", "--api-base",
                          api.url, "--format", "json")
        report = json.loads(done.stdout)
        assert [f["verification"]["status"] for f in report["findings"]] == ["live"]
        assert api.count(LIVE_200) == run
    assert LIVE_200.encode() not in store.read_bytes()
