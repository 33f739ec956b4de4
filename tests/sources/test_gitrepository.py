"""Finding the repository: one clear line when there is none or git refuses it."""

from __future__ import annotations

from pathlib import Path

import pytest
from gitrepo import GitRepo, disown

from hvscan.sources.gitcmd import GitError
from hvscan.sources.gitrepository import explained, require_repository, rev_parse


def test_rev_parse_answers_one_a_line(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", repo.env["GIT_CONFIG_GLOBAL"])
    assert rev_parse(repo.path, "--absolute-git-dir", "--is-bare-repository") == [
        str(repo.path / ".git"), "false"]


def test_outside_a_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # So that the search for a repository stops before the test's own checkout.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    (tmp_path / "plain").mkdir()
    with pytest.raises(GitError) as raised:
        require_repository(tmp_path / "plain")
    assert str(raised.value) == f"{tmp_path / 'plain'}: not a git repository, nor inside one"


def test_a_repository_of_another_user_names_safe_directory(
    repo: GitRepo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", repo.env["GIT_CONFIG_GLOBAL"])
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    require_repository(repo.path)
    disown(repo.path)
    with pytest.raises(GitError) as raised:
        require_repository(repo.path)
    message = str(raised.value)
    assert "\n" not in message
    assert message == (
        f"the repository at {repo.path} belongs to another user, so git refuses to read it "
        "(dubious ownership); if you trust it: git config --global --add safe.directory "
        f"{repo.path}")


@pytest.mark.parametrize(("message", "expected"), [
    ("detected dubious ownership in repository at '/srv/my repo'",
     "safe.directory '/srv/my repo'"),
    ("bad revision 'x'", "bad revision 'x'"),
])
def test_other_messages(message: str, expected: str) -> None:
    assert explained("/srv", message).endswith(expected)
