"""``hvscan git`` over several repositories (hvscan/commands/many.py) and ``hvscan merge``
(hvscan/commands/merge.py), through the console script: local paths and file:// mirrors (no
network in tests)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from gitrepo import DatedRepo
from hvscan_run import Run
from keygen import key_sha256, make_key
from processes import assert_stopped, descendants, in_sessions, processes, still_running
from statefiles import NOT_UPDATED, fill_up, make_room


class Fleet:
    """Four repositories: two local ones sharing a key, a bare remote (audited through its
    file:// URL) whose pull-request ref alone holds a key, and a path that does not exist."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.root = root
        self.env = env
        self.shared, self.own, self.remote_key, self.pull_key = (
            make_key("live", seed) for seed in (501, 502, 503, 504))
        one = DatedRepo(root / "one", env)
        one.write("app.py", f"KEY = '{self.shared}'\n")
        one.commit("one")
        two = DatedRepo(root / "two", env)
        two.write("conf/app.py", f"KEY = '{self.shared}'\n")
        two.write("other.py", f"KEY = '{self.own}'\n")
        two.commit("two")
        work = DatedRepo(root / "work", env)
        work.write("r.py", f"KEY = '{self.remote_key}'\n")
        work.commit("remote")
        work.git("clone", "-q", "--bare", str(work.path), str(root / "three.git"))
        work.write("pr.py", f"KEY = '{self.pull_key}'\n")
        work.commit("pull request")
        work.git("push", "-q", str(root / "three.git"), "HEAD:refs/pull/1/head")
        self.work = work
        self.url = f"file://{root}/three.git"
        self.names = ["one", "two", self.url, "missing"]

    def listing(self) -> Path:
        path = self.root / "repos.txt"
        path.write_text("# the fleet\n" + "\n".join(self.names) + "\n\n")
        return path


@pytest.fixture
def fleet(tmp_path: Path, gitenv: dict[str, str]) -> Fleet:
    return Fleet(tmp_path, gitenv)


def _run(run_hvscan: Run, fleet: Fleet, *args: str | Path) -> Any:
    return run_hvscan("git", *args, "--clone-dir", fleet.root / "clones", cwd=fleet.root,
                      env=fleet.env)


def test_every_repository_is_audited_into_one_report(run_hvscan: Run, fleet: Fleet) -> None:
    done = _run(run_hvscan, fleet, "--repos-file", fleet.listing(), "--format", "json",
                "--jobs", "2")
    assert done.returncode == 2, done.stderr  # "missing" cannot be read; the others are audited
    report = json.loads(done.stdout)
    found = {(f["repository"], f["secret_sha256"]) for f in report["findings"]}
    assert found == {("one", key_sha256(fleet.shared)), ("two", key_sha256(fleet.shared)),
                     ("two", key_sha256(fleet.own)), (fleet.url, key_sha256(fleet.remote_key)),
                     (fleet.url, key_sha256(fleet.pull_key))}  # refs/pull/* of the mirror too
    assert report["errors"] == [{"path": "missing", "message": "no such directory",
                                 "repository": "missing"}]
    assert [(r["repository"], r["error"]) for r in report["scan"]["repositories"]] == [
        (fleet.url, None), ("missing", "no such directory"), ("one", None), ("two", None)]
    assert b"hvscan: error: missing: no such directory" in done.stderr
    # A line per finished repository on a standard error that is no terminal.
    assert done.stderr.count(b"hvscan: [") == 4 and b"[4/4]" in done.stderr


def test_the_mirror_is_fetched_again_on_the_next_run(run_hvscan: Run, fleet: Fleet) -> None:
    assert _run(run_hvscan, fleet, fleet.url, "--format", "json").returncode == 1
    later = make_key("live", 505)
    fleet.work.write("later.py", f"KEY = '{later}'\n")
    fleet.work.commit("later")
    fleet.work.git("push", "-q", str(fleet.root / "three.git"), "HEAD:refs/heads/main")
    report = json.loads(_run(run_hvscan, fleet, fleet.url, "--format", "json").stdout)
    assert key_sha256(later) in {f["secret_sha256"] for f in report["findings"]}
    assert len(list((fleet.root / "clones").iterdir())) == 1


def test_a_url_is_no_longer_mangled_into_a_missing_directory(run_hvscan: Run,
                                                              fleet: Fleet) -> None:
    done = _run(run_hvscan, fleet, "https://me:s3cret@127.0.0.1:9/org/app.git")
    assert done.returncode == 2
    text = done.stdout.decode() + done.stderr.decode()
    assert "https://127.0.0.1:9/org/app.git: git clone failed" in text
    assert "no such directory" not in text and "s3cret" not in text


def test_one_local_repository_reports_as_it_always_did(run_hvscan: Run, fleet: Fleet) -> None:
    report = json.loads(_run(run_hvscan, fleet, "one", "--format", "json").stdout)
    assert "repository" not in report["findings"][0]
    assert "repositories" not in report["scan"] and "repositories" not in report["keys"][0]


def test_jsonl_streams_each_repositorys_findings(run_hvscan: Run, fleet: Fleet) -> None:
    done = _run(run_hvscan, fleet, "one", "two", "--format", "jsonl", "--jobs", "2")
    assert done.returncode == 1
    records = [json.loads(line) for line in done.stdout.splitlines()]
    kinds = [record["type"] for record in records]
    assert kinds[:3] == ["finding"] * 3 and kinds[-1] == "summary"
    assert {record["repository"] for record in records[:3]} == {"one", "two"}
    assert records[-1]["stats"]["findings"] == 3


def test_text_report_names_each_findings_repository(run_hvscan: Run, fleet: Fleet) -> None:
    done = _run(run_hvscan, fleet, "one", "two", "--jobs", "1")
    assert done.returncode == 1
    assert done.stdout.decode().count("  repository one\n") == 1
    assert done.stdout.decode().count("  repository two\n") == 2


@pytest.mark.parametrize("shards", [2, 3])
def test_shards_merged_give_what_one_run_gives(run_hvscan: Run, fleet: Fleet,
                                               shards: int) -> None:
    listing = fleet.listing()
    whole = json.loads(_run(run_hvscan, fleet, "--repos-file", listing, "--format",
                            "json").stdout)
    parts = []
    for index in range(1, shards + 1):
        out = fleet.root / f"shard-{index}.json"
        done = _run(run_hvscan, fleet, "--repos-file", listing, "--shard", f"{index}/{shards}",
                    "--format", "json", "-o", out)
        assert done.returncode in (0, 1, 2), done.stderr
        parts.append(out)
    assert sum(len(json.loads(p.read_text())["scan"]["repositories"]) for p in parts) == 4
    merged_run = run_hvscan("merge", *parts, "--format", "json", cwd=fleet.root)
    assert merged_run.returncode == 2  # a shard had an error (the missing repository)
    merged = json.loads(merged_run.stdout)
    for name in ("findings", "errors", "stats", "skipped", "notes"):
        assert merged[name] == whole[name], name
    assert merged.get("keys") == whole.get("keys")
    assert [r["repository"] for r in merged["scan"]["repositories"]] == [
        r["repository"] for r in whole["scan"]["repositories"]]
    assert merged["scan"]["command"] == "merge"


def test_merge_exit_codes_and_formats(run_hvscan: Run, fleet: Fleet) -> None:
    out = fleet.root / "r.json"
    assert _run(run_hvscan, fleet, "one", "two", "--format", "json", "-o", out).returncode == 1
    assert run_hvscan("merge", out).returncode == 1
    assert run_hvscan("merge", out, "--fail-on", "critical").returncode == 0
    # Written from the joined dict: the exit code and the summary line counted from it.
    # (the text report's summary line is counted from the findings rebuilt as objects).
    as_json = run_hvscan("merge", out, "--format", "json", "-o", fleet.root / "m.json")
    as_text = run_hvscan("merge", out).stdout
    assert as_json.returncode == 1
    assert as_json.stderr == as_text.splitlines(keepends=True)[-1]
    assert as_json.stderr == b"hvscan: scanned 3 files (147 B); 3 findings (3 high); " \
        b"2 distinct keys\n"
    assert run_hvscan("merge", out, "--format", "json", "--fail-on", "critical").returncode == 0
    assert b"    in 1 repository: " in as_text
    text = run_hvscan("merge", out, "--format", "sarif").stdout
    assert json.loads(text)["runs"][0]["results"][0]["properties"]["repository"] == "one"
    foreign = fleet.root / "other.json"
    foreign.write_text('{"tool": "gitleaks"}')
    done = run_hvscan("merge", out, foreign)
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr == f"hvscan: error: {foreign}: not an hvscan JSON report\n".encode()


def test_staged_is_for_one_repository(run_hvscan: Run, fleet: Fleet) -> None:
    done = _run(run_hvscan, fleet, "one", "two", "--staged")
    assert done.returncode == 2 and b"--staged scans one repository" in done.stderr


def test_bad_shard_and_missing_list_are_one_line(run_hvscan: Run, fleet: Fleet) -> None:
    done = _run(run_hvscan, fleet, "one", "--shard", "3/2")
    assert (done.returncode, done.stderr) == (
        2, b"hvscan: error: --shard '3/2': expected I/N with 1 <= I <= N (I is 1-based)\n")


def test_no_hook_runs_during_the_clone_or_fetch(run_hvscan: Run, fleet: Fleet) -> None:
    # Hooks are never copied by a clone, but a template's are, and a mirror clone runs the
    # reference-transaction hook (git 2.28+): core.hooksPath points nowhere during the clone
    # and every fetch.
    marker = fleet.root / "ran"
    template = fleet.root / "template" / "hooks"
    template.mkdir(parents=True)
    hook = template / "reference-transaction"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    env = {**fleet.env, "GIT_TEMPLATE_DIR": str(fleet.root / "template")}
    for _ in range(2):  # the clone, then a fetch
        done = run_hvscan("git", fleet.url, "--clone-dir", fleet.root / "clones", env=env)
        assert done.returncode == 1 and not marker.exists()


def test_one_progress_line_across_repositories_on_a_terminal(
        capsys: pytest.CaptureFixture[str]) -> None:
    from hvscan.commands.many import Audited, Tracker

    tracker = Tracker(2, display=True)
    stats = {"findings": 1, "files_scanned": 1500, "bytes_scanned": 3 * 2**20}
    tracker.finished(Audited("org/one", {"stats": stats}, None, 1.0))
    tracker.finished(Audited("org/two", {"stats": stats}, None, 1.0))
    tracker.close()
    err = capsys.readouterr().err
    assert "\rhvscan: 1/2 repositories  1,500 objects  3.0 MB  " in err
    assert "\rhvscan: 2/2 repositories  3,000 objects  6.0 MB  " in err
    assert "ETA 0:00" in err and err.endswith("\r") and "org/one" not in err


def test_a_bad_rule_file_is_one_line_not_one_per_repository(run_hvscan: Run,
                                                            fleet: Fleet) -> None:
    rules = fleet.root / "bad.toml"
    rules.write_text("[[rules]]\nid = 1\n")
    done = _run(run_hvscan, fleet, "one", "two", "--rules", rules)
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.count(b"hvscan: error:") == 1 and b"hvscan: [" not in done.stderr


def test_an_empty_list_is_an_error_not_a_clean_audit(run_hvscan: Run, fleet: Fleet) -> None:
    listing = fleet.root / "empty.txt"
    listing.write_text("# nothing yet\n\n")
    done = _run(run_hvscan, fleet, "--repos-file", listing)
    assert done.returncode == 2
    assert done.stderr == f"hvscan: error: --repos-file {listing}: no repository listed\n".encode()
    # A shard that gets none of the repositories listed is normal: an empty report, exit 0.
    codes = sorted(_run(run_hvscan, fleet, "one", "--shard", f"{i}/2").returncode for i in (1, 2))
    assert codes == [0, 1]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_progress_while_repositories_are_read(run_hvscan: Run, fleet: Fleet, jobs: str) -> None:
    done = _run(run_hvscan, fleet, "one", "two", fleet.url, "--progress", "--jobs", jobs)
    err = done.stderr.decode()
    assert done.returncode == 1 and "hvscan: [" not in err
    # Drawn while the first repositories were read (objects counted before any was done), then
    # at each end, and erased.
    assert "\rhvscan: 0/3 repositories  " in err and "\rhvscan: 3/3 repositories  " in err
    assert err.endswith("\r")


@pytest.mark.parametrize("helper", ["ext::sh -c touch% {marker}", "ext::sh -c 'touch {marker}'"])
def test_a_transport_helper_address_runs_nothing(tmp_path: Path, run_hvscan: Run,
                                                  helper: str) -> None:
    # git's "ext::" transport runs the command it names: such an address, given on the command
    # line or in a list of repositories, is no remote hvscan clones.
    marker = tmp_path / "ran"
    given = helper.format(marker=marker)
    listing = tmp_path / "repos.txt"
    listing.write_text(given + "\n")
    for args in ((given,), ("--repos-file", str(listing))):
        done = run_hvscan("git", *args, "--clone-dir", tmp_path / "cache", "--no-progress",
                          cwd=tmp_path)
        assert done.returncode == 2, done.stderr
        assert not marker.exists()
        assert b"Traceback" not in done.stderr


def test_the_callers_repository_is_never_fetched_into_nor_audited(run_hvscan: Run,
                                                                    fleet: Fleet) -> None:
    # Inside a hook or an alias git sets GIT_DIR (and friends), which beat "-C": the mirror's
    # fetch --prune would prune the caller's branches, and the audits would read the caller.
    caller = DatedRepo(fleet.root / "caller", fleet.env)
    caller.write("own.txt", "nothing\n")
    caller.commit("own")
    caller.git("branch", "keepme")
    env = {**fleet.env, "GIT_DIR": str(caller.path / ".git"),
           "GIT_WORK_TREE": str(caller.path), "GIT_INDEX_FILE": str(caller.path / ".git/index")}
    before = caller.git("for-each-ref", "--format=%(refname)").stdout
    for _ in range(2):  # a clone, then a fetch into the mirror
        done = run_hvscan("git", fleet.url, "one", "--clone-dir", fleet.root / "clones",
                          "--format", "json", cwd=fleet.root, env=env)
        assert done.returncode == 1, done.stderr
        found = {f["secret_sha256"] for f in json.loads(done.stdout)["findings"]}
        assert found == {key_sha256(k) for k in (fleet.remote_key, fleet.pull_key,
                                                 fleet.shared)}
    assert caller.git("for-each-ref", "--format=%(refname)").stdout == before
    config = caller.path / ".git" / "config"
    assert "remote" not in config.read_text()


@pytest.mark.parametrize(("cores", "jobs", "each"), [(4, "2", 2), (2, "2", 1), (2, "1", 2),
                                                      (8, "3", 2)])
def test_audits_side_by_side_share_the_cores_for_their_git_readers(
        fleet: Fleet, monkeypatch: pytest.MonkeyPatch, cores: int, jobs: str, each: int) -> None:
    # Each audit starts one git reader per core (sources.history.producers); run side by side,
    # they get their share instead, else they would only take turns.
    from click.testing import CliRunner

    from hvscan import cli
    from hvscan.commands import many

    given: list[tuple[int, set[int | None]]] = []

    def audit_all(tasks: list[many.Task], workers: int, tracker: Any) -> Any:
        given.append((workers, {task.history.producers for task in tasks}))
        return iter(())

    monkeypatch.setattr(many, "audit_all", audit_all)
    monkeypatch.setattr(many, "_cores", lambda: cores)
    monkeypatch.chdir(fleet.root)
    CliRunner().invoke(cli.cli, ["git", "one", "two", "work", "--jobs", jobs, "--clone-dir",
                                  str(fleet.root / "clones")])
    assert given == [(int(jobs), {each})]


def test_strict_passes_over_what_only_informs_as_for_one_repository(
        run_hvscan: Run, tmp_path: Path, gitenv: dict[str, str]) -> None:
    # A note that leaves nothing unscanned (bytes after a gzip stream, scanned as they are)
    # must not fail --strict once the repository's report went through the merge.
    import gzip

    first, second = DatedRepo(tmp_path / "a", gitenv), DatedRepo(tmp_path / "b", gitenv)
    first.write("x.gz", gzip.compress(b"hello") + b"trailing bytes")
    first.commit("a")
    second.write("f.txt", "hi\n")
    second.commit("b")
    clones = tmp_path / "clones"
    alone = run_hvscan("git", "a", "--strict", cwd=tmp_path, env=gitenv)
    both = run_hvscan("git", "a", "b", "--strict", "--clone-dir", clones, "--format", "json",
                      cwd=tmp_path, env=gitenv)
    assert b"after the end of the gzip stream" in alone.stdout
    assert alone.returncode == both.returncode == 0, both.stderr
    notes = json.loads(both.stdout)["notes"]
    assert [(note["informational"], note["repository"]) for note in notes] == [(True, "a")]
    shard = tmp_path / "shard.json"
    shard.write_bytes(both.stdout)
    assert run_hvscan("merge", shard, "--strict", cwd=tmp_path, env=gitenv).returncode == 0


def _read(done: Any) -> dict[str, int]:
    """Per repository, how many objects (blobs) the run read: the line each one's end writes
    on a standard error that is no terminal."""
    return {name: int(count) for name, count in re.findall(
        r"hvscan: \[\d+/\d+\] (\S+): .*?, (\d+) objects?, ", done.stderr.decode())}


def _same_as_stateless(run_hvscan: Run, fleet: Fleet, *args: str | Path) -> Any:
    """The report of a run with a state file (``args`` name it), checked against a run without:
    the same findings, keys, errors, notes and repositories; only what was read differs. The
    run itself, whose standard error says what each repository read."""
    names = ["one", "two", fleet.url]
    done = _run(run_hvscan, fleet, *names, "--format", "json", *args)
    stateless = _run(run_hvscan, fleet, *names, "--format", "json", "--jobs", "2")
    assert done.returncode == stateless.returncode == 1, done.stderr
    report, full = json.loads(done.stdout), json.loads(stateless.stdout)
    for name in ("findings", "keys", "errors", "notes", "skipped"):
        assert report.get(name) == full.get(name), name
    assert report["scan"]["repositories"] == full["scan"]["repositories"]
    return done


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_state_spans_repositories(run_hvscan: Run, fleet: Fleet, jobs: str) -> None:
    store = fleet.root / "state" / "hvscan.sqlite3"
    state = ("--state", store, "--jobs", jobs)
    first = _same_as_stateless(run_hvscan, fleet, *state)
    assert _read(first) == {"one": 1, "two": 2, fleet.url: 2}
    with closing(sqlite3.connect(store)) as db:  # one entry per repository, the mirror's too
        entries = sorted(Path(r).name for (r,) in db.execute("SELECT repository FROM "
                                                             "repositories"))
    assert entries[:2] == [".git", ".git"] and entries[2].endswith(".git")
    two = DatedRepo(fleet.root / "two", fleet.env)
    two.write("docs/readme.md", "clean\n")
    two.write("new.py", f"KEY = '{make_key('test', 506)}'\n")
    two.commit("a new key")
    second = _same_as_stateless(run_hvscan, fleet, *state)
    # Only the flagged blobs again (for their keys), and the new commit's two blobs.
    assert _read(second) == {"one": 1, "two": 4, fleet.url: 2}
    report = json.loads(second.stdout)
    assert key_sha256(make_key("test", 506)) in {k["secret_sha256"] for k in report["keys"]}
    assert report["stats"]["files_scanned"] == 7
    assert _read(_same_as_stateless(run_hvscan, fleet, *state)) == {
        "one": 1, "two": 3, fleet.url: 2}


def test_a_mirror_fetched_again_is_read_from_where_it_was(run_hvscan: Run,
                                                          fleet: Fleet) -> None:
    cache = fleet.root / "cache"
    env = {**fleet.env, "XDG_CACHE_HOME": str(cache)}

    def incremental() -> Any:
        done = run_hvscan("git", fleet.url, "one", "--incremental", "--clone-dir",
                          fleet.root / "clones", "--format", "json", cwd=fleet.root, env=env)
        assert done.returncode == 1, done.stderr
        return done

    assert _read(incremental()) == {fleet.url: 2, "one": 1}
    assert (cache / "hvscan" / "state.sqlite3").is_file()
    later = make_key("live", 505)
    fleet.work.write("later.py", f"KEY = '{later}'\n")
    fleet.work.commit("later")
    fleet.work.git("push", "-q", str(fleet.root / "three.git"), "HEAD:refs/heads/main")
    again = incremental()
    assert _read(again) == {fleet.url: 3, "one": 1}
    found = {(f["repository"], f["secret_sha256"]) for f in json.loads(again.stdout)["findings"]}
    assert (fleet.url, key_sha256(later)) in found and len(found) == 4


def test_workers_wait_for_another_writer(run_hvscan: Run, fleet: Fleet,
                                         hvscan_exe: str) -> None:
    """The workers of several runs write one file at once (each waits for the others' writes:
    busy_timeout), and one holding the write lock for a while delays them, nothing more."""
    store = fleet.root / "hvscan.sqlite3"
    assert _run(run_hvscan, fleet, "one", "--state", store).returncode == 1
    with closing(sqlite3.connect(store, isolation_level=None)) as db:
        db.execute("BEGIN IMMEDIATE")
        runs = [subprocess.Popen(
            [hvscan_exe, "git", "one", "two", fleet.url, "--state", store, "--jobs", "2",
             "--clone-dir", fleet.root / f"clones-{index}", "--format", "json"],
            cwd=fleet.root, env=fleet.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for index in range(2)]
        with pytest.raises(subprocess.TimeoutExpired):
            runs[0].wait(timeout=3)  # waiting for the lock, not failing
        db.execute("COMMIT")
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [1, 1], outputs
    assert [len(json.loads(out)["findings"]) for out, _ in outputs] == [5, 5]
    with closing(sqlite3.connect(store)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # one, two, and each run's own mirror of the remote
        assert db.execute("SELECT count(*) FROM repositories").fetchone() == (4,)
    assert _read(_run(run_hvscan, fleet, "one", "two", "--state", store, "--jobs", "2")) == {
        "one": 1, "two": 2}


def test_a_state_file_not_hvscans_is_refused_before_any_audit(run_hvscan: Run,
                                                              fleet: Fleet) -> None:
    store = fleet.root / "app.sqlite3"
    with closing(sqlite3.connect(store)) as db:
        db.execute("CREATE TABLE customers (name TEXT)")
    before = store.read_bytes()
    done = _run(run_hvscan, fleet, "one", fleet.url, "--state", store)
    assert (done.returncode, done.stdout) == (2, b"")
    assert done.stderr == (f"hvscan: error: {store}: not an hvscan state file (another "
                           "program's database); name another file\n").encode()
    assert store.read_bytes() == before and not (fleet.root / "clones").exists()
    partial = _run(run_hvscan, fleet, "one", "two", "--state", store, "--branch", "main")
    assert partial.returncode == 2 and b"cannot be combined with --branch" in partial.stderr


def test_a_state_unusable_for_repositories_is_their_error(run_hvscan: Run,
                                                         fleet: Fleet) -> None:
    """A damaged file that opens (its format record intact) fails each audit that uses it: an
    error naming the repository and exit 2, as one repository's audit fails, never a report
    that looks clean."""
    store = fleet.root / "hvscan.sqlite3"
    assert _run(run_hvscan, fleet, "one", "two", "--state", store).returncode == 1
    with closing(sqlite3.connect(store)) as db:
        db.execute("DROP TABLE reach_tips")
    done = _run(run_hvscan, fleet, "one", "two", "--state", store, "--format", "json")
    assert done.returncode == 2
    report = json.loads(done.stdout)
    assert [e["repository"] for e in report["errors"]] == ["one", "two"]
    assert all("cannot use the state file (no such table: reach_tips); delete it"
               in e["message"] for e in report["errors"])


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_audits_whose_state_cannot_be_saved_still_report_their_findings(
        run_hvscan: Run, fleet: Fleet, jobs: str) -> None:
    """A state file that cannot take the audits' records (a full disk): each repository's
    findings are reported all the same, beside its error saying the file was not updated, and
    the run exits 2. The file keeps the last records: the next run reads what this one read."""
    store = fleet.root / "hvscan.sqlite3"
    names = ["one", "two"]
    assert _run(run_hvscan, fleet, *names, "--state", store).returncode == 1
    two = DatedRepo(fleet.root / "two", fleet.env)
    two.write("docs/readme.md", "clean\n")
    two.write("new.py", f"KEY = '{make_key('test', 507)}'\n")
    two.commit("a new key")
    fill_up(store)
    done = _run(run_hvscan, fleet, *names, "--state", store, "--jobs", jobs, "--format", "json")
    assert done.returncode == 2, done.stderr
    report = json.loads(done.stdout)
    full = json.loads(_run(run_hvscan, fleet, *names, "--format", "json").stdout)
    assert report["findings"] == full["findings"] and len(full["findings"]) == 4
    assert report["keys"] == full["keys"]
    assert report["errors"] == [{"path": str(store), "message": NOT_UPDATED, "repository": name}
                                for name in names]
    # The flagged blobs again (for their keys), and the new commit's two blobs.
    assert re.search(r"\[\d/2\] two: 3 findings, 1 error, 4 objects, ", done.stderr.decode())
    make_room(store)
    assert _read(_run(run_hvscan, fleet, *names, "--state", store)) == {"one": 1, "two": 4}
    assert _read(_run(run_hvscan, fleet, *names, "--state", store)) == {"one": 1, "two": 3}


def test_an_audit_that_fails_unexpectedly_is_its_repositorys_error(
        fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    """A MemoryError (a hostile archive) or a bug in one repository's audit is that
    repository's error, exit 2: the other repositories are still reported."""
    from click.testing import CliRunner

    from hvscan import cli
    from hvscan.commands import git

    audit_history = git.audit_history

    def failing(pipeline: Any, path: Path, *args: Any, **kwargs: Any) -> Any:
        if path.name == "two":
            raise MemoryError
        return audit_history(pipeline, path, *args, **kwargs)

    monkeypatch.setattr(git, "audit_history", failing)
    monkeypatch.delenv("HVSCAN_DEBUG", raising=False)
    monkeypatch.chdir(fleet.root)
    for name, value in fleet.env.items():
        monkeypatch.setenv(name, value)
    done = CliRunner().invoke(cli.cli, ["git", "one", "two", "--jobs", "1", "--format", "json",
                                        "--clone-dir", str(fleet.root / "clones")])
    assert done.exit_code == 2, done.output
    report = json.loads(done.stdout)
    assert {f["repository"] for f in report["findings"]} == {"one"}
    assert report["errors"] == [{"path": "two", "message": "internal error: MemoryError",
                                 "repository": "two"}]


@pytest.fixture
def silent() -> Iterator[str]:
    """The URL of a server on loopback that takes connections (the system completes them) and
    never answers: a clone of it waits for ever."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize(("signal_name", "code", "line"), [
    ("SIGTERM", 143, "hvscan: terminated"), ("SIGINT", 130, "hvscan: interrupted")])
@pytest.mark.parametrize("jobs", [1, 2])
def test_a_stopped_clone_leaves_no_git_and_no_half_clone(
    silent: str, tmp_path: Path, gitenv: dict[str, str], hvscan_exe: str, jobs: int,
    signal_name: str, code: int, line: str
) -> None:
    # Two clones wait for a server that never answers, each through git's remote helper, when
    # the command alone is sent the signal (as kill does). It ends with one line and its exit
    # code, and nothing of the run is left: no git, no remote helper (adopted by init once
    # their parents die: the sessions they were in tell), no half clone.
    clones = tmp_path / "clones"
    command = subprocess.Popen(
        [hvscan_exe, "git", "--jobs", str(jobs), "--no-progress", "--clone-dir", str(clones),
         f"{silent}/a.git", f"{silent}/b.git"],
        cwd=tmp_path, env=gitenv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True)
    sessions = {command.pid}
    try:
        helpers: list[str] = []
        started = time.monotonic()
        while len(helpers) < jobs and time.monotonic() - started < 60:
            time.sleep(0.05)
            run = descendants(command.pid)
            sessions |= {process.session for process in run}
            helpers = [process.name for process in run if process.name == "git-remote-http"]
        assert len(helpers) == jobs, command.poll()
        signalled = time.monotonic()
        os.kill(command.pid, getattr(signal, signal_name))
        out, err = command.communicate(timeout=30)
        left = still_running(lambda: in_sessions(sessions), signalled)
    finally:
        for process in processes():
            if process.session in sessions:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL)
        command.wait()
    assert_stopped(left, command.returncode, code, out, err, line)
    assert not clones.exists() or list(clones.iterdir()) == []
