"""``hvscan git`` through the installed console script: exit codes, reports, errors, progress."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from pathlib import Path

import pytest
from gitrepo import DatedRepo, GitRepo, disown, iso_date
from hvscan_run import Run
from keygen import make_key


@pytest.fixture
def leaky(dated_repo: DatedRepo) -> tuple[DatedRepo, str, str]:
    dated_repo.write("README", "hello\n")
    dated_repo.commit("first")
    key = make_key("live", 100)
    dated_repo.write("src/app.py", f"import os\nKEY = '{key}'\n")
    commit = dated_repo.commit("add app")
    dated_repo.write("src/app.py", "import os\nKEY = os.environ['KEY']\n")
    dated_repo.commit("use the environment")
    return dated_repo, key, commit


def test_text_report_names_path_line_commit_author_and_date(run_hvscan: Run,
                                                            leaky: tuple[DatedRepo, str, str]
                                                            ) -> None:
    repo, key, commit = leaky
    done = run_hvscan("git", repo.path)
    out = done.stdout.decode()
    assert done.returncode == 1, done.stderr
    assert "src/app.py:2:8: hesedvid-live-key [high]" in out
    assert f"commit {commit} by Ada Tester <ada@example.invalid> on {iso_date(1)}" in out
    assert key not in out and key[:12] in out  # redacted: prefix and 4 characters shown
    assert done.stderr == b""


def test_json_report_carries_history_fields(run_hvscan: Run,
                                            leaky: tuple[DatedRepo, str, str]) -> None:
    repo, _, commit = leaky
    done = run_hvscan("git", repo.path, "--format", "json")
    [finding] = json.loads(done.stdout)["findings"]
    assert finding["source"] == "history"
    assert finding["commit"] == commit
    assert finding["author"] == "Ada Tester <ada@example.invalid>"
    assert finding["date"] == iso_date(1)
    assert (finding["path"], finding["line"]) == ("src/app.py", 2)
    assert finding["other_commits"] == 0 and finding["other_paths"] == 0
    assert len(finding["blob"]) == 40 and "secret" not in finding


def test_default_repository_is_the_one_containing_the_current_directory(
        run_hvscan: Run, leaky: tuple[DatedRepo, str, str]) -> None:
    repo, _, _ = leaky
    done = run_hvscan("git", cwd=repo.path / "src")
    assert done.returncode == 1 and b"src/app.py:2:8" in done.stdout


def test_clean_history_exits_zero(run_hvscan: Run, dated_repo: DatedRepo) -> None:
    dated_repo.write("a.txt", "nothing here\n")
    dated_repo.commit("clean")
    done = run_hvscan("git", dated_repo.path)
    assert done.returncode == 0
    assert b"0 findings" in done.stdout


def test_not_a_repository_is_one_line_and_exit_2(run_hvscan: Run, tmp_path: Path) -> None:
    done = run_hvscan("git", tmp_path, env={"GIT_CEILING_DIRECTORIES": str(tmp_path.parent)})
    assert done.returncode == 2
    assert done.stdout == b""
    [line] = done.stderr.decode().splitlines()
    assert line.startswith("hvscan: error: ") and "not a git repository" in line


PUSHED = f"refs/heads/main {'a' * 40} refs/heads/main {'0' * 40}\n".encode()
GIT_COMMANDS = [
    pytest.param(("staged",), None, id="staged"),
    pytest.param(("git", "--staged"), None, id="git-staged"),
    pytest.param(("git",), None, id="git"),
    pytest.param(("pre-push", "origin", "url"), PUSHED, id="pre-push"),
    pytest.param(("pre-push", "origin", "url"), b"", id="pre-push-nothing"),
    pytest.param(("install-hook",), None, id="install-hook"),
]


@pytest.mark.parametrize(("args", "pushed"), GIT_COMMANDS)
def test_outside_a_repository_git_commands_say_so(run_hvscan: Run, tmp_path: Path,
                                                  args: tuple[str, ...],
                                                  pushed: bytes | None) -> None:
    # `git diff --cached` outside a repository said "unknown option `cached'".
    done = run_hvscan(*args, cwd=tmp_path, input=pushed,
                      env={"GIT_CEILING_DIRECTORIES": str(tmp_path.parent)})
    assert (done.returncode, done.stdout) == (2, b"")
    [line] = done.stderr.decode().splitlines()
    assert line.startswith("hvscan: error: ")
    assert line.endswith(f"{tmp_path}: not a git repository, nor inside one")


@pytest.mark.parametrize(("args", "pushed"), GIT_COMMANDS)
def test_a_repository_git_refuses_names_safe_directory(
    run_hvscan: Run, repo: GitRepo, args: tuple[str, ...], pushed: bytes | None
) -> None:
    repo.commit_file("a.txt", "hello\n")
    repo.write("b.txt", "more\n")
    repo.add("b.txt")
    disown(repo.path)
    done = run_hvscan(*args, cwd=repo.path, input=pushed, env=repo.env)
    assert (done.returncode, done.stdout) == (2, b"")
    [line] = done.stderr.decode().splitlines()
    assert line.startswith("hvscan: error: ")
    assert f"the repository at {repo.path} belongs to another user" in line
    assert line.endswith(f"git config --global --add safe.directory {repo.path}")


def test_range_with_branch_is_a_usage_error(run_hvscan: Run,
                                            leaky: tuple[DatedRepo, str, str]) -> None:
    repo, _, _ = leaky
    done = run_hvscan("git", repo.path, "--range", "HEAD~1..HEAD", "--branch", "main")
    assert done.returncode == 2 and b"cannot be combined" in done.stderr


@pytest.mark.parametrize("option", ["--range", "--since-commit", "--branch"])
def test_a_revision_value_named_like_an_option_is_refused(
        run_hvscan: Run, leaky: tuple[DatedRepo, str, str], tmp_path: Path, option: str) -> None:
    """The value of a revision option is never one of git's options (``--output=`` would write a
    file), whether given as ``--range=VALUE`` or as the next argument."""
    repo, _, _ = leaky
    value = f"--output={tmp_path / 'written'}" + ("..HEAD" if option == "--range" else "")
    for args in ((option, value), (f"{option}={value}",)):
        done = run_hvscan("git", repo.path, *args)
        assert done.returncode == 2 and b"is not a revision" in done.stderr
    assert not (tmp_path / "written").exists()


@pytest.mark.parametrize("value", ["HEAD~2...HEAD", "--range=HEAD~2...HEAD"])
def test_a_symmetric_difference_is_refused_with_the_spelling_to_use(
        run_hvscan: Run, leaky: tuple[DatedRepo, str, str], value: str) -> None:
    repo, _, _ = leaky
    args = (value,) if value.startswith("--") else ("--range", value)
    done = run_hvscan("git", repo.path, *args)
    assert done.returncode == 2 and done.stdout == b""
    [line] = done.stderr.decode().splitlines()
    assert "'HEAD~2...HEAD' (A...B, a symmetric difference) is not supported; use HEAD~2..HEAD" \
        in line
    # What it suggests is what a gate means: the commits HEAD added since it forked.
    assert run_hvscan("git", repo.path, "--range", "HEAD~2..HEAD").returncode == 1


def test_since_commit_on_the_command_line(run_hvscan: Run,
                                          leaky: tuple[DatedRepo, str, str]) -> None:
    repo, _, commit = leaky
    assert run_hvscan("git", repo.path, "--since-commit", commit).returncode == 0
    assert run_hvscan("git", repo.path, "--since-commit", "HEAD~2").returncode == 1
    bad = run_hvscan("git", repo.path, "--since-commit", "nope")
    assert bad.returncode == 2 and b"does not name a commit" in bad.stderr


def test_shallow_clone_prints_findings_and_fails_with_the_reason(
        run_hvscan: Run, leaky: tuple[DatedRepo, str, str], tmp_path: Path) -> None:
    repo, _, _ = leaky
    repo.write("late.py", make_key("test", 101))
    repo.commit("late key")
    clone = tmp_path / "shallow"
    repo.git("clone", "-q", "--depth", "1", f"file://{repo.path}", str(clone))
    done = run_hvscan("git", clone)
    assert done.returncode == 2
    assert b"late.py" in done.stdout
    assert b"shallow clone" in done.stdout and b"scan incomplete" in done.stdout


def test_unreachable_findings_are_labelled(run_hvscan: Run, dated_repo: DatedRepo) -> None:
    dated_repo.write("README", "x\n")
    dated_repo.commit("base")
    dated_repo.git("hash-object", "-w", "--stdin", input=make_key("live", 102).encode())
    assert run_hvscan("git", dated_repo.path).returncode == 0
    done = run_hvscan("git", dated_repo.path, "--include-unreachable")
    assert done.returncode == 1 and b"unreachable: no ref reaches it" in done.stdout


def test_progress_only_when_asked_or_on_a_terminal(run_hvscan: Run,
                                                   leaky: tuple[DatedRepo, str, str]) -> None:
    repo, _, _ = leaky
    assert run_hvscan("git", repo.path).stderr == b""
    forced = run_hvscan("git", repo.path, "--progress")
    assert b"objects" in forced.stderr and b"\r" in forced.stderr


def test_progress_is_drawn_on_a_terminal(hvscan_exe: str,
                                         leaky: tuple[DatedRepo, str, str]) -> None:
    repo, _, _ = leaky
    parent, child = pty.openpty()
    try:
        done = subprocess.run([hvscan_exe, "git", str(repo.path)], stderr=child,
                              stdout=subprocess.PIPE, timeout=120, check=False,
                              env={**os.environ, "NO_COLOR": "1"})
        os.close(child)
        child = -1
        drawn = b""
        while True:
            try:
                block = os.read(parent, 4096)
            except OSError:  # the terminal's other side is closed: all read
                break
            if not block:
                break
            drawn += block
    finally:
        os.close(parent)
        if child >= 0:
            os.close(child)
    assert done.returncode == 1
    assert b"objects" in drawn


def test_excludes_and_inline_allow_apply_to_history(run_hvscan: Run,
                                                    dated_repo: DatedRepo) -> None:
    dated_repo.write("fixtures/keys.txt", make_key("live", 103))
    dated_repo.write("app.py", f"KEY = '{make_key('live', 104)}'  # hvscan:allow\n")
    dated_repo.commit("fixtures")
    assert run_hvscan("git", dated_repo.path).returncode == 1
    done = run_hvscan("git", dated_repo.path, "--exclude", "fixtures/", "--format", "json")
    report = json.loads(done.stdout)
    assert done.returncode == 0 and report["findings"] == []
    assert report["stats"]["suppressed"] == 1


def test_an_object_over_max_file_size_is_listed_not_read(run_hvscan: Run, repo: GitRepo) -> None:
    # History had no size limit: a blob was held whole while it was scanned, however large.
    big, small = make_key("live", 101), make_key("live", 102)
    repo.write("data/big.txt", f"KEY = '{big}'\n" + "x" * 5000)
    repo.write("small.txt", f"KEY = '{small}'\n")
    repo.add("data/big.txt", "small.txt")
    commit = repo.commit("add")
    done = run_hvscan("git", repo.path, "--max-file-size", "2000", "--format", "json")
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert [f["path"] for f in report["findings"]] == ["small.txt"]
    [note] = report["notes"]
    assert (note["path"], note["commit"], note["limit"]) == ("data/big.txt", commit, True)
    assert note["message"].startswith("blob larger than --max-file-size (")
    strict = run_hvscan("git", repo.path, "--max-file-size", "2000", "--strict")
    assert strict.returncode == 2
    assert (f"data/big.txt (commit {commit}): blob larger than --max-file-size (5049 > 2000 "
            "bytes): not scanned").encode() in strict.stderr
    whole = json.loads(run_hvscan("git", repo.path, "--format", "json").stdout)
    assert [f["path"] for f in whole["findings"]] == ["data/big.txt", "small.txt"]
