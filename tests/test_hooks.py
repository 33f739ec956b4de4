"""``hvscan install-hook``: plain git hooks that block a commit or a push carrying a key."""

from __future__ import annotations

import gzip
import os
import subprocess
from pathlib import Path

from gitrepo import GitRepo
from hvscan_run import Run
from keygen import make_key

from hvscan import hooks


def install(repo: GitRepo, run_hvscan: Run, *args: str) -> subprocess.CompletedProcess[bytes]:
    return run_hvscan("install-hook", *args, cwd=repo.path, env=repo.env)


def test_pre_commit_hook_blocks_a_commit_that_adds_a_key(repo: GitRepo,
                                                         run_hvscan: Run) -> None:
    done = install(repo, run_hvscan)
    hook = repo.path / ".git" / "hooks" / "pre-commit"
    assert done.returncode == 0 and done.stdout == b"hvscan: installed .git/hooks/pre-commit\n"
    assert os.access(hook, os.X_OK)
    repo.write("clean.txt", "nothing to see\n")
    repo.add("clean.txt")
    assert repo.git("commit", "-q", "-m", "clean", check=False).returncode == 0
    key = make_key("live", 1)
    repo.write("app.py", f"KEY = '{key}'\n")
    repo.add("app.py")
    blocked = repo.git("commit", "-m", "add key", check=False)
    assert blocked.returncode != 0
    output = (blocked.stdout + blocked.stderr).decode()
    assert "app.py:1:8: hesedvid-live-key [high]" in output and key not in output
    assert repo.git("rev-list", "--count", "HEAD").stdout == b"1\n"
    # `git commit -a` stages through a temporary index: the hook still sees the change.
    repo.git("reset", "-q")
    assert repo.git("commit", "-a", "-m", "nothing tracked changed", check=False).returncode != 0
    repo.write("clean.txt", f"now {make_key('test', 2)}\n")
    blocked = repo.git("commit", "-a", "-m", "commit -a", check=False)
    assert blocked.returncode != 0 and b"clean.txt:1:5" in blocked.stdout + blocked.stderr


def test_pre_push_hook_refuses_a_push_with_a_key(repo: GitRepo, remote: GitRepo,
                                                 run_hvscan: Run) -> None:
    assert install(repo, run_hvscan, "--pre-push").returncode == 0
    repo.commit_file("a.txt", "clean\n", "clean")
    assert repo.git("push", "-q", "origin", "main", check=False).returncode == 0
    repo.commit_file("b.txt", make_key("live", 3), "key")
    refused = repo.git("push", "origin", "main", check=False)
    assert refused.returncode != 0
    assert b"b.txt:1:1: hesedvid-live-key" in refused.stdout + refused.stderr
    assert remote.git("rev-list", "--count", "main").stdout == b"1\n"
    # A new branch carrying the same commit is refused too.
    refused = repo.git("push", "origin", "main:refs/heads/feature", check=False)
    assert refused.returncode != 0
    assert remote.git("rev-parse", "-q", "--verify", "feature", check=False).returncode != 0


def test_pre_push_hook_is_strict_and_the_pre_commit_hook_is_not(repo: GitRepo, remote: GitRepo,
                                                                 run_hvscan: Run) -> None:
    assert install(repo, run_hvscan).returncode == 0
    assert install(repo, run_hvscan, "--pre-push").returncode == 0
    assert "-m hvscan pre-push --strict " in (repo.path / ".git" / "hooks" / "pre-push").read_text()
    repo.commit_file("a.txt", "clean\n", "clean")
    assert repo.git("push", "-q", "origin", "main", check=False).returncode == 0
    repo.write("logs.gz", gzip.compress(b"log line\n" * 100)[:-12])  # truncated
    repo.add("logs.gz")
    assert repo.git("commit", "-q", "-m", "logs", check=False).returncode == 0
    refused = repo.git("push", "origin", "main", check=False)
    assert refused.returncode != 0
    assert b"logs.gz (commit " in refused.stderr and b"truncated gzip stream" in refused.stderr
    assert remote.git("rev-list", "--count", "main").stdout == b"1\n"


def test_refuses_to_replace_an_existing_hook_unless_forced(repo: GitRepo,
                                                           run_hvscan: Run) -> None:
    hook = repo.path / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho mine\n")
    done = install(repo, run_hvscan)
    assert done.returncode == 2
    assert done.stderr == (b"hvscan: error: .git/hooks/pre-commit already exists; use --force "
                           b"to replace it (or call `hvscan staged` from that hook)\n")
    assert hook.read_text() == "#!/bin/sh\necho mine\n"
    done = install(repo, run_hvscan, "--force")
    assert done.returncode == 0 and done.stdout == b"hvscan: replaced .git/hooks/pre-commit\n"
    assert "-m hvscan staged" in hook.read_text()
    again = run_hvscan("install-hook", str(repo.path), env=repo.env)
    assert again.returncode == 0
    assert again.stdout == f"hvscan: already installed {hook}\n".encode()


def test_honours_core_hooks_path(repo: GitRepo, run_hvscan: Run) -> None:
    repo.git("config", "core.hooksPath", "ci/hooks")
    done = install(repo, run_hvscan, "--pre-push")
    assert done.returncode == 0
    assert (repo.path / "ci" / "hooks" / "pre-push").is_file()
    assert not (repo.path / ".git" / "hooks" / "pre-push").exists()


def test_outside_a_repository_is_an_error(tmp_path: Path, gitenv: dict[str, str],
                                          run_hvscan: Run) -> None:
    done = run_hvscan("install-hook", cwd=tmp_path,
                      env={**gitenv, "GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert done.returncode == 2
    assert done.stderr.decode() == (f"hvscan: error: git: {tmp_path}: not a git repository, "
                                    "nor inside one\n")


def test_hook_fails_closed_when_hvscan_is_gone(repo: GitRepo) -> None:
    hook = repo.path / ".git" / "hooks" / "pre-commit"
    hook.write_text(hooks.script(hooks.PRE_COMMIT, python="/nonexistent/python"))
    hook.chmod(0o755)
    repo.write("a.txt", "a")
    repo.add("a.txt")
    env = {**repo.env, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(["git", "commit", "-m", "a"], cwd=repo.path, env=env,
                          capture_output=True, check=False)
    assert done.returncode != 0
    assert b"hvscan pre-commit hook: hvscan is not installed" in done.stderr


def test_pre_push_hook_takes_a_remote_named_like_an_option_as_a_name(
        repo: GitRepo, tmp_path: Path, run_hvscan: Run) -> None:
    """git passes the remote's name, which the repository's configuration chooses, to the hook:
    a remote called ``--exit-zero`` must not switch the scan's verdict off."""
    GitRepo(tmp_path / "remote.git", repo.env, bare=True)
    repo.git("remote", "add", "--", "--exit-zero", str(tmp_path / "remote.git"))
    assert install(repo, run_hvscan, "--pre-push").returncode == 0
    repo.commit_file("b.txt", make_key("live", 4), "key")
    repo.git("config", "branch.main.remote", "--exit-zero")
    repo.git("config", "branch.main.merge", "refs/heads/main")
    refused = repo.git("push", check=False)
    assert refused.returncode != 0, refused.stderr
    assert b"b.txt:1:1: hesedvid-live-key" in refused.stdout + refused.stderr
