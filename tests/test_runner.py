"""Running a settled scan: the defaults the fast path relies on, and one-line failures."""

from __future__ import annotations

import inspect

import pytest

from hvscan import runner
from hvscan.cli import cli
from hvscan.engine import Limits
from hvscan.runner import OutputOptions
from hvscan.sources.files import DEFAULT_MAX_FILE_SIZE
from hvscan.units import parse_size

LIMIT_OPTIONS = {"max_decode_depth": "decode_depth", "max_archive_depth": "archive_depth",
                 "max_archive_size": "archive_bytes", "max_archive_ratio": "archive_ratio",
                 "max_archive_members": "archive_members"}


def test_the_defaults_are_the_command_lines() -> None:
    """`hvscan dir` without options runs scan_and_report with its defaults (hvscan/fastpath.py):
    they must be what click gives the command when no option is given."""
    command = cli.commands["dir"]
    given = command.make_context("dir", []).params
    parameters = inspect.signature(runner.scan_and_report).parameters
    assert parameters["output_options"].default is None  # OutputOptions()'s defaults
    defaults = {**runner.DEFAULTS._asdict(), **OutputOptions()._asdict(),
                "verification": parameters["verification"].default}
    assert defaults.pop("limits") == Limits(**{LIMIT_OPTIONS[name]: given.pop(name)
                                               for name in LIMIT_OPTIONS})
    assert defaults.pop("verification") is None and given.pop("verify") is False
    # Only range scans distrust inline markers and read the change's own ignore file.
    assert defaults.pop("trust_inline") is True
    assert defaults.pop("untrusted_ignore_file") is None
    # Rule files named by the user, not by a configuration file, may say how to verify.
    assert defaults.pop("rules_from_configuration") is False
    assert given.pop("max_file_size") == parse_size(DEFAULT_MAX_FILE_SIZE)
    assert given.pop("follow_symlinks") is inspect.signature(runner.walker).parameters[
        "follow_symlinks"].default is False
    assert given.pop("paths") == ()
    assert given.pop("config_file") is None
    for name, default in defaults.items():
        assert given.pop(name) == default, name
    # What is left only matters with --verify.
    assert set(given) == {"api_base", "org_id", "only_verified", "results", "verify_workers",
                          "verify_timeout", "verify_key_deadline", "verify_deadline",
                          "verify_retries", "verify_cache", "verify_cache_ttl"}
    assert not given["only_verified"] and given["results"] is None


@pytest.mark.parametrize("failure, code, line", [
    (runner.HvscanError("cannot write report to r.json: Permission denied"), 2,
     "hvscan: error: cannot write report to r.json: Permission denied\n"),
    (KeyboardInterrupt(), 130, "hvscan: interrupted\n"),
    (runner.Terminated(), 143, "hvscan: terminated\n"),
    (ZeroDivisionError("division by zero"), 2,
     "hvscan: internal error: ZeroDivisionError: division by zero\n"),
])
def test_failures_are_one_line(failure: BaseException, code: int, line: str,
                               capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HVSCAN_DEBUG", raising=False)

    def fail() -> None:
        raise failure

    with pytest.raises(SystemExit) as done:
        runner.guarded(fail)
    assert done.value.code == code
    assert capsys.readouterr().err == line


def test_a_user_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from hvscan.rules import RuleError

    def fail() -> None:
        raise RuleError("rules.toml: field 'regex' is missing")

    with pytest.raises(SystemExit) as done:
        runner.guarded(fail)
    assert done.value.code == 2
    assert capsys.readouterr().err == "hvscan: error: rules.toml: field 'regex' is missing\n"


def test_a_clean_return_exits_zero() -> None:
    with pytest.raises(SystemExit) as done:
        runner.guarded(lambda: None)
    assert done.value.code == 0


@pytest.mark.parametrize("failure, line", [
    (runner.HvscanError("git: bad object \x1b[2Jx\nhvscan: 0 findings"),
     "hvscan: error: git: bad object \\x1b[2Jx\\x0ahvscan: 0 findings\n"),
    (ValueError("name \u202eexe.txt\r"),
     "hvscan: internal error: ValueError: name \\u202eexe.txt\\x0d\n"),
], ids=["error", "internal-error"])
def test_failure_lines_escape_names_from_the_scanned_content(
        failure: Exception, line: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Git's and the file system's messages quote names that the scanned content chose.
    monkeypatch.delenv("HVSCAN_DEBUG", raising=False)

    def fail() -> None:
        raise failure

    with pytest.raises(SystemExit):
        runner.guarded(fail)
    assert capsys.readouterr().err == line
