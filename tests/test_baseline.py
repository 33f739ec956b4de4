"""Baselines: recording accepted findings, and scans that report only new ones."""

from __future__ import annotations

import hashlib
import json
import ntpath
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from gitrepo import GitRepo
from hvscan_run import Run
from keygen import make_key

from hvscan import baseline
from hvscan.engine import Engine
from hvscan.findings import make_finding
from hvscan.model import Finding, Origin
from hvscan.rules import load_builtin_rules
from hvscan.sources import files

ENGINE = Engine(load_builtin_rules())
LIVE, TEST = make_key("live", 11), make_key("test", 12)


def finding(key: str, path: str | None, line: int = 1, source: str = "file") -> Finding:
    (match,) = ENGINE.scan(("\n" * (line - 1) + key).encode())
    return make_finding(match, Origin(source=source, path=path,
                                      commit="c" * 40 if source == "history" else None))


def test_entries_are_unique_sorted_and_hold_no_key_or_line() -> None:
    found = [finding(LIVE, "b.py", 3), finding(TEST, "a.py"), finding(LIVE, "b.py", 9),
             finding(LIVE, None, source="history")]
    items = baseline.entries(found)
    assert [(e["path"], e["rule_id"]) for e in items] == [
        (None, "hesedvid-live-key"), ("a.py", "hesedvid-test-key"), ("b.py", "hesedvid-live-key")]
    assert set(items[0]) == {"fingerprint", "rule_id", "path", "secret_sha256", "secret_redacted"}
    text = baseline.dumps(items)
    assert LIVE not in text and TEST not in text
    assert '"line"' not in text and '"commit"' not in text and "date" not in text


def test_output_does_not_depend_on_order_or_line_numbers() -> None:
    one = baseline.dumps(baseline.entries([finding(LIVE, "b.py", 3), finding(TEST, "a.py")]))
    two = baseline.dumps(baseline.entries([finding(TEST, "a.py", 40), finding(LIVE, "b.py")]))
    assert one == two and one.endswith("}\n")


def test_write_then_load_matches_by_rule_and_key(tmp_path: Path) -> None:
    path = tmp_path / "b.json"
    assert baseline.write(path, baseline.entries([finding(LIVE, "a.py"),
                                                  finding(LIVE, "a.py", 5)])) == 1
    assert oct(path.stat().st_mode & 0o777) == oct(0o644)
    loaded = baseline.load(path)
    assert loaded.contains(finding(LIVE, "a.py", 30))
    assert loaded.contains(finding(LIVE, "moved/elsewhere.py"))
    assert loaded.contains(finding(LIVE, "a.py", source="history"))
    assert not loaded.contains(finding(TEST, "a.py"))


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(baseline.BaselineError, match="cannot write baseline"):
        baseline.write(tmp_path / "missing-dir" / "b.json",
                       baseline.entries([finding(LIVE, "a.py")]))
    (tmp_path / "dir.json").mkdir()
    with pytest.raises(baseline.BaselineError, match="cannot write baseline"):
        baseline.write(tmp_path / "dir.json", baseline.entries([finding(LIVE, "a.py")]))
    assert [p.name for p in tmp_path.iterdir()] == ["dir.json"]


GOOD = {"fingerprint": "a" * 32, "rule_id": "r", "path": "p", "secret_sha256": "b" * 64,
        "secret_redacted": "x"}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{", "baseline is not valid JSON"),
        ('{"tool": "hvscan", "findings": []}', "not an hvscan baseline"),
        ({"hvscan_baseline": 2, "findings": []}, "not an hvscan baseline"),
        ({"hvscan_baseline": 1, "findings": {}}, "field 'findings' must be a list"),
        ({"hvscan_baseline": 1, "findings": [3]}, r"findings\[0\]: must be an object"),
        ({"hvscan_baseline": 1, "findings": [{**GOOD, "line": 3}]}, "unknown field 'line'"),
        ({"hvscan_baseline": 1, "findings": [{**GOOD, "secret_sha256": "B" * 64}]},
         "'secret_sha256' must be 64 lowercase hex digits"),
        ({"hvscan_baseline": 1, "findings": [{**GOOD, "fingerprint": "a"}]},
         "'fingerprint' must be 32 lowercase hex digits"),
        ({"hvscan_baseline": 1, "findings": [{**GOOD, "rule_id": ""}]},
         "'rule_id' must be a non-empty string"),
        ({"hvscan_baseline": 1, "findings": [{**GOOD, "reason": 3}]},
         "field 'reason' must be a string"),
        ({"hvscan_baseline": 1, "findings": [{**GOOD, "accepted_by": None}]},
         "field 'accepted_by' must be a string"),
        ({"hvscan_baseline": 1, "findings": [{**GOOD, "path": ["p"]}]},
         "field 'path' must be a string or null"),
        ({"hvscan_baseline": 1, "findings": [{**GOOD, "accepted": "yes"}]},
         "unknown field 'accepted'"),
    ],
)
def test_load_rejects_what_is_not_a_baseline(
    tmp_path: Path, document: Any, message: str
) -> None:
    path = tmp_path / "b.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    with pytest.raises(baseline.BaselineError, match=message):
        baseline.load(path)


# Review: notes, and updates that change only what changed (issue 14, item 6)

OLD = make_key("live", 15)


def test_notes_are_optional_and_written_in_one_field_order(tmp_path: Path) -> None:
    noted = baseline.entries([finding(LIVE, "a.py")], baseline.Notes("test fixture", "ana"))
    assert noted[0]["reason"] == "test fixture" and noted[0]["accepted_by"] == "ana"
    only_reason = baseline.entries([finding(LIVE, "a.py")], baseline.Notes("fixture"))
    assert "accepted_by" not in only_reason[0]
    # Whatever order a file holds an entry's fields in, it is written in one order.
    shuffled = [dict(reversed(list(noted[0].items())))]
    assert baseline.dumps(shuffled) == baseline.dumps(noted)
    assert list(json.loads(baseline.dumps(shuffled))["findings"][0]) == [
        "fingerprint", "rule_id", "path", "secret_sha256", "secret_redacted", "reason",
        "accepted_by"]


def test_update_keeps_removes_and_adds_only_what_changed() -> None:
    old = baseline.entries([finding(LIVE, "a.py"), finding(OLD, "old.py")],
                           baseline.Notes("revoked 2024-05", "ana"))
    old[0].pop("accepted_by")  # an entry with a reason only keeps exactly that
    now = [finding(LIVE, "a.py", 40), finding(TEST, "t.py")]
    items, change = baseline.update(old, now, baseline.Notes("fixture", None))
    assert change.kept == 1
    assert [e["path"] for e in change.removed] == ["old.py"]
    assert [(e["path"], e.get("reason"), e.get("accepted_by")) for e in change.added] == [
        ("t.py", "fixture", None)]
    assert [(e["path"], e.get("reason"), e.get("accepted_by")) for e in items] == [
        ("a.py", "revoked 2024-05", None), ("t.py", "fixture", None)]
    # The same findings again: nothing changes, byte for byte.
    again, change = baseline.update(items, now)
    assert baseline.dumps(again) == baseline.dumps(items)
    assert (change.added, change.removed, change.kept) == ([], [], 2)


def test_update_a_moved_key_keeps_its_acceptance_unless_told_otherwise() -> None:
    old = baseline.entries([finding(LIVE, "a.py")], baseline.Notes("revoked", "ana"))
    moved = [finding(LIVE, "src/a.py")]
    items, change = baseline.update(old, moved)
    assert [(e["path"], e["reason"], e["accepted_by"]) for e in items] == [
        ("src/a.py", "revoked", "ana")]
    assert len(change.added) == len(change.removed) == 1
    items, _ = baseline.update(old, moved, baseline.Notes(None, "bo"))
    assert [(e["reason"], e["accepted_by"]) for e in items] == [("revoked", "bo")]


def test_a_baseline_written_before_notes_loads_and_updates(tmp_path: Path) -> None:
    # The format as hvscan wrote it before notes existed (five fields an entry).
    entry = {"fingerprint": finding(LIVE, "a.py").fingerprint, "rule_id": "hesedvid-live-key",
             "path": "a.py", "secret_sha256": finding(LIVE, "a.py").secret_sha256,
             "secret_redacted": finding(LIVE, "a.py").secret_redacted}
    text = json.dumps({"hvscan_baseline": 1, "findings": [entry]}, indent=2) + "\n"
    path = tmp_path / "old.json"
    path.write_text(text)
    assert baseline.load(path).contains(finding(LIVE, "elsewhere.py"))
    items, change = baseline.update(baseline.read_entries(path), [finding(LIVE, "a.py")])
    assert baseline.dumps(items) == text and change.kept == 1


# Fingerprints on every platform: paths are POSIX and relative, so a baseline or ignore file
# written on Windows matches on Linux.


def test_reported_paths_are_posix_whatever_the_separator(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(files.os, "sep", "\\")
    monkeypatch.setattr(files.os, "path", ntpath)
    assert files._posix(b"sub\\dir\\") == b"sub/dir"
    assert files._posix(b".\\sub\\..\\src") == b"src"


def test_fingerprint_is_a_function_of_rule_posix_path_and_key_only() -> None:
    local = finding(LIVE, "src/app.py", 3)
    assert finding(LIVE, "src/app.py", 77, source="history").fingerprint == local.fingerprint
    assert finding(LIVE, "src/app.py", source="staged").fingerprint == local.fingerprint
    # A fixed value: it must never change between runs, machines, platforms or versions.
    assert local.fingerprint == hashlib.sha256(
        f"hesedvid-live-key\0src/app.py\0{local.secret_sha256}".encode()).hexdigest()[:32]


# Through the real command


@pytest.fixture
def repo(repo: GitRepo) -> Path:
    """The shared empty repository's directory, holding two keys and a clean file."""
    repo.write("src/app.py", f'import os\n\nKEY = "{LIVE}"\n')
    repo.write("src/dev.env", f"HV={TEST}\n")
    repo.write("README.md", "nothing here\n")
    return repo.path


def record(run_hvscan: Run, repo: Path, *args: str) -> bytes:
    done = run_hvscan("baseline", *args, cwd=repo)
    assert done.returncode == 0, done.stderr
    return (repo / ".hvscan-baseline.json").read_bytes()


def scan(run_hvscan: Run, repo: Path, *args: str) -> tuple[int, list[str]]:
    done = run_hvscan("dir", "--baseline", ".hvscan-baseline.json", "--format", "json", *args,
                      cwd=repo)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode, [f["path"] for f in json.loads(done.stdout)["findings"]]


def test_baseline_records_and_scans_report_only_new(repo: Path, run_hvscan: Run) -> None:
    done = run_hvscan("baseline", cwd=repo)
    assert "recorded 2 findings in .hvscan-baseline.json" in done.stderr.decode()
    recorded = json.loads((repo / ".hvscan-baseline.json").read_bytes())
    assert recorded["hvscan_baseline"] == 1
    assert [e["path"] for e in recorded["findings"]] == ["src/app.py", "src/dev.env"]
    assert scan(run_hvscan, repo) == (0, [])
    (repo / "src" / "new.py").write_text(f"K = '{make_key('live', 13)}'\n")
    assert scan(run_hvscan, repo) == (1, ["src/new.py"])
    report = json.loads(run_hvscan("dir", "--baseline", ".hvscan-baseline.json", "--format",
                                   "json", "--show-suppressed", cwd=repo).stdout)
    assert report["stats"]["suppressed"] == 2
    assert {s["suppression"] for s in report["suppressed"]} == {"baseline"}


def test_rerun_on_an_unchanged_tree_is_byte_identical(repo: Path, run_hvscan: Run) -> None:
    first = record(run_hvscan, repo)
    assert record(run_hvscan, repo) == first
    assert record(run_hvscan, repo, str(repo)) == first  # an absolute root reports the same paths
    text = first.decode()
    assert LIVE not in text and TEST not in text and '"line"' not in text
    assert re.search(r"20\d\d-\d\d", text) is None  # no timestamps
    assert b"\r" not in first


def test_moving_code_does_not_invalidate_it(repo: Path, run_hvscan: Run) -> None:
    before = record(run_hvscan, repo)
    app = repo / "src" / "app.py"
    app.write_text("# a header\n\n\n" + app.read_text() + "\nmore = 1\n")
    assert scan(run_hvscan, repo) == (0, [])
    (repo / "src" / "moved").mkdir()
    app.rename(repo / "src" / "moved" / "settings.py")
    assert scan(run_hvscan, repo) == (0, [])
    assert (repo / ".hvscan-baseline.json").read_bytes() == before  # scans never rewrite it
    # Re-recording after an edit above the key changes nothing either.
    (repo / "src" / "moved").rename(repo / "src" / "tmp")
    (repo / "src" / "tmp" / "settings.py").rename(app)
    (repo / "src" / "tmp").rmdir()
    assert record(run_hvscan, repo) == before


def test_suppressed_and_excluded_findings_are_not_recorded(repo: Path, run_hvscan: Run) -> None:
    (repo / "src" / "dev.env").write_text(f"HV={TEST}  # hvscan:allow\n")
    (repo / ".hvscan.toml").write_text('exclude = ["*.py"]\n')
    assert json.loads(record(run_hvscan, repo))["findings"] == []


def test_same_paths_and_options_as_dir(repo: Path, run_hvscan: Run) -> None:
    data = json.loads(record(run_hvscan, repo, "src/dev.env", "--output", ".hvscan-baseline.json"))
    assert [e["path"] for e in data["findings"]] == ["src/dev.env"]
    data = json.loads(record(run_hvscan, repo, "--max-file-size", "10"))
    assert data["findings"] == []
    done = run_hvscan("baseline", "-o", "custom.json", "--exclude", "*.env", cwd=repo)
    assert done.returncode == 0
    assert [e["path"] for e in json.loads((repo / "custom.json").read_text())["findings"]] == [
        "src/app.py"]


def test_incomplete_scan_writes_no_baseline(repo: Path, run_hvscan: Run) -> None:
    done = run_hvscan("baseline", ".", "missing", cwd=repo)
    assert done.returncode == 2
    assert "error: missing:" in done.stderr.decode()
    assert ".hvscan-baseline.json not written" in done.stderr.decode()
    assert not (repo / ".hvscan-baseline.json").exists()


def test_bad_baseline_file_is_one_line_exit_2(repo: Path, run_hvscan: Run) -> None:
    for content, message in (("[]", "not an hvscan baseline"), (None, "cannot read baseline")):
        if content is not None:
            (repo / ".hvscan-baseline.json").write_text(content)
        done = run_hvscan("dir", "--baseline", "b.json" if content is None else
                          ".hvscan-baseline.json", cwd=repo)
        err = done.stderr.decode()
        assert done.returncode == 2 and err.count("\n") == 1 and message in err, err


def test_baseline_from_the_config_file(repo: Path, run_hvscan: Run) -> None:
    record(run_hvscan, repo)
    (repo / "ci").mkdir()
    os.replace(repo / ".hvscan-baseline.json", repo / "ci" / "accepted.json")
    (repo / ".hvscan.toml").write_text('baseline = "ci/accepted.json"\n')
    assert run_hvscan("dir", cwd=repo / "src").returncode == 0
    assert run_hvscan("stdin", input=LIVE.encode(), cwd=repo).returncode == 0
    assert run_hvscan("stdin", input=make_key("live", 14).encode(), cwd=repo).returncode == 1


def test_baseline_git_records_history_too(tmp_path: Path, gitenv: dict[str, str],
                                          run_hvscan: Run) -> None:
    repo = GitRepo(tmp_path / "hist", gitenv)
    old, kept, new = make_key("live", 31), make_key("test", 32), make_key("live", 33)
    repo.write("src/old.py", f"KEY = '{old}'\n")
    repo.write("src/kept.py", f"KEY = '{kept}'\n")
    repo.add(".")
    repo.commit("keys")
    repo.write("src/old.py", "KEY = None\n")
    repo.add(".")
    repo.commit("remove the old key from the tree")
    root = repo.path

    def hv(*args: str) -> subprocess.CompletedProcess[bytes]:
        return run_hvscan(*args, cwd=root, env=repo.env)

    done = hv("baseline")
    assert "recorded 1 finding" in done.stderr.decode()
    assert hv("git", "--baseline", ".hvscan-baseline.json").returncode == 1
    done = hv("baseline", "--git")
    assert done.returncode == 0, done.stderr
    recorded = json.loads((root / ".hvscan-baseline.json").read_text())
    assert sorted(e["path"] for e in recorded["findings"]) == ["src/kept.py", "src/old.py"]
    assert hv("git", "--baseline", ".hvscan-baseline.json").returncode == 0
    assert hv("dir", "--baseline", ".hvscan-baseline.json").returncode == 0
    assert hv("baseline", "--git").returncode == 0
    assert (root / ".hvscan-baseline.json").read_text() == json.dumps(recorded, indent=2) + "\n"
    repo.write("src/new.py", f"KEY = '{new}'\n")
    repo.add(".")
    repo.commit("a new key")
    done = hv("git", "--baseline", ".hvscan-baseline.json", "--format", "json")
    assert [f["path"] for f in json.loads(done.stdout)["findings"]] == ["src/new.py"]


def test_update_through_the_command(repo: Path, run_hvscan: Run) -> None:
    done = run_hvscan("baseline", "--reason", "test keys of the dev account", "--accepted-by",
                      "ana", cwd=repo)
    assert done.returncode == 0, done.stderr
    first = json.loads((repo / ".hvscan-baseline.json").read_text())["findings"]
    assert {(e["reason"], e["accepted_by"]) for e in first} == {
        ("test keys of the dev account", "ana")}
    # One key goes, another comes: only those two entries change.
    (repo / "src" / "dev.env").write_text("HV=\n")
    (repo / "src" / "new.py").write_text(f"K = '{make_key('live', 16)}'\n")
    done = run_hvscan("baseline", "--update", "--reason", "a fixture", cwd=repo)
    assert done.returncode == 0, done.stderr
    err = done.stderr.decode()
    assert "hvscan: updated .hvscan-baseline.json: added 1, removed 1, kept 1" in err
    assert "  added: src/new.py: hesedvid-live-key hv_live_" in err
    assert "  removed: src/dev.env: hesedvid-test-key hv_test_" in err
    assert make_key("live", 16) not in err and TEST not in err
    updated = (repo / ".hvscan-baseline.json").read_bytes()
    assert [(e["path"], e["reason"], e.get("accepted_by")) for e in
            json.loads(updated)["findings"]] == [
        ("src/app.py", "test keys of the dev account", "ana"), ("src/new.py", "a fixture", None)]
    assert make_key("live", 16).encode() not in updated
    done = run_hvscan("baseline", "--update", cwd=repo)
    assert "added 0, removed 0, kept 2" in done.stderr.decode()
    assert (repo / ".hvscan-baseline.json").read_bytes() == updated
    assert scan(run_hvscan, repo) == (0, [])
    # Without --update the file is recorded anew: the notes given, or none.
    run_hvscan("baseline", cwd=repo)
    assert all("reason" not in e for e in
               json.loads((repo / ".hvscan-baseline.json").read_text())["findings"])


@pytest.mark.parametrize(("args", "message"), [
    (("--update", "-o", "missing.json"),
     "missing.json: no baseline to update; record one first with 'hvscan baseline'"),
    (("--reason", " "), "Invalid value for --reason: must not be empty"),
    (("--accepted-by", ""), "Invalid value for --accepted-by: must not be empty"),
])
def test_update_and_notes_errors_exit_2(repo: Path, run_hvscan: Run, args: tuple[str, ...],
                                        message: str) -> None:
    done = run_hvscan("baseline", *args, cwd=repo)
    assert done.returncode == 2 and message in done.stderr.decode()
    assert not (repo / ".hvscan-baseline.json").exists() and not (repo / "missing.json").exists()


def test_update_refuses_a_file_that_is_not_a_baseline(repo: Path, run_hvscan: Run) -> None:
    (repo / ".hvscan-baseline.json").write_text('{"hvscan_baseline": 1, "findings": [{"x": 1}]}')
    done = run_hvscan("baseline", "--update", cwd=repo)
    assert done.returncode == 2 and "unknown field 'x'" in done.stderr.decode()
    assert (repo / ".hvscan-baseline.json").read_text().endswith('[{"x": 1}]}')


def test_baseline_git_outside_a_repository_is_exit_2(tmp_path: Path, run_hvscan: Run) -> None:
    done = run_hvscan("baseline", "--git", cwd=tmp_path)
    assert done.returncode == 2 and "not a git repository" in done.stderr.decode()
    assert not (tmp_path / ".hvscan-baseline.json").exists()


def test_history_findings_are_excluded_and_suppressed_like_files(
    tmp_path: Path, gitenv: dict[str, str], run_hvscan: Run
) -> None:
    repo = GitRepo(tmp_path / "hist", gitenv)
    repo.write("vendor/lib.py", f"KEY = '{make_key('live', 34)}'\n")
    repo.write("src/ok.py", f"KEY = '{make_key('live', 35)}'  # hvscan:allow\n")
    repo.write("src/bad.py", f"KEY = '{make_key('live', 36)}'\n")
    repo.add(".")
    repo.commit("keys")
    (repo.path / ".hvscan.toml").write_text('exclude = ["vendor/"]\n')
    done = run_hvscan("git", "--format", "json", "--show-suppressed", cwd=repo.path, env=repo.env)
    report = json.loads(done.stdout)
    assert [f["path"] for f in report["findings"]] == ["src/bad.py"]
    assert [(f["path"], f["suppression"]) for f in report["suppressed"]] == [
        ("src/ok.py", "inline")]
