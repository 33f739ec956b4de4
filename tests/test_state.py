"""Incremental history audits (``hvscan git --state FILE``, ``--incremental``): a later audit
reads only what is new and reports what a full audit reports; the state file (hvscan/state.py)
holds no key, refuses what is not its own and survives concurrent runs."""

from __future__ import annotations

import io
import json
import re
import sqlite3
import subprocess
import zipfile
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from gitrepo import DatedRepo, GitRepo
from hvscan_run import Run
from keygen import make_key
from statefiles import NOT_UPDATED, fill_up, make_room

from hvscan import state
from hvscan.engine import Engine
from hvscan.incremental import audit
from hvscan.rules import load_builtin_rules
from hvscan.scan import Pipeline
from hvscan.sources import githistory
from hvscan.sources.history import HistoryOptions

Report = dict[str, Any]


def report(run_hvscan: Run, repo: GitRepo, *options: str | Path) -> Report:
    done = run_hvscan("git", repo.path, "--format", "json", "--no-progress", *options)
    assert done.returncode in (0, 1), done.stderr
    assert done.stderr == b"", done.stderr
    parsed: Report = json.loads(done.stdout)
    return parsed


def same_as_full(run_hvscan: Run, repo: GitRepo, store: Path, *options: str | Path) -> Report:
    """The incremental audit's report, checked against a full audit's: the same findings and
    notes, the same keys with the same exposure, the same scan record but for its time
    (statistics say what was read, and differ)."""
    incremental = report(run_hvscan, repo, "--state", store, *options)
    full = report(run_hvscan, repo, *options)
    assert incremental["findings"] == full["findings"]
    assert incremental["notes"] == full["notes"]
    assert incremental["keys"] == full["keys"]
    untimed = ("started", "duration")
    assert ({k: v for k, v in incremental["scan"].items() if k not in untimed}
            == {k: v for k, v in full["scan"].items() if k not in untimed})
    return incremental


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "state" / "hvscan.sqlite3"


@pytest.fixture
def history(dated_repo: DatedRepo) -> DatedRepo:
    """Ten clean files, then a key in src/app.py, then the key moved to the environment."""
    for index in range(10):
        dated_repo.write(f"docs/page{index}.md", f"page {index}\n")
    dated_repo.commit("docs")
    dated_repo.write("src/app.py", f"KEY = '{make_key('live', 1)}'\n")
    dated_repo.commit("add app")
    dated_repo.write("src/app.py", "import os\nKEY = os.environ['KEY']\n")
    dated_repo.commit("use the environment")
    return dated_repo


def test_first_audit_reads_everything_then_only_what_is_new(
        run_hvscan: Run, history: DatedRepo, store: Path) -> None:
    first = same_as_full(run_hvscan, history, store)
    assert store.stat().st_mode & 0o777 == 0o600
    assert first["stats"]["files_scanned"] == 12
    assert len(first["findings"]) == 1
    history.write("src/new.py", f"TOKEN = '{make_key('test', 2)}'\n")
    history.commit("a new key")
    second = same_as_full(run_hvscan, history, store)
    # The new blob, and the one blob with a key, read again for its key.
    assert second["stats"]["files_scanned"] == 2
    assert [f["path"] for f in second["findings"]] == ["src/app.py", "src/new.py"]
    assert second["findings"][1]["commit"] == history.head()
    # Nothing new: only the flagged blobs.
    assert same_as_full(run_hvscan, history, store)["stats"]["files_scanned"] == 2


@pytest.mark.parametrize("same_blob", [True, False], ids=["same-blob", "new-blob"])
def test_a_new_commit_bringing_an_old_key_back_is_attributed(
        run_hvscan: Run, history: DatedRepo, store: Path, same_blob: bool) -> None:
    same_as_full(run_hvscan, history, store)
    key = make_key("live", 1)
    history.write("lib/copy.py", f"KEY = '{key}'\n" if same_blob else f"# copy\nK = '{key}'\n")
    back = history.commit("the key again")
    second = same_as_full(run_hvscan, history, store)
    assert second["stats"]["files_scanned"] == (1 if same_blob else 2)
    assert [(f["path"], f["commit"]) for f in second["findings"]][1] == ("lib/copy.py", back)
    assert second["findings"][0]["other_paths"] == 1


def test_merges_and_every_occurrence(run_hvscan: Run, history: DatedRepo, store: Path) -> None:
    history.git("checkout", "-q", "-b", "topic")
    history.write("topic.py", f"KEY = '{make_key('live', 1)}'\n")
    history.commit("the old key on a branch")
    same_as_full(run_hvscan, history, store, "--all-occurrences")
    history.git("checkout", "-q", "main")
    history.git("merge", "-q", "--no-ff", "-m", "merge topic", "topic")
    history.tick()
    history.write("again.py", f"KEY = '{make_key('live', 1)}'\n")
    history.commit("and again")
    merged = same_as_full(run_hvscan, history, store, "--all-occurrences")
    # The merge brings topic.py to main, but its second parent had it: no introduction.
    assert [f["path"] for f in merged["findings"]] == ["src/app.py", "topic.py", "again.py"]
    assert merged["findings"][0]["other_paths"] == 2


def reaching(store: Path) -> dict[str, int]:
    """Per commit the state file knows about, how many tips reach it."""
    with closing(sqlite3.connect(store)) as db:
        return {commit: len(tips.split()) for commit, tips in db.execute(
            "SELECT commit_oid, tips FROM reaching")}


def test_which_refs_reach_a_key_is_remembered(run_hvscan: Run, history: DatedRepo,
                                              store: Path) -> None:
    """The refs reaching a key's commits, as a full audit finds them, whatever moved since:
    the walk of what is new answers when the earlier tips suffice, a whole walk when not."""
    [added, removed] = history.out("rev-list", "-2", "HEAD").split()[::-1]
    same_as_full(run_hvscan, history, store)
    assert reaching(store) == {added: 1, removed: 1}  # main (HEAD is main's commit too)
    history.git("update-ref", "refs/remotes/origin/main", "HEAD")
    history.git("tag", "-a", "v1", "-m", "v1", added)
    history.git("tag", "-a", "v1-signed-off", "-m", "a tag of a tag", "v1")
    history.write("b.py", f"KEY = '{make_key('test', 2)}'\n")
    history.commit("a new key")
    history.write("stashed.txt", "x\n")
    history.git("add", "stashed.txt")
    history.git("stash", "-q")
    keys = same_as_full(run_hvscan, history, store)["keys"]
    assert [k["refs"] for k in keys] == [
        ["refs/heads/main", "refs/remotes/origin/main", "refs/stash", "refs/tags/v1",
         "refs/tags/v1-signed-off"],
        ["refs/heads/main", "refs/stash"]]
    history.git("checkout", "-q", "-b", "old-base", added)  # from a commit that was no tip
    history.commit_file("c.txt", "c\n", "on an old base")
    history.git("checkout", "-q", "main")
    history.git("update-ref", "refs/remotes/origin/main", added)  # moved back
    keys = same_as_full(run_hvscan, history, store)["keys"]
    assert "refs/heads/old-base" in keys[0]["refs"] and keys[0]["pushed"]


def test_keys_in_paths_are_not_kept(run_hvscan: Run, history: DatedRepo, store: Path) -> None:
    key = make_key("test", 10)
    history.write(f"keys/{key}.txt", f"{key}\n")
    history.commit("a key named after itself")
    same_as_full(run_hvscan, history, store)
    data = b"".join(path.read_bytes() for path in store.parent.iterdir())
    assert key.encode() not in data
    with closing(sqlite3.connect(store)) as db:
        assert db.execute("SELECT changes_known FROM repositories").fetchone() == (0,)
    history.write("new.txt", "clean\n")
    history.commit("later")
    assert same_as_full(run_hvscan, history, store)["stats"]["files_scanned"] == 3


def test_a_removed_key_is_still_reported(run_hvscan: Run, dated_repo: DatedRepo,
                                         store: Path) -> None:
    dated_repo.write("config.ini", f"key = {make_key('live', 3)}\n")
    added = dated_repo.commit("key")
    assert len(same_as_full(run_hvscan, dated_repo, store)["findings"]) == 1
    dated_repo.write("config.ini", "key = from the vault\n")
    dated_repo.commit("remove the key")
    [finding] = same_as_full(run_hvscan, dated_repo, store)["findings"]
    assert finding["commit"] == added


@pytest.mark.parametrize("pruned", [False, True], ids=["unreachable", "pruned"])
def test_rewritten_history_drops_what_no_ref_reaches(run_hvscan: Run, history: DatedRepo,
                                                     store: Path, pruned: bool) -> None:
    history.git("checkout", "-q", "-b", "topic")
    history.write("topic.py", f"KEY = '{make_key('test', 4)}'\n")
    history.commit("topic key")
    history.write("more.py", "clean\n")
    history.commit("more")
    assert len(same_as_full(run_hvscan, history, store)["findings"]) == 2
    # A force-push: the branch without its key.
    history.git("reset", "-q", "--hard", "HEAD~2")
    history.write("other.py", "clean too\n")
    history.commit("instead")
    if pruned:
        history.git("reflog", "expire", "--expire=now", "--all")
        history.git("gc", "-q", "--prune=now")
    after = same_as_full(run_hvscan, history, store)
    assert [f["path"] for f in after["findings"]] == ["src/app.py"]
    assert after["stats"]["files_scanned"] < 5
    # Deleting a branch loses what only it reached, too.
    history.git("checkout", "-q", "main")
    history.git("branch", "-q", "-D", "topic")
    assert len(same_as_full(run_hvscan, history, store)["findings"]) == 1


def test_tags_stash_and_messages_are_remembered(run_hvscan: Run, history: DatedRepo,
                                                store: Path) -> None:
    history.git("tag", "-a", "v1", "-m", f"release; old key {make_key('live', 5)}")
    history.write("msg.txt", "x\n")
    history.commit(f"message with {make_key('test', 6)}")
    history.write("src/app.py", f"KEY = '{make_key('live', 7)}'\n")
    history.git("stash", "-q")
    first = same_as_full(run_hvscan, history, store)
    assert {f["source"] for f in first["findings"]} == {
        "history", "tag-message", "commit-message"}
    history.write("later.txt", "y\n")
    history.commit("later")
    second = same_as_full(run_hvscan, history, store)
    # The stash's commits repeat the subject of the commit they were made on, key and all.
    assert len(second["findings"]) == len(first["findings"]) == 6
    assert second["stats"]["files_scanned"] == 3  # later.txt, and the two blobs with keys


def test_worktrees_and_an_empty_start(run_hvscan: Run, dated_repo: DatedRepo,
                                     store: Path) -> None:
    assert same_as_full(run_hvscan, dated_repo, store)["findings"] == []
    dated_repo.write("a.txt", "clean\n")
    dated_repo.commit("first")
    same_as_full(run_hvscan, dated_repo, store)
    dated_repo.git("worktree", "add", "-q", "--detach", "../elsewhere")
    (dated_repo.path.parent / "elsewhere" / "k.txt").write_text(f"{make_key('live', 11)}\n")
    dated_repo.git("-C", "../elsewhere", "add", "k.txt")
    dated_repo.git("-C", "../elsewhere", "commit", "-q", "-m", "a key on a detached HEAD")
    [finding] = same_as_full(run_hvscan, dated_repo, store)["findings"]
    assert finding["path"] == "k.txt"


def test_notes_are_kept_too(run_hvscan: Run, history: DatedRepo, store: Path) -> None:
    """Objects too large to read are notes at their first commit and path, on every run."""
    history.write("big.txt", "x" * 2000 + "\n")
    history.commit("big")
    first = same_as_full(run_hvscan, history, store, "--max-file-size", "1000")
    assert [n["path"] for n in first["notes"]] == ["big.txt"]
    history.write("later.txt", "y\n")
    history.commit("later")
    assert same_as_full(run_hvscan, history, store, "--max-file-size", "1000")["notes"] == (
        first["notes"])


USER_RULE = ("[[rules]]\nid='acme'\ndescription='Acme'\nregex='acme_[0-9]{6}'\n"
             "keywords=['acme_']\nkey_type='token'\nseverity='low'\nremediation='Rotate.'\n")


def test_other_rules_or_limits_read_everything_again(run_hvscan: Run, history: DatedRepo,
                                                     store: Path, tmp_path: Path) -> None:
    history.write("docs/page3.md", "acme_123456\n")
    history.commit("an acme token")
    same_as_full(run_hvscan, history, store)
    rules = tmp_path / "acme.toml"
    rules.write_text(USER_RULE)
    with_rules = same_as_full(run_hvscan, history, store, "--rules", rules)
    assert with_rules["stats"]["files_scanned"] == 13
    assert "acme" in {f["rule_id"] for f in with_rules["findings"]}
    assert same_as_full(run_hvscan, history, store, "--rules", rules)[
        "stats"]["files_scanned"] == 2  # the blobs with a key or a token
    # A rule file's content, not its name, is what counts.
    rules.write_text(USER_RULE.replace("[0-9]{6}", "[0-9]{5}"))
    assert same_as_full(run_hvscan, history, store, "--rules", rules)[
        "stats"]["files_scanned"] == 13
    for limit in (("--max-decode-depth", "1"), ("--max-archive-depth", "2"),
                  ("--max-file-size", "1MB")):
        assert same_as_full(run_hvscan, history, store, *limit)["stats"]["files_scanned"] == 13
        assert same_as_full(run_hvscan, history, store, *limit)["stats"]["files_scanned"] == 1


def audited(repo: GitRepo, store: Path) -> int:
    """Audit in this process; how many files (blobs) were read."""
    result = audit(repo.path, Pipeline(Engine(load_builtin_rules())), HistoryOptions(), store)
    return result.stats.files_scanned


def test_a_new_commit_walks_only_the_new_history(history: DatedRepo, store: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """After an audit with a key, one with a new key on a new commit reads only that commit
    to learn which refs reach the keys' commits (the report is the full audit's: above)."""
    audited(history, store)
    history.write("b.py", f"KEY = '{make_key('test', 3)}'\n")
    history.commit("a new key")
    whole: list[object] = []
    walk = githistory._walk
    monkeypatch.setattr(githistory, "_walk", lambda *args: whole.append(args) or walk(*args))
    audited(history, store)
    assert whole == []
    with closing(sqlite3.connect(store)) as db:
        assert db.execute("SELECT count(*) FROM reaching").fetchone()[0] == 3


def test_another_version_or_build_reads_everything_again(
        history: DatedRepo, store: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert audited(history, store) == 12
    assert audited(history, store) == 1
    monkeypatch.setattr(state, "__version__", "99.0.0")
    assert audited(history, store) == 12
    assert audited(history, store) == 1
    monkeypatch.setattr(state, "code_digest", lambda: "another build")
    assert audited(history, store) == 12


def test_the_store_never_holds_a_key(run_hvscan: Run, history: DatedRepo, store: Path) -> None:
    key = make_key("live", 1)
    member_key = make_key("test", 8)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr(f"{member_key}.txt", f"token {member_key}\n")
    history.write("bundle.zip", archive.getvalue())
    history.commit("bundle")
    found = same_as_full(run_hvscan, history, store)
    assert any("!" in f["path"] for f in found["findings"])
    files = [path.read_bytes() for path in store.parent.iterdir()]
    assert not any(key.encode() in data or member_key.encode() in data for data in files)
    # What it does hold: the redacted key (its first 12 characters) and the key's hash.
    assert any(key[:12].encode() in data and found["findings"][0]["secret_sha256"].encode()
               in data for data in files)
    with closing(sqlite3.connect(store)) as db:
        members = [m for (m,) in db.execute("SELECT member FROM matches") if m]
    assert members and all(member_key not in m for m in members)


def test_old_keys_are_read_again_for_show_secrets(run_hvscan: Run, history: DatedRepo,
                                                  store: Path) -> None:
    report(run_hvscan, history, "--state", store)
    shown = report(run_hvscan, history, "--state", store, "--show-secrets")
    assert shown["stats"]["files_scanned"] == 1
    assert shown["findings"][0]["secret"] == make_key("live", 1)


def refused(run_hvscan: Run, repo: GitRepo, store: Path) -> str:
    done = run_hvscan("git", repo.path, "--state", store)
    assert done.returncode == 2 and done.stdout == b""
    err = done.stderr.decode()
    assert err.count("\n") == 1 and "Traceback" not in err
    return err


def test_a_file_that_is_no_database_is_refused_and_left_alone(
        run_hvscan: Run, history: DatedRepo, tmp_path: Path) -> None:
    store = tmp_path / "notes.txt"
    store.write_bytes(b"my notes, not a database\n" * 200)
    err = refused(run_hvscan, history, store)
    assert f"hvscan: error: {store}: cannot use the state file" in err
    assert store.read_bytes() == b"my notes, not a database\n" * 200


def test_another_programs_database_is_refused_and_left_alone(
        run_hvscan: Run, history: DatedRepo, tmp_path: Path) -> None:
    store = tmp_path / "app.sqlite3"
    with closing(sqlite3.connect(store)) as db:
        db.execute("CREATE TABLE customers (name TEXT)")
    before = store.read_bytes()
    assert "not an hvscan state file" in refused(run_hvscan, history, store)
    assert store.read_bytes() == before


def test_a_damaged_or_newer_state_file_is_refused(run_hvscan: Run, history: DatedRepo,
                                                  store: Path) -> None:
    report(run_hvscan, history, "--state", store)
    with closing(sqlite3.connect(store)) as db:
        db.execute(f"PRAGMA user_version = {state.SCHEMA_VERSION + 1}")
    assert f"of another format ({state.SCHEMA_VERSION + 1}" in refused(run_hvscan, history,
                                                                       store)
    with closing(sqlite3.connect(store)) as db:
        db.execute(f"PRAGMA user_version = {state.SCHEMA_VERSION}")
        db.execute("DELETE FROM hvscan_state")
        db.commit()
    assert "no format record" in refused(run_hvscan, history, store)
    store.unlink()
    report(run_hvscan, history, "--state", store)
    data = bytearray(store.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the schema's page
    store.write_bytes(bytes(data))
    assert "cannot use the state file" in refused(run_hvscan, history, store)


def test_the_state_file_can_be_deleted(run_hvscan: Run, history: DatedRepo,
                                       store: Path) -> None:
    report(run_hvscan, history, "--state", store)
    for path in store.parent.iterdir():
        path.unlink()
    again = same_as_full(run_hvscan, history, store)
    assert again["stats"]["files_scanned"] == 12


def test_concurrent_runs_share_the_file(hvscan_exe: str, history: DatedRepo,
                                        gitenv: dict[str, str], tmp_path: Path,
                                        run_hvscan: Run, store: Path) -> None:
    other = DatedRepo(tmp_path / "other", gitenv)
    other.write("k.txt", f"{make_key('test', 9)}\n")
    other.commit("key")
    repos = [history, other, history, other]
    runs = [subprocess.Popen([hvscan_exe, "git", repo.path, "--state", store, "--format",
                              "json", "--no-progress"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE) for repo in repos]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [1, 1, 1, 1], outputs
    assert all(err == b"" for _, err in outputs)
    with closing(sqlite3.connect(store)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM repositories").fetchone() == (2,)
    for repo in (history, other):
        assert same_as_full(run_hvscan, repo, store)["stats"]["files_scanned"] == 1


@pytest.mark.parametrize("option", [("--range", "HEAD~1..HEAD"), ("--since-commit", "HEAD~1"),
                                    ("--branch", "main"), ("--include-unreachable",),
                                    ("--staged",), ("--incremental",)])
def test_state_is_for_whole_history_audits_only(run_hvscan: Run, history: DatedRepo,
                                                store: Path, option: tuple[str, ...]) -> None:
    done = run_hvscan("git", history.path, "--state", store, *option)
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.startswith(b"hvscan: error: ") and done.stderr.count(b"\n") == 1
    assert not store.exists()


def test_incremental_uses_the_user_cache_directory(run_hvscan: Run, history: DatedRepo,
                                                   tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    done = run_hvscan("git", history.path, "--incremental", "--format", "json",
                      env={"XDG_CACHE_HOME": str(cache)})
    assert done.returncode == 1, done.stderr
    assert (cache / "hvscan" / "state.sqlite3").is_file()
    again = run_hvscan("git", history.path, "--incremental", "--format", "json",
                       env={"XDG_CACHE_HOME": str(cache)})
    assert json.loads(again.stdout)["stats"]["files_scanned"] == 1


def test_keys_in_names_stay_reported_run_after_run(repo: GitRepo, run_hvscan: Run,
                                                   store: Path) -> None:
    # Every commit of this repository has the same time: the order of commits decides.
    key = make_key("live", "names-state")
    repo.write(f"sub/deep-{key}/a.txt", "clean\n")
    repo.add(f"sub/deep-{key}/a.txt")
    added = repo.commit_file(f"dir-{key}/a.txt", "clean\n", "directories named with a key")
    repo.git("branch", f"feature-{key}")
    first = same_as_full(run_hvscan, repo, store)
    assert sorted((f["source"], f["in_name"], f["commit"]) for f in first["findings"]) == [
        ("history", True, added), ("history", True, added), ("ref", True, added)]
    repo.commit_file("sub/other.txt", "clean\n", "history grows: new trees holding them")
    # Still at the commit that added it (not at the new one, whose root tree holds it too).
    assert same_as_full(run_hvscan, repo, store)["findings"] == first["findings"]



@pytest.mark.parametrize("how", ["ROLLBACK", "ABORT"])
def test_an_audit_whose_state_cannot_be_saved_still_reports_its_findings(
        run_hvscan: Run, history: DatedRepo, store: Path, how: str) -> None:
    report(run_hvscan, history, "--state", store)
    history.write("src/more.py", f"KEY = '{make_key('test', 2)}'\n")
    history.commit("another key")
    fill_up(store, how)
    done = run_hvscan("git", history.path, "--format", "json", "--no-progress", "--state", store)
    assert done.returncode == 2, done.stderr
    unsaved = json.loads(done.stdout)
    full = report(run_hvscan, history)
    assert unsaved["findings"] == full["findings"] and len(full["findings"]) == 2
    assert unsaved["keys"] == full["keys"]
    assert unsaved["errors"] == [{"path": str(store), "message": NOT_UPDATED}]
    assert unsaved["stats"]["errors"] == 1
    text = run_hvscan("git", history.path, "--no-progress", "--state", store)
    assert text.returncode == 2 and f"error: {store}: {NOT_UPDATED}\n".encode() in text.stdout
    # The file kept the last entry: once it can be written again, the next audit reads what
    # the failed one read, and records it.
    make_room(store)
    again = same_as_full(run_hvscan, history, store)
    assert again["stats"]["files_scanned"] == unsaved["stats"]["files_scanned"] < 12
    assert report(run_hvscan, history, "--state", store)["stats"]["files_scanned"] == 2


def test_the_audit_time_is_written_as_the_reports_write_times(
        run_hvscan: Run, history: DatedRepo, store: Path) -> None:
    scan = report(run_hvscan, history, "--state", store)["scan"]
    with closing(sqlite3.connect(store)) as db:
        (audited,) = db.execute("SELECT audited FROM repositories").fetchone()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", audited)
    assert scan["started"] <= audited
