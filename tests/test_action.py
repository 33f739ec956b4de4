"""The composite GitHub Action (action.yml): its shape, and its scripts run for real with bash
against a real repository, with a stand-in hvscan that records the command line it gets."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from gitrepo import GitRepo

ACTION = Path(__file__).parents[1] / "action.yml"
ZERO = "0" * 40


def _action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return data


def _step(step_id: str) -> dict[str, Any]:
    steps = _action()["runs"]["steps"]
    return next(s for s in steps if s.get("id") == step_id or s.get("name") == step_id)


def test_action_metadata() -> None:
    action = _action()
    assert action["name"] and action["description"]
    assert set(action["inputs"]) >= {"format", "fail-on", "baseline", "output", "range",
                                     "upload-sarif"}
    for name, spec in action["inputs"].items():
        assert spec["description"], name
        assert "default" in spec, name
    assert action["inputs"]["format"]["default"] == "github"
    assert action["inputs"]["fail-on"]["default"] == "low"
    assert action["runs"]["using"] == "composite"
    assert set(action["outputs"]) == {"exit-code", "report"}
    for step in action["runs"]["steps"]:
        assert "uses" in step or step["shell"] == "bash"
    upload = _step("Upload SARIF to code scanning")
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")


def test_scripts_take_values_from_env_only() -> None:
    # An expression inside a script is pasted in before bash parses it: a crafted branch name or
    # input would run as code. Values must come through `env`.
    for step in _action()["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step.get("name")


def test_install_step_installs_from_the_action_path() -> None:
    step = _step("install")
    assert step["env"]["HVSCAN_SOURCE"] == "${{ github.action_path }}"
    assert 'pip install --quiet --disable-pip-version-check "$HVSCAN_SOURCE"' in step["run"]


@pytest.fixture
def commits(repo: GitRepo) -> dict[str, str]:
    """Three commits c0, c1, c2 on main of the shared repository; origin/main is at c1."""
    shas = [repo.commit_file("f.txt", f"{n}\n", f"c{n}") for n in range(3)]
    repo.git("update-ref", "refs/remotes/origin/main", shas[1])
    return {"c0": shas[0], "c1": shas[1], "c2": shas[2]}


ScanRun = tuple[dict[str, str], list[str] | None, subprocess.CompletedProcess[str]]


def _run_scan(repo: GitRepo, tmp_path: Path, exit_code: int = 0, *, cwd: Path | None = None,
              **env: str) -> ScanRun:
    """Run the Scan step's script in ``repo`` (or in ``cwd``, with ``repo``'s git environment);
    return its outputs and the arguments hvscan got (None: not run)."""
    step = _step("scan")
    args_file = tmp_path / "args"
    args_file.unlink(missing_ok=True)
    fake = tmp_path / "hvscan"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{args_file}"\nexit {exit_code}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    outputs = tmp_path / "github_output"
    outputs.write_text("")
    defaults = {"INPUT_FORMAT": "github", "INPUT_FAIL_ON": "low", "INPUT_BASELINE": "",
                "INPUT_OUTPUT": "", "INPUT_RANGE": "", "INPUT_UPLOAD_SARIF": "false",
                "EVENT_NAME": "push", "PR_BASE": "", "PR_HEAD": "", "PUSH_BEFORE": "",
                "PUSH_AFTER": "", "PUSH_REF": "refs/heads/main", "DEFAULT_BRANCH": "main"}
    assert set(defaults) | {"HVSCAN_EXE"} == set(step["env"])
    proc = subprocess.run(
        ["bash", "-c", step["run"]], cwd=cwd or repo.path, capture_output=True, text=True,
        env={**repo.env, **defaults, **env, "HVSCAN_EXE": str(fake),
             "GITHUB_OUTPUT": str(outputs)}, check=False,
    )
    assert proc.returncode == 0, proc.stderr  # the step never fails; the verdict step does
    values = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    args = args_file.read_text().splitlines() if args_file.exists() else None
    return values, args, proc


def test_pull_request_scans_base_to_head(repo: GitRepo, commits: dict[str, str],
                                         tmp_path: Path) -> None:
    outputs, args, _ = _run_scan(repo, tmp_path, EVENT_NAME="pull_request",
                                 PR_BASE=commits["c0"], PR_HEAD=commits["c2"])
    assert args == ["git", "--range", f"{commits['c0']}..{commits['c2']}", "--format", "github",
                    "--fail-on", "low"]
    assert outputs == {"report": "", "exit-code": "0"}


def test_push_scans_before_to_after(repo: GitRepo, commits: dict[str, str], tmp_path: Path) -> None:
    _, args, _ = _run_scan(repo, tmp_path, PUSH_BEFORE=commits["c1"], PUSH_AFTER=commits["c2"])
    assert args is not None and args[1:3] == ["--range", f"{commits['c1']}..{commits['c2']}"]


def test_new_branch_scans_what_it_adds_to_the_default_branch(
    repo: GitRepo, commits: dict[str, str], tmp_path: Path
) -> None:
    _, args, _ = _run_scan(repo, tmp_path, PUSH_BEFORE=ZERO, PUSH_AFTER=commits["c2"],
                           PUSH_REF="refs/heads/feature")
    assert args is not None and args[1:3] == ["--range", f"origin/main..{commits['c2']}"]


def test_force_push_with_unknown_old_tip_on_the_default_branch_scans_its_history(
    repo: GitRepo, commits: dict[str, str], tmp_path: Path
) -> None:
    _, args, _ = _run_scan(repo, tmp_path, PUSH_BEFORE="1" * 40, PUSH_AFTER=commits["c2"])
    assert args is not None and args[1:3] == ["--branch", commits["c2"]]


def test_deleted_branch_scans_nothing(repo: GitRepo, commits: dict[str, str],
                                      tmp_path: Path) -> None:
    outputs, args, proc = _run_scan(repo, tmp_path, PUSH_BEFORE=commits["c2"], PUSH_AFTER=ZERO,
                                    PUSH_REF="refs/heads/gone")
    assert args is None and outputs == {"exit-code": "0"}
    assert "deleted refs/heads/gone" in proc.stdout


@pytest.mark.parametrize(("event", "range_", "expected"), [
    ("schedule", "", ["--branch", "HEAD"]),
    ("pull_request", "full", ["--branch", "HEAD"]),
    ("push", "v1.0..main", ["--range", "v1.0..main"]),
])
def test_other_events_and_explicit_ranges(
    repo: GitRepo, commits: dict[str, str], tmp_path: Path, event: str, range_: str,
    expected: list[str],
) -> None:
    _, args, _ = _run_scan(repo, tmp_path, EVENT_NAME=event, INPUT_RANGE=range_)
    assert args is not None and args[1:3] == expected


def test_inputs_become_options(repo: GitRepo, commits: dict[str, str], tmp_path: Path) -> None:
    outputs, args, _ = _run_scan(
        repo, tmp_path, 1, EVENT_NAME="schedule", INPUT_FORMAT="sarif", INPUT_FAIL_ON="high",
        INPUT_BASELINE=".hvscan-baseline.json", INPUT_UPLOAD_SARIF="true")
    assert args == ["git", "--branch", "HEAD", "--format", "sarif", "--fail-on", "high",
                    "--baseline", ".hvscan-baseline.json", "--output", "hvscan.sarif"]
    assert outputs == {"report": "hvscan.sarif", "exit-code": "1"}


def test_a_range_takes_its_baseline_from_the_base_commit(
    repo: GitRepo, commits: dict[str, str], tmp_path: Path
) -> None:
    repo.commit_file("b.json", "base version\n", "baseline")
    base = repo.head()
    head = repo.commit_file("b.json", "the change's own version\n", "rewrite the baseline")
    scan = {"EVENT_NAME": "pull_request", "PR_BASE": base, "PR_HEAD": head}
    _, args, _ = _run_scan(repo, tmp_path, INPUT_BASELINE="b.json", **scan)
    assert args is not None and args[-2] == "--baseline" and args[-1] != "b.json"
    copy = Path(args[-1])
    assert copy.read_text() == "base version\n"
    copy.unlink()
    # Not at the base: no baseline, said so. An absolute path is the job's own file.
    _, args, proc = _run_scan(repo, tmp_path, INPUT_BASELINE="new.json", **scan)
    assert args is not None and "--baseline" not in args
    assert "::notice title=hvscan::no new.json in" in proc.stdout
    _, args, _ = _run_scan(repo, tmp_path, INPUT_BASELINE=str(tmp_path / "job.json"), **scan)
    assert args is not None and args[-2:] == ["--baseline", str(tmp_path / "job.json")]


@pytest.mark.parametrize("env", [
    {"INPUT_RANGE": "main"},
    {"INPUT_UPLOAD_SARIF": "true", "INPUT_FORMAT": "github"},
])
def test_bad_inputs_are_errors(repo: GitRepo, commits: dict[str, str], tmp_path: Path,
                               env: dict[str, str]) -> None:
    outputs, args, proc = _run_scan(repo, tmp_path, **env)
    assert args is None and outputs == {"exit-code": "2"}
    assert re.match(r"::error title=hvscan::", proc.stdout)


def test_shallow_clone_is_an_error(repo: GitRepo, commits: dict[str, str], tmp_path: Path) -> None:
    shallow = tmp_path / "shallow"
    repo.git("clone", "-q", "--depth", "1", f"file://{repo.path}", str(shallow))
    outputs, args, proc = _run_scan(repo, tmp_path, cwd=shallow, EVENT_NAME="schedule")
    assert args is None and outputs == {"exit-code": "2"}
    assert "fetch-depth: 0" in proc.stdout


@pytest.mark.parametrize("code", ["0", "1", "2", ""])
def test_verdict_step_exits_with_the_scan_code(code: str) -> None:
    proc = subprocess.run(["bash", "-c", _step("Verdict")["run"]], capture_output=True,
                          text=True, env={**os.environ, "HVSCAN_EXIT": code}, check=False)
    assert proc.returncode == int(code or 2)


def _doc_blocks(language: str) -> list[str]:
    text = (Path(__file__).parents[1] / "docs" / "ci.md").read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def test_documented_workflows_are_yaml_and_use_real_inputs() -> None:
    blocks = [yaml.safe_load(block) for block in _doc_blocks("yaml")]
    assert len(blocks) >= 6
    inputs = set(_action()["inputs"])
    uses = 0
    for block in blocks:
        for job in (block.get("jobs") or {}).values():
            for step in job["steps"]:
                if step.get("uses", "").startswith("OWNER/hvscan@"):
                    uses += 1
                    assert set(step.get("with", {})) <= inputs
                assert "${{" not in step.get("run", "")
    assert uses == 3
