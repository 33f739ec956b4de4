"""docs/scale.md's CI examples: each YAML parses and says what the page says, and its hvscan
commands, run here shard by shard against local repositories (file:// URLs and paths), merge
into what one run over every repository reports."""

from __future__ import annotations

import json
import os
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from gitrepo import DatedRepo
from keygen import make_key

DOC = Path(__file__).resolve().parent.parent / "docs" / "scale.md"
SHARDS = 4


def _blocks() -> list[list[Any]]:
    text = DOC.read_text(encoding="utf-8")
    return [list(yaml.safe_load_all(block))
            for block in re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)]


def test_the_examples_parse_and_shard_as_described() -> None:
    [github], [gitlab], [indexed, merge_job] = _blocks()
    shard, merge = github["jobs"]["shard"], github["jobs"]["merge"]
    assert shard["strategy"]["matrix"]["shard"] == list(range(1, SHARDS + 1))
    assert merge["needs"] == "shard" and merge["if"] == "always()"
    uses = [step.get("uses", "") for job in (shard, merge) for step in job["steps"]]
    assert "actions/upload-artifact@v4" in uses and "actions/download-artifact@v4" in uses
    assert gitlab["hvscan-shard"]["parallel"] == SHARDS
    assert gitlab["hvscan-merge"]["needs"] == ["hvscan-shard"]
    spec = indexed["spec"]
    assert (spec["completionMode"], spec["completions"]) == ("Indexed", SHARDS)
    assert merge_job["kind"] == "Job"


def _commands(system: str) -> tuple[str, str]:
    """The shard command and the merge command of one example."""
    [github], [gitlab], [indexed, merge_job] = _blocks()
    if system == "github":
        runs = [step["run"] for job in github["jobs"].values() for step in job["steps"]
                if step.get("run", "").startswith("hvscan ")]
    elif system == "gitlab":
        runs = [line for job in gitlab.values() if isinstance(job, dict)
                for line in job.get("script", []) if line.startswith("hvscan ")]
    else:
        runs = [job["spec"]["template"]["spec"]["containers"][0]["command"][2]
                for job in (indexed, merge_job)]
    shard, merge = runs
    return shard, merge


@pytest.fixture
def fleet(tmp_path: Path, gitenv: dict[str, str]) -> Path:
    """``tmp_path / "work"``, holding repos.txt: six repositories (three through file:// URLs),
    with keys of their own and one shared by all."""
    shared = make_key("live", 600)
    names = []
    for n in range(6):
        repo = DatedRepo(tmp_path / f"src{n}", gitenv)
        repo.write("app.py", f"KEY = '{make_key('live', 610 + n)}'\nOLD = '{shared}'\n")
        repo.commit(f"repo {n}")
        if n % 2:
            repo.git("clone", "-q", "--bare", str(repo.path), str(tmp_path / f"src{n}.git"))
            names.append(f"file://{tmp_path}/src{n}.git")
        else:
            names.append(str(repo.path))
    work = tmp_path / "work"
    for name in ("work", "config", "reports", "cache"):
        (tmp_path / name).mkdir()
    (work / "repos.txt").write_text("# the fleet\n" + "\n".join(names) + "\n")
    (tmp_path / "config" / "repos.txt").write_text("\n".join(names) + "\n")
    return work


def _sh(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    # The documented command line, run as the CI system runs it: by sh.
    return subprocess.run(["sh", "-c", command], cwd=cwd, env=env, capture_output=True,
                          check=False, timeout=300)


@pytest.mark.parametrize("system", ["github", "gitlab", "kubernetes"])
def test_the_examples_commands_merge_into_one_run(system: str, fleet: Path, hvscan_exe: str,
                                                  gitenv: dict[str, str]) -> None:
    root = fleet.parent
    env = {**gitenv, "HOME": str(root / "home"),
           "PATH": f"{Path(hvscan_exe).parent}{os.pathsep}{os.environ['PATH']}"}
    shard_command, merge_command = _commands(system)
    for directory in ("/config/", "/reports/", "/cache/"):  # the pod's volumes, here
        shard_command = shard_command.replace(directory, f"{root}{directory}")
        merge_command = merge_command.replace(directory, f"{root}{directory}")
    # With a state file, twice: the second night reads from what the first recorded.
    nights = 2 if "--incremental" in shard_command or "--state" in shard_command else 1
    for _ in range(nights):
        for index in range(1, SHARDS + 1):
            command = shard_command.replace("${{ matrix.shard }}", str(index))
            shard_env = {**env, "CI_NODE_INDEX": str(index), "CI_NODE_TOTAL": str(SHARDS),
                         "JOB_COMPLETION_INDEX": str(index - 1)}
            done = _sh(command, fleet, shard_env)
            assert done.returncode == 0, done.stderr  # --exit-zero: the merge gives the verdict
    states = [*root.glob("home/.cache/hvscan/state.sqlite3"), *root.glob("cache/state-*")]
    assert len(states) == {"github": 1, "gitlab": 0, "kubernetes": SHARDS}[system]
    merged = _sh(merge_command, fleet, env)
    assert merged.returncode == 1, merged.stderr  # findings
    # The same mirrors (remediation names the audited repository's path: a mirror's, for a URL).
    clone_dir = ["--clone-dir", f"{root}/cache/repos"] if system == "kubernetes" else []
    whole = json.loads(subprocess.run(
        [hvscan_exe, "git", "--repos-file", "repos.txt", *clone_dir, "--format", "json"],
        cwd=fleet, env=env, capture_output=True, check=False).stdout)
    assert len(whole["findings"]) == 12
    if system == "gitlab":
        failures = ET.parse(fleet / "hvscan.xml").getroot().iter("failure")
        assert len(list(failures)) == 12
        return
    report = json.loads((fleet / "hvscan.json" if system == "github"
                         else root / "reports" / "merged.json").read_text())
    assert report["findings"] == whole["findings"]
    assert report.get("keys") == whole.get("keys")
    assert len(report["scan"]["repositories"]) == 6
