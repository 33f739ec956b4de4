"""Reports of several repositories joined into one: the one mechanism behind a many-repository
``hvscan git`` run (each repository's JSON report dict, joined as it finishes) and ``hvscan
merge`` (the JSON reports of shards, read from files).

Everything here works on JSON report dicts (docs/report-format.md), which are already as reports
show them (``hvscan.shown``): no key beyond --show-secrets, names escaped.

- ``for_repository`` gives one repository's report the many-repository shape: each finding,
  suppressed finding, skipped file, error and note names its ``repository``, each key entry
  lists its ``repositories`` and each introduction its ``repository``, and ``scan`` lists it in
  ``repositories`` (with its head, refs and error).
- ``merge`` joins reports of that shape: findings concatenated and sorted (repository, path,
  line, column, rule, fingerprint), statistics summed, keys joined by ``secret_sha256`` (the
  worst severity, introductions, refs, repositories and paths united, ``pushed`` and
  ``in_head`` true when any is), ``scan.repositories`` sorted by repository. Joining reports is
  associative: shards merged give what one run over all their repositories gives.
- ``counts`` and ``without_findings`` give ``runner.deliver`` what it decides the exit code and
  the lines on standard error from, without rebuilding the findings.
- ``from_dict`` rebuilds the ``ScanResult`` the report formats render (findings, keys with
  their ``repositories``, and scan record; the introductions' ``repository`` is in the JSON
  formats and HTML only), for every format but JSON, JSON Lines and HTML, which are written
  from the dict itself.
"""

from __future__ import annotations

import itertools
import json
import operator
from collections import Counter
from collections.abc import Iterator
from typing import Any

# A JSON library written for speed (its parser and encoder several times the standard library's):
# shard reports run to hundreds of megabytes. Imported only on the many-repository and merge
# paths, which import this module.
import orjson

from hvscan import __version__
from hvscan.keys import Introduction, KeyEntry, Removal, ScanRecord, most_alarming
from hvscan.model import Finding, History, Note, moment
from hvscan.report import ReportOptions, renderer
from hvscan.report.text_format import Counts
from hvscan.rules import SEVERITIES, severity_rank
from hvscan.scan import ScanResult, Stats
from hvscan.sources import Failed, Skipped

Report = dict[str, Any]
_LISTS = ("findings", "suppressed", "skipped", "errors", "notes")


class ReportError(Exception):
    """A file that is not an hvscan JSON report this version can join: one line."""


def for_repository(report: Report, repository: str, error: str | None = None) -> Report:
    """``report`` (one repository's, or an empty one for a repository that could not be
    audited: ``error`` says why) in the many-repository shape."""
    named = {**report}
    for name in _LISTS:
        if name in report:
            named[name] = [{**entry, "repository": repository} for entry in report[name]]
    if error is not None:
        named["errors"] = [*named.get("errors", []),
                           {"path": repository, "message": error, "repository": repository}]
        named["stats"] = {**named.get("stats", {})}
        named["stats"]["errors"] = named["stats"].get("errors", 0) + 1
    if "keys" in report:
        named["keys"] = [{**key, "repositories": [repository],
                          "first": _in(key.get("first"), repository),
                          "introductions": [_in(i, repository)
                                            for i in key.get("introductions", [])],
                          "removed_in": [_in(r, repository) for r in key.get("removed_in", [])]}
                         for key in report["keys"]]
    scan = report.get("scan") or {}
    named["scan"] = {**scan, "repositories": [{
        "repository": repository, "head": scan.get("head"), "refs": scan.get("refs"),
        "error": error}]}
    return named


def _in(entry: Any, repository: str) -> Any:
    return None if entry is None else {**entry, "repository": repository}


def check(data: Any, name: str) -> Report:
    """``data`` (read from ``name``) if it is an hvscan JSON report of this major version."""
    if not isinstance(data, dict) or data.get("tool") != "hvscan":
        raise ReportError(f"{name}: not an hvscan JSON report")
    version = str(data.get("version", ""))
    if version.split(".")[0] != __version__.split(".")[0]:
        raise ReportError(f"{name}: written by hvscan {version or '(unknown)'}, which this "
                          f"hvscan {__version__} cannot merge (a different major version)")
    if not all(isinstance(data.get(list_name, []), list) for list_name in (*_LISTS, "keys")):
        raise ReportError(f"{name}: not an hvscan JSON report")
    problem = _bad_field(data)
    if problem is not None:
        raise ReportError(f"{name}: not an hvscan JSON report ({problem})")
    return data


# The fields of the entries the formats read, with the JSON types hvscan writes them in
# (docs/report-format.md), and whether an entry must have them: a hand-made or edited report
# whose field has another type is refused here in one line, rather than failing in the middle
# of a format. Checking 100,000 findings takes about half as long as parsing them.
Fields = tuple[tuple[str, tuple[type, ...], bool], ...]
_TEXT, _INTEGER, _TEXT_OR_NULL = (str,), (int,), (str, type(None))
_FINDING: Fields = (
    *((name, _TEXT, True) for name in (
        "rule_id", "description", "key_type", "severity", "source", "encoding",
        "secret_redacted", "secret_sha256", "fingerprint", "remediation")),
    ("path", _TEXT_OR_NULL, True), ("line", _INTEGER, True), ("column", _INTEGER, True),
    *((name, _TEXT_OR_NULL, False) for name in (
        "commit", "author", "date", "secret", "repository", "blob", "tag", "tag_object")))
_KEY: Fields = (
    *((name, _TEXT, True) for name in (
        "secret_sha256", "rule_id", "key_type", "severity", "secret_redacted")),
    ("first", (dict, type(None)), False), ("introductions", (list,), False),
    ("removed_in", (list,), False), ("secret", _TEXT, False), ("remediation", _TEXT, False))
_PLACE: Fields = tuple((name, _TEXT_OR_NULL, False)
                       for name in ("commit", "path", "author", "date"))
_JSON_TYPES: dict[type, str] = {str: "a string", int: "an integer", float: "a number",
                                bool: "true or false", list: "a list", dict: "an object",
                                type(None): "null"}


def _bad_field(data: Report) -> str | None:
    """What is wrong with the first entry of ``data`` that has a field of the wrong type
    (``findings[3].date: an integer, not a string or null``), None when nothing is."""
    if _all_fine(data):
        return None
    for where, entry, fields in _entries(data):
        if not isinstance(entry, dict):
            return f"{where}: {_JSON_TYPES.get(type(entry), 'a value')}, not an object"
        for field, types, required in fields:
            if field not in entry:
                if required:
                    return f"{where}.{field}: missing"
                continue
            value = entry[field]
            # bool is an int to Python, never a line number to a report.
            if not isinstance(value, types) or value is True or value is False:
                expected = " or ".join(_JSON_TYPES[kind] for kind in types)
                return (f"{where}.{field}: {_JSON_TYPES.get(type(value), 'a value')}, "
                        f"not {expected}")
        if fields is not _PLACE and entry["severity"] not in SEVERITIES:
            return f"{where}.severity: not one of {', '.join(SEVERITIES)}"
    return None


def _all_fine(data: Report) -> bool:
    """Whether every entry ``_entries`` gives has its fields in their types: judged a field at
    a time over a whole list, in C loops (map, itemgetter), where a Python loop over each
    entry's fields took 0.25 s for 100,000 findings, an eighth of the merge benchmark's budget.
    When not, ``_bad_field`` looks at each entry to say which field of which."""
    keys = data.get("keys", [])
    if not (_fine(data.get("findings", []), _FINDING)
            and _fine(data.get("suppressed", []), _FINDING) and _fine(keys, _KEY)):
        return False
    places = [key["first"] for key in keys if key.get("first") is not None]
    for key in keys:
        places += key.get("introductions", [])
        places += key.get("removed_in", [])
    return _fine(places, _PLACE)


_ABSENT = object()  # what ``_fine`` reads of a field an entry does not have


def _fine(entries: list[Any], fields: Fields) -> bool:
    """Whether each of ``entries`` is an object whose ``fields`` have their types (exact ones:
    JSON gives no subclasses, and a bool is never a line number) and, but for places, whose
    severity is one of hvscan's."""
    if not {*map(type, entries)} <= {dict}:
        return False
    absent = itertools.repeat(_ABSENT)
    for field, types, required in fields:
        values = map(dict.get, entries, itertools.repeat(field), absent)
        if not {*map(type, values)} <= {*types, *([] if required else [object])}:
            return False
    return fields is _PLACE or {*map(operator.itemgetter("severity"), entries)} <= {*SEVERITIES}


def _entries(data: Report) -> Iterator[tuple[str, Any, Fields]]:
    """Each entry ``_bad_field`` checks: where it is, the entry, its fields."""
    for list_name in ("findings", "suppressed"):
        for index, finding in enumerate(data.get(list_name, [])):
            yield f"{list_name}[{index}]", finding, _FINDING
    for index, key in enumerate(data.get("keys", [])):
        yield f"keys[{index}]", key, _KEY
        if not isinstance(key, dict):
            continue  # refused already: ``_bad_field`` checks each entry before the next
        if key.get("first") is not None:
            yield f"keys[{index}].first", key["first"], _PLACE
        for list_name in ("introductions", "removed_in"):
            for at, place in enumerate(key.get(list_name, [])):
                yield f"keys[{index}].{list_name}[{at}]", place, _PLACE


def load(path: str) -> Report:
    """The JSON report in the file ``path``, checked."""
    try:
        with open(path, "rb") as file:
            data = orjson.loads(file.read())
    except OSError as exc:
        raise ReportError(f"{path}: {exc.strerror}") from None
    except orjson.JSONDecodeError:
        # Invalid UTF-8 and lone surrogates too, which hvscan never writes (``shown`` escapes
        # them).
        raise ReportError(f"{path}: not an hvscan JSON report (not JSON)") from None
    return check(data, path)


def merge(reports: list[Report], command: str) -> Report:
    """One report of ``reports`` (each in the many-repository shape), its members in the order
    of a report's."""
    findings = sorted((f for r in reports for f in r.get("findings", [])), key=_finding_order)
    merged: Report = {
        "tool": "hvscan", "version": __version__, "scan": _scan(reports, command),
        "findings": findings,
        "keys": merge_keys([key for r in reports for key in r.get("keys", [])])}
    stats: dict[str, int] = {}
    for report in reports:
        for name, value in report.get("stats", {}).items():
            stats[name] = stats.get(name, 0) + value
    merged["stats"] = {**stats, "findings": len(findings)}
    for name in ("skipped", "errors", "notes"):
        # Stable: a repository's entries keep their order, whichever report held them.
        merged[name] = sorted((entry for r in reports for entry in r.get(name, [])),
                              key=lambda entry: str(entry.get("repository") or ""))
    if any("suppressed" in r for r in reports):
        merged["suppressed"] = sorted((f for r in reports for f in r.get("suppressed", [])),
                                      key=_finding_order)
    return merged


def _finding_order(finding: dict[str, Any]) -> tuple[Any, ...]:
    return (finding.get("repository") or "", finding.get("path") or "", finding.get("line", 0),
            finding.get("column", 0), finding.get("rule_id", ""), finding.get("fingerprint", ""))


def _scan(reports: list[Report], command: str) -> dict[str, Any]:
    scans = [r.get("scan") or {} for r in reports]
    started = sorted(s["started"] for s in scans if s.get("started"))
    repositories = sorted((entry for s in scans for entry in s.get("repositories", [])),
                          key=lambda entry: str(entry.get("repository")))
    return {"command": command, "repository": None, "head": None, "refs": None,
            "version": __version__, "started": started[0] if started else None,
            "duration": round(sum(s.get("duration") or 0.0 for s in scans), 3),
            "repositories": repositories}


def merge_keys(keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per ``secret_sha256`` of ``keys`` (entries of the contract's KEY shape, from one
    or more repositories), sorted as reports sort keys: severity, exposure, hash."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for key in keys:
        groups.setdefault(key["secret_sha256"], []).append(key)
    when = _Clock()
    return sorted((_join(group, when) for group in groups.values()), key=_key_order)


def _join(group: list[dict[str, Any]], when: _Clock) -> dict[str, Any]:
    """The entries of one key, from several repositories or shards, as one. What is not joined
    (rule, redacted form, remediation) is taken from the entry of the first repository by
    name, whichever report came first: the join does not depend on the reports' order."""
    if len(group) == 1:
        return dict(group[0])  # an entry is already in order
    group = sorted(group, key=lambda key: key.get("repositories") or [])
    joined = dict(group[0])
    joined["severity"] = min((key.get("severity") for key in group), key=_rank)
    joined["findings"] = sum(key.get("findings", 0) for key in group)
    # An introduction is a repository, commit, path and source: the same one seen by two
    # reports (a shard reported twice) counts once.
    introductions: dict[tuple[Any, ...], dict[str, Any]] = {}
    for key in group:
        for entry in key.get("introductions", []):
            place = (entry.get("repository"), entry.get("commit"), entry.get("path"),
                     entry.get("source"))
            introductions.setdefault(place, entry)
    joined["introductions"] = sorted(introductions.values(), key=when)
    if joined["introductions"] and joined.get("first") is not None:
        oldest = joined["introductions"][0]
        joined["first"] = {name: oldest.get(name) for name in joined["first"]}
    joined["removed_in"] = sorted((entry for key in group for entry in key.get("removed_in", [])),
                                  key=when)
    for name in ("refs", "repositories", "head_paths"):
        if any(key.get(name) is not None for key in group):
            joined[name] = sorted({item for key in group for item in key.get(name) or []})
    for name in ("pushed", "in_head"):
        values = [key[name] for key in group if key.get(name) is not None]
        joined[name] = any(values) if values else None
    joined["verification"] = most_alarming(key.get("verification") for key in group)
    return joined


class _Clock:
    """Oldest first (by the instant, whatever the time zone); undated last. Dates repeat: each
    is parsed once."""

    def __init__(self) -> None:
        self._instants: dict[str, float] = {}

    def __call__(self, entry: dict[str, Any]) -> tuple[Any, ...]:
        date = entry.get("date") or ""
        instant = self._instants.get(date)
        if instant is None:
            instant = self._instants[date] = moment(date)
        return (instant, str(entry.get("repository") or ""), str(entry.get("commit") or ""),
                str(entry.get("path") or ""))


def _rank(severity: str | None) -> int:
    """The worst severity (critical) first, unknown ones after the mildest."""
    return -severity_rank(severity) if severity is not None and severity in SEVERITIES else 1


def _key_order(key: dict[str, Any]) -> tuple[Any, ...]:
    return (_rank(key.get("severity")), not key.get("pushed"), not key.get("in_head"),
            -len(key.get("introductions", [])), key["secret_sha256"])


def counts(report: Report) -> Counts:
    """What the summary line and the exit code read of ``report``'s findings and keys, counted
    from the dict: ``runner.deliver`` decides from these and ``without_findings(report)``."""
    findings = report.get("findings", [])
    return Counts(Counter(f["severity"] for f in findings),
                  Counter(f["verification"]["status"] for f in findings if f.get("verification")),
                  len(report.get("keys", [])))


def from_dict(report: Report) -> ScanResult:
    """The ``ScanResult`` a report formats renders for ``report`` (the findings, suppressed
    findings and keys, and what ``without_findings`` holds)."""
    result = without_findings(report)
    result.findings = [_finding(f) for f in report.get("findings", [])]
    result.suppressed = [_finding(f) for f in report.get("suppressed", [])]
    result.keys = [_key(k) for k in report.get("keys", [])]
    return result


def without_findings(report: Report) -> ScanResult:
    """``report``'s result without its findings and keys: the skipped files, errors, notes,
    statistics and scan record, all ``runner.deliver`` needs beside ``counts`` (rebuilding
    100,000 findings costs as much as parsing them)."""
    result = ScanResult()
    # ``informational`` (what --strict passes over): a report written before it was a field
    # has none, and each of its entries counts as content left unscanned.
    result.skipped = [Skipped(s["path"], s["reason"], bool(s.get("informational")))
                      for s in report.get("skipped", [])]
    result.errors = [Failed(e["path"], e["message"]) for e in report.get("errors", [])]
    result.notes = [Note(n.get("path"), n["message"], bool(n.get("limit")), n["source"],
                         n.get("commit"), bool(n.get("informational")))
                    for n in report.get("notes", [])]
    stats = Stats()
    for name in stats.__annotations__:
        setattr(stats, name, int(report.get("stats", {}).get(name, 0)))
    result.stats = stats
    scan = report.get("scan") or {}
    refs = scan.get("refs")
    result.scan = ScanRecord(scan.get("command"), scan.get("repository"), scan.get("head"),
                             None if refs is None else tuple(refs),
                             scan.get("version", __version__), scan.get("started"),
                             scan.get("duration"))
    return result


def _key(data: dict[str, Any]) -> KeyEntry:
    first = data.get("first")
    return KeyEntry(
        data["secret_sha256"], data["rule_id"], data["key_type"], data["severity"],
        data["secret_redacted"], data.get("secret", data["secret_redacted"]),
        data.get("verification"), data.get("findings", 0),
        None if first is None else _introduction(first),
        tuple(_introduction(i) for i in data.get("introductions", [])), data.get("in_head"),
        tuple(data.get("head_paths", [])),
        tuple(Removal(r["commit"], r["path"], r.get("date")) for r in data.get("removed_in", [])),
        tuple(data.get("refs") or ()), data.get("pushed"), data.get("remediation", ""),
        tuple(data.get("repositories") or ()))


def _introduction(data: dict[str, Any]) -> Introduction:
    """An introduction as the report formats know it (its ``repository`` is in the JSON
    formats only)."""
    return Introduction(data.get("commit"), data.get("path"), data.get("author"),
                        data.get("date"), data.get("source", "history"),
                        bool(data.get("unreachable")))


_HISTORY_FIELDS = frozenset(("blob", "other_commits", "other_paths", "unreachable", "tag",
                             "tag_object"))


def _finding(data: dict[str, Any]) -> Finding:
    history = None
    if not _HISTORY_FIELDS.isdisjoint(data):
        history = History(data.get("blob"), data.get("other_commits"), data.get("other_paths"),
                          bool(data.get("unreachable")), data.get("tag"), data.get("tag_object"))
    return Finding(
        data["rule_id"], data["description"], data["key_type"], data["severity"], data["path"],
        data["line"], data["column"], data["source"], data["encoding"], data["secret_redacted"],
        data["secret_sha256"], data["fingerprint"], data["remediation"],
        data.get("secret", data["secret_redacted"]), data.get("commit"), data.get("author"),
        data.get("date"), data.get("verification"), data.get("suppression"),
        data.get("untrusted_suppression"), history, repository=data.get("repository"),
        in_name=bool(data.get("in_name")))


def _json(report: Report) -> str:
    """``report`` as JSON, indented as a one-repository report is. Characters beyond ASCII are
    written as they are (UTF-8), not escaped."""
    try:
        return orjson.dumps(report, option=orjson.OPT_INDENT_2).decode("utf-8") + "\n"
    except TypeError:
        # What orjson refuses: a lone surrogate (a repository named on the command line with
        # bytes that are not UTF-8) or an integer beyond 64 bits (a hand-made shard). The
        # standard encoder escapes the one and writes the other.
        return json.dumps(report, indent=2) + "\n"


def render(report: Report, output_format: str, options: ReportOptions) -> str:
    """``report`` in ``output_format``: JSON, JSON Lines and HTML from the dict itself (the key
    list and scan record included), the other formats from ``from_dict``."""
    if output_format == "json":
        return _json(report)
    if output_format == "jsonl":
        from hvscan.report.jsonl_format import lines

        return lines(report)
    if output_format == "html":
        from hvscan.report.html_format import page

        return page(report)
    return renderer(output_format)(from_dict(report), options)
