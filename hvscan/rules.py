"""Rules as data: load and validate rule files (``rules/*.toml`` and ``--rules FILE``).

A rule file is TOML with a ``[[rules]]`` array; built-in and user rules share one schema
(documented at the top of ``rules/hesedvid.toml``). Regexes are compiled lazily: a scan whose
prefilter never fires never imports the ``regex`` package, which keeps the hook's start-up fast.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Any, AnyStr, NamedTuple

if TYPE_CHECKING:
    from regex import Pattern

    from hvscan.committed import CommittedFile

# Paths here are plain strings or os.PathLike: a scan needs no pathlib (a few ms of start-up).
StrPath = str | os.PathLike[str]

SEVERITIES = ("info", "low", "medium", "high", "critical")
PLACEHOLDER_CHECKS = (
    "repeated-character",
    "short-period",
    "sequential",
    "single-case-letters",
    "camel-case-words",
)


class RuleError(Exception):
    """A rule file is missing, unreadable or does not follow the schema."""


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


class Rule(NamedTuple):
    id: str
    description: str
    pattern: str
    keywords: tuple[bytes, ...]
    key_type: str
    severity: str
    remediation: str
    allow_patterns: tuple[str, ...] = ()
    placeholder_checks: tuple[str, ...] = ()
    origin: str = ""

    @property
    def regex(self) -> Pattern[bytes]:
        return _compiled(self.pattern.encode())

    @property
    def allow_regexes(self) -> tuple[Pattern[str], ...]:
        return tuple(_compiled(p) for p in self.allow_patterns)


@cache
def _compiled(pattern: AnyStr) -> Pattern[AnyStr]:
    """Patterns are compiled on first use, once per run: a run whose prefilter never fires
    never imports the regex package."""
    import regex

    return regex.compile(pattern)


def builtin_rules_dir() -> str:
    """The shipped rules: inside the wheel as ``hvscan/_rules``, in a checkout as ``rules/``."""
    package_dir = os.path.dirname(os.path.realpath(__file__))
    shipped = os.path.join(package_dir, "_rules")
    return shipped if os.path.isdir(shipped) else os.path.join(os.path.dirname(package_dir),
                                                               "rules")


def builtin_rule_files() -> list[str]:
    directory = builtin_rules_dir()
    try:
        names = os.listdir(directory)
    except OSError:
        names = []
    return sorted(os.path.join(directory, name) for name in names if name.endswith(".toml"))


def load_builtin_rules() -> list[Rule]:
    files = builtin_rule_files()
    if not files:
        raise RuleError(f"no built-in rule files found in {builtin_rules_dir()}")
    # Shipped rules are validated by the test suite; skipping the regex check here keeps the
    # common run from importing the regex package before the prefilter has fired.
    return load_rule_files(files, check_regexes=False)


def load_rules(rule_files: Sequence[StrPath | CommittedFile]) -> list[Rule]:
    """The built-in rules and the rules of the user's ``--rules`` files, which may not reuse a
    built-in id: their findings would pass for the built-in rule's."""
    return load_rule_files(rule_files, known=load_builtin_rules())


def load_rule_files(paths: Sequence[StrPath | CommittedFile], *, check_regexes: bool = True,
                    known: Sequence[Rule] = ()) -> list[Rule]:
    """``known`` followed by the rules of ``paths``; an id may be defined only once."""
    rules = list(known)
    seen = {rule.id: f"the built-in rule file {rule.origin}" for rule in known}
    for path in paths:
        for rule in load_rule_file(path, check_regexes=check_regexes):
            if rule.id in seen:
                raise RuleError(f"{path}: rule {rule.id!r}: field 'id' is already defined in "
                                f"{seen[rule.id]}")
            seen[rule.id] = str(path)
            rules.append(rule)
    return rules


def load_rule_file(path: StrPath | CommittedFile, *, check_regexes: bool = True) -> list[Rule]:
    from hvscan.committed import read_bytes

    try:
        data = tomllib.loads(read_bytes(path).decode("utf-8"))
    except OSError as exc:
        raise RuleError(f"{path}: cannot read rule file: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise RuleError(f"{path}: rule file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise RuleError(f"{path}: invalid TOML: {exc}") from None
    except RecursionError:
        raise RuleError(f"{path}: not a rule file (nested too deeply)") from None
    unknown = set(data) - {"rules"}
    if unknown:
        raise RuleError(f"{path}: unknown top-level key {sorted(unknown)[0]!r} (expected 'rules')")
    entries = data.get("rules")
    if not isinstance(entries, list) or not entries:
        raise RuleError(f"{path}: field 'rules' must be a non-empty array of tables ([[rules]])")
    return [_parse_rule(path, i, entry, check_regexes) for i, entry in enumerate(entries)]


_REQUIRED = ("id", "description", "regex", "keywords", "key_type", "severity", "remediation")
_OPTIONAL = ("allowlist",)


def _parse_rule(path: StrPath | CommittedFile, index: int, entry: Any,
                check_regexes: bool) -> Rule:
    where = f"{path}: rules[{index}]"
    if not isinstance(entry, dict):
        raise RuleError(f"{where}: must be a table")
    if isinstance(entry.get("id"), str):
        where = f"{path}: rule {entry['id']!r}"
    for key in entry:
        if key not in _REQUIRED + _OPTIONAL:
            raise RuleError(f"{where}: unknown field {key!r}")
    for key in _REQUIRED:
        if key not in entry:
            raise RuleError(f"{where}: missing field {key!r}")
    for key in ("id", "description", "regex", "key_type", "severity", "remediation"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise RuleError(f"{where}: field {key!r} must be a non-empty string")
    if entry["severity"] not in SEVERITIES:
        raise RuleError(
            f"{where}: field 'severity' is {entry['severity']!r}; "
            f"allowed: {', '.join(SEVERITIES)}"
        )
    keywords = entry["keywords"]
    if (
        not isinstance(keywords, list)
        or not keywords
        or not all(isinstance(k, str) and k for k in keywords)
    ):
        raise RuleError(f"{where}: field 'keywords' must be a non-empty list of non-empty strings")
    allow_patterns, checks = _parse_allowlist(where, entry.get("allowlist", {}))
    if check_regexes:
        _check_regex(where, "regex", entry["regex"])
        _check_nonempty_matches(where, entry["regex"], keywords)
        for pattern in allow_patterns:
            _check_regex(where, "allowlist.regexes", pattern)
    return Rule(
        id=entry["id"],
        description=entry["description"],
        pattern=entry["regex"],
        keywords=tuple(k.encode() for k in keywords),
        key_type=entry["key_type"],
        severity=entry["severity"],
        remediation=" ".join(entry["remediation"].split()),
        allow_patterns=allow_patterns,
        placeholder_checks=checks,
        origin=str(path),
    )


def _parse_allowlist(where: str, allowlist: Any) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not isinstance(allowlist, dict):
        raise RuleError(f"{where}: field 'allowlist' must be a table")
    for key in allowlist:
        if key not in ("regexes", "checks"):
            raise RuleError(f"{where}: unknown field 'allowlist.{key}'")
    patterns = allowlist.get("regexes", [])
    checks = allowlist.get("checks", [])
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise RuleError(f"{where}: field 'allowlist.regexes' must be a list of strings")
    if not isinstance(checks, list) or not all(isinstance(c, str) for c in checks):
        raise RuleError(f"{where}: field 'allowlist.checks' must be a list of strings")
    for check in checks:
        if check not in PLACEHOLDER_CHECKS:
            raise RuleError(
                f"{where}: field 'allowlist.checks' has unknown check {check!r}; "
                f"allowed: {', '.join(PLACEHOLDER_CHECKS)}"
            )
    return tuple(patterns), tuple(checks)


def _check_regex(where: str, field_name: str, pattern: str) -> None:
    import regex

    try:
        if field_name == "regex":
            regex.compile(pattern.encode())
        else:
            regex.compile(pattern)
    except regex.error as exc:
        raise RuleError(f"{where}: field {field_name!r} is not a valid regex: {exc}") from None


def _check_nonempty_matches(where: str, pattern: str, keywords: list[str]) -> None:
    """Refuse a rule regex that can match nothing at all: every position would be a finding
    with an empty secret. Probed on the empty string and on text around the rule's keywords
    (a lookaround alone matches there)."""
    compiled = _compiled(pattern.encode())
    probe = " ".join(["", *keywords, "Aa0_-.", *(k + "Aa0" * 12 for k in keywords), ""])
    for text in (b"", probe.encode()):
        if any(found.end() == found.start() for found in compiled.finditer(text)):
            raise RuleError(f"{where}: field 'regex' matches the empty string "
                            f"(every match must hold at least one character)")
