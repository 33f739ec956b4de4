"""The JUnit XML report: golden file, well-formed XML whatever the names, counts that add up."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable

from report_sample import AWKWARD_SHOWN, name_result

from hvscan.scan import ScanResult


def test_cases_and_counts(result: ScanResult, render: Callable[..., str]) -> None:
    root = ET.fromstring(render("junit", result))
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    expected = {"tests": "6", "failures": "4", "errors": "1", "skipped": "1"}
    assert {k: root.get(k) for k in expected} == expected
    assert {k: suite.get(k) for k in expected} == expected
    cases = suite.findall("testcase")
    assert [c.get("classname") for c in cases] == [
        "hvscan.hesedvid-live-key", "hvscan.hesedvid-test-key", "hvscan.hesedvid-live-key",
        "hvscan.hesedvid-test-key", "hvscan.scan", "hvscan.scan",
    ]
    assert [c[0].tag for c in cases] == ["failure"] * 4 + ["error", "skipped"]
    first = cases[0]
    assert (first.get("name"), first.get("file"), first.get("line")) == (
        "src/settings.py:1:12", "src/settings.py", "1")
    assert first[0].get("type") == "high"
    assert "fix: Revoke the key" in (first[0].text or "")


def test_escaping_round_trips(result: ScanResult, render: Callable[..., str]) -> None:
    cases = ET.fromstring(render("junit", result)).iter("testcase")
    awkward = next(c for c in cases if c.get("file") == AWKWARD_SHOWN)
    assert awkward.get("name") == AWKWARD_SHOWN + ":1:9"


def test_characters_xml_cannot_carry_are_shown_escaped(
    result: ScanResult, render: Callable[..., str]
) -> None:
    result.findings[2].author = "Mallory \x1b[31m\x00 <m@example.com>"
    text = render("junit", result)
    assert "\x1b" not in text and "\x00" not in text
    failure = ET.fromstring(text).findall(".//failure")[2]
    assert "Mallory \\x1b[31m\\x00 <m@example.com>" in (failure.text or "")


def test_a_clean_scan_has_one_passing_case(render: Callable[..., str]) -> None:
    root = ET.fromstring(render("junit", ScanResult()))
    cases = root.findall(".//testcase")
    assert len(cases) == 1 and not len(cases[0])
    assert root.get("tests") == "1" and root.get("failures") == "0"


def test_secrets_only_with_show_secrets(
    result: ScanResult, keys: dict[str, str], render: Callable[..., str]
) -> None:
    assert not any(key in render("junit", result) for key in keys.values())
    failure = ET.fromstring(render("junit", result, show_secrets=True)).find(".//failure")
    assert failure is not None
    assert failure.get("message") == f"HesedVid live (production) API key: {keys['live']}"


def test_suppressed_findings_are_skipped_cases_with_show_suppressed(
    result: ScanResult, render: Callable[..., str]
) -> None:
    assert ET.fromstring(render("junit", result)).get("skipped") == "1"
    root = ET.fromstring(render("junit", result, show_suppressed=True))
    assert (root.get("tests"), root.get("skipped"), root.get("failures")) == ("7", "2", "4")
    case = next(c for c in root.iter("testcase") if c.get("file") == "tests/fixtures/legacy.py")
    assert case.get("classname") == "hvscan.hesedvid-test-key"
    skipped = case.find("skipped")
    assert skipped is not None
    assert skipped.get("message") == (
        f"suppressed (inline): {result.suppressed[0].secret_redacted}")


def test_a_key_in_a_name_is_a_case_named_with_its_mark(render: Callable[..., str]) -> None:
    cases = ET.fromstring(render("junit", name_result())).iter("testcase")
    names = [(case.get("name"), case.get("file"), case.get("line")) for case in cases]
    assert [(name.split(" (name):")[1], line) for name, _, line in names] == [("1:8", None),
                                                                            ("1:5", None)]
    assert names[1][1] is not None and names[1][1].endswith("/")
