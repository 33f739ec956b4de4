"""A fixed ScanResult for report tests, shared by the fixtures and the tests that check it.

It goes through the real pipeline (engine, placeholders, findings) with keys built at run time
from fixed seeds, so hashes and fingerprints are stable while no key-shaped string is ever written
to the repository. Fields that later pipeline steps fill (verification, decoding) are set by hand
so that every report shows them, and so are what a history audit adds (the key's exposure) and
the scan record, with a fixed start time and duration. One more key is suppressed by an inline
``hvscan:allow``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from keygen import key_sha256, make_key

from hvscan import __version__, scan
from hvscan.engine import Engine
from hvscan.keys import Exposure, Introduction, Removal, ScanRecord, conclude
from hvscan.model import Finding, History, Origin
from hvscan.rules import load_builtin_rules
from hvscan.sources import Blob, Failed, Names, Skipped
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
COPY_COMMIT = "9e107d9d372bb6826bd81d3542a419d6a1b2c3d4"
REMOVAL_COMMIT = "e4d909c290d0fb1ca068ffaddf22cbd0a1b2c3d4"
HEAD_COMMIT = "a94a8fe5ccb19ba61c4c0873d391e987982fbbd3"


def sample_keys() -> dict[str, str]:
    return {
        "live": make_key("live", "report-golden-live"),
        "test": make_key("test", "report-golden-test"),
        "history": make_key("live", "report-golden-history"),
        "allowed": make_key("test", "report-golden-allowed"),
    }


def verified(finding: Finding, http_status: int, checked_at: str) -> None:
    """``finding`` as verification leaves it when the built-in rule's API answered
    ``http_status`` (org ID read next to the key)."""
    spec = load_builtin_rules()[0].verify
    assert spec is not None
    answer = classify(spec, http_status, api_answered=True)
    finding.verification = {
        "status": answer.status, "http_status": answer.http_status, "org_id": "acme-7",
        "org_id_source": "content", "checked_at": checked_at, "cached": False,
        "detail": answer.detail,
    }
    finding.severity = verified_severity(finding.severity, finding.key_type, answer.status)


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
    verified(history, 200, "2024-06-01T08:00:00Z")
    assert history.severity == "critical"
    result.findings[1].encoding = "base64"
    result.scan = ScanRecord(command="git", repository="/work/project", head=HEAD_COMMIT,
                             refs=("refs/heads/main", "refs/remotes/origin/main", "refs/tags/v1"),
                             started="2024-06-01T08:00:00Z", duration=1.25)
    result.exposure[key_sha256(keys["history"])] = Exposure(
        introductions=(
            Introduction(HISTORY_COMMIT, "deploy/old config.yml", author,
                         "2024-05-01T12:00:00+02:00", "history"),
            Introduction(COPY_COMMIT, "deploy/app.yml", author, "2024-05-03T10:00:00+02:00",
                         "history"),
        ),
        in_head=True, head_paths=("deploy/app.yml",),
        removed_in=(Removal(REMOVAL_COMMIT, "deploy/old config.yml",
                            "2024-05-04T10:00:00+02:00"),),
        refs=("refs/heads/main", "refs/remotes/origin/main", "refs/tags/v1"), pushed=True)
    conclude(result)
    return result


def name_result() -> scan.ScanResult:
    """A directory scan that found the sample live key in a file's name and in a directory's
    (``config-KEY.txt``, ``dir-KEY/``), and nothing in their content."""
    key = sample_keys()["live"]
    places = [(f"config-{key}.txt", False), (f"sub/dir-{key}", True)]
    names = Names([path.rpartition("/")[2].encode() for path, _ in places], lambda index: Blob(
        names.names[index],
        Origin("file", places[index][0] + "/" * places[index][1], in_name=True), file=False))
    result = scan.Pipeline(Engine(load_builtin_rules())).run(iter([names]))
    scan.settle(result, None, Suppressor())
    result.scan = ScanRecord(command="dir", started=SCAN_STARTED, duration=SCAN_DURATION)
    conclude(result)
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
    hostile = result.findings[4]
    verified(hostile, 401, "2024-06-02T08:00:00Z")
    assert hostile.severity == "low"
    result.scan = ScanRecord(command="git", repository=AUDIT_REPOSITORY, head=commits["head"],
                             refs=AUDIT_REFS, started=SCAN_STARTED, duration=SCAN_DURATION)
    _audit_exposure(result)
    conclude(result)
    return result


AUDIT_REFS = ("refs/heads/feature/payments", "refs/heads/main", "refs/remotes/origin/main",
              "refs/tags/v1.0")


def audit_scan() -> dict[str, Any]:
    """The sample audit's ``scan`` record as the JSON report has it."""
    return {
        "command": "git", "repository": AUDIT_REPOSITORY, "head": AUDIT_COMMITS["head"],
        "refs": list(AUDIT_REFS), "version": __version__, "started": SCAN_STARTED,
        "duration": SCAN_DURATION,
    }


def _audit_exposure(result: scan.ScanResult) -> None:
    """What attribution would know of the sample repository's history (exposure the findings
    alone cannot tell): the live key copied and still at HEAD, pushed; the test key on a feature
    branch only; the hostile key removed since, pushed."""
    sha = {name: key_sha256(key) for name, key in sample_keys().items()}
    commits = AUDIT_COMMITS

    def introductions(name: str) -> tuple[Introduction, ...]:
        return tuple(Introduction(f.commit, f.path, f.author, f.date, f.source)
                     for f in result.findings if f.secret_sha256 == sha[name])

    result.exposure[sha["live"]] = Exposure(
        introductions("live"), in_head=True, head_paths=("deploy/app.env",),
        removed_in=(Removal(commits["remove-config"], "config/settings.py",
                            "2024-04-20T09:00:00+02:00"),),
        refs=("refs/heads/main", "refs/remotes/origin/main", "refs/tags/v1.0"), pushed=True)
    result.exposure[sha["test"]] = Exposure(
        introductions("test"), in_head=False, refs=("refs/heads/feature/payments",),
        pushed=False)
    result.exposure[sha["history"]] = Exposure(
        introductions("history"), in_head=False,
        removed_in=(Removal(commits["head"], HOSTILE_PATH, "2024-07-01T08:00:00Z"),),
        refs=("refs/heads/main", "refs/remotes/origin/main"), pushed=True)


def sample_audit(show_secrets: bool = False) -> dict[str, Any]:
    """The JSON report of the sample audit as the contract has it: ``report_dict`` of
    ``audit_result`` (as reports see it: escaped and redacted) with its ``scan`` record and
    ``keys`` list."""
    from hvscan.report import ReportOptions
    from hvscan.report.json_format import report_dict
    from hvscan.shown import reported

    return report_dict(reported(audit_result(), show_secrets),
                       ReportOptions(show_secrets=show_secrets))
