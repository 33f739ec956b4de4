"""``.pre-commit-hooks.yaml`` under the real pre-commit framework.

A repository holding this checkout's current files stands in for hvscan's public repository; the
framework installs hvscan from it into its own environment (once per test session: the cache in
PRE_COMMIT_HOME is shared) and runs the hooks from real ``git commit`` and ``git push`` calls.
"""

from __future__ import annotations

import gzip
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from gitrepo import GitRepo, git_env
from keygen import make_key

CHECKOUT = Path(__file__).resolve().parents[1]
BUILD_INPUTS = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "hvscan", "rules")
PRE_COMMIT = shutil.which("pre-commit", path=str(Path(sys.executable).parent))


@pytest.fixture(scope="session")
def hook_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[GitRepo, str]:
    """A git repository with the current hvscan sources committed, and that commit."""
    base = tmp_path_factory.mktemp("hvscan-source")
    source = GitRepo(base / "hvscan", git_env(base / "home"))
    for name in BUILD_INPUTS:
        original = CHECKOUT / name
        if original.is_dir():
            shutil.copytree(original, source.path / name,
                            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(original, source.path / name)
    source.add(".")
    return source, source.commit("hvscan under test")


@pytest.fixture(scope="session")
def pre_commit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


@pytest.fixture
def origin(tmp_path: Path, gitenv: dict[str, str], pre_commit_home: Path) -> GitRepo:
    """The project's remote ``origin``: an empty bare repository, with the project's
    environment."""
    env = {**gitenv, "PRE_COMMIT_HOME": str(pre_commit_home)}
    return GitRepo(tmp_path / "remote.git", env, bare=True)


@pytest.fixture
def project(tmp_path: Path, hook_repo: tuple[GitRepo, str], origin: GitRepo) -> Iterator[GitRepo]:
    """A project using the three hooks, with the empty bare remote ``origin``."""
    assert PRE_COMMIT, "pre-commit is not installed next to the test interpreter"
    repo = GitRepo(tmp_path / "project", origin.env)
    repo.git("remote", "add", "origin", str(origin.path))
    repo.write(".pre-commit-config.yaml", hooks_config(hook_repo, """\
      - id: hvscan
      - id: hvscan-staged
      - id: hvscan-push
"""))
    run(repo, PRE_COMMIT, "install", "-t", "pre-commit", "-t", "pre-push")
    repo.add(".pre-commit-config.yaml")
    # The first hook run builds the hook environment (once per session).
    committed = repo.git("commit", "-m", "use hvscan", check=False)
    assert committed.returncode == 0, committed.stdout + committed.stderr
    yield repo


def hooks_config(hook_repo: tuple[GitRepo, str], hooks: str) -> str:
    """A .pre-commit-config.yaml with ``hooks`` (the YAML list's items) of the hvscan under
    test."""
    source, commit = hook_repo
    return f"repos:\n  - repo: {source.path}\n    rev: {commit}\n    hooks:\n{hooks}"


def run(repo: GitRepo, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=repo.path, env=repo.env, capture_output=True, text=True,
                          check=False, timeout=900)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def git(repo: GitRepo, *args: str) -> subprocess.CompletedProcess[str]:
    return run(repo, "git", *args, check=False)


def test_commit_adding_a_key_is_blocked_with_a_readable_message(project: GitRepo) -> None:
    key = make_key("live", 1)
    project.write("settings.py", f"DEBUG = False\nAPI_KEY = '{key}'\n")
    project.add("settings.py")
    done = git(project, "commit", "-m", "add settings")
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "hvscan staged (HesedVid API keys the commit adds)" in output
    assert "settings.py:2:12: hesedvid-live-key [high] hv_live_" in output
    assert "Revoke the key" in output
    assert key not in output
    assert git(project, "rev-list", "--count", "HEAD").stdout == "1\n"


def test_clean_commit_passes(project: GitRepo) -> None:
    project.write("README.md", "Set HV_API_KEY in the environment (hv_live_...).\n")
    project.add("README.md")
    done = git(project, "commit", "-m", "docs")
    assert done.returncode == 0, done.stdout + done.stderr
    assert git(project, "rev-list", "--count", "HEAD").stdout == "2\n"


def test_push_carrying_a_key_is_refused(project: GitRepo, origin: GitRepo) -> None:
    assert git(project, "push", "-q", "origin", "main").returncode == 0
    key = make_key("test", 2)
    project.write("deploy.env", f"HV_KEY={key}\n")
    project.add("deploy.env")
    assert git(project, "commit", "-q", "--no-verify", "-m", "deploy").returncode == 0
    refused = git(project, "push", "origin", "main")
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "hvscan pre-push" in output and "deploy.env:1:8: hesedvid-test-key" in output
    assert origin.git("rev-list", "--count", "main").stdout == b"1\n"
    # The same commits on a new branch are refused as well.
    refused = git(project, "push", "origin", "main:refs/heads/feature")
    assert refused.returncode != 0 and "deploy.env:1:8" in refused.stdout + refused.stderr


def test_push_of_content_that_cannot_all_be_scanned_is_refused(project: GitRepo,
                                                                origin: GitRepo) -> None:
    # hvscan-push is strict; the commit hooks are not (README, "Strict scans").
    assert git(project, "push", "-q", "origin", "main").returncode == 0
    project.write("logs.gz", gzip.compress(b"log line\n" * 100)[:-12])  # truncated
    project.add("logs.gz")
    committed = git(project, "commit", "-m", "logs")
    assert committed.returncode == 0, committed.stdout + committed.stderr
    refused = git(project, "push", "origin", "main")
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0
    assert "hvscan: --strict: 1 part of the input left unscanned:" in output
    assert "  logs.gz (commit " in output and "truncated gzip stream" in output
    assert origin.git("rev-list", "--count", "main").stdout == b"1\n"


def test_run_all_files_and_files_scan_what_they_name(project: GitRepo) -> None:
    project.write("old.py", f"K = '{make_key('live', 3)}'\n")
    project.add("old.py")
    assert git(project, "commit", "-q", "--no-verify", "-m", "old key").returncode == 0
    everything = run(project, PRE_COMMIT, "run", "hvscan", "--all-files", check=False)
    assert everything.returncode != 0 and "old.py:1:6" in everything.stdout
    named = run(project, PRE_COMMIT, "run", "hvscan", "--files", "old.py", check=False)
    assert named.returncode != 0 and "old.py:1:6" in named.stdout
    other = run(project, PRE_COMMIT, "run", "hvscan", "--files", ".pre-commit-config.yaml")
    assert "hvscan (HesedVid API keys in the files)" in other.stdout


@pytest.mark.parametrize("name", ["--exit-zero", "--fail-on=none", "--exclude=*"])
def test_a_file_named_like_an_option_never_turns_the_hook_green(project: GitRepo,
                                                                 name: str) -> None:
    """The framework appends the file names after the entry: a tracked file named like one of
    hvscan's options must not switch the scan off (exit 0 on old main)."""
    project.write("old.py", f"K = '{make_key('live', 4)}'\n")
    project.write(name, "looks like an option\n")
    project.add("old.py", name)
    assert git(project, "commit", "-q", "--no-verify", "-m", "old key").returncode == 0
    done = run(project, PRE_COMMIT, "run", "hvscan", "--all-files", check=False)
    assert done.returncode != 0, done.stdout
    assert f"'{name}' is the name of an existing file and an option of hvscan dir" in done.stdout


def test_users_args_still_apply_and_file_names_are_files(
        project: GitRepo, hook_repo: tuple[GitRepo, str]) -> None:
    project.write(".pre-commit-config.yaml", hooks_config(hook_repo, """\
      - id: hvscan
        args: [--fail-on=critical, --exclude, vendor/]
"""))
    project.write("app.py", f"K = '{make_key('live', 5)}'\n")  # high: below critical
    project.write("vendor/lib.py", f"K = '{make_key('live', 6)}'\n")
    # A file whose name starts with '-' but is no option is scanned like any other.
    project.write("-notes.txt", f"{make_key('live', 7)}\n")
    project.add(".pre-commit-config.yaml", "app.py", "vendor/lib.py", "-notes.txt")
    assert git(project, "commit", "-q", "--no-verify", "-m", "keys").returncode == 0
    # --verbose: the framework shows a passing hook's output only then.
    done = run(project, PRE_COMMIT, "run", "hvscan", "--all-files", "--verbose", check=False)
    assert done.returncode == 0, done.stdout
    assert "app.py:1:6" in done.stdout and "-notes.txt:1:1" in done.stdout, done.stdout
    assert "vendor/lib.py" not in done.stdout
    # A file named like the user's own option fails the run: which one was meant is unknown.
    project.write("--fail-on=critical", "x\n")
    project.add("--fail-on=critical")
    assert git(project, "commit", "-q", "--no-verify", "-m", "named").returncode == 0
    done = run(project, PRE_COMMIT, "run", "hvscan", "--all-files", check=False)
    assert done.returncode != 0, done.stdout
    assert "'--fail-on=critical' is the name of an existing file" in done.stdout
