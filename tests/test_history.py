"""The history audit against real temporary repositories (hvscan.history: the history source,
the pipeline and hvscan.attribution, with hvscan.sources.githistory's plumbing): what is found,
where it is attributed, and what fails loudly."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from archives import make_zip
from gitrepo import DatedRepo, iso_date
from keygen import make_key

from hvscan.engine import Engine
from hvscan.history import audit
from hvscan.model import Finding, History
from hvscan.rules import load_builtin_rules
from hvscan.scan import Pipeline, ScanResult
from hvscan.sources.gitcmd import GitError
from hvscan.sources.githistory import signature
from hvscan.sources.history import HistoryOptions

AUTHOR = "Ada Tester <ada@example.invalid>"


def run(repo: DatedRepo | Path, **options: Any) -> ScanResult:
    path = repo.path if isinstance(repo, DatedRepo) else repo
    return audit(path, Pipeline(Engine(load_builtin_rules())), HistoryOptions(**options))


def found(result: ScanResult) -> list[tuple[str | None, str, str | None]]:
    """(path, secret, commit) of each finding, in report order."""
    return [(f.path, f.secret, f.commit) for f in result.findings]


@pytest.fixture
def repo(dated_repo: DatedRepo) -> DatedRepo:
    """Every repository of these tests is dated."""
    return dated_repo


def test_key_added_then_deleted_is_attributed_with_author_date_and_line(repo: DatedRepo) -> None:
    key = make_key("live", 1)
    repo.write("README", "hello\n")
    repo.commit("first")
    repo.write("config/settings.py", f"DEBUG = True\nAPI_KEY = '{key}'\n")
    added = repo.commit("add settings")
    os.remove(repo.path / "config/settings.py")
    repo.commit("remove settings")

    result = run(repo)

    assert not result.errors
    [finding] = result.findings
    assert (finding.path, finding.line, finding.column) == ("config/settings.py", 2, 12)
    assert finding.source == "history"
    assert finding.commit == added
    assert finding.author == AUTHOR
    assert finding.date == iso_date(1)
    assert finding.secret == key
    assert finding.rule_id == "hesedvid-live-key"
    assert finding.history.other_commits == 0
    assert finding.history.other_paths == 0
    assert finding.history.blob == repo.out("rev-parse", f"{added}:config/settings.py")


def test_clean_history_has_no_findings_and_counts_each_blob_once(repo: DatedRepo) -> None:
    repo.write("a.txt", "same\n")
    repo.commit("one")
    repo.write("b.txt", "same\n")  # the same blob at a second path
    repo.commit("two")
    repo.write("a.txt", "changed\n")
    repo.commit("three")

    result = run(repo)

    assert result.findings == [] and not result.errors
    assert result.stats.files_scanned == 2  # "same\n" and "changed\n"
    assert result.stats.bytes_scanned == len("same\n") + len("changed\n")


def test_key_kept_through_later_edits_is_one_finding_at_the_first_commit(repo: DatedRepo) -> None:
    key = make_key("live", 2)
    repo.write("app.py", f"KEY = '{key}'\n")
    first = repo.commit("add key")
    for n in range(3):
        repo.write("app.py", f"KEY = '{key}'\nVERSION = {n}\n")
        repo.commit(f"bump {n}")

    [finding] = run(repo).findings

    assert finding.commit == first
    assert finding.history.other_commits == 0


def test_key_removed_and_added_again_counts_the_other_commit(repo: DatedRepo) -> None:
    key = make_key("test", 3)
    repo.write("app.py", f"KEY = '{key}'\n")
    first = repo.commit("add key")
    repo.write("app.py", "KEY = None\n")
    repo.commit("remove key")
    repo.write("app.py", f"# restored\nKEY = '{key}'\n")
    again = repo.commit("restore key")

    [finding] = run(repo).findings
    assert finding.commit == first and finding.line == 1
    assert finding.history.other_commits == 1

    every = run(repo, all_occurrences=True).findings
    assert [(f.commit, f.line) for f in every] == [(first, 1), (again, 2)]
    assert all(f.fingerprint == finding.fingerprint for f in every)


def test_same_key_at_two_paths_is_two_findings(repo: DatedRepo) -> None:
    key = make_key("live", 4)
    repo.write("a.env", f"KEY={key}\n")
    repo.write("b.env", f"OTHER=1\nKEY={key}\n")
    commit = repo.commit("two files")

    result = run(repo)

    assert found(result) == [("a.env", key, commit), ("b.env", key, commit)]
    assert [f.history.other_paths for f in result.findings] == [1, 1]
    assert [f.line for f in result.findings] == [1, 2]


def test_renamed_file_is_found_at_both_paths_first_at_the_original(repo: DatedRepo) -> None:
    key = make_key("live", 5)
    repo.write("old_name.py", f"KEY = '{key}'\n")
    added = repo.commit("add")
    repo.git("mv", "old_name.py", "new_name.py")
    renamed = repo.commit("rename")

    assert found(run(repo)) == [("old_name.py", key, added), ("new_name.py", key, renamed)]


def test_key_on_an_unmerged_branch_is_found(repo: DatedRepo) -> None:
    repo.write("README", "main\n")
    repo.commit("main")
    repo.git("checkout", "-q", "-b", "experiment")
    key = make_key("live", 6)
    repo.write("try.py", f"KEY = '{key}'\n")
    branch_commit = repo.commit("experiment")
    repo.git("checkout", "-q", "main")

    assert found(run(repo)) == [("try.py", key, branch_commit)]


def _two_branches(repo: DatedRepo) -> None:
    repo.write("settings.py", "A = 1\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("feature.py", "feature = True\n")
    repo.commit("feature work")
    repo.git("checkout", "-q", "main")
    repo.write("main.py", "main = True\n")
    repo.commit("main work")


def test_key_added_by_a_merge_commit_itself_is_attributed_to_the_merge(repo: DatedRepo) -> None:
    _two_branches(repo)
    key = make_key("live", 7)
    repo.git("merge", "-q", "--no-commit", "--no-ff", "feature")
    repo.write("settings.py", f"A = 1\nKEY = '{key}'\n")  # in neither parent: an evil merge
    merge = repo.commit("merge feature")

    [finding] = run(repo).findings

    assert (finding.path, finding.commit, finding.line) == ("settings.py", merge, 2)
    assert finding.date == iso_date(3)


def test_key_brought_in_by_an_ordinary_merge_stays_with_its_commit(repo: DatedRepo) -> None:
    _two_branches(repo)
    key = make_key("live", 8)
    repo.git("checkout", "-q", "feature")
    repo.write("feature.py", f"feature = True\nKEY = '{key}'\n")
    on_branch = repo.commit("feature key")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "--no-edit", "feature")
    repo.tick()

    assert found(run(repo)) == [("feature.py", key, on_branch)]


def test_commit_message_and_annotated_tag_message_are_scanned(repo: DatedRepo) -> None:
    commit_key, tag_key = make_key("live", 9), make_key("test", 10)
    repo.write("README", "x\n")
    commit = repo.commit(f"Deploy\n\nused {commit_key} for the demo")
    repo.git("tag", "-a", "v1.0", "-m", f"release\nkey: {tag_key}")
    tag_object = repo.out("rev-parse", "v1.0")

    result = run(repo)

    by_source = {f.source: f for f in result.findings}
    message = by_source["commit-message"]
    assert (message.path, message.commit, message.line, message.column) == (
        None, commit, 3, 6)
    assert message.author == AUTHOR and message.date == iso_date(0)
    assert message.secret == commit_key
    tag = by_source["tag-message"]
    assert (tag.path, tag.commit, tag.line, tag.secret) == (None, commit, 2, tag_key)
    assert tag.history.tag == "v1.0" and tag.history.tag_object == tag_object
    assert tag.author == AUTHOR


def test_binary_file_is_scanned_as_bytes(repo: DatedRepo) -> None:
    key = make_key("live", 11)
    repo.write("blob.bin", b"\x00\x01\xff\xfe" * 100 + key.encode() + b"\x00\x00")
    commit = repo.commit("binary")

    assert found(run(repo)) == [("blob.bin", key, commit)]


def test_large_blob_spanning_many_stream_buffers_is_scanned(repo: DatedRepo) -> None:
    key = make_key("live", 12)
    repo.write("big.txt", b"filler line\n" * 900_000 + key.encode() + b"\n")  # ~10 MiB
    repo.write("small.txt", "clean\n")
    commit = repo.commit("big")

    [finding] = run(repo).findings
    assert (finding.path, finding.commit, finding.line) == ("big.txt", commit, 900_001)


def test_placeholder_keys_are_counted_not_reported(repo: DatedRepo) -> None:
    repo.write("docs.md", "Use hv_live_" + "x" * 32 + " as your key\n")
    repo.commit("docs")

    result = run(repo)
    assert result.findings == [] and result.stats.placeholders_ignored == 1


def test_file_names_that_are_not_utf8_are_shown_escaped(repo: DatedRepo) -> None:
    key = make_key("live", 13)
    repo.write(b"caf\xe9\nname.txt", key)
    repo.commit("odd name")

    [finding] = run(repo).findings
    assert finding.path == "caf\\xe9\nname.txt"


def test_empty_repository_scans_nothing_and_passes(repo: DatedRepo) -> None:
    result = run(repo)
    assert result.findings == [] and not result.errors and result.stats.files_scanned == 0


def test_detached_head_commit_is_found(repo: DatedRepo) -> None:
    repo.write("README", "x\n")
    repo.commit("base")
    repo.git("checkout", "-q", "--detach")
    key = make_key("live", 14)
    repo.write("detached.py", key)
    commit = repo.commit("on a detached head")

    assert found(run(repo)) == [("detached.py", key, commit)]


def test_linked_worktree_head_and_scan_from_inside_it(repo: DatedRepo, tmp_path: Path) -> None:
    repo.write("README", "x\n")
    repo.commit("base")
    worktree = tmp_path / "wt"
    repo.git("worktree", "add", "-q", "--detach", str(worktree))
    key = make_key("live", 15)
    (worktree / "wt.py").write_text(key)
    repo.git("-C", str(worktree), "add", "wt.py")
    repo.git("-C", str(worktree), "commit", "-q", "-m", "only this worktree's HEAD has it")
    commit = repo.out("-C", str(worktree), "rev-parse", "HEAD")

    assert found(run(repo)) == [("wt.py", key, commit)]
    assert found(run(worktree)) == [("wt.py", key, commit)]


def test_submodule_entries_are_skipped_not_fatal(repo: DatedRepo, tmp_path: Path,
                                                 gitenv: dict[str, str]) -> None:
    child = DatedRepo(tmp_path / "child", gitenv)
    child.write("c.txt", "child\n")
    child_commit = child.commit("child")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{child_commit},vendor/child")
    key = make_key("live", 16)
    repo.write("app.py", key)
    commit = repo.commit("with a submodule entry")

    result = run(repo)
    assert found(result) == [("app.py", key, commit)] and not result.errors


def test_stash_entries_remote_refs_and_notes_are_all_scanned(repo: DatedRepo) -> None:
    repo.write("README", "x\n")
    repo.commit("base")
    keys = [make_key("live", 20 + n) for n in range(4)]
    repo.write("README", f"x\n{keys[0]}\n")
    repo.git("stash", "-q")
    repo.write("README", f"x\n{keys[1]}\n")
    repo.git("stash", "-q")  # the first stash now lives only in refs/stash's reflog
    repo.git("checkout", "-q", "-b", "tmp")
    repo.write("remote.txt", keys[2])
    remote_commit = repo.commit("pushed elsewhere")
    repo.git("update-ref", "refs/remotes/origin/topic", remote_commit)
    repo.git("checkout", "-q", "main")
    repo.git("branch", "-q", "-D", "tmp")
    repo.git("notes", "add", "-m", f"note {keys[3]}", "HEAD")

    secrets = {f.secret for f in run(repo).findings}
    assert secrets == set(keys)


def test_amended_commit_is_reported_only_with_include_unreachable(repo: DatedRepo) -> None:
    repo.write("README", "x\n")
    repo.commit("base")
    key = make_key("live", 30)
    repo.write("oops.py", key)
    amended_away = repo.commit(f"oops {make_key('test', 31)}")
    os.remove(repo.path / "oops.py")
    repo.write("clean.py", "nothing secret\n")
    repo.commit("clean", "--amend")
    repo.git("reflog", "expire", "--expire=now", "--all")

    assert run(repo).findings == []

    result = run(repo, include_unreachable=True)
    blob_finding = next(f for f in result.findings if f.source == "history")
    message_finding = next(f for f in result.findings if f.source == "commit-message")
    assert (blob_finding.path, blob_finding.commit) == ("oops.py", amended_away)
    assert blob_finding.history.unreachable is True
    assert message_finding.commit == amended_away and message_finding.history.unreachable


def test_dangling_blob_with_include_unreachable_has_no_commit(repo: DatedRepo) -> None:
    repo.write("README", "x\n")
    repo.commit("base")
    key = make_key("live", 32)
    blob = repo.out("hash-object", "-w", "--stdin", input=key.encode())

    assert run(repo).findings == []
    [finding] = run(repo, include_unreachable=True).findings
    assert (finding.path, finding.commit, finding.history) == (
        None, None, History(blob=blob, unreachable=True))


def test_names_in_dropped_commits_are_reported_only_with_include_unreachable(
        repo: DatedRepo) -> None:
    key = make_key("live", 33)
    repo.write("README", "x\n")
    base = repo.commit("base")
    repo.write(f"conf/dir-{key}/a.txt", "clean\n")
    repo.write(f"top-{key}.txt", "clean\n")
    dropped = repo.commit("names with a key")
    repo.git("reset", "-q", "--hard", base)
    repo.git("reflog", "expire", "--expire=now", "--all")

    assert run(repo).findings == []

    result = run(repo, include_unreachable=True)
    assert sorted((f.path, f.commit, f.in_name, f.history.unreachable)
                  for f in result.findings) == [
        (f"conf/dir-{key}/", dropped, True, True), (f"top-{key}.txt", dropped, True, True)]
    (entry,) = result.exposure.values()
    assert {(i.path, i.unreachable) for i in entry.introductions} == {
        (f"conf/dir-{key}/", True), (f"top-{key}.txt", True)}
    assert entry.refs == ()


def test_a_name_in_a_dangling_tree_is_reported_at_the_tree(repo: DatedRepo) -> None:
    key = make_key("live", 34)
    repo.write("README", "x\n")
    repo.commit("base")
    blob = repo.out("hash-object", "-w", "--stdin", input=b"clean\n")
    tree = repo.out("mktree", input=f"100644 blob {blob}\tfile-{key}.txt\n".encode())

    assert run(repo).findings == []
    [finding] = run(repo, include_unreachable=True).findings
    assert (finding.path, finding.commit, finding.in_name, finding.history) == (
        f"file-{key}.txt", None, True, History(blob=tree, unreachable=True, in_tree=True))
    # A tag on the tree: reached, at the tree still (no commit holds it).
    repo.git("tag", "tree-tag", tree)
    result = run(repo)
    [finding] = result.findings
    assert (finding.path, finding.commit, finding.history) == (
        f"file-{key}.txt", None, History(blob=tree, in_tree=True))
    # The tag reaches the key: its entry names it (not "no ref reaches it").
    (entry,) = result.exposure.values()
    assert (entry.refs, entry.pushed) == (("refs/tags/tree-tag",), False)


def test_blob_reached_only_through_a_tag_is_reported_without_a_commit(repo: DatedRepo) -> None:
    repo.write("README", "x\n")
    repo.commit("base")
    key = make_key("live", 33)
    blob = repo.out("hash-object", "-w", "--stdin", input=f"KEY={key}\n".encode())
    repo.git("tag", "key-blob", blob)
    # An annotated tag of it, and a tag of that tag: each ends at the blob.
    repo.git("tag", "-a", "-m", "annotated", "annotated", blob)
    repo.git("tag", "-a", "-m", "outer", "outer", "annotated")

    result = run(repo)
    [finding] = result.findings
    assert (finding.path, finding.commit, finding.secret) == (None, None, key)
    assert finding.history == History(blob=blob)
    (entry,) = result.exposure.values()
    assert entry.refs == ("refs/tags/annotated", "refs/tags/key-blob", "refs/tags/outer")


def _history_with_base(repo: DatedRepo) -> tuple[str, str, str]:
    """base: old key in settings.py; then a commit edits settings.py around the old key and
    another adds a new key. Returns (old key, new key, base commit)."""
    old_key, new_key = make_key("live", 40), make_key("live", 41)
    repo.write("settings.py", f"KEY = '{old_key}'\n")
    base = repo.commit("old key")
    repo.write("settings.py", f"# edited\nKEY = '{old_key}'\n")
    repo.commit("edit around the old key")
    repo.write("new.py", f"NEW = '{new_key}'\n")
    repo.commit("new key")
    return old_key, new_key, base


def test_since_commit_reports_only_keys_added_after_it(repo: DatedRepo) -> None:
    old_key, new_key, base = _history_with_base(repo)

    assert [f.secret for f in run(repo, since_commit=base).findings] == [new_key]
    assert {f.secret for f in run(repo).findings} == {old_key, new_key}


def test_range_reports_only_what_the_range_adds(repo: DatedRepo) -> None:
    _, new_key, base = _history_with_base(repo)
    middle = repo.out("rev-parse", "HEAD~1")

    assert run(repo, commit_range=f"{base}..{middle}").findings == []
    assert [f.secret for f in run(repo, commit_range=f"{middle}..main").findings] == [new_key]


def test_range_counts_a_key_copied_to_a_new_path(repo: DatedRepo) -> None:
    key = make_key("live", 42)
    repo.write("a.py", key)
    base = repo.commit("a")
    repo.write("b.py", key)
    copy = repo.commit("copy to b")

    assert found(run(repo, commit_range=f"{base}..HEAD")) == [("b.py", key, copy)]


def test_branch_limits_the_audit_to_that_history(repo: DatedRepo) -> None:
    repo.write("README", "x\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "side")
    side_key = make_key("live", 43)
    repo.write("side.py", side_key)
    repo.commit("side")
    repo.git("checkout", "-q", "main")
    main_key = make_key("live", 44)
    repo.write("main.py", main_key)
    repo.commit("main")

    assert [f.secret for f in run(repo, branch="main").findings] == [main_key]
    assert [f.secret for f in run(repo, branch="side").findings] == [side_key]
    assert run(repo, branch="side", since_commit="main").findings[0].secret == side_key


def test_commit_messages_in_a_range_are_scanned(repo: DatedRepo) -> None:
    repo.write("README", "x\n")
    base = repo.commit("base")
    key = make_key("test", 45)
    repo.commit(f"mention {key}")

    [finding] = run(repo, commit_range=f"{base}..HEAD").findings
    assert finding.source == "commit-message" and finding.secret == key


@pytest.mark.parametrize("options, message", [
    ({"since_commit": "no-such-rev"}, "--since-commit: 'no-such-rev' does not name a commit"),
    ({"branch": "--output=x"}, "--branch: '--output=x' is not a revision"),
    ({"since_commit": "--all"}, "--since-commit: '--all' is not a revision"),
    ({"commit_range": "--output=x..main"}, "--range: '--output=x' is not a revision"),
    ({"commit_range": "main..--output=x"}, "--range: '--output=x' is not a revision"),
    ({"commit_range": "main"}, "--range: 'main' is not of the form A..B"),
    ({"commit_range": "main...main"}, "is not supported; use main..main: the commits main"),
    ({"commit_range": "main....main"}, "is not of the form A..B"),
    ({"commit_range": "...main"}, "is not of the form A..B"),
    ({"commit_range": "main..."}, "is not of the form A..B"),
    ({"include_unreachable": True, "branch": "main"}, "cannot be combined"),
])
def test_bad_revisions_are_clear_errors(repo: DatedRepo, options: dict[str, Any],
                                        message: str) -> None:
    repo.write("README", "x\n")
    repo.commit("base")
    with pytest.raises(GitError, match=message.replace(".", r"\.")):
        run(repo, **options)


def test_not_a_repository_and_missing_path_are_errors(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="not a git repository"):
        run(tmp_path)
    with pytest.raises(GitError, match="no such directory"):
        run(tmp_path / "absent")


def test_shallow_clone_is_scanned_but_reported_incomplete(repo: DatedRepo, tmp_path: Path) -> None:
    old_key, new_key = make_key("live", 50), make_key("live", 51)
    repo.write("old.py", old_key)
    repo.commit("old")
    repo.write("other.py", "x\n")
    repo.commit("middle")
    repo.write("new.py", new_key)
    repo.commit("new")
    clone = tmp_path / "shallow"
    repo.git("clone", "-q", "--depth", "1", f"file://{repo.path}", str(clone))

    result = run(clone)

    [error] = result.errors
    assert "shallow clone" in error.message and "git fetch --unshallow" in error.message
    assert {f.secret for f in result.findings} == {old_key, new_key}  # both in the tip tree


def test_missing_object_is_reported_not_silently_skipped(repo: DatedRepo) -> None:
    repo.write("a.txt", "will go missing\n")
    repo.commit("a")
    blob = repo.out("rev-parse", "HEAD:a.txt")
    os.remove(repo.path / ".git" / "objects" / blob[:2] / blob[2:])

    [error] = run(repo).errors
    assert blob in error.message and "missing" in error.message


def test_signature_parses_name_email_and_offset() -> None:
    assert signature(b"Bob <b@x> 1700000000 +0130") == (
        "Bob <b@x>", "2023-11-14T23:43:20+01:30")
    assert signature(b"Bob <b@x> 1700000000 -0500") == (
        "Bob <b@x>", "2023-11-14T17:13:20-05:00")
    assert signature(b"Bob <b@x> garbage") == ("Bob <b@x>", None)
    assert signature(b"") == (None, None)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_missing_from_path_is_a_clear_error(repo: DatedRepo, monkeypatch: Any) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(GitError, match="git is not installed"):
        run(repo)


def test_object_list_split_across_several_git_processes_reads_everything(
        repo: DatedRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    from hvscan.sources import githistory, history

    keys = [make_key("live", 60 + n) for n in range(5)]
    for n, key in enumerate(keys):
        repo.write(f"f{n}.txt", f"{n}\n{key}\n")
        repo.commit(f"c{n} mentions {key[:10]}")
    repo.git("tag", "-a", "t", "-m", f"tag {keys[0]}")
    whole = run(repo)
    monkeypatch.setattr(githistory, "MIN_OBJECTS_PER_PART", 1)
    monkeypatch.setattr(history, "producers", lambda: 3)

    split = run(repo)

    assert found(split) == found(whole) and len(split.findings) == 6
    assert split.stats.files_scanned == whole.stats.files_scanned == 5



@pytest.mark.parametrize("readers", [1, 3])
def test_the_audit_starts_as_many_git_readers_as_its_options_say(
        repo: DatedRepo, monkeypatch: pytest.MonkeyPatch, readers: int) -> None:
    from hvscan.sources import githistory, history

    for n in range(6):
        repo.write(f"f{n}.txt", f"{n}\n")
        repo.commit(f"c{n}")
    started = []
    monkeypatch.setattr(githistory, "MIN_OBJECTS_PER_PART", 1)
    monkeypatch.setattr(history, "producers", lambda: 2)
    monkeypatch.setattr(history, "stream_objects", lambda *args: started.append(args) or
                        githistory.stream_objects(*args))

    assert run(repo, producers=readers).stats.files_scanned == 6
    assert len(started) == readers


def test_keys_in_archives_and_encoded_text_in_history_are_found(repo: DatedRepo) -> None:
    import base64
    import gzip
    import zipfile

    zipped, encoded, gzipped = make_key("live", 70), make_key("live", 71), make_key("test", 72)
    repo.write("release.zip", make_zip({"conf/app.env": f"KEY={zipped}\n".encode()},
                                       zipfile.ZIP_STORED))
    repo.write("blob.txt", f"data: {base64.b64encode(encoded.encode()).decode()}\n")
    repo.write("log.gz", gzip.compress(f"x\n{gzipped}\n".encode()))
    commit = repo.commit("binaries")
    for name in ("release.zip", "blob.txt", "log.gz"):
        os.remove(repo.path / name)
    repo.commit("gone")

    by_secret = {f.secret: f for f in run(repo).findings}

    assert set(by_secret) == {zipped, encoded, gzipped}
    assert by_secret[zipped].path == "release.zip!conf/app.env"
    assert by_secret[zipped].commit == commit and by_secret[zipped].encoding == "zip"
    assert by_secret[encoded].path == "blob.txt" and by_secret[encoded].encoding == "base64"
    assert by_secret[gzipped].line == 2


def test_the_scanned_hook_sees_every_blob_holding_a_key_before_attribution(
        repo: DatedRepo) -> None:
    key = make_key("live", "hook")
    repo.write("a.txt", f"{key}\n")
    repo.commit("add")
    repo.write("a.txt", f"{key}\nmore\n")  # a second blob with the key: it introduces nothing
    repo.commit("edit")
    seen: list[list[Finding]] = []  # attribution then replaces the result's findings
    result = audit(repo.path, Pipeline(Engine(load_builtin_rules())), HistoryOptions(),
                   scanned=lambda scanned: seen.append(list(scanned.findings)))
    [before] = seen
    blobs = {repo.out("rev-parse", f"{rev}:a.txt") for rev in ("HEAD~1", "HEAD")}
    assert {f.history.blob for f in before if f.history} == blobs
    assert [f.history.blob for f in result.findings if f.history] == [
        repo.out("rev-parse", "HEAD~1:a.txt")]
