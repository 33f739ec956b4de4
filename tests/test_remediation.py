"""Remediation by context (hvscan.remediation): each context's advice, per finding and per key,
and through the command line for staged changes and pushes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from gitrepo import GitRepo
from hvscan_run import Run
from keygen import make_key

from hvscan.engine import Engine
from hvscan.keys import Exposure, ScanRecord
from hvscan.model import Finding, History, Origin
from hvscan.remediation import for_finding, for_key
from hvscan.rules import load_builtin_rules
from hvscan.scan import Pipeline
from hvscan.sources import Blob

DEFAULT = load_builtin_rules()[0].remediation
COMMIT = "3f1c9e0d2b4a6c8e0f1a3b5c7d9e1f2a3b4c5d6e"
AUDIT = ScanRecord(command="git", repository="/src/my project")
PRUNE = "git reflog expire --expire-unreachable=now --all && git gc --prune=now"


def finding(source: str = "history", **changes: Any) -> Finding:
    origin = Origin(source, "app/settings.py" if source != "commit-message" else None,
                    None if source in ("staged", "file") else COMMIT)
    [found] = Pipeline(Engine(load_builtin_rules())).run(
        iter([Blob(f"K = '{make_key('live', 'fix')}'\n".encode(), origin)])).findings
    return found.replace(**changes)


def test_a_staged_key_has_no_history_to_purge() -> None:
    text = for_finding(finding("staged"), None, ScanRecord(command="staged"), DEFAULT)
    assert text.startswith("Staged, never committed: take the key out of app/settings.py")
    assert "environment variable" in text and "no history to purge" in text
    assert "purge-plan" not in text


def test_a_key_being_pushed_gets_the_exact_rebase_to_run() -> None:
    push = ScanRecord(command="pre-push")
    text = for_finding(finding(), None, push, DEFAULT)
    assert text.startswith("Not on the remote yet: rewrite the local commits before pushing.")
    assert f"git rebase -i {COMMIT}^ " in text and f"mark commit {COMMIT[:12]} 'edit'" in text
    message = for_finding(finding("commit-message"), None, push, DEFAULT)
    assert f"mark commit {COMMIT[:12]} 'reword'" in message
    tag = finding("tag-message", history=History(tag="v1.0", tag_object="a" * 40))
    assert "git tag -f -a v1.0 " in for_finding(tag, None, push, DEFAULT)
    ref = for_finding(finding("ref", in_name=True), None, push, DEFAULT)
    assert "git branch -m NEW" in ref and "rebase" not in ref  # no commit holds a ref's name


def test_a_pushed_key_is_revoked_first_then_purged() -> None:
    text = for_finding(finding(), Exposure(pushed=True), AUDIT, DEFAULT)
    assert text.startswith("Pushed (a remote-tracking ref reaches it): revoke it before")
    assert DEFAULT in text
    assert text.endswith("hvscan purge-plan '/src/my project' --output DIR writes the plan.")


def test_a_key_no_remote_reaches_says_what_pushing_would_change() -> None:
    text = for_finding(finding(), Exposure(pushed=False), AUDIT, DEFAULT)
    assert text.startswith("No remote-tracking ref reaches it:")
    assert "purge-plan" in text


def test_a_key_verified_invalid_is_dead_and_purged_at_leisure() -> None:
    dead = finding(verification={"status": "invalid", "detail": "HTTP 401"})
    text = for_finding(dead, Exposure(pushed=True), AUDIT, DEFAULT)
    assert text.startswith("Already dead")
    assert "at leisure" in text and DEFAULT not in text
    in_file = for_finding(finding("file", verification={"status": "invalid", "detail": "x"}),
                          None, ScanRecord(command="dir"), DEFAULT)
    assert in_file.startswith("Already dead") and "Remove it from the file at leisure." in in_file


def test_a_key_in_a_message_needs_messages_rewritten() -> None:
    text = for_finding(finding("commit-message"), Exposure(pushed=True), AUDIT, DEFAULT)
    assert f"It is in the message of commit {COMMIT[:12]}, which --replace-text" in text
    assert "git filter-repo --replace-message" in text
    tag = finding("tag-message", history=History(tag="v2", tag_object="b" * 40))
    assert "message of tag v2" in for_finding(tag, Exposure(pushed=False), AUDIT, DEFAULT)


def test_a_key_in_a_ref_name_is_renamed_by_the_purge() -> None:
    # Its name, not a message: no commit or message holds it (the advice for a push, "a name
    # without the key", once ended up quoted as a message's place).
    ref = finding("ref", in_name=True, path="refs/heads/leak")
    text = for_finding(ref, Exposure(pushed=True), AUDIT, DEFAULT)
    assert text.startswith("The key is in the name of refs/heads/leak, not in its content: "
                           "rename it. Pushed")
    assert "message" not in text and "Not on the remote yet" not in text
    assert text.endswith("hvscan purge-plan '/src/my project' --output DIR writes the plan.")
    both = for_key([ref, ref.replace(path="refs/tags/v1-leak"), finding()],
                   Exposure(pushed=True), AUDIT, DEFAULT)
    assert "in the name of refs refs/heads/leak, refs/tags/v1-leak," in both
    assert both.count("purge-plan") == 1


def test_an_unreachable_key_is_pruned_with_the_exact_commands() -> None:
    lost = finding(history=History(blob="c" * 40, unreachable=True))
    assert PRUNE in for_finding(lost, Exposure(pushed=False), AUDIT, DEFAULT)


def test_a_file_outside_git_keeps_the_rules_text() -> None:
    assert for_finding(finding("file"), None, ScanRecord(command="dir"), DEFAULT) == DEFAULT


def test_a_key_as_a_whole_names_heads_files_and_its_worst_context() -> None:
    findings = [finding(), finding("commit-message")]
    text = for_key(findings, Exposure(pushed=True, in_head=True, head_paths=("a.py", "b.py")),
                   AUDIT, DEFAULT)
    assert text.startswith("Pushed")
    assert "Take it out of HEAD's files a.py, b.py first." in text
    assert "--replace-message" in text
    # One finding still live keeps the key alive.
    mixed = [finding(verification={"status": "invalid", "detail": "x"}),
             finding(verification={"status": "live", "detail": "y"})]
    assert not for_key(mixed, Exposure(pushed=True), AUDIT, DEFAULT).startswith("Already dead")
    staged = [finding("staged"), finding("staged").replace(path="other.py")]
    assert "other.py" in for_key(staged, Exposure(), ScanRecord(command="staged"), DEFAULT)


def test_pre_push_key_remediation_starts_the_rebase_at_the_oldest_commit() -> None:
    old = finding(commit="1" * 40, date="2024-01-01T00:00:00+00:00")
    new = finding(commit="2" * 40, date="2024-02-01T00:00:00+00:00")
    text = for_key([new, old], Exposure(), ScanRecord(command="pre-push"), DEFAULT)
    assert f"git rebase -i {'1' * 40}^" in text


@pytest.fixture
def pushing(repo: GitRepo, remote: GitRepo) -> tuple[GitRepo, str, str]:
    repo.commit_file("README", "hello\n", "first")
    repo.git("push", "-q", "origin", "main")
    key = make_key("live", "push")
    commit = repo.commit_file("app.env", f"K={key}\n", "add the key")
    return repo, key, commit


def test_pre_push_reports_the_rebase_in_every_finding_and_key(
        run_hvscan: Run, pushing: tuple[GitRepo, str, str]) -> None:
    repo, _, commit = pushing
    remote_tip = repo.out("rev-parse", "origin/main")
    line = f"refs/heads/main {commit} refs/heads/main {remote_tip}\n".encode()
    done = run_hvscan("pre-push", "origin", "url", "--format", "json", input=line,
                      cwd=repo.path, env=repo.env)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    [found] = report["findings"]
    [key] = report["keys"]
    for text in (found["remediation"], key["remediation"]):
        assert f"git rebase -i {commit}^" in text
    assert report["scan"]["command"] == "pre-push"
    assert report["scan"]["head"] == commit
    assert report["scan"]["repository"] == str(repo.path)


def test_staged_reports_say_no_history_to_purge(run_hvscan: Run, repo: GitRepo) -> None:
    repo.commit_file("README", "hello\n", "first")
    repo.write("app.env", f"K={make_key('live', 'staged')}\n")
    repo.add("app.env")
    done = run_hvscan("staged", "--format", "json", cwd=repo.path, env=repo.env)
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["findings"][0]["remediation"].startswith("Staged, never committed")
    assert report["keys"][0]["remediation"].startswith("Staged, never committed")
    assert (report["scan"]["command"], report["scan"]["head"]) == ("staged", repo.head())
    text = run_hvscan("staged", cwd=repo.path, env=repo.env).stdout.decode()
    assert "Keys to revoke (1 distinct key):" in text
