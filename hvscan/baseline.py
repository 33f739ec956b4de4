"""Baseline files: the findings a team has accepted, so later scans report only new ones.

The file holds, per finding, its fingerprint, rule, path, the key's SHA-256 and its redacted form,
and optionally why it was accepted (``reason``) and by whom (``accepted_by``): never the key,
never a line number or a commit, never a date or hvscan's version. Entries are unique and sorted
and the JSON is written the same way every time, so recording an unchanged repository again gives
a byte-identical file, and nothing in it moves when code moves.

``hvscan baseline --update`` reviews rather than rewrites: entries still found are kept as they
are (notes included), entries no longer found are removed, and only new findings are added, with
the notes given for this run, or else those of an entry that accepted the same key elsewhere (a
moved or copied file keeps its acceptance). A file written before notes existed loads unchanged.

A finding is in the baseline when its rule recorded the same key (by hash), wherever the key now
sits: moving it to another line or file, or finding it in history, does not make it new.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from hvscan.committed import CommittedFile
    from hvscan.model import Finding

FORMAT_KEY = "hvscan_baseline"
FORMAT_VERSION = 1
_FIELDS = ("fingerprint", "rule_id", "path", "secret_sha256", "secret_redacted")
# Optional, written only when given: a file without them is the format as it always was.
NOTE_FIELDS = ("reason", "accepted_by")
_HEX_LENGTHS = {"fingerprint": 32, "secret_sha256": 64}
_HEX = re.compile(r"[0-9a-f]+")

Entry = dict[str, Any]


class BaselineError(Exception):
    """A baseline file is missing, unreadable or not in hvscan's baseline format."""


@dataclass(frozen=True)
class Baseline:
    keys: frozenset[tuple[str, str]]

    def contains(self, finding: Finding) -> bool:
        return (finding.rule_id, finding.secret_sha256) in self.keys


class Notes(NamedTuple):
    """Why entries were accepted and by whom (``--reason``, ``--accepted-by``); None: not said."""

    reason: str | None = None
    accepted_by: str | None = None

    def fields(self) -> Entry:
        return {name: value for name, value in zip(NOTE_FIELDS, self, strict=True)
                if value is not None}


NO_NOTES = Notes()


class Change(NamedTuple):
    """What ``update`` did: the entries added and removed, and how many were kept."""

    added: list[Entry]
    removed: list[Entry]
    kept: int


def entries(findings: Iterable[Finding], notes: Notes = NO_NOTES) -> list[Entry]:
    unique = {
        f.fingerprint: {
            "fingerprint": f.fingerprint,
            "rule_id": f.rule_id,
            "path": f.path,
            "secret_sha256": f.secret_sha256,
            "secret_redacted": f.secret_redacted,
            **notes.fields(),
        }
        for f in findings
    }
    return _sorted(unique.values())


def _sorted(items: Iterable[Entry]) -> list[Entry]:
    return sorted(items, key=lambda e: (e.get("path") or "", e["rule_id"], e["fingerprint"]))


def update(old: list[Entry], findings: Iterable[Finding],
           notes: Notes = NO_NOTES) -> tuple[list[Entry], Change]:
    """The entries of a baseline that held ``old`` once ``findings`` are recorded: each old
    entry still found kept as it is, the others removed, each new one added with ``notes``
    (a note not given comes from an old entry of the same key, if one has it)."""
    found = {entry["fingerprint"]: entry for entry in entries(findings)}
    before = {entry["fingerprint"]: entry for entry in old}
    accepted: dict[tuple[str, str], Entry] = {}
    for entry in _sorted(before.values()):  # each key's first entry, in the file's order
        accepted.setdefault((entry["rule_id"], entry["secret_sha256"]), entry)
    added = []
    for fingerprint, entry in found.items():
        if fingerprint not in before:
            earlier = accepted.get((entry["rule_id"], entry["secret_sha256"]), {})
            inherited = Notes(*(earlier.get(name) for name in NOTE_FIELDS))
            given = Notes(*(mine if mine is not None else theirs
                            for mine, theirs in zip(notes, inherited, strict=True)))
            added.append({**entry, **given.fields()})
    kept = [entry for fingerprint, entry in before.items() if fingerprint in found]
    removed = [entry for fingerprint, entry in before.items() if fingerprint not in found]
    return _sorted([*kept, *added]), Change(_sorted(added), _sorted(removed), len(kept))


def dumps(items: list[Entry]) -> str:
    import json

    # Every entry's fields in one order, whatever order a file had them in: same entries, same
    # bytes.
    order = (*_FIELDS, *NOTE_FIELDS)
    document = {FORMAT_KEY: FORMAT_VERSION,
                "findings": [{name: item[name] for name in order if name in item}
                             for item in items]}
    return json.dumps(document, indent=2, ensure_ascii=True) + "\n"


def write(path: Path, items: list[Entry]) -> int:
    """Write the baseline's entries atomically (a failed run never leaves half a file);
    returns their number."""
    from hvscan.atomic import write_atomically

    try:
        # Readable by all: a baseline is meant to be committed and shared.
        write_atomically(path, dumps(items).encode("ascii"), 0o644)
    except OSError as exc:
        raise BaselineError(f"cannot write baseline {path}: {exc.strerror or exc}") from None
    return len(items)


def load(path: Path | CommittedFile) -> Baseline:
    return Baseline(frozenset((e["rule_id"], e["secret_sha256"]) for e in read_entries(path)))


def read_entries(path: Path | CommittedFile) -> list[Entry]:
    """The entries of the baseline file ``path``, each checked (one per fingerprint)."""
    import json

    from hvscan.committed import read_bytes

    try:
        document = json.loads(read_bytes(path))
    except OSError as exc:
        raise BaselineError(f"{path}: cannot read baseline: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise BaselineError(f"{path}: baseline is not valid JSON: {exc}") from None
    except RecursionError:
        raise BaselineError(f"{path}: not an hvscan baseline (nested too deeply)") from None
    if not isinstance(document, dict) or document.get(FORMAT_KEY) != FORMAT_VERSION:
        raise BaselineError(
            f"{path}: not an hvscan baseline (expected \"{FORMAT_KEY}\": {FORMAT_VERSION}; "
            "write one with 'hvscan baseline')"
        )
    items = document.get("findings")
    if not isinstance(items, list):
        raise BaselineError(f"{path}: field 'findings' must be a list")
    checked: dict[str, Entry] = {}
    for index, item in enumerate(items):
        _check_entry(path, index, item)
        checked.setdefault(item["fingerprint"], item)
    return list(checked.values())


def _check_entry(path: Path | CommittedFile, index: int, item: Any) -> None:
    where = f"{path}: findings[{index}]"
    if not isinstance(item, dict):
        raise BaselineError(f"{where}: must be an object")
    unknown = set(item) - {*_FIELDS, *NOTE_FIELDS}
    if unknown:
        raise BaselineError(f"{where}: unknown field {sorted(unknown)[0]!r}")
    for name, length in _HEX_LENGTHS.items():
        value = item.get(name)
        if not isinstance(value, str) or len(value) != length or not _HEX.fullmatch(value):
            raise BaselineError(f"{where}: field {name!r} must be {length} lowercase hex digits")
    if not isinstance(item.get("rule_id"), str) or not item["rule_id"]:
        raise BaselineError(f"{where}: field 'rule_id' must be a non-empty string")
    if not isinstance(item.get("path"), str | None):
        raise BaselineError(f"{where}: field 'path' must be a string or null")
    for name in ("secret_redacted", *NOTE_FIELDS):
        if name in item and not isinstance(item[name], str):
            raise BaselineError(f"{where}: field {name!r} must be a string")
