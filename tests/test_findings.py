"""Findings: redaction, hashing and fingerprints."""

from __future__ import annotations

import hashlib

from keygen import make_key

from hvscan.engine import Engine
from hvscan.findings import fingerprint, make_finding, redact
from hvscan.model import Origin
from hvscan.rules import load_builtin_rules


def test_redaction_keeps_prefix_first_and_last_four() -> None:
    key = make_key("live", 1)
    body = key[-32:]
    assert redact(key, body) == f"{key[:-32]}{body[:4]}...{body[-4:]}"


def test_short_body_is_fully_masked() -> None:
    assert redact("p_abcdef", "abcdef") == "p_******"


def test_finding_fields() -> None:
    key = make_key("test", 2)
    (match,) = Engine(load_builtin_rules()).scan(f"\n  {key}".encode())
    finding = make_finding(match, Origin(source="file", path="src/app.py"))
    assert finding.rule_id == "hesedvid-test-key"
    assert finding.key_type == "test"
    assert finding.severity == "medium"
    assert (finding.path, finding.line, finding.column) == ("src/app.py", 2, 3)
    assert finding.secret_sha256 == hashlib.sha256(key.encode()).hexdigest()
    assert key not in finding.secret_redacted
    assert finding.verification is None
    assert finding.encoding == "plain"


def test_fingerprint_ignores_line_and_depends_on_rule_path_and_key() -> None:
    h = hashlib.sha256(b"k").hexdigest()
    assert fingerprint("r", "a/b.py", h) == fingerprint("r", "a/b.py", h)
    assert fingerprint("r", "a/b.py", h) != fingerprint("r", "a/c.py", h)
    assert fingerprint("r", "a/b.py", h) != fingerprint("q", "a/b.py", h)
    # A fixed value: fingerprints must not change between runs, machines or versions.
    assert fingerprint("r", "a/b.py", h) == hashlib.sha256(
        b"r\0a/b.py\0" + h.encode()
    ).hexdigest()[:32]


def test_a_key_in_a_name_has_a_fingerprint_of_its_own() -> None:
    key = make_key("live", 61)
    (match,) = Engine(load_builtin_rules()).scan(f"k-{key}".encode())
    content = make_finding(match, Origin("file", "a.txt"))
    name = make_finding(match, Origin("file", "a.txt", in_name=True))
    assert (content.in_name, name.in_name) == (False, True)
    assert name.fingerprint != content.fingerprint
    # A content finding's fingerprint is what it always was.
    assert content.fingerprint == fingerprint(match.rule.id, "a.txt", content.secret_sha256)
