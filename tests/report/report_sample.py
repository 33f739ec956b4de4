"""A fixed ScanResult for report tests, shared by the fixtures and the tests that check it.

It goes through the real pipeline (engine, placeholders, findings) with keys built at run time
from fixed seeds, so hashes and fingerprints are stable while no key-shaped string is ever written
to the repository. Fields that later pipeline steps fill (verification, decoding) are set by hand
so that every report shows them. One more key is suppressed by an inline ``hvscan:allow``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from keygen import key_sha256, make_key

from hvscan import __version__, scan
from hvscan.engine import Engine
from hvscan.model import History, Origin
from hvscan.rules import load_builtin_rules
from hvscan.sources import Blob, Failed, Skipped
from hvscan.suppress import InlineAllow, Suppressor
from hvscan.verify.policy import classify, verified_severity

KEY_SHAPE = r"hv_(live|test)_[A-Za-z0-9]{32}"
# The expected reports of sample_result() (and of an empty result), one file per format.
GOLDEN = Path(__file__).parent / "golden"
# Names that need quoting or escaping in every format: comma, quotes, XML specials, "%", "::",
# a line break and non-ASCII.
AWKWARD_PATH = 'odd dir/new\nline,"quoted" <&> 100%::name ü.env'
# How every format shows it (hvscan/shown.py): the line break escaped, the rest as it is.
AWKWARD_SHOWN = AWKWARD_PATH.replace("\n", "\\x0a")
HISTORY_COMMIT = "5d41402abc4b2a76b9719d911017c592a1b2c3d4"
MESSAGE_COMMIT = "7b502c3a1f48c8609ae212cdfb639dee39673f5e"


def sample_keys() -> dict[str, str]:
    return {
        "live": make_key("live", "report-golden-live"),
        "test": make_key("test", "report-golden-test"),
        "history": make_key("live", "report-golden-history"),
        "allowed": make_key("test", "report-golden-allowed"),
    }


def sample_result() -> scan.ScanResult:
    keys = sample_keys()
    placeholder = "hv_" + "live_" + "X" * 32
    author = "Zoë Example <zoe@example.com>"
    events = [
        Blob(
            f'API_KEY = "{keys["live"]}"\n# docs: {placeholder}\n'.encode(),
            Origin(source="file", path="src/settings.py"),
        ),
        Blob(f"\ttoken: {keys['test']}\n".encode(), Origin(source="file", path=AWKWARD_PATH)),
        Blob(
            f"deploy:\n  key: {keys['history']}\n".encode(),
            Origin(source="history", path="deploy/old config.yml", commit=HISTORY_COMMIT,
                   author=author, date="2024-05-01T12:00:00+02:00"),
        ),
        Blob(
            f"Add deploy script\n\nuse {keys['test']} for now\n".encode(),
            Origin(source="commit-message", path=None, commit=MESSAGE_COMMIT, author=author,
                   date="2024-05-02T09:30:00+02:00"),
        ),
        Blob(
            f'LEGACY = "{keys["allowed"]}"  # hvscan:allow revoked in 2024\n'.encode(),
            Origin(source="file", path="tests/fixtures/legacy.py"),
        ),
        Skipped("assets/intro.mp4", "larger than --max-file-size (209715200 > 104857600 bytes)"),
        Failed("private/keys.txt", "Permission denied"),
    ]
    result = scan.Pipeline(Engine(load_builtin_rules(), allow_marker=InlineAllow)).run(iter(events))
    scan.settle(result, None, Suppressor())
    assert [f.suppression for f in result.suppressed] == ["inline"]
    assert [f.source for f in result.findings] == ["file", "file", "history", "commit-message"]
    assert result.stats.placeholders_ignored == 1
    history = result.findings[2]
    spec = load_builtin_rules()[0].verify
    assert spec is not None
    answer = classify(spec, 200, api_answered=True)
    history.verification = {
        "status": answer.status, "http_status": answer.http_status, "org_id": "acme-7",
        "org_id_source": "content", "checked_at": "2024-06-01T08:00:00Z", "cached": False,
        "detail": answer.detail,
    }
    history.severity = verified_severity(history.severity, history.key_type, answer.status)
    assert history.severity == "critical"
    result.findings[1].encoding = "base64"
    return result


# The sample history audit (``sample_audit``): a repository whose history holds three keys.
AUDIT_AUTHOR = "Zoë Example <zoe@example.com>"
# Names from a hostile repository: markup, a script end tag, a quote and an ampersand.
HOSTILE_PATH = "<img src=x onerror=alert(1)></script>&\"x\".env"
HOSTILE_AUTHOR = "</script><script>alert(2)</script> <evil@example.com>"
AUDIT_COMMITS = {
    name: hashlib.sha1(name.encode()).hexdigest()
    for name in ("add-config", "copy-to-deploy", "remove-config", "feature", "message",
                 "hostile", "head")
}
AUDIT_REPOSITORY = "/srv/audit/shop"
SCAN_STARTED = "2026-12-06T06:00:00Z"
SCAN_DURATION = 1.234


def audit_result() -> scan.ScanResult:
    """The findings of a history audit of a small repository, through the real pipeline:
    a live key added to config/settings.py, copied to deploy/app.env and still there at HEAD
    (pushed); a test key on a feature branch only, also in a commit message; and a live key at a
    hostile path by a hostile author, removed since and verified invalid."""
    keys = sample_keys()
    commits = AUDIT_COMMITS

    def history(path: str, commit: str, date: str, key: str, author: str = AUDIT_AUTHOR) -> Blob:
        blob = hashlib.sha1(f"{commit}:{path}".encode()).hexdigest()
        return Blob(f"API_KEY={key}\n".encode(), Origin(
            source="history", path=path, commit=commits[commit], author=author, date=date,
            history=History(blob=blob, other_commits=0, other_paths=0)))

    events = [
        history("config/settings.py", "add-config", "2024-03-01T10:00:00+01:00", keys["live"]),
        history("deploy/app.env", "copy-to-deploy", "2024-04-12T16:20:00+02:00", keys["live"]),
        history("feature/payments.py", "feature", "2024-05-01T12:00:00+02:00", keys["test"]),
        Blob(f"Try payments\n\nkey {keys['test']}\n".encode(), Origin(
            source="commit-message", path=None, commit=commits["message"], author=AUDIT_AUTHOR,
            date="2024-05-02T09:30:00+02:00")),
        history(HOSTILE_PATH, "hostile", "2024-06-01T08:00:00Z", keys["history"],
                author=HOSTILE_AUTHOR),
    ]
    engine = Engine(load_builtin_rules(), allow_marker=InlineAllow)
    result = scan.Pipeline(engine).run(iter(events))
    result.engine = engine  # as the runner does: reports redact keys in names with it
    scan.settle(result, None, Suppressor())
    spec = load_builtin_rules()[0].verify
    assert spec is not None
    answer = classify(spec, 401, api_answered=True)
    hostile = result.findings[4]
    hostile.verification = {
        "status": answer.status, "http_status": answer.http_status, "org_id": "acme-7",
        "org_id_source": "content", "checked_at": "2024-06-02T08:00:00Z", "cached": False,
        "detail": answer.detail,
    }
    hostile.severity = verified_severity(hostile.severity, hostile.key_type, answer.status)
    assert hostile.severity == "low"
    return result


def audit_scan() -> dict[str, Any]:
    """The sample audit's ``scan`` record (CONTRACT: repository, HEAD, refs, version, time)."""
    return {
        "command": "git", "repository": AUDIT_REPOSITORY, "head": AUDIT_COMMITS["head"],
        "refs": ["refs/heads/feature/payments", "refs/heads/main", "refs/remotes/origin/main",
                 "refs/tags/v1.0"],
        "version": __version__, "started": SCAN_STARTED, "duration": SCAN_DURATION,
    }


def audit_keys(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sample audit's ``keys`` list, in the contract's shape and order, written out by hand
    from what the repository's history holds (exposure the findings alone cannot tell)."""
    by_sha = {f["secret_sha256"]: f for f in reversed(findings)}
    sha = {name: key_sha256(key) for name, key in sample_keys().items()}
    commits = AUDIT_COMMITS

    def introduction(finding: dict[str, Any], unreachable: bool = False) -> dict[str, Any]:
        return {"commit": finding["commit"], "path": finding["path"],
                "author": finding["author"], "date": finding["date"],
                "source": finding["source"], "unreachable": unreachable}

    def key(name: str, introductions: list[dict[str, Any]], **exposure: Any) -> dict[str, Any]:
        finding = by_sha[sha[name]]
        first = introductions[0]
        return {
            "secret_sha256": sha[name], "rule_id": finding["rule_id"],
            "key_type": finding["key_type"], "severity": finding["severity"],
            "secret_redacted": finding["secret_redacted"],
            "verification": finding["verification"],
            "findings": sum(f["secret_sha256"] == sha[name] for f in findings),
            "first": {field: first[field] for field in ("commit", "path", "author", "date")},
            "introductions": introductions, **exposure,
            "remediation": finding["remediation"],
        }

    live, _copy, feature, message, hostile = findings
    return [
        key("live", [introduction(live), introduction(_copy)], in_head=True,
            head_paths=["deploy/app.env"],
            removed_in=[{"commit": commits["remove-config"], "path": "config/settings.py",
                         "date": "2024-04-20T09:00:00+02:00"}],
            refs=["refs/heads/main", "refs/remotes/origin/main", "refs/tags/v1.0"], pushed=True),
        key("test", [introduction(feature), introduction(message)], in_head=False,
            head_paths=[], removed_in=[], refs=["refs/heads/feature/payments"], pushed=False),
        key("history", [introduction(hostile)], in_head=False, head_paths=[],
            removed_in=[{"commit": commits["head"], "path": hostile["path"],
                         "date": "2024-07-01T08:00:00Z"}],
            refs=["refs/heads/main", "refs/remotes/origin/main"], pushed=True),
    ]


def sample_audit(show_secrets: bool = False) -> dict[str, Any]:
    """The JSON report of the sample audit as the contract has it: ``report_dict`` of
    ``audit_result`` (as reports see it: escaped and redacted) with its ``scan`` record and
    ``keys`` list."""
    from hvscan.report import ReportOptions
    from hvscan.report.json_format import report_dict
    from hvscan.shown import reported

    report = report_dict(reported(audit_result(), show_secrets),
                         ReportOptions(show_secrets=show_secrets))
    report["scan"] = audit_scan()
    report["keys"] = audit_keys(report["findings"])
    return report
