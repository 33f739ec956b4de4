"""The GitHub Actions report: golden file, and commands that the runner parses back exactly."""

from __future__ import annotations

import re
from collections.abc import Callable

from report_sample import AWKWARD_SHOWN, name_result

from hvscan.scan import ScanResult
from hvscan.shown import escape

_COMMAND = re.compile(r"::(?P<name>[a-z]+) (?P<props>[^:]*)::(?P<data>.*)")


def _unescape(text: str, property_: bool) -> str:
    # The runner's order (actions/runner ActionCommand): %0D, %0A, (%3A, %2C), then %25.
    pairs = [("%0D", "\r"), ("%0A", "\n")]
    if property_:
        pairs += [("%3A", ":"), ("%2C", ",")]
    for escaped, plain in [*pairs, ("%25", "%")]:
        text = text.replace(escaped, plain)
    return text


def _parse(text: str) -> list[tuple[str, dict[str, str], str]]:
    commands = []
    for line in text.splitlines():
        found = _COMMAND.fullmatch(line)
        assert found, f"not a workflow command: {line!r}"
        props = dict(item.split("=", 1) for item in found["props"].split(","))
        commands.append((
            found["name"],
            {k: _unescape(v, property_=True) for k, v in props.items()},
            _unescape(found["data"], property_=False),
        ))
    return commands


def test_one_command_per_line_and_properties_round_trip(
    result: ScanResult, render: Callable[..., str]
) -> None:
    commands = _parse(render("github", result))
    # four findings, one error, one skipped file, the keys: no line broke
    assert len(commands) == 7
    name, props, data = commands[1]
    assert name == "warning"  # medium
    assert props == {"file": AWKWARD_SHOWN, "line": "1", "col": "9",
                     "title": "hvscan: hesedvid-test-key"}
    assert data.startswith("HesedVid test (development) API key: ")
    assert "\nEncoded as base64.\n" in data


def test_levels_follow_severity(result: ScanResult, render: Callable[..., str]) -> None:
    result.findings.append(result.findings[0].replace(severity="low"))
    names = [name for name, _, _ in _parse(render("github", result))]
    # high, medium, critical (verified live), medium, low; then the error, the skipped file and
    # the keys
    assert names == ["error", "warning", "error", "warning", "notice", "error", "notice",
                     "notice"]


def test_message_findings_have_no_file(result: ScanResult, render: Callable[..., str]) -> None:
    _, props, data = _parse(render("github", result))[3]
    assert "file" not in props
    assert "Found in a commit message, line 3." in data
    assert result.findings[3].commit in data  # type: ignore[operator]


def test_errors_and_skipped_files_are_annotated(
    result: ScanResult, render: Callable[..., str]
) -> None:
    commands = _parse(render("github", result))
    assert commands[4] == ("error", {"file": "private/keys.txt",
                                     "title": "hvscan could not scan this file"},
                           "Permission denied")
    assert commands[5][0] == "notice" and commands[5][1]["file"] == "assets/intro.mp4"


def test_the_keys_to_revoke_are_the_last_notice_one_line_each(
    result: ScanResult, render: Callable[..., str]
) -> None:
    name, props, data = _parse(render("github", result))[-1]
    assert (name, props) == ("notice", {"title": "hvscan: 3 distinct keys to revoke"})
    lines = data.splitlines()
    assert [line.split(" ")[0] for line in lines] == [k.secret_redacted for k in result.keys]
    assert lines[0].endswith(result.keys[0].remediation)
    assert "hvscan purge-plan /work/project --output DIR" in lines[0]


def test_text_that_looks_like_a_command_cannot_start_one(
    result: ScanResult, render: Callable[..., str]
) -> None:
    result.findings[0].path = "x\n::add-mask::y\r\n::stop-commands::z%0A"
    commands = _parse(render("github", result))
    assert commands[0][1]["file"] == escape(result.findings[0].path)


def test_secrets_only_with_show_secrets(
    result: ScanResult, keys: dict[str, str], render: Callable[..., str]
) -> None:
    assert not any(key in render("github", result) for key in keys.values())
    assert keys["live"] in render("github", result, show_secrets=True)


def test_suppressed_findings_are_notices_with_show_suppressed(
    result: ScanResult, render: Callable[..., str]
) -> None:
    assert len(_parse(render("github", result))) == 7
    commands = _parse(render("github", result, show_suppressed=True))
    name, props, data = commands[4]
    assert (name, props["file"]) == ("notice", "tests/fixtures/legacy.py")  # medium, but accepted
    assert "\nSuppressed (inline): reported, not counted.\n" in data


def test_a_key_in_a_name_is_on_the_file_with_no_line(render: Callable[..., str]) -> None:
    lines = render("github", name_result()).splitlines()
    assert len(lines) == 2
    for line in lines:
        properties = line.split("::")[1]
        assert properties.startswith("error file=") and "line=" not in properties
        assert "Found in the name" in line
