"""The composite GitHub Action (action.yml): its shape, and its steps run as GitHub runs them
(``bash --noprofile --norc -eo pipefail``, expressions, outputs, ``if:``) against a real
repository, with a stand-in hvscan that records the command line it gets."""

from __future__ import annotations

import copy
import os
import re
import stat
import subprocess
from collections.abc import Callable
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
    assert action["inputs"]["strict"]["default"] == "true"
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


# --- Running the action's steps as GitHub does -------------------------------------------------
#
# GitHub runs a composite step's `run` script saved to a file, with `shell: bash` meaning
# `bash --noprofile --norc -eo pipefail FILE` (errexit on, unlike `bash -c`), its `env:` values
# with their ${{ }} expressions evaluated first, and GITHUB_OUTPUT, GITHUB_ENV and RUNNER_TEMP
# set. A step runs when its `if:` holds, with `success() &&` implied when the condition calls no
# status function (and `success()` alone without an `if:`): after a failed step, only steps
# that ask for `failure()` or `always()` run. `uses:` steps are not run here; the run records
# that GitHub would have run them, with their `with:` values.

_TOKEN = re.compile(r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<op>&&|\|\||==|!=|!|\(|\))"
                    r"|(?P<call>[A-Za-z_]+)\(\)|(?P<path>[A-Za-z_][\w.-]*))")


class Expression:
    """A GitHub Actions expression (the part of the syntax action.yml uses: context paths,
    'strings', ==, !=, !, &&, ||, parentheses, success(), failure(), always()), evaluated
    as GitHub does: a missing value is '', string comparison ignores case, && and || give one
    of their operands."""

    def __init__(self, text: str, contexts: dict[str, Any], failed: bool) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = text.strip()
        while position < len(text):
            found = _TOKEN.match(text, position)
            assert found and found.lastgroup, f"cannot read {text[position:]!r}"
            self.tokens.append((found.lastgroup, found[found.lastgroup]))
            position = found.end()
        self.contexts, self.failed, self.at = contexts, failed, 0

    def value(self) -> Any:
        result = self._or()
        assert self.at == len(self.tokens), self.tokens[self.at:]
        return result

    def _next(self, *ops: str) -> bool:
        if self.at < len(self.tokens) and self.tokens[self.at] in [("op", op) for op in ops]:
            self.at += 1
            return True
        return False

    def _or(self) -> Any:
        return self._chain("||", self._and, lambda left, right: left or right)

    def _and(self) -> Any:
        return self._chain("&&", self._compare, lambda left, right: left and right)

    def _chain(self, op: str, operand: Callable[[], Any],
               combine: Callable[[Any, Any], Any]) -> Any:
        left = operand()
        while self._next(op):
            left = combine(left, operand())
        return left

    def _compare(self) -> Any:
        left = self._unary()
        while self.at < len(self.tokens) and self.tokens[self.at] in (("op", "=="), ("op", "!=")):
            op = self.tokens[self.at][1]
            self.at += 1
            same = str(left).lower() == str(self._unary()).lower()
            left = same if op == "==" else not same
        return left

    def _unary(self) -> Any:
        if self._next("!"):
            return not self._unary()
        if self._next("("):
            inner = self._or()
            assert self._next(")")
            return inner
        kind, text = self.tokens[self.at]
        self.at += 1
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "call":
            return {"success": not self.failed, "failure": self.failed, "always": True}[text]
        value: Any = self.contexts
        for part in text.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return "" if value is None else value


def _substituted(text: str, contexts: dict[str, Any]) -> str:
    return re.sub(r"\$\{\{(.*?)\}\}",
                  lambda m: str(Expression(m[1], contexts, failed=False).value()), text)


class ActionRun:
    """The steps of action.yml run one after the other in ``cwd``, as GitHub runs them."""

    def __init__(self, tmp_path: Path, cwd: Path, env: dict[str, str], inputs: dict[str, str],
                 github: dict[str, Any], done: dict[str, dict[str, str]]) -> None:
        action = _action()
        self.contexts: dict[str, Any] = {
            "inputs": {name: spec["default"] for name, spec in action["inputs"].items()}
                      | inputs,
            "github": {"action_path": str(ACTION.parent), **github},
            "steps": {step_id: {"outputs": outputs} for step_id, outputs in done.items()},
        }
        self.ran: dict[str, subprocess.CompletedProcess[str] | dict[str, str]] = {}
        self.failed: str | None = None
        (tmp_path / "runner").mkdir(exist_ok=True)
        set_env: dict[str, str] = {}
        for number, step in enumerate(action["runs"]["steps"]):
            name = step.get("id") or step["name"]
            condition = step.get("if", "success()")
            if not re.search(r"\b(?:success|failure|always|cancelled)\(\)", condition):
                condition = f"success() && ({condition})"
            if name in done or not Expression(condition, self.contexts,
                                              self.failed is not None).value():
                continue
            if "uses" in step:
                self.ran[name] = {key: _substituted(str(value), self.contexts)
                                  for key, value in step.get("with", {}).items()}
                continue
            assert step["shell"] == "bash"
            script = tmp_path / "runner" / f"step-{number}.sh"
            script.write_text(step["run"])
            files = {var: tmp_path / "runner" / f"{var.lower()}-{number}"
                     for var in ("GITHUB_OUTPUT", "GITHUB_ENV")}
            for path in files.values():
                path.write_text("")
            step_env = {key: _substituted(str(value), self.contexts)
                        for key, value in step.get("env", {}).items()}
            proc = subprocess.run(
                ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=cwd,
                env={**env, **set_env, **step_env, "RUNNER_TEMP": str(tmp_path / "runner"),
                     **{var: str(path) for var, path in files.items()}},
                capture_output=True, text=True, check=False, timeout=120)
            self.ran[name] = proc
            outputs = _name_values(files["GITHUB_OUTPUT"])
            set_env.update(_name_values(files["GITHUB_ENV"]))  # for the steps after this one
            if "id" in step:
                self.contexts["steps"][step["id"]] = {"outputs": outputs}
            if proc.returncode != 0 and self.failed is None:
                self.failed = name

    def outputs(self, step_id: str) -> dict[str, str]:
        outputs: dict[str, str] = self.contexts["steps"].get(step_id, {}).get("outputs", {})
        return outputs


def _name_values(path: Path) -> dict[str, str]:
    """The ``name=value`` lines a step wrote to its GITHUB_OUTPUT or GITHUB_ENV file."""
    lines = path.read_text().splitlines()
    assert not any("<<" in line for line in lines), "multi-line values are not simulated"
    return dict(line.split("=", 1) for line in lines)


def _fake_hvscan(tmp_path: Path, exit_code: int) -> tuple[Path, Path]:
    """A stand-in hvscan that records its arguments in a file and exits with ``exit_code``."""
    args_file = tmp_path / "args"
    args_file.unlink(missing_ok=True)
    fake = tmp_path / "hvscan"
    fake.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{args_file}"\nexit {exit_code}\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    return fake, args_file


def _run_action(repo: GitRepo, tmp_path: Path, exit_code: int = 0, *, cwd: Path | None = None,
                inputs: dict[str, str] | None = None, github: dict[str, Any] | None = None,
                ) -> tuple[ActionRun, list[str] | None]:
    """The action after its install step, with a stand-in hvscan, in ``repo`` (or in ``cwd``,
    with ``repo``'s git environment); the run and the arguments hvscan got (None: not run)."""
    fake, args_file = _fake_hvscan(tmp_path, exit_code)
    run = ActionRun(tmp_path, cwd or repo.path, repo.env, inputs or {},
                    PUSH_TO_MAIN if github is None else github,
                    done={"install": {"exe": str(fake)}})
    args = args_file.read_text().splitlines() if args_file.exists() else None
    return run, args


ScanRun = tuple[dict[str, str], list[str] | None, subprocess.CompletedProcess[str]]

# A push to main, unless a test says otherwise.
PUSH_TO_MAIN = {"event_name": "push", "ref": "refs/heads/main",
                "event": {"repository": {"default_branch": "main"}}}


def _run_scan(repo: GitRepo, tmp_path: Path, exit_code: int = 0, *, cwd: Path | None = None,
              **seen: str) -> ScanRun:
    """Run the action with hvscan exiting ``exit_code``; the Scan step's environment gets
    ``seen`` (names of its `env:` mapping) through the inputs and the github context its
    expressions read. The Scan step's outputs, the arguments hvscan got (None: not run) and the
    step's process."""
    contexts: dict[str, Any] = {"inputs": {}, "github": copy.deepcopy(PUSH_TO_MAIN)}
    for name, value in seen.items():
        found = re.fullmatch(r"\$\{\{\s*([\w.-]+)\s*\}\}", _step("scan")["env"][name])
        assert found, name
        *parents, last = found[1].split(".")
        place = contexts
        for parent in parents:
            place = place.setdefault(parent, {})
        place[last] = value
    run, args = _run_action(repo, tmp_path, exit_code, cwd=cwd, inputs=contexts["inputs"],
                            github=contexts["github"])
    proc = run.ran["scan"]
    assert isinstance(proc, subprocess.CompletedProcess)
    assert proc.returncode == 0, proc.stderr  # the step never fails; the verdict step does
    return run.outputs("scan"), args, proc


def test_pull_request_scans_base_to_head(repo: GitRepo, commits: dict[str, str],
                                         tmp_path: Path) -> None:
    outputs, args, _ = _run_scan(repo, tmp_path, EVENT_NAME="pull_request",
                                 PR_BASE=commits["c0"], PR_HEAD=commits["c2"])
    assert args == ["git", "--range", f"{commits['c0']}..{commits['c2']}", "--format", "github",
                    "--fail-on", "low", "--strict"]
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
                    "--baseline", ".hvscan-baseline.json", "--strict", "--output", "hvscan.sarif"]
    assert outputs == {"report": "hvscan.sarif", "exit-code": "1"}
    _, args, _ = _run_scan(repo, tmp_path, EVENT_NAME="schedule", INPUT_STRICT="false")
    assert args is not None and "--strict" not in args


def test_a_range_takes_its_baseline_from_the_base_commit(
    repo: GitRepo, commits: dict[str, str], tmp_path: Path
) -> None:
    repo.commit_file("b.json", "base version\n", "baseline")
    base = repo.head()
    head = repo.commit_file("b.json", "the change's own version\n", "rewrite the baseline")
    scan = {"EVENT_NAME": "pull_request", "PR_BASE": base, "PR_HEAD": head}
    _, args, _ = _run_scan(repo, tmp_path, INPUT_BASELINE="b.json", **scan)
    assert args is not None and "--baseline" in args
    copy = Path(args[args.index("--baseline") + 1])
    assert copy.name != "b.json"
    assert copy.read_text() == "base version\n"
    copy.unlink()
    # Not at the base: no baseline, said so. An absolute path is the job's own file.
    _, args, proc = _run_scan(repo, tmp_path, INPUT_BASELINE="new.json", **scan)
    assert args is not None and "--baseline" not in args
    assert "::notice title=hvscan::no new.json in" in proc.stdout
    _, args, _ = _run_scan(repo, tmp_path, INPUT_BASELINE=str(tmp_path / "job.json"), **scan)
    assert args is not None
    assert args[args.index("--baseline") + 1] == str(tmp_path / "job.json")


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
def test_verdict_step_exits_with_the_scan_code(tmp_path: Path, code: str) -> None:
    run = ActionRun(tmp_path, tmp_path, dict(os.environ), {}, PUSH_TO_MAIN,
                    done={"install": {"exe": "unused"}, "scan": {"exit-code": code}})
    verdict = run.ran["Verdict"]
    assert isinstance(verdict, subprocess.CompletedProcess)
    assert verdict.returncode == int(code or 2)


@pytest.mark.parametrize(("code", "uploaded"), [(0, True), (1, True), (2, False)])
def test_the_whole_action_records_the_code_uploads_and_gives_the_verdict(
    repo: GitRepo, commits: dict[str, str], tmp_path: Path, code: int, uploaded: bool
) -> None:
    # Under GitHub's `bash -eo pipefail`, hvscan's exit code 1 used to stop the Scan step before
    # it recorded the code: the upload and the verdict were skipped.
    run, args = _run_action(repo, tmp_path, code, inputs={"format": "sarif",
                                                          "upload-sarif": "true"})
    assert args is not None and args[-2:] == ["--output", "hvscan.sarif"]
    assert run.outputs("scan") == {"report": "hvscan.sarif", "exit-code": str(code)}
    upload = run.ran.get("Upload SARIF to code scanning")
    assert upload == ({"sarif_file": "hvscan.sarif", "category": "hvscan"} if uploaded else None)
    verdict = run.ran["Verdict"]
    assert isinstance(verdict, subprocess.CompletedProcess) and verdict.returncode == code
    assert run.failed == (None if code == 0 else "Verdict")


@pytest.mark.parametrize(("text", "failed", "value"), [
    ("inputs.upload-sarif == 'true' && steps.scan.outputs.report != ''", False, True),
    ("inputs.upload-sarif == 'TRUE'", False, True),  # GitHub compares strings ignoring case
    ("steps.scan.outputs.missing", False, ""),
    ("steps.scan.outputs.exit-code == '0' || steps.scan.outputs.exit-code == '1'", False, True),
    ("!(inputs.format == 'sarif')", False, False),
    ("success() && 'x'", True, False),
    ("failure() && 'it''s'", True, "it's"),
])
def test_expressions_evaluate_as_github_does(text: str, failed: bool, value: object) -> None:
    contexts = {"inputs": {"upload-sarif": "true", "format": "sarif"},
                "steps": {"scan": {"outputs": {"report": "r.sarif", "exit-code": "1"}}}}
    assert Expression(text, contexts, failed).value() == value


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
