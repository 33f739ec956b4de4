"""Configuration: discovery, precedence, validation and path excludes."""

from __future__ import annotations

import base64
import gzip
import json
import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from gitrepo import GitRepo
from hvscan_run import Run
from keygen import key_sha256, make_key
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from hvscan.config import (
    SETTINGS,
    ConfigError,
    find_config,
    load_config,
    project_dirs,
    resolve,
)


def report(done: subprocess.CompletedProcess[bytes]) -> dict[str, Any]:
    assert done.returncode in (0, 1), done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def one_line_error(done: subprocess.CompletedProcess[bytes]) -> str:
    err = done.stderr.decode()
    assert done.returncode == 2, (done.stdout, err)
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.fixture
def repo(repo: GitRepo) -> Path:
    """The shared repository with a live key (high) in src/app.py and a test key (medium) in
    build/."""
    root = repo.path
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text(f'KEY = "{make_key("live", 1)}"\n')
    (root / "build").mkdir()
    (root / "build" / "gen.py").write_text(f'KEY = "{make_key("test", 2)}"\n')
    return root


# Discovery


def test_project_dirs_stop_at_the_repository_top(tmp_path: Path,
                                                  gitenv: dict[str, str]) -> None:
    root = GitRepo(tmp_path / "r", gitenv).path
    deep = root / "a" / "b"
    deep.mkdir(parents=True)
    assert project_dirs(deep) == [deep, root / "a", root]


def test_project_dirs_outside_a_repository_reach_the_file_system_root(tmp_path: Path) -> None:
    dirs = project_dirs(tmp_path)
    assert dirs[0] == tmp_path.resolve() and dirs[-1] == Path(tmp_path.anchor)


def test_hvscan_toml_wins_over_pyproject_at_the_same_level(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.hvscan]\nfail-on = "high"\n')
    (tmp_path / ".hvscan.toml").write_text('fail-on = "critical"\n')
    found = find_config([tmp_path])
    assert found is not None and found.values == {"fail-on": "critical"}


def test_pyproject_without_the_table_is_passed_over(tmp_path: Path) -> None:
    inner = tmp_path / "pkg"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "x"\n')
    (tmp_path / "pyproject.toml").write_text('[tool.hvscan]\nfail-on = "high"\n')
    found = find_config([inner, tmp_path])
    assert found is not None
    assert found.path == tmp_path / "pyproject.toml" and found.key_prefix == "tool.hvscan."
    assert find_config([inner]) is None


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (".hvscan.toml", "fail-on = ", "invalid TOML"),
        (".hvscan.toml", b"x = '\xff'", "not UTF-8"),
        ("pyproject.toml", '[project]\nname = "x"\n', "no [tool.hvscan] table"),
        ("pyproject.toml", '[tool]\nhvscan = 3\n', "'tool.hvscan' must be a table"),
    ],
)
def test_unreadable_files_are_config_errors(
    tmp_path: Path, name: str, content: str | bytes, message: str
) -> None:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value).startswith(f"{path}: {message}")


# Precedence and validation through the real command


def test_file_sets_an_option(repo: Path, run_hvscan: Run) -> None:
    assert run_hvscan("dir", cwd=repo).returncode == 1
    (repo / ".hvscan.toml").write_text('fail-on = "critical"\n')
    assert run_hvscan("dir", cwd=repo).returncode == 0


def test_precedence_command_line_then_environment_then_file(repo: Path, run_hvscan: Run) -> None:
    (repo / ".hvscan.toml").write_text('fail-on = "critical"\n')
    env = {"HVSCAN_FAIL_ON": "medium"}
    assert run_hvscan("dir", cwd=repo, env=env).returncode == 1
    assert run_hvscan("dir", "--fail-on", "critical", cwd=repo, env=env).returncode == 0
    assert run_hvscan("dir", "--fail-on", "high", cwd=repo).returncode == 1


def test_strict_from_environment_or_file_and_a_file_cannot_turn_it_off(
    repo: Path, run_hvscan: Run
) -> None:
    (repo / "logs.gz").write_bytes(gzip.compress(b"log line\n" * 100)[:-12])  # truncated
    assert run_hvscan("dir", cwd=repo).returncode == 1
    assert run_hvscan("dir", cwd=repo, env={"HVSCAN_STRICT": "1"}).returncode == 2
    # The scanned tree's own file may make the scan stricter, never less strict.
    (repo / ".hvscan.toml").write_text("strict = false\n")
    assert run_hvscan("dir", cwd=repo, env={"HVSCAN_STRICT": "true"}).returncode == 2
    assert run_hvscan("dir", "--strict", cwd=repo).returncode == 2
    (repo / ".hvscan.toml").write_text("strict = true\n")
    assert run_hvscan("dir", cwd=repo).returncode == 2
    assert run_hvscan("dir", "--no-strict", cwd=repo).returncode == 1


def test_pyproject_table(repo: Path, run_hvscan: Run) -> None:
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.hvscan]\n'
                                         'exclude = ["build/"]\n')
    paths = {f["path"] for f in report(run_hvscan("dir", "--format", "json", cwd=repo))["findings"]}
    assert paths == {"src/app.py"}


def test_found_from_a_subdirectory_and_a_scanned_path(repo: Path, run_hvscan: Run) -> None:
    (repo / ".hvscan.toml").write_text('fail-on = "none"\n')
    assert run_hvscan("dir", cwd=repo / "src").returncode == 0
    assert run_hvscan("dir", str(repo / "src" / "app.py")).returncode == 0
    assert run_hvscan("dir", str(repo)).returncode == 0


def test_a_file_above_the_repository_is_not_used(repo: Path, run_hvscan: Run) -> None:
    (repo.parent / ".hvscan.toml").write_text('fail-on = "none"\n')
    assert run_hvscan("dir", cwd=repo).returncode == 1


def test_config_option_overrides_discovery(repo: Path, tmp_path: Path, run_hvscan: Run) -> None:
    (repo / ".hvscan.toml").write_text('fail-on = "none"\n')
    other = tmp_path / "strict.toml"
    other.write_text('fail-on = "medium"\n')
    assert run_hvscan("dir", "--config", str(other), cwd=repo).returncode == 1
    assert run_hvscan("dir", cwd=repo, env={"HVSCAN_CONFIG": str(other)}).returncode == 1


def test_config_option_takes_a_pyproject(repo: Path, tmp_path: Path, run_hvscan: Run) -> None:
    other = tmp_path / "pyproject.toml"
    other.write_text('[tool.hvscan]\nfail-on = "none"\n')
    assert run_hvscan("dir", "--config", str(other), cwd=repo).returncode == 0
    other.write_text('[project]\nname = "x"\n')
    assert "no [tool.hvscan] table" in one_line_error(
        run_hvscan("dir", "--config", str(other), cwd=repo))


def test_missing_config_file_is_an_error(repo: Path, run_hvscan: Run) -> None:
    err = one_line_error(run_hvscan("dir", "--config", "nope.toml", cwd=repo))
    assert "nope.toml: cannot read" in err


def test_unknown_key_names_file_key_and_what_is_allowed(repo: Path, run_hvscan: Run) -> None:
    (repo / ".hvscan.toml").write_text('fial-on = "high"\n')
    err = one_line_error(run_hvscan("dir", cwd=repo))
    assert ".hvscan.toml: unknown key 'fial-on'; allowed: " in err
    assert "fail-on" in err and "exclude" in err and "rules" in err


def test_unknown_key_in_pyproject_is_named_with_its_table(repo: Path, run_hvscan: Run) -> None:
    (repo / "pyproject.toml").write_text('[tool.hvscan]\nverbose = true\n')
    assert "pyproject.toml: unknown key 'tool.hvscan.verbose'" in one_line_error(
        run_hvscan("dir", cwd=repo))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('fail-on = "loud"', "key 'fail-on': 'loud' is not one of 'info', 'low', "),
        ('max-file-size = "lots"', "key 'max-file-size': 'lots' is not a size"),
        ("fail-on = ['high']", "key 'fail-on' must be a single value, not a list"),
        ("exclude = [['a']]", "key 'exclude' must be a list of values"),
        ("rules = ['missing.toml']", "key 'rules': File '"),
        ("exclude = ['!']", "key 'exclude': '!' is not a valid gitignore-style pattern"),
        ("exclude = ['  ']", "key 'exclude': an empty pattern matches nothing"),
        ('org-id = "a/b"', "key 'org-id': 'a/b' is not an org ID"),
    ],
)
def test_bad_values_name_file_key_and_what_is_allowed(
    repo: Path, run_hvscan: Run, content: str, message: str
) -> None:
    (repo / ".hvscan.toml").write_text(content + "\n")
    err = one_line_error(run_hvscan("dir", cwd=repo))
    assert f"hvscan: error: .hvscan.toml: {message}" in err


def test_the_file_is_checked_whole_even_for_keys_another_command_uses(
    repo: Path, run_hvscan: Run
) -> None:
    (repo / ".hvscan.toml").write_text('max-file-size = "lots"\n')
    assert "max-file-size" in one_line_error(run_hvscan("stdin", input=b"", cwd=repo))
    (repo / ".hvscan.toml").write_text('max-file-size = "1KB"\n')
    assert run_hvscan("stdin", input=b"clean", cwd=repo).returncode == 0


def test_bad_environment_value_names_the_variable(repo: Path, run_hvscan: Run) -> None:
    err = one_line_error(run_hvscan("dir", cwd=repo, env={"HVSCAN_MAX_FILE_SIZE": "huge"}))
    assert "environment variable HVSCAN_MAX_FILE_SIZE: 'huge' is not a size" in err


def test_rule_files_are_relative_to_the_config_file(repo: Path, run_hvscan: Run) -> None:
    (repo / "ci").mkdir()
    (repo / "ci" / "acme.toml").write_text(
        "[[rules]]\nid='acme'\ndescription='Acme'\nregex='acme_[0-9]{6}'\n"
        "keywords=['acme_']\nkey_type='token'\nseverity='high'\nremediation='Rotate.'\n"
    )
    (repo / "ci" / "hvscan.toml").write_text('rules = ["acme.toml"]\n')
    (repo / "src" / "acme.txt").write_text("acme_123456\n")
    done = run_hvscan("dir", "src", "--config", "ci/hvscan.toml", "--format", "json", cwd=repo)
    assert "acme" in {f["rule_id"] for f in report(done)["findings"]}


def test_a_single_value_for_a_list_is_a_list_of_one(repo: Path, run_hvscan: Run) -> None:
    (repo / ".hvscan.toml").write_text('exclude = "build/"\n')
    done = run_hvscan("dir", "--format", "json", cwd=repo)
    assert {f["path"] for f in report(done)["findings"]} == {"src/app.py"}


def test_environment_lists_are_split(repo: Path, run_hvscan: Run) -> None:
    done = run_hvscan("dir", "--format", "json", cwd=repo,
                      env={"HVSCAN_EXCLUDE": "build/ docs/"})
    assert {f["path"] for f in report(done)["findings"]} == {"src/app.py"}


def test_verification_settings_from_the_file_reach_the_request(
    repo: Path, run_hvscan: Run, httpserver: HTTPServer
) -> None:
    paths: list[str] = []

    def answer(request: Request) -> Response:
        paths.append(request.path)
        return Response(status=401)

    httpserver.expect_request(re.compile(".*")).respond_with_handler(answer)
    base = f"http://127.0.0.1:{httpserver.port}"
    (repo / ".hvscan.toml").write_text('org-id = "from-file"\n')
    env = {"HESEDVID_API_BASE": base, "HESEDVID_ORG_ID": "", "HTTP_PROXY": "", "ALL_PROXY": ""}
    run_hvscan("dir", "src", "--verify", cwd=repo, env=env)
    assert paths == ["/v1/api/from-file/environments"]
    run_hvscan("dir", "src", "--verify", cwd=repo, env={**env, "HVSCAN_ORG_ID": "from-env"})
    assert paths[1:] == ["/v1/api/from-env/environments"]


@pytest.mark.parametrize("name", [".hvscan.toml", "pyproject.toml", "explicit.toml"])
def test_api_base_is_never_read_from_a_file(
    repo: Path, run_hvscan: Run, httpserver: HTTPServer, name: str
) -> None:
    # A scanned repository that could name the API would receive every key found (issue 10).
    httpserver.expect_request(re.compile(".*")).respond_with_data("", status=401)
    base = f"http://127.0.0.1:{httpserver.port}"
    table = "[tool.hvscan]\n" if name == "pyproject.toml" else ""
    (repo / name).write_text(f'{table}api-base = "{base}"\n')
    args = ["--config", name] if name == "explicit.toml" else []
    env = {"HESEDVID_API_BASE": "", "HVSCAN_API_BASE": "", "HTTP_PROXY": "", "ALL_PROXY": ""}
    err = one_line_error(run_hvscan("dir", "src", "--verify", *args, cwd=repo, env=env))
    key = "tool.hvscan.api-base" if table else "api-base"
    assert f"hvscan: error: {name}: key {key!r} is not allowed in a configuration file" in err
    assert "--api-base or HVSCAN_API_BASE or HESEDVID_API_BASE" in err
    assert httpserver.log == []


# The resolution mechanism itself, without click: the option values of a command by name, and
# the names its command line set.


def _probe(args: list[str], config: Path) -> dict[str, Any]:
    values: dict[str, Any] = {"config_file": config, "verify": "--verify" in args,
                              "org_id": args[args.index("--org-id") + 1]
                              if "--org-id" in args else None,
                              "rule_files": (), "not_a_setting": "x"}
    given = {"config_file", *(["verify"] if "--verify" in args else []),
             *(["org_id"] if "--org-id" in args else [])}
    resolve(values, given, None)
    return values


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        (["--verify"], {}, "from-file"),
        (["--verify"], {"HESEDVID_ORG_ID": "vendor-env"}, "vendor-env"),
        (["--verify"], {"HESEDVID_ORG_ID": "vendor-env", "HVSCAN_ORG_ID": "own-env"}, "own-env"),
        (["--verify", "--org-id", "cli"], {"HVSCAN_ORG_ID": "own-env"}, "cli"),
        # The verification settings' variables are read only with --verify.
        ([], {"HESEDVID_ORG_ID": "vendor-env", "HVSCAN_ORG_ID": "own-env"}, "from-file"),
    ],
)
def test_resolution_order_and_vendor_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], env: dict[str, str],
    expected: str,
) -> None:
    for name in ("HVSCAN_ORG_ID", "HESEDVID_ORG_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "c.toml"
    config.write_text('org-id = "from-file"\nrules = ["r.toml"]\n')
    (tmp_path / "r.toml").write_text("")
    values = _probe(args, config)
    assert values["org_id"] == expected
    assert values["rule_files"] == (tmp_path / "r.toml",)
    assert values["not_a_setting"] == "x" and "config_file" not in values


def test_only_settings_are_allowed_keys(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('not-a-setting = "y"\n')
    with pytest.raises(ConfigError) as raised:
        _probe([], config)
    allowed = ", ".join(sorted(key for key, setting in SETTINGS.items() if setting.in_file))
    assert f"unknown key 'not-a-setting'; allowed: {allowed}" in str(raised.value)
    assert "api-base" not in allowed and "org-id, rules" in allowed


def test_every_setting_names_a_long_option() -> None:
    for key, setting in SETTINGS.items():
        assert key == setting.key and key.islower() and " " not in key
        assert setting.env[0] == "HVSCAN_" + key.upper().replace("-", "_")


# Excludes


def test_excluded_tree_is_not_even_read(repo: Path, run_hvscan: Run) -> None:
    # A broken link is reported as a note when the walker sees it: an excluded tree shows none.
    os.symlink("missing-target", repo / "build" / "dangling")
    seen = report(run_hvscan("dir", "--format", "json", cwd=repo))
    assert [s["path"] for s in seen["skipped"]] == ["build/dangling"]
    pruned = report(run_hvscan("dir", "--exclude", "build/", "--format", "json", cwd=repo))
    assert pruned["skipped"] == []
    assert pruned["stats"]["files_scanned"] == seen["stats"]["files_scanned"] - 1
    assert [f["path"] for f in pruned["findings"]] == ["src/app.py"]


def test_exclude_applies_to_files_named_on_the_command_line(repo: Path, run_hvscan: Run) -> None:
    # The pre-commit framework passes file names: an excluded one must not be scanned.
    (repo / ".hvscan.toml").write_text('exclude = ["build/"]\n')
    done = run_hvscan("dir", "build/gen.py", "src/app.py", "--format", "json", cwd=repo)
    assert [f["path"] for f in report(done)["findings"]] == ["src/app.py"]
    done = run_hvscan("dir", "build", "--format", "json", cwd=repo)
    assert report(done)["stats"]["files_scanned"] == 0


def test_bad_exclude_on_the_command_line_is_a_usage_error(repo: Path, run_hvscan: Run) -> None:
    done = run_hvscan("dir", "--exclude", "!", cwd=repo)
    assert done.returncode == 2 and b"Traceback" not in done.stderr
    assert "is not a valid gitignore-style pattern" in done.stderr.decode()


def test_command_line_excludes_replace_the_file_ones(repo: Path, run_hvscan: Run) -> None:
    (repo / ".hvscan.toml").write_text('exclude = ["build/"]\n')
    done = run_hvscan("dir", "--exclude", "src/", "--format", "json", cwd=repo)
    assert [f["path"] for f in report(done)["findings"]] == ["build/gen.py"]


def test_readme_example_documents_every_setting() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Configuration", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    assert set(tomllib.loads(example)) == {k for k, s in SETTINGS.items() if s.in_file}


def test_a_broken_pyproject_that_never_mentions_hvscan_is_not_read(
    repo: Path, run_hvscan: Run
) -> None:
    (repo / "src" / "pyproject.toml").write_text("[project\nname = \n")
    assert run_hvscan("dir", "src", cwd=repo).returncode == 1
    (repo / "src" / "pyproject.toml").write_text("[tool.hvscan\nfail-on = 'none'\n")
    assert "invalid TOML" in one_line_error(run_hvscan("dir", "src", cwd=repo))


# Range scans: the change under scan cannot configure the scan that gates it (issue 10, item 3)

RANGE_KEY = make_key("live", 31)


@pytest.fixture
def base_repo(tmp_path: Path, gitenv: dict[str, str]) -> GitRepo:
    """A repository whose base commit (branch main, tag ``base``) holds a README only."""
    repo = GitRepo(tmp_path / "range", gitenv)
    repo.commit_file("README", "hello\n", "base")
    repo.git("tag", "base")
    return repo


def _pyproject(settings: str) -> str:
    return f'[project]\nname = "x"\n\n[tool.hvscan]\n{settings}\n'


def _ignore_entry(key: str) -> str:
    return key_sha256(key) + "\n"


_ENCODED = base64.b64encode(RANGE_KEY.encode()).decode()
# What a change adds next to the key, each of which turned `hvscan git --range` green on old main.
BYPASSES = {
    "inline-allow": {"app.py": f'KEY = "{RANGE_KEY}"  # hvscan:allow\n'},
    # Other scanners' markers are inline markers like hvscan:allow, trusted no more.
    "gitleaks-allow": {"app.py": f'KEY = "{RANGE_KEY}"  # gitleaks:allow\n'},
    "pragma-allowlist": {"app.py": f'KEY = "{RANGE_KEY}"  # pragma: allowlist secret\n'},
    "pragma-nextline": {"app.py": f'# pragma: allowlist nextline secret\nKEY = "{RANGE_KEY}"\n'},
    "trufflehog-ignore": {"app.py": f'KEY = "{RANGE_KEY}"  # trufflehog:ignore\n'},
    "ignore-file": {".hvscanignore": _ignore_entry(RANGE_KEY)},
    "exclude": {".hvscan.toml": 'exclude = ["*"]\n'},
    "decode-depth": {".hvscan.toml": "max-decode-depth = 0\n", "app.py": f'KEY = "{_ENCODED}"\n'},
    "fail-on": {".hvscan.toml": 'fail-on = "none"\n'},
    "pyproject-exclude": {"pyproject.toml": _pyproject('exclude = ["*"]')},
    "pyproject-decode-depth": {"pyproject.toml": _pyproject("max-decode-depth = 0"),
                               "app.py": f'KEY = "{_ENCODED}"\n'},
    "pyproject-fail-on": {"pyproject.toml": _pyproject('fail-on = "none"')},
    "config-names-an-ignore-file": {".hvscan.toml": 'ignore-file = "ok.txt"\n',
                                    "ok.txt": _ignore_entry(RANGE_KEY)},
}


def _add_key_with(repo: GitRepo, files: dict[str, str]) -> None:
    files = {"app.py": f'KEY = "{RANGE_KEY}"\n', **files}
    for name, content in files.items():
        repo.write(name, content)
    repo.add(*files)
    repo.commit("add a key and a way around hvscan")


@pytest.mark.parametrize("bypass", BYPASSES)
@pytest.mark.parametrize("scope", [["--range", "base..main"], ["--since-commit", "base"]])
def test_a_change_cannot_turn_its_own_gate_green(
    base_repo: GitRepo, run_hvscan: Run, bypass: str, scope: list[str]
) -> None:
    _add_key_with(base_repo, BYPASSES[bypass])
    done = run_hvscan("git", *scope, "--format", "json", cwd=base_repo.path)
    assert done.returncode == 1, (done.stdout, done.stderr)
    [finding] = report(done)["findings"]
    assert finding["secret_sha256"] == key_sha256(RANGE_KEY)
    # The whole history (no change under scan) still honours the working tree's settings.
    if bypass not in (*_INLINE, "config-names-an-ignore-file"):
        assert run_hvscan("git", cwd=base_repo.path).returncode == 0


_INLINE = ("inline-allow", "gitleaks-allow", "pragma-allowlist", "pragma-nextline",
           "trufflehog-ignore")


@pytest.mark.parametrize(("bypass", "field", "line"), [
    *((bypass, "inline", "inline allow marker") for bypass in _INLINE),
    ("ignore-file", "ignore-file", "ignore-file entry"),
])
def test_a_suppression_the_range_adds_is_reported(
    base_repo: GitRepo, run_hvscan: Run, bypass: str, field: str, line: str
) -> None:
    _add_key_with(base_repo, BYPASSES[bypass])
    done = run_hvscan("git", "--range", "base..main", "--format", "json", cwd=base_repo.path)
    [finding] = report(done)["findings"]
    assert finding["untrusted_suppression"] == field
    text = run_hvscan("git", "--range", "base..main", cwd=base_repo.path).stdout.decode()
    assert f"not suppressed: the change under scan added its own {line}" in text
    # Outside a range the suppression is the team's own: it applies.
    assert run_hvscan("git", cwd=base_repo.path).returncode == 0


def test_the_base_commits_settings_apply(base_repo: GitRepo, run_hvscan: Run) -> None:
    # Accepted at base (a revoked key, say): the range that brings it back passes. The change
    # removing the base's ignore file or configuration does not matter either.
    base_repo.write(".hvscanignore", _ignore_entry(RANGE_KEY))
    base_repo.write(".hvscan.toml", 'exclude = ["fixtures/"]\n')
    base_repo.add(".hvscanignore", ".hvscan.toml")
    base_repo.commit("accept a revoked key; leave fixtures out")
    base_repo.git("tag", "-f", "base")
    base_repo.git("rm", "-q", ".hvscanignore", ".hvscan.toml")
    other = make_key("live", 32)
    base_repo.write("fixtures/f.py", f'KEY = "{other}"\n')
    _add_key_with(base_repo, {"fixtures/f.py": f'KEY = "{other}"\n'})
    done = run_hvscan("git", "--range", "base..main", "--format", "json", "--show-suppressed",
                      cwd=base_repo.path)
    assert done.returncode == 0, done.stdout
    data = report(done)
    assert data["findings"] == []
    assert [f["suppression"] for f in data["suppressed"]] == ["ignore-file"]


def test_base_configuration_is_looked_up_from_the_scanned_directory(
    base_repo: GitRepo, run_hvscan: Run
) -> None:
    base_repo.commit_file("sub/.hvscan.toml", 'fail-on = "critical"\n', "sub config")
    base_repo.git("tag", "-f", "base")
    _add_key_with(base_repo, {})
    assert run_hvscan("git", "--range", "base..main", cwd=base_repo.path).returncode == 1
    assert run_hvscan("git", "--range", "base..main", cwd=base_repo.path / "sub").returncode == 0


def test_files_the_base_configuration_names_come_from_the_base(
    base_repo: GitRepo, run_hvscan: Run
) -> None:
    base_repo.write(".hvscan.toml", 'baseline = "b.json"\n')
    base_repo.add(".hvscan.toml")
    base_repo.commit("name a baseline")
    base_repo.git("tag", "-f", "base")
    # The change adds the baseline file the base names, recording its own key: not read.
    base_repo.write("app.py", f'KEY = "{RANGE_KEY}"\n')
    assert run_hvscan("baseline", "-o", "b.json", cwd=base_repo.path).returncode == 0
    base_repo.add("app.py", "b.json")
    base_repo.commit("key and its baseline")
    err = one_line_error(run_hvscan("git", "--range", "base..main", cwd=base_repo.path))
    base = base_repo.out("rev-parse", "base")[:12]
    assert f"hvscan: error: {base}:.hvscan.toml: key 'baseline': {base}:b.json is not a file" in err


def test_errors_in_the_base_configuration_name_the_commit(
    base_repo: GitRepo, run_hvscan: Run
) -> None:
    base_repo.commit_file(".hvscan.toml", 'fial-on = "high"\n', "typo")
    base_repo.git("tag", "-f", "base")
    _add_key_with(base_repo, {".hvscan.toml": 'fail-on = "high"\n'})
    base = base_repo.out("rev-parse", "base")[:12]
    err = one_line_error(run_hvscan("git", "--range", "base..main", cwd=base_repo.path))
    assert f"hvscan: error: {base}:.hvscan.toml: unknown key 'fial-on'" in err


def test_explicit_files_are_trusted_in_a_range(
    base_repo: GitRepo, run_hvscan: Run, tmp_path: Path
) -> None:
    _add_key_with(base_repo, {})
    config = tmp_path / "job.toml"
    config.write_text('fail-on = "none"\n')
    ignore = tmp_path / "job-ignore"
    ignore.write_text(_ignore_entry(RANGE_KEY))
    scan = ["git", "--range", "base..main"]
    assert run_hvscan(*scan, "--config", config, cwd=base_repo.path).returncode == 0
    assert run_hvscan(*scan, "--ignore-file", ignore, cwd=base_repo.path).returncode == 0
    env = {"HVSCAN_IGNORE_FILE": str(ignore)}
    assert run_hvscan(*scan, cwd=base_repo.path, env=env).returncode == 0


def test_a_bad_range_base_is_one_line(base_repo: GitRepo, run_hvscan: Run,
                                     tmp_path: Path) -> None:
    err = one_line_error(run_hvscan("git", "--range", "nope..main", cwd=base_repo.path))
    assert "--range: 'nope' does not name a commit" in err
    (tmp_path / "plain").mkdir()
    err = one_line_error(run_hvscan("git", "--since-commit", "main", cwd=tmp_path / "plain"))
    assert "not a git repository" in err


def test_a_base_that_cannot_be_read_is_one_line(base_repo: GitRepo, run_hvscan: Run) -> None:
    _add_key_with(base_repo, {})
    tree = base_repo.out("rev-parse", "base^{tree}")
    (base_repo.path / ".git" / "objects" / tree[:2] / tree[2:]).unlink()
    err = one_line_error(run_hvscan("git", "--range", "base..main", cwd=base_repo.path))
    assert "cannot read the configuration" in err


def test_rule_and_baseline_files_named_at_the_base_are_read_there(
    base_repo: GitRepo, run_hvscan: Run
) -> None:
    base_repo.write("ci/acme.toml",
                    "[[rules]]\nid='acme'\ndescription='Acme'\nregex='acme_[0-9]{6}'\n"
                    "keywords=['acme_']\nkey_type='token'\nseverity='high'\n"
                    "remediation='Rotate.'\n")
    base_repo.write(".hvscan.toml", 'rules = ["ci/acme.toml"]\nbaseline = "b.json"\n')
    base_repo.write("old.py", f'KEY = "{RANGE_KEY}"\n')
    assert run_hvscan("baseline", "-o", "b.json", cwd=base_repo.path).returncode == 0
    (base_repo.path / "old.py").unlink()
    base_repo.add("ci", ".hvscan.toml", "b.json")
    base_repo.commit("rules and a baseline")
    base_repo.git("tag", "-f", "base")
    # The change drops both files; the base's still apply: the acme rule finds its token, the
    # baseline accepts the key it recorded.
    base_repo.git("rm", "-q", "ci/acme.toml", "b.json")
    _add_key_with(base_repo, {"token.txt": "acme_123456\n"})
    done = run_hvscan("git", "--range", "base..main", "--format", "json", "--show-suppressed",
                      cwd=base_repo.path)
    data = report(done)
    assert [f["rule_id"] for f in data["findings"]] == ["acme"]
    assert [f["suppression"] for f in data["suppressed"]] == ["baseline"]
