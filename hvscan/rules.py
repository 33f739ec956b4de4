"""Rules as data: load and validate rule files (``rules/*.toml`` and ``--rules FILE``).

A rule file is TOML with a ``[[rules]]`` array; built-in and user rules share one schema
(documented at the top of ``rules/hesedvid.toml``), including the ``[rules.verify]`` table that
says how ``--verify`` asks the vendor's API about a found key (``hvscan/verify/``). Regexes are
compiled lazily: a scan whose prefilter never fires never imports the ``regex`` package, which
keeps the hook's start-up fast.
"""

from __future__ import annotations

import os
import re
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


class Verify(NamedTuple):
    """A rule's ``[rules.verify]`` table: one request per key to the API base the operator
    configured (a rule gives a path, never a host), and what its answers mean."""

    # HEAD or GET: verification only reads, whatever a rule file says.
    method: str
    # Below the API base; ``{org_id}`` is replaced by the org ID (option, content, placeholder).
    path: str
    # The header that carries the key (the key goes nowhere else).
    key_header: str
    # The org ID sent when none is known.
    org_id_placeholder: str
    # HTTP status -> what it says about the key, for the statuses that make it live / invalid;
    # every other status is unknown.
    live: tuple[tuple[int, str], ...]
    invalid: tuple[tuple[int, str], ...]
    # Headers every answer of the API carries: a response without them (a proxy, a firewall, a
    # captive portal) is unknown, whatever its status.
    answer_headers: tuple[str, ...]
    # The rate limit: its status, and the headers saying how many requests remain and when the
    # limit resets (epoch seconds, or seconds from now).
    rate_limited_status: int
    remaining_header: str
    reset_header: str

    def meaning(self, status: int) -> tuple[str, str] | None:
        """(``live`` or ``invalid``, what the status says) for a status that tells."""
        for verdict, table in (("live", self.live), ("invalid", self.invalid)):
            for code, said in table:
                if code == status:
                    return verdict, said
        return None


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
    # How --verify asks about this rule's secrets; None: they are never sent.
    verify: Verify | None = None

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


def load_rules(rule_files: Sequence[StrPath | CommittedFile], *,
               verify: bool = True) -> list[Rule]:
    """The built-in rules and the rules of the user's ``--rules`` files, which may not reuse a
    built-in id: their findings would pass for the built-in rule's. Without ``verify`` (rule
    files that a configuration file named, which the scanned repository may hold) a rule may
    not say how to verify keys: that would let the repository choose which secrets are sent."""
    return load_rule_files(rule_files, known=load_builtin_rules(), verify=verify)


def load_rule_files(paths: Sequence[StrPath | CommittedFile], *, check_regexes: bool = True,
                    known: Sequence[Rule] = (), verify: bool = True) -> list[Rule]:
    """``known`` followed by the rules of ``paths``; an id may be defined only once."""
    rules = list(known)
    seen = {rule.id: f"the built-in rule file {rule.origin}" for rule in known}
    for path in paths:
        for index, rule in enumerate(load_rule_file(path, check_regexes=check_regexes)):
            if rule.id in seen:
                raise RuleError(f"{path}: rule {rule.id!r}: field 'id' is already defined in "
                                f"{seen[rule.id]}")
            if rule.verify is not None and not verify:
                raise RuleError(f"{path}: rules[{index}]: field 'verify' is not allowed in a rule "
                                "file named by a configuration file (the scanned repository "
                                "would choose which secrets are sent); name the file with "
                                "--rules or HVSCAN_RULES")
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
_OPTIONAL = ("allowlist", "verify")


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
    verify = _parse_verify(where, entry["verify"]) if "verify" in entry else None
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
        verify=verify,
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


_VERIFY_FIELDS = {
    "method": True, "path": True, "key_header": True, "org_id_placeholder": False,
    "live": True, "invalid": True, "answer_headers": True, "rate_limit": True,
}
_METHODS = ("HEAD", "GET")
_STATUS = re.compile(r"[0-9]{3}")
_HEADER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")
# Headers that would route the request or the key elsewhere than the API's own handling.
_RESERVED_HEADERS = re.compile(
    r"(?i)host|connection|keep-alive|upgrade|te|trailer|transfer-encoding|content-length"
    r"|forwarded|x-forwarded-.*|proxy-.*")
# An org ID as --org-id accepts it (hvscan/verify/policy.py checks the option with it too).
ORG_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,127}")
# A path below the API base: segments of URL path characters, ``{org_id}`` the one placeholder.
_PATH_SEGMENT = re.compile(r"(?:[A-Za-z0-9._~!$&'()*+,;=:@%-]|\{org_id\})+")


def _parse_verify(where: str, table: Any) -> Verify:
    """The ``[rules.verify]`` table. A rule file may come from the scanned repository's
    configuration: it chooses what a key's answer means, never where the key goes (a path
    below the operator's API base, no host) nor a request that changes anything (HEAD, GET)."""
    if not isinstance(table, dict):
        raise RuleError(f"{where}: field 'verify' must be a table")
    for key in table:
        if key not in _VERIFY_FIELDS:
            raise RuleError(f"{where}: unknown field 'verify.{key}'")
    for key, required in _VERIFY_FIELDS.items():
        if required and key not in table:
            raise RuleError(f"{where}: missing field 'verify.{key}'")
    method = _verify_string(where, table, "method")
    if method not in _METHODS:
        raise RuleError(f"{where}: field 'verify.method' is {method!r}; allowed: "
                        f"{', '.join(_METHODS)} (verification never changes anything)")
    path = _verify_string(where, table, "path")
    _check_path(where, path)
    key_header = _header_name(where, "verify.key_header", table["key_header"])
    placeholder = ""
    if "{org_id}" in path:
        if "org_id_placeholder" not in table:
            raise RuleError(f"{where}: missing field 'verify.org_id_placeholder' (the path "
                            "has {org_id})")
        placeholder = _verify_string(where, table, "org_id_placeholder")
        if not ORG_ID.fullmatch(placeholder):
            raise RuleError(f"{where}: field 'verify.org_id_placeholder' is not an org ID "
                            "(letters, digits, '.', '_', '~', '-')")
    live = _statuses(where, "verify.live", table["live"])
    invalid = _statuses(where, "verify.invalid", table["invalid"])
    both = sorted({code for code, _ in live} & {code for code, _ in invalid})
    if both:
        raise RuleError(f"{where}: HTTP {both[0]} is in both 'verify.live' and "
                        "'verify.invalid'")
    headers = table["answer_headers"]
    if not isinstance(headers, list):
        raise RuleError(f"{where}: field 'verify.answer_headers' must be a list of header names")
    answer_headers = tuple(_header_name(where, "verify.answer_headers", h) for h in headers)
    rate_limited, remaining, reset = _rate_limit(where, table["rate_limit"])
    if rate_limited in {code for code, _ in live + invalid}:
        raise RuleError(f"{where}: HTTP {rate_limited} is both 'verify.rate_limit.status' and "
                        "a status that tells")
    return Verify(method=method, path=path, key_header=key_header,
                  org_id_placeholder=placeholder, live=live, invalid=invalid,
                  answer_headers=answer_headers, rate_limited_status=rate_limited,
                  remaining_header=remaining, reset_header=reset)


def _verify_string(where: str, table: dict[str, Any], key: str) -> str:
    value = table[key]
    if not isinstance(value, str) or not value.strip():
        raise RuleError(f"{where}: field 'verify.{key}' must be a non-empty string")
    return value


def _check_path(where: str, path: str) -> None:
    # Keys go only to the API base of the command line or environment (docs/security.md): a
    # rule names no scheme, no host ("//host/..."), no query and no way up out of the base.
    if "://" in path or not path.startswith("/") or path.startswith("//"):
        raise RuleError(f"{where}: field 'verify.path' must be a path below the API base "
                        f"starting with '/', not a URL: {path!r} (keys are sent only to the "
                        "API that --api-base or HESEDVID_API_BASE names)")
    for segment in path[1:].split("/"):
        if segment in (".", "..") or not _PATH_SEGMENT.fullmatch(segment):
            raise RuleError(f"{where}: field 'verify.path' has a bad segment {segment!r} "
                            "(URL path characters and {org_id}; no '.', '..', query or "
                            "fragment)")


def _header_name(where: str, field_name: str, name: Any) -> str:
    if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
        raise RuleError(f"{where}: field {field_name!r} must hold header names "
                        "(letters, digits, '-')")
    if _RESERVED_HEADERS.fullmatch(name):
        raise RuleError(f"{where}: field {field_name!r}: {name!r} is a header that routes the "
                        "request, not one of the API's")
    return name


def _statuses(where: str, field_name: str, table: Any) -> tuple[tuple[int, str], ...]:
    if not isinstance(table, dict):
        raise RuleError(f"{where}: field {field_name!r} must be a table of HTTP status = "
                        "\"what it says about the key\"")
    meanings = []
    for code, said in table.items():
        if not _STATUS.fullmatch(code) or not 200 <= int(code) <= 599 or 300 <= int(code) <= 399:
            raise RuleError(f"{where}: field {field_name!r}: {code!r} is not an HTTP status "
                            "of an answer (200-299, 400-599)")
        if not isinstance(said, str) or not said.strip():
            raise RuleError(f"{where}: field '{field_name}.{code}' must be a non-empty string")
        meanings.append((int(code), " ".join(said.split())))
    return tuple(meanings)


def _rate_limit(where: str, table: Any) -> tuple[int, str, str]:
    fields = ("status", "remaining_header", "reset_header")
    if not isinstance(table, dict):
        raise RuleError(f"{where}: field 'verify.rate_limit' must be a table")
    for key in table:
        if key not in fields:
            raise RuleError(f"{where}: unknown field 'verify.rate_limit.{key}'")
    for key in fields:
        if key not in table:
            raise RuleError(f"{where}: missing field 'verify.rate_limit.{key}'")
    status = table["status"]
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        raise RuleError(f"{where}: field 'verify.rate_limit.status' must be an HTTP status "
                        "(400-599)")
    return (status,
            _header_name(where, "verify.rate_limit.remaining_header", table["remaining_header"]),
            _header_name(where, "verify.rate_limit.reset_header", table["reset_header"]))


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
