"""The reporter registry: every format the command line offers renders, from the real CLI too,
and the golden files hold hashes and redacted keys only."""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import click
import pytest
from hvscan_run import Run
from report_sample import GOLDEN, KEY_SHAPE, sample_result

from hvscan.cli import cli
from hvscan.report import FORMATS, ReportOptions, finding_details, renderer, shown_secret
from hvscan.scan import ScanResult


def test_every_format_is_offered_by_every_scan_command() -> None:
    for command in cli.commands.values():
        formats = [p for p in command.params if p.name == "output_format"]
        if formats:
            assert isinstance(formats[0].type, click.Choice)
            assert tuple(formats[0].type.choices) == FORMATS


@pytest.mark.parametrize("name", FORMATS)
def test_every_format_renders(name: str, result: ScanResult) -> None:
    assert renderer(name)(result, ReportOptions())


@pytest.mark.parametrize(("name", "suffix"), [
    ("csv", "csv"), ("github", "github.txt"), ("json", "json"), ("jsonl", "jsonl"),
    ("junit", "junit.xml"), ("sarif", "sarif"), ("text", "txt"),
])
def test_golden(name: str, suffix: str, result: ScanResult, render: Callable[..., str],
                golden: Callable[..., None]) -> None:
    golden(f"sample.{suffix}", render(name, result))
    golden(f"empty.{suffix}", render(name, ScanResult()))


def test_golden_files_hold_hashes_and_no_key() -> None:
    files = sorted(GOLDEN.iterdir())
    assert len(files) >= 10
    # Fingerprints and hashes depend on the generated keys: the golden files come from them.
    derived = {f.fingerprint for f in sample_result().findings}
    for path in files:
        text = path.read_text(encoding="utf-8")
        assert not re.search(KEY_SHAPE, text), path.name
        if path.name.startswith("sample."):
            assert all(d in text for d in derived), path.name


def _parse(name: str, text: str) -> int:
    """Parse a report the way its consumer would; return the number of findings in it."""
    if name == "json":
        return len(json.loads(text)["findings"])
    if name == "jsonl":
        return sum(json.loads(line)["type"] == "finding" for line in text.splitlines())
    if name == "sarif":
        return len(json.loads(text)["runs"][0]["results"])
    if name == "csv":
        return len(list(csv.DictReader(io.StringIO(text, newline=""))))
    if name == "junit":
        return len(ET.fromstring(text).findall(".//failure"))
    if name == "github":
        return sum(line.startswith(("::error file=", "::warning file=")) for line in
                   text.splitlines())
    if name == "html":
        return text.count("<tr data-severity=")
    return sum(" hesedvid-" in line for line in text.splitlines() if not line.startswith(" "))


@pytest.mark.parametrize("name", FORMATS)
def test_cli_writes_each_format(
    name: str, tmp_path: Path, key: Callable[..., str], run_hvscan: Run
) -> None:
    (tmp_path / "app.py").write_text(f'KEY = "{key("live", 1)}"\nT = "{key("test", 2)}"\n')
    proc = run_hvscan("dir", tmp_path, "--format", name)
    assert proc.returncode == 1, proc.stderr
    assert _parse(name, proc.stdout.decode()) == 2
    assert key("live", 1).encode() not in proc.stdout + proc.stderr
    out = tmp_path / "report.out"
    proc = run_hvscan("dir", tmp_path / "app.py", "--format", name, "--output", out)
    assert proc.returncode == 1
    assert _parse(name, out.read_text(encoding="utf-8")) == 2
    if name != "text":
        assert proc.stderr.decode().startswith("hvscan: scanned 1 file")


@pytest.mark.parametrize("name", [f for f in FORMATS if f != "text"])
def test_machine_formats_name_what_could_not_be_scanned_on_stderr(
    name: str, tmp_path: Path, run_hvscan: Run
) -> None:
    proc = run_hvscan("dir", tmp_path / "missing", "--format", name)
    assert proc.returncode == 2
    assert proc.stderr.decode() == (
        f"hvscan: error: {tmp_path / 'missing'}: No such file or directory\n"
    )


def test_finding_details_name_each_fact_the_finding_has_in_order(result: ScanResult) -> None:
    plain, encoded, history = result.findings[:3]
    assert list(finding_details(plain)) == ["fix", "fingerprint"]
    assert finding_details(encoded)["encoding"] == "base64"
    details = finding_details(history)
    assert list(details) == ["commit", "verification", "fix", "fingerprint"]
    assert details["commit"] == (f"{history.commit} by Zoë Example <zoe@example.com> on "
                                 "2024-05-01T12:00:00+02:00")
    verification = history.verification or {}
    assert details["verification"] == f"{verification['status']} ({verification['detail']})"
    assert (details["fix"], details["fingerprint"]) == (history.remediation, history.fingerprint)


def test_a_secret_is_shown_whole_only_when_asked_for(result: ScanResult) -> None:
    finding = result.findings[0]
    assert shown_secret(finding, ReportOptions()) == finding.secret_redacted != finding.secret
    assert shown_secret(finding, ReportOptions(show_secrets=True)) == finding.secret
