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
