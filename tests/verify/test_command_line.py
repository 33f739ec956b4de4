"""Verification through the console script: reports, filters, exit codes, options and variables."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gitrepo import DatedRepo, GitRepo
from hvscan_run import Run
from keygen import key_sha256, make_key
from processes import assert_stopped, in_group, still_running
from verify_servers import (
    ACME_RULES,
    DEAD,
    LIVE_200,
    LIVE_403,
    OUTAGE,
    PLACEHOLDER_ORG_ID,
    TEST_401,
    DripServer,
    FakeApi,
    Reply,
    acme_token,
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(f'LIVE = "{LIVE_200}"\nDEAD = "{DEAD}"\n')
    (tmp_path / "dev.env").write_text(f"HV={TEST_401}\nAGAIN={LIVE_200}\nDOWN={OUTAGE}\n")
    return tmp_path


def test_cli_verify_json_report(api: FakeApi, repo: Path, run_hvscan: Run) -> None:
    api.plan(LIVE_200, Reply(200))
    api.plan(OUTAGE, Reply(500))
    report_file, cache_file = repo / "report.json", repo / "cache.json"
    done = run_hvscan("dir", "app.py", "dev.env", "--verify", "--api-base", api.url,
                      "--format", "json", "-o", report_file, "--verify-cache", cache_file,
                      cwd=repo)
    assert done.returncode == 1, done.stderr
    report = json.loads(report_file.read_text())
    results = {(f["path"], f["line"]): (f["verification"]["status"], f["severity"])
               for f in report["findings"]}
    assert results == {
        ("app.py", 1): ("live", "critical"),
        ("app.py", 2): ("invalid", "low"),
        ("dev.env", 1): ("invalid", "low"),
        ("dev.env", 2): ("live", "critical"),
        ("dev.env", 3): ("unknown", "high"),
    }
    assert [api.count(k) for k in (LIVE_200, DEAD, TEST_401, OUTAGE)] == [1, 1, 1, 1]
    outputs = done.stdout + done.stderr + report_file.read_bytes() + cache_file.read_bytes()
    for key in (LIVE_200, DEAD, TEST_401, OUTAGE):
        assert key.encode() not in outputs


def test_cli_text_report_shows_the_verification(api: FakeApi, repo: Path, run_hvscan: Run) -> None:
    api.plan(LIVE_200, Reply(200))
    done = run_hvscan("dir", "app.py", "--verify", cwd=repo, env={"HESEDVID_API_BASE": api.url})
    out = done.stdout.decode()
    assert done.returncode == 1
    assert "hesedvid-live-key [critical]" in out and "verification: live (HTTP 200" in out
    assert "verification: invalid (HTTP 401" in out
    assert "verification: 1 invalid, 1 live" in out
    assert LIVE_200 not in out + done.stderr.decode()


@pytest.mark.parametrize(("filters", "shown", "code"), [
    (["--only-verified"], {"live"}, 1),
    (["--results", "verified"], {"live"}, 1),  # trufflehog's name for live
    (["--results", "invalid"], {"invalid"}, 1),
    (["--results", "invalid", "--fail-on", "medium"], {"invalid"}, 0),
    (["--results", "unknown,live", "--fail-on", "critical"], {"live", "unknown"}, 1),
    (["--results", "unknown", "--fail-on", "critical"], {"unknown"}, 0),
])
def test_cli_filters_and_exit_codes(api: FakeApi, repo: Path, run_hvscan: Run,
                                    filters: list[str], shown: set[str], code: int) -> None:
    api.plan(LIVE_200, Reply(200))
    api.plan(OUTAGE, Reply(500))
    done = run_hvscan("dir", ".", "--verify", "--api-base", api.url, "--format", "json",
                      *filters, cwd=repo)
    report = json.loads(done.stdout)
    assert done.returncode == code, done.stderr
    assert {f["verification"]["status"] for f in report["findings"]} == shown
    assert report["stats"]["findings"] + report["stats"]["findings_filtered"] == 5


def test_cli_only_verified_with_no_live_key_exits_clean(
    api: FakeApi, tmp_path: Path, run_hvscan: Run
) -> None:
    (tmp_path / "old.txt").write_text(DEAD)
    done = run_hvscan("dir", ".", "--verify", "--only-verified", "--api-base", api.url,
                      cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "0 findings" in done.stdout.decode() and "1 not shown" in done.stdout.decode()


def test_cli_org_id_option_and_environment(api: FakeApi, repo: Path, run_hvscan: Run) -> None:
    run_hvscan("dir", "app.py", "--verify", "--api-base", api.url, "--org-id", "acme", cwd=repo)
    run_hvscan("dir", "app.py", "--verify", "--api-base", api.url, cwd=repo,
               env={"HESEDVID_ORG_ID": "from-env"})
    assert {path for _, path, _ in api.requests} == {
        "/v1/api/acme/environments", "/v1/api/from-env/environments"}


def test_cli_honours_the_proxy_environment(
    other_host: FakeApi, repo: Path, run_hvscan: Run
) -> None:
    # The API base is a closed port: only the proxy can answer.
    other_host.plan(LIVE_200, Reply(200))
    done = run_hvscan("dir", "app.py", "--verify", "--api-base", "http://127.0.0.1:9",
                      "--format", "json", cwd=repo, env={"HTTP_PROXY": other_host.url})
    statuses = [f["verification"]["status"] for f in json.loads(done.stdout)["findings"]]
    assert statuses == ["live", "invalid"]
    assert other_host.count(LIVE_200) == 1


@pytest.mark.parametrize(("args", "message"), [
    (["--only-verified"], "--only-verified needs --verify"),
    (["--results", "live"], "--results needs --verify"),
    (["--verify", "--results", "verified,filtered_unverified"], "expected a comma-separated list"),
    (["--verify", "--only-verified", "--results", "live"], "either --only-verified"),
    (["--verify", "--api-base", "http://api.hesedvid.com"], "only for loopback hosts"),
    (["--verify", "--org-id", "a/b"], "is not an org ID"),
])
def test_cli_bad_options_exit_2(repo: Path, run_hvscan: Run, args: list[str],
                                message: str) -> None:
    done = run_hvscan("dir", ".", *args, cwd=repo)
    assert done.returncode == 2
    assert message in done.stderr.decode() and "Traceback" not in done.stderr.decode()
    assert done.stdout == b""


def test_cli_bad_cache_file_exits_2(api: FakeApi, repo: Path, run_hvscan: Run) -> None:
    (repo / "cache.json").write_text("garbage")
    done = run_hvscan("dir", "app.py", "--verify", "--api-base", api.url, "--verify-cache",
                      "cache.json", cwd=repo)
    assert done.returncode == 2
    assert done.stderr.decode().startswith("hvscan: error: ") and api.requests == []


@pytest.mark.parametrize("named_by", ["--rules", ".hvscan.toml"])
def test_cli_a_rule_file_cannot_send_keys_to_another_host(
    api: FakeApi, other_host: FakeApi, repo: Path, run_hvscan: Run, named_by: str
) -> None:
    # Keys go only to the API base of the command line or environment: a rule file (one the
    # scanned repository's configuration names too) gives a path below it, never a URL.
    (repo / "acme.cfg").write_text(f"token = {acme_token(1)}\n")
    (repo / "evil.toml").write_text(ACME_RULES.replace('"/api/v2/', f'"{other_host.url}/api/v2/'))
    options = ["--rules", "evil.toml"] if named_by == "--rules" else []
    if named_by == ".hvscan.toml":
        (repo / ".hvscan.toml").write_text('rules = ["evil.toml"]\n')
    done = run_hvscan("dir", "app.py", "acme.cfg", "--verify", "--api-base", api.url, *options,
                      cwd=repo)
    assert done.returncode == 2 and done.stdout == b""
    error = done.stderr.decode()
    assert error.startswith("hvscan: error: ") and error.count("\n") == 1
    assert "evil.toml: rule 'acme-token': field 'verify.path' must be a path below the API " \
           "base" in error
    assert other_host.requests == [] and api.requests == []


def run_bounded(hvscan_exe: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """The console script, failing the test (not hanging it) when it does not end in a minute:
    generous, it tells a bounded run from an unbounded one, not a speed."""
    return subprocess.run([hvscan_exe, *args], cwd=cwd, capture_output=True, timeout=60,
                          check=False)


def statuses_and_details(done: subprocess.CompletedProcess[bytes]) -> list[tuple[str, str]]:
    return [(f["verification"]["status"], f["verification"]["detail"])
            for f in json.loads(done.stdout)["findings"]]


def test_cli_a_dripping_server_holds_a_key_no_longer_than_its_deadline(
    drip: DripServer, repo: Path, hvscan_exe: str
) -> None:
    done = run_bounded(hvscan_exe, "dir", "app.py", "--verify", "--api-base", drip.url,
                       "--verify-timeout", "3", "--verify-key-deadline", "2", "--format",
                       "json", cwd=repo)
    assert done.returncode == 1, done.stderr
    assert statuses_and_details(done) == [
        ("unknown", "no complete answer within the 2 s deadline per key")] * 2


def test_cli_the_run_deadline_ends_verification(
    drip: DripServer, repo: Path, hvscan_exe: str
) -> None:
    done = run_bounded(hvscan_exe, "dir", ".", "--verify", "--api-base", drip.url,
                       "--verify-workers", "2", "--verify-deadline", "2", "--format", "json",
                       cwd=repo)
    assert done.returncode == 1, done.stderr
    # Two workers: two keys are cut short, the other two never sent (one key is twice there).
    assert sorted(statuses_and_details(done)) == [
        *[("unknown", "no complete answer within the 2 s deadline of the run")] * 3,
        *[("unknown", "not sent: the 2 s deadline of the run came before its turn")] * 2]
    assert drip.connections == 2


def test_cli_long_retry_after_is_not_waited_for(api: FakeApi, repo: Path, hvscan_exe: str
                                                ) -> None:
    for key in (LIVE_200, DEAD):
        api.plan(key, Reply(429, headers={"Retry-After": "59"}), Reply(200))
    done = run_bounded(hvscan_exe, "dir", "app.py", "--verify", "--api-base", api.url,
                       "--format", "json", cwd=repo)
    assert done.returncode == 1, done.stderr
    assert [status for status, _ in statuses_and_details(done)] == ["unknown"] * 2
    assert api.count(LIVE_200) == api.count(DEAD) == 1


@pytest.fixture
def git_repo(tmp_path: Path, gitenv: dict[str, str]) -> GitRepo:
    """A repository with a key in its history and another one staged."""
    repository = GitRepo(tmp_path / "git", gitenv)
    repository.commit_file("old.py", f'KEY = "{DEAD}"\n')
    repository.write("new.py", f'KEY = "{LIVE_200}"\n')
    repository.add("new.py")
    return repository


SCANS = [["dir", "."], ["dir", ".", "--format", "json"], ["stdin"], ["staged"], ["git"]]


@pytest.mark.parametrize("args", SCANS, ids=" ".join)
def test_cli_without_verify_nothing_is_sent(
    api: FakeApi, git_repo: GitRepo, run_hvscan: Run, args: list[str]
) -> None:
    env = {**git_repo.env, "HESEDVID_API_BASE": api.url, "HVSCAN_API_BASE": api.url,
           "HESEDVID_ORG_ID": "acme"}
    done = run_hvscan(*args, cwd=git_repo.path, env=env, input=f"{LIVE_200}\n".encode())
    assert done.returncode == 1, done.stderr
    assert api.requests == []


@pytest.mark.parametrize("args", SCANS, ids=" ".join)
@pytest.mark.parametrize(("variable", "value", "message"), [
    ("HESEDVID_API_BASE", "http://staging.internal", "only for loopback hosts"),
    ("HVSCAN_API_BASE", "ftp://api.example", "is not an http(s) URL"),
    ("HESEDVID_ORG_ID", "a/b", "is not an org ID"),
])
def test_cli_verification_variables_are_read_only_with_verify(
    git_repo: GitRepo, run_hvscan: Run, args: list[str], variable: str, value: str,
    message: str,
) -> None:
    env = {**git_repo.env, variable: value}
    stdin = f"{LIVE_200}\n".encode()
    done = run_hvscan(*args, cwd=git_repo.path, env=env, input=stdin)
    assert done.returncode == 1, done.stderr
    done = run_hvscan(*args, "--verify", cwd=git_repo.path, env=env, input=stdin)
    assert done.returncode == 2 and done.stdout == b""
    error = done.stderr.decode()
    assert error.startswith(f"hvscan: error: environment variable {variable}: {value!r}")
    assert message in error and error.count("\n") == 1


def test_httpx_is_imported_only_with_verify(repo: Path) -> None:
    code = ("import sys\nfrom hvscan.cli import main\nsys.argv[1:] = ['dir', 'app.py']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('httpx' in sys.modules, 'hvscan.verify' in sys.modules, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True,
                          check=False)
    assert done.stderr.decode().strip().splitlines()[-1] == "False False"


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_cli_many_repositories_ask_about_each_key_once(
    api: FakeApi, tmp_path: Path, gitenv: dict[str, str], run_hvscan: Run, jobs: str
) -> None:
    # One key leaked in three repositories is one request, whatever the repositories' and the
    # workers' number, and every finding of it, in every repository, carries that one answer.
    api.plan(LIVE_200, Reply(200))
    names = ["one", "two", "three"]
    for name in names:
        leaking = DatedRepo(tmp_path / name, gitenv)
        leaking.write("app.py", f"KEY = '{LIVE_200}'\n")
        if name == "three":
            leaking.write("old.py", f"KEY = '{DEAD}'\n")
        leaking.commit(name)
    done = run_hvscan("git", *names, "--jobs", jobs, "--verify", "--api-base", api.url,
                      "--format", "json", "--no-progress", cwd=tmp_path, env=gitenv)
    assert done.returncode == 1, done.stderr
    assert (api.count(LIVE_200), api.count(DEAD), len(api.requests)) == (1, 1, 2)
    report = json.loads(done.stdout)
    statuses = {(f["repository"], f["secret_sha256"] == key_sha256(LIVE_200)):
                (f["verification"]["status"], f["verification"]["checked_at"], f["severity"])
                for f in report["findings"]}
    live = statuses[("one", True)]
    assert live[0] == "live" and live[2] == "critical"
    assert statuses == {("one", True): live, ("two", True): live, ("three", True): live,
                        ("three", False): statuses[("three", False)]}
    assert statuses[("three", False)][0] == "invalid"
    keys = {k["secret_sha256"]: (k["verification"]["status"], k["repositories"])
            for k in report["keys"]}
    assert keys == {key_sha256(LIVE_200): ("live", sorted(names)),
                    key_sha256(DEAD): ("invalid", ["three"])}
    for output in (done.stdout, done.stderr):
        assert LIVE_200.encode() not in output and DEAD.encode() not in output


def test_cli_many_repositories_ask_at_the_same_time(
    api: FakeApi, tmp_path: Path, gitenv: dict[str, str], run_hvscan: Run
) -> None:
    # Three keys in three repositories, three workers: no worker holds the others back while
    # its request is answered, so the requests overlap (each comes before the previous one is
    # answered), however long the API takes.
    keys = [LIVE_200, LIVE_403, DEAD]
    names = ["one", "two", "three"]
    for name, key in zip(names, keys, strict=True):
        api.plan(key, Reply(200, delay=1.5))
        leaking = DatedRepo(tmp_path / name, gitenv)
        leaking.write("app.py", f"KEY = '{key}'\n")
        leaking.commit(name)
    done = run_hvscan("git", *names, "--jobs", "3", "--verify", "--api-base", api.url,
                      "--format", "json", "--no-progress", cwd=tmp_path, env=gitenv)
    assert done.returncode == 1, done.stderr
    assert [api.count(key) for key in keys] == [1, 1, 1]
    spans = sorted(api.spans)
    assert all(later[0] < earlier[1] for earlier, later in itertools.pairwise(spans)), spans
    report = json.loads(done.stdout)
    assert {f["verification"]["status"] for f in report["findings"]} == {"live"}


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("first", ["nearby", "elsewhere"])
def test_cli_many_repositories_ask_about_a_key_for_each_org(
    api: FakeApi, tmp_path: Path, gitenv: dict[str, str], run_hvscan: Run, jobs: str, first: str
) -> None:
    # One key, in one repository with an org ID next to it and in another without: the request
    # depends on the org ID, so each is sent, and each repository's findings carry their own
    # org ID and answer, whichever repository comes first.
    api.plan(LIVE_200, Reply(403), path="/v1/api/acmecorp/environments")
    api.plan(LIVE_200, Reply(200))
    texts = {"nearby": f"ORG_ID = 'acmecorp'\nKEY = '{LIVE_200}'\n",
             "elsewhere": f"KEY = '{LIVE_200}'\n"}
    for name, text in texts.items():
        leaking = DatedRepo(tmp_path / name, gitenv)
        leaking.write("app.py", text)
        leaking.commit(name)
    names = sorted(texts, key=lambda name: name != first)
    done = run_hvscan("git", *names, "--jobs", jobs, "--verify", "--api-base", api.url,
                      "--format", "json", "--no-progress", cwd=tmp_path, env=gitenv)
    assert done.returncode == 1, done.stderr
    assert sorted(path for _, path, _ in api.requests) == [
        "/v1/api/acmecorp/environments", f"/v1/api/{PLACEHOLDER_ORG_ID}/environments"]
    answers = {f["repository"]: (f["verification"]["org_id"], f["verification"]["org_id_source"],
                                 f["verification"]["http_status"])
               for f in json.loads(done.stdout)["findings"]}
    assert answers == {"nearby": ("acmecorp", "content", 403),
                       "elsewhere": (PLACEHOLDER_ORG_ID, "placeholder", 200)}


STOPPED_RUNS = {
    "many": ["git", "one", "two", "three", "--jobs", "2", "--no-progress"],
    "git": ["git", "one", "--no-progress"],
    "dir": ["dir", "one"],
}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
@pytest.mark.parametrize(("signal_name", "code", "line"), [
    ("SIGTERM", 143, "hvscan: terminated"), ("SIGINT", 130, "hvscan: interrupted")])
@pytest.mark.parametrize(("run", "group"), [
    ("many", False), ("many", True), ("git", False), ("dir", False)])
def test_a_stopped_run_stops_its_workers_and_requests(
    drip: DripServer, tmp_path: Path, gitenv: dict[str, str], hvscan_exe: str, run: str,
    group: bool, signal_name: str, code: int, line: str
) -> None:
    # Each repository's key is being verified, against a server that never finishes an
    # answer, when the command (or, as a CI runner cancelling a job or Ctrl-C in a terminal
    # does, its whole process group) is sent the signal. The command ends at once with one
    # line and its exit code, and no process of it is left: no worker still auditing or
    # asking, no manager of the answers the workers share.
    names = ["one", "two", "three"]
    for seed, name in enumerate(names):
        leaking = DatedRepo(tmp_path / name, gitenv)
        leaking.write("app.py", f"KEY = '{make_key('live', 900 + seed)}'\n")
        leaking.commit(name)
    args = [*STOPPED_RUNS[run], "--verify", "--api-base", drip.url, "--format", "json"]
    asking = 2 if run == "many" else 1
    command = subprocess.Popen([hvscan_exe, *args], cwd=tmp_path, env=gitenv,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    try:
        started = time.monotonic()
        while drip.connections < asking and time.monotonic() - started < 60:
            time.sleep(0.05)
        assert drip.connections == asking, command.poll()
        signalled = time.monotonic()
        (os.killpg if group else os.kill)(command.pid, getattr(signal, signal_name))
        # Well before the 30 s each request may take by default.
        out, err = command.communicate(timeout=15)
        assert time.monotonic() - signalled < 10
        left = still_running(lambda: in_group(command.pid), signalled)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(command.pid, signal.SIGKILL)
        command.wait()
    assert_stopped(left, command.returncode, code, out, err, line)
