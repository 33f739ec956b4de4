"""The keys list and the scan record (hvscan.keys, filled by hvscan.attribution and
hvscan.runner) against real repositories: the same key in several commits and paths, on a
branch, a tag, a remote-tracking ref and the stash, removed from one path and still in HEAD at
another; every field of the JSON contract."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from gitrepo import DatedRepo, GitRepo, iso_date
from hvscan_run import Run
from keygen import key_sha256, make_key

from hvscan import __version__
from hvscan.history import audit
from hvscan.keys import Introduction, KeyEntry, Removal, most_alarming
from hvscan.runner import run_scan, walker
from hvscan.scan import ScanResult
from hvscan.sources.history import HistoryOptions

AUTHOR = "Ada Tester <ada@example.invalid>"


def audited(repo: DatedRepo, **options: Any) -> ScanResult:
    """The audit ``hvscan git`` runs: pipeline, attribution, settling, keys."""
    return run_scan(lambda pipeline: audit(repo.path, pipeline, HistoryOptions(**options)),
                    command="git")


def by_hash(result: ScanResult) -> dict[str, KeyEntry]:
    return {entry.secret_sha256: entry for entry in result.keys}


class Story:
    """A repository whose history spreads three keys around (dates: iso_date(index)):

    0 README; 1 ``spread`` at config/a.py; 2 ``spread`` at config/b.py too; pushed to
    ``origin/main``; 3 config/a.py deleted (HEAD of main, tagged v1). Branch ``feature`` (from
    2): 4 ``branch_key`` at feat.py. Stash (on main): ``stashed`` staged in stash.py.
    """

    def __init__(self, tmp_path: Path, env: dict[str, str]) -> None:
        self.remote = GitRepo(tmp_path / "remote.git", env, bare=True)
        repo = self.repo = DatedRepo(tmp_path / "work", env)
        self.spread, self.branch_key, self.stashed = (
            make_key("live", "spread"), make_key("test", "branch"), make_key("live", "stash"))
        repo.write("README", "hello\n")
        repo.commit("first")
        repo.write("config/a.py", f"KEY = '{self.spread}'\n")
        self.add_a = repo.commit("add a")
        repo.write("config/b.py", f"X = 1\nKEY = '{self.spread}'\n")
        self.add_b = repo.commit("add b")
        repo.git("remote", "add", "origin", str(self.remote.path))
        repo.git("push", "-q", "origin", "main")
        os.remove(repo.path / "config/a.py")
        self.remove_a = repo.commit("remove a")
        repo.git("tag", "v1")
        repo.git("checkout", "-q", "-b", "feature", self.add_b)
        repo.write("feat.py", f"K = '{self.branch_key}'\n")
        self.feature = repo.commit("feature")
        repo.git("checkout", "-q", "main")
        repo.write("stash.py", f"S = '{self.stashed}'\n")
        repo.git("add", "stash.py")
        repo.git("stash", "-q")
        repo.tick()


@pytest.fixture
def story(tmp_path: Path, gitenv: dict[str, str]) -> Story:
    return Story(tmp_path, gitenv)


def test_one_entry_per_key_with_every_introduction_and_where_it_stands(story: Story) -> None:
    result = audited(story.repo)
    keys = by_hash(result)
    assert len(result.findings) == 4 and len(keys) == 3

    spread = keys[key_sha256(story.spread)]
    assert (spread.rule_id, spread.key_type, spread.severity) == ("hesedvid-live-key", "live",
                                                                   "high")
    assert spread.secret_redacted == story.spread[:12] + "..." + story.spread[-4:]
    assert spread.findings == 2 and spread.verification is None
    assert spread.introductions == (
        Introduction(story.add_a, "config/a.py", AUTHOR, iso_date(1), "history"),
        Introduction(story.add_b, "config/b.py", AUTHOR, iso_date(2), "history"),
    )
    assert spread.first == spread.introductions[0]
    assert (spread.in_head, spread.head_paths) == (True, ("config/b.py",))
    assert spread.removed_in == (Removal(story.remove_a, "config/a.py", iso_date(3)),)
    # main and the tag reach it, feature branches off after it, the stash sits on main.
    assert spread.refs == ("refs/heads/feature", "refs/heads/main", "refs/remotes/origin/main",
                           "refs/stash", "refs/tags/v1")
    assert spread.pushed is True

    branch = keys[key_sha256(story.branch_key)]
    assert branch.introductions == (
        Introduction(story.feature, "feat.py", AUTHOR, iso_date(4), "history"),)
    assert (branch.in_head, branch.head_paths, branch.removed_in) == (False, (), ())
    assert (branch.refs, branch.pushed) == (("refs/heads/feature",), False)

    stashed = keys[key_sha256(story.stashed)]
    [introduction] = stashed.introductions
    assert introduction.path == "stash.py"
    assert (stashed.refs, stashed.pushed, stashed.in_head) == (("refs/stash",), False, False)


def test_keys_are_sorted_by_severity_then_exposure(story: Story) -> None:
    result = audited(story.repo)
    # Two high keys: the pushed one first; then the medium test key.
    assert [entry.secret_sha256 for entry in result.keys] == [
        key_sha256(story.spread), key_sha256(story.stashed), key_sha256(story.branch_key)]


def test_every_introduction_is_listed_without_all_occurrences(story: Story) -> None:
    repo = story.repo
    repo.write("config/a.py", f"# back\nKEY = '{story.spread}'\n")
    back = repo.commit("restore a")
    result = audited(story.repo)
    spread = by_hash(result)[key_sha256(story.spread)]
    assert [(i.commit, i.path) for i in spread.introductions] == [
        (story.add_a, "config/a.py"), (story.add_b, "config/b.py"), (back, "config/a.py")]
    assert spread.head_paths == ("config/a.py", "config/b.py")
    # The findings keep their counts: one per (key, path), at its earliest introduction.
    history = [f.history for f in result.findings if f.secret == story.spread]
    assert [(h.other_commits, h.other_paths) for h in history if h] == [(1, 1), (0, 1)]


def test_a_key_removed_everywhere_is_not_in_head(dated_repo: DatedRepo) -> None:
    key = make_key("live", "gone")
    dated_repo.write("a.env", f"K={key}\n")
    added = dated_repo.commit("add")
    dated_repo.write("a.env", "K=from-the-environment\n")
    removed = dated_repo.commit("edit the key out")
    result = audited(dated_repo)
    [entry] = result.keys
    assert entry.first == Introduction(added, "a.env", AUTHOR, iso_date(0), "history")
    assert (entry.in_head, entry.head_paths) == (False, ())
    assert entry.removed_in == (Removal(removed, "a.env", iso_date(1)),)
    assert (entry.refs, entry.pushed) == (("refs/heads/main",), False)


def test_a_removal_off_heads_history_is_not_listed(dated_repo: DatedRepo) -> None:
    key = make_key("live", "side")
    dated_repo.write("a.env", f"K={key}\n")
    dated_repo.commit("add")
    dated_repo.git("checkout", "-q", "-b", "side")
    os.remove(dated_repo.path / "a.env")
    dated_repo.commit("remove on a branch")
    dated_repo.git("checkout", "-q", "main")
    result = audited(dated_repo)
    [entry] = result.keys
    assert entry.removed_in == () and entry.head_paths == ("a.env",)


def test_the_scan_record_names_repository_head_refs_and_time(story: Story) -> None:
    result = audited(story.repo)
    record = result.scan
    assert record is not None
    assert (record.command, record.repository) == ("git", str(story.repo.path))
    assert record.head == story.remove_a
    assert record.refs == ("refs/heads/feature", "refs/heads/main", "refs/remotes/origin/main",
                           "refs/stash", "refs/tags/v1", )
    assert record.version == __version__
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", record.started or "")
    assert record.duration is not None and 0 <= record.duration < 60
    branch = audited(story.repo, branch="feature").scan
    assert branch is not None and branch.refs == ("refs/heads/feature",)


def test_unreachable_and_dangling_objects(dated_repo: DatedRepo) -> None:
    amended, dangling = make_key("live", "amended"), make_key("live", "dangling")
    dated_repo.write("a.env", f"K={amended}\n")
    first = dated_repo.commit("add")
    dated_repo.write("a.env", "K=none\n")
    dated_repo.git("commit", "-q", "--amend", "-a", "-m", "add, without the key")
    blob = dated_repo.out("hash-object", "-w", "--stdin", input=f"{dangling}\n".encode())
    result = audited(dated_repo, include_unreachable=True)
    keys = by_hash(result)
    lost = keys[key_sha256(amended)]
    assert lost.introductions == (
        Introduction(first, "a.env", AUTHOR, iso_date(0), "history", unreachable=True),)
    assert (lost.refs, lost.pushed, lost.in_head) == ((), False, False)
    assert "git reflog expire --expire-unreachable=now --all && git gc --prune=now" in (
        lost.remediation)
    loose = keys[key_sha256(dangling)]
    assert loose.introductions == (Introduction(None, None, None, None, "history", True),)
    [finding] = [f for f in result.findings if f.secret == dangling]
    assert finding.history is not None and finding.history.blob == blob


def test_text_report_shows_a_dangling_blobs_id_and_the_keys(run_hvscan: Run,
                                                            dated_repo: DatedRepo) -> None:
    dated_repo.commit("empty")
    blob = dated_repo.out("hash-object", "-w", "--stdin",
                          input=f"{make_key('live', 'loose')}\n".encode())
    done = run_hvscan("git", dated_repo.path, "--include-unreachable")
    out = done.stdout.decode()
    assert f"(blob {blob}):1:1: hesedvid-live-key" in out
    assert "Keys to revoke (1 distinct key):" in out
    assert "(history)" not in out
    big = dated_repo.out("hash-object", "-w", "--stdin", input=b"x" * 5000)
    limited = run_hvscan("git", dated_repo.path, "--include-unreachable", "--max-file-size",
                         "2000").stdout.decode()
    assert f"note: (blob {big}): blob larger than --max-file-size" in limited


def test_json_report_carries_keys_and_scan_as_the_contract_says(run_hvscan: Run,
                                                                 story: Story) -> None:
    done = run_hvscan("git", story.repo.path, "--format", "json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert list(report["scan"]) == ["command", "repository", "head", "refs", "version",
                                    "started", "duration"]
    assert report["scan"]["head"] == story.remove_a
    first = report["keys"][0]
    assert list(first) == ["secret_sha256", "rule_id", "key_type", "severity", "secret_redacted",
                           "verification", "findings", "first", "introductions", "in_head",
                           "head_paths", "removed_in", "refs", "pushed", "remediation"]
    assert first["secret_sha256"] == key_sha256(story.spread)
    assert first["introductions"][1] == {
        "commit": story.add_b, "path": "config/b.py", "author": AUTHOR, "date": iso_date(2),
        "source": "history", "unreachable": False}
    assert first["removed_in"] == [{"commit": story.remove_a, "path": "config/a.py",
                                    "date": iso_date(3)}]
    assert first["pushed"] is True and first["in_head"] is True
    assert first["remediation"].startswith("Pushed (a remote-tracking ref reaches it)")
    assert f"hvscan purge-plan {story.repo.path} --output DIR" in first["remediation"]
    assert story.spread.encode() not in done.stdout
    shown = json.loads(run_hvscan("git", story.repo.path, "--format", "json",
                                  "--show-secrets").stdout)
    assert shown["keys"][0]["secret"] == story.spread


def test_a_directory_scan_lists_keys_by_path_without_history(tmp_path: Path) -> None:
    key = make_key("live", "files")
    (tmp_path / "a.env").write_text(f"K={key}\n")
    (tmp_path / "b.env").write_text(f"K={key}\n")
    result = run_scan(walker([os.fsencode(tmp_path)], 1 << 20), command="dir")
    [entry] = result.keys
    assert entry.findings == 2
    assert [(i.commit, i.path, i.source) for i in entry.introductions] == [
        (None, "a.env", "file"), (None, "b.env", "file")]
    assert (entry.in_head, entry.head_paths, entry.removed_in, entry.refs, entry.pushed) == (
        None, (), (), (), None)
    assert result.scan is not None and result.scan.command == "dir"
    assert (result.scan.repository, result.scan.head, result.scan.refs) == (None, None, None)


def test_a_suppressed_key_is_not_listed(tmp_path: Path) -> None:
    (tmp_path / "a.env").write_text(f"K={make_key('live', 'ok')}  # hvscan:allow\n")
    result = run_scan(walker([os.fsencode(tmp_path)], 1 << 20), command="dir")
    assert result.findings == [] and result.keys == []


def test_an_older_stash_entry_and_an_annotated_tag_reach_their_keys(
        dated_repo: DatedRepo) -> None:
    stashed, tagged = make_key("live", "old-stash"), make_key("test", "tagged")
    dated_repo.write("README", "hello\n")
    dated_repo.commit("first")
    dated_repo.write("s.env", f"K={stashed}\n")
    dated_repo.git("stash", "push", "-q", "--include-untracked")
    dated_repo.write("t.env", "T=1\n")
    dated_repo.git("stash", "push", "-q", "--include-untracked")  # refs/stash moves on
    dated_repo.git("checkout", "-q", "-b", "release")
    dated_repo.write("t.env", f"T={tagged}\n")
    dated_repo.commit("release")
    dated_repo.git("tag", "-a", "-m", "release", "v2")
    dated_repo.git("checkout", "-q", "main")
    dated_repo.git("branch", "-D", "release")
    keys = by_hash(audited(dated_repo))
    assert keys[key_sha256(stashed)].refs == ("refs/stash",)
    assert keys[key_sha256(tagged)].refs == ("refs/tags/v2",)
    assert keys[key_sha256(tagged)].pushed is False


def test_a_key_entry_never_shows_its_key_in_repr(tmp_path: Path) -> None:
    key = make_key("live", "repr")
    (tmp_path / "a.env").write_text(f"K={key}\n")
    [entry] = run_scan(walker([os.fsencode(tmp_path)], 1 << 20), command="dir").keys
    assert entry.secret == key
    assert key not in repr(entry) and entry.secret_redacted in repr(entry)


def test_a_merge_that_brings_a_removal_in_is_not_a_removal(dated_repo: DatedRepo) -> None:
    key = make_key("live", "merged")
    dated_repo.write("a.env", f"K={key}\n")
    dated_repo.write("b.txt", "1\n")
    dated_repo.commit("add")
    dated_repo.git("checkout", "-q", "-b", "cleanup")
    dated_repo.write("a.env", "K=from-the-environment\n")
    removed = dated_repo.commit("edit the key out")
    dated_repo.git("checkout", "-q", "main")
    dated_repo.write("b.txt", "2\n")
    dated_repo.commit("other work")
    dated_repo.git("merge", "-q", "--no-edit", "cleanup")
    dated_repo.tick()
    [entry] = audited(dated_repo).keys
    # Only the commit that edited the key out, not the merge bringing that edit into main.
    assert [(r.commit, r.path) for r in entry.removed_in] == [(removed, "a.env")]
    assert entry.in_head is False


def test_a_keys_answer_is_its_most_alarming() -> None:
    from hvscan.keys import _ALARM
    from hvscan.verify.policy import STATUSES

    assert _ALARM == STATUSES  # the same order, kept apart only for the import's cost
    invalid, unknown, live = ({"status": status, "detail": status}
                              for status in ("invalid", "unknown", "live"))
    assert most_alarming([invalid, None, unknown]) is unknown
    assert most_alarming([invalid, live, unknown]) is live
    assert most_alarming([{"status": "custom", "detail": "rule's own"}, invalid])["status"] == (
        "custom")  # another rule's status ranks with unknown
    assert most_alarming([None, None]) is None
