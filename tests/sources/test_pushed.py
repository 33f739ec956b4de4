"""The pre-push source and ``hvscan pre-push``: what the remote does not have yet, only added
keys, from git's hook input or the pre-commit framework's variables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from archives import make_zip
from gitrepo import GitRepo
from hvscan_run import Run
from keygen import key_sha256, make_key

from hvscan.findings import redact
from hvscan.sources import Skipped
from hvscan.sources.pushed import (
    Push,
    PushInputError,
    from_hook_input,
    from_pre_commit,
    read,
)

Z = "0" * 40
A = "a" * 40
B = "b" * 40


def test_hook_input_lines() -> None:
    text = (f"refs/heads/main {A} refs/heads/main {B}\n"
            f"refs/heads/new {B} refs/heads/new {Z}\n"
            f"(delete) {Z} refs/heads/old {A}\n").encode()
    refs = ((b"refs/heads/main", A), (b"refs/heads/new", B))  # not the deleted one
    assert from_hook_input(text, "origin") == Push((A, B), (B, A), "origin", refs,
                                                   frozenset({b"refs/heads/main"}))
    # Pushed to another name: both are scanned, each once.
    assert from_hook_input(f"refs/heads/a {A} refs/heads/b {Z}\n"
                           f"refs/heads/a {A} refs/heads/a {Z}\n".encode(), None).refs == (
        (b"refs/heads/a", A), (b"refs/heads/b", A))
    assert from_hook_input(b"", None) == Push((), ())


@pytest.mark.parametrize("line", ["just some text", f"refs/heads/x {A} refs/heads/x nothex",
                                  f"refs/heads/x {A} refs/heads/x {Z} extra"])
def test_malformed_hook_input(line: str) -> None:
    with pytest.raises(PushInputError, match="line 1 of the pre-push input"):
        from_hook_input(line.encode() + b"\n", "origin")


def test_pre_commit_variables() -> None:
    assert from_pre_commit({}) is None
    assert from_pre_commit({"PRE_COMMIT_FROM_REF": A, "PRE_COMMIT_TO_REF": B,
                            "PRE_COMMIT_REMOTE_NAME": "origin",
                            "PRE_COMMIT_LOCAL_BRANCH": "refs/heads/x",
                            "PRE_COMMIT_REMOTE_BRANCH": "refs/heads/y"}) == Push(
        (B,), (A,), "origin", ((b"refs/heads/x", B), (b"refs/heads/y", B)))
    # A push that reaches a root commit: pre-commit gives no range, only the local branch.
    assert from_pre_commit({"PRE_COMMIT_LOCAL_BRANCH": "refs/heads/main",
                            "PRE_COMMIT_REMOTE_NAME": "origin"}) == Push(
        ("refs/heads/main",), (), "origin", ((b"refs/heads/main", None),))


def pre_push(repo: GitRepo, run_hvscan: Run, *refs: str, remote: str = "origin",
             env: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """Run ``hvscan pre-push`` with the lines git would send for ``git push origin refs``."""
    lines = []
    for ref in refs:
        local = repo.out("rev-parse", ref)
        known = repo.out("rev-parse", "-q", "--verify", f"refs/remotes/{remote}/{ref}",
                         check=False)
        lines.append(f"refs/heads/{ref} {local} refs/heads/{ref} {known or Z}\n")
    done = run_hvscan("pre-push", "--format", "json", remote, "/some/url", cwd=repo.path,
                      input="".join(lines).encode(), env={**repo.env, **(env or {})})
    assert done.returncode != 2, done.stdout + done.stderr
    return done.returncode, json.loads(done.stdout)


def keys(report: dict[str, Any]) -> list[tuple[str, str | None, str]]:
    return [(f["source"], f["path"], f["secret_sha256"]) for f in report["findings"]]


def test_new_branch_to_an_empty_remote_scans_all_its_history(
        repo: GitRepo, remote: GitRepo, run_hvscan: Run) -> None:
    key = make_key("live", 1)
    first = repo.commit_file("app.py", f"K = '{key}'\n", "add config")
    repo.write("app.py", "K = os.environ['K']\n")
    repo.commit("oops, remove it", "-a")
    code, report = pre_push(repo, run_hvscan, "main")
    assert code == 1
    assert keys(report) == [("history", "app.py", key_sha256(key))]
    finding = report["findings"][0]
    assert finding["commit"] == first
    assert finding["author"] == "Ada Tester <ada@example.invalid>"
    assert finding["date"] == "2024-03-01T12:00:00+00:00"
    assert (finding["line"], finding["column"]) == (1, 6)
    # Two blobs and two commit messages.
    assert report["stats"]["files_scanned"] == 4


def test_only_what_the_remote_lacks_and_only_added_keys(
        repo: GitRepo, remote: GitRepo, run_hvscan: Run) -> None:
    old, new = make_key("live", 2), make_key("test", 3)
    repo.commit_file("conf.py", f"OLD = '{old}'\n", "already pushed")
    repo.git("push", "-q", "--no-verify", "origin", "main")
    repo.write("conf.py", f"# edit\nOLD = '{old}'\n")
    repo.commit("edit", "-a")
    code, report = pre_push(repo, run_hvscan, "main")
    assert (code, keys(report)) == (0, [])
    assert report["stats"]["preexisting_ignored"] == 1
    repo.commit_file("new.env", f"NEW={new}\n", "new key")
    code, report = pre_push(repo, run_hvscan, "main")
    assert (code, keys(report)) == (1, [("history", "new.env", key_sha256(new))])
    # Pushed commits only: the first commit (on the remote) was not read again.
    assert report["stats"]["files_scanned"] == 4


def test_commit_messages_and_annotated_tags(repo: GitRepo, remote: GitRepo,
                                            run_hvscan: Run) -> None:
    in_message, in_tag = make_key("live", 4), make_key("live", 5)
    commit = repo.commit_file("a.txt", "a\n", f"debugging with {in_message}")
    repo.git("tag", "-a", "v1", "-m", f"release\n\nkey {in_tag}\n")
    tag = repo.out("rev-parse", "v1")
    lines = (f"refs/heads/main {commit} refs/heads/main {Z}\n"
             f"refs/tags/v1 {tag} refs/tags/v1 {Z}\n")
    done = run_hvscan("pre-push", "--format", "json", "origin", "url", cwd=repo.path,
                      input=lines.encode(), env=repo.env)
    report = json.loads(done.stdout)
    assert done.returncode == 1
    assert sorted(keys(report)) == [("commit-message", None, key_sha256(in_message)),
                                    ("tag-message", None, key_sha256(in_tag))]
    by_source = {f["source"]: f for f in report["findings"]}
    assert by_source["commit-message"]["commit"] == commit
    assert by_source["commit-message"]["line"] == 1
    assert by_source["tag-message"]["line"] == 3


def test_evil_merge_key_is_reported_but_a_merged_remote_branch_is_not(
        repo: GitRepo, remote: GitRepo, run_hvscan: Run) -> None:
    theirs, evil = make_key("live", 6), make_key("live", 7)
    repo.commit_file("base.txt", "base\n", "base")
    repo.git("checkout", "-q", "-b", "side")
    repo.commit_file("side.py", f"S = '{theirs}'\n", "side")
    repo.git("push", "-q", "--no-verify", "origin", "main", "side")
    repo.git("checkout", "-q", "main")
    repo.commit_file("main.txt", "main\n", "main")
    repo.git("merge", "-q", "--no-ff", "--no-commit", "side")
    code, report = pre_push(repo, run_hvscan, "main")  # nothing committed yet: main's tip
    assert (code, keys(report)) == (0, [])
    merge = repo.commit_file("main.txt", f"main\nE = '{evil}'\n", "merge side")
    code, report = pre_push(repo, run_hvscan, "main")
    assert (code, keys(report)) == (1, [("history", "main.txt", key_sha256(evil))])
    assert report["findings"][0]["commit"] == merge


def test_deleting_a_branch_sends_nothing(repo: GitRepo, remote: GitRepo,
                                         run_hvscan: Run) -> None:
    done = run_hvscan("pre-push", "origin", "url", cwd=repo.path, env=repo.env,
                      input=f"(delete) {Z} refs/heads/gone {A}\n".encode())
    assert done.returncode == 0
    assert b"scanned 0 files" in done.stdout


def test_remote_tip_unknown_here_is_tolerated(repo: GitRepo, remote: GitRepo,
                                              run_hvscan: Run) -> None:
    key = make_key("live", 8)
    commit = repo.commit_file("k.txt", key, "k")
    done = run_hvscan("pre-push", "--format", "json", "origin", "url", cwd=repo.path,
                      env=repo.env, input=f"refs/heads/main {commit} refs/heads/main {A}\n"
                      .encode())
    assert done.returncode == 1
    assert keys(json.loads(done.stdout)) == [("history", "k.txt", key_sha256(key))]


def test_missing_local_revision_fails(repo: GitRepo, remote: GitRepo, run_hvscan: Run) -> None:
    repo.commit_file("a", "a", "a")
    done = run_hvscan("pre-push", "origin", "url", cwd=repo.path, env=repo.env,
                      input=f"refs/heads/main {B} refs/heads/main {Z}\n".encode())
    assert done.returncode == 2
    assert f"error: {B}: the pushed revision is not in this repository" in done.stdout.decode()


def test_pre_commit_range_variables(repo: GitRepo, remote: GitRepo, run_hvscan: Run) -> None:
    key = make_key("test", 9)
    base = repo.commit_file("a.txt", "a\n", "a")
    tip = repo.commit_file("b.txt", key, "b")
    env = {"PRE_COMMIT_FROM_REF": base, "PRE_COMMIT_TO_REF": tip,
           "PRE_COMMIT_REMOTE_NAME": "origin"}
    done = run_hvscan("pre-push", "--format", "json", cwd=repo.path, env={**repo.env, **env})
    report = json.loads(done.stdout)
    assert done.returncode == 1 and keys(report) == [("history", "b.txt", key_sha256(key))]
    assert report["stats"]["files_scanned"] == 2


def test_revisions_named_like_options_are_revisions(repo: GitRepo, remote: GitRepo,
                                                    run_hvscan: Run, tmp_path: Path) -> None:
    """Revisions reach git log after --end-of-options: ``--output=FILE`` writes nothing (and
    is no revision here), ``--all`` as what the remote has does not exclude every commit (on
    old main: exit 0, nothing scanned): it is no revision either."""
    key = make_key("test", 10)
    base = repo.commit_file("a.txt", "a\n", "a")
    tip = repo.commit_file("b.txt", key, "b")
    written = tmp_path / "written"
    env = {**repo.env, "PRE_COMMIT_FROM_REF": base, "PRE_COMMIT_TO_REF": f"--output={written}"}
    done = run_hvscan("pre-push", cwd=repo.path, env=env)
    assert done.returncode == 2 and not written.exists()
    assert "the pushed revision is not in this repository" in done.stdout.decode()
    env = {**repo.env, "PRE_COMMIT_FROM_REF": "--all", "PRE_COMMIT_TO_REF": tip}
    done = run_hvscan("pre-push", cwd=repo.path, env=env)
    assert done.returncode == 2 and done.stderr == b"hvscan: error: git: bad revision '^--all'\n"
    env["PRE_COMMIT_FROM_REF"] = base
    done = run_hvscan("pre-push", "--format", "json", cwd=repo.path, env=env)
    assert done.returncode == 1
    assert keys(json.loads(done.stdout)) == [("history", "b.txt", key_sha256(key))]


def test_a_submodule_commit_is_noted_whatever_gitmodules_says(repo: GitRepo,
                                                             tmp_path: Path) -> None:
    """``ignore = all`` in the pushed .gitmodules must not hide the submodule commit."""
    sub = GitRepo(tmp_path / "sub", repo.env)
    commit = sub.commit_file("x", "x", "sub")
    repo.write(".gitmodules", '[submodule "lib"]\n\tpath = vendor/lib\n\turl = ./lib\n'
                              "\tignore = all\n")
    repo.add(".gitmodules")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{commit},vendor/lib")
    tip = repo.commit("add a submodule")
    skipped = [e for e in read(repo.path, Push((tip,), ())) if isinstance(e, Skipped)]
    assert skipped == [Skipped("vendor/lib", "submodule commit (push the submodule separately)",
                               informational=True)]


def test_malformed_input_is_one_line_and_exit_2(repo: GitRepo, run_hvscan: Run) -> None:
    done = run_hvscan("pre-push", "origin", "url", cwd=repo.path, env=repo.env,
                      input=b"what is this\n")
    assert done.returncode == 2
    assert done.stderr.startswith(b"hvscan: error: line 1 of the pre-push input")
    assert done.stderr.count(b"\n") == 1


def test_excludes_and_configuration_come_from_the_pushing_repository(
        repo: GitRepo, remote: GitRepo, run_hvscan: Run) -> None:
    key = make_key("live", 10)
    repo.write("fixtures/k.txt", key)
    repo.write("app.txt", key)
    repo.add("fixtures/k.txt", "app.txt")
    repo.commit("keys")
    # A push to a path: git passes the path as the remote; its configuration does not apply.
    (remote.path / ".hvscan.toml").write_text('exclude = ["*"]\n')
    repo.write(".hvscan.toml", 'exclude = ["fixtures/"]\n')
    head = repo.head()
    done = run_hvscan("pre-push", "--format", "json", str(remote.path), str(remote.path),
                      cwd=repo.path, env=repo.env,
                      input=f"refs/heads/main {head} refs/heads/main {Z}\n".encode())
    assert done.returncode == 1, done.stderr
    assert keys(json.loads(done.stdout)) == [("history", "app.txt", key_sha256(key))]


def test_names_the_pushed_commits_add(repo: GitRepo, remote: GitRepo, run_hvscan: Run) -> None:
    key, old = make_key("live", 80), make_key("test", 81)
    repo.commit_file(f"pushed-{old}/a.txt", "clean\n", "already pushed")
    repo.git("push", "-q", "--no-verify", "origin", "main")
    first = repo.commit_file(f"dir-{key}/a.txt", "clean\n", "a directory named with a key")
    repo.commit_file(f"dir-{key}/b.txt", "clean\n", "another file in it")
    repo.commit_file(f"pushed-{old}/b.txt", "clean\n", "in a directory the remote has")
    name = b"odd\n\xff" + key.encode()
    repo.write(name, "clean\n")
    repo.add(name)
    last = repo.commit("a file named with a key")
    code, report = pre_push(repo, run_hvscan, "main")
    assert code == 1
    found = [(f["path"], f["commit"], f["column"], f["in_name"]) for f in report["findings"]]
    shown = redact(key, key[-32:])
    assert found == [(f"dir-{shown}/", first, 5, True), (f"odd\\x0a\\xff{shown}", last, 2, True)]
    assert report["stats"]["preexisting_ignored"] == 1  # pushed-.../ is the remote's already
    assert all("rename it" in f["remediation"] for f in report["findings"])


def test_keys_in_pushed_archive_member_names(repo: GitRepo, remote: GitRepo,
                                             run_hvscan: Run) -> None:
    key, old = make_key("live", 83), make_key("test", 84)
    repo.commit_file("dist/app.zip", make_zip({f"conf/{old}.txt": b"clean\n"}), "pushed")
    repo.git("push", "-q", "--no-verify", "origin", "main")
    # The remote's version has the first name already: only the second is new.
    adding = repo.commit_file("dist/app.zip", make_zip(
        {f"conf/{old}.txt": b"edited\n", f"keys/{key}/a.txt": b"clean\n"}), "new member")
    code, report = pre_push(repo, run_hvscan, "main")
    assert code == 1
    found = [(f["path"], f["commit"], f["in_name"], f["encoding"]) for f in report["findings"]]
    assert found == [(f"dist/app.zip!keys/{redact(key, key[-32:])}/", adding, True, "zip")]
    assert report["stats"]["preexisting_ignored"] == 1


def test_names_along_an_excluded_file_are_each_filtered_by_their_own_path(
        repo: GitRepo, remote: GitRepo, run_hvscan: Run) -> None:
    key = make_key("live", 82)
    first = repo.commit_file(f"cfg/{key}/data.lock", "x\n", "a directory named with a key")
    repo.commit_file(f"lock-{key}.lock", "x\n", "an excluded file named with a key")
    repo.write(".hvscan.toml", 'exclude = ["*.lock"]\n')
    code, report = pre_push(repo, run_hvscan, "main")
    assert code == 1
    found = [(f["path"], f["commit"], f["in_name"]) for f in report["findings"]]
    assert found == [(f"cfg/{redact(key, key[-32:])}/", first, True)]


def test_the_names_of_the_refs_a_push_creates_or_updates(
        repo: GitRepo, remote: GitRepo, run_hvscan: Run) -> None:
    key = make_key("live", 83)
    branch = f"feat-{key}"
    repo.commit_file("a.txt", "clean\n", "first")
    repo.git("push", "-q", "--no-verify", "origin", "main")
    repo.git("checkout", "-q", "-b", branch)
    head = repo.commit_file("b.txt", "clean\n", "on a branch named with a key")
    code, report = pre_push(repo, run_hvscan, branch)
    assert code == 1
    found = [(f["source"], f["path"], f["commit"], f["in_name"], f["column"])
             for f in report["findings"]]
    assert found == [("ref", f"refs/heads/feat-{redact(key, key[-32:])}", head, True, 17)]
    assert report["findings"][0]["secret_sha256"] == key_sha256(key)
    assert "git branch -m" in report["findings"][0]["remediation"]
    line = f"refs/heads/{branch} {head} refs/heads/{branch} {Z}\n".encode()
    text = run_hvscan("pre-push", "origin", "url", cwd=repo.path, env=repo.env, input=line)
    assert text.returncode == 1 and b" on None" not in text.stdout  # a ref's name has no date
    assert f"first introduced in {head[:12]} at refs/heads/feat-".encode() in text.stdout
    # Once the remote has a ref of that name, pushing to it again adds no name.
    repo.git("push", "-q", "--no-verify", "origin", branch)
    repo.commit_file("c.txt", "clean\n", "more")
    code, report = pre_push(repo, run_hvscan, branch)
    assert (code, report["findings"], report["stats"]["preexisting_ignored"]) == (0, [], 1)
