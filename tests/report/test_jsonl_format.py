"""The JSON Lines report: golden file, one object per line, same fields as the JSON report."""

from __future__ import annotations

import json
from collections.abc import Callable

from report_sample import name_result

from hvscan.report import ReportOptions
from hvscan.report.json_format import report_dict
from hvscan.scan import ScanResult
from hvscan.shown import reported


def _records(text: str) -> list[dict[str, object]]:
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_records_match_the_json_report(result: ScanResult, render: Callable[..., str]) -> None:
    records = _records(render("jsonl", result))
    report = report_dict(reported(result), ReportOptions())
    assert [r["type"] for r in records] == (["finding"] * 4 + ["skipped", "error"]
                                            + ["key"] * 3 + ["summary"])
    assert [{k: v for k, v in r.items() if k != "type"} for r in records[:4]] == report["findings"]
    assert records[4] == {"type": "skipped", **report["skipped"][0]}
    assert records[5] == {"type": "error", **report["errors"][0]}
    assert [{k: v for k, v in r.items() if k != "type"} for r in records[6:9]] == report["keys"]
    assert records[-1] == {"type": "summary", "tool": "hvscan", "version": report["version"],
                           "scan": report["scan"], "stats": report["stats"]}


def test_line_breaks_in_paths_stay_inside_one_line(
    result: ScanResult, render: Callable[..., str]
) -> None:
    text = render("jsonl", result)
    assert len(text.splitlines()) == 10
    assert "new\\\\x0aline" in text  # the line break as every format shows it, JSON-escaped


def test_secrets_only_with_show_secrets(
    result: ScanResult, keys: dict[str, str], render: Callable[..., str]
) -> None:
    hidden = render("jsonl", result)
    assert not any(key in hidden for key in keys.values())
    shown = _records(render("jsonl", result, show_secrets=True))
    assert shown[0]["secret"] == keys["live"]


def test_suppressed_findings_only_with_show_suppressed(
    result: ScanResult, render: Callable[..., str]
) -> None:
    assert "suppressed" not in [r["type"] for r in _records(render("jsonl", result))]
    records = _records(render("jsonl", result, show_suppressed=True))
    assert [r["type"] for r in records][:5] == ["finding"] * 4 + ["suppressed"]
    assert records[4]["suppression"] == "inline"
    assert records[4]["fingerprint"] == result.suppressed[0].fingerprint


def test_a_key_in_a_name_is_marked(render: Callable[..., str]) -> None:
    lines = [json.loads(line) for line in render("jsonl", name_result()).splitlines()]
    findings = [line for line in lines if line["type"] == "finding"]
    assert [(f["in_name"], f["path"].endswith("/")) for f in findings] == [(True, False),
                                                                           (True, True)]
    # The same key in a name and in content are two findings to baselines and ignore files.
    assert len({f["fingerprint"] for f in findings}) == 2
