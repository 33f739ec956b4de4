"""The command line, through click's runner and through the installed console script."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from gitrepo import GitRepo
from hvscan_run import Run
from keygen import make_key
from pytest_httpserver import HTTPServer

from hvscan.cli import cli

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(f'API = "{make_key("live", 1)}"\n')
    (tmp_path / "src" / "dev.env").write_text(f"\n\nHV={make_key('test', 2)}\n")
    (tmp_path / "docs.md").write_text("use hv_live_" + "x" * 32 + " as a placeholder\n")
    (tmp_path / "clean.txt").write_text("nothing\n")
    return tmp_path


def test_dir_text_report(tree: Path, run_hvscan: Run) -> None:
    done = run_hvscan("dir", ".", cwd=tree)
    out = done.stdout.decode()
    assert done.returncode == 1, done.stderr
    assert "src/app.py:1:8: hesedvid-live-key [high] hv_live_" in out
    assert "src/dev.env:3:4: hesedvid-test-key [medium] hv_test_" in out
    assert "Settings -> API Keys" in out
    assert "scanned 4 files" in out and "2 findings (1 high, 1 medium)" in out
    assert make_key("live", 1) not in out and make_key("test", 2) not in out
    assert "\033[" not in out


def test_show_secrets_prints_full_keys(tree: Path, run_hvscan: Run) -> None:
    out = run_hvscan("dir", "--show-secrets", cwd=tree).stdout.decode()
    assert make_key("live", 1) in out


@pytest.mark.parametrize("command", [("dir",), ("stdin",)])
def test_redact_is_the_default_and_contradicts_show_secrets(
        tree: Path, run_hvscan: Run, command: tuple[str, ...]) -> None:
    # gitleaks' --redact: accepted, changes nothing; with --show-secrets, which wins is no
    # guess to make about whether keys get printed.
    key = make_key("live", 1)
    source = (tree / "src" / "app.py").read_bytes() if command == ("stdin",) else None
    plain = run_hvscan(*command, input=source, cwd=tree)
    redacted = run_hvscan(*command, "--redact", input=source, cwd=tree)
    assert (redacted.returncode, redacted.stdout) == (plain.returncode, plain.stdout)
    assert redacted.returncode == 1
    assert key not in redacted.stdout.decode()
    for args in (("--redact", "--show-secrets"), ("--show-secrets", "--redact")):
        done = run_hvscan(*command, *args, input=source, cwd=tree)
        assert done.returncode == 2 and done.stdout == b""
        assert ("Error: --redact and --show-secrets contradict each other: reports are "
                "redacted unless --show-secrets") in done.stderr.decode()


def test_json_report_contract(tree: Path, run_hvscan: Run) -> None:
    done = run_hvscan("dir", "--format", "json", cwd=tree)
    report = json.loads(done.stdout)
    assert done.returncode == 1
    assert report["tool"] == "hvscan" and report["version"]
    assert report["stats"]["files_scanned"] == 4
    assert report["stats"]["placeholders_ignored"] == 1
    assert {"files_scanned", "bytes_scanned", "files_skipped", "errors"} <= set(report["stats"])
    first = report["findings"][0]
    for field in ("rule_id", "key_type", "severity", "path", "line", "column", "source",
                  "encoding", "secret_redacted", "secret_sha256", "fingerprint", "verification"):
        assert field in first
    assert "secret" not in first
    assert first["source"] == "file" and first["verification"] is None


def test_fingerprint_is_stable_across_roots(tree: Path, run_hvscan: Run) -> None:
    from_root = json.loads(run_hvscan("dir", "--format", "json", cwd=tree).stdout)
    from_abs = json.loads(run_hvscan("dir", str(tree), "--format", "json").stdout)
    assert [f["fingerprint"] for f in from_root["findings"]] == [
        f["fingerprint"] for f in from_abs["findings"]
    ]


def test_output_file(tree: Path, run_hvscan: Run, tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    done = run_hvscan("dir", str(tree), "--format", "json", "--output", str(target))
    assert done.returncode == 1
    assert done.stdout == b""
    assert "2 findings" in done.stderr.decode()
    assert len(json.loads(target.read_text())["findings"]) == 2


def test_clean_tree_exits_zero(tmp_path: Path, run_hvscan: Run) -> None:
    (tmp_path / "a.txt").write_text("hello")
    done = run_hvscan("dir", str(tmp_path))
    assert done.returncode == 0
    assert "0 findings" in done.stdout.decode()


@pytest.mark.parametrize(("fail_on", "code"), [("critical", 0), ("high", 1), ("none", 0)])
def test_fail_on(tree: Path, run_hvscan: Run, fail_on: str, code: int) -> None:
    assert run_hvscan("dir", "--fail-on", fail_on, cwd=tree).returncode == code


def test_missing_path_is_exit_2_and_not_all_clear(tmp_path: Path, run_hvscan: Run) -> None:
    done = run_hvscan("dir", str(tmp_path / "missing"))
    assert done.returncode == 2
    assert "error:" in done.stdout.decode()
    assert "scan incomplete" in done.stdout.decode()
    assert b"Traceback" not in done.stderr


def test_error_beats_findings(tree: Path, run_hvscan: Run) -> None:
    assert run_hvscan("dir", ".", "missing", cwd=tree).returncode == 2


def test_size_limit_is_a_note_not_an_error(tree: Path, run_hvscan: Run) -> None:
    done = run_hvscan("dir", "--max-file-size", "10", cwd=tree)
    out = done.stdout.decode()
    assert done.returncode == 0
    assert "note: skipped src/app.py: larger than --max-file-size" in out


def test_strict_fails_when_anything_was_left_unscanned(tree: Path, run_hvscan: Run) -> None:
    # Without --strict, what was left unscanned is only a note: exit 0 or 1 as if scanned.
    logs = gzip.compress(os.urandom(40))[:-10]  # truncated
    (tree / "logs.gz").write_bytes(logs)
    (tree / "after.gz").write_bytes(gzip.compress(b"log\n") + b"appended\n")  # informs only
    assert run_hvscan("dir", "--max-file-size", "60", "--fail-on", "none", cwd=tree,
                      ).returncode == 0
    done = run_hvscan("dir", "--max-file-size", "60", "--strict", cwd=tree)
    assert done.returncode == 2  # not 1: an incomplete scan is never a verdict
    err = done.stderr.decode().splitlines()
    assert err[0] == "hvscan: --strict: 2 parts of the input left unscanned:"
    assert err[1] == "  docs.md: skipped: larger than --max-file-size (62 > 60 bytes)"
    assert err[2].startswith("  logs.gz: truncated gzip stream: scanned the ")
    assert len(err) == 3
    assert "src/app.py:1:8: hesedvid-live-key" in done.stdout.decode()  # still reported
    (tree / "logs.gz").unlink()
    assert run_hvscan("dir", "--strict", "--format", "json", cwd=tree).returncode == 1
    assert run_hvscan("dir", "--strict", "--fail-on", "none", "clean.txt", "after.gz",
                      cwd=tree).returncode == 0
    piped = run_hvscan("stdin", "--strict", input=logs)
    assert piped.returncode == 2 and b"<stdin>: truncated gzip stream" in piped.stderr


def test_strict_baseline_is_not_written_from_an_incomplete_scan(tree: Path,
                                                               run_hvscan: Run) -> None:
    done = run_hvscan("baseline", "--max-file-size", "60", "--strict", cwd=tree)
    assert done.returncode == 2
    assert done.stderr.decode().splitlines()[-2:] == [
        "hvscan: --strict: 1 part of the input left unscanned (.hvscan-baseline.json not "
        "written):",
        "  docs.md: skipped: larger than --max-file-size (62 > 60 bytes)"]
    assert not (tree / ".hvscan-baseline.json").exists()
    assert run_hvscan("baseline", "--max-file-size", "60", cwd=tree).returncode == 0


def test_bad_size_is_a_usage_error(tmp_path: Path, run_hvscan: Run) -> None:
    done = run_hvscan("dir", "--max-file-size", "lots", str(tmp_path))
    assert done.returncode == 2
    assert b"Traceback" not in done.stderr
    assert "is not a size" in done.stderr.decode()


ACME_RULE = ("[[rules]]\nid='acme'\ndescription='Acme'\nregex='acme_[0-9]{6}'\n"
             "keywords=['acme_']\nkey_type='token'\nseverity='info'\nremediation='Rotate.'\n")


@pytest.mark.parametrize(("text", "message"), [
    ("[[rules]]\nid = 'x'\n", "missing field"),
    # A built-in id would make the user's findings pass for the built-in rule's.
    (ACME_RULE.replace("'acme'", "'hesedvid-live-key'"), "rule 'hesedvid-live-key': field 'id'"),
    # 'a*' found 8 empty "keys" in "banana".
    (ACME_RULE.replace("acme_[0-9]{6}", "a*").replace("'acme_'", "'a'"),
     "field 'regex' matches the empty string"),
])
def test_bad_rule_file_is_one_line_exit_2(tmp_path: Path, run_hvscan: Run, text: str,
                                          message: str) -> None:
    rules = tmp_path / "r.toml"
    rules.write_text(text)
    (tmp_path / "f.txt").write_text("banana\n")
    done = run_hvscan("dir", str(tmp_path), "--rules", str(rules))
    assert done.returncode == 2, done.stdout
    err = done.stderr.decode()
    assert err.count("\n") == 1 and str(rules) in err and message in err


def test_user_rules_are_added(tmp_path: Path, run_hvscan: Run) -> None:
    rules = tmp_path / "r.toml"
    rules.write_text(ACME_RULE)
    (tmp_path / "f.txt").write_text("acme_123456\n")
    done = run_hvscan("dir", str(tmp_path / "f.txt"), "--rules", str(rules), "--format", "json")
    (finding,) = json.loads(done.stdout)["findings"]
    assert finding["rule_id"] == "acme" and finding["severity"] == "info"
    assert done.returncode == 0  # info findings do not fail by default
    assert run_hvscan("dir", str(tmp_path / "f.txt"), "--rules", str(rules),
                      "--fail-on", "info").returncode == 1


def test_stdin(run_hvscan: Run) -> None:
    key = make_key("test", 3)
    done = run_hvscan("stdin", "--format", "json", input=f"a\n{key}".encode())
    (finding,) = json.loads(done.stdout)["findings"]
    assert (finding["path"], finding["line"], finding["source"]) == ("<stdin>", 2, "stdin")
    assert done.returncode == 1
    assert run_hvscan("stdin", input=b"clean").returncode == 0


def test_color_only_when_asked_or_on_a_terminal(tree: Path, run_hvscan: Run) -> None:
    assert b"\033[" in run_hvscan("dir", "--color", "always", cwd=tree).stdout
    assert b"\033[" not in run_hvscan("dir", cwd=tree).stdout


def test_python_dash_m(tree: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "hvscan", "dir", str(tree)],
                          capture_output=True, check=False)
    assert done.returncode == 1


def test_click_runner_usage_error() -> None:
    result = CliRunner().invoke(cli, ["dir", "--format", "yaml"])
    assert result.exit_code == 2


def test_click_runner_scan(tree: Path) -> None:
    result = CliRunner().invoke(cli, ["dir", str(tree), "--format", "json"])
    assert result.exit_code == 1
    assert len(json.loads(result.output)["findings"]) == 2


def test_unknown_command_is_exit_2(run_hvscan: Run) -> None:
    done = run_hvscan("nope")
    assert done.returncode == 2 and b"Traceback" not in done.stderr


def test_installed_package_finds_its_rules_from_another_directory(
    tmp_path: Path, run_hvscan: Run
) -> None:
    (tmp_path / "k.txt").write_text(make_key("live", 4))
    assert run_hvscan("dir", "k.txt", cwd=tmp_path).returncode == 1


def test_this_repository_holds_no_key(run_hvscan: Run) -> None:
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True,
                            check=True).stdout
    tracked = [os.fsdecode(p) for p in listed.split(b"\0") if p]
    done = run_hvscan("dir", *tracked, "--format", "json", "--max-file-size", "1GB", cwd=REPO)
    report = json.loads(done.stdout)
    assert report["findings"] == [], report["findings"]
    assert report["stats"]["errors"] == 0


def test_dir_big_files_are_screened_and_counted(tmp_path: Path, run_hvscan: Run) -> None:
    # Bigger than the size the directory source reads in threads and screens window by window.
    filler = b"an ordinary line of a large log file\n" * 60_000
    (tmp_path / "clean.log").write_bytes(filler)
    (tmp_path / "keyed.log").write_bytes(filler + f"KEY={make_key('test', 9)}\n".encode())
    done = run_hvscan("dir", "--format", "json", str(tmp_path))
    report = json.loads(done.stdout)
    assert done.returncode == 1, done.stderr
    assert [(f["path"], f["line"]) for f in report["findings"]] == [("keyed.log", 60_001)]
    assert report["stats"]["files_scanned"] == 2
    assert report["stats"]["bytes_scanned"] == 2 * len(filler) + len("KEY=\n") + 40


@pytest.mark.parametrize("options", [(), ("--format", "json")])
def test_sigint_exits_130_with_one_line(hvscan_exe: str, options: tuple[str, ...]) -> None:
    import fcntl
    import signal
    import termios
    import time

    scan = subprocess.Popen([hvscan_exe, "stdin", *options], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert scan.stdin is not None
    try:
        scan.stdin.write(b"some text\n")
        scan.stdin.flush()
        # Once hvscan has taken the bytes out of the pipe it is running, waiting for more (the
        # pipe stays open): the interrupt reaches a scan in progress.
        unread = bytearray(4)
        while True:
            fcntl.ioctl(scan.stdin.fileno(), termios.FIONREAD, unread)
            if int.from_bytes(unread, sys.byteorder) == 0 or scan.poll() is not None:
                break
            time.sleep(0.01)
        scan.send_signal(signal.SIGINT)
        out, err = scan.communicate(timeout=60)
    finally:
        if scan.poll() is None:
            scan.kill()
    assert scan.returncode == 130, err
    assert err.decode().strip() == "hvscan: interrupted" and out == b""


def _console(hvscan_exe: str, prelude: str, *args: str | os.PathLike[str], cwd: Path | None = None,
             env: dict[str, str] | None = None, stdout: int | object = subprocess.PIPE,
             ) -> subprocess.CompletedProcess[bytes]:
    """Run the console script in a process that ``prelude`` (Python, with os and resource
    imported) has set up first: what a shell's redirections do (``2>&-``), without a shell."""
    script = f"import os, resource, sys\n{prelude}\nos.execv(sys.argv[1], sys.argv[1:])\n"
    return subprocess.run([sys.executable, "-c", script, hvscan_exe, *map(str, args)],
                          cwd=cwd, env={**os.environ, **(env or {})}, stdout=stdout,
                          stderr=subprocess.PIPE, timeout=120, check=False)


def test_closed_stderr_keeps_the_exit_code_and_the_report(hvscan_exe: str, repo: GitRepo,
                                                          tmp_path: Path) -> None:
    # `hvscan git` asked whether standard error is a terminal: "internal error: AttributeError".
    repo.commit_file("app.py", f'KEY = "{make_key("live", 7)}"\n')
    found = _console(hvscan_exe, "os.close(2)", "git", cwd=repo.path, env=repo.env)
    assert found.returncode == 1 and b"app.py:1:8" in found.stdout
    assert b"error" not in found.stdout
    # An error message goes nowhere, not into the report.
    (tmp_path / "plain").mkdir()
    failed = _console(hvscan_exe, "os.close(2)", "staged", cwd=tmp_path / "plain",
                      env={**repo.env, "GIT_CEILING_DIRECTORIES": str(tmp_path)})
    assert (failed.returncode, failed.stdout) == (2, b"")


@pytest.mark.parametrize(("closed", "args", "message"), [
    (0, ("stdin",), "standard input is closed"),
    (0, ("pre-push", "origin", "url"), "standard input is closed"),
    (1, ("dir", "app.py"), "cannot write the report to standard output: Bad file descriptor"),
    (1, ("dir", "clean.txt"), "cannot write the report to standard output: Bad file descriptor"),
], ids=["stdin", "pre-push", "report", "fast-path-report"])
def test_a_closed_standard_stream_that_is_needed_is_one_line_exit_2(
    hvscan_exe: str, repo: GitRepo, closed: int, args: tuple[str, ...], message: str
) -> None:
    repo.write("clean.txt", "nothing\n")
    repo.write("app.py", f'KEY = "{make_key("live", 8)}"\n')
    done = _console(hvscan_exe, f"os.close({closed})", *args, cwd=repo.path, env=repo.env,
                    stdout=None)
    assert done.returncode == 2
    assert done.stderr.decode() == f"hvscan: error: {message}\n"


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("args", [("dir", "clean.txt"), ("dir", "."), ("staged",),
                                  ("dir", "app.py", "--format", "json")],
                         ids=["fast-path", "defaults", "staged", "full"])
def test_a_report_that_cannot_be_written_is_one_line_exit_2(
    hvscan_exe: str, repo: GitRepo, args: tuple[str, ...]
) -> None:
    repo.write("clean.txt", "nothing\n")
    repo.write("app.py", f'KEY = "{make_key("live", 8)}"\n')
    repo.add("clean.txt")
    with open("/dev/full", "wb") as full:
        done = _console(hvscan_exe, "", *args, cwd=repo.path, env=repo.env, stdout=full)
    assert done.returncode == 2
    assert done.stderr.decode() == ("hvscan: error: cannot write the report to standard "
                                    "output: No space left on device\n")


@pytest.mark.parametrize(("option", "name", "text"), [
    ("--baseline", "deep.json", '{"a":' * 100_000 + "1" + "}" * 100_000),
    ("--rules", "deep.toml", "a = " + "[" * 100_000 + "]" * 100_000),
])
def test_a_deeply_nested_file_is_one_line_exit_2(run_hvscan: Run, tmp_path: Path, option: str,
                                                 name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    (tmp_path / "clean.txt").write_text("nothing\n")
    done = run_hvscan("dir", tmp_path / "clean.txt", option, tmp_path / name)
    assert done.returncode == 2
    [line] = done.stderr.decode().splitlines()
    assert line.startswith(f"hvscan: error: {tmp_path / name}: ") and "nested too deeply" in line


def test_a_failed_report_write_keeps_the_previous_report(hvscan_exe: str, tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(f'KEY = "{make_key("live", 9)}"\n')
    report = tmp_path / "report.json"
    report.write_text("the previous report\n")
    # Files may not grow past 200 bytes (Python ignores SIGXFSZ: the write fails with EFBIG),
    # as a full disk would stop the write of the longer new report.
    done = _console(hvscan_exe, "resource.setrlimit(resource.RLIMIT_FSIZE, (200, 200))",
                    "dir", tmp_path / "app.py", "--format", "json", "--output", report)
    assert done.returncode == 2
    [line] = done.stderr.decode().splitlines()
    assert line == f"hvscan: error: cannot write report to {report}: File too large"
    assert report.read_text() == "the previous report\n"
    assert sorted(os.listdir(tmp_path)) == ["app.py", "report.json"]


# --- hvscan dir --hook: file names are never options ----------------------------------------

@pytest.mark.parametrize("name", ["--exit-zero", "--fail-on=none", "--exclude=*", "-oreport",
                                  "--help"])
def test_hook_mode_refuses_a_file_named_like_an_option(tree: Path, run_hvscan: Run,
                                                       name: str) -> None:
    (tree / name).write_text("named like an option\n")
    done = run_hvscan("dir", "--hook", "src/app.py", name, cwd=tree)
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr == (f"hvscan: error: '{name}' is the name of an existing file and an "
                           "option of hvscan dir: with --hook, a file name is never read as an "
                           "option; rename the file\n").encode()
    assert not (tree / "report").exists()


def test_hook_mode_scans_other_names_starting_with_a_dash(tree: Path, run_hvscan: Run) -> None:
    (tree / "-notes").mkdir()
    (tree / "-notes" / "k.txt").write_text(f"{make_key('live', 20)}\n")
    (tree / "-x.txt").write_text(f"{make_key('live', 21)}\n")
    done = run_hvscan("dir", "--hook", "--format", "json", "-notes", "clean.txt", "-x.txt",
                      cwd=tree)
    assert done.returncode == 1, done.stderr
    assert sorted(f["path"] for f in json.loads(done.stdout)["findings"]) == [
        "-notes/k.txt", "-x.txt"]


def test_hook_mode_keeps_the_users_options(tree: Path, run_hvscan: Run) -> None:
    (tree / "-build").mkdir()
    (tree / "-build" / "k.txt").write_text(f"{make_key('live', 23)}\n")
    done = run_hvscan("dir", "--hook", "--fail-on", "critical", "--exclude=src/dev.env",
                      "--exclude", "-build", "--format", "json", "src", "-build", cwd=tree)
    assert done.returncode == 0, done.stderr
    assert [f["path"] for f in json.loads(done.stdout)["findings"]] == ["src/app.py"]
    # After the user's own `--`, every argument was a path already.
    (tree / "-y.txt").write_text(f"{make_key('live', 22)}\n")
    done = run_hvscan("dir", "--hook", "--", "-y.txt", cwd=tree)
    assert done.returncode == 1 and b"-y.txt:1:1" in done.stdout


def test_hook_flag_must_come_first(tree: Path, run_hvscan: Run) -> None:
    done = run_hvscan("dir", "src", "--hook", cwd=tree)
    assert done.returncode == 2
    assert b"--hook must come first, right after 'dir'" in done.stderr


# What a scanned tree can make hvscan read (issue 10 item 4, issue 11 item 7)


@pytest.mark.parametrize("operands", [["."], ["leak.txt"], ["leak.txt", "clean.txt"]])
def test_a_link_to_the_environment_reads_and_sends_nothing(
    tmp_path: Path, run_hvscan: Run, httpserver: HTTPServer, operands: list[str]
) -> None:
    # The CI job's own key is in its environment; the scanned tree links to it.
    httpserver.expect_request(re.compile(".*")).respond_with_data("", status=401)
    (tmp_path / "leak.txt").symlink_to("/proc/self/environ")
    (tmp_path / "clean.txt").write_text("nothing\n")
    env = {"CI_DEPLOY_KEY": make_key("live", 40), "HTTP_PROXY": "", "ALL_PROXY": ""}
    for args in ([], ["--verify", "--api-base", f"http://127.0.0.1:{httpserver.port}"],
                 ["--follow-symlinks"]):
        done = run_hvscan("dir", *operands, *args, "--format", "json", cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        assert data["findings"] == []
        assert data["skipped"] == [{"path": "leak.txt", "reason": "in /proc, which hvscan never "
                                    "reads (/proc, /sys and /dev)", "informational": False}]
    assert httpserver.log == []


@pytest.mark.parametrize("path", ["/proc/kmsg", "/proc/self/", "/proc/self/environ"])
def test_proc_paths_return_promptly_with_a_note(run_hvscan: Run, path: str) -> None:
    # /proc/kmsg blocks any reader; /proc/self/ leads to / through a link (34 minutes on old main).
    done = run_hvscan("dir", path)  # a hang fails on run_hvscan's timeout
    assert done.returncode == 0, done.stderr
    shown = path.rstrip("/")
    assert f"note: skipped {shown}: in /proc, which hvscan never reads".encode() in done.stdout


def test_a_fifo_named_or_met_is_never_opened(tmp_path: Path, run_hvscan: Run) -> None:
    os.mkfifo(tmp_path / "pipe")  # no writer: a blocking open would wait forever
    for operand in ("pipe", "."):
        done = run_hvscan("dir", operand, cwd=tmp_path)
        assert done.returncode == 0
        assert b"note: skipped pipe: not a regular file (FIFO)" in done.stdout


def test_follow_symlinks_is_not_a_setting(tmp_path: Path, run_hvscan: Run) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "k.txt").write_text(f'KEY = "{make_key("live", 41)}"\n')
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "out").symlink_to(tmp_path / "outside")
    (tmp_path / "tree" / ".hvscan.toml").write_text("follow-symlinks = true\n")
    assert b"unknown key 'follow-symlinks'" in run_hvscan("dir", cwd=tmp_path / "tree").stderr
    (tmp_path / "tree" / ".hvscan.toml").unlink()
    assert run_hvscan("dir", cwd=tmp_path / "tree").returncode == 0
    assert run_hvscan("dir", "--follow-symlinks", cwd=tmp_path / "tree").returncode == 1
    assert run_hvscan("baseline", "--follow-symlinks", "-o", tmp_path / "b.json",
                      cwd=tmp_path / "tree").returncode == 0
    assert "out/k.txt" in (tmp_path / "b.json").read_text()


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_option_reaches_its_command_typed(name: str) -> None:
    """Each option of a command is a parameter of its function or a field of one of the typed
    records it gets (hvscan/settings/options.py), and each record field is an option: none is
    forgotten, none left over."""
    import inspect

    from hvscan.runner import OutputOptions
    from hvscan.settings.options import ScanOptions, VerifyOptions

    command = cli.commands[name]
    options = {param.name for param in command.params if param.expose_value} - {"config_file"}
    assert command.callback is not None
    signature = set(inspect.signature(command.callback).parameters)
    records = {"options": ScanOptions, "report": OutputOptions, "verify": VerifyOptions}
    fields = {field for key, record in records.items() if key in signature
              for field in record._fields}
    # Set from the configuration only: a range scan's ignore file, whether the rule files came
    # from a configuration file; a baseline for commands that report.
    fields -= {"untrusted_ignore_file", "rules_from_configuration",
               *(() if "report" in signature else ("baseline_file",))}
    assert options == (signature - set(records)) | fields
