"""The SARIF report: golden file, the 2.1.0 schema, and what GitHub code scanning requires."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import jsonschema
import pytest
from report_sample import AWKWARD_SHOWN, HEAD_COMMIT, HISTORY_COMMIT, MESSAGE_COMMIT, name_result

from hvscan.report import ReportOptions
from hvscan.report.json_format import report_dict
from hvscan.rules import load_builtin_rules
from hvscan.scan import ScanResult
from hvscan.shown import reported

SCHEMA = Path(__file__).parents[1] / "data" / "sarif-schema-2.1.0.json"
# The shared copy CI keeps beside the clone; the repository's copy must be the same schema.
SHARED_SCHEMA = Path(__file__).parents[3] / "shared" / "schemas" / "sarif-schema-2.1.0.json"
# RFC 3986 relative-path reference: unreserved, sub-delims, "/", "@", ":" and %XX only.
URI_REFERENCE = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=/@:]|%[0-9A-F]{2})+")


def _sarif(render: Callable[..., str], result: ScanResult, **options: bool) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(render("sarif", result, **options))
    return data


def _validate(document: dict[str, Any]) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


@pytest.mark.parametrize("show_secrets", [False, True])
def test_valid_against_the_schema(
    result: ScanResult, render: Callable[..., str], show_secrets: bool
) -> None:
    _validate(_sarif(render, result, show_secrets=show_secrets))
    _validate(_sarif(render, ScanResult()))


def test_the_schema_validator_rejects_a_broken_document(
    result: ScanResult, render: Callable[..., str]
) -> None:
    document = _sarif(render, result)
    document["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(AssertionError, match="level"):
        _validate(document)


@pytest.mark.skipif(not SHARED_SCHEMA.is_file(), reason="no shared/ checkout beside the repo")
def test_the_schema_copy_is_the_shared_one() -> None:
    assert SCHEMA.read_bytes() == SHARED_SCHEMA.read_bytes()


def test_rules_carry_what_github_shows(result: ScanResult, render: Callable[..., str]) -> None:
    driver = _sarif(render, result)["runs"][0]["tool"]["driver"]
    assert driver["name"] == "hvscan"
    rules = {rule["id"]: rule for rule in driver["rules"]}
    assert list(rules) == ["hesedvid-live-key", "hesedvid-test-key"]
    live = rules["hesedvid-live-key"]
    assert live["shortDescription"]["text"] == "HesedVid live (production) API key"
    assert live["fullDescription"]["text"]
    assert "Revoke the key" in live["help"]["text"]
    assert "Revoke the key" in live["help"]["markdown"]
    assert "security" in live["properties"]["tags"]
    # One live key was verified live (critical): the rule takes its highest severity.
    assert live["properties"]["security-severity"] == "9.5"
    assert live["defaultConfiguration"]["level"] == "error"
    test = rules["hesedvid-test-key"]
    assert 4.0 <= float(test["properties"]["security-severity"]) < 7.0  # GitHub's "medium"
    assert test["defaultConfiguration"]["level"] == "warning"


def test_results(result: ScanResult, render: Callable[..., str]) -> None:
    run = _sarif(render, result)["runs"][0]
    results = run["results"]
    rule_ids = [rule["id"] for rule in run["tool"]["driver"]["rules"]]
    assert [r["level"] for r in results] == ["error", "warning", "error", "warning"]
    for found, finding in zip(results, result.findings, strict=True):
        assert rule_ids[found["ruleIndex"]] == found["ruleId"] == finding.rule_id
        assert found["partialFingerprints"] == {
            "hvscanFingerprint/v1": finding.fingerprint,
            "secretSha256/v1": finding.secret_sha256,
        }
        assert finding.secret_redacted in found["message"]["text"]
        location = found["locations"][0]["physicalLocation"]
        assert location["artifactLocation"]["uriBaseId"] == "%SRCROOT%"
        assert URI_REFERENCE.fullmatch(location["artifactLocation"]["uri"])
        assert location["region"] == {"startLine": finding.line, "startColumn": finding.column}
    assert "%SRCROOT%" in run["originalUriBaseIds"]


def test_uris_are_relative_and_percent_encoded(
    result: ScanResult, render: Callable[..., str]
) -> None:
    results = _sarif(render, result)["runs"][0]["results"]
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results]
    assert uris[0] == "src/settings.py"
    assert unquote(uris[1]) == AWKWARD_SHOWN
    assert uris[2] == "deploy/old%20config.yml"


def test_history_findings_carry_commit_properties(
    result: ScanResult, render: Callable[..., str]
) -> None:
    found = _sarif(render, result)["runs"][0]["results"][2]
    assert found["properties"] == {
        "key_type": "live",
        "severity": "critical",
        "source": "history",
        "encoding": "plain",
        "secret_redacted": result.findings[2].secret_redacted,
        "secret_sha256": result.findings[2].secret_sha256,
        "fingerprint": result.findings[2].fingerprint,
        "commit": HISTORY_COMMIT,
        "author": "Zoë Example <zoe@example.com>",
        "date": "2024-05-01T12:00:00+02:00",
        "verification": result.findings[2].verification,
        "remediation": result.findings[2].remediation,
        "key": report_dict(reported(result), ReportOptions())["keys"][0],
    }
    assert HISTORY_COMMIT in found["message"]["text"]


def test_each_result_carries_its_key_and_the_run_the_scan_record(
    result: ScanResult, render: Callable[..., str]
) -> None:
    run = _sarif(render, result)["runs"][0]
    report = report_dict(reported(result), ReportOptions())
    keys = {key["secret_sha256"]: key for key in report["keys"]}
    for found in run["results"]:
        assert found["properties"]["key"] == keys[found["partialFingerprints"]["secretSha256/v1"]]
    assert run["properties"] == {"scan": report["scan"]}
    assert run["properties"]["scan"]["head"] == HEAD_COMMIT
    # The rule's help keeps the rule's own text; each result has the one refined for it.
    [rule] = [r for r in run["tool"]["driver"]["rules"] if r["id"] == "hesedvid-live-key"]
    assert rule["help"]["text"] == f"Remediation: {load_builtin_rules()[0].remediation}"
    assert "hvscan purge-plan" in run["results"][2]["properties"]["remediation"]


def test_message_findings_get_a_commit_location(
    result: ScanResult, render: Callable[..., str]
) -> None:
    location = _sarif(render, result)["runs"][0]["results"][3]["locations"][0]
    assert location["physicalLocation"]["artifactLocation"] == {
        "uri": f"commit-message/{MESSAGE_COMMIT}", "uriBaseId": "%SRCROOT%"}
    assert location["physicalLocation"]["region"] == {"startLine": 3, "startColumn": 5}
    assert location["message"]["text"] == f"commit message of commit {MESSAGE_COMMIT}"


def test_errors_make_the_invocation_unsuccessful(
    result: ScanResult, render: Callable[..., str]
) -> None:
    invocation = _sarif(render, result)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert [(n["level"], n["message"]["text"]) for n in
            invocation["toolExecutionNotifications"]] == [
        ("error", "could not scan private/keys.txt: Permission denied"),
        ("note", "skipped assets/intro.mp4: larger than --max-file-size "
                 "(209715200 > 104857600 bytes)"),
    ]
    clean = _sarif(render, ScanResult())["runs"][0]["invocations"][0]
    assert clean["executionSuccessful"] is True


def test_secrets_only_with_show_secrets(
    result: ScanResult, keys: dict[str, str], render: Callable[..., str]
) -> None:
    assert not any(key in render("sarif", result) for key in keys.values())
    shown = _sarif(render, result, show_secrets=True)["runs"][0]["results"][0]
    assert keys["live"] in shown["message"]["text"]
    assert shown["properties"]["secret"] == keys["live"]
    assert keys["live"] not in json.dumps(shown["partialFingerprints"])


def test_suppressed_findings_are_accepted_suppressions_with_show_suppressed(
    result: ScanResult, render: Callable[..., str]
) -> None:
    assert len(_sarif(render, result)["runs"][0]["results"]) == 4
    document = _sarif(render, result, show_suppressed=True)
    _validate(document)
    results = document["runs"][0]["results"]
    assert len(results) == 5
    assert all("suppressions" not in r for r in results[:4])
    assert results[4]["suppressions"] == [{
        "kind": "inSource", "status": "accepted", "justification": "suppressed by hvscan (inline)",
    }]
    result.suppressed[0].suppression = "baseline"
    found = _sarif(render, result, show_suppressed=True)["runs"][0]["results"][4]
    assert found["suppressions"][0]["kind"] == "external"


def test_a_key_in_a_name_is_at_the_path_with_no_region(render: Callable[..., str]) -> None:
    document = _sarif(render, name_result())
    _validate(document)
    results = document["runs"][0]["results"]
    assert len(results) == 2
    for found in results:
        location = found["locations"][0]
        assert "region" not in location["physicalLocation"]
        assert URI_REFERENCE.fullmatch(location["physicalLocation"]["artifactLocation"]["uri"])
        assert "in the name" in location["message"]["text"]
        assert "in the name" in found["message"]["text"]
        assert found["properties"]["in_name"] is True
    uris = [unquote(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
            for r in results]
    assert uris[0].startswith("config-hv_live_") and uris[1].endswith("/")
