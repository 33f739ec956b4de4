"""Rule files: the shipped rules load and validate; bad files get a clear error."""

from __future__ import annotations

from pathlib import Path

import pytest

from hvscan.rules import (
    RuleError,
    builtin_rule_files,
    load_builtin_rules,
    load_rule_file,
    load_rule_files,
    load_rules,
    severity_rank,
)

ACME_REGEX = "acme_(?P<body>[a-z0-9]{20})"
GOOD = f'''
[[rules]]
id = "acme-token"
description = "Acme token"
regex = '{ACME_REGEX}'
keywords = ["acme_"]
key_type = "token"
severity = "low"
remediation = "Rotate it."
'''


def test_builtin_rules_are_found_and_valid() -> None:
    rules = load_builtin_rules()
    assert {r.id for r in rules} == {"hesedvid-live-key", "hesedvid-test-key"}
    # The shipped files pass the full validation a user file gets.
    strict = load_rule_files(builtin_rule_files())
    assert strict == rules
    by_id = {r.id: r for r in rules}
    live, test = by_id["hesedvid-live-key"], by_id["hesedvid-test-key"]
    assert severity_rank(live.severity) > severity_rank(test.severity)
    for rule in rules:
        assert "Settings -> API Keys" in rule.remediation
        assert "history" in rule.remediation
        assert rule.allow_patterns and rule.placeholder_checks


def test_user_rule_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "acme.toml"
    path.write_text(GOOD)
    (rule,) = load_rule_file(path)
    assert rule.id == "acme-token"
    assert rule.keywords == (b"acme_",)
    assert rule.regex.search(b"x acme_0123456789abcdefghij")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.replace('severity = "low"', 'severity = "urgent"'), "field 'severity'"),
        (lambda s: s.replace('keywords = ["acme_"]', "keywords = []"), "field 'keywords'"),
        (lambda s: s.replace("regex = 'acme_", "regex = '(acme_"), "field 'regex'"),
        (lambda s: s.replace('key_type = "token"\n', ""), "missing field 'key_type'"),
        (lambda s: s + 'colour = "red"\n', "unknown field 'colour'"),
        (lambda s: s + "[rules.allowlist]\nchecks = ['nope']\n", "unknown check 'nope'"),
        (lambda s: s + "[rules.allowlist]\nregexes = ['(']\n", "'allowlist.regexes'"),
        (lambda s: s.replace("[[rules]]", "[[rule]]"), "unknown top-level key 'rule'"),
        *((lambda s, r=r: s.replace(ACME_REGEX, r), "field 'regex' matches the empty string")
          for r in ("a*", "(acme_[a-z0-9]{20})?", "(?=acme_)", r"\b", "(?<=acme_)")),
        (lambda s: s + "[[rules", "invalid TOML"),
    ],
)
def test_bad_rule_files_name_the_file_and_the_field(
    tmp_path: Path, change: object, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(change(GOOD))  # type: ignore[operator]
    with pytest.raises(RuleError) as info:
        load_rule_file(path)
    assert str(path) in str(info.value)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


VERIFY = """
[rules.verify]
method = "HEAD"
path = "/v1/tokens/{org_id}"
org_id_placeholder = "none-known"
key_header = "X-Acme-Token"
answer_headers = ["X-Acme-Id"]

[rules.verify.live]
200 = "valid"

[rules.verify.invalid]
401 = "rejected"

[rules.verify.rate_limit]
status = 429
remaining_header = "X-Left"
reset_header = "X-Reset"
"""


def test_builtin_rules_say_what_the_vendor_documents() -> None:
    # The vendor's API key page: the key in X-Api-Key; 401 a missing or invalid key, 403 a
    # valid key without permission, 429 rate limited; X-RateLimit-* on its responses.
    for rule in load_builtin_rules():
        spec = rule.verify
        assert spec is not None
        assert (spec.method, spec.path, spec.key_header) == (
            "HEAD", "/v1/api/{org_id}/environments", "X-Api-Key")
        assert spec.meaning(200) == ("live", "the key is valid")
        assert spec.meaning(403) is not None and spec.meaning(403)[0] == "live"  # type: ignore[index]
        assert spec.meaning(401) == ("invalid", "the API rejects the key")
        assert spec.meaning(500) is None and spec.meaning(429) is None
        assert spec.rate_limited_status == 429
        assert spec.answer_headers == (
            "X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")
        assert (spec.remaining_header, spec.reset_header) == (
            "X-RateLimit-Remaining", "X-RateLimit-Reset")


def test_a_user_rule_may_say_how_to_verify(tmp_path: Path) -> None:
    path = tmp_path / "acme.toml"
    path.write_text(GOOD + VERIFY)
    (rule,) = load_rule_file(path)
    assert rule.verify is not None
    assert (rule.verify.path, rule.verify.org_id_placeholder) == ("/v1/tokens/{org_id}",
                                                                   "none-known")
    assert rule.verify.meaning(401) == ("invalid", "rejected")
    path.write_text(GOOD)
    assert load_rule_file(path)[0].verify is None


@pytest.mark.parametrize(("change", "message"), [
    # A rule file names a path below the operator's API base, never where keys go.
    *((lambda s, p=p: s.replace('"/v1/tokens/{org_id}"', f'"{p}"'),
       "field 'verify.path' must be a path below the API base")
      for p in ("https://collector.example/v1", "http://127.0.0.1:9/v1", "//collector.example/v1",
                "collector.example/v1", "/v1/http://collector.example")),
    *((lambda s, p=p: s.replace('"/v1/tokens/{org_id}"', f'"{p}"'),
       "field 'verify.path' has a bad segment")
      for p in ("/v1/../../x", "/v1/./x", "/v1?to=collector.example", "/v1#x", "/v1/{key}",
                "/v1\\\\collector.example")),
    (lambda s: s.replace('method = "HEAD"', 'method = "DELETE"'),
     "field 'verify.method' is 'DELETE'; allowed: HEAD, GET"),
    (lambda s: s.replace('"X-Acme-Token"', '"Host"'), "routes the request"),
    (lambda s: s.replace('"X-Acme-Token"', '"Proxy-Authorization"'), "routes the request"),
    (lambda s: s.replace('"X-Acme-Token"', '"X Acme"'), "field 'verify.key_header'"),
    (lambda s: s.replace('org_id_placeholder = "none-known"\n', ""),
     "missing field 'verify.org_id_placeholder'"),
    (lambda s: s.replace('"none-known"', '"a/b"'), "'verify.org_id_placeholder' is not an org ID"),
    (lambda s: s.replace('401 = "rejected"', '200 = "rejected"'),
     "HTTP 200 is in both 'verify.live' and 'verify.invalid'"),
    *((lambda s, c=c: s.replace('401 = "rejected"', f'"{c}" = "no"'),
       "not an HTTP status of an answer")
      for c in ("302", "99", "1000", "4O1", "\u00b2\u00b2\u00b2")),
    (lambda s: s.replace('401 = "rejected"', '401 = ""'), "field 'verify.invalid.401'"),
    (lambda s: s.replace("status = 429", "status = 401"),
     "HTTP 401 is both 'verify.rate_limit.status'"),
    (lambda s: s.replace("status = 429", 'status = "429"'), "'verify.rate_limit.status'"),
    (lambda s: s.replace('reset_header = "X-Reset"\n', ""),
     "missing field 'verify.rate_limit.reset_header'"),
    (lambda s: s.replace('key_header = "X-Acme-Token"\n', ""), "missing field 'verify.key_header'"),
    (lambda s: s + 'url = "https://collector.example"\n', "unknown field 'verify.rate_limit.url'"),
    (lambda s: s.replace("[rules.verify]\n", "[rules.verify]\nhost = 'collector.example'\n"),
     "unknown field 'verify.host'"),
    (lambda s: s.replace('["X-Acme-Id"]', '"X-Acme-Id"'), "'verify.answer_headers'"),
])
def test_bad_verify_tables_name_the_file_and_the_field(
    tmp_path: Path, change: object, message: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(change(GOOD + VERIFY))  # type: ignore[operator]
    with pytest.raises(RuleError) as info:
        load_rule_file(path)
    assert str(info.value).startswith(f"{path}: rule 'acme-token': ")
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_missing_rule_file(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="cannot read rule file"):
        load_rule_file(tmp_path / "nope.toml")


def test_duplicate_rule_id_across_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text(GOOD)
    b.write_text(GOOD)
    with pytest.raises(RuleError, match="already defined"):
        load_rule_files([a, b])


def test_a_user_rule_may_not_reuse_a_builtin_id(tmp_path: Path) -> None:
    # Its findings would carry the built-in rule's id, severity and remediation in reports.
    path = tmp_path / "mine.toml"
    path.write_text(GOOD.replace("acme-token", "hesedvid-live-key"))
    with pytest.raises(RuleError) as info:
        load_rules([path])
    message = str(info.value)
    assert message.startswith(f"{path}: rule 'hesedvid-live-key': field 'id' ")
    assert "built-in rule file" in message and "\n" not in message


def test_load_rules_adds_user_rules_to_the_builtin_ones(tmp_path: Path) -> None:
    path = tmp_path / "acme.toml"
    path.write_text(GOOD)
    assert [r.id for r in load_rules([path])] == [
        *(r.id for r in load_builtin_rules()), "acme-token"]
