"""What a repository argument names, its shard, and the mirror of a remote (file:// only: no
network in tests)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from gitrepo import GitRepo

from hvscan import gitenv, repos
from hvscan.repos import RepoError


@pytest.mark.parametrize(("given", "shown", "key", "protocol"), [
    ("https://user:token@GitHub.com/Org/App.git", "https://GitHub.com/Org/App.git",
     "https://github.com/Org/App", "https"),
    ("https://github.com/org/app/", "https://github.com/org/app/",
     "https://github.com/org/app", "https"),
    ("ssh://git@host.example:2222/org/app.git", "ssh://host.example:2222/org/app.git",
     "ssh://host.example:2222/org/app", "ssh"),
    ("git@github.com:org/app.git", "git@github.com:org/app.git", "ssh://github.com/org/app",
     "ssh"),
    ("file:///srv/git/app.git", "file:///srv/git/app.git", "file:///srv/git/app", "file"),
    ("org/app", "org/app", "https://github.com/org/app", "https"),
])
def test_urls_are_shown_without_credentials_and_normalised(given: str, shown: str, key: str,
                                                           protocol: str) -> None:
    repo = repos.parse(given)
    assert (repo.shown, repo.key, repo.protocol) == (shown, key, protocol)
    assert repo.url == (given if given != "org/app" else "https://github.com/org/app.git")


def test_an_existing_path_wins_over_the_owner_name_shorthand(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    (tmp_path / "org" / "app").mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    repo = repos.parse("org/app")
    assert repo.local and repo.key == str(tmp_path / "org" / "app")


def test_unsupported_schemes_are_refused_without_credentials() -> None:
    with pytest.raises(RepoError, match=r"ext://host/x: unsupported URL scheme") as caught:
        repos.parse("ext://me:secret@host/x")
    assert "secret" not in str(caught.value)


def test_repos_file_skips_comments_and_blank_lines(tmp_path: Path) -> None:
    listing = tmp_path / "repos.txt"
    listing.write_text("# the fleet\n\nfirst  # inline comment\n  file:///x.git\n")
    assert repos.read_list(listing) == ["first", "file:///x.git"]
    with pytest.raises(RepoError, match=r"--repos-file .*: No such file"):
        repos.read_list(tmp_path / "missing")


@pytest.mark.parametrize("text", ["0/3", "4/3", "1", "a/b", "1/0", "-1/2"])
def test_bad_shards_are_refused(text: str) -> None:
    with pytest.raises(RepoError, match="expected I/N with 1 <= I <= N"):
        repos.parse_shard(text)


def test_shards_partition_the_repositories_whatever_the_spelling_and_order() -> None:
    names = [f"https://example.invalid/org/repo{n}" for n in range(60)]
    shards = [repos.select(names, (index, 4)) for index in range(1, 5)]
    assert sorted(r.key for shard in shards for r in shard) == sorted(names)
    assert all(shards)  # 60 names over 4 shards: none empty
    # Credentials, the host's case and a .git suffix do not move a repository to another shard.
    respelled = [name.replace("https://example", "https://u:p@EXAMPLE") + ".git"
                 for name in names]
    assert {r.key for r in repos.select(list(reversed(respelled)), (2, 4))} == {
        r.key for r in shards[1]}


def test_each_repository_is_audited_once() -> None:
    selected = repos.select(["https://h/o/a", "https://x@h/o/a.git", "https://h/o/b"], None)
    assert [r.key for r in selected] == ["https://h/o/a", "https://h/o/b"]


def test_default_clone_dir_is_under_the_user_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "/var/cache/me")
    assert repos.default_clone_dir() == Path("/var/cache/me/hvscan/repos")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", "/home/me")
    assert repos.default_clone_dir() == Path("/home/me/.cache/hvscan/repos")


def _remote(tmp_path: Path, env: dict[str, str]) -> GitRepo:
    work = GitRepo(tmp_path / "work", env)
    work.write("a.txt", "one\n")
    work.git("add", "-A")
    work.git("commit", "-qm", "one")
    bare = tmp_path / "remote.git"
    work.git("clone", "-q", "--bare", str(work.path), str(bare))
    return work


def test_mirror_is_cloned_then_fetched_with_every_ref(tmp_path: Path,
                                                      gitenv: dict[str, str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in gitenv.items():
        monkeypatch.setenv(name, value)
    work = _remote(tmp_path, gitenv)
    repo = repos.parse(f"file://{tmp_path}/remote.git")
    clones = tmp_path / "clones"
    path = repos.mirror(repo, clones)
    assert path == repos.mirror_path(repo, clones) and path.parent == clones
    assert [p.name for p in clones.iterdir()] == [path.name]  # nothing left aside
    # A pull request's head, which only a mirror (+refs/*:refs/*) fetches.
    work.write("b.txt", "two\n")
    work.git("add", "-A")
    work.git("commit", "-qm", "two")
    work.git("push", "-q", str(tmp_path / "remote.git"), "HEAD:refs/pull/7/head")
    assert repos.mirror(repo, clones) == path
    listed = subprocess.run(["git", "-C", str(path), "for-each-ref", "--format=%(refname)"],
                            env=gitenv, capture_output=True, check=True).stdout.decode().split()
    assert "refs/pull/7/head" in listed and "refs/heads/main" in listed


def test_a_failed_clone_names_the_repository_without_credentials(tmp_path: Path) -> None:
    repo = repos.parse(f"file://me:s3cret@localhost{tmp_path}/missing.git")
    with pytest.raises(RepoError) as caught:
        repos.mirror(repo, tmp_path / "clones")
    message = str(caught.value)
    assert message.startswith(f"file://localhost{tmp_path}/missing.git: git clone failed: ")
    assert "s3cret" not in message
    assert not any((tmp_path / "clones").iterdir())


def test_the_clone_allows_only_the_given_transport_and_runs_no_hook() -> None:
    command = gitenv.transport_command("file", "clone", "--mirror", "u", "d")
    settings = dict(command[i + 1].split("=", 1) for i, part in enumerate(command)
                    if part == "-c")
    assert settings["protocol.allow"] == "never" and settings["protocol.file.allow"] == "always"
    assert settings["core.hooksPath"] == gitenv.NOWHERE
    assert settings["fetch.recurseSubmodules"] == "false"
    assert gitenv.transport_environment("file")["GIT_ALLOW_PROTOCOL"] == "file"
    assert gitenv.transport_environment("file")["GIT_TERMINAL_PROMPT"] == "0"


def test_redact_all_removes_credentials_from_every_url_in_a_message() -> None:
    text = "fatal: unable to access 'https://me:pw@h/x/': and ssh://u@h/y"
    assert repos.redact_all(text) == "fatal: unable to access 'https://h/x/': and ssh://h/y"


def test_the_mirror_keeps_no_credentials(tmp_path: Path, gitenv: dict[str, str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in gitenv.items():
        monkeypatch.setenv(name, value)
    _remote(tmp_path, gitenv)
    # git accepts (and ignores) user information in a file:// URL's authority.
    repo = repos.parse(f"file://me:s3cret@{tmp_path}/remote.git".replace("@/", "@localhost/"))
    path = repos.mirror(repo, tmp_path / "clones")
    config = (path / "config").read_text()
    assert "s3cret" not in config and f"file://localhost{tmp_path}/remote.git" in config
    repos.mirror(repo, tmp_path / "clones")  # fetching again names the URL it was given


@pytest.mark.parametrize(("url", "safe"), [
    ("https://user:tok@github.com/o/r.git", "https://github.com/o/r.git"),
    ("https://tok@host:8443/o/r", "https://host:8443/o/r"),
    ("https://host/o/r@x", "https://host/o/r@x"),
    ("git@github.com:o/r.git", "git@github.com:o/r.git"),
    ("/srv/git/r.git", "/srv/git/r.git"),
])
def test_redact_removes_the_user_information_of_a_url_only(url: str, safe: str) -> None:
    assert repos.redact(url) == safe
