"""Joining reports: keys across repositories, the many-repository shape, refusing foreign
reports, and rendering a joined report in every format."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hvscan import __version__
from hvscan.report import FORMATS, ReportOptions, renderer
from hvscan.report.json_format import report_dict
from hvscan.report.merge import (
    ReportError,
    check,
    counts,
    for_repository,
    from_dict,
    load,
    merge,
    merge_keys,
    render,
    without_findings,
)
from hvscan.report.text_format import counts as result_counts
from hvscan.report.text_format import summary
from hvscan.shown import reported

SHA_A, SHA_B = "a" * 64, "b" * 64


def _key(sha: str, repository: str, *, severity: str = "high", date: str = "2024-01-02T00:00:00Z",
         refs: list[str] | None = None, pushed: bool | None = False,
         in_head: bool | None = False) -> dict[str, Any]:
    intro = {"commit": "c" * 40, "path": "app.py", "author": "A", "date": date,
             "source": "history", "unreachable": False}
    key = {"secret_sha256": sha, "rule_id": "hesedvid-live-key", "key_type": "live",
           "severity": severity, "secret_redacted": "hv_live_Ab3d...9xYz", "verification": None,
           "findings": 1, "first": {name: intro[name] for name in ("commit", "path", "author",
                                                                  "date")},
           "introductions": [intro], "in_head": in_head, "head_paths": [],
           "removed_in": [], "refs": refs or ["refs/heads/main"], "pushed": pushed,
           "remediation": "Revoke it."}
    report = {"tool": "hvscan", "version": __version__, "findings": [], "stats": {},
              "skipped": [], "errors": [], "notes": [], "keys": [key]}
    [named] = for_repository(report, repository)["keys"]
    return named


def test_a_key_in_several_repositories_is_one_key_with_every_exposure() -> None:
    keys = merge_keys([
        _key(SHA_A, "org/one", date="2024-03-01T00:00:00+00:00", refs=["refs/heads/dev"]),
        _key(SHA_B, "org/one", severity="medium"),
        _key(SHA_A, "org/two", severity="critical", date="2024-01-01T00:00:00+02:00",
             pushed=True),
        _key(SHA_A, "org/three", in_head=None, pushed=None),
    ])
    assert [key["secret_sha256"] for key in keys] == [SHA_A, SHA_B]
    joined = keys[0]
    assert joined["repositories"] == ["org/one", "org/three", "org/two"]
    assert joined["severity"] == "critical" and joined["findings"] == 3
    assert joined["pushed"] is True and joined["in_head"] is False
    assert joined["refs"] == ["refs/heads/dev", "refs/heads/main"]
    # Oldest first, whatever the time zone; each names its repository, the first too.
    assert [i["repository"] for i in joined["introductions"]] == ["org/two", "org/three",
                                                                 "org/one"]
    assert joined["first"]["repository"] == "org/two"
    assert joined["first"]["date"] == "2024-01-01T00:00:00+02:00"



@pytest.mark.parametrize("order", [1, -1])
def test_a_key_live_in_one_repository_is_live(order: int) -> None:
    # The same key asked about under two organisations: invalid for one, live for the other.
    answers = [{"status": "invalid", "detail": "HTTP 401"}, {"status": "unknown", "detail": "?"},
               {"status": "live", "detail": "HTTP 200"}][::order]
    group = []
    for n, answer in enumerate(answers):
        key = _key(SHA_A, f"org/{n}")
        key["verification"] = answer
        group.append(key)
    [joined] = merge_keys(group)
    assert joined["verification"] == {"status": "live", "detail": "HTTP 200"}

def test_keys_are_sorted_by_severity_then_exposure() -> None:
    keys = merge_keys([_key("1" * 64, "r"), _key("2" * 64, "r", pushed=True),
                       _key("3" * 64, "r", severity="critical"),
                       _key("4" * 64, "r", in_head=True)])
    assert [k["secret_sha256"][0] for k in keys] == ["3", "2", "4", "1"]


def test_an_unknown_exposure_stays_unknown() -> None:
    [key] = merge_keys([_key(SHA_A, "x", pushed=None, in_head=None),
                        _key(SHA_A, "y", pushed=None, in_head=None)])
    assert key["pushed"] is None and key["in_head"] is None


def _finding(repository: str, path: str, line: int) -> dict[str, Any]:
    return {"rule_id": "hesedvid-live-key", "description": "d", "key_type": "live",
            "severity": "high", "path": path, "line": line, "column": 1, "source": "history",
            "encoding": "plain", "secret_redacted": "hv_live_Ab3d...9xYz",
            "secret_sha256": SHA_A, "fingerprint": f"{repository}{path}{line}", "commit": None,
            "author": None, "date": None, "verification": None, "remediation": "r",
            "blob": "e" * 40, "other_commits": 0, "other_paths": 1, "repository": repository}


def _report(repository: str, *findings: dict[str, Any], error: str | None = None
            ) -> dict[str, Any]:
    report = {"tool": "hvscan", "version": __version__,
              "findings": [{k: v for k, v in f.items() if k != "repository"} for f in findings],
              "stats": {"files_scanned": 2, "bytes_scanned": 10, "findings": len(findings)},
              "skipped": [], "errors": [], "notes": [],
              "scan": {"command": "git", "head": "f" * 40, "refs": ["refs/heads/main"],
                       "started": "2026-12-06T06:00:00Z", "duration": 1.5}}
    return for_repository(report, repository, error)


def test_joining_is_the_same_in_any_grouping() -> None:
    reports = [_report("b", _finding("b", "x.py", 3)),
               _report("a", _finding("a", "y.py", 1), _finding("a", "x.py", 9)),
               _report("c", error="git clone failed: nope")]
    whole = merge(reports, "git")
    in_parts = merge([merge(reports[2:], "git"), merge(reports[:2], "git")], "git")
    for name in ("findings", "stats", "errors", "skipped", "notes"):
        assert whole[name] == in_parts[name]
    assert whole["scan"]["repositories"] == in_parts["scan"]["repositories"]
    assert [(f["repository"], f["path"]) for f in whole["findings"]] == [
        ("a", "x.py"), ("a", "y.py"), ("b", "x.py")]
    assert whole["stats"] == {"files_scanned": 6, "bytes_scanned": 30, "findings": 3,
                              "errors": 1}
    assert whole["errors"] == [{"path": "c", "message": "git clone failed: nope",
                                "repository": "c"}]
    assert whole["scan"]["repositories"] == [
        {"repository": "a", "head": "f" * 40, "refs": ["refs/heads/main"], "error": None},
        {"repository": "b", "head": "f" * 40, "refs": ["refs/heads/main"], "error": None},
        {"repository": "c", "head": "f" * 40, "refs": ["refs/heads/main"],
         "error": "git clone failed: nope"}]
    assert whole["scan"]["duration"] == 4.5 and whole["scan"]["command"] == "git"


def test_foreign_and_other_major_reports_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"x\.json: not an hvscan JSON report"):
        check({"tool": "gitleaks"}, "x.json")
    with pytest.raises(ReportError, match=r"written by hvscan 99\.0\.0, which this hvscan"):
        check({"tool": "hvscan", "version": "99.0.0"}, "x.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ReportError, match=r"bad\.json: not an hvscan JSON report \(not JSON\)"):
        load(str(tmp_path / "bad.json"))
    with pytest.raises(ReportError, match=r"gone\.json: No such file"):
        load(str(tmp_path / "gone.json"))


@pytest.mark.parametrize("output_format", [f for f in FORMATS if f not in ("json", "jsonl")])
def test_a_report_rebuilt_from_its_json_renders_as_the_result_did(output_format: str,
                                                                  result: Any) -> None:
    options = ReportOptions(show_suppressed=True)
    data = json.loads(json.dumps(report_dict(reported(result), options)))
    assert render(data, output_format, options) == renderer(output_format)(result,
                                                                          options)


def test_json_and_jsonl_are_written_from_the_dict(result: Any) -> None:
    data = merge([for_repository(report_dict(reported(result), ReportOptions()), "r")],
                 "merge")
    assert json.loads(render(data, "json", ReportOptions())) == data
    lines = [json.loads(line) for line in render(data, "jsonl", ReportOptions()).splitlines()]
    assert [line for line in lines if line["type"] == "finding"] == [
        {"type": "finding", **f} for f in data["findings"]]
    assert lines[-1]["type"] == "summary" and lines[-1]["scan"]["command"] == "merge"
    assert len(from_dict(data).findings) == len(data["findings"])


def test_html_is_the_page_of_the_joined_report(result: Any) -> None:
    data = merge([for_repository(report_dict(reported(result), ReportOptions()), "org/one")],
                 "merge")
    page = render(data, "html", ReportOptions())
    assert page.startswith("<!DOCTYPE html>") and '"command": "merge"' in page


def test_json_is_indented_as_one_repositorys_and_utf8(result: Any) -> None:
    data = merge([for_repository(report_dict(reported(result), ReportOptions()), "org/é")],
                 "merge")
    text = render(data, "json", ReportOptions())
    assert text == json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def test_what_the_fast_encoder_refuses_is_written_by_the_standard_one() -> None:
    # A repository named on the command line with bytes that are not UTF-8.
    data = merge([_report("r\udcff", _finding("r\udcff", "x.py", 1))], "merge")
    text = render(data, "json", ReportOptions())
    assert json.loads(text) == data and "\\udcff" in text


def test_a_report_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    (tmp_path / "latin.json").write_bytes(b'{"tool": "hvscan", "x": "\xe9"}')
    with pytest.raises(ReportError, match=r"latin\.json: not an hvscan JSON report \(not JSON\)"):
        load(str(tmp_path / "latin.json"))


def test_the_fast_json_library_is_not_imported_by_hvscan_dir(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("print('hello')\n")
    code = ("import sys\nfrom hvscan.fastpath import main\nsys.argv[1:] = ['dir', 'app.py']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print('orjson' in sys.modules, 'hvscan.report.merge' in sys.modules,"
            " file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          check=False)
    assert done.stderr.decode().strip().splitlines()[-1] == "False False"


def _two_repositories(result: Any) -> dict[str, Any]:
    """``result``'s report as if each of its keys were found in org/one and org/two."""
    report = report_dict(reported(result), ReportOptions())
    return merge([for_repository(report, "org/two"), for_repository(report, "org/one")],
                 "merge")


def test_text_report_names_each_keys_repositories(result: Any) -> None:
    assert result.keys and result.findings
    text = render(_two_repositories(result), "text", ReportOptions())
    keys = text.split("Keys to revoke")[1]
    assert keys.count("    in 2 repositories: org/one, org/two\n") == len(result.keys)
    # One repository's report says nothing of repositories.
    assert " repositories: " not in renderer("text")(result, ReportOptions())


def test_sarif_keys_carry_their_repositories_only_across_several(result: Any) -> None:
    sarif = json.loads(render(_two_repositories(result), "sarif", ReportOptions()))
    assert "org/one" in json.dumps(sarif)
    assert '"repositories"' not in renderer("sarif")(result, ReportOptions())


def test_html_revoke_list_and_key_cards_name_each_keys_repositories(result: Any) -> None:
    page = render(_two_repositories(result), "html", ReportOptions())
    revoke = page.split('id="revoke-table"')[1].split("</table>")[0]
    assert "<th>repositories</th>" in revoke
    assert revoke.count("<td><code>org/one</code> <code>org/two</code></td>") == len(result.keys)
    cards = page.split("<article")[1:]
    assert len(cards) == len(result.keys)
    assert all("<p>Repositories (2): <code>org/one</code> <code>org/two</code></p>" in card
               for card in cards)
    single = renderer("html")(result, ReportOptions())
    assert "<th>repositories</th>" not in single and "Repositories (" not in single


def test_the_verdict_counted_from_the_dict_is_the_rebuilt_results(result: Any) -> None:
    data = _two_repositories(result)
    data["findings"][0]["verification"] = {"status": "revoked", "checked_at": "2026-01-01"}
    rebuilt = from_dict(data)
    tally = counts(data)
    assert tally == result_counts(rebuilt) and tally.verified["revoked"] >= 1
    assert sum(tally.severities.values()) == len(data["findings"])
    assert summary(without_findings(data), tally) == summary(rebuilt)
    assert without_findings(data).findings == [] and without_findings(data).errors == \
        rebuilt.errors


def test_a_key_in_a_name_keeps_its_mark_through_the_json() -> None:
    from report_sample import name_result

    options = ReportOptions()
    data = json.loads(json.dumps(report_dict(reported(name_result()), options)))
    assert [f.in_name for f in from_dict(data).findings] == [True, True]
    assert render(data, "text", options) == renderer("text")(name_result(), options)


def test_every_field_of_a_real_report_passes_the_check(result: Any) -> None:
    # Each kind of finding, suppressed finding and key the report sample holds, as hvscan
    # writes them, and in the many-repository shape.
    report = report_dict(reported(result), ReportOptions(show_suppressed=True))
    assert report["findings"] and report["suppressed"] and report["keys"]
    assert check(report, "r.json") is report
    joined = _two_repositories(result)
    assert check(joined, "r.json") is joined


@pytest.mark.parametrize(("where", "field", "value", "problem"), [
    ("findings", "date", 1704153600, "findings[0].date: an integer, not a string or null"),
    ("findings", "line", "3", "findings[0].line: a string, not an integer"),
    ("findings", "line", True, "findings[0].line: true or false, not an integer"),
    ("findings", "severity", "urgent", "findings[0].severity: not one of info, low, medium"),
    ("findings", "rule_id", None, "findings[0].rule_id: null, not a string"),
    ("suppressed", "path", 7, "suppressed[0].path: an integer, not a string or null"),
    ("keys", "severity", 3, "keys[0].severity: an integer, not a string"),
    ("keys", "first", "x", "keys[0].first: a string, not an object or null"),
])
def test_a_report_with_a_field_of_another_type_is_refused(result: Any, where: str, field: str,
                                                          value: Any, problem: str) -> None:
    report = report_dict(reported(result), ReportOptions(show_suppressed=True))
    report[where][0][field] = value
    with pytest.raises(ReportError) as caught:
        check(report, "r.json")
    assert str(caught.value).startswith(f"r.json: not an hvscan JSON report ({problem}")


def test_a_missing_field_and_a_key_introduction_are_checked_too(result: Any) -> None:
    report = report_dict(reported(result), ReportOptions())
    del report["findings"][0]["fingerprint"]
    with pytest.raises(ReportError, match=r"\(findings\[0\]\.fingerprint: missing\)"):
        check(report, "r.json")
    report = report_dict(reported(result), ReportOptions())
    report["keys"][0]["introductions"][0]["date"] = 2024.5
    with pytest.raises(ReportError,
                       match=r"\(keys\[0\]\.introductions\[0\]\.date: a number, not a string"):
        check(report, "r.json")


@pytest.mark.parametrize("output_format", FORMATS)
def test_merge_refuses_a_numeric_date_in_one_line(result: Any, tmp_path: Path,
                                                  run_hvscan: Any, output_format: str) -> None:
    # The HTML report failed with "internal error: TypeError" on it.
    report = report_dict(reported(result), ReportOptions())
    report["findings"][0]["date"] = 1704153600
    (tmp_path / "shard.json").write_text(json.dumps(report))
    done = run_hvscan("merge", "shard.json", "--format", output_format, cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == b""
    assert done.stderr.decode() == (
        "hvscan: error: shard.json: not an hvscan JSON report (findings[0].date: an integer, "
        "not a string or null)\n")
